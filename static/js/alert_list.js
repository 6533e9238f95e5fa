// Which alerts the officers' list shows, in what order, and how many of each status: pure functions,
// so the rules an officer relies on are tested without a browser (tests/js/alert_list.test.mjs).

export const OPEN_STATUSES = new Set(["new", "acknowledged"]);
export const STATUSES = ["new", "acknowledged", "resolved", "dismissed"];
// Mirrors the server's workflow; the server stays the judge (a 400 says why).
export const TRANSITIONS = {
  new: ["acknowledged", "dismissed"],
  acknowledged: ["resolved", "dismissed"],
  resolved: [],
  dismissed: [],
};
export const SORTS = {
  newest: "Newest first",
  oldest: "Oldest first",
  score: "Lowest PeaceScore first",
};

export function isOpen(alert) {
  return OPEN_STATUSES.has(alert.status);
}

/** Whether the workflow lets an alert in status `from` move to `to`. */
export function canMove(from, to, transitions = TRANSITIONS) {
  return (transitions[from] || []).includes(to);
}

/** Lower case, accents and extra spaces removed: "Jeanne  MARTÍN" and "jeanne martin" compare equal. */
export function normalise(text) {
  return String(text ?? "")
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * Whether the list shows `alert` under `filter`:
 *   {status: "open"|"all"|one status, severity: "all"|..., kind: "all"|..., text: "" or words}.
 * Every word of the search must appear in the citizen's name, the drone or the subject id.
 */
export function matches(alert, filter) {
  const status = filter.status ?? "open";
  const statusOk = status === "all" || (status === "open" ? OPEN_STATUSES.has(alert.status) : alert.status === status);
  if (!statusOk) return false;
  if ((filter.severity ?? "all") !== "all" && alert.severity !== filter.severity) return false;
  if ((filter.kind ?? "all") !== "all" && alert.kind !== filter.kind) return false;
  const words = normalise(filter.text).split(" ").filter(Boolean);
  if (!words.length) return true;
  const haystack = normalise([alert.citizen, alert.drone_id, alert.citizen_id].filter(Boolean).join(" "));
  return words.every((word) => haystack.includes(word));
}

function timeOf(iso) {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? 0 : ms;
}

/**
 * The list's order: a negative number when `a` comes first. With `pinCritical`, open critical alerts
 * come before everything else, whatever the sort; ties go to the higher id (the later alert).
 */
export function compareAlerts(a, b, { sort = "newest", pinCritical = true } = {}) {
  if (pinCritical) {
    const pa = a.severity === "critical" && OPEN_STATUSES.has(a.status) ? 0 : 1;
    const pb = b.severity === "critical" && OPEN_STATUSES.has(b.status) ? 0 : 1;
    if (pa !== pb) return pa - pb;
  }
  let order = 0;
  if (sort === "oldest") order = timeOf(a.raised_at) - timeOf(b.raised_at);
  else if (sort === "score") order = scoreKey(a) - scoreKey(b) || timeOf(b.raised_at) - timeOf(a.raised_at);
  else order = timeOf(b.raised_at) - timeOf(a.raised_at);
  return order || (sort === "oldest" ? a.id - b.id : b.id - a.id);
}

function scoreKey(alert) {
  // Alerts without a score (a drone offline, a silent fleet) after every citizen's.
  return typeof alert.peacescore === "number" ? alert.peacescore : Number.POSITIVE_INFINITY;
}

/** How many alerts of each status `alerts` hold (every status named, zeros included). */
export function countByStatus(alerts) {
  const counts = Object.fromEntries(STATUSES.map((status) => [status, 0]));
  for (const alert of alerts) if (alert.status in counts) counts[alert.status] += 1;
  return counts;
}

/** The alerts among `alerts` a bulk action may move to `status` (the workflow's transitions). */
export function movable(alerts, status, transitions = TRANSITIONS) {
  return alerts.filter((alert) => canMove(alert.status, status, transitions));
}
