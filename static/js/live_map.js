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
 * Loaded as an ES module: what the page says about its link (badge, "alerts may
 * be missing since" banner) is the pure state machine of live_link.js.
 */
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

  const INITIAL_PAGES = 5;
  const INITIAL_PAGE_SIZE = 100;
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
  const DEFAULT_CITY_BOUNDS = [[48.815, 2.255], [48.905, 2.415]];

  // ---------------------------------------------------------------- config & DOM

  const config = readConfig();
  const dom = {
    map: document.getElementById("live-map"),
    status: document.getElementById("connection-status"),
    mute: document.getElementById("mute-toggle"),
    filterStatus: document.getElementById("filter-status"),
    filterSeverity: document.getElementById("filter-severity"),
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
    seq: { through: null, ahead: new Set(), gapTimer: null },
    filter: { status: "open", severity: "all" },
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

  /**
   * A comparable number for an ISO timestamp, in microseconds. Date keeps only
   * milliseconds, but the server sends microseconds and two changes within the
   * same millisecond must still compare right.
   */
  function timeKey(iso) {
    if (typeof iso !== "string") return NaN;
    const ms = Date.parse(iso);
    if (Number.isNaN(ms)) return NaN;
    const fraction = /\.(\d+)/.exec(iso);
    const micros = fraction ? Number((fraction[1] + "000000").slice(3, 6)) : 0;
    return ms * 1000 + micros;
  }

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
  // No tile server on a closed police network: the map is a plain background
  // (CSS) with a graticule, so it needs explicit zoom limits (markercluster
  // refuses a map without maxZoom).
  const map = L.map(dom.map, { minZoom: 10, maxZoom: 19, zoomSnap: 0.5, keyboard: true });
  map.attributionControl.setPrefix("Leaflet");
  map.fitBounds(cityBounds, { padding: [16, 16] });
  L.control.scale({ imperial: false }).addTo(map);
  drawGraticule(cityBounds);

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

  function drawGraticule(bounds) {
    const area = bounds.pad(1.5);
    const step = 0.01;
    const options = (major) => ({
      color: major ? "#9aa6b5" : "#cdd4dd",
      weight: major ? 1.2 : 0.8,
      interactive: false,
    });
    const isMajor = (value) => Math.abs(Math.round(value / 0.05) * 0.05 - value) < 1e-6;
    for (let lat = Math.ceil(area.getSouth() / step) * step; lat <= area.getNorth(); lat += step) {
      const value = Number(lat.toFixed(4));
      L.polyline([[value, area.getWest()], [value, area.getEast()]], options(isMajor(value))).addTo(map);
    }
    for (let lon = Math.ceil(area.getWest() / step) * step; lon <= area.getEast(); lon += step) {
      const value = Number(lon.toFixed(4));
      L.polyline([[area.getSouth(), value], [area.getNorth(), value]], options(isMajor(value))).addTo(map);
    }
    // The city's outline, so officers can tell where the patrolled area ends.
    L.rectangle(bounds, { color: "#5b6675", weight: 1.5, dashArray: "6 6", fill: false, interactive: false }).addTo(map);
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
    const classes = ["alert-marker", "severity-" + alert.severity, "status-" + alert.status];
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
      keyboard: true,
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
        fact("PeaceScore", formatScore(alert.peacescore)),
        fact("Drone", alert.drone_id),
        fact("Observed", el("time", { datetime: alert.observed_at, text: formatLocalTime(alert.observed_at) })),
        fact("Sightings", String(alert.sightings ?? "—")),
        fact("Status", statusBadge(alert)),
        fact("Assigned to", assignedLabel(alert))
      ),
      actionButtons(alert)
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
  const sortKeys = new Map(); // id -> raised_at key, newest first

  function matchesFilter(alert) {
    const wanted = state.filter.status;
    const statusOk =
      wanted === "all" || (wanted === "open" ? isOpen(alert) : alert.status === wanted);
    const severity = state.filter.severity;
    return statusOk && (severity === "all" || alert.severity === severity);
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
      "severity-" + alert.severity,
      "status-" + alert.status,
      state.flashing.has(alert.id) ? "is-flashing" : "",
    ].join(" ").trim();
    item.dataset.status = alert.status;
    keepFocusWhileRendering(item, () => item.replaceChildren(...listItemContent(alert)));
    if (isNew) insertSorted(item, alert);
  }

  function listItemContent(alert) {
    return [
      el(
        "div",
        { class: "item-head" },
        el("span", { class: "item-title", text: alertTitle(alert) }),
        severityBadge(alert)
      ),
      el(
        "dl",
        { class: "facts facts-compact" },
        fact("PeaceScore", formatScore(alert.peacescore)),
        fact("Drone", alert.drone_id),
        fact(
          "Seen",
          el("time", {
            class: "rel-time",
            datetime: alert.observed_at,
            title: formatLocalTime(alert.observed_at),
            text: relativeTime(alert.observed_at),
          })
        ),
        fact("Sightings", String(alert.sightings ?? "—")),
        fact("Status", statusBadge(alert)),
        alert.assigned_to ? fact("Assigned", assignedLabel(alert)) : null
      ),
      actionButtons(alert),
    ];
  }

  /** Insert by raised_at then id, newest first: binary search over the live children. */
  function insertSorted(item, alert) {
    const key = timeKey(alert.raised_at) || 0;
    sortKeys.set(alert.id, key);
    const children = dom.list.children;
    let low = 0;
    let high = children.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      const otherId = Number(children[mid].dataset.alertId);
      const otherKey = sortKeys.get(otherId) || 0;
      const comesBefore = otherKey > key || (otherKey === key && otherId > alert.id);
      if (comesBefore) low = mid + 1;
      else high = mid;
    }
    dom.list.insertBefore(item, children[low] || null);
  }

  function removeListItem(id) {
    const item = listItems.get(id);
    if (!item) return;
    const hadFocus = item.contains(document.activeElement);
    const neighbour = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    listItems.delete(id);
    sortKeys.delete(id);
    // Keyboard users must not be thrown back to the top of the page when the
    // alert they just resolved leaves the list.
    if (hadFocus) (neighbour || dom.list).focus({ preventScroll: false });
  }

  function updateCount() {
    const shown = listItems.size;
    dom.count.textContent = shown + (shown === 1 ? " alert shown" : " alerts shown");
    dom.empty.hidden = shown > 0;
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

  function isAlertShape(alert) {
    return (
      !!alert &&
      typeof alert === "object" &&
      Number.isInteger(alert.id) &&
      typeof alert.version === "number" &&
      typeof alert.status === "string"
    );
  }

  /** Keep `incoming` unless we hold a newer version. Returns "created", "updated" or null. */
  function storeAlert(incoming) {
    if (!isAlertShape(incoming)) return null;
    const held = state.alerts.get(incoming.id);
    if (held && incoming.version < held.version) return null; // a late, older copy
    state.alerts.set(incoming.id, incoming);
    countOpenAlertsByDrone(held, incoming);
    return held ? "updated" : "created";
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
   * First load: the open alerts, newest first, a few pages. Applied all at once.
   * The first answer's `last_seq` was read before its query: every change up
   * to it is in the open alerts (or closed, which the first load leaves out).
   */
  async function loadInitialAlerts() {
    const results = [];
    let url = apiUrl({ open: "true", page_size: String(INITIAL_PAGE_SIZE) });
    let lastSeq = null;
    for (let page = 0; url && page < INITIAL_PAGES; page += 1) {
      const { body } = await getJson(url);
      if (lastSeq === null && Number.isInteger(body.last_seq)) lastSeq = body.last_seq;
      results.push(...(body.results || []));
      url = sameOriginPath(body.next);
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
    const tracker = state.seq;
    if (tracker.through === null || seq > tracker.through) tracker.through = seq;
    for (const n of tracker.ahead) if (n <= tracker.through) tracker.ahead.delete(n);
    advanceThrough();
  }

  /** A live event with this seq was applied. */
  function noteSeq(seq) {
    const tracker = state.seq;
    if (!Number.isInteger(seq) || seq <= 0 || tracker.through === null || seq <= tracker.through) return;
    tracker.ahead.add(seq);
    advanceThrough();
    if (tracker.ahead.size > MAX_AHEAD) fillGap();
  }

  function advanceThrough() {
    const tracker = state.seq;
    while (tracker.ahead.has(tracker.through + 1)) {
      tracker.through += 1;
      tracker.ahead.delete(tracker.through);
    }
    if (!tracker.ahead.size) {
      clearTimeout(tracker.gapTimer);
      tracker.gapTimer = null;
    } else if (!tracker.gapTimer) {
      tracker.gapTimer = setTimeout(fillGap, GAP_WAIT_MS);
    }
  }

  /** A change is still missing from the stream: fetch it (and whatever else) over REST. */
  function fillGap() {
    const tracker = state.seq;
    clearTimeout(tracker.gapTimer);
    tracker.gapTimer = null;
    if (!tracker.ahead.size || conn.held) return; // a (re)connect's catch-up is on its way
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
    if (!alert || state.pending.has(id) || !canMove(alert.status, status)) return;
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
        body: JSON.stringify({ status }),
      });
      const body = await response.json().catch(() => null);
      if (response.ok && isAlertShape(body)) {
        clearMessage();
        applyAlerts([body], { announce: false });
      } else {
        showMessage(describeFailure(response.status, body));
      }
    } catch (error) {
      showMessage("Could not reach the server; the alert was not changed. Try again.");
    } finally {
      state.pending.delete(id);
      reconcile([id]);
    }
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
    const button = event.target.closest("button[data-action]");
    if (!button || button.disabled) return;
    event.stopPropagation(); // a button press is not a "show on map"
    changeStatus(Number(button.dataset.alertId), button.dataset.action);
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
    if (event.target.closest("button, a")) return; // buttons handle themselves
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
    state.filter = { status: dom.filterStatus.value, severity: dom.filterSeverity.value };
    reconcile(Array.from(state.alerts.keys()));
    loadHistoryFor(state.filter.status);
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
