/*
 * PeaceWatch — a small area tool for the query map: one rectangle or one circle.
 *
 * Why not Leaflet.draw: it is built for the mouse and edits many shapes; the
 * query needs exactly one area, and analysts on a keyboard must be able to set
 * it too. So: with the mouse, pick Rectangle or Circle on the map and drag;
 * with the keyboard, the same buttons frame the current map view (pan with the
 * arrow keys, zoom with + and -), and the form's coordinate fields edit the
 * numbers. Escape cancels a drag in progress.
 *
 * Usage: const tool = PeaceWatchDraw.attach(map, {onChange(area) {...}});
 * tool.show(area) draws an area set elsewhere (the form, a saved query);
 * tool.claimedClick() says whether the latest click on the map was drawing.
 * An area is null, {box: {south, west, north, east}} or {circle: {lat, lon, radius_m}}
 * — the query's own shape (analytics/query.py, Area).
 */
(function () {
  "use strict";

  const { el } = window.PeaceWatchAnalytics;
  const STYLE = { color: "#1f5fbf", weight: 2, dashArray: "6 4", fillColor: "#1f5fbf", fillOpacity: 0.08 };

  const round = (value, digits) => Number(value.toFixed(digits));

  function boxFrom(bounds) {
    return {
      box: {
        south: round(bounds.getSouth(), 5),
        west: round(bounds.getWest(), 5),
        north: round(bounds.getNorth(), 5),
        east: round(bounds.getEast(), 5),
      },
    };
  }

  function circleFrom(center, radius) {
    return { circle: { lat: round(center.lat, 5), lon: round(center.lng, 5), radius_m: Math.max(1, Math.round(radius)) } };
  }

  /** The area framing the map's current view, a little inside its edges. */
  function areaFromView(map, kind) {
    const view = map.getBounds().pad(-0.15);
    if (kind === "box") return boxFrom(view);
    const center = map.getCenter();
    const halfWidth = map.distance(center, L.latLng(center.lat, view.getEast()));
    const halfHeight = map.distance(center, L.latLng(view.getNorth(), center.lng));
    return circleFrom(center, Math.min(halfWidth, halfHeight));
  }

  function layerFor(area) {
    if (area && area.box) {
      const b = area.box;
      return L.rectangle([[b.south, b.west], [b.north, b.east]], { ...STYLE, interactive: false });
    }
    if (area && area.circle) {
      const c = area.circle;
      return L.circle([c.lat, c.lon], { ...STYLE, radius: c.radius_m, interactive: false });
    }
    return null;
  }

  function attach(map, { onChange }) {
    let shown = null; // the layer of the current area
    let drawing = null; // {kind, start, layer} while the mouse drags
    let mode = null; // "box" | "circle" while waiting for the mouse
    let claimed = false; // the click that ends a drawing is the tool's, not a heat-map cell's

    const container = map.getContainer();
    const status = el("p", { class: "draw-status visually-hidden", "aria-live": "polite" });
    const buttons = {};

    const Control = L.Control.extend({
      options: { position: "topleft" },
      onAdd() {
        const box = el("div", { class: "leaflet-bar draw-control", role: "group", "aria-label": "Area" });
        buttons.box = button("Rectangle", "Draw a rectangle: drag on the map. With the keyboard: frame the current map view.", "box");
        buttons.circle = button("Circle", "Draw a circle: press at the centre and drag. With the keyboard: a circle in the current map view.", "circle");
        buttons.clear = el("button", { type: "button", class: "draw-button draw-clear", title: "Clear the area" }, "Clear");
        buttons.clear.addEventListener("click", () => {
          cancel();
          show(null);
          onChange(null);
          say("Area cleared: the query covers everywhere.");
        });
        box.append(buttons.box, buttons.circle, buttons.clear, status);
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        return box;
      },
    });

    function button(label, title, kind) {
      const node = el("button", { type: "button", class: "draw-button draw-" + kind, title, "aria-pressed": "false" }, label);
      node.addEventListener("click", (event) => {
        // event.detail is 0 for a keyboard activation: no pointer to drag with.
        if (event.detail === 0) {
          cancel();
          const area = areaFromView(map, kind);
          show(area);
          onChange(area);
          say((kind === "box" ? "Rectangle" : "Circle") + " set from the current map view.");
          return;
        }
        if (mode === kind) cancel();
        else start(kind);
      });
      return node;
    }

    function say(text) {
      status.textContent = text;
    }

    function setPressed() {
      for (const kind of ["box", "circle"]) buttons[kind].setAttribute("aria-pressed", String(mode === kind));
      container.classList.toggle("is-drawing", !!mode);
    }

    function start(kind) {
      mode = kind;
      map.dragging.disable();
      setPressed();
      say(kind === "box" ? "Drag on the map to draw a rectangle. Escape cancels." : "Press at the centre and drag out the radius. Escape cancels.");
    }

    function cancel() {
      if (drawing) map.removeLayer(drawing.layer);
      drawing = null;
      mode = null;
      map.dragging.enable();
      setPressed();
    }

    function show(area) {
      if (shown) map.removeLayer(shown);
      shown = layerFor(area);
      if (shown) shown.addTo(map);
    }

    map.on("mousedown", (event) => {
      claimed = !!mode;
      if (!mode) return;
      const layer =
        mode === "box"
          ? L.rectangle(L.latLngBounds(event.latlng, event.latlng), { ...STYLE, interactive: false })
          : L.circle(event.latlng, { ...STYLE, radius: 1, interactive: false });
      drawing = { kind: mode, start: event.latlng, layer: layer.addTo(map) };
    });
    map.on("mousemove", (event) => {
      if (!drawing) return;
      if (drawing.kind === "box") drawing.layer.setBounds(L.latLngBounds(drawing.start, event.latlng));
      else drawing.layer.setRadius(map.distance(drawing.start, event.latlng));
    });
    map.on("mouseup", (event) => {
      if (!drawing) return;
      const { kind, start: from, layer } = drawing;
      map.removeLayer(layer);
      drawing = null;
      cancel();
      const tooSmall = map.latLngToContainerPoint(from).distanceTo(map.latLngToContainerPoint(event.latlng)) < 4;
      if (tooSmall) {
        say("Too small: drag further to draw.");
        return;
      }
      const area = kind === "box" ? boxFrom(L.latLngBounds(from, event.latlng)) : circleFrom(from, map.distance(from, event.latlng));
      show(area);
      onChange(area);
      say((kind === "box" ? "Rectangle" : "Circle") + " drawn.");
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && mode) {
        cancel();
        say("Drawing cancelled.");
      }
    });

    new Control().addTo(map);
    return { show, areaFromView: (kind) => areaFromView(map, kind), claimedClick: () => claimed };
  }

  window.PeaceWatchDraw = Object.freeze({ attach, areaFromView });
})();
