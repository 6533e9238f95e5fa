// The pieces an alert is drawn from on the officers' page, shared by the list's cards and the map's
// popups so both show the same facts and the same actions. DOM only; the words come from live_format.js.

import { canMove } from "./alert_list.js";
import { alertTitle, assignedLabel, formatLocalTime, formatScore } from "./live_format.js";

const { el } = window.PeaceWatchDom; // static/js/dom.js, a classic script loaded first

const ACTIONS = [
  { status: "acknowledged", label: "Acknowledge" },
  { status: "resolved", label: "Resolve" },
  { status: "dismissed", label: "Dismiss" },
];

export function fact(label, value) {
  return el("div", { class: "fact" }, el("dt", { text: label }), el("dd", {}, value));
}

export function severityBadge(alert) {
  return el("span", { class: "badge severity-badge severity-" + alert.severity, text: alert.severity });
}

export function statusBadge(alert) {
  return el("span", { class: "badge status-badge status-" + alert.status, text: alert.status });
}

/** Acknowledge / Resolve / Dismiss; always all three so the layout does not jump. `busy`: a change is in flight. */
export function actionButtons(alert, busy) {
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

/** Re-render `container`, then put focus back on the same element, the same button, or the container. */
export function keepFocusWhileRendering(container, render) {
  const active = document.activeElement;
  const hadFocus = active && active !== container && container.contains(active);
  const action = hadFocus && active.dataset ? active.dataset.action : null;
  render();
  if (!hadFocus) return;
  // A node kept across renders (a card's details: the note being typed, the assignee being chosen) is
  // detached and put back, which drops its focus: give it back, or the officer's next keys go elsewhere.
  if (container.contains(active)) {
    if (document.activeElement !== active) active.focus({ preventScroll: true });
    return;
  }
  const again = action ? container.querySelector('button[data-action="' + action + '"]') : null;
  const target = again && !again.disabled ? again : container;
  target.focus({ preventScroll: true });
}

/** A map popup's content, written into `node` (kept for the marker's life, so an open popup stays open). */
export function renderPopup(node, alert, { busy, me }) {
  node.dataset.alertId = String(alert.id);
  node.replaceChildren(
    el("div", { class: "popup-head" }, el("h2", { class: "popup-title", text: alertTitle(alert) }), severityBadge(alert)),
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
      fact("Assigned to", assignedLabel(alert, me)),
      alert.note ? fact("Note", alert.note) : null
    ),
    actionButtons(alert, busy),
    el("button", {
      type: "button",
      class: "details-toggle",
      dataset: { details: String(alert.id) },
      text: "Note, assignment, history",
    })
  );
}
