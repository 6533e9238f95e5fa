// A new search cancels the one in flight, and the page is busy until the latest one settles.
import assert from "node:assert/strict";
import { test } from "node:test";

import { latestOnly } from "../../static/js/analytics_search.js";

/** A request that settles when told to, failing as fetch does once its signal aborts. */
function pending() {
  let settle;
  const request = (signal) =>
    new Promise((resolve, reject) => {
      settle = resolve;
      signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
    });
  return { request, settle: (value) => settle(value) };
}

test("a request's answer comes back, busy from its start to its end", async () => {
  const busy = [];
  const run = latestOnly((value) => busy.push(value));
  const first = pending();
  const answer = run(first.request);
  assert.deepEqual(busy, [true]);
  first.settle("page 1");
  assert.equal(await answer, "page 1");
  assert.deepEqual(busy, [true, false]);
});

test("a new request aborts the one in flight, and the page stays busy until the new one settles", async () => {
  const busy = [];
  const run = latestOnly((value) => busy.push(value));
  const first = pending();
  const second = pending();
  const old = run(first.request);
  const latest = run(second.request);
  await assert.rejects(old, { name: "AbortError" });
  assert.deepEqual(busy, [true, true]); // the aborted one settling did not end the busy state
  second.settle("page 2");
  assert.equal(await latest, "page 2");
  assert.deepEqual(busy, [true, true, false]);
});

test("a failed request ends the busy state and fails its caller", async () => {
  const busy = [];
  const run = latestOnly((value) => busy.push(value));
  await assert.rejects(run(async () => Promise.reject(new Error("503"))), /503/);
  assert.deepEqual(busy, [true, false]);
});
