// The words the officers' page shows: the same for a card, a popup, a message and a count.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  alertLabel,
  alertTitle,
  announcement,
  assignedLabel,
  bulkButtonText,
  bulkOutcome,
  bulkProgress,
  bulkQuestion,
  describeAction,
  describeFailure,
  formatBattery,
  formatLocalTime,
  formatScore,
  handledText,
  handlerText,
  officerLabel,
  openCountsText,
  relativeTime,
  shownText,
  titleWithUnseen,
} from "../../static/js/live_format.js";

const NOW = Date.UTC(2026, 10, 30, 14, 0, 0);
const ago = (seconds) => new Date(NOW - seconds * 1000).toISOString();
const citizen = { id: 1, kind: "citizen", citizen: "Jeanne Martin", drone_id: "pw-00042", severity: "high", status: "new" };

test("ages read as just now, minutes, hours and minutes, then days", () => {
  assert.equal(relativeTime(ago(10), NOW), "just now");
  assert.equal(relativeTime(ago(-20), NOW), "just now"); // the browser's clock a little behind the server's
  assert.equal(relativeTime(ago(5 * 60), NOW), "5 min ago");
  assert.equal(relativeTime(ago(2 * 3600 + 3 * 60), NOW), "2 h 3 min ago");
  assert.equal(relativeTime(ago(3 * 86400), NOW), "3 d ago");
  assert.equal(relativeTime("not a time", NOW), "unknown");
  assert.equal(relativeTime(null, NOW), "unknown");
  assert.equal(formatLocalTime(undefined), "unknown");
});

test("a missing score or battery reads as a dash or unknown, never NaN", () => {
  assert.equal(formatScore(12.345), "12.3");
  assert.equal(formatScore(null), "—");
  assert.equal(formatScore(Number.NaN), "—");
  assert.equal(formatBattery(41.6), "42 %");
  assert.equal(formatBattery(undefined), "unknown");
});

test("an alert is named for its citizen, its silent drone or the silent fleet", () => {
  assert.equal(alertTitle(citizen), "Jeanne Martin");
  assert.equal(alertTitle({ ...citizen, citizen: "" }), "Unknown citizen");
  assert.equal(alertTitle({ kind: "drone_offline", drone_id: "pw-00007" }), "Drone offline: pw-00007");
  assert.equal(alertTitle({ kind: "pipeline" }), "Fleet silent: check the report pipeline");
  assert.equal(alertLabel({ ...citizen, severity: "critical" }), "critical alert, new: Jeanne Martin");
});

test("who has an alert: the officer here is 'you', a close outranks the acknowledgement", () => {
  assert.equal(assignedLabel(citizen, "ofc1"), "nobody");
  assert.equal(assignedLabel({ ...citizen, assigned_to: "ofc1" }, "ofc1"), "ofc1 (you)");
  assert.equal(handlerText(citizen, "ofc1"), null);
  assert.equal(
    handlerText({ ...citizen, status: "acknowledged", assigned_to: "ofc2", acknowledged_by: "ofc3" }, "ofc1"),
    "assigned to ofc2, acknowledged by ofc3"
  );
  assert.equal(
    handlerText({ ...citizen, status: "resolved", acknowledged_by: "ofc3", closed_by: "ofc4" }, "ofc1"),
    "resolved by ofc4"
  );
  assert.equal(handledText(citizen), "Nobody has acknowledged it yet.");
  assert.match(handledText({ ...citizen, status: "dismissed", closed_by: "ofc4", closed_at: "junk" }), /^Dismissed by ofc4, unknown\.$/);
});

test("colleagues are named with their username, and the officer here as 'you'", () => {
  const officers = [{ username: "ofc2", name: "Aino Virtanen" }, { username: "ofc3", name: "" }];
  assert.equal(officerLabel("ofc2", officers, "ofc1"), "Aino Virtanen (ofc2)");
  assert.equal(officerLabel("ofc3", officers, "ofc1"), "ofc3");
  assert.equal(officerLabel("ofc1", null, "ofc1"), "ofc1 (you)");
});

test("history rows read as sentences", () => {
  assert.equal(describeAction({ by: "ofc2", action: "assigned", detail: "ofc3" }), "ofc2 assigned it to ofc3");
  assert.equal(describeAction({ by: "ofc2", action: "assigned", detail: "" }), "ofc2 unassigned it");
  assert.equal(describeAction({ by: "ofc2", action: "noted", detail: "on my way" }), "ofc2 wrote: on my way");
  assert.equal(describeAction({ action: "acknowledged" }), "someone acknowledged it");
});

test("a refused change says why: the server's detail, its field errors, or the HTTP status", () => {
  assert.equal(describeFailure(409, { detail: "Already resolved." }), "Already resolved.");
  assert.equal(
    describeFailure(400, { status: ["Cannot go from resolved to new."], note: "Too long." }),
    "status: Cannot go from resolved to new.; note: Too long."
  );
  assert.equal(describeFailure(502, null), "The change failed (HTTP 502).");
  assert.equal(describeFailure(400, {}), "The change failed (HTTP 400).");
});

test("counts, announcements and the title say one and many apart", () => {
  assert.equal(shownText(1), "1 alert shown");
  assert.equal(shownText(0), "0 alerts shown");
  assert.equal(openCountsText({ new: 3, acknowledged: 1 }), "Open: 3 new, 1 acknowledged");
  assert.equal(announcement([citizen]), "New high alert: Jeanne Martin");
  assert.equal(announcement([citizen, citizen]), "2 new alerts");
  assert.equal(titleWithUnseen("Live map", 0), "Live map");
  assert.equal(titleWithUnseen("Live map", 4), "(4) Live map");
});

test("a bulk action asks with the count, shows progress and says how many were refused", () => {
  assert.equal(bulkButtonText("dismissed", 0), "Dismiss ticked");
  assert.equal(bulkButtonText("acknowledged", 3), "Acknowledge ticked (3)");
  assert.equal(bulkQuestion("acknowledged", 1), "Acknowledge 1 alert? Every officer sees the change.");
  assert.equal(bulkQuestion("dismissed", 12), "Dismiss 12 alerts? Every officer sees the change.");
  assert.equal(bulkProgress("dismissed", 2, 12), "Dismiss… 2 of 12");
  assert.equal(bulkOutcome("acknowledged", 12, 0, 12), "Acknowledged 12 of 12.");
  assert.equal(bulkOutcome("dismissed", 12, 2, 12), "Dismissed 10 of 12; 2 refused (changed meanwhile?)");
});
