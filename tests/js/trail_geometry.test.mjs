// A citizen's trail shows which way they went, and its numbers do not cover each other.
import assert from "node:assert/strict";
import { test } from "node:test";

import { arrows, midpoint, screenBearing, spacedLabels } from "../../static/js/trail_geometry.js";

test("bearings on screen read as a compass: up is north, clockwise", () => {
  const o = { x: 100, y: 100 };
  assert.equal(screenBearing(o, { x: 100, y: 50 }), 0);
  assert.equal(screenBearing(o, { x: 150, y: 100 }), 90);
  assert.equal(screenBearing(o, { x: 100, y: 150 }), 180);
  assert.equal(screenBearing(o, { x: 50, y: 100 }), 270);
  assert.equal(screenBearing(o, { x: 150, y: 50 }), 45);
  assert.equal(screenBearing(o, o), null);
});

test("an arrow sits at each segment's middle, pointing from the earlier sighting to the later", () => {
  const points = [{ x: 0, y: 0 }, { x: 100, y: 0 }, { x: 100, y: 100 }];
  assert.deepEqual(midpoint(points[0], points[1]), { x: 50, y: 0 });
  assert.deepEqual(arrows(points, 20), [
    { from: 0, x: 50, y: 0, angle: 90 },
    { from: 1, x: 100, y: 50, angle: 180 },
  ]);
  // Walked the other way, the arrows turn round.
  assert.deepEqual(
    arrows(points.slice().reverse(), 20).map((a) => a.angle),
    [0, 270]
  );
});

test("no arrow on a segment too short to show one, nor on a sighting twice at one place", () => {
  const points = [{ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 0 }, { x: 60, y: 0 }];
  assert.deepEqual(
    arrows(points, 24).map((a) => a.from),
    [2]
  );
  assert.deepEqual(arrows([{ x: 1, y: 1 }], 24), []);
});

test("the first and last numbers always show; the others only clear of those shown", () => {
  const points = [
    { x: 0, y: 0 },
    { x: 5, y: 0 }, // under the first
    { x: 40, y: 0 },
    { x: 45, y: 0 }, // under the third
    { x: 80, y: 0 },
    { x: 82, y: 0 }, // the last, beside the fifth: the last wins
  ];
  assert.deepEqual(spacedLabels(points, 20), [0, 2, 5]);
  assert.deepEqual(spacedLabels([{ x: 0, y: 0 }], 20), [0]);
  assert.deepEqual(spacedLabels([], 20), []);
});
