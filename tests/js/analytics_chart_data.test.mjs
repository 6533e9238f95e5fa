// The analysts' charts and heat map draw what the aggregations say, and nothing else.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  bucketIndex,
  heatClasses,
  heatColour,
  histogramSeries,
  scoreRange,
  scoreStats,
  topLabel,
  topSeries,
} from "../../static/js/analytics_chart_data.js";

const COLOURS = ["c1", "c2", "c3", "c4", "c5", "c6"];

test("the time chart keeps each bucket's instant and names the earliest busiest interval", () => {
  const series = histogramSeries({
    interval: "1h",
    buckets: [
      { key: "2026-11-28T10:00:00Z", count: 3 },
      { key: "2026-11-28T11:00:00Z", count: 7 },
      { key: "2026-11-28T12:00:00Z", count: 7 },
    ],
  });
  assert.deepEqual(series.keys, ["2026-11-28T10:00:00Z", "2026-11-28T11:00:00Z", "2026-11-28T12:00:00Z"]);
  assert.deepEqual(series.values, [3, 7, 7]);
  assert.equal(series.interval, "1h");
  assert.equal(series.peak.key, "2026-11-28T11:00:00Z");
});

test("a time chart without buckets has no peak", () => {
  const series = histogramSeries(undefined);
  assert.deepEqual(series.keys, []);
  assert.equal(series.interval, "");
  assert.equal(series.peak, null);
});

test("a click or a drag off either end of the time chart picks the nearest bucket", () => {
  assert.equal(bucketIndex(2.4, 5), 2);
  assert.equal(bucketIndex(2.6, 5), 3);
  assert.equal(bucketIndex(-3, 5), 0);
  assert.equal(bucketIndex(99, 5), 4);
  assert.equal(bucketIndex(1, 0), null);
  assert.equal(bucketIndex(Number.NaN, 5), null);
});

test("top citizens are shown by name, drones and words by key", () => {
  const citizen = { key: "c-17", name: "Ada Lovelace", count: 4 };
  assert.equal(topLabel("top_citizens", citizen), "Ada Lovelace");
  assert.equal(topLabel("top_drones", { key: "pw-00001", count: 2 }), "pw-00001");
  const series = topSeries("top_citizens", [citizen, { key: "c-2", name: "Bo", count: 3 }]);
  assert.deepEqual(series.labels, ["Ada Lovelace", "Bo"]);
  assert.deepEqual(series.values, [4, 3]);
});

test("a top list's description names its first three and says when there are more", () => {
  const words = ["bread", "strike", "queue", "rain"].map((key, i) => ({ key, count: 10 - i }));
  const four = topSeries("top_words", words);
  assert.deepEqual(four.leaders, [
    { label: "bread", count: 10 },
    { label: "strike", count: 9 },
    { label: "queue", count: 8 },
  ]);
  assert.equal(four.more, true);
  assert.equal(topSeries("top_words", words.slice(0, 3)).more, false);
  assert.deepEqual(topSeries("top_words", null).leaders, []);
});

test("the score chart runs from the lowest through the percentiles to the highest, gaps left empty", () => {
  const stats = scoreStats({ min: 2, max: 98, percentiles: { 5: 10, 25: 30, 50: 55, 75: 70, 95: 90 } });
  assert.deepEqual(stats, [
    ["lowest", 2],
    ["5 %", 10],
    ["25 %", 30],
    ["median", 55],
    ["75 %", 70],
    ["95 %", 90],
    ["99 %", null],
    ["highest", 98],
  ]);
  assert.ok(scoreStats(null).every(([, value]) => value === null));
});

test("the citizen charts' captions name the peacescore range as typed", () => {
  assert.equal(scoreRange({ max: 30 }), " (citizens scoring up to 30)");
  assert.equal(scoreRange({ min: 12.5 }), " (citizens scoring from 12.5)");
  assert.equal(scoreRange({ min: 10, max: 30 }), " (citizens scoring 10 to 30)");
  assert.equal(scoreRange({ min: 0 }), " (citizens scoring from 0)");
  assert.equal(scoreRange(undefined), "");
  assert.equal(scoreRange({}), "");
});

test("heat-map classes grow logarithmically, cover 1 to the busiest cell, and end at the darkest colour", () => {
  const classes = heatClasses(1000, COLOURS);
  assert.equal(classes.length, 6);
  assert.equal(classes[0].lower, 1);
  assert.equal(classes.at(-1).upper, 1000);
  assert.equal(classes.at(-1).colour, "c6");
  for (let i = 1; i < classes.length; i++) assert.equal(classes[i].lower, classes[i - 1].upper + 1);
  // Skewed counts: the first classes are narrow.
  assert.ok(classes[0].upper - classes[0].lower < classes.at(-1).upper - classes.at(-1).lower);
});

test("few distinct counts make fewer classes, on the darker end of the ramp", () => {
  assert.deepEqual(
    heatClasses(8, COLOURS).map((c) => [c.lower, c.upper, c.colour]),
    [
      [1, 2, "c2"],
      [3, 3, "c3"],
      [4, 4, "c4"],
      [5, 6, "c5"],
      [7, 8, "c6"],
    ]
  );
  assert.deepEqual(heatClasses(2, COLOURS), [{ lower: 1, upper: 2, colour: "c6" }]);
  assert.deepEqual(heatClasses(1, COLOURS), [{ lower: 1, upper: 1, colour: "c6" }]);
});

test("a cell takes its class's colour", () => {
  const classes = heatClasses(1000, COLOURS);
  assert.equal(heatColour(classes, 1), "c1");
  assert.equal(heatColour(classes, 1000), "c6");
  assert.equal(heatColour(classes, classes[2].upper), "c3");
  assert.equal(heatColour(classes, classes[2].upper + 1), "c4");
});
