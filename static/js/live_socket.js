// The officers' page's link to the server: the WebSocket (hello, heartbeats, acks, reconnect with back-off),
// the catch-up over REST that makes sure no alert is missed, and the badge and banner that say how the
// link stands. The rules are pure modules: alert_sync.js (the change sequence and its gaps) and
// live_link.js (the link's states); this module wires them to the socket and the timers.
//
// Why it looks like this (an officer must never miss an alert):
//   1. open the WebSocket and hold back alert events while we catch up;
//   2. catch up over REST: the open alerts on first load, or every alert
//      changed after the last change we hold (`after_seq`) after a reconnect;
//   3. apply the held-back events, then apply events as they arrive.
// Every copy of an alert, from REST or WebSocket, goes through `applyAlerts`, which keeps an alert only if
// its `version` is not older than the one held, so duplicates from the overlap are harmless.
//
// Every alert change has the next number of one server-wide sequence (`seq`), and every change reaches
// this page as an event, whatever the filters. So the page knows `seq.through`, the change up to which it
// holds everything: a number that stays missing above it for GAP_WAIT_MS (events of two publishers can
// cross, so not at once) means an event was lost on the way, and the page catches up
// `after_seq=through` without waiting for a reconnect.
//
// Flow control: the page acknowledges the frames it has read (`ack`); the server sends no more than a
// window ahead of that, and cuts (4409) a page that stops reading, which then reconnects and catches up.

import { reachedAfterPage } from "./alert_sync.js";
import { LOGIN_URL, SignedOutError, alertsUrl, getJson, sameOriginPath } from "./live_api.js";
import { formatClock } from "./live_format.js";
import { badgeText, bannerText, isSilent, nextLink, reconnectDelayMs, silenceLimitMs } from "./live_link.js";
import { positionRows } from "./live_drones.js";

const INITIAL_PAGE_SIZE = 500;
const CATCH_UP_PAGE_SIZE = 500;
// A change missing from the live stream for this long was lost: catch up.
// Events of the consumer and of officers' changes are published by different
// processes and can cross by a second or two.
const GAP_WAIT_MS = 3000;
// Acknowledge read frames in batches: every ACK_EVERY frames, or ACK_DELAY_MS after the first unacknowledged.
const ACK_EVERY = 50;
const ACK_DELAY_MS = 200;
// The server may cut a connection that lags (4409); the client also holds
// events during catch-up. Past this many held events, resync from scratch.
const MAX_HELD_EVENTS = 20000;
const PING_EVERY_MS = 20 * 1000;
// How often the page checks that the server still talks (it sends a heartbeat
// every few seconds; silence means a dead link the browser may not know of).
const WATCHDOG_EVERY_MS = 1000;
const CLOSE_FORBIDDEN = 4403;
const CLOSE_RESYNC = 4409;

/**
 * `config`: wsPath, alertsApi; `state`: seq (an alert_sync.js ChangeSequence), link, connection;
 * `dom`: status, banner, count; `applyAlerts(alerts, {announce})` keeps alerts; `applyDronePositions`
 * moves drones; `showMessage(text, link)` speaks to the officer.
 */
export function createSocket({ config, state, dom, applyAlerts, applyDronePositions, showMessage }) {
  const conn = {
    socket: null,
    generation: 0, // bumps on every new socket; callbacks of old sockets are ignored
    attempt: 0, // failed attempts in a row, for the back-off
    retryTimer: null,
    pingTimer: null,
    received: 0, // frames read on this socket, for the flow-control acks
    acked: 0,
    ackTimer: null,
    lastHeardAt: 0,
    lastLiveFrameAt: 0, // the last frame heard while live: where a gap would start
    silenceLimitMs: silenceLimitMs(undefined), // until the server's hello gives its heartbeat
    held: null, // alert events received during catch-up, or null when live
    stopped: false, // signed out: no more reconnecting
  };
  let catchingUp = null; // the catch-up in flight: one at a time
  let gapTimer = null; // the wait before a gap is filled over REST

  // ------------------------------------------------------------ badge & banner

  function noteLink(event) {
    state.link = nextLink(state.link, event);
    const value = state.link.status;
    state.connection = value;
    const text = badgeText(state.link);
    if (dom.status.textContent !== text) dom.status.textContent = text;
    dom.status.className = "connection is-" + value;
    const banner = bannerText(state.link, formatClock);
    if (dom.banner) {
      if (dom.banner.textContent !== (banner || "")) dom.banner.textContent = banner || "";
      dom.banner.hidden = banner === null;
    }
  }

  /** The link is gone (closed, failed or silent): what was live may now miss alerts. */
  function linkLost() {
    noteLink({ type: navigator.onLine === false ? "offline" : "lost", lastHeardAt: conn.lastLiveFrameAt });
  }

  // ---------------------------------------------------------------- catch-up

  /**
   * First load: every open alert, newest first, page after page (no cap: an
   * open alert the page does not hold would never be seen), applied at once.
   * The first answer's `last_seq` was read before its query: every change up
   * to it is in the open alerts (or closed, which the first load leaves out).
   */
  async function loadInitialAlerts() {
    const results = [];
    let url = alertsUrl(config.alertsApi, { open: "true", page_size: String(INITIAL_PAGE_SIZE) });
    let lastSeq = null;
    while (url) {
      const { body } = await getJson(url);
      if (lastSeq === null && Number.isInteger(body.last_seq)) lastSeq = body.last_seq;
      results.push(...(body.results || []));
      url = sameOriginPath(body.next);
      if (url) dom.count.textContent = "Loading open alerts… " + results.length + " so far";
    }
    applyAlerts(results, { announce: false });
    markCaughtUp(lastSeq === null ? 0 : lastSeq);
  }

  /** Every alert changed after `seq.through`, in seq order, all pages. */
  async function loadChangesAfter() {
    let url = alertsUrl(config.alertsApi, { after_seq: String(state.seq.through), page_size: String(CATCH_UP_PAGE_SIZE) });
    while (url) {
      const { body } = await getJson(url);
      applyAlerts(body.results || [], { announce: true });
      url = sameOriginPath(body.next);
      markCaughtUp(reachedAfterPage(state.seq.through, body, !url)); // page by page: a failure half-way keeps what was done
    }
  }

  function catchUp() {
    if (!catchingUp) {
      const run = state.seq.through === null ? loadInitialAlerts() : loadChangesAfter();
      catchingUp = run.finally(() => {
        catchingUp = null;
      });
    }
    return catchingUp;
  }

  /** Every change up to `seq` is applied. */
  function markCaughtUp(seq) {
    state.seq.caughtUp(seq);
    watchGap();
  }

  /** A live event with this seq was applied. */
  function noteSeq(seq) {
    state.seq.saw(seq);
    watchGap();
    if (state.seq.overflowing) fillGap();
  }

  /** A gap gets GAP_WAIT_MS to close by itself (two publishers' events can cross), then a catch-up. */
  function watchGap() {
    if (!state.seq.hasGap) {
      clearTimeout(gapTimer);
      gapTimer = null;
    } else if (!gapTimer) {
      gapTimer = setTimeout(fillGap, GAP_WAIT_MS);
    }
  }

  /** A change is still missing from the stream: fetch it (and whatever else) over REST. */
  function fillGap() {
    clearTimeout(gapTimer);
    gapTimer = null;
    if (!state.seq.hasGap || conn.held) return; // a (re)connect's catch-up is on its way
    const generation = conn.generation;
    catchUp().catch((error) => {
      if (generation !== conn.generation) return;
      if (error instanceof SignedOutError) signOut();
      else dropSocket(); // the reconnect catches up
    });
  }

  // ------------------------------------------------------------------ socket

  function socketUrl() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + config.wsPath;
  }

  function connect() {
    if (conn.stopped) return;
    clearTimeout(conn.retryTimer);
    conn.retryTimer = null;
    const generation = ++conn.generation;
    let socket;
    try {
      socket = new WebSocket(socketUrl());
    } catch (error) {
      scheduleReconnect();
      return;
    }
    conn.socket = socket;
    conn.held = [];
    conn.received = 0;
    conn.acked = 0;
    clearTimeout(conn.ackTimer);
    conn.ackTimer = null;
    conn.lastHeardAt = Date.now();
    const current = () => generation === conn.generation;
    socket.onopen = () => current() && onSocketOpen(generation);
    socket.onmessage = (event) => current() && onSocketMessage(event);
    socket.onclose = (event) => current() && onSocketClose(event.code);
    socket.onerror = () => {}; // a close event always follows; handled there
  }

  async function onSocketOpen(generation) {
    startPing();
    // The server subscribes us before accepting, so from here on every change
    // reaches us as an event; the catch-up covers everything before.
    try {
      await catchUp();
    } catch (error) {
      if (generation !== conn.generation) return;
      if (error instanceof SignedOutError) {
        signOut();
      } else {
        console.warn("live map: catch-up failed, reconnecting", error);
        dropSocket();
      }
      return;
    }
    if (generation !== conn.generation) return;
    const held = conn.held || [];
    conn.held = null;
    for (const message of held) handleAlertEvent(message);
    conn.attempt = 0;
    conn.lastLiveFrameAt = Date.now();
    noteLink({ type: "caught_up" });
  }

  function onSocketMessage(event) {
    conn.lastHeardAt = Date.now();
    if (state.link.status === "live") conn.lastLiveFrameAt = conn.lastHeardAt;
    noteFrameRead();
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (!message || typeof message.type !== "string") return;
    switch (message.type) {
      case "alert.created":
      case "alert.updated":
        if (conn.held) {
          conn.held.push(message);
          if (conn.held.length > MAX_HELD_EVENTS) dropSocket(0);
        } else {
          handleAlertEvent(message);
        }
        break;
      case "hello":
        conn.silenceLimitMs = silenceLimitMs(message.heartbeat_s);
        break;
      case "drones.positions":
        // Positions are not versioned and a newer one always wins: no need to hold them.
        applyDronePositions(positionRows(message));
        break;
      default:
        break; // heartbeat, pong, and types added later
    }
  }

  function handleAlertEvent(message) {
    applyAlerts([message.alert], { announce: message.type === "alert.created" });
    if (message.alert) noteSeq(message.alert.seq);
  }

  function noteFrameRead() {
    conn.received += 1;
    if (conn.received - conn.acked >= ACK_EVERY) sendAck();
    else if (!conn.ackTimer) conn.ackTimer = setTimeout(sendAck, ACK_DELAY_MS);
  }

  function sendAck() {
    clearTimeout(conn.ackTimer);
    conn.ackTimer = null;
    const socket = conn.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || conn.acked === conn.received) return;
    socket.send(JSON.stringify({ type: "ack", received: conn.received }));
    conn.acked = conn.received;
  }

  function onSocketClose(code) {
    stopPing();
    conn.generation += 1; // a catch-up still running for this socket must not declare us live
    conn.socket = null;
    conn.held = null;
    if (code === CLOSE_FORBIDDEN) {
      signOut();
    } else if (code === CLOSE_RESYNC) {
      linkLost();
      connect(); // we fell behind: reconnect now; the catch-up fills the gap
    } else {
      linkLost();
      scheduleReconnect();
    }
  }

  /** Give up on the current socket ourselves (dead, or catch-up failed) and reconnect. */
  function dropSocket(delayMs) {
    const socket = conn.socket;
    conn.generation += 1; // its close event, whenever it comes, is now ignored
    conn.socket = null;
    conn.held = null;
    stopPing();
    if (socket) {
      try {
        socket.close();
      } catch (error) {
        /* already closing */
      }
    }
    linkLost();
    scheduleReconnect(delayMs);
  }

  function scheduleReconnect(delayMs) {
    if (conn.stopped) return;
    clearTimeout(conn.retryTimer);
    let delay = delayMs;
    if (delay === undefined) {
      delay = reconnectDelayMs(conn.attempt);
      conn.attempt += 1;
    }
    conn.retryTimer = setTimeout(connect, delay);
  }

  function startPing() {
    stopPing();
    conn.pingTimer = setInterval(() => {
      const socket = conn.socket;
      if (!socket || socket.readyState !== WebSocket.OPEN) return;
      socket.send(JSON.stringify({ type: "ping" }));
    }, PING_EVERY_MS);
  }

  function stopPing() {
    clearInterval(conn.pingTimer);
    conn.pingTimer = null;
  }

  /** The session ended: stop the feed for good and offer to sign in again. */
  function signOut() {
    conn.stopped = true;
    clearTimeout(conn.retryTimer);
    if (conn.socket) {
      conn.generation += 1;
      try {
        conn.socket.close();
      } catch (error) {
        /* already closed */
      }
      conn.socket = null;
    }
    stopPing();
    noteLink({ type: "signed_out", lastHeardAt: conn.lastLiveFrameAt });
    const next = encodeURIComponent(window.location.pathname + window.location.search);
    showMessage("You are signed out: live alerts have stopped.", {
      href: LOGIN_URL + "?next=" + next,
      label: "Sign in again",
    });
  }

  function bind() {
    // Back on the network: do not wait out the back-off.
    window.addEventListener("online", () => {
      noteLink({ type: "online" });
      if (!conn.socket && !conn.stopped) {
        conn.attempt = 0;
        connect();
      }
    });
    // Network gone: say so now, not when a socket finally times out; the socket is dropped
    // so that the page reconnects and catches up when the network is back.
    window.addEventListener("offline", () => {
      if (conn.stopped) return;
      noteLink({ type: "offline", lastHeardAt: conn.lastLiveFrameAt });
      if (conn.socket) dropSocket();
    });
    // A server that stops talking (its heartbeats stop) is a dead link the browser may not notice.
    setInterval(() => {
      const socket = conn.socket;
      if (socket && socket.readyState === WebSocket.OPEN && isSilent(conn.lastHeardAt, Date.now(), conn.silenceLimitMs)) {
        dropSocket();
      }
    }, WATCHDOG_EVERY_MS);
  }

  /** Show the badge as it starts, listen to the network, and connect. */
  function start() {
    noteLink({ type: "start" });
    bind();
    connect();
  }

  return { start, signOut, noteLink };
}
