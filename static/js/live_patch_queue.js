// How the officers' page sends its changes to alerts, as pure code (no fetch, no DOM): changes to one
// alert go one after the other, in the order the officer made them, so none is dropped for being quick
// and none overtakes another; a bulk action runs a few at once. tests/js/live_patch_queue.test.mjs.

export class PatchQueue {
  #tails = new Map(); // key -> the last task sent or queued for it, settled as true/false

  /**
   * Run `task` (a function returning a promise) after every task queued before it under `key`, whether
   * those succeeded or failed. Returns the task's own promise.
   */
  run(key, task) {
    const previous = this.#tails.get(key) || Promise.resolve();
    const turn = previous.then(task);
    const tail = turn.catch(() => false);
    this.#tails.set(key, tail);
    tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return turn;
  }

  /** Whether anything is queued or running under `key`. */
  busy(key) {
    return this.#tails.has(key);
  }
}

/** Call `task(item)` for every item, at most `limit` at once, in the items' order; resolves when all are done. */
export async function runAtMost(items, limit, task) {
  const queue = items.slice();
  async function worker() {
    while (queue.length) await task(queue.shift());
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
