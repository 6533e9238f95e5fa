// The words the officers' page shows for alerts, drones and actions, as pure functions (no DOM), so the
// cards, popups, messages and counts say the same thing everywhere and are tested without a browser
// (tests/js/live_format.test.mjs).

/** The verb and its past for each status a bulk action can set. */
export const BULK_VERBS = { acknowledged: ["Acknowledge", "Acknowledged"], dismissed: ["Dismiss", "Dismissed"] };

/** Date and time in the browser's locale, or "unknown". */
export function formatLocalTime(iso) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return "unknown";
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** "HH:MM" (24 h) of epoch ms, for the "alerts may be missing since" banner. */
export function formatClock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}

/** How long ago `iso` was at `now` (epoch ms): "just now", "5 min ago", "2 h 3 min ago", "3 d ago". */
export function relativeTime(iso, now = Date.now()) {
  const ms = Date.parse(iso);
  if (!iso || Number.isNaN(ms)) return "unknown";
  const seconds = Math.round((now - ms) / 1000);
  if (seconds < 45) return "just now"; // also covers a client clock slightly behind
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return minutes + " min ago";
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return hours + " h " + (minutes % 60) + " min ago";
  return Math.floor(hours / 24) + " d ago";
}

export function formatScore(score) {
  return typeof score === "number" && Number.isFinite(score) ? score.toFixed(1) : "—";
}

export function formatBattery(pct) {
  return typeof pct === "number" && Number.isFinite(pct) ? Math.round(pct) + " %" : "unknown";
}

export function capitalise(text) {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

/** What the alert is about: the citizen, or the drone or pipeline that fell silent. */
export function alertTitle(alert) {
  if (alert.kind === "drone_offline") return "Drone offline: " + alert.drone_id;
  // Many drones silent at once: the report pipeline, not the drones, is the likely cause.
  if (alert.kind === "pipeline") return "Fleet silent: check the report pipeline";
  return alert.citizen || "Unknown citizen";
}

/** The one-line name of an alert for a marker's title and a card's accessible name. */
export function alertLabel(alert) {
  return alert.severity + " alert, " + alert.status + ": " + alertTitle(alert);
}

/** Who the alert is assigned to, "(you)" when it is the officer at this page (`me`). */
export function assignedLabel(alert, me) {
  if (!alert.assigned_to) return "nobody";
  return alert.assigned_to === me ? alert.assigned_to + " (you)" : alert.assigned_to;
}

/** Who has the alert, for the compact card: assigned, then closed or acknowledged by whom; null if nobody. */
export function handlerText(alert, me) {
  const parts = [];
  if (alert.assigned_to) parts.push("assigned to " + assignedLabel(alert, me));
  if (alert.closed_by) parts.push(alert.status + " by " + alert.closed_by);
  else if (alert.acknowledged_by) parts.push("acknowledged by " + alert.acknowledged_by);
  return parts.length ? parts.join(", ") : null;
}

/** Who handled the alert and when, for the card's details. */
export function handledText(alert) {
  const handled = [];
  if (alert.acknowledged_by) handled.push("Acknowledged by " + alert.acknowledged_by + ", " + formatLocalTime(alert.acknowledged_at));
  if (alert.closed_by) handled.push(capitalise(alert.status) + " by " + alert.closed_by + ", " + formatLocalTime(alert.closed_at));
  return handled.length ? handled.join(". ") + "." : "Nobody has acknowledged it yet.";
}

/** A colleague as the assignment list names them: "Name (username)", "(you)" for the officer here. */
export function officerLabel(username, officers, me) {
  const officer = (officers || []).find((o) => o.username === username);
  const label = officer && officer.name ? officer.name + " (" + username + ")" : username;
  return username === me ? label + " (you)" : label;
}

/** One row of an alert's history (GET /api/v1/alerts/{id}/history/) in words. */
export function describeAction(row) {
  const who = row.by || "someone";
  if (row.action === "assigned") return who + (row.detail ? " assigned it to " + row.detail : " unassigned it");
  if (row.action === "noted") return who + " wrote: " + row.detail;
  return who + " " + row.action + " it";
}

/** Why the server refused a change: its detail, its field errors, or the HTTP status. */
export function describeFailure(httpStatus, body) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && typeof body === "object") {
    const parts = Object.entries(body).map(([field, errors]) =>
      field + ": " + (Array.isArray(errors) ? errors.join(" ") : String(errors))
    );
    if (parts.length) return parts.join("; ");
  }
  return "The change failed (HTTP " + httpStatus + ").";
}

export function shownText(shown) {
  return shown + (shown === 1 ? " alert shown" : " alerts shown");
}

/** `counts` as alert_list.js countByStatus gives them. */
export function openCountsText(counts) {
  return "Open: " + counts.new + " new, " + counts.acknowledged + " acknowledged";
}

/** What the screen reader hears when alerts arrive. */
export function announcement(alerts) {
  const first = alerts[0];
  return alerts.length === 1 ? "New " + first.severity + " alert: " + alertTitle(first) : alerts.length + " new alerts";
}

/** The page's title with the number of new alerts not yet seen. */
export function titleWithUnseen(baseTitle, unseen) {
  return unseen > 0 ? "(" + unseen + ") " + baseTitle : baseTitle;
}

export function bulkButtonText(status, count) {
  return BULK_VERBS[status][0] + " ticked" + (count ? " (" + count + ")" : "");
}

export function bulkQuestion(status, count) {
  return BULK_VERBS[status][0] + " " + count + (count === 1 ? " alert" : " alerts") + "? Every officer sees the change.";
}

export function bulkProgress(status, done, total) {
  return BULK_VERBS[status][0] + "… " + done + " of " + total;
}

export function bulkOutcome(status, done, failed, total) {
  return BULK_VERBS[status][1] + " " + (done - failed) + " of " + total + (failed ? "; " + failed + " refused (changed meanwhile?)" : ".");
}
