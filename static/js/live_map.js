/*
 * PeaceWatch — officers' live alert map: the entry point that wires the page's modules.
 *
 * Native ES modules, no build step (the Content-Security-Policy allows same-origin
 * scripts only: no inline script, no HTML built from server data). Leaflet,
 * Leaflet.markercluster, base_map.js and dom.js are classic scripts loaded first.
 *
 *   live_socket.js     the WebSocket, the catch-up that misses no alert, the badge and banner
 *   live_layers.js     the map: base map, alert markers and clusters, drones, legend
 *   live_list_view.js  the alert list, its counts and the panel's message
 *   live_card.js       acknowledge / resolve / dismiss, note, assignment, history, bulk actions
 *   live_cues.js       flash, title count, screen-reader announcement, sound
 *   live_api.js        the REST calls
 * and pure modules with node tests (tests/js/): alert_sync.js (which copy of an alert
 * wins, the change sequence), alert_list.js (what the list shows, in what order),
 * live_link.js (the link's states), live_drones.js, live_patch_queue.js, live_format.js.
 *
 * The only global it defines is `window.peacewatchLive`, a read-only view for
 * automated browser tests.
 */
import { matches } from "./alert_list.js";
import { ChangeSequence, isAlertShape, storeAlert } from "./alert_sync.js";
import { SignedOutError, alertsUrl, getJson } from "./live_api.js";
import { createCard } from "./live_card.js";
import { createCues, readMuted } from "./live_cues.js";
import { DroneBook } from "./live_drones.js";
import { createLayers } from "./live_layers.js";
import { initialLink } from "./live_link.js";
import { createListView } from "./live_list_view.js";
import { createSocket } from "./live_socket.js";

const HISTORY_PAGE_SIZE = 100;
const MAX_AHEAD = 5000; // changes held above a gap before catching up at once
const RELATIVE_TIME_REFRESH_MS = 30 * 1000;
// The page's config always carries CITY_BOUNDS; without it, the whole world rather than a wrong city.
const DEFAULT_CITY_BOUNDS = [[-60, -170], [75, 170]];

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

const byId = (id) => document.getElementById(id);
const config = readConfig();
const dom = {
  map: byId("live-map"),
  status: byId("connection-status"),
  mute: byId("mute-toggle"),
  filterStatus: byId("filter-status"),
  filterSeverity: byId("filter-severity"),
  filterKind: byId("filter-kind"),
  filterText: byId("filter-text"),
  sort: byId("list-sort"),
  pinCritical: byId("pin-critical"),
  statusCounts: byId("status-counts"),
  selectShown: byId("select-shown"),
  bulkButtons: Array.from(document.querySelectorAll("button[data-bulk]")),
  bulkConfirm: byId("bulk-confirm"),
  bulkQuestion: byId("bulk-question"),
  bulkYes: byId("bulk-yes"),
  bulkNo: byId("bulk-no"),
  bulkProgress: byId("bulk-progress"),
  count: byId("alert-count"),
  message: byId("panel-message"),
  messageDismiss: byId("panel-message-dismiss"),
  list: byId("alert-list"),
  empty: byId("alert-empty"),
  announcer: byId("live-announcer"),
  banner: byId("link-banner"),
  soundPrompt: byId("sound-prompt"),
};

const fleet = new DroneBook();
const state = {
  alerts: new Map(), // id -> alert, the newest version seen
  drones: fleet.positions, // drone_id -> {drone_id, lat, lon, battery_pct, seen_at}
  connection: "connecting", // "connecting" | "live" | "reconnecting" | "offline" | "signed-out"
  link: initialLink(), // live_link.js: the badge and the "may be missing" banner
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

const shows = (alert) => matches(alert, state.filter);

const layers = createLayers({
  element: dom.map,
  cityBounds: config.cityBounds,
  alerts: state.alerts,
  drones: fleet,
  isFlashing: (id) => state.flashing.has(id),
  isBusy: (id) => state.pending.has(id),
  me: config.username,
  onPopupClick: (event) => card.onActionClick(event),
});
const list = createListView({
  dom,
  state,
  me: config.username,
  detailsOf: (alert) => card.detailsOf(alert),
  onSelectionChange: () => card.renderBulk(),
  showOnMap: (id) => layers.showOnMap(id),
});
const card = createCard({ dom, state, config, list, reconcile, applyAlerts, signOut: () => socket.signOut() });
const cues = createCues({ dom, state, reconcile });
const socket = createSocket({
  config,
  state,
  dom,
  applyAlerts,
  applyDronePositions: layers.applyDronePositions,
  showMessage: list.showMessage,
});

/** Bring the cards and markers of these alerts in line with the state and the filters. */
function reconcile(ids) {
  list.update(ids, shows);
  layers.updateAlerts(ids, shows);
  list.updateCount();
}

/**
 * Apply copies of alerts from any source, each kept only if no newer version is held (alert_sync.js).
 * announce: alerts we had never seen that are still `new` get the cues.
 */
function applyAlerts(alerts, { announce }) {
  const changed = [];
  const fresh = [];
  for (const alert of alerts) {
    const held = isAlertShape(alert) ? state.alerts.get(alert.id) : undefined;
    const result = storeAlert(state.alerts, alert);
    if (!result) continue;
    fleet.alertChanged(held, alert);
    changed.push(alert.id);
    if (result === "created" && announce && alert.status === "new") fresh.push(alert);
  }
  if (!changed.length) return;
  for (const alert of fresh) cues.startFlash(alert.id);
  reconcile(changed);
  layers.restyleDrones();
  if (fresh.length) cues.announce(fresh);
}

/**
 * Closed alerts are not part of the first load; show the latest page of them the first time the
 * officer asks for a closed-status filter. Live events keep them current afterwards.
 */
async function loadClosedFor(statusFilter) {
  if (statusFilter === "open" || state.historyLoaded.has(statusFilter)) return;
  state.historyLoaded.add(statusFilter);
  const params = statusFilter === "all" ? { open: "false" } : { status: statusFilter };
  params.page_size = String(HISTORY_PAGE_SIZE);
  try {
    const { body } = await getJson(alertsUrl(config.alertsApi, params));
    applyAlerts(body.results || [], { announce: false });
  } catch (error) {
    state.historyLoaded.delete(statusFilter);
    if (error instanceof SignedOutError) socket.signOut();
    else list.showMessage("Could not load closed alerts; only those seen since the page opened are listed.");
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
  card.renderBulk();
  loadClosedFor(state.filter.status);
}

function onOrderChange() {
  state.order = { sort: dom.sort.value, pinCritical: dom.pinCritical.checked };
  list.resort();
}

dom.filterStatus.value = state.filter.status;
dom.filterSeverity.value = state.filter.severity;
dom.filterKind.value = state.filter.kind;
dom.sort.value = state.order.sort;
dom.pinCritical.checked = state.order.pinCritical;
card.renderBulk();
cues.render();
list.updateCount();
for (const select of [dom.filterStatus, dom.filterSeverity, dom.filterKind]) select.addEventListener("change", onFilterChange);
dom.filterText.addEventListener("input", onFilterChange);
dom.sort.addEventListener("change", onOrderChange);
dom.pinCritical.addEventListener("change", onOrderChange);
card.bind();
list.bind();
cues.bind();
setInterval(list.refreshRelativeTimes, RELATIVE_TIME_REFRESH_MS);

window.peacewatchLive = Object.freeze({
  alerts: state.alerts,
  drones: state.drones,
  get connection() {
    return state.connection;
  },
  hasMarker: (id) => layers.hasMarker(Number(id)),
});

socket.start();
