// The analysts' form asks the query its fields show, and a query put back into the form asks the same again.
import assert from "node:assert/strict";
import { test } from "node:test";

import { queryFromValues, valuesFromQuery } from "../../static/js/analytics_query.js";

/** The form as it opens: the last 24 hours, every chart, nothing else. */
const OPEN = {
  time: "24h",
  from: "",
  to: "",
  drones: "",
  citizen: "",
  citizenMatch: "exact",
  words: "",
  wordsMatch: "any",
  scoreMin: "",
  scoreMax: "",
  alertsOnly: false,
  area: null,
  aggs: ["histogram", "top_citizens", "top_drones", "top_words", "score", "grid"],
  top: "10",
  size: "50",
  sort: "newest",
  stopWords: true,
};

test("the form as it opens asks for the last 24 hours with every chart, and nothing it leaves empty", () => {
  assert.deepEqual(queryFromValues(OPEN, "UTC").query, {
    time: { last: "24h" },
    aggs: OPEN.aggs,
    top: 10,
    size: 50,
    sort: "newest",
  });
});

test("lists are split as typed: drones by spaces, commas or semicolons, words by commas only", () => {
  const { query } = queryFromValues({ ...OPEN, drones: " pw-00001, pw-00002;pw-00003  pw-00004 ", words: "bread line, strike,,", wordsMatch: "all" }, "UTC");
  assert.deepEqual(query.drones, ["pw-00001", "pw-00002", "pw-00003", "pw-00004"]);
  assert.deepEqual(query.words, { all: ["bread line", "strike"] });
});

test("a name, a peacescore range, alerts only and kept stop words are asked as given", () => {
  const { query } = queryFromValues(
    { ...OPEN, citizen: "  Ada ", citizenMatch: "prefix", scoreMin: "", scoreMax: "30", alertsOnly: true, stopWords: false },
    "UTC"
  );
  assert.deepEqual(query.citizen, { name: "Ada", match: "prefix" });
  assert.deepEqual(query.score, { max: 30 });
  assert.equal(query.alerts_only, true);
  assert.equal(query.stop_words, "keep");
  assert.deepEqual(queryFromValues({ ...OPEN, scoreMin: "0" }, "UTC").query.score, { min: 0 });
});

test("a custom range is typed in the display zone and sent as instants", () => {
  const values = { ...OPEN, time: "custom", from: "2026-11-28T09:00", to: "2026-11-28T17:30" };
  assert.deepEqual(queryFromValues(values, "Europe/Helsinki").query.time, {
    from: "2026-11-28T07:00:00.000Z",
    to: "2026-11-28T15:30:00.000Z",
  });
  assert.deepEqual(queryFromValues({ ...values, to: "" }, "UTC").query.time, { from: "2026-11-28T09:00:00.000Z" });
});

test("a query the form cannot ask names the field at fault", () => {
  assert.deepEqual(queryFromValues({ ...OPEN, time: "custom" }, "UTC").error, {
    field: "time.from",
    message: "Give the start of the time range.",
  });
  const backwards = { ...OPEN, time: "custom", from: "2026-11-28T09:00", to: "2026-11-28T09:00" };
  assert.equal(queryFromValues(backwards, "UTC").error.field, "time.to");
  assert.deepEqual(queryFromValues({ ...OPEN, scoreMin: "40", scoreMax: "30" }, "UTC").error, {
    field: "score.min",
    message: "The lowest peacescore is above the highest.",
  });
});

test("a saved query left at the API's defaults shows them", () => {
  const values = valuesFromQuery({ time: { last: "7d" }, aggs: ["grid"] }, "UTC");
  assert.equal(values.time, "7d");
  assert.equal(values.top, "10");
  assert.equal(values.size, "50");
  assert.equal(values.sort, "newest");
  assert.equal(values.stopWords, true);
  assert.equal(valuesFromQuery({}, "UTC").time, "24h");
});

test("a query put back into the form asks the same again", () => {
  const queries = [
    { time: { last: "24h" }, aggs: OPEN.aggs, top: 10, size: 50, sort: "newest" },
    {
      time: { from: "2026-11-28T07:00:00.000Z", to: "2026-11-28T15:30:00.000Z" },
      drones: ["pw-00001", "pw-00002"],
      citizen: { name: "Ada", match: "prefix" },
      words: { all: ["bread", "strike"] },
      score: { min: 10, max: 30 },
      area: { circle: { lat: 60.17, lon: 24.94, radius_m: 500 } },
      alerts_only: true,
      aggs: ["histogram"],
      top: 25,
      size: 100,
      sort: "oldest",
      stop_words: "keep",
    },
    { time: { last: "1h" }, words: { any: ["rain"] }, area: { box: { south: 60.1, west: 24.9, north: 60.2, east: 25 } }, aggs: [], top: 10, size: 50, sort: "newest" },
  ];
  for (const query of queries) {
    assert.deepEqual(queryFromValues(valuesFromQuery(query, "Europe/Helsinki"), "Europe/Helsinki").query, query);
  }
});

test("a malformed area is shown as none", () => {
  assert.equal(valuesFromQuery({ area: {} }, "UTC").area, null);
});
