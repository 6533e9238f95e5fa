/*
 * PeaceWatch — the analysts' page (templates/analytics/analytics.html).
 *
 * The form is turned into the query JSON of analytics/query.py (`Query`) and
 * POSTed to /api/v1/reports/search. The first page asks for the aggregations
 * (charts, heat map); later pages ask only for hits, continuing from the
 * previous page's `next` cursor, with the time range frozen to what the first
 * page resolved ("last 24 h" must not slide while paging or exporting, or the
 * pages and the total would disagree). Saved queries keep the form's query
 * as written (a relative range stays relative), exports take the frozen one.
 *
 * Strict CSP: no inline script, no HTML from data (textContent only). A module: the
 * form's rules (analytics_form.js), times in the display zone (analytics_time.js)
 * and the name suggestions (citizen_suggest.js) are modules of their own.
 *
 * Never misleading: a query that cannot run says why next to the field and clears
 * the previous answer (total, rows, charts, map) rather than leave it on screen as
 * if it answered; fields a later choice hid are not part of the query; an empty
 * answer says "No reports match" instead of drawing empty axes, and export is off.
 *
 * Drill-down: a word, a drone, a time bar (or a span dragged across the time chart) or a
 * heat-map cell, selected on its chart or in the list or table below it, narrows the
 * query last run (analytics_drill.js), which goes back into the form and runs again.
 * The page keeps no browser history of its queries, so "Undo" steps back instead.
 */
import { addDrone, addWord, describe, narrowArea, narrowTime } from "./analytics_drill.js";
import { checkNumbers, hiddenControls, problemMessages } from "./analytics_form.js";
import { axisLabel, formatInstant, isoToZoned, zoneName, zonedToIso } from "./analytics_time.js";
import { attachSuggest } from "./citizen_suggest.js";

(function () {
  "use strict";

  const A = window.PeaceWatchAnalytics;
  const { el, api, ApiError, SignedOutError, formatCount, formatScore, plural, announce } = A;

  const PRESETS = ["15m", "1h", "24h", "7d", "30d"];
  const AGGS = ["histogram", "top_citizens", "top_drones", "top_words", "score", "grid"];
  const QUERY_DEFAULTS = { top: 10, size: 50 }; // analytics/query.py, Query
  const STORAGE_KEY = "peacewatch.analytics.query";
  const EXPORT_POLL_MS = 1000;
  const DRAG_PX = 8; // a shorter move across the time chart is a click on a bar
  const MAX_CITIZENS_SHOWN = 8;
  const MAX_WORDS_SHOWN = 12;
  const HEAT_COLOURS = ["#fde0c5", "#facba6", "#f59e72", "#e8603c", "#c23a22", "#8f1111"];
  const CHART_COLOUR = "#1f5fbf";
  const ALERT_COLOUR = "#8f1111";

  const config = A.readConfig();
  const threshold = typeof config.threshold === "number" ? config.threshold : 20;
  const zone = config.display_time_zone || "UTC";
  const when = (iso) => formatInstant(iso, zone);
  const timeNode = (iso) => el("time", { datetime: iso, text: when(iso) });

  const $ = (id) => document.getElementById(id);
  const dom = {
    form: $("query-form"),
    purposeForm: $("purpose-form"),
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
    visuals: document.querySelector(".visuals"),
    tops: document.querySelector(".tops"),
    noMatch: $("no-match"),
    exportReason: $("export-reason"),
    reset: $("reset-query"),
    formError: $("form-error"),
    count: $("result-count"),
    range: $("result-range"),
    sources: $("result-sources"),
    exportButtons: [$("export-csv"), $("export-ndjson")],
    exportBox: $("export-box"),
    exportLabel: $("export-label"),
    exportProgress: $("export-progress"),
    exportText: $("export-text"),
    exportLink: $("export-link"),
    exportAnnouncer: $("export-announcer"),
    map: $("an-map"),
    gridTable: document.querySelector("#grid-table tbody"),
    results: document.querySelector(".results"),
    tbody: document.querySelector("#results-table tbody"),
    empty: $("results-empty"),
    pageInfo: $("page-info"),
    prev: $("page-prev"),
    next: $("page-next"),
    saveForm: $("save-form"),
    saveName: $("save-name"),
    saveShared: $("save-shared"),
    savedStatus: $("saved-status"),
    savedList: $("saved-list"),
    savedPrev: $("saved-prev"),
    savedNext: $("saved-next"),
    drillStatus: $("drill-status"),
    drillUndo: $("drill-undo"),
    histogramCanvas: $("chart-histogram"),
  };

  const state = {
    area: null, // the query's area: null, {box} or {circle}
    query: null, // the query as last run from the form
    frozen: null, // the same with the time range the first page resolved
    total: null,
    result: null, // the last page received
    busy: false,
    controller: null,
    pager: new A.CursorPager(),
    charts: {},
    exportJob: null,
    exportTimer: null,
    exporting: false,
    exportSaid: 0,
    purpose: "", // sent beside every search of the current query, and its exports
    saved: { url: config.saved_queries_api, next: null, previous: null, items: [] },
    undo: [], // the queries each drill-down narrowed, latest last
    histogram: { keys: [], interval: "" }, // the time chart's buckets, for a click or a drag on it
  };

  // ------------------------------------------------------------ form <-> query

  function splitList(text, pattern) {
    return text
      .split(pattern)
      .map((part) => part.trim())
      .filter(Boolean);
  }

  function numberOf(input) {
    return input.value === "" ? null : Number(input.value);
  }

  /** A datetime-local value, typed in the force's display zone, as an RFC 3339 instant. */
  function localToIso(value) {
    return zonedToIso(value, zone);
  }

  function isoToLocal(iso) {
    return isoToZoned(iso, zone);
  }

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

  /** The form as a Query (analytics/query.py); throws ApiError naming the field when it cannot be one. */
  function formQuery() {
    const wrong = checkVisible();
    if (wrong.length) {
      const error = new ApiError(wrong.map((w) => w.message).join(" "), { field: "" });
      error.messages = wrong;
      throw error;
    }
    const query = {};
    if (dom.time.value === "custom") {
      const from = dom.from.value ? localToIso(dom.from.value) : null;
      const to = dom.to.value ? localToIso(dom.to.value) : null;
      if (!from) throw new ApiError("Give the start of the time range.", { field: "time.from" });
      if (to && to <= from) throw new ApiError("The range must end after it starts.", { field: "time.to" });
      query.time = to ? { from, to } : { from };
    } else {
      query.time = { last: dom.time.value };
    }
    const drones = splitList(dom.drones.value, /[\s,;]+/);
    if (drones.length) query.drones = drones;
    const name = dom.citizen.value.trim();
    if (name) query.citizen = { name, match: dom.citizenMatch.value };
    const words = splitList(dom.words.value, /,/);
    if (words.length) query.words = { [dom.wordsMatch.value]: words };
    const min = numberOf(dom.scoreMin);
    const max = numberOf(dom.scoreMax);
    if (min !== null || max !== null) {
      if (min !== null && max !== null && min > max) {
        throw new ApiError("The lowest peacescore is above the highest.", { field: "score.min" });
      }
      query.score = {};
      if (min !== null) query.score.min = min;
      if (max !== null) query.score.max = max;
    }
    if (state.area) query.area = state.area;
    if (dom.alertsOnly.checked) query.alerts_only = true;
    query.aggs = Array.from(dom.form.querySelectorAll('input[name="aggs"]:checked'), (box) => box.value);
    query.top = Number(dom.top.value);
    query.size = Number(dom.size.value);
    query.sort = dom.sort.value;
    if (!dom.stopWords.checked) query.stop_words = "keep";
    return query;
  }

  function selectValue(select, value, label) {
    if (!Array.from(select.options).some((option) => option.value === value)) {
      select.append(el("option", { value, text: label || value }));
    }
    select.value = value;
  }

  /** Put a saved (or remembered) query back into the form. */
  function fillForm(query) {
    dom.form.reset();
    const time = query.time || { last: "24h" };
    if (time.last) {
      selectValue(dom.time, time.last, "Last " + time.last);
    } else {
      dom.time.value = "custom";
      dom.from.value = time.from ? isoToLocal(time.from) : "";
      dom.to.value = time.to ? isoToLocal(time.to) : "";
    }
    dom.drones.value = (query.drones || []).join(", ");
    dom.citizen.value = query.citizen ? query.citizen.name : "";
    dom.citizenMatch.value = query.citizen && query.citizen.match === "prefix" ? "prefix" : "exact";
    const words = query.words || {};
    const all = words.all && words.all.length;
    dom.wordsMatch.value = all ? "all" : "any";
    dom.words.value = ((all ? words.all : words.any) || []).join(", ");
    dom.scoreMin.value = query.score && query.score.min != null ? query.score.min : "";
    dom.scoreMax.value = query.score && query.score.max != null ? query.score.max : "";
    dom.alertsOnly.checked = !!query.alerts_only;
    // Saved queries come back normalised: a field at the API's default is left out.
    const aggs = new Set(query.aggs || []);
    for (const box of dom.form.querySelectorAll('input[name="aggs"]')) box.checked = aggs.has(box.value);
    selectValue(dom.top, String(query.top ?? QUERY_DEFAULTS.top));
    selectValue(dom.size, String(query.size ?? QUERY_DEFAULTS.size));
    dom.sort.value = query.sort === "oldest" ? "oldest" : "newest";
    dom.stopWords.checked = query.stop_words !== "keep";
    setArea(query.area || null);
    syncTimeFields();
  }

  function syncTimeFields() {
    const custom = dom.time.value === "custom";
    dom.timeCustom.hidden = !custom;
    dom.from.required = custom;
  }

  // ---------------------------------------------------------------------- area

  function setArea(area, { fromMap = false } = {}) {
    state.area = area && (area.box || area.circle) ? area : null;
    const kind = state.area ? (state.area.box ? "box" : "circle") : "none";
    dom.area.value = kind;
    dom.areaBox.hidden = kind !== "box";
    dom.areaCircle.hidden = kind !== "circle";
    if (state.area && state.area.box) {
      const b = state.area.box;
      [dom.south.value, dom.west.value, dom.north.value, dom.east.value] = [b.south, b.west, b.north, b.east];
    }
    if (state.area && state.area.circle) {
      const c = state.area.circle;
      [dom.lat.value, dom.lon.value, dom.radius.value] = [c.lat, c.lon, c.radius_m];
    }
    if (!fromMap) draw.show(state.area);
  }

  function onAreaKindChange() {
    const kind = dom.area.value;
    if (kind === "none") setArea(null);
    else setArea(draw.areaFromView(kind));
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

  // ----------------------------------------------------------------- errors

  /** Messages for an error: a problem's fields, a form check's, or one message for the form. */
  function messagesOf(error) {
    if (error.messages) return error.messages;
    if (error.problem) return problemMessages(error.problem);
    return problemMessages({ field: error.field, detail: error.message });
  }

  function clearFormError() {
    dom.formError.replaceChildren();
    for (const node of document.querySelectorAll(".field-error")) node.remove();
    for (const node of [dom.purpose, ...dom.form.querySelectorAll('[aria-invalid="true"]')]) {
      node.removeAttribute("aria-invalid");
      node.removeAttribute("aria-errormessage");
    }
  }

  /** Each message under its field (the field marked invalid), and a summary at the form's end. */
  function showFormError(error) {
    clearFormError();
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

  /** A query that did not run leaves no answer on screen that looks like its own. */
  function clearAnswer(reason) {
    state.frozen = null;
    state.total = null;
    state.result = null;
    state.pager.reset();
    dom.count.textContent = reason;
    delete dom.count.dataset.total;
    dom.range.replaceChildren();
    renderSources([], {});
    dom.tbody.replaceChildren();
    dom.empty.hidden = true;
    dom.pageInfo.textContent = "";
    showCharts(false);
    dom.noMatch.hidden = true;
    renderGrid(null, false);
    updatePager();
    setExportButtons(state.exporting);
  }

  function showCharts(visible) {
    dom.visuals.classList.toggle("no-charts", !visible);
    for (const name of AGGS) {
      const panel = name === "grid" ? null : $("panel-" + name);
      if (panel && !visible) panel.hidden = true;
    }
    if (!visible) dom.tops.hidden = true;
  }

  // ----------------------------------------------------------------- search

  async function search(body) {
    if (state.controller) state.controller.abort();
    const controller = (state.controller = new AbortController());
    setBusy(true);
    try {
      const sent = state.purpose ? { ...body, purpose: state.purpose } : body;
      return await api(config.search_api, { method: "POST", body: sent, signal: controller.signal });
    } finally {
      if (state.controller === controller) {
        state.controller = null;
        setBusy(false);
      }
    }
  }

  function setBusy(busy) {
    state.busy = busy;
    dom.results.setAttribute("aria-busy", String(busy));
    document.body.classList.toggle("is-searching", busy);
    updatePager();
  }

  async function runQuery() {
    clearFormError();
    let query;
    try {
      state.purpose = A.takePurpose(dom.purpose, config.require_purpose);
      query = formQuery();
    } catch (error) {
      showFormError(error);
      clearAnswer(
        error.field === "purpose" ? "Give the purpose of access to search." : "The query did not run: see the form."
      );
      return;
    }
    dom.count.textContent = "Searching…";
    let result;
    try {
      result = await search({ ...query, after: null });
    } catch (error) {
      if (error.name === "AbortError") return;
      showFormError(error);
      clearAnswer("The query did not run: see the form.");
      return;
    }
    state.query = query;
    // Frozen by arrival too: later pages and the export count exactly the reports this total counted,
    // not the late ones (observed in the range, stored since) that a new run would add.
    state.frozen = { ...query, time: { from: result.query.from, to: result.query.to } };
    if (result.as_of) state.frozen.arrived_before = result.as_of;
    state.total = result.total;
    state.pager.reset();
    state.pager.landed(0, result.next);
    remember(query);
    renderSummary(result);
    renderAggregations(query, result.aggregations || {}, result.total);
    renderHits(result);
    setExportButtons(state.exporting);
  }

  async function goToPage(direction) {
    if (!state.frozen || state.busy) return;
    const after = state.pager.target(direction);
    if (direction > 0 && !after) return;
    let result;
    try {
      result = await search({ ...state.frozen, aggs: [], after });
    } catch (error) {
      if (error.name === "AbortError") return;
      showFormError(error);
      return;
    }
    state.pager.landed(direction, result.next);
    if (typeof result.total === "number") state.total = result.total;
    renderHits(result);
    announce(dom.count, pageText());
  }

  // ------------------------------------------------------------- drill-down

  /**
   * Narrow the query the charts answer by `change(query)` (analytics_drill.js: {query,
   * replaced}, or null when it would change nothing), show it in the form and run it.
   */
  async function drill(kind, change) {
    if (!state.frozen || !state.query || state.busy) return; // no answer on screen to narrow
    const next = change(state.query);
    if (!next) {
      announce(dom.drillStatus, "The query already has that filter.");
      return;
    }
    state.undo.push(state.query);
    fillForm(next.query);
    dom.drillUndo.hidden = false;
    announce(dom.drillStatus, describe(kind, next.query, next.replaced, when) + " Undo the last drill-down to go back.");
    const focused = document.activeElement;
    await runQuery();
    // A list item or table button is drawn anew with the answer: its focus goes to Undo.
    if (focused && focused !== document.body && !focused.isConnected) dom.drillUndo.focus();
  }

  async function undoDrill() {
    const previous = state.undo.pop();
    if (!previous) return;
    fillForm(previous);
    dom.drillUndo.hidden = state.undo.length === 0;
    announce(dom.drillStatus, "Back to the query before the last drill-down.");
    if (dom.drillUndo.hidden) dom.drillStatus.focus();
    await runQuery();
  }

  /** A query run from the form, or loaded, is a new start: Undo no longer steps back over it. */
  function forgetDrills() {
    state.undo = [];
    dom.drillUndo.hidden = true;
    dom.drillStatus.textContent = "";
  }

  function drillTime(first, last) {
    const { keys, interval } = state.histogram;
    drill("time", (query) => narrowTime(query, keys, first, last, interval, state.frozen.time));
  }

  /** The histogram bucket under x (canvas pixels), the nearest one off the ends. */
  function bucketAt(chart, x) {
    const count = state.histogram.keys.length;
    const index = Math.round(chart.scales.x.getValueForPixel(x));
    return count && Number.isFinite(index) ? Math.max(0, Math.min(count - 1, index)) : null;
  }

  /** Drag across the time chart to zoom in on the span: whole buckets, as a custom range. */
  function bindTimeDrag() {
    const canvas = dom.histogramCanvas;
    const band = el("div", { class: "drag-band", hidden: true });
    canvas.parentNode.append(band);
    let drag = null;
    const xOf = (event) => event.clientX - canvas.getBoundingClientRect().left;
    canvas.addEventListener("pointerdown", (event) => {
      state.histogram.dragged = false;
      if (event.button !== 0 || !state.charts.histogram) return;
      drag = { start: xOf(event), end: xOf(event) };
      canvas.setPointerCapture(event.pointerId);
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!drag) return;
      drag.end = xOf(event);
      const left = Math.min(drag.start, drag.end);
      const width = Math.abs(drag.end - drag.start);
      band.hidden = width < DRAG_PX;
      band.style.left = left + "px"; // CSSOM, allowed under the CSP
      band.style.width = width + "px";
    });
    const finish = (cancelled) => {
      if (!drag) return;
      const { start, end } = drag;
      drag = null;
      band.hidden = true;
      if (cancelled || Math.abs(end - start) < DRAG_PX) return;
      state.histogram.dragged = true; // the click the browser sends next ends the drag, it picks no bar
      const chart = state.charts.histogram;
      const [first, last] = [bucketAt(chart, start), bucketAt(chart, end)];
      if (first !== null && last !== null) drillTime(first, last);
    };
    canvas.addEventListener("pointerup", () => finish(false));
    canvas.addEventListener("pointercancel", () => finish(true));
  }

  function remember(query) {
    try {
      window.sessionStorage.setItem(STORAGE_KEY, JSON.stringify(query));
    } catch (error) {
      /* private mode: the page just starts from the defaults next time */
    }
  }

  function remembered() {
    try {
      const text = window.sessionStorage.getItem(STORAGE_KEY);
      return text ? JSON.parse(text) : null;
    } catch (error) {
      return null;
    }
  }

  // ---------------------------------------------------------------- results

  function renderSummary(result) {
    const total = result.total;
    announce(dom.count, total === 1 ? "1 report matches." : formatCount(total) + " reports match.");
    dom.count.dataset.total = String(total);
    const range = result.query || {};
    dom.range.replaceChildren(
      "From ",
      timeNode(range.from),
      " to ",
      timeNode(range.to),
      ...(result.as_of ? [" · as of ", timeNode(result.as_of)] : []),
      " · " + (result.engine || "engine") + ", " + formatCount(result.took_ms) + " ms"
    );
    dom.range.title = result.as_of
      ? "Counted as of this moment: pages and exports of this answer count the same reports; run the query again for reports that arrived since."
      : "";
    renderSources(result.sources || [], result.approximate || {});
  }

  const ENGINE_NAMES = { archive: "the archive", embedded: "the embedded index", elasticsearch: "the search index" };
  const ESTIMATE_NAMES = { top_citizens: "top citizens", top_drones: "top drones", top_words: "top words" };

  /** Which engine answered which part of a range that crosses the index's retention, and what is estimated. */
  function renderSources(sources, approximate) {
    dom.sources.hidden = sources.length < 2;
    if (sources.length < 2) {
      dom.sources.replaceChildren();
      return;
    }
    const parts = ["Answered in parts: "];
    sources.forEach((source, i) => {
      if (i) parts.push("; ");
      parts.push(
        timeNode(source.from), " to ", timeNode(source.to),
        " from " + (ENGINE_NAMES[source.engine] || source.engine) + " (" + formatCount(source.total) + ")"
      );
    });
    const notes = [];
    for (const [name, info] of Object.entries(approximate)) {
      if (name === "score") notes.push("score percentiles are estimated");
      else notes.push((ESTIMATE_NAMES[name] || name) + " counts may be short by up to " + formatCount(info.count_error_upper_bound));
    }
    parts.push(notes.length ? ". Where the parts meet, " + notes.join(", ") + "." : ".");
    dom.sources.replaceChildren(...parts);
  }

  function pageText() {
    const size = state.frozen ? state.frozen.size : 0;
    const rows = state.result ? state.result.hits.length : 0;
    if (!rows) return "Page " + state.pager.page + ": no rows.";
    const first = (state.pager.page - 1) * size + 1;
    return (
      "Page " + state.pager.page + ": reports " + formatCount(first) + "–" + formatCount(first + rows - 1) +
      " of " + formatCount(state.total)
    );
  }

  /** Enable the buttons that lead somewhere (not disabled while a page loads: goToPage ignores clicks then). */
  function updatePager() {
    state.pager.syncButtons(dom.prev, dom.next, $("results-title"));
  }

  function renderHits(result) {
    state.result = result;
    const rows = result.hits.map(hitRow);
    dom.tbody.replaceChildren(...rows);
    dom.empty.hidden = rows.length > 0;
    dom.pageInfo.textContent = pageText();
    updatePager();
  }

  function hitRow(hit) {
    const timeCell = el("td", {}, timeNode(hit.observed_at));
    if (hit.alert) timeCell.append(" ", el("span", { class: "badge alert-badge", text: "alert" }));
    if (hit.time_source === "broker") {
      timeCell.append(el("span", { class: "hint", title: "No time from the drone: when the broker received it" }, " *"));
    }
    const locate = el("button", {
      type: "button",
      class: "link-button",
      dataset: { lat: hit.location.lat, lon: hit.location.lon },
      "aria-label": "Show " + A.formatLatLon(hit.location) + " on the map",
      text: A.formatLatLon(hit.location),
    });
    return el(
      "tr",
      { class: hit.alert ? "is-alert" : null, dataset: { reportId: hit.report_id } },
      timeCell,
      el("td", { class: "mono", text: hit.drone_id }),
      el("td", {}, locate),
      el("td", {}, citizenList(hit.citizens)),
      el("td", { class: "words" }, wordsText(hit.words))
    );
  }

  function citizenList(citizens) {
    if (!citizens.length) return el("span", { class: "hint", text: "none" });
    const list = el("ul", { class: "citizens" });
    for (const person of citizens.slice(0, MAX_CITIZENS_SHOWN)) {
      const low = person.peacescore < threshold;
      list.append(
        el(
          "li",
          {},
          el("a", { href: A.citizenUrl(config.citizen_url, person.name, person.key), text: person.name, title: "Timeline of " + person.name }),
          " ",
          el("span", { class: "score" + (low ? " is-low" : ""), text: formatScore(person.peacescore) })
        )
      );
    }
    if (citizens.length > MAX_CITIZENS_SHOWN) {
      list.append(el("li", { class: "hint", text: "+" + (citizens.length - MAX_CITIZENS_SHOWN) + " more" }));
    }
    return list;
  }

  function wordsText(words) {
    if (!words.length) return el("span", { class: "hint", text: "none" });
    const shown = words.slice(0, MAX_WORDS_SHOWN).join(", ");
    return words.length > MAX_WORDS_SHOWN ? shown + " … +" + (words.length - MAX_WORDS_SHOWN) + " more" : shown;
  }

  // -------------------------------------------------------------------- map

  const map = A.makeMap(dom.map, config.city_bounds);
  const heatRenderer = L.canvas({ padding: 0.2 });
  const heatLayer = L.layerGroup().addTo(map);
  const pinLayer = L.layerGroup().addTo(map);
  const draw = window.PeaceWatchDraw.attach(map, { onChange: (area) => setArea(area, { fromMap: true }) });
  const legend = L.control({ position: "bottomright" });
  legend.onAdd = () => el("div", { class: "heat-legend", "aria-hidden": "true" });
  legend.addTo(map);

  /** Upper bounds of up to six classes on a logarithmic scale: counts are skewed. */
  function heatClasses(max) {
    const steps = HEAT_COLOURS.length;
    const bounds = [];
    for (let i = 1; i <= steps; i++) {
      const bound = Math.ceil(Math.pow(max, i / steps));
      if (!bounds.length || bound > bounds[bounds.length - 1]) bounds.push(bound);
    }
    bounds[bounds.length - 1] = max;
    const offset = steps - bounds.length; // few classes: the darker end of the ramp
    return bounds.map((upper, i) => ({
      lower: i === 0 ? 1 : bounds[i - 1] + 1,
      upper,
      colour: HEAT_COLOURS[i + offset],
    }));
  }

  function renderGrid(grid, fit) {
    heatLayer.clearLayers();
    const cells = (grid && grid.cells) || [];
    const legendNode = legend.getContainer();
    legendNode.replaceChildren();
    dom.gridTable.replaceChildren();
    dom.map.dataset.cells = String(cells.length);
    if (!cells.length) {
      legendNode.hidden = true;
      return;
    }
    const max = cells.reduce((m, cell) => Math.max(m, cell.count), 0);
    const classes = heatClasses(max);
    const colourOf = (count) => (classes.find((c) => count <= c.upper) || classes[classes.length - 1]).colour;
    let union = null;
    for (const cell of cells) {
      const b = cell.bounds;
      const bounds = L.latLngBounds([b.south, b.west], [b.north, b.east]);
      union = union ? union.extend(bounds) : L.latLngBounds(bounds.getSouthWest(), bounds.getNorthEast());
      L.rectangle(bounds, {
        renderer: heatRenderer,
        stroke: true,
        color: "#ffffff",
        weight: 0.5,
        fillColor: colourOf(cell.count),
        fillOpacity: 0.72,
      })
        .bindTooltip(plural(cell.count, "report", "reports"), { sticky: true })
        .on("click", () => {
          if (!draw.claimedClick()) drillArea(cell);
        })
        .addTo(heatLayer);
    }
    legendNode.hidden = false;
    legendNode.append(el("p", { class: "legend-title", text: "Reports per cell" }));
    for (const c of classes) {
      const swatch = el("span", { class: "swatch" });
      swatch.style.background = c.colour; // CSSOM, allowed under the CSP
      const label = c.lower === c.upper ? formatCount(c.upper) : formatCount(c.lower) + "–" + formatCount(c.upper);
      legendNode.append(el("p", { class: "legend-row" }, swatch, label));
    }
    for (const cell of cells.slice(0, 10)) {
      const b = cell.bounds;
      const centre = { lat: (b.south + b.north) / 2, lon: (b.west + b.east) / 2 };
      const narrow = el("button", {
        type: "button",
        class: "link-button",
        "aria-label": A.formatLatLon(centre) + ": narrow the area to this cell",
        text: A.formatLatLon(centre),
      });
      narrow.addEventListener("click", () => drillArea(cell));
      dom.gridTable.append(el("tr", {}, el("td", {}, narrow), el("td", { text: formatCount(cell.count) })));
    }
    if (fit) {
      if (state.area) map.fitBounds(areaBounds(state.area), { padding: [12, 12], maxZoom: 16 });
      else if (union) map.fitBounds(union, { padding: [12, 12], maxZoom: 15 });
    }
  }

  function drillArea(cell) {
    drill("area", (query) => narrowArea(query, cell.bounds));
  }

  function areaBounds(area) {
    if (area.box) return L.latLngBounds([area.box.south, area.box.west], [area.box.north, area.box.east]);
    return L.latLng(area.circle.lat, area.circle.lon).toBounds(area.circle.radius_m * 2);
  }

  function showOnMap(button) {
    const lat = Number(button.dataset.lat);
    const lon = Number(button.dataset.lon);
    if (!Number.isFinite(lat) || !Number.isFinite(lon)) return;
    pinLayer.clearLayers();
    L.circleMarker([lat, lon], { radius: 8, color: "#142033", weight: 3, fillColor: "#ffbf47", fillOpacity: 1 }).addTo(pinLayer);
    map.setView([lat, lon], Math.max(map.getZoom(), 15));
    dom.map.scrollIntoView({ block: "nearest" });
    announce(dom.count, "Shown on the map: " + A.formatLatLon({ lat, lon }) + ".");
  }

  // ----------------------------------------------------------------- charts

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#1b2430";
  Chart.defaults.animation = false; // instant: reduced motion and quick re-renders

  function chart(name, build) {
    if (!state.charts[name]) state.charts[name] = new Chart($("chart-" + name), build());
    return state.charts[name];
  }

  function setChart(name, labels, values, build, description) {
    const instance = chart(name, build);
    instance.data.labels = labels;
    instance.data.datasets[0].data = values;
    instance.update();
    $("chart-" + name).setAttribute("aria-label", description);
  }

  function barOptions({ horizontal = false, onClick = null } = {}) {
    return {
      indexAxis: horizontal ? "y" : "x",
      responsive: true,
      maintainAspectRatio: false,
      plugins: { legend: { display: false } },
      scales: {
        x: { beginAtZero: true, ticks: { precision: 0, autoSkip: true, maxRotation: 0 } },
        y: { beginAtZero: true, ticks: { precision: 0, autoSkip: !horizontal } },
      },
      onClick,
      onHover: onClick ? (event, items) => (event.native.target.style.cursor = items.length ? "pointer" : "default") : undefined,
    };
  }

  function histogramLabel(iso, interval) {
    return axisLabel(iso, interval, zone);
  }

  function renderHistogram(histogram) {
    const buckets = (histogram && histogram.buckets) || [];
    const interval = (histogram && histogram.interval) || "";
    const labels = buckets.map((b) => histogramLabel(b.key, interval));
    const values = buckets.map((b) => b.count);
    const zoneTitle = "Time (" + zoneName(zone, buckets.length ? buckets[0].key : null) + ")";
    const peak = buckets.reduce((best, b) => (b.count > (best ? best.count : -1) ? b : best), null);
    setChart(
      "histogram",
      labels,
      values,
      () => ({
        type: "bar",
        data: { labels: [], datasets: [{ label: "Reports", data: [], backgroundColor: CHART_COLOUR, borderRadius: 2 }] },
        options: histogramOptions(),
      }),
      "Reports per " + interval + ", " + buckets.length + " intervals" +
        (peak ? "; most at " + when(peak.key) + " with " + formatCount(peak.count) : "")
    );
    // Tooltips and the axis title say the zone: the whole time, not the bare label.
    const instance = state.charts.histogram;
    instance.$keys = buckets.map((b) => b.key);
    state.histogram = { keys: instance.$keys, interval, dragged: false };
    instance.options.scales.x.title.text = zoneTitle;
    instance.update();
    const table = document.querySelector("#histogram-table tbody");
    table.replaceChildren(
      ...buckets.map((b, i) => {
        const narrow = el(
          "button",
          { type: "button", class: "link-button", "aria-label": when(b.key) + ": narrow the time range to this interval" },
          timeNode(b.key)
        );
        narrow.addEventListener("click", () => drillTime(i, i));
        return el("tr", {}, el("td", {}, narrow), el("td", { text: formatCount(b.count) }));
      })
    );
  }

  function histogramOptions() {
    const options = barOptions();
    // A click anywhere in a bar's column picks it: short bars are hard to hit.
    options.onClick = (event, items, chart) => {
      if (state.histogram.dragged) {
        state.histogram.dragged = false;
        return;
      }
      const area = chart.chartArea;
      if (event.x < area.left || event.x > area.right || event.y < area.top || event.y > area.bottom) return;
      const index = bucketAt(chart, event.x);
      if (index !== null) drillTime(index, index);
    };
    options.scales.x.title = { display: true, text: "Time" };
    options.plugins.tooltip = {
      callbacks: {
        title: (items) => {
          const keys = items.length ? items[0].chart.$keys : null;
          return keys ? "From " + when(keys[items[0].dataIndex]) : "";
        },
      },
    };
    return options;
  }

  function renderTop(name, buckets) {
    buckets = buckets || [];
    const isCitizens = name === "top_citizens";
    // Citizens are counted by key (their id when there is one) and shown by name.
    const label = (b) => (isCitizens ? b.name : b.key);
    const timeline = (b) => A.citizenUrl(config.citizen_url, b.name, b.key);
    // Drones and words narrow the query; a citizen's bar opens their timeline.
    const [kind, narrowBy, action] = name === "top_drones" ? ["drone", addDrone, "add to the drones filter"] : ["word", addWord, "add to the words filter"];
    const pick = (b) => drill(kind, (query) => narrowBy(query, b.key));
    const onClick = (event, items) => {
      if (!items.length) return;
      const bucket = buckets[items[0].index];
      if (isCitizens) window.location.assign(timeline(bucket));
      else pick(bucket);
    };
    setChart(
      name,
      buckets.map(label),
      buckets.map((b) => b.count),
      () => ({
        type: "bar",
        data: { labels: [], datasets: [{ label: "Reports", data: [], backgroundColor: CHART_COLOUR, borderRadius: 2 }] },
        options: barOptions({ horizontal: true, onClick }),
      }),
      buckets.length
        ? buckets.slice(0, 3).map((b) => label(b) + " " + formatCount(b.count)).join(", ") + (buckets.length > 3 ? ", …" : "")
        : "No data"
    );
    const list = $(name + "-list");
    list.replaceChildren(
      ...buckets.map((b) =>
        el(
          "li",
          {},
          isCitizens ? el("a", { href: timeline(b), text: b.name }) : pickButton(b),
          " — " + formatCount(b.count)
        )
      )
    );
    if (!buckets.length) list.append(el("li", { class: "hint", text: "No data" }));

    function pickButton(b) {
      const button = el("button", { type: "button", class: "link-button", "aria-label": b.key + ": " + action, text: b.key });
      button.addEventListener("click", () => pick(b));
      return button;
    }
  }

  function renderScore(score) {
    score = score || {};
    const p = score.percentiles || {};
    const stats = [
      ["lowest", score.min],
      ["5 %", p["5"]],
      ["25 %", p["25"]],
      ["median", p["50"]],
      ["75 %", p["75"]],
      ["95 %", p["95"]],
      ["99 %", p["99"]],
      ["highest", score.max],
    ];
    const labels = stats.map(([label]) => label);
    const values = stats.map(([, v]) => (typeof v === "number" ? v : null));
    setChart(
      "score",
      labels,
      values,
      () => ({
        type: "bar",
        data: {
          labels: [],
          datasets: [
            {
              label: "Peacescore",
              data: [],
              backgroundColor: (ctx) => (ctx.raw !== null && ctx.raw < threshold ? ALERT_COLOUR : CHART_COLOUR),
              borderRadius: 2,
            },
          ],
        },
        options: {
          ...barOptions(),
          scales: { x: { ticks: { maxRotation: 0, autoSkip: false } }, y: { beginAtZero: true, max: 100 } },
        },
      }),
      score.count
        ? formatCount(score.count) + " citizen sightings; median " + formatScore(p["50"]) + ", average " + formatScore(score.avg)
        : "No peacescores"
    );
    const rows = [["sightings", formatCount(score.count)], ["average", formatScore(score.avg)]].concat(
      stats.map(([label, v]) => [label, formatScore(v)])
    );
    document
      .querySelector("#score-table tbody")
      .replaceChildren(...rows.map(([label, v]) => el("tr", {}, el("td", { text: label }), el("td", { text: v }))));
  }

  function scoreRange(score) {
    if (!score || (score.min == null && score.max == null)) return "";
    // As the analyst typed them (30, not 30.0).
    if (score.min == null) return " (citizens scoring up to " + String(score.max) + ")";
    if (score.max == null) return " (citizens scoring from " + String(score.min) + ")";
    return " (citizens scoring " + String(score.min) + " to " + String(score.max) + ")";
  }

  function renderAggregations(query, aggs, total) {
    // Nothing matched: say so, rather than draw axes around nothing.
    const empty = total === 0;
    dom.noMatch.hidden = !empty;
    dom.visuals.classList.toggle("no-charts", empty);
    if (empty) {
      showCharts(false);
      renderGrid(null, false);
      return;
    }
    const wanted = new Set(query.aggs);
    for (const name of AGGS) {
      const panel = name === "grid" ? null : $("panel-" + name);
      if (panel) panel.hidden = !wanted.has(name);
    }
    document.querySelector(".tops").hidden = !["top_citizens", "top_drones", "top_words"].some((n) => wanted.has(n));
    if (wanted.has("histogram")) renderHistogram(aggs.histogram);
    // With a peacescore range, the citizen charts count the citizens in it, not everyone in the reports.
    const range = scoreRange(query.score);
    $("score-caption").textContent = "Peacescores seen" + range;
    $("top-citizens-caption").textContent = "Top citizens" + range;
    if (wanted.has("score")) renderScore(aggs.score);
    for (const name of ["top_citizens", "top_drones", "top_words"]) if (wanted.has(name)) renderTop(name, aggs[name]);
    renderGrid(wanted.has("grid") ? aggs.grid : null, true);
  }

  // ---------------------------------------------------------- saved queries

  function sameOrigin(url) {
    if (!url) return null;
    const parsed = new URL(url, window.location.href);
    return parsed.pathname + parsed.search;
  }

  async function loadSaved(url, { focusId = null } = {}) {
    try {
      const page = await api(url || config.saved_queries_api);
      state.saved = {
        url: url || config.saved_queries_api,
        next: sameOrigin(page.next),
        previous: sameOrigin(page.previous),
        items: page.results || [],
      };
    } catch (error) {
      dom.savedStatus.textContent = error.message;
      return;
    }
    renderSaved();
    if (focusId !== null) {
      const button = dom.savedList.querySelector('li[data-id="' + CSS.escape(String(focusId)) + '"] button');
      if (button) button.focus();
    }
  }

  function renderSaved() {
    const { items } = state.saved;
    dom.savedList.replaceChildren(...items.map(savedItem));
    if (!items.length) dom.savedList.append(el("li", { class: "hint", text: "No saved queries yet." }));
    dom.savedPrev.disabled = !state.saved.previous;
    dom.savedNext.disabled = !state.saved.next;
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

  function ownerName(owner) {
    if (owner && typeof owner === "object") return owner.username || owner.name || String(owner.id || "");
    return String(owner ?? "someone");
  }

  function savedById(id) {
    return state.saved.items.find((item) => String(item.id) === String(id));
  }

  async function onSavedClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const li = button.closest("li[data-id]");
    const item = savedById(li.dataset.id);
    if (!item) return;
    const action = button.dataset.action;
    if (action === "load") {
      fillForm(item.query || {});
      forgetDrills();
      announce(dom.savedStatus, "Loaded “" + item.name + "”.");
      await runQuery();
    } else if (action === "rename") {
      startRename(li, item);
    } else if (action === "delete") {
      if (!window.confirm("Delete the saved query “" + item.name + "”?")) return;
      try {
        await api(sameOrigin(config.saved_queries_api + encodeURIComponent(item.id) + "/"), { method: "DELETE" });
      } catch (error) {
        announce(dom.savedStatus, error.message);
        return;
      }
      announce(dom.savedStatus, "Deleted “" + item.name + "”.");
      await loadSaved(state.saved.url);
      dom.saveName.focus();
    }
  }

  function startRename(li, item) {
    const input = el("input", { type: "text", id: "rename-" + item.id, maxlength: "200", required: true, value: item.name });
    const form = el(
      "form",
      { class: "rename-form" },
      el("label", { for: "rename-" + item.id, text: "New name for “" + item.name + "”" }),
      input,
      el("div", { class: "saved-actions" }, el("button", { type: "submit", text: "Save name" }), el("button", { type: "button", dataset: { action: "cancel-rename" }, text: "Cancel" }))
    );
    const cancel = () => {
      renderSaved();
      const button = dom.savedList.querySelector('li[data-id="' + CSS.escape(String(item.id)) + '"] [data-action="rename"]');
      if (button) button.focus();
    };
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (!name) return;
      try {
        await api(config.saved_queries_api + encodeURIComponent(item.id) + "/", { method: "PATCH", body: { name } });
      } catch (error) {
        announce(dom.savedStatus, error.message);
        return;
      }
      announce(dom.savedStatus, "Renamed to “" + name + "”.");
      await loadSaved(state.saved.url, { focusId: item.id });
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
    const name = dom.saveName.value.trim();
    if (!name) {
      dom.saveName.focus();
      return;
    }
    let query;
    try {
      query = formQuery();
    } catch (error) {
      showFormError(error);
      return;
    }
    let saved;
    try {
      saved = await api(config.saved_queries_api, { method: "POST", body: { name, query, shared: dom.saveShared.checked } });
    } catch (error) {
      announce(dom.savedStatus, error.message);
      return;
    }
    dom.saveName.value = "";
    dom.saveShared.checked = false;
    announce(dom.savedStatus, "Saved “" + name + "”" + (saved && saved.shared ? ", shared with other analysts." : "."));
    await loadSaved(config.saved_queries_api);
  }

  // ---------------------------------------------------------------- exports

  async function startExport(format) {
    if (state.exporting || !state.frozen || state.total === 0) return;
    const query = state.frozen;
    const body = { query: { ...query, aggs: [] }, format };
    delete body.query.after;
    try {
      const purpose = A.takePurpose(dom.purpose, config.require_purpose);
      if (purpose) body.purpose = purpose;
    } catch (error) {
      showFormError(error);
      return;
    }
    state.exporting = true;
    setExportButtons(true);
    dom.exportBox.hidden = false;
    dom.exportLink.hidden = true;
    dom.exportLabel.textContent = "Export " + format.toUpperCase();
    dom.exportProgress.value = 0;
    dom.exportProgress.removeAttribute("value"); // indeterminate until the first figure
    dom.exportText.textContent = "starting…";
    state.exportSaid = 0;
    let job;
    try {
      job = await api(config.exports_api, { method: "POST", body });
    } catch (error) {
      exportFailed(error.message);
      return;
    }
    announce(dom.exportAnnouncer, "Export " + format.toUpperCase() + " started.");
    showExport(job);
  }

  function exportDone(job) {
    return !!job.download_url || job.status === "done" || job.status === "finished" || job.status === "succeeded";
  }

  function exportBroken(job) {
    return !!job.error || job.status === "failed" || job.status === "error" || job.status === "cancelled";
  }

  function showExport(job) {
    state.exportJob = job;
    const format = String(job.format || "").toUpperCase();
    const progress = typeof job.progress === "number" ? Math.max(0, Math.min(1, job.progress)) : 0;
    dom.exportProgress.value = progress;
    const written = formatCount(job.rows_written || 0);
    const total = typeof job.total === "number" ? " of " + formatCount(job.total) : "";
    const status = job.status === "queued" ? "waiting for a worker · " : "";
    dom.exportText.textContent = status + Math.round(progress * 100) + " % · " + written + total + " reports";
    if (exportBroken(job)) {
      exportFailed(job.error || "The export failed.");
      return;
    }
    if (exportDone(job) && job.download_url) {
      dom.exportProgress.value = 1;
      dom.exportLink.href = job.download_url;
      dom.exportLink.textContent = "Download " + format + " (" + plural(job.rows_written ?? job.total ?? 0, "report", "reports") + ")";
      dom.exportLink.hidden = false;
      dom.exportText.textContent = "100 % · done";
      announce(dom.exportAnnouncer, "Export " + format + " ready: the download link follows the progress bar.");
      finishExport();
      return;
    }
    const quarter = Math.floor(progress * 4);
    if (quarter > state.exportSaid && quarter < 4) {
      state.exportSaid = quarter;
      announce(dom.exportAnnouncer, "Export " + format + " " + quarter * 25 + " percent done.");
    }
    state.exportTimer = window.setTimeout(pollExport, EXPORT_POLL_MS);
  }

  async function pollExport() {
    state.exportTimer = null;
    const id = state.exportJob && state.exportJob.id;
    if (id === undefined || id === null) return;
    let job;
    try {
      job = await api(config.exports_api + encodeURIComponent(id) + "/");
    } catch (error) {
      if (error instanceof SignedOutError) {
        exportFailed(error.message);
        return;
      }
      state.exportTimer = window.setTimeout(pollExport, EXPORT_POLL_MS * 3); // a blip: keep trying
      return;
    }
    showExport(job);
  }

  function exportFailed(message) {
    dom.exportText.textContent = message;
    dom.exportProgress.value = 0;
    announce(dom.exportAnnouncer, "Export failed: " + message);
    finishExport();
  }

  function finishExport() {
    if (state.exportTimer) window.clearTimeout(state.exportTimer);
    state.exportTimer = null;
    state.exporting = false;
    setExportButtons(false);
  }

  /**
   * Off, with the reason said beside them, while there is nothing to export (no answer, or
   * no report in it). aria-disabled, not disabled, while an export runs: the button keeps
   * keyboard focus meanwhile.
   */
  function setExportButtons(running) {
    const reason = !state.frozen
      ? "Run a query to export its reports."
      : state.total === 0
        ? "Nothing to export: no reports match."
        : "";
    dom.exportReason.textContent = reason;
    dom.exportReason.hidden = !reason;
    for (const button of dom.exportButtons) {
      button.disabled = !!reason;
      if (reason) button.setAttribute("aria-describedby", "export-reason");
      else button.removeAttribute("aria-describedby");
      if (running) button.setAttribute("aria-disabled", "true");
      else button.removeAttribute("aria-disabled");
    }
  }

  // ----------------------------------------------------------------- start

  function bindEvents() {
    dom.form.addEventListener("submit", (event) => {
      event.preventDefault();
      forgetDrills();
      runQuery();
    });
    dom.drillUndo.addEventListener("click", undoDrill);
    bindTimeDrag();
    A.bindPurpose(dom.purposeForm, dom.purpose, runQuery);
    dom.reset.addEventListener("click", () => {
      fillForm({ time: { last: "24h" }, aggs: AGGS });
      forgetDrills();
      clearFormError();
      dom.time.focus();
    });
    dom.time.addEventListener("change", syncTimeFields);
    // The custom range is typed in the force's display zone, and says so.
    for (const [input, word] of [[dom.from, "From"], [dom.to, "To"]]) {
      const label = document.querySelector('label[for="' + input.id + '"]');
      if (label) label.textContent = word + " (" + zoneName(zone) + ")";
    }
    attachSuggest(dom.citizen, { fetchNames: suggestNames });
    dom.area.addEventListener("change", onAreaKindChange);
    for (const input of [dom.south, dom.west, dom.north, dom.east, dom.lat, dom.lon, dom.radius]) {
      input.addEventListener("change", onAreaFieldChange);
    }
    dom.prev.addEventListener("click", () => goToPage(-1));
    dom.next.addEventListener("click", () => goToPage(1));
    dom.tbody.addEventListener("click", (event) => {
      const button = event.target.closest("button.link-button");
      if (button) showOnMap(button);
    });
    dom.saveForm.addEventListener("submit", onSave);
    dom.savedList.addEventListener("click", onSavedClick);
    dom.savedPrev.addEventListener("click", () => loadSaved(state.saved.previous));
    dom.savedNext.addEventListener("click", () => loadSaved(state.saved.next));
    for (const button of dom.exportButtons) button.addEventListener("click", () => startExport(button.dataset.format));
  }

  /** Names for the citizen field's suggestions; none without a purpose of access (each call is audited). */
  async function suggestNames(prefix, signal, limit) {
    let purpose;
    try {
      purpose = A.takePurpose(dom.purpose, config.require_purpose);
    } catch (error) {
      return [];
    }
    const params = new URLSearchParams({ prefix, limit: String(limit) });
    if (purpose) params.set("purpose", purpose);
    const answer = await api(config.suggest_api + "?" + params.toString(), { signal });
    return answer.results || [];
  }

  window.peacewatchAnalytics = Object.freeze({
    get busy() {
      return state.busy;
    },
    get result() {
      return state.result;
    },
    get query() {
      return state.query;
    },
    get page() {
      return state.pager.page;
    },
    get area() {
      return state.area;
    },
  });

  bindEvents();
  fillForm(remembered() || { time: { last: "24h" }, aggs: AGGS });
  loadSaved(config.saved_queries_api);
  runQuery();
})();
