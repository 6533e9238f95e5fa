// The officers' alert list: what it shows, in what order, and what a bulk action touches.
import assert from "node:assert/strict";
import { test } from "node:test";

import { canMove, compareAlerts, countByStatus, isOpen, matches, movable, normalise } from "../../static/js/alert_list.js";

const at = (minute) => new Date(Date.UTC(2026, 10, 30, 14, minute)).toISOString();
const alert = (id, fields = {}) => ({
  id,
  kind: "citizen",
  citizen: "Jeanne Martin",
  drone_id: "pw-00042",
  severity: "high",
  status: "new",
  peacescore: 15,
  raised_at: at(id),
  ...fields,
});

test("search ignores case, accents and word order, over name, drone and subject id", () => {
  const a = alert(1, { citizen: "Jeanne Martín", citizen_id: "subj-77" });
  assert.equal(matches(a, { text: "martin JEANNE" }), true);
  assert.equal(matches(a, { text: "00042" }), true);
  assert.equal(matches(a, { text: "subj-77" }), true);
  assert.equal(matches(a, { text: "paul" }), false);
  assert.equal(normalise("  Élise   DUBOIS "), "elise dubois");
});

test("the status filter 'open' means new and acknowledged; kind and severity narrow it", () => {
  assert.equal(matches(alert(1, { status: "acknowledged" }), { status: "open" }), true);
  assert.equal(matches(alert(1, { status: "resolved" }), { status: "open" }), false);
  assert.equal(matches(alert(1, { status: "resolved" }), { status: "all" }), true);
  const offline = alert(2, { kind: "drone_offline", citizen: null, peacescore: null });
  assert.equal(matches(offline, { kind: "citizen" }), false);
  assert.equal(matches(offline, { kind: "drone_offline", text: "pw-00042" }), true);
  assert.equal(matches(alert(3), { severity: "critical" }), false);
});

test("open critical alerts are pinned above the rest, whatever the sort", () => {
  const list = [alert(1), alert(2, { severity: "critical" }), alert(3), alert(4, { severity: "critical", status: "resolved" })];
  const ids = (sort) => [...list].sort((a, b) => compareAlerts(a, b, { sort })).map((a) => a.id);
  assert.deepEqual(ids("newest"), [2, 4, 3, 1]);
  assert.deepEqual(ids("oldest"), [2, 1, 3, 4]);
  const unpinned = [...list].sort((a, b) => compareAlerts(a, b, { sort: "newest", pinCritical: false }));
  assert.deepEqual(unpinned.map((a) => a.id), [4, 3, 2, 1]);
});

test("sorting by score puts the lowest first and alerts without a score last", () => {
  const list = [alert(1, { peacescore: 12 }), alert(2, { kind: "drone_offline", peacescore: null }), alert(3, { peacescore: 4 })];
  const sorted = [...list].sort((a, b) => compareAlerts(a, b, { sort: "score", pinCritical: false }));
  assert.deepEqual(sorted.map((a) => a.id), [3, 1, 2]);
});

test("counts name every status, zeros included", () => {
  assert.deepEqual(countByStatus([alert(1), alert(2), alert(3, { status: "acknowledged" })]), {
    new: 2,
    acknowledged: 1,
    resolved: 0,
    dismissed: 0,
  });
});

test("a bulk action touches only the alerts the workflow lets it move", () => {
  const transitions = { new: ["acknowledged", "dismissed"], acknowledged: ["resolved", "dismissed"], resolved: [], dismissed: [] };
  const list = [alert(1), alert(2, { status: "acknowledged" }), alert(3, { status: "resolved" })];
  assert.deepEqual(movable(list, "acknowledged", transitions).map((a) => a.id), [1]);
  assert.deepEqual(movable(list, "dismissed", transitions).map((a) => a.id), [1, 2]);
});

test("the workflow: new alerts are acknowledged or dismissed, acknowledged ones resolved or dismissed, closed ones stay", () => {
  assert.equal(canMove("new", "acknowledged"), true);
  assert.equal(canMove("new", "resolved"), false);
  assert.equal(canMove("acknowledged", "resolved"), true);
  assert.equal(canMove("resolved", "new"), false);
  assert.equal(canMove("dismissed", "acknowledged"), false);
  assert.equal(canMove("unknown", "dismissed"), false);
  assert.equal(isOpen(alert(1, { status: "acknowledged" })), true);
  assert.equal(isOpen(alert(1, { status: "resolved" })), false);
  const ticked = [alert(1), alert(2, { status: "acknowledged" }), alert(3, { status: "resolved" })];
  assert.deepEqual(movable(ticked, "resolved").map((a) => a.id), [2]); // the page's workflow when none is given
});
