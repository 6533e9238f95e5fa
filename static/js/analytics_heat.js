// The analysts' map (Leaflet): the heat map of reports per cell, with its legend and a table of
// the busiest cells, a click on a cell (or its row) narrowing the area; and the pin a results
// row puts on the map. The classes and colours come from analytics_chart_data.js.
import { heatClasses, heatColour } from "./analytics_chart_data.js";

const HEAT_COLOURS = ["#fde0c5", "#facba6", "#f59e72", "#e8603c", "#c23a22", "#8f1111"];
const CELLS_LISTED = 10;

/**
 * A map in `node` over the city; `onCell(cell)` narrows the query's area to a cell, unless the
 * area tool claims the click (`claims()`: the click was drawing, not a pick).
 */
export function createHeatMap({ A, node, cityBounds, onCell, claims }) {
  const { el, formatCount, plural } = A;
  const gridTable = document.querySelector("#grid-table tbody");
  const map = A.makeMap(node, cityBounds);
  const heatRenderer = L.canvas({ padding: 0.2 });
  const heatLayer = L.layerGroup().addTo(map);
  const pinLayer = L.layerGroup().addTo(map);
  const legend = L.control({ position: "bottomright" });
  legend.onAdd = () => el("div", { class: "heat-legend", "aria-hidden": "true" });
  legend.addTo(map);

  /**
   * The cells of a grid aggregation (none: null); with `fit`, the view moves to the query's
   * area, or else to the cells.
   */
  function render(grid, fit, area) {
    heatLayer.clearLayers();
    const cells = (grid && grid.cells) || [];
    const legendNode = legend.getContainer();
    legendNode.replaceChildren();
    gridTable.replaceChildren();
    node.dataset.cells = String(cells.length);
    if (!cells.length) {
      legendNode.hidden = true;
      return;
    }
    const classes = heatClasses(cells.reduce((m, cell) => Math.max(m, cell.count), 0), HEAT_COLOURS);
    let union = null;
    for (const cell of cells) {
      const b = cell.bounds;
      const bounds = L.latLngBounds([b.south, b.west], [b.north, b.east]);
      union = union ? union.extend(bounds) : L.latLngBounds(bounds.getSouthWest(), bounds.getNorthEast());
      L.rectangle(bounds, {
        renderer: heatRenderer,
        stroke: true,
        color: "#ffffff",
        weight: 0.5,
        fillColor: heatColour(classes, cell.count),
        fillOpacity: 0.72,
      })
        .bindTooltip(plural(cell.count, "report", "reports"), { sticky: true })
        .on("click", () => {
          if (!claims()) onCell(cell);
        })
        .addTo(heatLayer);
    }
    legendNode.hidden = false;
    legendNode.append(el("p", { class: "legend-title", text: "Reports per cell" }));
    for (const c of classes) {
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = c.colour; // CSSOM, allowed under the CSP
      const label = c.lower === c.upper ? formatCount(c.upper) : formatCount(c.lower) + "–" + formatCount(c.upper);
      legendNode.append(el("p", { class: "legend-row" }, swatch, label));
    }
    for (const cell of cells.slice(0, CELLS_LISTED)) {
      const b = cell.bounds;
      const centre = { lat: (b.south + b.north) / 2, lon: (b.west + b.east) / 2 };
      const narrow = el("button", {
        type: "button",
        class: "link-button",
        "aria-label": A.formatLatLon(centre) + ": narrow the area to this cell",
        text: A.formatLatLon(centre),
      });
      narrow.addEventListener("click", () => onCell(cell));
      gridTable.append(el("tr", {}, el("td", {}, narrow), el("td", { text: formatCount(cell.count) })));
    }
    if (fit) {
      if (area) map.fitBounds(areaBounds(area), { padding: [12, 12], maxZoom: 16 });
      else if (union) map.fitBounds(union, { padding: [12, 12], maxZoom: 15 });
    }
  }

  function areaBounds(area) {
    if (area.box) return L.latLngBounds([area.box.south, area.box.west], [area.box.north, area.box.east]);
    return L.latLng(area.circle.lat, area.circle.lon).toBounds(area.circle.radius_m * 2);
  }

  /** A pin at one report, the map scrolled into view; false when the place is unknown. */
  function pin(lat, lon) {
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) return false;
    pinLayer.clearLayers();
    L.circleMarker([lat, lon], { radius: 8, color: "#142033", weight: 3, fillColor: "#ffbf47", fillOpacity: 1 }).addTo(pinLayer);
    map.setView([lat, lon], Math.max(map.getZoom(), 15));
    node.scrollIntoView({ block: "nearest" });
    return true;
  }

  return { map, render, pin };
}
