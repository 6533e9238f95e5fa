// The query form's rules, without the DOM: which fields are part of the query, what is
// wrong with the ones that are, and an API problem turned into messages next to fields.
//
// A field a later choice hid (the coordinates of a circle once "Anywhere" is picked,
// the custom range once "Last 24 hours" is) is not part of the query: it is never
// checked and never blocks a run. The server answers a refused query with an RFC 9457
// problem whose `field` (and `errors[].field`) is a JSON path such as "drones[2]"
// (peacewatch/problems.py); `problemMessages` names the form's control and says it in
// words: "Drone 3: use letters, digits, '.', '_' or '-' only".

/** Query paths -> the control that holds them and what the analyst calls it; `item` names one of a list. */
export const FIELDS = {
  purpose: { control: "purpose", label: "Purpose of access" },
  time: { control: "q-time", label: "Time range" },
  "time.last": { control: "q-time", label: "Time range" },
  "time.from": { control: "q-from", label: "From" },
  "time.to": { control: "q-to", label: "To" },
  drones: { control: "q-drones", label: "Drones", item: "Drone" },
  citizen: { control: "q-citizen", label: "Citizen name" },
  "citizen.name": { control: "q-citizen", label: "Citizen name" },
  "citizen.key": { control: "q-citizen", label: "Citizen" },
  "citizen.match": { control: "q-citizen-match", label: "How the name matches" },
  words: { control: "q-words", label: "Words", item: "Word" },
  "words.any": { control: "q-words", label: "Words", item: "Word" },
  "words.all": { control: "q-words", label: "Words", item: "Word" },
  score: { control: "q-score-min", label: "Peacescore" },
  "score.min": { control: "q-score-min", label: "Peacescore from" },
  "score.max": { control: "q-score-max", label: "Peacescore to" },
  area: { control: "q-area", label: "Area" },
  "area.box": { control: "q-south", label: "Rectangle" },
  "area.box.south": { control: "q-south", label: "South" },
  "area.box.west": { control: "q-west", label: "West" },
  "area.box.north": { control: "q-north", label: "North" },
  "area.box.east": { control: "q-east", label: "East" },
  "area.circle": { control: "q-lat", label: "Circle" },
  "area.circle.lat": { control: "q-lat", label: "Centre latitude" },
  "area.circle.lon": { control: "q-lon", label: "Centre longitude" },
  "area.circle.radius_m": { control: "q-radius", label: "Radius (m)" },
  aggs: { control: "q-top", label: "Charts", item: "Chart" },
  top: { control: "q-top", label: "Top lists show" },
  size: { control: "q-size", label: "Rows per page" },
  sort: { control: "q-sort", label: "Order" },
  stop_words: { control: "q-stop-words", label: "Common words" },
};

/** The control and words for a JSON path: "drones[2]" -> {control: "q-drones", label: "Drone 3"}. */
export function fieldFor(path) {
  if (!path) return null;
  let rest = String(path);
  while (rest) {
    const indexed = /^(.*)\[(\d+)\]$/.exec(rest);
    const key = indexed ? indexed[1] : rest;
    const field = FIELDS[key];
    if (field) {
      const label = indexed && field.item && rest === path ? field.item + " " + (Number(indexed[2]) + 1) : field.label;
      return { control: field.control, label };
    }
    rest = indexed ? indexed[1] : rest.includes(".") ? rest.slice(0, rest.lastIndexOf(".")) : "";
  }
  return null;
}

/** The server's words without the path it starts with ("drones[2]: use letters..." -> "use letters..."). */
function bare(detail, path) {
  const text = String(detail || "").trim();
  if (path && text.startsWith(path + ": ")) return text.slice(path.length + 2);
  return text;
}

function sentence(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : text;
}

/**
 * A problem (or an error carrying `field` and `message`) as messages to show:
 * [{control, message}], `control` null for what no field holds. One per control.
 */
export function problemMessages(problem) {
  if (!problem) return [];
  const errors = Array.isArray(problem.errors) && problem.errors.length
    ? problem.errors
    : [{ field: problem.field || "", detail: problem.detail || problem.message || "" }];
  const out = [];
  const seen = new Set();
  for (const error of errors) {
    const where = fieldFor(error.field);
    const text = bare(error.detail, error.field);
    const control = where ? where.control : null;
    if (seen.has(control)) continue;
    seen.add(control);
    out.push({ control, message: where ? where.label + ": " + text : sentence(text) });
  }
  return out;
}

/** The controls a later choice hides: not part of the query, never checked. */
export function hiddenControls({ time, area }) {
  const hidden = new Set();
  if (time !== "custom") ["q-from", "q-to"].forEach((id) => hidden.add(id));
  if (area !== "box") ["q-south", "q-west", "q-north", "q-east"].forEach((id) => hidden.add(id));
  if (area !== "circle") ["q-lat", "q-lon", "q-radius"].forEach((id) => hidden.add(id));
  return hidden;
}

/** The numeric fields of the form and their bounds (as analytics/query.py holds them). */
export const NUMBERS = [
  { control: "q-score-min", label: "Peacescore from", min: 0, max: 100 },
  { control: "q-score-max", label: "Peacescore to", min: 0, max: 100 },
  { control: "q-south", label: "South", min: -90, max: 90 },
  { control: "q-north", label: "North", min: -90, max: 90 },
  { control: "q-west", label: "West", min: -180, max: 180 },
  { control: "q-east", label: "East", min: -180, max: 180 },
  { control: "q-lat", label: "Centre latitude", min: -90, max: 90 },
  { control: "q-lon", label: "Centre longitude", min: -180, max: 180 },
  { control: "q-radius", label: "Radius (m)", min: 1, max: 1000000 },
];

/**
 * What is wrong with the visible numeric fields: [{control, message}]. `values` maps a
 * control id to its text; `badInput` holds the ids whose text the browser could not read
 * as a number (an <input type=number> then reports an empty value).
 */
export function checkNumbers(values, hidden, badInput = new Set()) {
  const problems = [];
  for (const field of NUMBERS) {
    if (hidden.has(field.control)) continue;
    const text = String(values[field.control] ?? "").trim();
    if (badInput.has(field.control)) {
      problems.push({ control: field.control, message: field.label + ": must be a number" });
      continue;
    }
    if (text === "") continue;
    const value = Number(text);
    if (!Number.isFinite(value)) {
      problems.push({ control: field.control, message: field.label + ": must be a number" });
    } else if (value < field.min || value > field.max) {
      problems.push({
        control: field.control,
        message: field.label + ": must be between " + field.min + " and " + field.max,
      });
    }
  }
  return problems;
}

/** A name as searches compare it (analytics/tokens.py name_fold): no case, no accents, single spaces. */
export function foldName(name) {
  const folded = String(name || "")
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/ß/g, "ss")
    .split(/\s+/)
    .filter(Boolean)
    .join(" ");
  return folded || String(name || "");
}

/** The combobox's active option after a key (ARIA 1.2 list autocomplete): -1 is none. */
export function moveActive(active, key, count) {
  if (!count) return -1;
  if (key === "ArrowDown") return active < 0 || active >= count - 1 ? 0 : active + 1;
  if (key === "ArrowUp") return active <= 0 ? count - 1 : active - 1;
  if (key === "Home") return 0;
  if (key === "End") return count - 1;
  return active;
}
