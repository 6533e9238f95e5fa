// Paging through an answer by cursor: forward, back, and a failed request that leaves the pager as it was.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CursorPager } from "../../static/js/cursor_pager.js";

test("the first page has no previous, and a next only when the answer gave one", () => {
  const pager = new CursorPager();
  assert.equal(pager.page, 1);
  assert.equal(pager.current, null);
  assert.equal(pager.hasPrevious, false);
  pager.landed(0, "c2");
  assert.equal(pager.hasNext, true);
  pager.landed(0, undefined);
  assert.equal(pager.hasNext, false);
});

test("forward then back returns to the cursor each page was fetched with", () => {
  const pager = new CursorPager();
  pager.landed(0, "c2");
  assert.equal(pager.target(1), "c2");
  pager.landed(1, "c3");
  pager.landed(1, "c4");
  assert.deepEqual([pager.page, pager.current], [3, "c3"]);
  assert.equal(pager.target(-1), "c2");
  pager.landed(-1, "c3");
  assert.deepEqual([pager.page, pager.current, pager.next], [2, "c2", "c3"]);
  pager.landed(-1, "c2");
  assert.deepEqual([pager.page, pager.current, pager.hasPrevious], [1, null, false]);
  assert.equal(pager.target(-1), null);
});

test("a request that fails changes nothing: the target is asked for, and only a landing moves", () => {
  const pager = new CursorPager();
  pager.landed(0, "c2");
  assert.equal(pager.target(1), "c2"); // fetched, failed: no landed()
  assert.deepEqual([pager.page, pager.next], [1, "c2"]);
});

test("a new query starts again from the first page", () => {
  const pager = new CursorPager();
  pager.landed(0, "c2");
  pager.landed(1, "c3");
  pager.reset();
  assert.deepEqual([pager.page, pager.current, pager.next], [1, null, null]);
});
