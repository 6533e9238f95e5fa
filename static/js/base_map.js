/*
 * PeaceWatch — the map under the data: streets, water, buildings and parks.
 *
 * Either a force's own tile server (MAP_TILE_URL, as an L.tileLayer) or, by
 * default, the offline base map built at install time from OpenStreetMap data
 * (peacewatch/basemap.py writes static/basemap/*.geojson), drawn here as vector
 * layers on one canvas below every marker, with street names at close zoom.
 * What to draw comes from the page's `map-config` json_script block
 * (peacewatch/city.py map_config).
 *
 * Plain script, loaded after the vendored Leaflet and before the page's own
 * script; defines one global, `window.PeaceWatchBaseMap`. The rules (styles by
 * street class and zoom, what shows at which zoom, where labels go, which
 * source and attribution) are pure functions, exported to Node for
 * tests/js/base_map.test.mjs through `module.exports`.
 */
(function (root, factory) {
  const api = factory();
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.PeaceWatchBaseMap = api;
})(typeof window !== "undefined" ? window : globalThis, function () {
  "use strict";

  const OSM_COPYRIGHT_URL = "https://www.openstreetmap.org/copyright";
  // Leaflet's attribution control takes HTML: this is ours, never data.
  const OSM_ATTRIBUTION = `© <a href="${OSM_COPYRIGHT_URL}">OpenStreetMap</a> contributors (ODbL)`;
  const LAYERS = ["parks", "water", "buildings", "streets"]; // back to front

  const ZOOM = { buildings: 14, paths: 15, labels: 16 };
  const COLORS = {
    park: "#d3ebc0",
    water: "#a9d3e3",
    waterLine: "#7fb8cf",
    building: "#ddd6cd",
    buildingLine: "#c2b8ab",
    casing: "#a39d94",
    majorCasing: "#8c857b",
    street: "#ffffff",
    path: "#b5ab9c",
    outline: "#5b6675",
  };
  // Line widths in pixels by zoom, roughly the streets' real widths at close zoom.
  const WIDTHS = {
    major: { 12: 1.5, 13: 2, 14: 3, 15: 4.5, 16: 7, 17: 11, 18: 17, 19: 26 },
    minor: { 12: 0.5, 13: 0.8, 14: 1.5, 15: 2.5, 16: 4, 17: 7, 18: 11, 19: 17 },
    path: { 15: 1, 16: 1.2, 17: 1.6, 18: 2.2, 19: 3 },
  };
  const LABEL = { fontPx: 12, charPx: 6.6, padPx: 6, heightPx: 16, maxLabels: 90, repeatPx: 320 };

  // ------------------------------------------------------------------ pure rules

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  /**
   * What to draw under the data: a force's tile server, the offline vector layers, or
   * nothing (no configuration at all). The tile attribution is the operator's plain text.
   */
  function chooseSource(config) {
    const tiles = config && config.tiles;
    if (tiles && tiles.url) {
      return { kind: "tiles", url: tiles.url, attribution: tiles.attribution ? escapeHtml(tiles.attribution) : "" };
    }
    const layers = config && config.base_map;
    if (layers && LAYERS.every((name) => typeof layers[name] === "string")) {
      return { kind: "vector", urls: LAYERS.map((name) => [name, layers[name]]), attribution: OSM_ATTRIBUTION };
    }
    return { kind: "none", attribution: "" };
  }

  /** The value of a zoom table at `zoom` (fractional zooms take the lower step). */
  function byZoom(table, zoom) {
    const steps = Object.keys(table).map(Number).sort((a, b) => a - b);
    let value = 0;
    for (const step of steps) if (zoom >= step) value = table[step];
    return value;
  }

  /** Which layers show at a zoom: the whole city first, detail as the officer zooms in. */
  function visibleAt(zoom) {
    return {
      parks: true,
      water: true,
      buildings: zoom >= ZOOM.buildings,
      paths: zoom >= ZOOM.paths,
      labels: zoom >= ZOOM.labels,
    };
  }

  /**
   * A street's two strokes at a zoom: the grey casing under, the white fill over (major
   * streets wider, with a darker casing). Paths are one thin line, no casing. A weight
   * of 0 is not drawn (how paths disappear when zoomed out).
   */
  function streetStyle(cls, zoom) {
    const width = byZoom(WIDTHS[cls] || WIDTHS.minor, zoom);
    if (cls === "path") {
      return { casing: { weight: 0 }, fill: { color: COLORS.path, weight: zoom >= ZOOM.paths ? width : 0, opacity: 1 } };
    }
    const edge = width >= 2 ? (cls === "major" ? 2 : 1.5) : 0.6;
    return {
      casing: { color: cls === "major" ? COLORS.majorCasing : COLORS.casing, weight: width + edge, opacity: 1 },
      fill: { color: COLORS.street, weight: width, opacity: 1 },
    };
  }

  /**
   * Where a label sits on a line drawn at these pixel points: halfway along it, turned
   * along the street but never upside down. Null for a line shorter than `minLength`.
   */
  function labelAnchor(points, minLength) {
    let total = 0;
    for (let i = 1; i < points.length; i += 1) total += Math.hypot(points[i].x - points[i - 1].x, points[i].y - points[i - 1].y);
    if (points.length < 2 || total < (minLength || 0)) return null;
    let walked = 0;
    for (let i = 1; i < points.length; i += 1) {
      const a = points[i - 1];
      const b = points[i];
      const step = Math.hypot(b.x - a.x, b.y - a.y);
      if (walked + step >= total / 2 && step > 0) {
        const t = (total / 2 - walked) / step;
        let angle = (Math.atan2(b.y - a.y, b.x - a.x) * 180) / Math.PI;
        if (angle > 90) angle -= 180;
        if (angle < -90) angle += 180;
        return { x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t, angle: Math.round(angle * 10) / 10, length: total };
      }
      walked += step;
    }
    return null;
  }

  /**
   * The longest stretch of a line (pixel points) that lies inside the view: a long street
   * seen close up is labelled where it is on screen, not at its middle off screen.
   */
  function longestRunInside(points, view) {
    let best = [];
    let bestLength = 0;
    let run = [];
    let runLength = 0;
    const same = (a, b) => a.x === b.x && a.y === b.y;
    for (let i = 1; i < points.length; i += 1) {
      const piece = clipSegment(points[i - 1], points[i], view);
      if (piece && run.length && same(run[run.length - 1], piece[0])) {
        run.push(piece[1]);
      } else {
        run = piece ? [piece[0], piece[1]] : [];
        runLength = 0;
      }
      if (piece) runLength += Math.hypot(piece[1].x - piece[0].x, piece[1].y - piece[0].y);
      if (run.length >= 2 && runLength > bestLength) {
        best = run;
        bestLength = runLength;
      }
    }
    return best.slice();
  }

  /** The part of segment a-b inside the view (Liang-Barsky), or null. */
  function clipSegment(a, b, view) {
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    let t0 = 0;
    let t1 = 1;
    const edges = [
      [-dx, a.x],
      [dx, view.width - a.x],
      [-dy, a.y],
      [dy, view.height - a.y],
    ];
    for (const [p, q] of edges) {
      if (p === 0) {
        if (q < 0) return null;
      } else {
        const t = q / p;
        if (p < 0) t0 = Math.max(t0, t);
        else t1 = Math.min(t1, t);
      }
    }
    if (t0 > t1) return null;
    const at = (t) => (t === 0 ? a : t === 1 ? b : { x: a.x + dx * t, y: a.y + dy * t });
    return [at(t0), at(t1)];
  }

  /** The pixel size of a label, and of the box it takes once turned by `angle` degrees. */
  function labelBox(name, angle) {
    const width = name.length * LABEL.charPx + LABEL.padPx;
    const height = LABEL.heightPx;
    const r = (angle * Math.PI) / 180;
    return {
      width,
      height,
      boxWidth: Math.abs(width * Math.cos(r)) + Math.abs(height * Math.sin(r)),
      boxHeight: Math.abs(width * Math.sin(r)) + Math.abs(height * Math.cos(r)),
    };
  }

  /**
   * Which street names to show, readable rather than many: major streets first, then
   * the longest; a label must fit along its street, inside the view, overlap no label
   * already placed, and not repeat its name within `repeatPx`. Candidates are
   * {name, cls, x, y, angle, length} in view pixels; returns the placed ones.
   */
  function placeLabels(candidates, view, limit) {
    const rank = { major: 0, minor: 1, path: 2 };
    const ordered = [...candidates].sort((a, b) => rank[a.cls] - rank[b.cls] || b.length - a.length);
    const placed = [];
    for (const candidate of ordered) {
      if (placed.length >= (limit || LABEL.maxLabels)) break;
      const box = labelBox(candidate.name, candidate.angle);
      if (candidate.length < box.width * 0.9) continue;
      const rect = {
        left: candidate.x - box.boxWidth / 2,
        right: candidate.x + box.boxWidth / 2,
        top: candidate.y - box.boxHeight / 2,
        bottom: candidate.y + box.boxHeight / 2,
      };
      if (rect.left < 0 || rect.top < 0 || rect.right > view.width || rect.bottom > view.height) continue;
      const clash = placed.some(
        (other) =>
          (rect.left < other.rect.right + 4 &&
            rect.right + 4 > other.rect.left &&
            rect.top < other.rect.bottom + 2 &&
            rect.bottom + 2 > other.rect.top) ||
          (other.name === candidate.name && Math.hypot(other.x - candidate.x, other.y - candidate.y) < LABEL.repeatPx),
      );
      if (!clash) placed.push({ ...candidate, rect });
    }
    return placed;
  }

  // ------------------------------------------------------------------ Leaflet

  /** The page's map configuration (peacewatch/city.py map_config), from its json_script block. */
  function readConfig(doc) {
    const node = (doc || document).getElementById("map-config");
    try {
      return JSON.parse(node ? node.textContent : "{}") || {};
    } catch (error) {
      return {};
    }
  }

  /**
   * Draw what lies under the data on `map`, and the city's dashed outline. The map's
   * container says what it drew, for people reading the DOM and for browser tests:
   * data-base-map (tiles, vector, none, unavailable), data-streets (street lines drawn)
   * and data-street-labels (names on screen).
   */
  function addTo(map, options) {
    const L = window.L;
    const config = (options && options.config) || readConfig(document);
    const source = chooseSource(config);
    const container = map.getContainer();
    container.dataset.baseMap = source.kind;
    map.createPane("basemap").style.zIndex = 250; // above tiles (200), below overlays (400)
    const labelPane = map.createPane("basemapLabels");
    labelPane.style.zIndex = 350;
    labelPane.style.pointerEvents = "none";
    const renderer = L.canvas({ pane: "basemap", padding: 0.5 });
    const outline = () => {
      if (options && options.cityBounds) {
        L.rectangle(L.latLngBounds(options.cityBounds), {
          renderer,
          color: COLORS.outline,
          weight: 1.5,
          dashArray: "6 6",
          fill: false,
          interactive: false,
        }).addTo(map);
      }
    };

    if (source.kind === "tiles") {
      L.tileLayer(source.url, {
        attribution: source.attribution,
        maxZoom: map.getMaxZoom(),
        maxNativeZoom: Math.min(19, map.getMaxZoom()),
      }).addTo(map);
      outline();
      return Promise.resolve(source);
    }
    if (source.kind !== "vector") {
      outline();
      return Promise.resolve(source);
    }

    map.attributionControl.addAttribution(source.attribution);
    const loads = source.urls.map(([name, url]) =>
      fetch(url, { credentials: "same-origin" }).then((response) => {
        if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
        return response.json();
      }),
    );
    return Promise.all(loads)
      .then((collections) => {
        const data = Object.fromEntries(source.urls.map(([name], i) => [name, collections[i]]));
        drawVector(map, L, renderer, labelPane, data);
        outline();
        return source;
      })
      .catch((error) => {
        // The markers matter more than the streets: the page goes on over a plain ground.
        container.dataset.baseMap = "unavailable";
        console.warn("base map unavailable:", error);
        outline();
        return source;
      });
  }

  function drawVector(map, L, renderer, labelPane, data) {
    const common = { renderer, interactive: false };
    const streets = data.streets.features;
    L.geoJSON(data.parks, { ...common, style: { stroke: false, fillColor: COLORS.park, fillOpacity: 1 } }).addTo(map);
    L.geoJSON(data.water, {
      ...common,
      style: (f) =>
        f.geometry.type === "LineString"
          ? { color: COLORS.waterLine, weight: 2, opacity: 1, fill: false }
          : { stroke: false, fillColor: COLORS.water, fillOpacity: 1 },
    }).addTo(map);
    const buildings = L.geoJSON(data.buildings, common).addTo(map);
    const casing = L.geoJSON(data.streets, common).addTo(map);
    const fill = L.geoJSON(data.streets, common).addTo(map);
    const container = map.getContainer();
    container.dataset.streets = String(streets.length);

    // Label candidates: every named line, projected afresh at each view.
    const named = [];
    fill.eachLayer((layer) => {
      const props = layer.feature.properties;
      if (props.name) named.push({ name: props.name, cls: props.class, latlngs: layer.getLatLngs() });
    });
    const labels = L.layerGroup().addTo(map);

    function restyle() {
      const zoom = map.getZoom();
      const show = visibleAt(zoom);
      buildings.setStyle(
        show.buildings
          ? { stroke: true, color: COLORS.buildingLine, weight: 0.7, opacity: 1, fill: true, fillColor: COLORS.building, fillOpacity: 1 }
          : { stroke: false, fill: false },
      );
      casing.setStyle((f) => streetStyle(f.properties.class, zoom).casing);
      fill.setStyle((f) => streetStyle(f.properties.class, zoom).fill);
    }

    function relabel() {
      labels.clearLayers();
      const zoom = map.getZoom();
      if (!visibleAt(zoom).labels) {
        container.dataset.streetLabels = "0";
        return;
      }
      const size = map.getSize();
      const view = map.getBounds().pad(0.1);
      const candidates = [];
      for (const street of named) {
        if (street.cls === "path" && zoom < ZOOM.labels + 1) continue;
        if (!view.intersects(L.latLngBounds(street.latlngs))) continue;
        const points = street.latlngs.map((latlng) => map.latLngToContainerPoint(latlng));
        const anchor = labelAnchor(longestRunInside(points, { width: size.x, height: size.y }), 40);
        if (anchor) candidates.push({ name: street.name, cls: street.cls, ...anchor });
      }
      const placed = placeLabels(candidates, { width: size.x, height: size.y });
      for (const label of placed) {
        const text = document.createElement("span");
        text.className = `street-label street-label-${label.cls}`;
        text.textContent = label.name; // names are data: text, never HTML
        text.style.transform = `translate(-50%, -50%) rotate(${label.angle}deg)`;
        L.marker(map.containerPointToLatLng([label.x, label.y]), {
          icon: L.divIcon({ className: "street-label-icon", html: text, iconSize: null }),
          pane: "basemapLabels",
          interactive: false,
          keyboard: false,
        }).addTo(labels);
      }
      container.dataset.streetLabels = String(placed.length);
    }

    restyle();
    relabel();
    map.on("zoomend", restyle);
    map.on("moveend", relabel); // fires after every zoom too
  }

  return Object.freeze({
    OSM_ATTRIBUTION,
    OSM_COPYRIGHT_URL,
    LAYERS,
    ZOOM,
    chooseSource,
    visibleAt,
    streetStyle,
    labelAnchor,
    longestRunInside,
    labelBox,
    placeLabels,
    readConfig,
    addTo,
  });
});
