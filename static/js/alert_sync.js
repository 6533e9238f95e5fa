// The rules that keep the officers' page from missing an alert, as pure code (no DOM, no timers, no socket):
// which copy of an alert to keep, and up to which change the page holds everything (`seq`).
// live_socket.js drives them: it applies REST pages and live events through them and sets the timers.

/** Whether `alert` looks like an alert of the API/event payload (anything else is ignored, never shown). */
export function isAlertShape(alert) {
  return (
    !!alert &&
    typeof alert === "object" &&
    Number.isInteger(alert.id) &&
    typeof alert.version === "number" &&
    typeof alert.status === "string"
  );
}

/**
 * Put `incoming` into `alerts` (a Map id -> alert) unless a newer version is held: copies arrive from REST
 * pages and from the socket, in any order, so a late older copy must not win. "created", "updated" or null.
 */
export function storeAlert(alerts, incoming) {
  if (!isAlertShape(incoming)) return null;
  const held = alerts.get(incoming.id);
  if (held && incoming.version < held.version) return null;
  alerts.set(incoming.id, incoming);
  return held ? "updated" : "created";
}

/**
 * Every alert change has the next number of one server-wide sequence. `through` is the change up to
 * which the page holds everything (null before the first load); `ahead` the numbers seen above a gap.
 * A number that stays missing above `through` means an event was lost: the page catches up over REST.
 */
export class ChangeSequence {
  constructor({ maxAhead = 5000 } = {}) {
    this.through = null;
    this.ahead = new Set();
    this.maxAhead = maxAhead;
  }

  /** Every change up to `seq` is applied (a complete first load or catch-up page). */
  caughtUp(seq) {
    if (this.through === null || seq > this.through) this.through = seq;
    for (const n of this.ahead) if (n <= this.through) this.ahead.delete(n);
    this.#advance();
  }

  /** A live event with this number was applied. Numbers at or below `through` (replays) change nothing. */
  saw(seq) {
    if (!Number.isInteger(seq) || seq <= 0 || this.through === null || seq <= this.through) return;
    this.ahead.add(seq);
    this.#advance();
  }

  /** Some change between `through` and the numbers seen is still missing. */
  get hasGap() {
    return this.ahead.size > 0;
  }

  /** So many changes are held above a gap that waiting longer is pointless: catch up now. */
  get overflowing() {
    return this.ahead.size > this.maxAhead;
  }

  #advance() {
    while (this.ahead.has(this.through + 1)) {
      this.through += 1;
      this.ahead.delete(this.through);
    }
  }
}

/**
 * Up to which change the page holds everything once a catch-up page (rows changed after `through`, in seq
 * order) is applied: changes commit in seq order, so up to its last row; after the last page (`isLast`),
 * up to the answer's `last_seq`, read before its query.
 */
export function reachedAfterPage(through, page, isLast) {
  let reached = through;
  for (const alert of page.results || []) if (Number.isInteger(alert.seq) && alert.seq > reached) reached = alert.seq;
  if (isLast && Number.isInteger(page.last_seq)) reached = Math.max(reached, page.last_seq);
  return reached;
}
