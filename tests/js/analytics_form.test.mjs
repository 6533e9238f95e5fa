// The analysts' query form: hidden fields never block a run, and refusals read as words next to fields.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  checkNumbers,
  fieldFor,
  foldName,
  hiddenControls,
  moveActive,
  problemMessages,
} from "../../static/js/analytics_form.js";

test("a field a later choice hid is not checked: a bad radius under 'Anywhere' blocks nothing", () => {
  const hidden = hiddenControls({ time: "24h", area: "none" });
  assert.ok(hidden.has("q-radius") && hidden.has("q-from") && hidden.has("q-south"));
  assert.deepEqual(checkNumbers({ "q-radius": "0", "q-lat": "500" }, hidden), []);
  const circle = hiddenControls({ time: "24h", area: "circle" });
  assert.deepEqual(checkNumbers({ "q-radius": "0", "q-lat": "48.8", "q-lon": "2.3" }, circle), [
    { control: "q-radius", message: "Radius (m): must be between 1 and 1000000" },
  ]);
});

test("visible numbers out of range or unreadable are named with their label", () => {
  const hidden = hiddenControls({ time: "custom", area: "none" });
  assert.ok(!hidden.has("q-from"));
  assert.deepEqual(checkNumbers({ "q-score-min": "150", "q-score-max": "" }, hidden, new Set(["q-score-max"])), [
    { control: "q-score-min", message: "Peacescore from: must be between 0 and 100" },
    { control: "q-score-max", message: "Peacescore to: must be a number" },
  ]);
});

test("a problem's JSON path becomes the form's control and the analyst's words", () => {
  assert.deepEqual(fieldFor("drones[2]"), { control: "q-drones", label: "Drone 3" });
  assert.deepEqual(fieldFor("words.any[0]"), { control: "q-words", label: "Word 1" });
  assert.deepEqual(fieldFor("area.circle.radius_m"), { control: "q-radius", label: "Radius (m)" });
  assert.deepEqual(fieldFor("area.box.unknown"), { control: "q-south", label: "Rectangle" });
  assert.equal(fieldFor("colour"), null);
  const problem = {
    status: 400,
    detail: "drones[2]: use letters, digits, '.', '_' or '-' only",
    field: "drones[2]",
    errors: [{ field: "drones[2]", detail: "drones[2]: use letters, digits, '.', '_' or '-' only" }],
  };
  assert.deepEqual(problemMessages(problem), [
    { control: "q-drones", message: "Drone 3: use letters, digits, '.', '_' or '-' only" },
  ]);
  assert.deepEqual(problemMessages({ detail: "time: from must be before to", field: "time" }), [
    { control: "q-time", message: "Time range: from must be before to" },
  ]);
  assert.deepEqual(problemMessages({ detail: "the archive could not answer", field: "" }), [
    { control: null, message: "The archive could not answer" },
  ]);
});

test("names fold as the server folds them", () => {
  assert.equal(foldName("  Jeanne   Martín "), "jeanne martin");
  assert.equal(foldName("Straße"), "strasse");
  assert.equal(foldName("   "), "   ");
});

test("arrow keys move through the suggestions and wrap around", () => {
  assert.equal(moveActive(-1, "ArrowDown", 3), 0);
  assert.equal(moveActive(2, "ArrowDown", 3), 0);
  assert.equal(moveActive(-1, "ArrowUp", 3), 2);
  assert.equal(moveActive(1, "ArrowUp", 3), 0);
  assert.equal(moveActive(1, "End", 3), 2);
  assert.equal(moveActive(0, "ArrowDown", 0), -1);
});
