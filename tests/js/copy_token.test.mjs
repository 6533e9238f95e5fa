// The copy button's clipboard step, with clipboards that accept and refuse.
import assert from "node:assert/strict";
import { test } from "node:test";

import { copyText } from "../../static/js/copy_token.js";

test("a token goes to a clipboard that accepts it", async () => {
  const written = [];
  const clipboard = { writeText: async (text) => written.push(text) };
  assert.equal(await copyText("pwd_abc", clipboard), true);
  assert.deepEqual(written, ["pwd_abc"]);
});

test("a refused clipboard is reported, not thrown, so the page can select the token instead", async () => {
  const clipboard = {
    writeText: async () => {
      throw new Error("NotAllowedError");
    },
  };
  assert.equal(await copyText("pwd_abc", clipboard), false);
});

test("no clipboard at all (an insecure context) is a refusal too", async () => {
  assert.equal(await copyText("pwd_abc", undefined), false);
});
