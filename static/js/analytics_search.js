// One search at a time on the analysts' page: a new one (a run, a page) cancels the one
// in flight, whose late answer must never replace the newer one on screen.

/**
 * A runner of `request(signal)`: each call aborts the previous call's signal. `onBusy(true)`
 * when a request starts, `onBusy(false)` only when the latest one settles (an aborted one
 * settling late changes nothing).
 */
export function latestOnly(onBusy) {
  let current = null;
  return async function run(request) {
    if (current) current.abort();
    const controller = (current = new AbortController());
    onBusy(true);
    try {
      return await request(controller.signal);
    } finally {
      if (current === controller) {
        current = null;
        onBusy(false);
      }
    }
  };
}
