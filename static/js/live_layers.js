// The officers' map: the base map under the data, alert markers in clusters, drones on one canvas, and
// the legend. Leaflet and Leaflet.markercluster are classic scripts loaded before the modules (global L).
// Markers are updated in place, added and removed in batches, never cleared: zoom, pan and an open popup
// survive live updates.

import { isOpen } from "./alert_list.js";
import { alertLabel, formatBattery, formatLocalTime, relativeTime } from "./live_format.js";
import { keepFocusWhileRendering, renderPopup } from "./live_widgets.js";

const { el } = window.PeaceWatchDom;

function hasLocation(alert) {
  const loc = alert.location;
  return !!loc && Number.isFinite(loc.lat) && Number.isFinite(loc.lon);
}

/**
 * Draw the map in `element`. `alerts` (id -> alert) and `drones` (a live_drones.js DroneBook) are the
 * page's state; `isFlashing(id)` and `isBusy(id)` how a marker and its popup look; `me` the officer's
 * username; `onPopupClick` handles clicks inside popups (their action buttons).
 */
export function createLayers({ element, cityBounds, alerts, drones, isFlashing, isBusy, me, onPopupClick }) {
  // Streets from a force's tile server or the offline base map (base_map.js). Vector
  // layers have no zoom range of their own: markercluster refuses a map without maxZoom.
  const map = L.map(element, { minZoom: 10, maxZoom: 19, zoomSnap: 0.5, keyboard: true });
  map.attributionControl.setPrefix("Leaflet");
  map.fitBounds(L.latLngBounds(cityBounds), { padding: [16, 16] });
  L.control.scale({ imperial: false }).addTo(map);
  window.PeaceWatchBaseMap.addTo(map, { cityBounds });

  // Drones sit below alert markers in their own pane, drawn on one canvas:
  // a few thousand SVG circles moving every second would be too slow.
  map.createPane("drones").style.zIndex = 450;
  const droneRenderer = L.canvas({ pane: "drones", padding: 0.3 });
  const droneLayer = L.layerGroup().addTo(map);
  const droneMarkers = new Map(); // drone_id -> L.CircleMarker

  const clusterGroup = L.markerClusterGroup({
    iconCreateFunction: clusterIcon,
    showCoverageOnHover: false,
    maxClusterRadius: 50,
    spiderfyOnMaxZoom: true,
  });
  map.addLayer(clusterGroup);
  const alertMarkers = new Map(); // id -> L.Marker (only alerts matching the filters)

  // Cluster icons are markers that markercluster makes focusable; like alert markers they stay out of
  // the Tab order (the map itself is one stop: arrows pan, +/- zoom; the list reaches every alert).
  new MutationObserver((changes) => {
    for (const change of changes) {
      for (const node of change.addedNodes) if (node.tabIndex === 0) node.tabIndex = -1;
    }
  }).observe(map.getPane("markerPane"), { childList: true });

  addLegend(map);

  /** Cluster colour = worst open alert inside, so a critical never hides in a cluster. */
  function clusterIcon(cluster) {
    let level = "closed";
    for (const marker of cluster.getAllChildMarkers()) {
      const alert = alerts.get(marker.alertId);
      if (!alert || !isOpen(alert)) continue;
      if (alert.severity === "critical") {
        level = "critical";
        break;
      }
      level = "high";
    }
    const count = cluster.getChildCount();
    const size = count < 10 ? 34 : count < 100 ? 40 : 46;
    const html = el(
      "span",
      { class: "cluster-count" },
      String(count),
      el("span", { class: "visually-hidden", text: " alerts here; press Enter to zoom in" })
    );
    return L.divIcon({
      html,
      className: "marker-cluster alert-cluster cluster-" + level,
      iconSize: L.point(size, size),
    });
  }

  // ------------------------------------------------------------- alert markers

  function iconClass(alert) {
    const classes = ["alert-marker", "kind-" + alert.kind, "severity-" + alert.severity, "status-" + alert.status];
    if (isFlashing(alert.id)) classes.push("is-flashing");
    return classes.join(" ");
  }

  function alertIcon(alert) {
    const pin = el("span", { class: "alert-pin", dataset: { alertId: String(alert.id) } });
    return L.divIcon({
      html: pin,
      className: iconClass(alert),
      iconSize: [24, 24],
      iconAnchor: [12, 12],
      popupAnchor: [0, -12],
    });
  }

  function drawPopup(node, alert) {
    renderPopup(node, alert, { busy: isBusy(alert.id), me });
  }

  function createMarker(alert) {
    const marker = L.marker([alert.location.lat, alert.location.lon], {
      icon: alertIcon(alert),
      title: alertLabel(alert),
      // Out of the Tab order: a keyboard reaches every alert through the list (Enter shows it on the map),
      // not through dozens of markers before it.
      keyboard: false,
      riseOnHover: true,
    });
    marker.alertId = alert.id;
    marker.iconKey = iconClass(alert) + "|" + alertLabel(alert);
    // The popup content is one element kept for the marker's life and updated
    // in place, so a live update never closes or re-opens an open popup.
    marker.popupNode = el("div", { class: "alert-popup", tabindex: "-1" });
    marker.popupNode.addEventListener("click", onPopupClick);
    drawPopup(marker.popupNode, alert);
    marker.bindPopup(marker.popupNode, { minWidth: 280, maxWidth: 340, autoPanPadding: [24, 24] });
    return marker;
  }

  /** Update a marker in place; returns true when its cluster's colour may change. */
  function updateMarker(marker, alert) {
    const position = L.latLng(alert.location.lat, alert.location.lon);
    if (!marker.getLatLng().equals(position)) withoutAutoPan(marker, () => marker.setLatLng(position));
    const key = iconClass(alert) + "|" + alertLabel(alert);
    let iconChanged = false;
    if (key !== marker.iconKey) {
      // Only when something shows: setIcon re-renders the pin and would restart its animation.
      marker.iconKey = key;
      marker.options.title = alertLabel(alert);
      marker.setIcon(alertIcon(alert));
      iconChanged = true;
    }
    // Popup.update() re-attaches the content node, which drops focus: restore it after both.
    keepFocusWhileRendering(marker.popupNode, () => {
      drawPopup(marker.popupNode, alert);
      if (marker.isPopupOpen()) withoutAutoPan(marker, () => marker.getPopup().update());
    });
    return iconChanged;
  }

  /**
   * Run `change` with the popup's auto-pan off: Leaflet re-pans the map to fit an
   * open popup whenever it is updated or its marker moves, and a live update
   * must not move the map under the officer.
   */
  function withoutAutoPan(marker, change) {
    const popup = marker.getPopup();
    const autoPan = popup ? popup.options.autoPan : false;
    if (popup) popup.options.autoPan = false;
    try {
      change();
    } finally {
      if (popup) popup.options.autoPan = autoPan;
    }
  }

  /** Bring the markers of these alerts in line with the state; `shows(alert)` says whether the filters keep it. */
  function updateAlerts(ids, shows) {
    const toAdd = [];
    const toRemove = [];
    const toRefresh = [];
    for (const id of ids) {
      const alert = alerts.get(id);
      const marker = alertMarkers.get(id);
      if (alert && shows(alert)) {
        if (!hasLocation(alert)) continue;
        if (!marker) {
          const created = createMarker(alert);
          alertMarkers.set(id, created);
          toAdd.push(created);
        } else if (updateMarker(marker, alert)) {
          toRefresh.push(marker);
        }
      } else if (marker) {
        alertMarkers.delete(id);
        toRemove.push(marker);
      }
    }
    if (toRemove.length) clusterGroup.removeLayers(toRemove);
    if (toAdd.length) clusterGroup.addLayers(toAdd);
    if (toRefresh.length) clusterGroup.refreshClusters(toRefresh);
  }

  function hasMarker(id) {
    const marker = alertMarkers.get(id);
    return !!marker && clusterGroup.hasLayer(marker);
  }

  /** Zoom to the alert's marker and open its popup; false when it has none on the map. */
  function showOnMap(id) {
    if (!hasMarker(id)) return false;
    const marker = alertMarkers.get(id);
    clusterGroup.zoomToShowLayer(marker, () => marker.openPopup());
    return true;
  }

  // -------------------------------------------------------------------- drones

  function droneStyle(droneId) {
    return { renderer: droneRenderer, ...drones.style(droneId) };
  }

  function restyleDrones() {
    for (const droneId of drones.takeRestyle()) {
      const marker = droneMarkers.get(droneId);
      if (!marker) continue;
      marker.setStyle(droneStyle(droneId));
      if (drones.hasOpenAlert(droneId)) marker.bringToFront();
    }
  }

  function droneTooltip(droneId) {
    const drone = drones.positions.get(droneId) || { drone_id: droneId };
    return el(
      "div",
      { class: "drone-tooltip" },
      el("strong", { text: drone.drone_id }),
      el("div", { text: "Battery: " + formatBattery(drone.battery_pct) }),
      el("div", {
        text: "Last seen: " + (drone.seen_at ? relativeTime(drone.seen_at) + " (" + formatLocalTime(drone.seen_at) + ")" : "unknown"),
      }),
      drones.isOffline(droneId) ? el("div", { class: "drone-flag", text: "Offline" }) : null,
      drones.isLowBattery(droneId) ? el("div", { class: "drone-flag", text: "Low battery" }) : null,
      drones.hasOpenAlert(droneId) ? el("div", { class: "drone-flag", text: "Has an open alert" }) : null
    );
  }

  function applyDronePositions(positions) {
    if (!Array.isArray(positions)) return;
    for (const position of positions) {
      if (!drones.place(position)) continue;
      const latLng = [position.lat, position.lon];
      let marker = droneMarkers.get(position.drone_id);
      if (!marker) {
        marker = L.circleMarker(latLng, droneStyle(position.drone_id));
        const droneId = position.drone_id;
        // A function: the content is built when the tooltip opens, not for every drone every second.
        marker.bindTooltip(() => droneTooltip(droneId), { direction: "top", offset: [0, -6] });
        droneMarkers.set(droneId, marker);
        droneLayer.addLayer(marker);
      } else {
        marker.setLatLng(latLng);
        if (marker.isTooltipOpen()) {
          marker.getTooltip().setLatLng(latLng);
          marker.getTooltip().update();
        }
      }
    }
    restyleDrones();
  }

  return { updateAlerts, hasMarker, showOnMap, applyDronePositions, restyleDrones };
}

/** What each symbol means: the same classes as the markers, so the legend cannot drift from them. */
function addLegend(map) {
  const pin = (classes) => el("span", { class: "legend-swatch alert-marker " + classes }, el("span", { class: "alert-pin" }));
  const dot = (classes) => el("span", { class: "legend-swatch legend-drone " + classes });
  const row = (swatch, text) => el("li", {}, swatch, el("span", { text }));
  const Legend = L.Control.extend({
    options: { position: "bottomright" },
    onAdd() {
      const box = el(
        "details",
        { class: "map-legend" },
        el("summary", { text: "Legend" }),
        el(
          "ul",
          {},
          row(pin("kind-citizen severity-critical status-new"), "Critical alert (citizen far below the threshold)"),
          row(pin("kind-citizen severity-high status-new"), "Alert (citizen below the threshold)"),
          row(pin("kind-drone_offline severity-high status-new"), "Drone offline (no report for minutes)"),
          row(pin("kind-pipeline severity-high status-new"), "Fleet silent: check the report pipeline"),
          row(pin("kind-citizen severity-high status-resolved"), "Closed alert (resolved or dismissed)"),
          row(el("span", { class: "legend-swatch legend-cluster", text: "3" }), "Several alerts: colour of the worst"),
          row(dot(""), "Drone"),
          row(dot("is-low"), "Drone, low battery"),
          row(dot("is-offline"), "Drone offline"),
          row(dot("is-flagged"), "Drone with an open alert")
        )
      );
      L.DomEvent.disableClickPropagation(box);
      L.DomEvent.disableScrollPropagation(box);
      return box;
    },
  });
  new Legend().addTo(map);
}
