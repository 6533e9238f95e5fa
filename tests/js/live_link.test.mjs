// The officers' page never says "live" while alerts could be missing, and says since when they could be.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  SILENCE_WITHOUT_HEARTBEAT_MS,
  badgeText,
  bannerText,
  initialLink,
  isSilent,
  nextLink,
  reconnectDelayMs,
  silenceLimitMs,
} from "../../static/js/live_link.js";

const hhmm = (ms) => new Date(ms).toISOString().slice(11, 16);
const T = Date.UTC(2026, 10, 30, 14, 32, 10);

function run(...events) {
  return events.reduce(nextLink, initialLink());
}

test("the page starts connecting, with no banner: nothing was held yet to be missing", () => {
  const link = initialLink();
  assert.equal(badgeText(link), "connecting");
  assert.equal(bannerText(link, hhmm), null);
  assert.equal(bannerText(run({ type: "lost", lastHeardAt: T }), hhmm), null);
});

test("after a catch-up the page is live and shows no banner", () => {
  const link = run({ type: "caught_up" });
  assert.equal(badgeText(link), "live");
  assert.equal(bannerText(link, hhmm), null);
});

test("a lost link says since when alerts may be missing: the last frame heard while live", () => {
  const link = run({ type: "caught_up" }, { type: "lost", lastHeardAt: T });
  assert.equal(badgeText(link), "reconnecting");
  assert.equal(bannerText(link, hhmm), "Alerts may be missing since 14:32: reconnecting. The list catches up as soon as the server answers.");
});

test("failed reconnects keep the gap's first moment, not the latest attempt", () => {
  const link = run(
    { type: "caught_up" },
    { type: "lost", lastHeardAt: T },
    { type: "lost", lastHeardAt: T + 60_000 },
    { type: "lost", lastHeardAt: T + 120_000 },
  );
  assert.equal(link.missingSince, T);
});

test("the browser going offline shows at once, and a failed reconnect does not hide it", () => {
  let link = run({ type: "caught_up" }, { type: "offline", lastHeardAt: T });
  assert.equal(badgeText(link), "offline");
  assert.match(bannerText(link, hhmm), /since 14:32: this device is offline/);
  link = nextLink(link, { type: "lost", lastHeardAt: T + 5000 });
  assert.equal(badgeText(link), "offline");
  link = nextLink(link, { type: "online" });
  assert.equal(badgeText(link), "reconnecting");
  assert.equal(link.missingSince, T);
});

test("only a completed catch-up clears the banner", () => {
  let link = run({ type: "caught_up" }, { type: "lost", lastHeardAt: T }, { type: "online" });
  assert.notEqual(bannerText(link, hhmm), null);
  link = nextLink(link, { type: "caught_up" });
  assert.equal(bannerText(link, hhmm), null);
  assert.equal(link.missingSince, null);
});

test("signed out is final: nothing brings the page back to live", () => {
  let link = run({ type: "caught_up" }, { type: "signed_out", lastHeardAt: T });
  link = nextLink(link, { type: "caught_up" });
  assert.equal(badgeText(link), "signed out");
  assert.match(bannerText(link, hhmm), /you are signed out/);
});

test("silence is judged against twice the server's heartbeat, or the old limit without one", () => {
  assert.equal(silenceLimitMs(5), 12_000);
  assert.equal(silenceLimitMs(undefined), SILENCE_WITHOUT_HEARTBEAT_MS);
  assert.equal(silenceLimitMs(0), SILENCE_WITHOUT_HEARTBEAT_MS);
  assert.equal(isSilent(T, T + 12_000, 12_000), false);
  assert.equal(isSilent(T, T + 12_001, 12_000), true);
});

test("reconnects wait longer after each failure, up to a cap, each browser a different time", () => {
  const least = (attempt) => reconnectDelayMs(attempt, () => 0);
  const most = (attempt) => reconnectDelayMs(attempt, () => 0.999999);
  assert.equal(least(0), 250);
  assert.ok(most(0) < 500);
  assert.equal(least(1), 500);
  assert.equal(least(3), 2000);
  assert.equal(least(10), 5000);
  assert.ok(most(10) < 10000);
  assert.ok(least(10) <= reconnectDelayMs(10) && reconnectDelayMs(10) < 10000);
});
