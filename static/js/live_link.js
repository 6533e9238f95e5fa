// What the officers' page tells them about its link to the server, as a pure state machine.
//
// The badge must never say "live" while alerts could be missing: the page says
// so as soon as the browser reports the network gone or the server falls silent
// (it sends a heartbeat every `heartbeat_s`, CONTRACT section 8), and a banner
// names the time from which alerts may be missing until a catch-up has filled
// the gap. No DOM here: live_socket.js renders what these functions return.

// A server older than v1.1 sends no heartbeat; then only the page's own pings show the link alive.
export const SILENCE_WITHOUT_HEARTBEAT_MS = 45 * 1000;

export const BACKOFF_FIRST_MS = 500;
export const BACKOFF_MAX_MS = 10 * 1000;

/**
 * The wait before reconnect attempt number `attempt` (0 first): doubling up to a cap, with jitter so a
 * restarted server is not hit by every browser at once. `random` returns [0, 1), as Math.random.
 */
export function reconnectDelayMs(attempt, random = Math.random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
  return base / 2 + random() * (base / 2);
}

/** How long the page waits without hearing a frame before it calls the link gone. */
export function silenceLimitMs(heartbeatS) {
  if (typeof heartbeatS !== "number" || !(heartbeatS > 0)) return SILENCE_WITHOUT_HEARTBEAT_MS;
  return Math.round(heartbeatS * 2000 + 2000); // two heartbeats missed, and a little slack
}

export function initialLink() {
  // missingSince: when the page last knew it held every alert, while that no longer holds.
  return Object.freeze({ status: "connecting", missingSince: null });
}

/**
 * The next state for an event:
 *   {type: "caught_up"}                       socket open and the catch-up applied: live, nothing missing;
 *   {type: "lost", lastHeardAt}               the socket closed, failed or fell silent;
 *   {type: "offline", lastHeardAt}            the browser says the network is gone;
 *   {type: "online"}                          the browser says it is back;
 *   {type: "signed_out"}                      the session ended: final.
 */
export function nextLink(link, event) {
  if (link.status === "signed-out") return link;
  const wasLive = link.status === "live";
  // The gap starts at the last frame heard while live; a gap already open keeps its start.
  const missingSince = link.missingSince ?? (wasLive ? (event.lastHeardAt ?? null) : null);
  switch (event.type) {
    case "caught_up":
      return Object.freeze({ status: "live", missingSince: null });
    case "lost":
      // Offline stays offline until the browser says otherwise: a failed reconnect proves nothing new.
      return Object.freeze({ status: link.status === "offline" ? "offline" : "reconnecting", missingSince });
    case "offline":
      return Object.freeze({ status: "offline", missingSince });
    case "online":
      return link.status === "offline" ? Object.freeze({ status: "reconnecting", missingSince }) : link;
    case "signed_out":
      return Object.freeze({ status: "signed-out", missingSince });
    default:
      return link;
  }
}

/** Whether a socket that last delivered a frame at `lastHeardAt` has been silent too long at `now`. */
export function isSilent(lastHeardAt, now, limitMs) {
  return now - lastHeardAt > limitMs;
}

export function badgeText(link) {
  return link.status === "signed-out" ? "signed out" : link.status;
}

/** The banner's sentence, or null when nothing may be missing. `formatTime` turns epoch ms into "HH:MM". */
export function bannerText(link, formatTime) {
  if (link.missingSince === null || link.status === "live") return null;
  const since = "Alerts may be missing since " + formatTime(link.missingSince);
  if (link.status === "offline") return since + ": this device is offline. The list catches up when it is back.";
  if (link.status === "signed-out") return since + ": you are signed out.";
  return since + ": reconnecting. The list catches up as soon as the server answers.";
}
