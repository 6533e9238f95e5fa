// An export job on the analysts' page, without the DOM: what its state means, how its
// progress reads, when a screen reader hears of it, and whether there is anything to export.

const numberFormat = new Intl.NumberFormat();
const count = (n) => numberFormat.format(n);

export function exportDone(job) {
  return !!job.download_url || job.status === "done" || job.status === "finished" || job.status === "succeeded";
}

export function exportBroken(job) {
  return !!job.error || job.status === "failed" || job.status === "error" || job.status === "cancelled";
}

/** The job's progress as a fraction (0 until it gives one) and in words. */
export function exportProgress(job) {
  const progress = typeof job.progress === "number" ? Math.max(0, Math.min(1, job.progress)) : 0;
  const total = typeof job.total === "number" ? " of " + count(job.total) : "";
  const status = job.status === "queued" ? "waiting for a worker · " : "";
  return {
    progress,
    text: status + Math.round(progress * 100) + " % · " + count(job.rows_written || 0) + total + " reports",
  };
}

/**
 * The quarter to announce at `progress` when `said` quarters were announced already, or 0:
 * each quarter is said once, and the last one is the download link's announcement.
 */
export function quarterToSay(progress, said) {
  const quarter = Math.floor(progress * 4);
  return quarter > said && quarter < 4 ? quarter : 0;
}

/** Why the export buttons are off: no answer on screen, or no report in it; "" when they are on. */
export function exportReason(answered, total) {
  if (!answered) return "Run a query to export its reports.";
  if (total === 0) return "Nothing to export: no reports match.";
  return "";
}

/** The export's request: the answer's frozen query, hits only, from the start. */
export function exportRequest(frozen, format, purpose) {
  const body = { query: { ...frozen, aggs: [] }, format };
  delete body.query.after;
  if (purpose) body.purpose = purpose;
  return body;
}
