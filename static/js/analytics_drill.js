// Drill-down on the analysts' page, without the DOM: what a click on a chart does to the query.
//
// A chart shows the answer to the query last run; selecting one of its parts (a word, a
// drone, a time bar, a heat-map cell, a span dragged across the time chart) asks the
// same question of that part alone. So each function takes that query (analytics/query.py,
// `Query`) and returns a new one that is narrower, or null when it would change nothing;
// the page puts it back into the form, where the analyst sees the new filter and can
// remove it, and runs it.
//
// The form holds one word list (any of / all of) and times to the minute, so what is
// returned stays within what the form can show: a later run from the form asks the same.

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 };
const MINUTE = 60_000;

/** A histogram interval ("15m", "1h", "1d", analytics/query.py INTERVALS) in ms; null if unknown. */
export function intervalMs(interval) {
  const match = /^(\d{1,4})(m|h|d)$/.exec(String(interval || ""));
  return match ? Number(match[1]) * UNIT_MS[match[2]] : null;
}

const sameWord = (a, b) => a.toLocaleLowerCase() === b.toLocaleLowerCase();

/**
 * Reports that also hold `word`. Words already required stay required; a single "any of"
 * word is as good as required. Several "any of" words cannot be combined with a required
 * one in the form: the clicked word, which is one of their answers, replaces them
 * (`replaced` then lists them, so the page can say so).
 */
export function addWord(query, word) {
  word = String(word || "").trim();
  if (!word) return null;
  const words = query.words || {};
  const all = words.all || [];
  const any = words.any || [];
  let kept = all;
  let replaced = [];
  if (!all.length && any.length === 1) kept = any;
  else if (!all.length && any.length > 1 && !any.some((w) => sameWord(w, word))) replaced = ["any of " + any.join(", ")];
  if (kept.some((w) => sameWord(w, word))) return null;
  return { query: { ...query, words: { all: kept.concat([word]) } }, replaced };
}

/** Reports of `drone` alone: the drones filter is "any of", so narrowing keeps just this one. */
export function addDrone(query, drone) {
  drone = String(drone || "").trim();
  if (!drone) return null;
  const drones = query.drones || [];
  if (drones.length === 1 && drones[0] === drone) return null;
  return { query: { ...query, drones: [drone] }, replaced: drones.filter((d) => d !== drone) };
}

const floorMinute = (ms) => Math.floor(ms / MINUTE) * MINUTE;
const ceilMinute = (ms) => Math.ceil(ms / MINUTE) * MINUTE;

/**
 * The custom range covering buckets `first`..`last` of a histogram (in either order),
 * whole buckets, within the range the query answered (`answered`: {from, to}, instants),
 * to the minute outward (the form holds minutes). Null when it covers the whole answer.
 */
export function bucketSpan(keys, first, last, interval, answered) {
  const step = intervalMs(interval);
  if (!keys.length || !step) return null;
  const clamp = (i) => Math.max(0, Math.min(keys.length - 1, i));
  const [a, b] = [clamp(first), clamp(last)].sort((x, y) => x - y);
  let from = Date.parse(keys[a]);
  let to = Date.parse(keys[b]) + step;
  const lower = answered && answered.from ? Date.parse(answered.from) : NaN;
  const upper = answered && answered.to ? Date.parse(answered.to) : NaN;
  if (Number.isFinite(lower)) from = Math.max(from, lower);
  if (Number.isFinite(upper)) to = Math.min(to, upper);
  from = floorMinute(from);
  to = ceilMinute(to);
  if (!(to > from)) return null;
  if (Number.isFinite(lower) && Number.isFinite(upper) && from <= floorMinute(lower) && to >= ceilMinute(upper)) {
    return null;
  }
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString() };
}

/** The query over buckets `first`..`last` only (a bar: first === last; a dragged span). */
export function narrowTime(query, keys, first, last, interval, answered) {
  const span = bucketSpan(keys, first, last, interval, answered);
  return span ? { query: { ...query, time: span }, replaced: [] } : null;
}

const down = (v) => Math.floor(v * 1e6) / 1e6;
const up = (v) => Math.ceil(v * 1e6) / 1e6;

/**
 * The query within one heat-map cell (`bounds`: south, west, north, east). A rectangle
 * already set keeps only its overlap with the cell (cells are map tiles and overhang
 * it); a circle gives way to the cell (the form holds one shape).
 */
export function narrowArea(query, bounds) {
  if (!bounds) return null;
  let { south, west, north, east } = bounds;
  const box = query.area && query.area.box;
  if (box) {
    south = Math.max(south, box.south);
    west = Math.max(west, box.west);
    north = Math.min(north, box.north);
    east = Math.min(east, box.east);
    if (!(north > south && east > west)) return null;
  }
  const cell = { south: down(south), west: down(west), north: up(north), east: up(east) };
  if (box && ["south", "west", "north", "east"].every((k) => cell[k] === box[k])) return null;
  const replaced = query.area && query.area.circle ? ["the circle"] : [];
  return { query: { ...query, area: { box: cell } }, replaced };
}

/** What changed, in words for the live region: "Words: all of bread, strike." */
export function describe(kind, query, replaced = [], formatTime = (iso) => iso) {
  let text;
  if (kind === "word") text = "Words filter: all of " + query.words.all.join(", ") + ".";
  else if (kind === "drone") text = "Drones filter: " + query.drones.join(", ") + ".";
  else if (kind === "time") text = "Time range: " + formatTime(query.time.from) + " to " + formatTime(query.time.to) + ".";
  else if (kind === "area") {
    const b = query.area.box;
    text = "Area: the rectangle " + b.south + ", " + b.west + " to " + b.north + ", " + b.east + ".";
  } else text = "Filter changed.";
  if (replaced.length) text += " It replaces " + replaced.join(", ") + ".";
  return text;
}
