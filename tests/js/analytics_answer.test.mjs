// The analysts' page numbers its rows across pages and says what an answer in parts estimates.
import assert from "node:assert/strict";
import { test } from "node:test";

import { estimateNotes, pageSpan, wordsSummary } from "../../static/js/analytics_answer.js";

const count = (n) => new Intl.NumberFormat("en-GB").format(n);

test("rows are numbered from 1 across pages", () => {
  assert.deepEqual(pageSpan(1, 50, 50), { first: 1, last: 50 });
  assert.deepEqual(pageSpan(3, 50, 50), { first: 101, last: 150 });
  // The last page may be short.
  assert.deepEqual(pageSpan(4, 50, 7), { first: 151, last: 157 });
});

test("an empty page has no span of rows", () => {
  assert.equal(pageSpan(1, 50, 0), null);
});

test("where the parts of an answer meet, top counts may be short and percentiles are estimated", () => {
  const notes = estimateNotes({ top_words: { count_error_upper_bound: 1200 }, score: {}, top_things: { count_error_upper_bound: 3 } }, count);
  assert.deepEqual(notes, [
    "top words counts may be short by up to 1,200",
    "score percentiles are estimated",
    "top_things counts may be short by up to 3",
  ]);
  assert.deepEqual(estimateNotes(undefined, count), []);
});

test("a row shows its first words and how many more it holds", () => {
  assert.equal(wordsSummary(["bread", "strike"], 12), "bread, strike");
  const many = Array.from({ length: 15 }, (_, i) => "w" + i);
  assert.equal(wordsSummary(many, 12), "w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11 … +3 more");
  assert.equal(wordsSummary(many.slice(0, 12), 12), many.slice(0, 12).join(", "));
  assert.equal(wordsSummary([], 12), null);
});
