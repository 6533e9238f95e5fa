// The officers' alert list: one compact card per alert the filters keep, in the order alert_list.js says,
// moved only when its neighbours no longer agree; keyboard moves between cards; the counts above the list
// and the panel's message. What the list shows and in what order is in alert_list.js; the card's own
// actions and details are live_card.js.

import { compareAlerts, countByStatus } from "./alert_list.js";
import {
  alertLabel,
  alertTitle,
  formatLocalTime,
  formatScore,
  handlerText,
  openCountsText,
  relativeTime,
  shownText,
} from "./live_format.js";
import { actionButtons, keepFocusWhileRendering, severityBadge, statusBadge } from "./live_widgets.js";

const { el } = window.PeaceWatchDom;

/**
 * `dom` holds the panel's elements; `state` the page's state (alerts, order, selected, flashing, pending,
 * connection); `me` the officer's username. `detailsOf(alert)` gives the card's open or closed details
 * element, if it has one; `onSelectionChange()` runs when ticks are dropped; `showOnMap(id)` is false
 * when the alert has no marker.
 */
export function createListView({ dom, state, me, detailsOf, onSelectionChange, showOnMap }) {
  const listItems = new Map(); // id -> <li>

  function listOrder(a, b) {
    return compareAlerts(a, b, state.order);
  }

  function alertOfItem(node) {
    return state.alerts.get(Number(node.dataset.alertId));
  }

  function render(alert) {
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
    ]
      .join(" ")
      .trim();
    item.dataset.status = alert.status;
    item.setAttribute("aria-label", alertLabel(alert));
    // replaceChildren writes a null as the text "null": only the parts there are.
    keepFocusWhileRendering(item, () => item.replaceChildren(...itemContent(alert).filter(Boolean)));
    placeItem(item, alert, isNew);
  }

  /** One compact card: what, how bad, where, when, who has it; its details (note, assignment, history) on demand. */
  function itemContent(alert) {
    const box = detailsOf(alert);
    const handler = handlerText(alert, me);
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
        handler ? el("span", { class: "item-handler", text: " · " + handler }) : null
      ),
      el(
        "div",
        { class: "item-actions" },
        actionButtons(alert, state.pending.has(alert.id)),
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
  function resort() {
    const items = Array.from(dom.list.children);
    items.sort((a, b) => listOrder(alertOfItem(a), alertOfItem(b)));
    dom.list.append(...items);
  }

  function remove(id) {
    const item = listItems.get(id);
    if (!item) return;
    const hadFocus = item.contains(document.activeElement);
    const neighbour = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    listItems.delete(id);
    if (state.selected.delete(id)) onSelectionChange();
    // Keyboard users must not be thrown back to the top of the page when the
    // alert they just resolved leaves the list.
    if (hadFocus) (neighbour || dom.list).focus({ preventScroll: false });
  }

  /** Bring the cards of these alerts in line with the state; `shows(alert)` says whether the filters keep it. */
  function update(ids, shows) {
    for (const id of ids) {
      const alert = state.alerts.get(id);
      if (alert && shows(alert)) render(alert);
      else remove(id);
    }
  }

  function updateCount() {
    const shown = listItems.size;
    dom.count.textContent = shownText(shown);
    dom.empty.hidden = shown > 0;
    // Every open alert is held (the first load takes them all), so these two counts are the force's.
    const text = openCountsText(countByStatus(state.alerts.values()));
    if (dom.statusCounts.textContent !== text) dom.statusCounts.textContent = text;
  }

  function refreshRelativeTimes() {
    for (const node of dom.list.querySelectorAll("time.rel-time")) {
      node.textContent = relativeTime(node.getAttribute("datetime"));
    }
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

  // -------------------------------------------------------------------- events

  function show(id) {
    if (!showOnMap(id)) showMessage("This alert has no position on the map.");
  }

  function onListChange(event) {
    const box = event.target.closest("input.select-alert");
    if (!box) return;
    const id = Number(box.dataset.alertId);
    if (box.checked) state.selected.add(id);
    else state.selected.delete(id);
    onSelectionChange();
  }

  function onListClick(event) {
    // Buttons handle themselves; ticking, typing a note or choosing a colleague is not "show on map".
    if (event.target.closest("button, a, input, textarea, select, label, .alert-details")) return;
    const item = event.target.closest("li[data-alert-id]");
    if (item) show(Number(item.dataset.alertId));
  }

  function onListKeydown(event) {
    const item = event.target.closest("li[data-alert-id]");
    if (!item || event.target !== item) return; // keys on buttons keep their meaning
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      show(Number(item.dataset.alertId));
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

  function bind() {
    dom.list.addEventListener("change", onListChange);
    dom.list.addEventListener("click", onListClick);
    dom.list.addEventListener("keydown", onListKeydown);
    dom.messageDismiss.addEventListener("click", () => {
      dom.message.replaceChildren();
      dom.messageDismiss.hidden = true;
    });
  }

  return {
    update,
    resort,
    updateCount,
    refreshRelativeTimes,
    showMessage,
    clearMessage,
    bind,
    item: (id) => listItems.get(id),
    shownIds: () => Array.from(listItems.keys()),
  };
}
