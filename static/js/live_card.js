// What an officer does from an alert's card or popup: acknowledge, resolve or dismiss it, open its
// details (who handled it, a note, an assignment, its history), and tick alerts to acknowledge or dismiss
// them together after a confirmation. Every change is a PATCH, queued per alert (live_patch_queue.js).

import { canMove, movable } from "./alert_list.js";
import { isAlertShape } from "./alert_sync.js";
import { SignedOutError, getAllResults, patchJson } from "./live_api.js";
import {
  bulkButtonText,
  bulkOutcome,
  bulkProgress,
  bulkQuestion,
  describeAction,
  describeFailure,
  formatLocalTime,
  handledText,
  officerLabel,
} from "./live_format.js";
import { PatchQueue, runAtMost } from "./live_patch_queue.js";

const { el } = window.PeaceWatchDom;

const BULK_AT_ONCE = 4; // PATCHes in flight at once

/**
 * `dom` holds the panel's elements; `state` the page's state; `config` the page's config (alertsApi,
 * username); `list` the live_list_view.js list; `reconcile(ids)` redraws alerts; `applyAlerts` keeps
 * the server's answers; `signOut()` ends the feed.
 */
export function createCard({ dom, state, config, list, reconcile, applyAlerts, signOut }) {
  const details = new Map(); // id -> the card's details element, kept across renders (a note being typed survives)
  const patches = new PatchQueue();
  let bulkAsked = null; // the status the confirmation is asking about

  // ---------------------------------------------------------------- details

  /** The card's details element, drawn afresh if open; undefined until first opened. */
  function detailsOf(alert) {
    const box = details.get(alert.id);
    if (box && !box.hidden) renderDetails(box, alert);
    return box;
  }

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
    box.querySelector(".details-handled").textContent = handledText(alert);
    const note = box.querySelector("textarea");
    // A note being written is never overwritten by a live update; a saved one shows as the server has it.
    if (!note.dataset.dirty && document.activeElement !== note) note.value = alert.note || "";
    const select = box.querySelector("select");
    const wanted = alert.assigned_to || "";
    const names = [""].concat((state.officers || []).map((o) => o.username));
    if (wanted && !names.includes(wanted)) names.push(wanted);
    if (select.dataset.names !== names.join("\n")) {
      select.replaceChildren(
        ...names.map((name) =>
          el("option", { value: name, text: name ? officerLabel(name, state.officers, config.username) : "nobody" })
        )
      );
      select.dataset.names = names.join("\n");
    }
    if (document.activeElement !== select) select.value = wanted;
    if (box.dataset.historyVersion && Number(box.dataset.historyVersion) !== alert.version) loadHistory(alert.id);
  }

  /** The colleagues an alert can be assigned to, loaded when a card first needs them. */
  async function ensureOfficers() {
    if (state.officers) return;
    state.officers = [];
    try {
      state.officers = await getAllResults("/api/v1/officers/?page_size=1000");
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
    const history = box.querySelector(".details-history");
    try {
      const rows = await getAllResults(config.alertsApi + encodeURIComponent(id) + "/history/?page_size=200");
      history.replaceChildren(
        el("li", { text: "Raised " + formatLocalTime(alert.raised_at) }),
        ...rows.map((row) =>
          el("li", {}, el("time", { datetime: row.at, text: formatLocalTime(row.at) }), " " + describeAction(row))
        )
      );
    } catch (error) {
      if (error instanceof SignedOutError) signOut();
      else history.replaceChildren(el("li", { text: "The history could not be loaded." }));
    }
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

  /** "Details" in the list toggles the card open; in a map popup it opens the card in the list and goes there. */
  function openDetailsFrom(button) {
    const id = Number(button.dataset.details);
    const item = list.item(id);
    if (!button.closest(".alert-popup")) {
      toggleDetails(id);
      return;
    }
    if (!item) {
      list.showMessage("This alert is not in the list with the current filters.");
      return;
    }
    const box = details.get(id);
    if (!box || box.hidden) toggleDetails(id);
    item.scrollIntoView({ block: "nearest" });
    details.get(id).querySelector("textarea").focus();
  }

  // ---------------------------------------------------------------- changes

  async function changeStatus(id, status) {
    const alert = state.alerts.get(id);
    if (!alert || !canMove(alert.status, status)) return false;
    // Checked again when its turn comes: a change queued behind another may no longer apply.
    return patchAlert(id, { status }, { still: (current) => canMove(current.status, status) });
  }

  /** PATCH one alert (status, note, assignment); resolves true when the server took it. */
  function patchAlert(id, change, options = {}) {
    return patches.run(id, () => sendPatch(id, change, options));
  }

  async function sendPatch(id, change, { quiet = false, still = () => true } = {}) {
    const current = state.alerts.get(id);
    if (!current || !still(current)) return false;
    state.pending.add(id);
    reconcile([id]);
    try {
      const { ok, status, body } = await patchJson(config.alertsApi + encodeURIComponent(id) + "/", change);
      if (ok && isAlertShape(body)) {
        if (!quiet) list.clearMessage();
        applyAlerts([body], { announce: false });
        return true;
      }
      if (!quiet) list.showMessage(describeFailure(status, body));
      return false;
    } catch (error) {
      if (!quiet) list.showMessage("Could not reach the server; the alert was not changed. Try again.");
      return false;
    } finally {
      state.pending.delete(id);
      reconcile([id]);
    }
  }

  // ------------------------------------------------------------------- bulk

  function ticked() {
    return Array.from(state.selected, (id) => state.alerts.get(id)).filter(Boolean);
  }

  function renderBulk() {
    const chosen = ticked();
    for (const button of dom.bulkButtons) {
      const count = movable(chosen, button.dataset.bulk).length;
      button.disabled = count === 0 || bulkAsked !== null;
      button.textContent = bulkButtonText(button.dataset.bulk, count);
    }
    const shown = list.shownIds();
    dom.selectShown.checked = shown.length > 0 && shown.every((id) => state.selected.has(id));
    dom.selectShown.indeterminate = !dom.selectShown.checked && shown.some((id) => state.selected.has(id));
  }

  function askBulk(status) {
    const count = movable(ticked(), status).length;
    if (!count) return;
    bulkAsked = status;
    dom.bulkQuestion.textContent = bulkQuestion(status, count);
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
    const targets = movable(ticked(), status).map((alert) => alert.id);
    closeBulkQuestion();
    let done = 0;
    let failed = 0;
    dom.bulkProgress.textContent = bulkProgress(status, 0, targets.length);
    await runAtMost(targets, BULK_AT_ONCE, async (id) => {
      if (await patchAlert(id, { status }, { quiet: true })) state.selected.delete(id);
      else failed += 1;
      done += 1;
      dom.bulkProgress.textContent = bulkProgress(status, done, targets.length);
    });
    dom.bulkProgress.textContent = bulkOutcome(status, done, failed, targets.length);
    reconcile(targets);
    renderBulk();
  }

  function onSelectShown() {
    const ids = list.shownIds();
    if (dom.selectShown.checked) ids.forEach((id) => state.selected.add(id));
    else ids.forEach((id) => state.selected.delete(id));
    reconcile(ids);
    renderBulk();
  }

  // ----------------------------------------------------------------- events

  /** Clicks on a card's or popup's buttons: an action, a save in the details, or Details. */
  function onActionClick(event) {
    const button = event.target.closest("button[data-action], button[data-details], button[data-save]");
    if (!button || button.disabled) return;
    event.stopPropagation(); // a button press is not a "show on map"
    if (button.dataset.action) changeStatus(Number(button.dataset.alertId), button.dataset.action);
    else if (button.dataset.save) onDetailsSave(button);
    else openDetailsFrom(button);
  }

  function bind() {
    dom.selectShown.addEventListener("change", onSelectShown);
    for (const button of dom.bulkButtons) button.addEventListener("click", () => askBulk(button.dataset.bulk));
    dom.bulkYes.addEventListener("click", runBulk);
    dom.bulkNo.addEventListener("click", closeBulkQuestion);
    dom.bulkConfirm.addEventListener("keydown", (event) => {
      if (event.key === "Escape") closeBulkQuestion();
    });
    // Before the list's own click handler: a button press must not also show the alert on the map.
    dom.list.addEventListener("click", onActionClick);
  }

  return { detailsOf, renderBulk, onActionClick, bind };
}
