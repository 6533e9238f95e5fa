// Exports on the analysts' page: a job for the answer's frozen query (the reports its total
// counted), polled until its download link, with a progress bar and a few announcements.
// What a job's state means and how it reads: analytics_export_job.js.
import { exportBroken, exportDone, exportProgress, exportReason, exportRequest, quarterToSay } from "./analytics_export_job.js";

const POLL_MS = 1000;

/**
 * `answer()` is the answer on screen: {frozen, total} (frozen null when there is none);
 * `takePurpose()` the purpose of access (throws as the form's check does: `showFormError` says why).
 */
export function createExport({ A, apiUrl, answer, takePurpose, showFormError }) {
  const { api, SignedOutError, plural, announce } = A;
  const $ = (id) => document.getElementById(id);
  const dom = {
    buttons: [$("export-csv"), $("export-ndjson")],
    reason: $("export-reason"),
    box: $("export-box"),
    label: $("export-label"),
    progress: $("export-progress"),
    text: $("export-text"),
    link: $("export-link"),
    announcer: $("export-announcer"),
  };
  const job = { current: null, timer: null, running: false, said: 0 };

  async function start(format) {
    const { frozen, total } = answer();
    if (job.running || !frozen || total === 0) return;
    let body;
    try {
      body = exportRequest(frozen, format, takePurpose());
    } catch (error) {
      showFormError(error);
      return;
    }
    job.running = true;
    sync();
    dom.box.hidden = false;
    dom.link.hidden = true;
    dom.label.textContent = "Export " + format.toUpperCase();
    dom.progress.value = 0;
    dom.progress.removeAttribute("value"); // indeterminate until the first figure
    dom.text.textContent = "starting…";
    job.said = 0;
    let started;
    try {
      started = await api(apiUrl, { method: "POST", body });
    } catch (error) {
      failed(error.message);
      return;
    }
    announce(dom.announcer, "Export " + format.toUpperCase() + " started.");
    show(started);
  }

  function show(current) {
    job.current = current;
    const format = String(current.format || "").toUpperCase();
    const { progress, text } = exportProgress(current);
    dom.progress.value = progress;
    dom.text.textContent = text;
    if (exportBroken(current)) {
      failed(current.error || "The export failed.");
      return;
    }
    if (exportDone(current) && current.download_url) {
      dom.progress.value = 1;
      dom.link.href = current.download_url;
      dom.link.textContent = "Download " + format + " (" + plural(current.rows_written ?? current.total ?? 0, "report", "reports") + ")";
      dom.link.hidden = false;
      dom.text.textContent = "100 % · done";
      announce(dom.announcer, "Export " + format + " ready: the download link follows the progress bar.");
      finish();
      return;
    }
    const quarter = quarterToSay(progress, job.said);
    if (quarter) {
      job.said = quarter;
      announce(dom.announcer, "Export " + format + " " + quarter * 25 + " percent done.");
    }
    job.timer = window.setTimeout(poll, POLL_MS);
  }

  async function poll() {
    job.timer = null;
    const id = job.current && job.current.id;
    if (id === undefined || id === null) return;
    let current;
    try {
      current = await api(apiUrl + encodeURIComponent(id) + "/");
    } catch (error) {
      if (error instanceof SignedOutError) {
        failed(error.message);
        return;
      }
      job.timer = window.setTimeout(poll, POLL_MS * 3); // a blip: keep trying
      return;
    }
    show(current);
  }

  function failed(message) {
    dom.text.textContent = message;
    dom.progress.value = 0;
    announce(dom.announcer, "Export failed: " + message);
    finish();
  }

  function finish() {
    if (job.timer) window.clearTimeout(job.timer);
    job.timer = null;
    job.running = false;
    sync();
  }

  /**
   * Off, with the reason said beside them, while there is nothing to export (no answer, or
   * no report in it). aria-disabled, not disabled, while an export runs: the button keeps
   * keyboard focus meanwhile.
   */
  function sync() {
    const { frozen, total } = answer();
    const reason = exportReason(!!frozen, total);
    dom.reason.textContent = reason;
    dom.reason.hidden = !reason;
    for (const button of dom.buttons) {
      button.disabled = !!reason;
      if (reason) button.setAttribute("aria-describedby", "export-reason");
      else button.removeAttribute("aria-describedby");
      if (job.running) button.setAttribute("aria-disabled", "true");
      else button.removeAttribute("aria-disabled");
    }
  }

  for (const button of dom.buttons) button.addEventListener("click", () => start(button.dataset.format));
  return { sync };
}
