// What keeps the officers' page from missing an alert: copies by version, changes by sequence number.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ChangeSequence, isAlertShape, reachedAfterPage, storeAlert } from "../../static/js/alert_sync.js";

const alert = (id, version, status = "new") => ({ id, version, status });

test("a later version replaces the held copy; a late older copy does not", () => {
  const alerts = new Map();
  assert.equal(storeAlert(alerts, alert(1, 1)), "created");
  assert.equal(storeAlert(alerts, alert(1, 3, "acknowledged")), "updated");
  assert.equal(storeAlert(alerts, alert(1, 2, "new")), null); // REST page read before the change
  assert.equal(alerts.get(1).status, "acknowledged");
  assert.equal(storeAlert(alerts, alert(1, 3, "acknowledged")), "updated"); // the same copy twice is harmless
});

test("anything that is not an alert is ignored, never shown", () => {
  const alerts = new Map();
  for (const junk of [null, 42, "x", {}, { id: "1", version: 1, status: "new" }, { id: 1, status: "new" }]) {
    assert.equal(isAlertShape(junk), false);
    assert.equal(storeAlert(alerts, junk), null);
  }
  assert.equal(alerts.size, 0);
});

test("events in order move the sequence along with no gap", () => {
  const seq = new ChangeSequence();
  seq.caughtUp(10);
  for (const n of [11, 12, 13]) seq.saw(n);
  assert.equal(seq.through, 13);
  assert.equal(seq.hasGap, false);
});

test("a missing change is a gap until it arrives, whatever the order of the others", () => {
  const seq = new ChangeSequence();
  seq.caughtUp(10);
  seq.saw(12);
  seq.saw(13);
  assert.equal(seq.through, 10);
  assert.equal(seq.hasGap, true);
  seq.saw(11); // the late event of another publisher
  assert.equal(seq.through, 13);
  assert.equal(seq.hasGap, false);
});

test("a catch-up over REST closes a gap the stream never filled", () => {
  const seq = new ChangeSequence();
  seq.caughtUp(10);
  seq.saw(12);
  seq.saw(15);
  seq.caughtUp(13); // the catch-up page held everything up to 13
  assert.equal(seq.through, 13);
  assert.deepEqual([...seq.ahead], [15]);
  seq.saw(14);
  assert.equal(seq.through, 15);
});

test("replays and nonsense numbers change nothing; nothing counts before the first load", () => {
  const seq = new ChangeSequence();
  seq.saw(5);
  assert.equal(seq.through, null);
  seq.caughtUp(10);
  for (const n of [3, 10, 0, -1, 1.5, "11", null]) seq.saw(n);
  assert.equal(seq.through, 10);
  assert.equal(seq.hasGap, false);
});

test("too many changes held above a gap ask for a catch-up at once", () => {
  const seq = new ChangeSequence({ maxAhead: 3 });
  seq.caughtUp(1);
  for (const n of [3, 4, 5]) seq.saw(n);
  assert.equal(seq.overflowing, false);
  seq.saw(6);
  assert.equal(seq.overflowing, true);
});

test("a catch-up page holds everything up to its last row; the last page up to the answer's last_seq", () => {
  const page = { results: [{ ...alert(1, 2), seq: 14 }, { ...alert(2, 1), seq: 17 }, alert(3, 1)], last_seq: 30 };
  assert.equal(reachedAfterPage(10, page, false), 17); // more pages follow: changes up to 30 may be on them
  assert.equal(reachedAfterPage(10, page, true), 30);
  assert.equal(reachedAfterPage(10, { results: [], last_seq: 10 }, true), 10);
  assert.equal(reachedAfterPage(20, { results: [{ ...alert(1, 1), seq: 12 }] }, true), 20); // never backwards
});
