/*
 * PeaceWatch — the analysts' page (templates/analytics/analytics.html): its state, and the
 * modules it wires.
 *
 * The form (analytics_fields.js) is turned into the query JSON of analytics/query.py (`Query`)
 * and POSTed to /api/v1/reports/search, one search at a time (analytics_search.js). The first
 * page asks for the aggregations (analytics_charts.js, the heat map of analytics_heat.js);
 * later pages (analytics_results.js) ask only for hits, continuing from the previous page's
 * `next` cursor, with the time range frozen to what the first page resolved ("last 24 h" must
 * not slide while paging or exporting, or the pages and the total would disagree), and the
 * arrivals frozen to the answer's `as_of`. Saved queries (analytics_saved.js) keep the form's
 * query as written (a relative range stays relative), exports (analytics_export.js) take the
 * frozen one.
 *
 * Strict CSP: no inline script, no HTML from data (textContent only); native modules, no build.
 *
 * Never misleading: a query that cannot run says why next to the field and clears the previous
 * answer (total, rows, charts, map) rather than leave it on screen as if it answered; fields a
 * later choice hid are not part of the query; an empty answer says "No reports match" instead
 * of drawing empty axes, and export is off.
 *
 * Drill-down: a word, a drone, a time bar (or a span dragged across the time chart) or a
 * heat-map cell, selected on its chart or in the list or table below it, narrows the query
 * last run (analytics_drill.js), which goes back into the form and runs again. The page keeps
 * no browser history of its queries, so "Undo" steps back instead.
 */
import { AGGS } from "./analytics_chart_data.js";
import { createCharts } from "./analytics_charts.js";
import { describe, narrowArea, narrowTime } from "./analytics_drill.js";
import { createExport } from "./analytics_export.js";
import { createFields } from "./analytics_fields.js";
import { createHeatMap } from "./analytics_heat.js";
import { createResults } from "./analytics_results.js";
import { createSaved } from "./analytics_saved.js";
import { latestOnly } from "./analytics_search.js";
import { formatInstant } from "./analytics_time.js";
import { attachSuggest } from "./citizen_suggest.js";
import { CursorPager } from "./cursor_pager.js";

const A = window.PeaceWatchAnalytics;
const { el, api, announce } = A;

const STORAGE_KEY = "peacewatch.analytics.query";
const DEFAULT_QUERY = { time: { last: "24h" }, aggs: AGGS };

const config = A.readConfig();
const threshold = typeof config.threshold === "number" ? config.threshold : 20;
const zone = config.display_time_zone || "UTC";
const when = (iso) => formatInstant(iso, zone);
const timeNode = (iso) => el("time", { datetime: iso, text: when(iso) });
const citizenUrl = (name, key) => A.citizenUrl(config.citizen_url, name, key);

const $ = (id) => document.getElementById(id);
const dom = {
  form: $("query-form"),
  purposeForm: $("purpose-form"),
  purpose: $("purpose"),
  citizen: $("q-citizen"),
  reset: $("reset-query"),
  noMatch: $("no-match"),
  results: document.querySelector(".results"),
  prev: $("page-prev"),
  next: $("page-next"),
  drillStatus: $("drill-status"),
  drillUndo: $("drill-undo"),
};

const state = {
  query: null, // the query as last run from the form
  frozen: null, // the same with the time range the first page resolved, and its arrivals
  total: null,
  result: null, // the last page received
  busy: false,
  pager: new CursorPager(),
  purpose: "", // sent beside every search of the current query, and its exports
  undo: [], // the queries each drill-down narrowed, latest last
};

const takePurpose = () => A.takePurpose(dom.purpose, config.require_purpose);

// ------------------------------------------------------------------ the parts

const heat = createHeatMap({
  A,
  node: $("an-map"),
  cityBounds: config.city_bounds,
  onCell: (cell) => drill("area", (query) => narrowArea(query, cell.bounds)),
  claims: () => areaTool.claimedClick(),
});
const areaTool = window.PeaceWatchDraw.attach(heat.map, { onChange: (area) => fields.areaFromMap(area) });
const fields = createFields({ A, zone, areaTool });
const charts = createCharts({
  A,
  zone,
  threshold,
  when,
  timeNode,
  citizenUrl,
  onTime: (keys, first, last, interval) =>
    drill("time", (query) => narrowTime(query, keys, first, last, interval, state.frozen.time)),
  onNarrow: (kind, change) => drill(kind, change),
});
const results = createResults({
  A,
  state,
  threshold,
  timeNode,
  citizenUrl,
  onPlace: (lat, lon) => {
    if (heat.pin(lat, lon)) results.say("Shown on the map: " + A.formatLatLon({ lat, lon }) + ".", { polite: true });
  },
});
const exporter = createExport({
  A,
  apiUrl: config.exports_api,
  answer: () => ({ frozen: state.frozen, total: state.total }),
  takePurpose,
  showFormError: fields.showError,
});
const saved = createSaved({
  A,
  apiUrl: config.saved_queries_api,
  formQuery: fields.query,
  showFormError: fields.showError,
  onLoad: (item) => {
    fields.fill(item.query || {});
    forgetDrills();
    return runQuery();
  },
});

// --------------------------------------------------------------------- search

const search = latestOnly((busy) => {
  state.busy = busy;
  dom.results.setAttribute("aria-busy", String(busy));
  document.body.classList.toggle("is-searching", busy);
  results.updatePager();
});

function send(body) {
  const sent = state.purpose ? { ...body, purpose: state.purpose } : body;
  return search((signal) => api(config.search_api, { method: "POST", body: sent, signal }));
}

/** A query that did not run leaves no answer on screen that looks like its own. */
function clearAnswer(reason) {
  state.frozen = null;
  state.total = null;
  state.result = null;
  state.pager.reset();
  results.clear(reason);
  charts.hide();
  dom.noMatch.hidden = true;
  heat.render(null, false, null);
  exporter.sync();
}

async function runQuery() {
  fields.clearError();
  let query;
  try {
    state.purpose = takePurpose();
    query = fields.query();
  } catch (error) {
    fields.showError(error);
    clearAnswer(error.field === "purpose" ? "Give the purpose of access to search." : "The query did not run: see the form.");
    return;
  }
  results.say("Searching…");
  let result;
  try {
    result = await send({ ...query, after: null });
  } catch (error) {
    if (error.name === "AbortError") return;
    fields.showError(error);
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
  results.summary(result);
  showAggregations(query, result.aggregations || {}, result.total);
  results.hits(result);
  exporter.sync();
}

/** The charts and the heat map the query asked for; none when nothing matched. */
function showAggregations(query, aggs, total) {
  charts.show(query, aggs, total);
  if (total === 0) heat.render(null, false, null);
  else heat.render(query.aggs.includes("grid") ? aggs.grid : null, true, fields.area);
}

async function goToPage(direction) {
  if (!state.frozen || state.busy) return;
  const after = state.pager.target(direction);
  if (direction > 0 && !after) return;
  let result;
  try {
    result = await send({ ...state.frozen, aggs: [], after });
  } catch (error) {
    if (error.name === "AbortError") return;
    fields.showError(error);
    return;
  }
  state.pager.landed(direction, result.next);
  if (typeof result.total === "number") state.total = result.total;
  results.hits(result);
  results.say(results.pageText(), { polite: true });
}

// ----------------------------------------------------------------- drill-down

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
  fields.fill(next.query);
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
  fields.fill(previous);
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

// --------------------------------------------------------------------- memory

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

// ---------------------------------------------------------------------- start

/** Names for the citizen field's suggestions; none without a purpose of access (each call is audited). */
async function suggestNames(prefix, signal, limit) {
  let purpose;
  try {
    purpose = takePurpose();
  } catch (error) {
    return [];
  }
  const params = new URLSearchParams({ prefix, limit: String(limit) });
  if (purpose) params.set("purpose", purpose);
  const answer = await api(config.suggest_api + "?" + params.toString(), { signal });
  return answer.results || [];
}

dom.form.addEventListener("submit", (event) => {
  event.preventDefault();
  forgetDrills();
  runQuery();
});
dom.drillUndo.addEventListener("click", undoDrill);
A.bindPurpose(dom.purposeForm, dom.purpose, runQuery);
dom.reset.addEventListener("click", () => {
  fields.fill(DEFAULT_QUERY);
  forgetDrills();
  fields.clearError();
  fields.focusTime();
});
attachSuggest(dom.citizen, { fetchNames: suggestNames });
dom.prev.addEventListener("click", () => goToPage(-1));
dom.next.addEventListener("click", () => goToPage(1));

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
    return fields.area;
  },
});

fields.fill(remembered() || DEFAULT_QUERY);
saved.load(config.saved_queries_api);
runQuery();
