// The analysts' query form as a Query (analytics/query.py) and back, without the DOM: the
// fields' values (strings as typed, booleans for the boxes, the checked aggregations) become
// the query the search takes, and a saved, remembered or narrowed query becomes the values
// that show it. Times are typed in the force's display zone. Which fields count and what
// is wrong with their numbers: analytics_form.js.
import { isoToZoned, zonedToIso } from "./analytics_time.js";

export const QUERY_DEFAULTS = { top: 10, size: 50 }; // analytics/query.py, Query

function splitList(text, pattern) {
  return text
    .split(pattern)
    .map((part) => part.trim())
    .filter(Boolean);
}

const numberOf = (text) => (text === "" ? null : Number(text));

/**
 * The query the values ask, as {query}; or {error: {field, message}} (the query's path of the
 * field at fault) when they cannot be one. `area` is the query's area as set (null for none).
 */
export function queryFromValues(values, zone) {
  const query = {};
  if (values.time === "custom") {
    const from = values.from ? zonedToIso(values.from, zone) : null;
    const to = values.to ? zonedToIso(values.to, zone) : null;
    if (!from) return { error: { field: "time.from", message: "Give the start of the time range." } };
    if (to && to <= from) return { error: { field: "time.to", message: "The range must end after it starts." } };
    query.time = to ? { from, to } : { from };
  } else {
    query.time = { last: values.time };
  }
  const drones = splitList(values.drones, /[\s,;]+/);
  if (drones.length) query.drones = drones;
  const name = values.citizen.trim();
  if (name) query.citizen = { name, match: values.citizenMatch };
  const words = splitList(values.words, /,/);
  if (words.length) query.words = { [values.wordsMatch]: words };
  const min = numberOf(values.scoreMin);
  const max = numberOf(values.scoreMax);
  if (min !== null || max !== null) {
    if (min !== null && max !== null && min > max) {
      return { error: { field: "score.min", message: "The lowest peacescore is above the highest." } };
    }
    query.score = {};
    if (min !== null) query.score.min = min;
    if (max !== null) query.score.max = max;
  }
  if (values.area) query.area = values.area;
  if (values.alertsOnly) query.alerts_only = true;
  query.aggs = [...values.aggs];
  query.top = Number(values.top);
  query.size = Number(values.size);
  query.sort = values.sort;
  if (!values.stopWords) query.stop_words = "keep";
  return { query };
}

/**
 * The values that show a query. Saved queries come back normalised (a field at the API's
 * default is left out), so a missing one shows its default; a missing range is the last 24 h.
 */
export function valuesFromQuery(query, zone) {
  const time = query.time || { last: "24h" };
  const words = query.words || {};
  const all = !!(words.all && words.all.length);
  const score = query.score || {};
  return {
    time: time.last || "custom",
    from: !time.last && time.from ? isoToZoned(time.from, zone) : "",
    to: !time.last && time.to ? isoToZoned(time.to, zone) : "",
    drones: (query.drones || []).join(", "),
    citizen: query.citizen ? query.citizen.name : "",
    citizenMatch: query.citizen && query.citizen.match === "prefix" ? "prefix" : "exact",
    words: ((all ? words.all : words.any) || []).join(", "),
    wordsMatch: all ? "all" : "any",
    scoreMin: score.min != null ? String(score.min) : "",
    scoreMax: score.max != null ? String(score.max) : "",
    alertsOnly: !!query.alerts_only,
    area: query.area && (query.area.box || query.area.circle) ? query.area : null,
    aggs: [...(query.aggs || [])],
    top: String(query.top ?? QUERY_DEFAULTS.top),
    size: String(query.size ?? QUERY_DEFAULTS.size),
    sort: query.sort === "oldest" ? "oldest" : "newest",
    stopWords: query.stop_words !== "keep",
  };
}
