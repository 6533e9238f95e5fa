// Names suggested as an analyst types a citizen's name: an ARIA 1.2 combobox with a list popup.
//
// The input keeps focus throughout; the list is its `aria-controls`, the highlighted
// option its `aria-activedescendant`. Arrow keys (and Home/End) move through the
// names, Enter takes the highlighted one (with none highlighted it submits the form
// as before), Escape closes the list (and, closed, leaves the text alone). A tap or
// click takes a name. Names come from GET /api/v1/analytics/citizens/suggest
// (audited with the purpose of access, so nothing is asked without one), at most one
// request in flight, a moment after typing stops.

import { moveActive } from "./analytics_form.js";

const WAIT_MS = 200;
const MIN_CHARS = 2;
const LIMIT = 8;

/**
 * Make `input` a combobox. `fetchNames(prefix, signal)` resolves to [{name, count}];
 * `onPick(name)` runs when a name is taken.
 */
export function attachSuggest(input, { fetchNames, onPick = () => {} }) {
  const { el } = window.PeaceWatchDom;
  const listId = input.id + "-suggestions";
  const list = el("ul", { id: listId, role: "listbox", class: "suggestions", "aria-label": "Suggested names", hidden: true });
  const status = el("p", { class: "visually-hidden", "aria-live": "polite" });
  const wrap = el("div", { class: "combobox" });
  input.replaceWith(wrap);
  wrap.append(input, list, status);
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-expanded", "false");
  input.setAttribute("aria-controls", listId);

  let names = [];
  let active = -1;
  let timer = null;
  let controller = null;

  function optionId(i) {
    return listId + "-" + i;
  }

  function close() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
    active = -1;
  }

  function render() {
    list.replaceChildren(
      ...names.map((item, i) =>
        el(
          "li",
          { id: optionId(i), role: "option", "aria-selected": String(i === active), class: i === active ? "is-active" : null, dataset: { index: i } },
          el("span", { class: "suggestion-name", text: item.name }),
          el("span", { class: "suggestion-count", text: item.count === 1 ? "1 sighting" : item.count + " sightings" })
        )
      )
    );
    if (active >= 0) {
      input.setAttribute("aria-activedescendant", optionId(active));
      const node = list.children[active];
      if (node && node.scrollIntoView) node.scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function open(found) {
    names = found;
    active = -1;
    if (!names.length) {
      close();
      status.textContent = "No name starts like this.";
      return;
    }
    render();
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    status.textContent = names.length === 1 ? "1 name suggested." : names.length + " names suggested.";
  }

  function pick(i) {
    const item = names[i];
    if (!item) return;
    input.value = item.name;
    close();
    onPick(item.name);
  }

  async function ask() {
    const prefix = input.value.trim();
    if (prefix.length < MIN_CHARS) {
      close();
      return;
    }
    if (controller) controller.abort();
    const mine = (controller = new AbortController());
    let found;
    try {
      found = await fetchNames(prefix, mine.signal, LIMIT);
    } catch (error) {
      if (mine === controller) close();
      return;
    }
    if (mine !== controller || document.activeElement !== input) return;
    controller = null;
    open(found || []);
  }

  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, WAIT_MS);
  });
  input.addEventListener("keydown", (event) => {
    const expanded = !list.hidden;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!expanded) {
        if (names.length) {
          list.hidden = false;
          input.setAttribute("aria-expanded", "true");
        } else {
          ask();
          return;
        }
      }
      active = moveActive(active, event.key, names.length);
      render();
    } else if ((event.key === "Home" || event.key === "End") && expanded && active >= 0) {
      event.preventDefault();
      active = moveActive(active, event.key, names.length);
      render();
    } else if (event.key === "Enter" && expanded && active >= 0) {
      event.preventDefault(); // the name is taken; a second Enter runs the form
      pick(active);
    } else if (event.key === "Escape" && expanded) {
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  });
  input.addEventListener("blur", () => window.setTimeout(close, 150)); // after a tap on an option
  // pointerdown, not click: the input keeps focus (and a phone's keyboard stays up) while a name is taken.
  list.addEventListener("pointerdown", (event) => {
    const option = event.target.closest("li[role=option]");
    if (!option) return;
    event.preventDefault();
    pick(Number(option.dataset.index));
  });
  return { close };
}
