// The base map's rules: which source and attribution, styles by street class and zoom,
// what shows at which zoom, where street names go. static/js/base_map.js is a classic
// script for the pages; Node loads it through its CommonJS export.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";

const require = createRequire(import.meta.url);
const BaseMap = require("../../static/js/base_map.js");

const LAYERS = {
  parks: "/static/basemap/parks.geojson",
  water: "/static/basemap/water.geojson",
  buildings: "/static/basemap/buildings.geojson",
  streets: "/static/basemap/streets.geojson",
};

test("a configured tile server wins over the offline base map, its attribution shown as text", () => {
  const source = BaseMap.chooseSource({
    tiles: { url: "https://tiles.force.example/{z}/{x}/{y}.png", attribution: "Force <GIS> & OSM" },
    base_map: LAYERS,
  });
  assert.equal(source.kind, "tiles");
  assert.equal(source.url, "https://tiles.force.example/{z}/{x}/{y}.png");
  assert.equal(source.attribution, "Force &lt;GIS&gt; &amp; OSM");
});

test("without a tile server the offline layers are drawn back to front, credited to OpenStreetMap", () => {
  const source = BaseMap.chooseSource({ base_map: LAYERS });
  assert.equal(source.kind, "vector");
  assert.deepEqual(
    source.urls.map(([name]) => name),
    ["parks", "water", "buildings", "streets"],
  );
  assert.match(source.attribution, /© <a href="https:\/\/www\.openstreetmap\.org\/copyright">OpenStreetMap<\/a> contributors \(ODbL\)/);
});

test("no configuration, or half of one, draws nothing rather than failing", () => {
  assert.equal(BaseMap.chooseSource({}).kind, "none");
  assert.equal(BaseMap.chooseSource(null).kind, "none");
  assert.equal(BaseMap.chooseSource({ base_map: { streets: "/s.geojson" } }).kind, "none");
  assert.equal(BaseMap.chooseSource({ tiles: { url: "" } }).kind, "none");
});

test("detail comes in as the map zooms: buildings, then paths, then street names", () => {
  assert.deepEqual(BaseMap.visibleAt(13), { parks: true, water: true, buildings: false, paths: false, labels: false });
  assert.equal(BaseMap.visibleAt(14).buildings, true);
  assert.equal(BaseMap.visibleAt(14.5).paths, false);
  assert.equal(BaseMap.visibleAt(15).paths, true);
  assert.equal(BaseMap.visibleAt(15.5).labels, false);
  assert.equal(BaseMap.visibleAt(16).labels, true);
});

test("streets are white over a grey casing, major ones wider and wider as the map zooms in", () => {
  for (const zoom of [14, 16, 18]) {
    const major = BaseMap.streetStyle("major", zoom);
    const minor = BaseMap.streetStyle("minor", zoom);
    assert.equal(major.fill.color, "#ffffff");
    assert.equal(minor.fill.color, "#ffffff");
    assert.ok(major.casing.weight > major.fill.weight, "the casing shows on both sides");
    assert.ok(major.fill.weight > minor.fill.weight, `major wider than minor at ${zoom}`);
  }
  assert.ok(BaseMap.streetStyle("minor", 18).fill.weight > BaseMap.streetStyle("minor", 15).fill.weight);
});

test("paths have no casing and are not drawn before zoom 15", () => {
  assert.equal(BaseMap.streetStyle("path", 14).fill.weight, 0);
  assert.equal(BaseMap.streetStyle("path", 17).casing.weight, 0);
  assert.ok(BaseMap.streetStyle("path", 17).fill.weight > 0);
});

test("a label sits halfway along its street, turned along it and never upside down", () => {
  const east = BaseMap.labelAnchor([{ x: 0, y: 0 }, { x: 100, y: 0 }, { x: 200, y: 0 }], 10);
  assert.deepEqual([east.x, east.y, east.angle, east.length], [100, 0, 0, 200]);
  const west = BaseMap.labelAnchor([{ x: 200, y: 0 }, { x: 0, y: 0 }], 10);
  assert.equal(Math.abs(west.angle), 0, "a street drawn westwards still reads left to right");
  const down = BaseMap.labelAnchor([{ x: 0, y: 0 }, { x: 0, y: 100 }], 10);
  assert.equal(Math.abs(down.angle), 90);
  assert.equal(BaseMap.labelAnchor([{ x: 0, y: 0 }, { x: 5, y: 0 }], 40), null, "too short for a name");
});

test("labels never overlap, major streets win, and a name does not repeat nearby", () => {
  const view = { width: 800, height: 600 };
  const candidates = [
    { name: "Pohjoisesplanadi", cls: "minor", x: 400, y: 300, angle: 0, length: 300 },
    { name: "Mannerheimintie", cls: "major", x: 410, y: 305, angle: 0, length: 200 },
    { name: "Mannerheimintie", cls: "major", x: 420, y: 420, angle: 0, length: 200 },
    { name: "Aleksanterinkatu", cls: "minor", x: 400, y: 100, angle: 0, length: 300 },
    { name: "Edge", cls: "minor", x: 2, y: 100, angle: 0, length: 300 },
    { name: "Too long for its street", cls: "minor", x: 400, y: 500, angle: 0, length: 30 },
  ];
  const placed = BaseMap.placeLabels(candidates, view);
  assert.deepEqual(
    placed.map((label) => label.name),
    ["Mannerheimintie", "Aleksanterinkatu"],
  );
  for (const a of placed) {
    for (const b of placed) {
      if (a === b) continue;
      const apart = a.rect.right <= b.rect.left || b.rect.right <= a.rect.left || a.rect.bottom <= b.rect.top || b.rect.bottom <= a.rect.top;
      assert.ok(apart, `${a.name} and ${b.name} overlap`);
    }
  }
});

test("at most `limit` labels are placed", () => {
  const candidates = Array.from({ length: 50 }, (_, i) => ({ name: `Katu ${i}`, cls: "minor", x: 60 + (i % 5) * 150, y: 20 + Math.floor(i / 5) * 40, angle: 0, length: 200 }));
  assert.equal(BaseMap.placeLabels(candidates, { width: 900, height: 600 }, 7).length, 7);
});

test("a long street seen close up is labelled on its stretch inside the view", () => {
  const points = [{ x: -500, y: 50 }, { x: 100, y: 50 }, { x: 300, y: 50 }, { x: 900, y: 50 }, { x: 1200, y: 50 }, { x: 1300, y: 50 }];
  const run = BaseMap.longestRunInside(points, { width: 1000, height: 600 });
  assert.deepEqual(run.map((p) => p.x), [0, 100, 300, 900, 1000]);
  const across = BaseMap.longestRunInside([{ x: -5, y: 50 }, { x: 2000, y: 50 }], { width: 100, height: 100 });
  assert.deepEqual(across, [{ x: 0, y: 50 }, { x: 100, y: 50 }], "a straight street crossing the whole view");
  assert.deepEqual(BaseMap.longestRunInside([{ x: -5, y: 200 }, { x: 2000, y: 200 }], { width: 100, height: 100 }), []);
});
