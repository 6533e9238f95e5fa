/*
 * PeaceWatch — officers' live alert map.
 *
 * Plain script, no build step: Leaflet and Leaflet.markercluster are vendored
 * and loaded before this file. Everything lives in one IIFE; the only global it
 * defines is `window.peacewatchLive`, a read-only view for automated browser tests.
 *
 * Data flow (why it looks like this: an officer must never miss an alert):
 *   1. open the WebSocket and hold back alert events while we catch up;
 *   2. catch up over REST: the open alerts on first load, or every alert
 *      changed after the last change we hold (`after_seq`) after a reconnect;
 *   3. apply the held-back events, then apply events as they arrive.
 * Every copy of an alert, from REST or WebSocket, goes through `applyAlerts`,
 * which keeps an alert only if its `version` is not older than the one held,
 * so duplicates from the overlap between REST and WebSocket are harmless.
 *
 * Every alert change has the next number of one server-wide sequence (`seq`),
 * and every change reaches this page as an event, whatever the filters. So the
 * page knows `seq.through`, the change up to which it holds everything: a
 * number that stays missing above it for GAP_WAIT_MS (events of two
 * publishers can cross, so not at once) means an event was lost on the way,
 * and the page catches up `after_seq=through` without waiting for a reconnect.
 *
 * Flow control: the page acknowledges the frames it has read (`ack`); the
 * server sends no more than a window ahead of that, and cuts (4409) a page
 * that stops reading, which then reconnects and catches up.
 *
 * The page must run under a strict Content-Security-Policy: no inline script,
 * no HTML built from server data (DOM nodes and textContent only).
 *
 * Loaded as an ES module. The rules are pure modules with unit tests
 * (tests/js/, `node --test`): alert_sync.js (which copy of an alert to keep,
 * the change sequence and its gaps), alert_list.js (what the list shows, in
 * what order, what a bulk action touches) and live_link.js (the badge and the
 * "alerts may be missing since" banner). This file wires them to Leaflet, the
 * DOM, the socket and the timers.
 */
import { compareAlerts, countByStatus, matches, movable } from "./alert_list.js";
import { ChangeSequence, isAlertShape, storeAlert as keepNewest } from "./alert_sync.js";
import { badgeText, bannerText, initialLink, isSilent, nextLink, silenceLimitMs } from "./live_link.js";

(function () {
  "use strict";

  // ------------------------------------------------------------------ constants

  const OPEN_STATUSES = new Set(["new", "acknowledged"]);
  // Mirrors the server's workflow; the server stays the judge (a 400 says why).
  const TRANSITIONS = {
    new: ["acknowledged", "dismissed"],
    acknowledged: ["resolved", "dismissed"],
    resolved: [],
    dismissed: [],
  };
  const ACTIONS = [
    { status: "acknowledged", label: "Acknowledge" },
    { status: "resolved", label: "Resolve" },
    { status: "dismissed", label: "Dismiss" },
  ];

  const INITIAL_PAGE_SIZE = 500;
  const CATCH_UP_PAGE_SIZE = 500;
  const HISTORY_PAGE_SIZE = 100;
  // A change missing from the live stream for this long was lost: catch up.
  // Events of the consumer and of officers' changes are published by different
  // processes and can cross by a second or two.
  const GAP_WAIT_MS = 3000;
  const MAX_AHEAD = 5000; // changes held above a gap before catching up at once
  // Acknowledge read frames in batches: every ACK_EVERY frames, or ACK_DELAY_MS after the first unacknowledged.
  const ACK_EVERY = 50;
  const ACK_DELAY_MS = 200;
  // The server may cut a connection that lags (4409); the client also holds
  // events during catch-up. Past this many held events, resync from scratch.
  const MAX_HELD_EVENTS = 20000;

  const PING_EVERY_MS = 20 * 1000;
  // How often the page checks that the server still talks (it sends a heartbeat
  // every few seconds; silence means a dead link the browser may not know of).
  const WATCHDOG_EVERY_MS = 1000;
  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 10 * 1000;
  const CLOSE_FORBIDDEN = 4403;
  const CLOSE_RESYNC = 4409;

  const FLASH_MS = 6000;
  const BEEP_MIN_GAP_S = 1.5; // a burst of alerts gets one cue, not a wall of noise
  const RELATIVE_TIME_REFRESH_MS = 30 * 1000;
  const MUTE_KEY = "peacewatch.liveMap.muted";
  const LOGIN_URL = "/accounts/login/";
  // The page's config always carries CITY_BOUNDS; without it, the whole world rather than a wrong city.
  const DEFAULT_CITY_BOUNDS = [[-60, -170], [75, 170]];

  // ---------------------------------------------------------------- config & DOM

  const config = readConfig();
  const dom = {
    map: document.getElementById("live-map"),
    status: document.getElementById("connection-status"),
    mute: document.getElementById("mute-toggle"),
    filterStatus: document.getElementById("filter-status"),
    filterSeverity: document.getElementById("filter-severity"),
    filterKind: document.getElementById("filter-kind"),
    filterText: document.getElementById("filter-text"),
    sort: document.getElementById("list-sort"),
    pinCritical: document.getElementById("pin-critical"),
    statusCounts: document.getElementById("status-counts"),
    selectShown: document.getElementById("select-shown"),
    bulkButtons: Array.from(document.querySelectorAll("button[data-bulk]")),
    bulkConfirm: document.getElementById("bulk-confirm"),
    bulkQuestion: document.getElementById("bulk-question"),
    bulkYes: document.getElementById("bulk-yes"),
    bulkNo: document.getElementById("bulk-no"),
    bulkProgress: document.getElementById("bulk-progress"),
    count: document.getElementById("alert-count"),
    message: document.getElementById("panel-message"),
    messageDismiss: document.getElementById("panel-message-dismiss"),
    list: document.getElementById("alert-list"),
    empty: document.getElementById("alert-empty"),
    announcer: document.getElementById("live-announcer"),
    banner: document.getElementById("link-banner"),
    soundPrompt: document.getElementById("sound-prompt"),
  };

  function readConfig() {
    const node = document.getElementById("live-config");
    let parsed = {};
    try {
      parsed = JSON.parse(node ? node.textContent : "{}") || {};
    } catch (error) {
      parsed = {};
    }
    return {
      wsPath: parsed.ws_path || "/ws/alerts/",
      alertsApi: parsed.alerts_api || "/api/v1/alerts/",
      username: parsed.username || "",
      cityBounds: parsed.city_bounds || DEFAULT_CITY_BOUNDS,
    };
  }

  // ----------------------------------------------------------------------- state

  const state = {
    alerts: new Map(), // id -> alert, the newest version seen
    drones: new Map(), // drone_id -> {drone_id, lat, lon, battery_pct, seen_at}
    connection: "connecting", // "connecting" | "live" | "reconnecting" | "offline" | "signed-out"
    link: initialLink(), // live_link.js: the badge and the "may be missing" banner
    // The change sequence: `through` is the seq up to which every change is
    // applied (null before the first load), `ahead` the seqs seen above a gap.
    seq: new ChangeSequence({ maxAhead: MAX_AHEAD }),
    filter: { status: "open", severity: "all", kind: "all", text: "" },
    order: { sort: "newest", pinCritical: true }, // alert_list.js compareAlerts
    selected: new Set(), // ids ticked for a bulk action
    officers: null, // colleagues an alert can be assigned to, loaded when a card first needs them
    muted: readMuted(),
    unseen: 0, // new alerts announced since the officer last looked
    pending: new Set(), // ids with a PATCH in flight
    flashing: new Map(), // id -> timeout handle
    historyLoaded: new Set(), // closed-status filters already fetched once
  };
  const openAlertsByDrone = new Map(); // drone_id -> number of open alerts
  const offlineDrones = new Set(); // drone_ids with an open drone_offline alert
  const LOW_BATTERY_PCT = 20;
  const dronesToRestyle = new Set();
  const baseTitle = document.title;

  // ------------------------------------------------------------------ utilities

  const { el } = window.PeaceWatchDom; // static/js/dom.js, loaded first

  function formatLocalTime(iso) {
    const date = new Date(iso);
    if (!iso || Number.isNaN(date.getTime())) return "unknown";
    return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
  }

  function relativeTime(iso) {
    const ms = Date.parse(iso);
    if (!iso || Number.isNaN(ms)) return "unknown";
    const seconds = Math.round((Date.now() - ms) / 1000);
    if (seconds < 45) return "just now"; // also covers a client clock slightly behind
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return minutes + " min ago";
    const hours = Math.floor(minutes / 60);
    if (hours < 24) return hours + " h " + (minutes % 60) + " min ago";
    return Math.floor(hours / 24) + " d ago";
  }

  function formatScore(score) {
    return typeof score === "number" && Number.isFinite(score) ? score.toFixed(1) : "—";
  }

  function formatBattery(pct) {
    return typeof pct === "number" && Number.isFinite(pct) ? Math.round(pct) + " %" : "unknown";
  }

  function isOpen(alert) {
    return OPEN_STATUSES.has(alert.status);
  }

  function canMove(from, to) {
    return (TRANSITIONS[from] || []).includes(to);
  }

  function alertTitle(alert) {
    if (alert.kind === "drone_offline") return "Drone offline: " + alert.drone_id;
    // Many drones silent at once: the report pipeline, not the drones, is the likely cause.
    if (alert.kind === "pipeline") return "Fleet silent: check the report pipeline";
    return alert.citizen || "Unknown citizen";
  }

  function hasLocation(alert) {
    const loc = alert.location;
    return !!loc && Number.isFinite(loc.lat) && Number.isFinite(loc.lon);
  }

  function readMuted() {
    try {
      return window.localStorage.getItem(MUTE_KEY) === "1";
    } catch (error) {
      return false; // storage disabled: default to sound on, the safe side for alerts
    }
  }

  function saveMuted(muted) {
    try {
      window.localStorage.setItem(MUTE_KEY, muted ? "1" : "0");
    } catch (error) {
      /* not persisted; the toggle still works for this page */
    }
  }

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]*)/);
    if (match) return decodeURIComponent(match[1]);
    // Fallback if the cookie is not readable (CSRF_COOKIE_HTTPONLY, or a Secure
    // cookie over plain http): base.html's sign-out form carries a token too.
    const field = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return field ? field.value : "";
  }

  // ------------------------------------------------------------------------ map

  const cityBounds = L.latLngBounds(config.cityBounds);
  // Streets from a force's tile server or the offline base map (base_map.js). Vector
  // layers have no zoom range of their own: markercluster refuses a map without maxZoom.
  const map = L.map(dom.map, { minZoom: 10, maxZoom: 19, zoomSnap: 0.5, keyboard: true });
  map.attributionControl.setPrefix("Leaflet");
  map.fitBounds(cityBounds, { padding: [16, 16] });
  L.control.scale({ imperial: false }).addTo(map);
  window.PeaceWatchBaseMap.addTo(map, { cityBounds: config.cityBounds });

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

  addLegend();

  /** What each symbol means: the same classes as the markers, so the legend cannot drift from them. */
  function addLegend() {
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

  /** Cluster colour = worst open alert inside, so a critical never hides in a cluster. */
  function clusterIcon(cluster) {
    let level = "closed";
    for (const marker of cluster.getAllChildMarkers()) {
      const alert = state.alerts.get(marker.alertId);
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

  // --------------------------------------------------------------- alert markers

  function iconClass(alert) {
    const classes = ["alert-marker", "kind-" + alert.kind, "severity-" + alert.severity, "status-" + alert.status];
    if (state.flashing.has(alert.id)) classes.push("is-flashing");
    return classes.join(" ");
  }

  function markerTitle(alert) {
    return alert.severity + " alert, " + alert.status + ": " + alertTitle(alert);
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

  function createMarker(alert) {
    const marker = L.marker([alert.location.lat, alert.location.lon], {
      icon: alertIcon(alert),
      title: markerTitle(alert),
      // Out of the Tab order: a keyboard reaches every alert through the list (Enter shows it on the map),
      // not through dozens of markers before it.
      keyboard: false,
      riseOnHover: true,
    });
    marker.alertId = alert.id;
    marker.iconKey = iconClass(alert) + "|" + markerTitle(alert);
    // The popup content is one element kept for the marker's life and updated
    // in place, so a live update never closes or re-opens an open popup.
    marker.popupNode = el("div", { class: "alert-popup", tabindex: "-1" });
    marker.popupNode.addEventListener("click", onActionClick);
    renderPopup(marker.popupNode, alert);
    marker.bindPopup(marker.popupNode, { minWidth: 280, maxWidth: 340, autoPanPadding: [24, 24] });
    return marker;
  }

  /** Update a marker in place; returns true when its cluster's colour may change. */
  function updateMarker(marker, alert) {
    const position = L.latLng(alert.location.lat, alert.location.lon);
    if (!marker.getLatLng().equals(position)) withoutAutoPan(marker, () => marker.setLatLng(position));
    const key = iconClass(alert) + "|" + markerTitle(alert);
    let iconChanged = false;
    if (key !== marker.iconKey) {
      // Only when something shows: setIcon re-renders the pin and would restart its animation.
      marker.iconKey = key;
      marker.options.title = markerTitle(alert);
      marker.setIcon(alertIcon(alert));
      iconChanged = true;
    }
    // Popup.update() re-attaches the content node, which drops focus: restore it after both.
    keepFocusWhileRendering(marker.popupNode, () => {
      renderPopup(marker.popupNode, alert);
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

  function renderPopup(node, alert) {
    node.dataset.alertId = String(alert.id);
    node.replaceChildren(
      el(
        "div",
        { class: "popup-head" },
        el("h2", { class: "popup-title", text: alertTitle(alert) }),
        severityBadge(alert)
      ),
      el(
        "dl",
        { class: "facts" },
        alert.kind === "citizen" ? fact("PeaceScore", formatScore(alert.peacescore)) : null,
        fact("Drone", alert.drone_id),
        fact(
          alert.kind === "drone_offline" ? "Last heard" : "Observed",
          el("time", { datetime: alert.observed_at, text: formatLocalTime(alert.observed_at) })
        ),
        alert.kind === "citizen" ? fact("Sightings", String(alert.sightings ?? "—")) : null,
        fact("Status", statusBadge(alert)),
        alert.acknowledged_by ? fact("Acknowledged by", alert.acknowledged_by) : null,
        fact("Assigned to", assignedLabel(alert)),
        alert.note ? fact("Note", alert.note) : null
      ),
      actionButtons(alert),
      el("button", {
        type: "button",
        class: "details-toggle",
        dataset: { details: String(alert.id) },
        text: "Note, assignment, history",
      })
    );
  }

  // ------------------------------------------------------------- shared widgets

  function fact(label, value) {
    return el("div", { class: "fact" }, el("dt", { text: label }), el("dd", {}, value));
  }

  function severityBadge(alert) {
    return el("span", { class: "badge severity-badge severity-" + alert.severity, text: alert.severity });
  }

  function statusBadge(alert) {
    return el("span", { class: "badge status-badge status-" + alert.status, text: alert.status });
  }

  function assignedLabel(alert) {
    if (!alert.assigned_to) return "nobody";
    return alert.assigned_to === config.username ? alert.assigned_to + " (you)" : alert.assigned_to;
  }

  /** Acknowledge / Resolve / Dismiss; always all three so the layout does not jump. */
  function actionButtons(alert) {
    const busy = state.pending.has(alert.id);
    const group = el("div", {
      class: "alert-actions",
      role: "group",
      "aria-label": "Actions for " + alertTitle(alert),
      "aria-busy": busy ? "true" : null,
    });
    for (const action of ACTIONS) {
      const legal = canMove(alert.status, action.status);
      group.append(
        el("button", {
          type: "button",
          class: "action action-" + action.status,
          dataset: { action: action.status, alertId: String(alert.id) },
          disabled: !legal || busy,
          text: action.label,
        })
      );
    }
    return group;
  }

  /** Re-render `container`, then put focus back on the same button (or the container). */
  function keepFocusWhileRendering(container, render) {
    const active = document.activeElement;
    const hadFocus = active && active !== container && container.contains(active);
    const action = hadFocus && active.dataset ? active.dataset.action : null;
    render();
    if (!hadFocus) return;
    const again = action ? container.querySelector('button[data-action="' + action + '"]') : null;
    const target = again && !again.disabled ? again : container;
    target.focus({ preventScroll: true });
  }

  // ----------------------------------------------------------------- side list

  const listItems = new Map(); // id -> <li>
  const details = new Map(); // id -> the card's details element, kept across renders (a note being typed survives)

  function matchesFilter(alert) {
    return matches(alert, state.filter);
  }

  function renderListItem(alert) {
    let item = listItems.get(alert.id);
    const isNew = !item;
    if (isNew) {
      item = el("li", { tabindex: "0", dataset: { alertId: String(alert.id) } });
      listItems.set(alert.id, item);
    }
    item.className = [
      "alert-item",
      "kind-" + alert.kind,
      "severity-" + alert.severity,
      "status-" + alert.status,
      state.flashing.has(alert.id) ? "is-flashing" : "",
    ].join(" ").trim();
    item.dataset.status = alert.status;
    item.setAttribute("aria-label", alert.severity + " alert, " + alert.status + ": " + alertTitle(alert));
    // replaceChildren writes a null as the text "null": only the parts there are.
    keepFocusWhileRendering(item, () => item.replaceChildren(...listItemContent(alert).filter(Boolean)));
    placeItem(item, alert, isNew);
  }

  /** One compact card: what, how bad, where, when, who has it; its details (note, assignment, history) on demand. */
  function listItemContent(alert) {
    const box = details.get(alert.id);
    if (box && !box.hidden) renderDetails(box, alert);
    return [
      el(
        "div",
        { class: "item-head" },
        el("input", {
          type: "checkbox",
          class: "select-alert",
          dataset: { alertId: String(alert.id) },
          checked: state.selected.has(alert.id),
          "aria-label": "Tick " + alertTitle(alert) + " for a bulk action",
        }),
        el("span", { class: "item-title", text: alertTitle(alert) }),
        severityBadge(alert),
        statusBadge(alert)
      ),
      el(
        "p",
        { class: "item-facts" },
        alert.kind === "citizen" ? "PeaceScore " + formatScore(alert.peacescore) + " · " : null,
        alert.kind === "drone_offline" ? "Last heard " : null,
        el("time", {
          class: "rel-time",
          datetime: alert.observed_at,
          title: formatLocalTime(alert.observed_at),
          text: relativeTime(alert.observed_at),
        }),
        " · " + alert.drone_id,
        alert.sightings > 1 ? " · " + alert.sightings + " sightings" : null,
        handlerLine(alert)
      ),
      el(
        "div",
        { class: "item-actions" },
        actionButtons(alert),
        el("button", {
          type: "button",
          class: "details-toggle",
          dataset: { details: String(alert.id) },
          "aria-expanded": box && !box.hidden ? "true" : "false",
          "aria-controls": "details-" + alert.id,
          text: "Details",
        })
      ),
      box || null,
    ];
  }

  /** Who has the alert: assigned, acknowledged or closed by whom. */
  function handlerLine(alert) {
    const parts = [];
    if (alert.assigned_to) parts.push("assigned to " + assignedLabel(alert));
    if (alert.closed_by) parts.push(alert.status + " by " + alert.closed_by);
    else if (alert.acknowledged_by) parts.push("acknowledged by " + alert.acknowledged_by);
    return parts.length ? el("span", { class: "item-handler", text: " · " + parts.join(", ") }) : null;
  }

  function listOrder(a, b) {
    return compareAlerts(a, b, state.order);
  }

  function alertOfItem(node) {
    return state.alerts.get(Number(node.dataset.alertId));
  }

  /** Put `item` where the order says: kept in place when its neighbours still agree, else found by binary search. */
  function placeItem(item, alert, isNew) {
    if (!isNew) {
      const before = item.previousElementSibling;
      const after = item.nextElementSibling;
      const fits =
        (!before || listOrder(alertOfItem(before), alert) <= 0) && (!after || listOrder(alert, alertOfItem(after)) <= 0);
      if (fits) return;
      const hadFocus = item.contains(document.activeElement);
      item.remove();
      insertSorted(item, alert);
      if (hadFocus) item.focus({ preventScroll: true });
      return;
    }
    insertSorted(item, alert);
  }

  function insertSorted(item, alert) {
    const children = dom.list.children;
    let low = 0;
    let high = children.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (listOrder(alertOfItem(children[mid]), alert) <= 0) low = mid + 1;
      else high = mid;
    }
    dom.list.insertBefore(item, children[low] || null);
  }

  /** The order changed: lay the whole list out again (once, in one pass). */
  function resortList() {
    const items = Array.from(dom.list.children);
    items.sort((a, b) => listOrder(alertOfItem(a), alertOfItem(b)));
    dom.list.append(...items);
  }

  function removeListItem(id) {
    const item = listItems.get(id);
    if (!item) return;
    const hadFocus = item.contains(document.activeElement);
    const neighbour = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    listItems.delete(id);
    if (state.selected.delete(id)) renderBulk();
    // Keyboard users must not be thrown back to the top of the page when the
    // alert they just resolved leaves the list.
    if (hadFocus) (neighbour || dom.list).focus({ preventScroll: false });
  }

  function updateCount() {
    const shown = listItems.size;
    dom.count.textContent = shown + (shown === 1 ? " alert shown" : " alerts shown");
    dom.empty.hidden = shown > 0;
    // Every open alert is held (the first load takes them all), so these two counts are the force's.
    const counts = countByStatus(state.alerts.values());
    const text = "Open: " + counts.new + " new, " + counts.acknowledged + " acknowledged";
    if (dom.statusCounts.textContent !== text) dom.statusCounts.textContent = text;
  }

  // ------------------------------------------------------------ card details

  /** The details of an alert's card: who handled it, its note, its assignment, its history. */
  function toggleDetails(id) {
    const alert = state.alerts.get(id);
    if (!alert) return;
    let box = details.get(id);
    if (!box) {
      box = buildDetails(id);
      details.set(id, box);
      box.hidden = true;
    }
    box.hidden = !box.hidden;
    if (!box.hidden) {
      ensureOfficers();
      loadHistory(id);
    }
    reconcile([id]);
    if (!box.hidden) box.querySelector("textarea").focus({ preventScroll: false });
  }

  function buildDetails(id) {
    const noteId = "note-" + id;
    const assignId = "assign-" + id;
    const box = el(
      "div",
      { class: "alert-details", id: "details-" + id, dataset: { alertId: String(id) } },
      el("p", { class: "details-handled" }),
      el("label", { for: noteId, text: "Note" }),
      el("textarea", { id: noteId, class: "note-input", rows: "3", maxlength: "4000" }),
      el("div", { class: "details-row" }, el("button", { type: "button", dataset: { save: "note" }, text: "Save note" })),
      el("label", { for: assignId, text: "Assigned to" }),
      el(
        "div",
        { class: "details-row" },
        el("select", { id: assignId, class: "assign-select" }),
        el("button", { type: "button", dataset: { save: "assign" }, text: "Assign" }),
        el("button", { type: "button", dataset: { save: "assign-me" }, text: "Assign to me" })
      ),
      el("p", { class: "details-history-title", id: "history-" + id, text: "History" }),
      el("ol", { class: "details-history", "aria-labelledby": "history-" + id, "aria-live": "polite" })
    );
    box.querySelector("textarea").addEventListener("input", (event) => {
      event.target.dataset.dirty = "1";
    });
    return box;
  }

  function renderDetails(box, alert) {
    const handled = [];
    if (alert.acknowledged_by) handled.push("Acknowledged by " + alert.acknowledged_by + ", " + formatLocalTime(alert.acknowledged_at));
    if (alert.closed_by) handled.push(capitalise(alert.status) + " by " + alert.closed_by + ", " + formatLocalTime(alert.closed_at));
    box.querySelector(".details-handled").textContent = handled.length ? handled.join(". ") + "." : "Nobody has acknowledged it yet.";
    const note = box.querySelector("textarea");
    // A note being written is never overwritten by a live update; a saved one shows as the server has it.
    if (!note.dataset.dirty && document.activeElement !== note) note.value = alert.note || "";
    const select = box.querySelector("select");
    const wanted = alert.assigned_to || "";
    const names = [""].concat((state.officers || []).map((o) => o.username));
    if (wanted && !names.includes(wanted)) names.push(wanted);
    if (select.dataset.names !== names.join("\n")) {
      select.replaceChildren(
        ...names.map((name) => el("option", { value: name, text: name ? officerLabel(name) : "nobody" }))
      );
      select.dataset.names = names.join("\n");
    }
    if (document.activeElement !== select) select.value = wanted;
    if (box.dataset.historyVersion && Number(box.dataset.historyVersion) !== alert.version) loadHistory(alert.id);
  }

  function capitalise(text) {
    return text ? text[0].toUpperCase() + text.slice(1) : text;
  }

  function officerLabel(username) {
    const officer = (state.officers || []).find((o) => o.username === username);
    const label = officer && officer.name ? officer.name + " (" + username + ")" : username;
    return username === config.username ? label + " (you)" : label;
  }

  async function ensureOfficers() {
    if (state.officers) return;
    state.officers = [];
    try {
      let url = "/api/v1/officers/?page_size=1000";
      const found = [];
      while (url) {
        const { body } = await getJson(url);
        found.push(...(body.results || []));
        url = sameOriginPath(body.next);
      }
      state.officers = found;
      reconcile(Array.from(details.keys()));
    } catch (error) {
      state.officers = null; // asked again next time a card opens
    }
  }

  async function loadHistory(id) {
    const box = details.get(id);
    const alert = state.alerts.get(id);
    if (!box || !alert) return;
    box.dataset.historyVersion = String(alert.version);
    const list = box.querySelector(".details-history");
    try {
      const rows = [];
      let url = config.alertsApi + encodeURIComponent(id) + "/history/?page_size=200";
      while (url) {
        const { body } = await getJson(url);
        rows.push(...(body.results || []));
        url = sameOriginPath(body.next);
      }
      list.replaceChildren(
        el("li", { text: "Raised " + formatLocalTime(alert.raised_at) }),
        ...rows.map((row) =>
          el(
            "li",
            {},
            el("time", { datetime: row.at, text: formatLocalTime(row.at) }),
            " " + describeAction(row)
          )
        )
      );
    } catch (error) {
      if (error instanceof SignedOutError) signOut();
      else list.replaceChildren(el("li", { text: "The history could not be loaded." }));
    }
  }

  function describeAction(row) {
    const who = row.by || "someone";
    if (row.action === "assigned") return who + (row.detail ? " assigned it to " + row.detail : " unassigned it");
    if (row.action === "noted") return who + " wrote: " + row.detail;
    return who + " " + row.action + " it";
  }

  async function onDetailsSave(button) {
    const box = button.closest(".alert-details");
    const id = Number(box.dataset.alertId);
    const what = button.dataset.save;
    let change;
    if (what === "note") change = { note: box.querySelector("textarea").value };
    else if (what === "assign-me") change = { assigned_to: config.username };
    else change = { assigned_to: box.querySelector("select").value || null };
    const saved = await patchAlert(id, change);
    if (saved && what === "note") delete box.querySelector("textarea").dataset.dirty;
  }

  function refreshRelativeTimes() {
    for (const node of dom.list.querySelectorAll("time.rel-time")) {
      node.textContent = relativeTime(node.getAttribute("datetime"));
    }
  }

  // ------------------------------------------------------------ reconciliation

  /**
   * Bring the markers and list items of these alerts in line with the state and
   * the filters. Markers are updated in place, added and removed one by one
   * (batched), never cleared: zoom, pan and an open popup survive live updates.
   */
  function reconcile(ids) {
    const toAdd = [];
    const toRemove = [];
    const toRefresh = [];
    for (const id of ids) {
      const alert = state.alerts.get(id);
      const marker = alertMarkers.get(id);
      if (alert && matchesFilter(alert)) {
        renderListItem(alert);
        if (!hasLocation(alert)) continue;
        if (!marker) {
          const created = createMarker(alert);
          alertMarkers.set(id, created);
          toAdd.push(created);
        } else if (updateMarker(marker, alert)) {
          toRefresh.push(marker);
        }
      } else {
        removeListItem(id);
        if (marker) {
          alertMarkers.delete(id);
          toRemove.push(marker);
        }
      }
    }
    if (toRemove.length) clusterGroup.removeLayers(toRemove);
    if (toAdd.length) clusterGroup.addLayers(toAdd);
    if (toRefresh.length) clusterGroup.refreshClusters(toRefresh);
    updateCount();
  }

  // ------------------------------------------------------------ applying alerts

  /** Keep `incoming` unless we hold a newer version (alert_sync.js). Returns "created", "updated" or null. */
  function storeAlert(incoming) {
    const held = isAlertShape(incoming) ? state.alerts.get(incoming.id) : undefined;
    const result = keepNewest(state.alerts, incoming);
    if (result) countOpenAlertsByDrone(held, incoming);
    return result;
  }

  /**
   * Apply copies of alerts (from any source: `seq.through` moves only with the
   * live stream and complete catch-ups, see noteSeq and markCaughtUp).
   * announce: alerts we had never seen that are still `new` get the cues.
   */
  function applyAlerts(alerts, { announce }) {
    const changed = [];
    const fresh = [];
    for (const alert of alerts) {
      const result = storeAlert(alert);
      if (!result) continue;
      changed.push(alert.id);
      if (result === "created" && announce && alert.status === "new") fresh.push(alert);
    }
    if (!changed.length) return;
    for (const alert of fresh) startFlash(alert.id);
    reconcile(changed);
    restyleDrones();
    if (fresh.length) announceNewAlerts(fresh);
  }

  // ----------------------------------------------------------------- new alert cues

  function startFlash(id) {
    clearTimeout(state.flashing.get(id));
    state.flashing.set(
      id,
      setTimeout(() => {
        state.flashing.delete(id);
        reconcile([id]);
      }, FLASH_MS)
    );
  }

  function announceNewAlerts(alerts) {
    state.unseen += alerts.length;
    updateTitle();
    beep();
    const first = alerts[0];
    dom.announcer.textContent =
      alerts.length === 1
        ? "New " + first.severity + " alert: " + alertTitle(first)
        : alerts.length + " new alerts";
  }

  function updateTitle() {
    document.title = state.unseen > 0 ? "(" + state.unseen + ") " + baseTitle : baseTitle;
  }

  function markSeen() {
    if (!state.unseen) return;
    state.unseen = 0;
    updateTitle();
  }

  // Browsers only let audio start after a user gesture: the context is created
  // (or resumed) on the first click or key press, and beeps before that are lost.
  let audio = null;
  let lastBeepAt = -Infinity;

  function unlockAudio() {
    const AudioCtx = window.AudioContext || window.webkitAudioContext;
    if (!AudioCtx) return;
    if (!audio) {
      try {
        audio = new AudioCtx();
      } catch (error) {
        return;
      }
      audio.addEventListener("statechange", renderSoundPrompt);
    }
    if (audio.state === "suspended") audio.resume().then(renderSoundPrompt, () => {});
    renderSoundPrompt();
  }

  /** Until a click or key press, the browser keeps the page silent: say so, and offer the click. */
  function renderSoundPrompt() {
    if (!dom.soundPrompt) return;
    dom.soundPrompt.hidden = state.muted || (audio !== null && audio.state === "running");
  }

  function beep() {
    if (state.muted || !audio || audio.state !== "running") return;
    const now = audio.currentTime;
    if (now - lastBeepAt < BEEP_MIN_GAP_S) return;
    lastBeepAt = now;
    tone(880, now, 0.14);
    tone(660, now + 0.18, 0.18);
  }

  function tone(frequency, start, duration) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = frequency;
    // Short attack and decay: a hard start/stop clicks.
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.3, start + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + duration);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(start);
    oscillator.stop(start + duration + 0.02);
  }

  function renderMute() {
    dom.mute.setAttribute("aria-pressed", state.muted ? "true" : "false");
    dom.mute.textContent = state.muted ? "Unmute" : "Mute";
  }

  function toggleMute() {
    state.muted = !state.muted;
    saveMuted(state.muted);
    renderMute();
    renderSoundPrompt();
  }

  // ---------------------------------------------------------------------- drones

  function countOpenAlertsByDrone(before, after) {
    trackOffline(before, after);
    const was = before && isOpen(before) ? before.drone_id : null;
    const now = after && isOpen(after) ? after.drone_id : null;
    if (was === now) return;
    if (was) {
      const left = (openAlertsByDrone.get(was) || 1) - 1;
      if (left > 0) openAlertsByDrone.set(was, left);
      else openAlertsByDrone.delete(was);
      dronesToRestyle.add(was);
    }
    if (now) {
      openAlertsByDrone.set(now, (openAlertsByDrone.get(now) || 0) + 1);
      dronesToRestyle.add(now);
    }
  }

  // A drone is offline while its drone_offline alert is open: the server
  // decides (3 silent minutes), the map only reflects it.
  function trackOffline(before, after) {
    const alert = after || before;
    if (!alert || !alert.drone_id) return;
    const offline = Boolean(after && after.kind === "drone_offline" && isOpen(after));
    if (offline) offlineDrones.add(alert.drone_id);
    else if (alert.kind === "drone_offline") offlineDrones.delete(alert.drone_id);
    dronesToRestyle.add(alert.drone_id);
  }

  function isLowBattery(droneId) {
    const drone = state.drones.get(droneId);
    return Boolean(drone && Number.isFinite(drone.battery_pct) && drone.battery_pct < LOW_BATTERY_PCT);
  }

  function droneStyle(droneId) {
    const flagged = openAlertsByDrone.has(droneId);
    const offline = offlineDrones.has(droneId);
    const low = isLowBattery(droneId);
    return {
      renderer: droneRenderer,
      radius: flagged ? 7 : offline || low ? 5 : 4,
      color: flagged ? "#b3261e" : offline ? "#3d434b" : "#ffffff",
      weight: flagged ? 3 : offline ? 2 : 1,
      dashArray: offline ? "2 2" : null,
      fillColor: offline ? "#9aa1ab" : low ? "#d08a00" : "#1f5fbf",
      fillOpacity: flagged ? 1 : 0.85,
    };
  }

  function restyleDrones() {
    for (const droneId of dronesToRestyle) {
      const marker = droneMarkers.get(droneId);
      if (!marker) continue;
      marker.setStyle(droneStyle(droneId));
      if (openAlertsByDrone.has(droneId)) marker.bringToFront();
    }
    dronesToRestyle.clear();
  }

  function droneTooltip(droneId) {
    const drone = state.drones.get(droneId) || { drone_id: droneId };
    return el(
      "div",
      { class: "drone-tooltip" },
      el("strong", { text: drone.drone_id }),
      el("div", { text: "Battery: " + formatBattery(drone.battery_pct) }),
      el("div", {
        text: "Last seen: " + (drone.seen_at ? relativeTime(drone.seen_at) + " (" + formatLocalTime(drone.seen_at) + ")" : "unknown"),
      }),
      offlineDrones.has(droneId) ? el("div", { class: "drone-flag", text: "Offline" }) : null,
      isLowBattery(droneId) ? el("div", { class: "drone-flag", text: "Low battery" }) : null,
      openAlertsByDrone.has(droneId) ? el("div", { class: "drone-flag", text: "Has an open alert" }) : null
    );
  }

  // The server sends positions as rows (one array per drone, column names in
  // "fields") to keep a large fleet's updates small; objects are accepted too.
  function positionRows(message) {
    if (!Array.isArray(message.drones)) return [];
    const fields = Array.isArray(message.fields) ? message.fields : null;
    if (!fields) return message.drones;
    return message.drones.map(function (row) {
      const position = {};
      if (Array.isArray(row)) fields.forEach(function (name, i) { position[name] = row[i]; });
      return position;
    });
  }

  function applyDronePositions(positions) {
    if (!Array.isArray(positions)) return;
    for (const position of positions) {
      if (!position || typeof position.drone_id !== "string") continue;
      if (!Number.isFinite(position.lat) || !Number.isFinite(position.lon)) continue;
      const wasLow = isLowBattery(position.drone_id);
      state.drones.set(position.drone_id, position);
      if (wasLow !== isLowBattery(position.drone_id)) dronesToRestyle.add(position.drone_id);
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

  // ------------------------------------------------------------------- REST API

  class SignedOutError extends Error {}

  function apiUrl(params) {
    return config.alertsApi + "?" + new URLSearchParams(params).toString();
  }

  /**
   * DRF builds `next` as an absolute URL from the Host header; behind a TLS proxy
   * it can say http://. Keep only path and query and stay on this origin.
   */
  function sameOriginPath(next) {
    if (!next) return null;
    const url = new URL(next, window.location.href);
    return url.pathname + url.search;
  }

  async function getJson(url) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    const toLogin = response.redirected && new URL(response.url).pathname.startsWith(LOGIN_URL);
    if (response.status === 401 || response.status === 403 || toLogin) throw new SignedOutError();
    if (!response.ok) throw new Error("HTTP " + response.status + " for " + url);
    return { body: await response.json(), date: response.headers.get("Date") };
  }

  /**
   * First load: every open alert, newest first, page after page (no cap: an
   * open alert the page does not hold would never be seen), applied at once.
   * The first answer's `last_seq` was read before its query: every change up
   * to it is in the open alerts (or closed, which the first load leaves out).
   */
  async function loadInitialAlerts() {
    const results = [];
    let url = apiUrl({ open: "true", page_size: String(INITIAL_PAGE_SIZE) });
    let lastSeq = null;
    while (url) {
      const { body } = await getJson(url);
      if (lastSeq === null && Number.isInteger(body.last_seq)) lastSeq = body.last_seq;
      results.push(...(body.results || []));
      url = sameOriginPath(body.next);
      if (url) dom.count.textContent = "Loading open alerts… " + results.length + " so far";
    }
    applyAlerts(results, { announce: false });
    markCaughtUp(lastSeq === null ? 0 : lastSeq);
  }

  /**
   * Every alert changed after `seq.through`, in seq order, all pages. Changes
   * commit in seq order, so once a page is applied we hold every change up to
   * its last row, and after the last page every change up to its `last_seq`.
   */
  async function loadChangesAfter() {
    let url = apiUrl({ after_seq: String(state.seq.through), page_size: String(CATCH_UP_PAGE_SIZE) });
    while (url) {
      const { body } = await getJson(url);
      const results = body.results || [];
      applyAlerts(results, { announce: true });
      let reached = state.seq.through;
      for (const alert of results) if (Number.isInteger(alert.seq) && alert.seq > reached) reached = alert.seq;
      url = sameOriginPath(body.next);
      if (!url && Number.isInteger(body.last_seq)) reached = Math.max(reached, body.last_seq);
      markCaughtUp(reached); // page by page: a failure half-way keeps what was done
    }
  }

  let catchingUp = null; // the catch-up in flight: one at a time
  let gapTimer = null; // the wait before a gap is filled over REST

  function catchUp() {
    if (!catchingUp) {
      const run = state.seq.through === null ? loadInitialAlerts() : loadChangesAfter();
      catchingUp = run.finally(() => {
        catchingUp = null;
      });
    }
    return catchingUp;
  }

  /** Every change up to `seq` is applied. */
  function markCaughtUp(seq) {
    state.seq.caughtUp(seq);
    watchGap();
  }

  /** A live event with this seq was applied. */
  function noteSeq(seq) {
    state.seq.saw(seq);
    watchGap();
    if (state.seq.overflowing) fillGap();
  }

  /** A gap gets GAP_WAIT_MS to close by itself (two publishers' events can cross), then a catch-up. */
  function watchGap() {
    if (!state.seq.hasGap) {
      clearTimeout(gapTimer);
      gapTimer = null;
    } else if (!gapTimer) {
      gapTimer = setTimeout(fillGap, GAP_WAIT_MS);
    }
  }

  /** A change is still missing from the stream: fetch it (and whatever else) over REST. */
  function fillGap() {
    clearTimeout(gapTimer);
    gapTimer = null;
    if (!state.seq.hasGap || conn.held) return; // a (re)connect's catch-up is on its way
    const generation = conn.generation;
    catchUp().catch((error) => {
      if (generation !== conn.generation) return;
      if (error instanceof SignedOutError) signOut();
      else dropSocket(); // the reconnect catches up
    });
  }

  /**
   * Closed alerts are not part of the first load; show the latest page of them
   * the first time the officer asks for a closed-status filter. Live events
   * keep them current afterwards.
   */
  async function loadHistoryFor(statusFilter) {
    if (statusFilter === "open" || state.historyLoaded.has(statusFilter)) return;
    state.historyLoaded.add(statusFilter);
    const params = statusFilter === "all" ? { open: "false" } : { status: statusFilter };
    params.page_size = String(HISTORY_PAGE_SIZE);
    try {
      const { body } = await getJson(apiUrl(params));
      applyAlerts(body.results || [], { announce: false });
    } catch (error) {
      state.historyLoaded.delete(statusFilter);
      if (error instanceof SignedOutError) signOut();
      else showMessage("Could not load closed alerts; only those seen since the page opened are listed.");
    }
  }

  async function changeStatus(id, status) {
    const alert = state.alerts.get(id);
    if (!alert || !canMove(alert.status, status)) return false;
    // Checked again when its turn comes: a change queued behind another may no longer apply.
    return patchAlert(id, { status }, { still: (current) => canMove(current.status, status) });
  }

  const patchQueues = new Map(); // id -> the last change sent or queued for that alert

  /**
   * PATCH one alert (status, note, assignment); resolves true when the server took it. Changes to one
   * alert go one after the other, in the order the officer made them: none is dropped for being quick.
   */
  function patchAlert(id, change, options = {}) {
    const previous = patchQueues.get(id) || Promise.resolve();
    const turn = previous.then(() => sendPatch(id, change, options));
    const tail = turn.catch(() => false);
    patchQueues.set(id, tail);
    tail.then(() => {
      if (patchQueues.get(id) === tail) patchQueues.delete(id);
    });
    return turn;
  }

  async function sendPatch(id, change, { quiet = false, still = () => true } = {}) {
    const current = state.alerts.get(id);
    if (!current || !still(current)) return false;
    state.pending.add(id);
    reconcile([id]);
    try {
      const response = await fetch(config.alertsApi + encodeURIComponent(id) + "/", {
        method: "PATCH",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken(),
        },
        body: JSON.stringify(change),
      });
      const body = await response.json().catch(() => null);
      if (response.ok && isAlertShape(body)) {
        if (!quiet) clearMessage();
        applyAlerts([body], { announce: false });
        return true;
      }
      if (!quiet) showMessage(describeFailure(response.status, body));
      return false;
    } catch (error) {
      if (!quiet) showMessage("Could not reach the server; the alert was not changed. Try again.");
      return false;
    } finally {
      state.pending.delete(id);
      reconcile([id]);
    }
  }

  // --------------------------------------------------------------- bulk actions

  const BULK_VERBS = { acknowledged: ["Acknowledge", "Acknowledged"], dismissed: ["Dismiss", "Dismissed"] };
  const BULK_AT_ONCE = 4; // PATCHes in flight at once
  let bulkAsked = null; // the status the confirmation is asking about

  function ticked() {
    return Array.from(state.selected, (id) => state.alerts.get(id)).filter(Boolean);
  }

  function renderBulk() {
    const chosen = ticked();
    for (const button of dom.bulkButtons) {
      const count = movable(chosen, button.dataset.bulk, TRANSITIONS).length;
      button.disabled = count === 0 || bulkAsked !== null;
      button.textContent = BULK_VERBS[button.dataset.bulk][0] + " ticked" + (count ? " (" + count + ")" : "");
    }
    const shown = Array.from(listItems.keys());
    dom.selectShown.checked = shown.length > 0 && shown.every((id) => state.selected.has(id));
    dom.selectShown.indeterminate = !dom.selectShown.checked && shown.some((id) => state.selected.has(id));
  }

  function askBulk(status) {
    const count = movable(ticked(), status, TRANSITIONS).length;
    if (!count) return;
    bulkAsked = status;
    dom.bulkQuestion.textContent =
      BULK_VERBS[status][0] + " " + count + (count === 1 ? " alert" : " alerts") + "? Every officer sees the change.";
    dom.bulkConfirm.hidden = false;
    renderBulk();
    dom.bulkNo.focus();
  }

  function closeBulkQuestion() {
    bulkAsked = null;
    dom.bulkConfirm.hidden = true;
    renderBulk();
  }

  async function runBulk() {
    const status = bulkAsked;
    const targets = movable(ticked(), status, TRANSITIONS).map((alert) => alert.id);
    closeBulkQuestion();
    let done = 0;
    let failed = 0;
    const [verb, past] = BULK_VERBS[status];
    const queue = targets.slice();
    dom.bulkProgress.textContent = verb + "… 0 of " + targets.length;
    async function worker() {
      while (queue.length) {
        const id = queue.shift();
        if (await patchAlert(id, { status }, { quiet: true })) state.selected.delete(id);
        else failed += 1;
        done += 1;
        dom.bulkProgress.textContent = verb + "… " + done + " of " + targets.length;
      }
    }
    await Promise.all(Array.from({ length: Math.min(BULK_AT_ONCE, targets.length) }, worker));
    dom.bulkProgress.textContent =
      past + " " + (done - failed) + " of " + targets.length + (failed ? "; " + failed + " refused (changed meanwhile?)" : ".");
    reconcile(targets);
    renderBulk();
  }

  function onSelectShown() {
    const ids = Array.from(listItems.keys());
    if (dom.selectShown.checked) ids.forEach((id) => state.selected.add(id));
    else ids.forEach((id) => state.selected.delete(id));
    reconcile(ids);
    renderBulk();
  }

  function describeFailure(httpStatus, body) {
    if (body && typeof body.detail === "string") return body.detail;
    if (body && typeof body === "object") {
      const parts = Object.entries(body).map(([field, errors]) =>
        field + ": " + (Array.isArray(errors) ? errors.join(" ") : String(errors))
      );
      if (parts.length) return parts.join("; ");
    }
    return "The change failed (HTTP " + httpStatus + ").";
  }

  // ------------------------------------------------------------------ messages

  function showMessage(text, link) {
    dom.message.replaceChildren(text);
    if (link) dom.message.append(" ", el("a", { href: link.href, text: link.label }));
    dom.messageDismiss.hidden = false;
  }

  function clearMessage() {
    if (state.connection === "signed-out") return; // that one stays
    dom.message.replaceChildren();
    dom.messageDismiss.hidden = true;
  }

  // ----------------------------------------------------------- WebSocket & sync

  const conn = {
    socket: null,
    generation: 0, // bumps on every new socket; callbacks of old sockets are ignored
    attempt: 0, // failed attempts in a row, for the back-off
    retryTimer: null,
    pingTimer: null,
    received: 0, // frames read on this socket, for the flow-control acks
    acked: 0,
    ackTimer: null,
    lastHeardAt: 0,
    lastLiveFrameAt: 0, // the last frame heard while live: where a gap would start
    silenceLimitMs: silenceLimitMs(undefined), // until the server's hello gives its heartbeat
    held: null, // alert events received during catch-up, or null when live
    stopped: false, // signed out: no more reconnecting
  };

  function noteLink(event) {
    state.link = nextLink(state.link, event);
    const value = state.link.status;
    state.connection = value;
    const text = badgeText(state.link);
    if (dom.status.textContent !== text) dom.status.textContent = text;
    dom.status.className = "connection is-" + value;
    const banner = bannerText(state.link, formatClock);
    if (dom.banner) {
      if (dom.banner.textContent !== (banner || "")) dom.banner.textContent = banner || "";
      dom.banner.hidden = banner === null;
    }
  }

  /** The link is gone (closed, failed or silent): what was live may now miss alerts. */
  function linkLost() {
    noteLink({ type: navigator.onLine === false ? "offline" : "lost", lastHeardAt: conn.lastLiveFrameAt });
  }

  function formatClock(ms) {
    return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
  }

  function socketUrl() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + config.wsPath;
  }

  function connect() {
    if (conn.stopped) return;
    clearTimeout(conn.retryTimer);
    conn.retryTimer = null;
    const generation = ++conn.generation;
    let socket;
    try {
      socket = new WebSocket(socketUrl());
    } catch (error) {
      scheduleReconnect();
      return;
    }
    conn.socket = socket;
    conn.held = [];
    conn.received = 0;
    conn.acked = 0;
    clearTimeout(conn.ackTimer);
    conn.ackTimer = null;
    conn.lastHeardAt = Date.now();
    const current = () => generation === conn.generation;
    socket.onopen = () => current() && onSocketOpen(generation);
    socket.onmessage = (event) => current() && onSocketMessage(event);
    socket.onclose = (event) => current() && onSocketClose(event.code);
    socket.onerror = () => {}; // a close event always follows; handled there
  }

  async function onSocketOpen(generation) {
    startPing();
    // The server subscribes us before accepting, so from here on every change
    // reaches us as an event; the catch-up covers everything before.
    try {
      await catchUp();
    } catch (error) {
      if (generation !== conn.generation) return;
      if (error instanceof SignedOutError) {
        signOut();
      } else {
        console.warn("live map: catch-up failed, reconnecting", error);
        dropSocket();
      }
      return;
    }
    if (generation !== conn.generation) return;
    const held = conn.held || [];
    conn.held = null;
    for (const message of held) handleAlertEvent(message);
    conn.attempt = 0;
    conn.lastLiveFrameAt = Date.now();
    noteLink({ type: "caught_up" });
  }

  function onSocketMessage(event) {
    conn.lastHeardAt = Date.now();
    if (state.link.status === "live") conn.lastLiveFrameAt = conn.lastHeardAt;
    noteFrameRead();
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (!message || typeof message.type !== "string") return;
    switch (message.type) {
      case "alert.created":
      case "alert.updated":
        if (conn.held) {
          conn.held.push(message);
          if (conn.held.length > MAX_HELD_EVENTS) dropSocket(0);
        } else {
          handleAlertEvent(message);
        }
        break;
      case "hello":
        conn.silenceLimitMs = silenceLimitMs(message.heartbeat_s);
        break;
      case "drones.positions":
        // Positions are not versioned and a newer one always wins: no need to hold them.
        applyDronePositions(positionRows(message));
        break;
      default:
        break; // hello, pong, and types added later
    }
  }

  function handleAlertEvent(message) {
    applyAlerts([message.alert], { announce: message.type === "alert.created" });
    if (message.alert) noteSeq(message.alert.seq);
  }

  function noteFrameRead() {
    conn.received += 1;
    if (conn.received - conn.acked >= ACK_EVERY) sendAck();
    else if (!conn.ackTimer) conn.ackTimer = setTimeout(sendAck, ACK_DELAY_MS);
  }

  function sendAck() {
    clearTimeout(conn.ackTimer);
    conn.ackTimer = null;
    const socket = conn.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || conn.acked === conn.received) return;
    socket.send(JSON.stringify({ type: "ack", received: conn.received }));
    conn.acked = conn.received;
  }

  function onSocketClose(code) {
    stopPing();
    conn.generation += 1; // a catch-up still running for this socket must not declare us live
    conn.socket = null;
    conn.held = null;
    if (code === CLOSE_FORBIDDEN) {
      signOut();
    } else if (code === CLOSE_RESYNC) {
      linkLost();
      connect(); // we fell behind: reconnect now; the catch-up fills the gap
    } else {
      linkLost();
      scheduleReconnect();
    }
  }

  /** Give up on the current socket ourselves (dead, or catch-up failed) and reconnect. */
  function dropSocket(delayMs) {
    const socket = conn.socket;
    conn.generation += 1; // its close event, whenever it comes, is now ignored
    conn.socket = null;
    conn.held = null;
    stopPing();
    if (socket) {
      try {
        socket.close();
      } catch (error) {
        /* already closing */
      }
    }
    linkLost();
    scheduleReconnect(delayMs);
  }

  /** 0.5 s doubling up to 10 s, with jitter so a restarted server is not hit by every browser at once. */
  function scheduleReconnect(delayMs) {
    if (conn.stopped) return;
    clearTimeout(conn.retryTimer);
    let delay = delayMs;
    if (delay === undefined) {
      const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** conn.attempt);
      conn.attempt += 1;
      delay = base / 2 + Math.random() * (base / 2);
    }
    conn.retryTimer = setTimeout(connect, delay);
  }

  function startPing() {
    stopPing();
    conn.pingTimer = setInterval(() => {
      const socket = conn.socket;
      if (!socket || socket.readyState !== WebSocket.OPEN) return;
      socket.send(JSON.stringify({ type: "ping" }));
    }, PING_EVERY_MS);
  }

  function stopPing() {
    clearInterval(conn.pingTimer);
    conn.pingTimer = null;
  }

  function signOut() {
    conn.stopped = true;
    clearTimeout(conn.retryTimer);
    if (conn.socket) {
      conn.generation += 1;
      try {
        conn.socket.close();
      } catch (error) {
        /* already closed */
      }
      conn.socket = null;
    }
    stopPing();
    noteLink({ type: "signed_out", lastHeardAt: conn.lastLiveFrameAt });
    const next = encodeURIComponent(window.location.pathname + window.location.search);
    showMessage("You are signed out: live alerts have stopped.", {
      href: LOGIN_URL + "?next=" + next,
      label: "Sign in again",
    });
  }

  // ------------------------------------------------------------ user actions

  function onActionClick(event) {
    const button = event.target.closest("button[data-action], button[data-details], button[data-save]");
    if (!button || button.disabled) return;
    event.stopPropagation(); // a button press is not a "show on map"
    if (button.dataset.action) changeStatus(Number(button.dataset.alertId), button.dataset.action);
    else if (button.dataset.save) onDetailsSave(button);
    else openDetailsFrom(button);
  }

  /** "Details" in the list toggles the card open; in a map popup it opens the card in the list and goes there. */
  function openDetailsFrom(button) {
    const id = Number(button.dataset.details);
    const item = listItems.get(id);
    if (!button.closest(".alert-popup")) {
      toggleDetails(id);
      return;
    }
    if (!item) {
      showMessage("This alert is not in the list with the current filters.");
      return;
    }
    const box = details.get(id);
    if (!box || box.hidden) toggleDetails(id);
    item.scrollIntoView({ block: "nearest" });
    details.get(id).querySelector("textarea").focus();
  }

  function onListChange(event) {
    const box = event.target.closest("input.select-alert");
    if (!box) return;
    const id = Number(box.dataset.alertId);
    if (box.checked) state.selected.add(id);
    else state.selected.delete(id);
    renderBulk();
  }

  function showOnMap(id) {
    const marker = alertMarkers.get(id);
    if (!marker || !clusterGroup.hasLayer(marker)) {
      showMessage("This alert has no position on the map.");
      return;
    }
    clusterGroup.zoomToShowLayer(marker, () => marker.openPopup());
  }

  function onListClick(event) {
    // Buttons handle themselves; ticking, typing a note or choosing a colleague is not "show on map".
    if (event.target.closest("button, a, input, textarea, select, label, .alert-details")) return;
    const item = event.target.closest("li[data-alert-id]");
    if (item) showOnMap(Number(item.dataset.alertId));
  }

  function onListKeydown(event) {
    const item = event.target.closest("li[data-alert-id]");
    if (!item || event.target !== item) return; // keys on buttons keep their meaning
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      showOnMap(Number(item.dataset.alertId));
      return;
    }
    const moves = {
      ArrowDown: item.nextElementSibling,
      ArrowUp: item.previousElementSibling,
      Home: dom.list.firstElementChild,
      End: dom.list.lastElementChild,
    };
    if (event.key in moves) {
      event.preventDefault();
      if (moves[event.key]) moves[event.key].focus();
    }
  }

  function onFilterChange() {
    state.filter = {
      status: dom.filterStatus.value,
      severity: dom.filterSeverity.value,
      kind: dom.filterKind.value,
      text: dom.filterText.value,
    };
    reconcile(Array.from(state.alerts.keys()));
    renderBulk();
    loadHistoryFor(state.filter.status);
  }

  function onOrderChange() {
    state.order = { sort: dom.sort.value, pinCritical: dom.pinCritical.checked };
    resortList();
  }

  function onUserGesture() {
    unlockAudio();
    markSeen(); // someone is at the keyboard: the new alerts have been seen
  }

  // ------------------------------------------------------------------ start

  function bindEvents() {
    dom.mute.addEventListener("click", toggleMute);
    dom.filterStatus.addEventListener("change", onFilterChange);
    dom.filterSeverity.addEventListener("change", onFilterChange);
    dom.filterKind.addEventListener("change", onFilterChange);
    dom.filterText.addEventListener("input", onFilterChange);
    dom.sort.addEventListener("change", onOrderChange);
    dom.pinCritical.addEventListener("change", onOrderChange);
    dom.list.addEventListener("change", onListChange);
    dom.selectShown.addEventListener("change", onSelectShown);
    for (const button of dom.bulkButtons) button.addEventListener("click", () => askBulk(button.dataset.bulk));
    dom.bulkYes.addEventListener("click", runBulk);
    dom.bulkNo.addEventListener("click", closeBulkQuestion);
    dom.bulkConfirm.addEventListener("keydown", (event) => {
      if (event.key === "Escape") closeBulkQuestion();
    });
    dom.list.addEventListener("click", onActionClick);
    dom.list.addEventListener("click", onListClick);
    dom.list.addEventListener("keydown", onListKeydown);
    dom.messageDismiss.addEventListener("click", () => {
      dom.message.replaceChildren();
      dom.messageDismiss.hidden = true;
    });
    document.addEventListener("pointerdown", onUserGesture, true);
    document.addEventListener("keydown", onUserGesture, true);
    window.addEventListener("focus", markSeen);
    // Back on the network: do not wait out the back-off.
    window.addEventListener("online", () => {
      noteLink({ type: "online" });
      if (!conn.socket && !conn.stopped) {
        conn.attempt = 0;
        connect();
      }
    });
    // Network gone: say so now, not when a socket finally times out; the socket is dropped
    // so that the page reconnects and catches up when the network is back.
    window.addEventListener("offline", () => {
      if (conn.stopped) return;
      noteLink({ type: "offline", lastHeardAt: conn.lastLiveFrameAt });
      if (conn.socket) dropSocket();
    });
    // A server that stops talking (its heartbeats stop) is a dead link the browser may not notice.
    setInterval(() => {
      const socket = conn.socket;
      if (socket && socket.readyState === WebSocket.OPEN && isSilent(conn.lastHeardAt, Date.now(), conn.silenceLimitMs)) {
        dropSocket();
      }
    }, WATCHDOG_EVERY_MS);
    if (dom.soundPrompt) dom.soundPrompt.addEventListener("click", onUserGesture);
    setInterval(refreshRelativeTimes, RELATIVE_TIME_REFRESH_MS);
  }

  function start() {
    dom.filterStatus.value = state.filter.status;
    dom.filterSeverity.value = state.filter.severity;
    dom.filterKind.value = state.filter.kind;
    dom.sort.value = state.order.sort;
    dom.pinCritical.checked = state.order.pinCritical;
    renderBulk();
    renderMute();
    renderSoundPrompt();
    noteLink({ type: "start" });
    updateCount();
    bindEvents();
    connect();
  }

  window.peacewatchLive = Object.freeze({
    alerts: state.alerts,
    drones: state.drones,
    get connection() {
      return state.connection;
    },
    hasMarker(id) {
      const marker = alertMarkers.get(Number(id));
      return !!marker && clusterGroup.hasLayer(marker);
    },
  });

  start();
})();
