// What the officers' map knows of each drone, as pure code (no Leaflet): its last position, how many
// open alerts it carries, whether the server calls it offline, and the style that follows from these.
// live_layers.js draws what this holds; tests/js/live_drones.test.mjs checks the rules.

import { isOpen } from "./alert_list.js";

export const LOW_BATTERY_PCT = 20;

/**
 * The drones of a `drones.positions` message as objects. The server sends rows (one array per drone,
 * column names in `fields`) to keep a large fleet's updates small; objects are accepted too.
 */
export function positionRows(message) {
  if (!Array.isArray(message.drones)) return [];
  const fields = Array.isArray(message.fields) ? message.fields : null;
  if (!fields) return message.drones;
  return message.drones.map((row) => {
    const position = {};
    if (Array.isArray(row)) fields.forEach((name, i) => (position[name] = row[i]));
    return position;
  });
}

export class DroneBook {
  constructor() {
    this.positions = new Map(); // drone_id -> {drone_id, lat, lon, battery_pct, seen_at}
    this.openAlerts = new Map(); // drone_id -> number of open alerts
    this.offline = new Set(); // drone_ids with an open drone_offline alert
    this.toRestyle = new Set(); // drone_ids whose look may have changed since the last restyle
  }

  /**
   * An alert changed from `before` (undefined when new) to `after`: recount the drones it touches.
   * A drone's own drone_offline alert makes it offline, not "carrying an alert": the red ring is for
   * what the drone reported (a citizen, a pipeline fault), so the legend's offline look is seen.
   */
  alertChanged(before, after) {
    this.#trackOffline(before, after);
    const carried = (alert) => alert && isOpen(alert) && alert.kind !== "drone_offline";
    const was = carried(before) ? before.drone_id : null;
    const now = carried(after) ? after.drone_id : null;
    if (was === now) return;
    if (was) {
      const left = (this.openAlerts.get(was) || 1) - 1;
      if (left > 0) this.openAlerts.set(was, left);
      else this.openAlerts.delete(was);
      this.toRestyle.add(was);
    }
    if (now) {
      this.openAlerts.set(now, (this.openAlerts.get(now) || 0) + 1);
      this.toRestyle.add(now);
    }
  }

  // A drone is offline while its drone_offline alert is open: the server decides, the map only reflects it.
  #trackOffline(before, after) {
    const alert = after || before;
    if (!alert || !alert.drone_id) return;
    const offline = Boolean(after && after.kind === "drone_offline" && isOpen(after));
    if (offline) this.offline.add(alert.drone_id);
    else if (alert.kind === "drone_offline") this.offline.delete(alert.drone_id);
    this.toRestyle.add(alert.drone_id);
  }

  /** Keep a reported position; false (and nothing kept) when it names no drone or no place. */
  place(position) {
    if (!position || typeof position.drone_id !== "string") return false;
    if (!Number.isFinite(position.lat) || !Number.isFinite(position.lon)) return false;
    const wasLow = this.isLowBattery(position.drone_id);
    this.positions.set(position.drone_id, position);
    if (wasLow !== this.isLowBattery(position.drone_id)) this.toRestyle.add(position.drone_id);
    return true;
  }

  isLowBattery(droneId) {
    const drone = this.positions.get(droneId);
    return Boolean(drone && Number.isFinite(drone.battery_pct) && drone.battery_pct < LOW_BATTERY_PCT);
  }

  hasOpenAlert(droneId) {
    return this.openAlerts.has(droneId);
  }

  isOffline(droneId) {
    return this.offline.has(droneId);
  }

  /** Leaflet path options for the drone's dot: an open alert outranks offline, offline outranks low battery. */
  style(droneId) {
    const flagged = this.hasOpenAlert(droneId);
    const offline = this.isOffline(droneId);
    const low = this.isLowBattery(droneId);
    return {
      radius: flagged ? 7 : offline || low ? 5 : 4,
      color: flagged ? "#b3261e" : offline ? "#3d434b" : "#ffffff",
      weight: flagged ? 3 : offline ? 2 : 1,
      dashArray: offline ? "2 2" : null,
      fillColor: offline ? "#9aa1ab" : low ? "#d08a00" : "#1f5fbf",
      fillOpacity: flagged ? 1 : 0.85,
    };
  }

  /** The drones to restyle since the last call, once each. */
  takeRestyle() {
    const ids = Array.from(this.toRestyle);
    this.toRestyle.clear();
    return ids;
  }
}
