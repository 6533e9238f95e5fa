// Every time on the analysts' pages says its zone, the force's display zone.
import assert from "node:assert/strict";
import { test } from "node:test";

import { axisLabel, formatInstant, isoToZoned, zoneName, zonedToIso } from "../../static/js/analytics_time.js";

const NOON = "2026-11-28T12:00:00.000Z";

test("an instant is shown in the display zone, with the zone's name", () => {
  assert.equal(formatInstant(NOON, "UTC", { locale: "en-GB" }), "28 Nov 2026, 12:00 UTC");
  assert.match(formatInstant(NOON, "Europe/Paris", { locale: "en-GB" }), /^28 Nov 2026, 13:00 (CET|GMT\+1)$/);
  assert.match(formatInstant("2026-07-01T12:00:00Z", "Europe/Paris", { locale: "en-GB" }), /14:00 (CEST|GMT\+2)$/);
  assert.equal(formatInstant("not a time", "UTC"), "unknown");
  assert.equal(zoneName("UTC", NOON), "UTC");
});

test("axis labels are the zone's wall clock: hours, or days for long intervals", () => {
  assert.equal(axisLabel(NOON, "15m", "Asia/Tokyo", "en-GB"), "21:00");
  assert.equal(axisLabel("2026-11-28T20:00:00Z", "1d", "Asia/Tokyo", "en-GB"), "29 Nov");
});

test("a time typed in the display zone is the right instant, across a DST change too", () => {
  assert.equal(zonedToIso("2026-11-28T13:00", "Europe/Paris"), NOON);
  assert.equal(zonedToIso("2026-11-28T12:00", "UTC"), NOON);
  assert.equal(zonedToIso("2026-07-01T14:00", "Europe/Paris"), "2026-07-01T12:00:00.000Z");
  assert.equal(zonedToIso("2026-03-29T03:30", "Europe/Paris"), "2026-03-29T01:30:00.000Z");
  assert.equal(zonedToIso("yesterday", "UTC"), null);
  assert.equal(isoToZoned(NOON, "Europe/Paris"), "2026-11-28T13:00");
  assert.equal(isoToZoned(NOON, "America/New_York"), "2026-11-28T07:00");
});
