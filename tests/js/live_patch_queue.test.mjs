// Changes an officer makes to one alert reach the server one after the other, in order; none is dropped.
import assert from "node:assert/strict";
import { test } from "node:test";

import { PatchQueue, runAtMost } from "../../static/js/live_patch_queue.js";

/** A task the test finishes by hand, recording when it started. */
function gate(log, name) {
  let finish;
  const done = new Promise((resolve, reject) => (finish = { resolve, reject }));
  const task = () => {
    log.push("start " + name);
    return done.then((value) => {
      log.push("end " + name);
      return value;
    });
  };
  return { task, finish };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

test("a second change to an alert waits for the first, then goes", async () => {
  const queue = new PatchQueue();
  const log = [];
  const first = gate(log, "status");
  const second = gate(log, "note");
  const a = queue.run(7, first.task);
  const b = queue.run(7, second.task);
  await settle();
  assert.deepEqual(log, ["start status"]);
  first.finish.resolve(true);
  await settle();
  assert.deepEqual(log, ["start status", "end status", "start note"]);
  second.finish.resolve(true);
  assert.equal(await a, true);
  assert.equal(await b, true);
  await settle();
  assert.equal(queue.busy(7), false);
});

test("a change that fails does not hold back the next; its caller sees the failure", async () => {
  const queue = new PatchQueue();
  const log = [];
  const first = gate(log, "assign");
  const second = gate(log, "note");
  const a = queue.run(7, first.task);
  const b = queue.run(7, second.task);
  first.finish.reject(new Error("network"));
  await assert.rejects(a, /network/);
  second.finish.resolve(true);
  assert.equal(await b, true);
  assert.deepEqual(log, ["start assign", "start note", "end note"]);
});

test("changes to different alerts go side by side", async () => {
  const queue = new PatchQueue();
  const log = [];
  const one = gate(log, "7");
  const other = gate(log, "8");
  queue.run(7, one.task);
  queue.run(8, other.task);
  await settle();
  assert.deepEqual(log, ["start 7", "start 8"]);
  assert.equal(queue.busy(7) && queue.busy(8), true);
  one.finish.resolve(true);
  other.finish.resolve(true);
});

test("a bulk action runs every item once, never more than the limit at once", async () => {
  let running = 0;
  let most = 0;
  const seen = [];
  await runAtMost([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
    running += 1;
    most = Math.max(most, running);
    await settle();
    seen.push(item);
    running -= 1;
  });
  assert.equal(most, 3);
  assert.deepEqual(seen.sort(), [1, 2, 3, 4, 5, 6, 7]);
  await runAtMost([], 3, () => assert.fail("no item, no call"));
});
