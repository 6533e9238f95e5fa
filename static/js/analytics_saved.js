// Saved queries on the analysts' page: the list (one page at a time), saving the form's query
// as written (a relative range stays relative), loading, renaming and deleting. What the API's
// pages and owners mean: analytics_saved_list.js.
import { localPath, ownerName, savedPage } from "./analytics_saved_list.js";

/**
 * `formQuery()` reads the form (throws when it cannot be a query: `showFormError` says why);
 * `onLoad(item)` puts a saved query back into the form and runs it.
 */
export function createSaved({ A, apiUrl, formQuery, showFormError, onLoad }) {
  const { el, api, announce } = A;
  const $ = (id) => document.getElementById(id);
  const dom = {
    form: $("save-form"),
    name: $("save-name"),
    shared: $("save-shared"),
    status: $("saved-status"),
    list: $("saved-list"),
    prev: $("saved-prev"),
    next: $("saved-next"),
  };
  let saved = { url: apiUrl, next: null, previous: null, items: [] };
  const itemUrl = (item) => apiUrl + encodeURIComponent(item.id) + "/";

  async function load(url, { focusId = null } = {}) {
    try {
      const from = url || apiUrl;
      saved = savedPage(await api(from), from, window.location.href);
    } catch (error) {
      dom.status.textContent = error.message;
      return;
    }
    render();
    if (focusId !== null) {
      const button = dom.list.querySelector('li[data-id="' + CSS.escape(String(focusId)) + '"] button');
      if (button) button.focus();
    }
  }

  function render() {
    const { items } = saved;
    dom.list.replaceChildren(...items.map(savedItem));
    if (!items.length) dom.list.append(el("li", { class: "hint", text: "No saved queries yet." }));
    dom.prev.disabled = !saved.previous;
    dom.next.disabled = !saved.next;
  }

  function savedItem(item) {
    const mine = item.can_edit;
    const head = el(
      "div",
      { class: "saved-head" },
      el("span", { class: "saved-name", text: item.name }),
      item.shared ? el("span", { class: "badge shared-badge", text: "shared" }) : null,
      mine ? null : el("span", { class: "saved-owner", text: "by " + ownerName(item.owner) })
    );
    const actions = el(
      "div",
      { class: "saved-actions" },
      el("button", { type: "button", dataset: { action: "load" }, "aria-label": "Load " + item.name, text: "Load" }),
      mine ? el("button", { type: "button", dataset: { action: "rename" }, "aria-label": "Rename " + item.name, text: "Rename" }) : null,
      mine ? el("button", { type: "button", dataset: { action: "delete" }, "aria-label": "Delete " + item.name, text: "Delete" }) : null
    );
    return el("li", { class: "saved-item", dataset: { id: String(item.id) } }, head, actions);
  }

  async function onClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const li = button.closest("li[data-id]");
    const item = saved.items.find((entry) => String(entry.id) === String(li.dataset.id));
    if (!item) return;
    const action = button.dataset.action;
    if (action === "load") {
      announce(dom.status, "Loaded “" + item.name + "”.");
      await onLoad(item);
    } else if (action === "rename") {
      startRename(li, item);
    } else if (action === "delete") {
      if (!window.confirm("Delete the saved query “" + item.name + "”?")) return;
      try {
        await api(localPath(itemUrl(item), window.location.href), { method: "DELETE" });
      } catch (error) {
        announce(dom.status, error.message);
        return;
      }
      announce(dom.status, "Deleted “" + item.name + "”.");
      await load(saved.url);
      dom.name.focus();
    }
  }

  function startRename(li, item) {
    const input = el("input", { type: "text", id: "rename-" + item.id, maxlength: "200", required: true, value: item.name });
    const form = el(
      "form",
      { class: "rename-form" },
      el("label", { for: "rename-" + item.id, text: "New name for “" + item.name + "”" }),
      input,
      el(
        "div",
        { class: "saved-actions" },
        el("button", { type: "submit", text: "Save name" }),
        el("button", { type: "button", dataset: { action: "cancel-rename" }, text: "Cancel" })
      )
    );
    const cancel = () => {
      render();
      const button = dom.list.querySelector('li[data-id="' + CSS.escape(String(item.id)) + '"] [data-action="rename"]');
      if (button) button.focus();
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (!name) return;
      try {
        await api(itemUrl(item), { method: "PATCH", body: { name } });
      } catch (error) {
        announce(dom.status, error.message);
        return;
      }
      announce(dom.status, "Renamed to “" + name + "”.");
      await load(saved.url, { focusId: item.id });
    });
    form.querySelector('[data-action="cancel-rename"]').addEventListener("click", cancel);
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        cancel();
      }
    });
    li.replaceChildren(form);
    input.focus();
    input.select();
  }

  async function onSave(event) {
    event.preventDefault();
    const name = dom.name.value.trim();
    if (!name) {
      dom.name.focus();
      return;
    }
    let query;
    try {
      query = formQuery();
    } catch (error) {
      showFormError(error);
      return;
    }
    let answer;
    try {
      answer = await api(apiUrl, { method: "POST", body: { name, query, shared: dom.shared.checked } });
    } catch (error) {
      announce(dom.status, error.message);
      return;
    }
    dom.name.value = "";
    dom.shared.checked = false;
    announce(dom.status, "Saved “" + name + "”" + (answer && answer.shared ? ", shared with other analysts." : "."));
    await load(apiUrl);
  }

  dom.form.addEventListener("submit", onSave);
  dom.list.addEventListener("click", onClick);
  dom.prev.addEventListener("click", () => load(saved.previous));
  dom.next.addEventListener("click", () => load(saved.next));
  return { load };
}
