// The analysts' query form: the form read as a Query (analytics/query.py) and a query put back
// into it (analytics_query.js), the area fields beside the map's area tool, and errors said next
// to their fields. Which fields count and what is wrong with them: analytics_form.js.
import { checkNumbers, hiddenControls, problemMessages } from "./analytics_form.js";
import { queryFromValues, valuesFromQuery } from "./analytics_query.js";
import { zoneName } from "./analytics_time.js";

function numberOf(input) {
  return input.value === "" ? null : Number(input.value);
}

/** Messages for an error: a problem's fields, a form check's, or one message for the form. */
function messagesOf(error) {
  if (error.messages) return error.messages;
  if (error.problem) return problemMessages(error.problem);
  return problemMessages({ field: error.field, detail: error.message });
}

/**
 * The form. `areaTool` is the map's (analytics_draw.js): it draws an area set in the fields, and
 * frames its view as the area of a kind picked in the form.
 */
export function createFields({ A, zone, areaTool }) {
  const { el, ApiError, SignedOutError } = A;
  const $ = (id) => document.getElementById(id);
  const dom = {
    form: $("query-form"),
    purpose: $("purpose"),
    time: $("q-time"),
    timeCustom: $("q-time-custom"),
    from: $("q-from"),
    to: $("q-to"),
    drones: $("q-drones"),
    citizen: $("q-citizen"),
    citizenMatch: $("q-citizen-match"),
    words: $("q-words"),
    wordsMatch: $("q-words-match"),
    scoreMin: $("q-score-min"),
    scoreMax: $("q-score-max"),
    alertsOnly: $("q-alerts-only"),
    area: $("q-area"),
    areaBox: $("q-area-box"),
    areaCircle: $("q-area-circle"),
    south: $("q-south"),
    west: $("q-west"),
    north: $("q-north"),
    east: $("q-east"),
    lat: $("q-lat"),
    lon: $("q-lon"),
    radius: $("q-radius"),
    top: $("q-top"),
    size: $("q-size"),
    sort: $("q-sort"),
    stopWords: $("q-stop-words"),
    formError: $("form-error"),
  };
  let area = null; // the query's area: null, {box} or {circle}

  /** What is wrong with the visible fields, as messages; hidden ones are not part of the query. */
  function checkVisible() {
    const hidden = hiddenControls({ time: dom.time.value, area: dom.area.value });
    const values = {};
    const unreadable = new Set();
    for (const input of dom.form.querySelectorAll('input[type="number"]')) {
      values[input.id] = input.value;
      if (input.validity && input.validity.badInput) unreadable.add(input.id);
    }
    return checkNumbers(values, hidden, unreadable);
  }

  /** The fields' values as analytics_query.js reads them. */
  function values() {
    return {
      time: dom.time.value,
      from: dom.from.value,
      to: dom.to.value,
      drones: dom.drones.value,
      citizen: dom.citizen.value,
      citizenMatch: dom.citizenMatch.value,
      words: dom.words.value,
      wordsMatch: dom.wordsMatch.value,
      scoreMin: dom.scoreMin.value,
      scoreMax: dom.scoreMax.value,
      alertsOnly: dom.alertsOnly.checked,
      area,
      aggs: Array.from(dom.form.querySelectorAll('input[name="aggs"]:checked'), (box) => box.value),
      top: dom.top.value,
      size: dom.size.value,
      sort: dom.sort.value,
      stopWords: dom.stopWords.checked,
    };
  }

  /** The form as a Query (analytics/query.py); throws ApiError naming the field when it cannot be one. */
  function query() {
    const wrong = checkVisible();
    if (wrong.length) {
      const error = new ApiError(wrong.map((w) => w.message).join(" "), { field: "" });
      error.messages = wrong;
      throw error;
    }
    const asked = queryFromValues(values(), zone);
    if (asked.error) throw new ApiError(asked.error.message, { field: asked.error.field });
    return asked.query;
  }

  function selectValue(select, value, label) {
    if (!Array.from(select.options).some((option) => option.value === value)) {
      select.append(el("option", { value, text: label || value }));
    }
    select.value = value;
  }

  /** Put a saved (or remembered, or narrowed) query back into the form. */
  function fill(query) {
    const shown = valuesFromQuery(query, zone);
    dom.form.reset();
    if (shown.time === "custom") dom.time.value = "custom";
    else selectValue(dom.time, shown.time, "Last " + shown.time);
    dom.from.value = shown.from;
    dom.to.value = shown.to;
    for (const name of ["drones", "citizen", "citizenMatch", "wordsMatch", "words", "scoreMin", "scoreMax", "sort"]) {
      dom[name].value = shown[name];
    }
    dom.alertsOnly.checked = shown.alertsOnly;
    const aggs = new Set(shown.aggs);
    for (const box of dom.form.querySelectorAll('input[name="aggs"]')) box.checked = aggs.has(box.value);
    selectValue(dom.top, shown.top);
    selectValue(dom.size, shown.size);
    dom.stopWords.checked = shown.stopWords;
    setArea(shown.area);
    syncTimeFields();
  }

  function syncTimeFields() {
    const custom = dom.time.value === "custom";
    dom.timeCustom.hidden = !custom;
    dom.from.required = custom;
  }

  // ------------------------------------------------------------------ area

  function setArea(next, { fromMap = false } = {}) {
    area = next && (next.box || next.circle) ? next : null;
    const kind = area ? (area.box ? "box" : "circle") : "none";
    dom.area.value = kind;
    dom.areaBox.hidden = kind !== "box";
    dom.areaCircle.hidden = kind !== "circle";
    if (area && area.box) {
      const b = area.box;
      [dom.south.value, dom.west.value, dom.north.value, dom.east.value] = [b.south, b.west, b.north, b.east];
    }
    if (area && area.circle) {
      const c = area.circle;
      [dom.lat.value, dom.lon.value, dom.radius.value] = [c.lat, c.lon, c.radius_m];
    }
    if (!fromMap) areaTool.show(area);
  }

  function onAreaFieldChange() {
    if (dom.area.value === "box") {
      const values = [dom.south, dom.west, dom.north, dom.east].map(numberOf);
      if (values.some((v) => v === null || Number.isNaN(v))) return;
      const [south, west, north, east] = values;
      setArea({ box: { south, west, north, east } });
    } else if (dom.area.value === "circle") {
      const values = [dom.lat, dom.lon, dom.radius].map(numberOf);
      if (values.some((v) => v === null || Number.isNaN(v))) return;
      const [lat, lon, radius_m] = values;
      setArea({ circle: { lat, lon, radius_m } });
    }
  }

  // ---------------------------------------------------------------- errors

  function clearError() {
    dom.formError.replaceChildren();
    for (const node of document.querySelectorAll(".field-error")) node.remove();
    for (const node of [dom.purpose, ...dom.form.querySelectorAll('[aria-invalid="true"]')]) {
      node.removeAttribute("aria-invalid");
      node.removeAttribute("aria-errormessage");
    }
  }

  /** Each message under its field (the field marked invalid), and a summary at the form's end. */
  function showError(error) {
    clearError();
    if (error instanceof SignedOutError) {
      dom.formError.append(error.message + " ", el("a", { href: "/accounts/login/?next=/analytics/", text: "Sign in" }));
      return;
    }
    const messages = messagesOf(error);
    let first = null;
    const general = [];
    for (const { control: id, message } of messages) {
      const control = id ? $(id) : null;
      if (!control) {
        general.push(message);
        continue;
      }
      const note = el("p", { id: id + "-error", class: "field-error", text: message });
      // Below the field (and the select beside it, when the two share a row).
      const anchor = control.closest(".inline, .combobox") || control;
      anchor.after(note);
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-errormessage", note.id);
      first = first || control;
    }
    const placed = messages.filter((m) => m.control && $(m.control)).map((m) => m.message);
    const summary = placed.length ? "The query did not run. " + placed.join(" ") : "";
    dom.formError.textContent = [...general, summary].filter(Boolean).join(" ");
    if (first) first.focus();
  }

  // ---------------------------------------------------------------- events

  dom.time.addEventListener("change", syncTimeFields);
  // The custom range is typed in the force's display zone, and says so.
  for (const [input, word] of [[dom.from, "From"], [dom.to, "To"]]) {
    const label = document.querySelector('label[for="' + input.id + '"]');
    if (label) label.textContent = word + " (" + zoneName(zone) + ")";
  }
  dom.area.addEventListener("change", () => {
    const kind = dom.area.value;
    if (kind === "none") setArea(null);
    else setArea(areaTool.areaFromView(kind));
  });
  for (const input of [dom.south, dom.west, dom.north, dom.east, dom.lat, dom.lon, dom.radius]) {
    input.addEventListener("change", onAreaFieldChange);
  }

  return {
    query,
    fill,
    showError,
    clearError,
    /** The map's area (drawn there): the fields follow, the map keeps it. */
    areaFromMap: (next) => setArea(next, { fromMap: true }),
    get area() {
      return area;
    },
    focusTime: () => dom.time.focus(),
  };
}
