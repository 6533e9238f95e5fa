// A click on a chart narrows the query it answers, within what the form can show.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  addDrone,
  addWord,
  bucketSpan,
  describe,
  intervalMs,
  narrowArea,
  narrowTime,
} from "../../static/js/analytics_drill.js";

const BASE = { time: { last: "24h" }, aggs: ["histogram"], top: 10, size: 50, sort: "newest" };

test("histogram intervals read as milliseconds", () => {
  assert.equal(intervalMs("15m"), 900_000);
  assert.equal(intervalMs("3h"), 10_800_000);
  assert.equal(intervalMs("7d"), 604_800_000);
  assert.equal(intervalMs("soon"), null);
});

test("a word becomes required, beside the words already required", () => {
  assert.deepEqual(addWord(BASE, "bread").query.words, { all: ["bread"] });
  assert.deepEqual(addWord({ ...BASE, words: { all: ["strike"] } }, "bread").query.words, { all: ["strike", "bread"] });
  // One "any of" word is as good as required.
  assert.deepEqual(addWord({ ...BASE, words: { any: ["strike"] } }, "bread").query.words, { all: ["strike", "bread"] });
  // The rest of the query is kept as it was.
  const { query } = addWord({ ...BASE, drones: ["pw-00001"] }, "bread");
  assert.deepEqual(query.drones, ["pw-00001"]);
  assert.deepEqual(query.time, { last: "24h" });
});

test("a word already required changes nothing, in any case", () => {
  assert.equal(addWord({ ...BASE, words: { all: ["Bread"] } }, "bread"), null);
  assert.equal(addWord({ ...BASE, words: { any: ["bread"] } }, "bread"), null);
  assert.equal(addWord(BASE, "  "), null);
});

test("several any-of words give way to the clicked one, and say so unless it was one of them", () => {
  const among = addWord({ ...BASE, words: { any: ["strike", "bread"] } }, "bread");
  assert.deepEqual(among.query.words, { all: ["bread"] });
  assert.deepEqual(among.replaced, []);
  const other = addWord({ ...BASE, words: { any: ["strike", "bread"] } }, "flour");
  assert.deepEqual(other.query.words, { all: ["flour"] });
  assert.deepEqual(other.replaced, ["any of strike, bread"]);
});

test("a drone narrows the drones filter to that drone", () => {
  assert.deepEqual(addDrone(BASE, "pw-00005").query.drones, ["pw-00005"]);
  const from = addDrone({ ...BASE, drones: ["pw-00005", "pw-00011"] }, "pw-00011");
  assert.deepEqual(from.query.drones, ["pw-00011"]);
  assert.deepEqual(from.replaced, ["pw-00005"]);
  assert.equal(addDrone({ ...BASE, drones: ["pw-00005"] }, "pw-00005"), null);
});

const KEYS = ["2026-11-28T10:00:00Z", "2026-11-28T11:00:00Z", "2026-11-28T12:00:00Z", "2026-11-28T13:00:00Z"];
const ANSWERED = { from: "2026-11-28T10:20:31.250Z", to: "2026-11-28T13:20:31.250Z" };

test("a time bar is its own interval", () => {
  assert.deepEqual(bucketSpan(KEYS, 1, 1, "1h", ANSWERED), {
    from: "2026-11-28T11:00:00.000Z",
    to: "2026-11-28T12:00:00.000Z",
  });
  const { query } = narrowTime(BASE, KEYS, 2, 2, "1h", ANSWERED);
  assert.deepEqual(query.time, { from: "2026-11-28T12:00:00.000Z", to: "2026-11-28T13:00:00.000Z" });
});

test("a dragged span covers whole buckets, in either direction", () => {
  const span = { from: "2026-11-28T11:00:00.000Z", to: "2026-11-28T13:00:00.000Z" };
  assert.deepEqual(bucketSpan(KEYS, 1, 2, "1h", ANSWERED), span);
  assert.deepEqual(bucketSpan(KEYS, 2, 1, "1h", ANSWERED), span);
});

test("the end buckets stay within the answered range, to the minute outward", () => {
  // The first bucket starts before the range, the last ends after it (the form holds minutes).
  assert.deepEqual(bucketSpan(KEYS, 0, 0, "1h", ANSWERED), {
    from: "2026-11-28T10:20:00.000Z",
    to: "2026-11-28T11:00:00.000Z",
  });
  assert.deepEqual(bucketSpan(KEYS, 3, 3, "1h", ANSWERED), {
    from: "2026-11-28T13:00:00.000Z",
    to: "2026-11-28T13:21:00.000Z",
  });
  // Indices past either end are the end buckets.
  assert.deepEqual(bucketSpan(KEYS, -3, 1, "1h", ANSWERED).from, "2026-11-28T10:20:00.000Z");
});

test("a span over every bucket, or no bucket, changes nothing", () => {
  assert.equal(bucketSpan(KEYS, 0, 3, "1h", ANSWERED), null);
  assert.equal(narrowTime(BASE, KEYS, 3, 0, "1h", ANSWERED), null);
  assert.equal(bucketSpan([], 0, 0, "1h", ANSWERED), null);
  assert.equal(bucketSpan(KEYS, 0, 0, "sometimes", ANSWERED), null);
});

const CELL = { south: 60.1601234567, west: 24.9301234567, north: 60.1698765432, east: 24.9498765432 };

test("a heat-map cell becomes the area, rounded outward", () => {
  const { query, replaced } = narrowArea(BASE, CELL);
  assert.deepEqual(query.area, { box: { south: 60.160123, west: 24.930123, north: 60.169877, east: 24.949877 } });
  assert.deepEqual(replaced, []);
});

test("a cell overhanging the rectangle keeps only the overlap; a circle gives way", () => {
  const box = { south: 60.165, west: 24.9, north: 60.2, east: 24.94 };
  const { query } = narrowArea({ ...BASE, area: { box } }, CELL);
  assert.deepEqual(query.area.box, { south: 60.165, west: 24.930123, north: 60.169877, east: 24.94 });
  const circle = narrowArea({ ...BASE, area: { circle: { lat: 60.16, lon: 24.93, radius_m: 500 } } }, CELL);
  assert.deepEqual(circle.replaced, ["the circle"]);
  assert.ok(circle.query.area.box);
  // Nothing left, or nothing new: no change.
  assert.equal(narrowArea({ ...BASE, area: { box: { south: 61, west: 25, north: 62, east: 26 } } }, CELL), null);
  assert.equal(narrowArea({ ...BASE, area: { box: { south: 60.17, west: 24.95, north: 60.18, east: 24.96 } } }, { south: 60.17, west: 24.95, north: 60.18, east: 24.96 }), null);
});

test("each change is said in words, with what it replaced", () => {
  const word = addWord({ ...BASE, words: { any: ["strike", "bread"] } }, "flour");
  assert.equal(describe("word", word.query, word.replaced), "Words filter: all of flour. It replaces any of strike, bread.");
  assert.equal(describe("drone", addDrone(BASE, "pw-00005").query), "Drones filter: pw-00005.");
  const time = narrowTime(BASE, KEYS, 1, 1, "1h", ANSWERED).query;
  assert.equal(describe("time", time, [], (iso) => iso.slice(11, 16)), "Time range: 11:00 to 12:00.");
  assert.match(describe("area", narrowArea(BASE, CELL).query), /^Area: the rectangle 60\.160123, 24\.930123 to /);
});
