// What the officers' map shows of a drone: where it is, whether it carries an open alert, is offline or low.
import assert from "node:assert/strict";
import { test } from "node:test";

import { DroneBook, positionRows } from "../../static/js/live_drones.js";

const alert = (id, fields = {}) => ({ id, kind: "citizen", drone_id: "pw-1", status: "new", ...fields });

test("positions sent as rows with their column names become one object per drone", () => {
  const message = { fields: ["drone_id", "lat", "lon"], drones: [["pw-1", 60.17, 24.94], ["pw-2", 60.2, 24.9]] };
  assert.deepEqual(positionRows(message), [
    { drone_id: "pw-1", lat: 60.17, lon: 24.94 },
    { drone_id: "pw-2", lat: 60.2, lon: 24.9 },
  ]);
  const objects = [{ drone_id: "pw-3", lat: 1, lon: 2 }];
  assert.deepEqual(positionRows({ drones: objects }), objects);
  assert.deepEqual(positionRows({ type: "drones.positions" }), []);
});

test("a drone carries an open alert until its last one closes", () => {
  const book = new DroneBook();
  book.alertChanged(undefined, alert(1));
  book.alertChanged(undefined, alert(2, { status: "acknowledged" }));
  assert.equal(book.openAlerts.get("pw-1"), 2);
  book.alertChanged(alert(1), alert(1, { status: "resolved" }));
  assert.equal(book.hasOpenAlert("pw-1"), true);
  book.alertChanged(alert(2, { status: "acknowledged" }), alert(2, { status: "dismissed" }));
  assert.equal(book.hasOpenAlert("pw-1"), false);
  book.alertChanged(alert(2, { status: "dismissed" }), alert(2, { status: "dismissed" })); // a replay
  assert.equal(book.openAlerts.size, 0);
});

test("a drone is offline while its drone_offline alert is open", () => {
  const book = new DroneBook();
  const offline = alert(5, { kind: "drone_offline" });
  book.alertChanged(undefined, offline);
  assert.equal(book.isOffline("pw-1"), true);
  book.alertChanged(offline, { ...offline, status: "resolved" });
  assert.equal(book.isOffline("pw-1"), false);
});

test("a position without a drone or a place is not kept", () => {
  const book = new DroneBook();
  for (const junk of [null, { lat: 1, lon: 2 }, { drone_id: "pw-1", lat: "60", lon: 24 }, { drone_id: "pw-1", lat: 60 }]) {
    assert.equal(book.place(junk), false);
  }
  assert.equal(book.positions.size, 0);
  assert.equal(book.place({ drone_id: "pw-1", lat: 60, lon: 24 }), true);
  assert.deepEqual(book.positions.get("pw-1"), { drone_id: "pw-1", lat: 60, lon: 24 });
});

test("a drone is restyled once when its battery crosses the low mark, not on every position", () => {
  const book = new DroneBook();
  book.place({ drone_id: "pw-1", lat: 60, lon: 24, battery_pct: 80 });
  assert.deepEqual(book.takeRestyle(), []);
  book.place({ drone_id: "pw-1", lat: 60, lon: 24, battery_pct: 19 });
  book.place({ drone_id: "pw-1", lat: 60, lon: 24, battery_pct: 18 });
  assert.equal(book.isLowBattery("pw-1"), true);
  assert.deepEqual(book.takeRestyle(), ["pw-1"]);
  assert.deepEqual(book.takeRestyle(), []);
});

test("a drone's dot says low battery, offline and open alert apart", () => {
  const book = new DroneBook();
  assert.equal(book.style("pw-unknown").radius, 4);
  book.place({ drone_id: "pw-1", lat: 60, lon: 24, battery_pct: 5 });
  assert.deepEqual(book.style("pw-1"), {
    radius: 5, color: "#ffffff", weight: 1, dashArray: null, fillColor: "#d08a00", fillOpacity: 0.85,
  });
  // Its drone_offline alert opens: the dashed grey of offline, as the legend shows it (no red ring).
  book.alertChanged(undefined, alert(1, { kind: "drone_offline" }));
  assert.equal(book.hasOpenAlert("pw-1"), false);
  assert.deepEqual(book.style("pw-1"), {
    radius: 5, color: "#3d434b", weight: 2, dashArray: "2 2", fillColor: "#9aa1ab", fillOpacity: 0.85,
  });
  // A citizen alert from it while offline (reported before it fell silent): the red ring round the grey.
  book.alertChanged(undefined, alert(3));
  assert.deepEqual(book.style("pw-1"), {
    radius: 7, color: "#b3261e", weight: 3, dashArray: "2 2", fillColor: "#9aa1ab", fillOpacity: 1,
  });
  book.alertChanged(alert(3), alert(3, { status: "resolved" }));
  book.alertChanged(alert(1, { kind: "drone_offline" }), alert(1, { kind: "drone_offline", status: "resolved" }));
  book.alertChanged(undefined, alert(2));
  assert.equal(book.style("pw-1").dashArray, null);
  assert.equal(book.style("pw-1").color, "#b3261e");
});
