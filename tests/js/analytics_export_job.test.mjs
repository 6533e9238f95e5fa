// An export says how far it got, is heard a quarter at a time, and exports only what the answer counted.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  exportBroken,
  exportDone,
  exportProgress,
  exportReason,
  exportRequest,
  quarterToSay,
} from "../../static/js/analytics_export_job.js";

const count = (n) => new Intl.NumberFormat().format(n);

test("a job with a download link, or a finished status, is done", () => {
  assert.ok(exportDone({ status: "running", download_url: "/exports/7/file" }));
  for (const status of ["done", "finished", "succeeded"]) assert.ok(exportDone({ status }));
  assert.ok(!exportDone({ status: "running" }));
  assert.ok(!exportDone({ status: "queued" }));
});

test("a job with an error, or a failed or cancelled status, is broken", () => {
  assert.ok(exportBroken({ status: "running", error: "disk full" }));
  for (const status of ["failed", "error", "cancelled"]) assert.ok(exportBroken({ status }));
  assert.ok(!exportBroken({ status: "running" }));
});

test("progress reads as a percentage and the reports written of the total", () => {
  const { progress, text } = exportProgress({ status: "running", progress: 0.256, rows_written: 1200, total: 4000 });
  assert.equal(progress, 0.256);
  assert.equal(text, "26 % · " + count(1200) + " of " + count(4000) + " reports");
});

test("a queued job says it waits for a worker, and a job without figures reads as nothing yet", () => {
  assert.equal(exportProgress({ status: "queued" }).text, "waiting for a worker · 0 % · 0 reports");
  assert.equal(exportProgress({ status: "running" }).progress, 0);
});

test("progress outside 0 to 1 is held within it", () => {
  assert.equal(exportProgress({ progress: 1.4 }).progress, 1);
  assert.equal(exportProgress({ progress: -0.2 }).progress, 0);
});

test("each quarter is announced once, and the last is left to the download link", () => {
  assert.equal(quarterToSay(0.1, 0), 0);
  assert.equal(quarterToSay(0.3, 0), 1);
  assert.equal(quarterToSay(0.4, 1), 0);
  // A quick job may skip a quarter: the one reached is said.
  assert.equal(quarterToSay(0.7, 1), 2);
  assert.equal(quarterToSay(0.8, 2), 3);
  assert.equal(quarterToSay(1, 3), 0);
});

test("there is nothing to export without an answer, or with an answer of no reports", () => {
  assert.equal(exportReason(false, null), "Run a query to export its reports.");
  assert.equal(exportReason(true, 0), "Nothing to export: no reports match.");
  assert.equal(exportReason(true, 12), "");
});

test("an export asks for the frozen query's reports from the start, with the purpose of access", () => {
  const frozen = {
    time: { from: "2026-11-28T10:00:00Z", to: "2026-11-29T10:00:00Z" },
    arrived_before: "2026-11-29T10:00:01Z",
    aggs: ["histogram", "grid"],
    after: "cursor-2",
    size: 50,
  };
  const body = exportRequest(frozen, "csv", "case 2026-114");
  assert.deepEqual(body, {
    query: {
      time: { from: "2026-11-28T10:00:00Z", to: "2026-11-29T10:00:00Z" },
      arrived_before: "2026-11-29T10:00:01Z",
      aggs: [],
      size: 50,
    },
    format: "csv",
    purpose: "case 2026-114",
  });
  // The answer's own query is left as it was.
  assert.equal(frozen.after, "cursor-2");
  assert.equal("purpose" in exportRequest(frozen, "ndjson", ""), false);
});
