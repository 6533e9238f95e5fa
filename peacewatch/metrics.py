"""Prometheus metrics of every PeaceWatch process, served together on ``/metrics``.

Consumers, Celery and the web server are separate processes (``make run``
starts them as children of ``runstack``; compose runs each in its own
container), yet an operator scrapes one endpoint. So every metric lives in
prometheus_client's multiprocess mode: each process writes its values to
small memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` and the web
process's ``/metrics`` merges all the files it finds there (counters and
histograms summed, gauges by the mode given below). The directory is emptied
when the stack starts (``runstack``, or compose's one-shot ``init`` service).

Files are named by process identity. prometheus_client uses the pid, which
is 1 in every container; here it is ``host-pid`` so that containers sharing
the directory (a compose volume) never write the same file.

Names follow Prometheus conventions: ``_total`` counters, base units
(seconds), labels of low cardinality. docs/OPERATIONS.md says what each means
and what to alert on.
"""

from __future__ import annotations

import atexit
import os
import socket
from pathlib import Path

from django.conf import settings
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess, values

_DIR = Path(settings.PROMETHEUS_MULTIPROC_DIR)
_DIR.mkdir(parents=True, exist_ok=True)
# prometheus_client reads the directory from the environment when a value is created.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(_DIR)


def process_identity(pid: int | None = None) -> str:
    # No "_": prometheus_client splits file names on it.
    return f"{socket.gethostname().replace('_', '-')}-{pid or os.getpid()}"


values.ValueClass = values.MultiProcessValue(process_identifier=process_identity)

# --- Stream consumers (peacewatch/streams/runner.py) -------------------------------------------
REPORTS_CONSUMED = Counter(
    "peacewatch_reports_consumed_total", "Kafka records handled and committed, per consumer.", ["consumer"]
)
CONSUMER_BATCH_SECONDS = Histogram(
    "peacewatch_consumer_batch_seconds",
    "Time to handle one batch, deliver its messages and commit, per consumer.",
    ["consumer"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DEAD_LETTERS = Counter(
    "peacewatch_dead_letters_total",
    "Records sent to peacewatch.deadletter, by source (consumer name or http_ingest) and error code.",
    ["source", "error"],
)
CONSUMER_LAG = Gauge(
    "peacewatch_consumer_lag",
    "Records on the partition not yet committed by the consumer group (high watermark minus position).",
    ["consumer", "topic", "partition"],
    # The process that owns the partition now updates it every second; the most
    # recent value wins over what a previous owner wrote before a rebalance.
    multiprocess_mode="livemostrecent",
)
CONSUMER_PARTITIONS = Gauge(
    "peacewatch_consumer_partitions",
    "Partitions assigned to the consumer's live processes.",
    ["consumer"],
    multiprocess_mode="livesum",
)
ARCHIVE_ROWS = Counter(
    "peacewatch_archive_rows_total", "Rows written to the archive's Parquet files, by stream.", ["stream"]
)
ARCHIVE_BYTES = Counter(
    "peacewatch_archive_bytes_total", "Bytes of Parquet written to the archive, by stream.", ["stream"]
)
RETENTION_DELETED = Counter(
    "peacewatch_retention_deleted_total",
    "Rows deleted because their retention period ended (analytics/retention.py), by kind.",
    ["kind"],
)
INDEX_DROP_REFUSED = Counter(
    "peacewatch_analytics_index_drop_refused_total",
    "Index days past retention kept because the archive does not hold all their reports (see the logs).",
)
TELEMETRY_DROPPED = Counter(
    "peacewatch_telemetry_dropped_total",
    "Telemetry fields left out of otherwise valid reports for breaking their rule (counted by the indexer), by field.",
    ["field"],
)
CONSUMER_RECONNECTS = Counter(
    "peacewatch_consumer_reconnects_total",
    "Consumer sessions that failed and were retried with back-off.",
    ["consumer"],
)

# --- Alerts (alerts/services.py, alerts/live.py) -------------------------------------
ALERTS_RAISED = Counter(
    "peacewatch_alerts_raised_total",
    "Alerts opened (event=created) or given a new sighting (event=updated) from reports, by kind.",
    ["kind", "event"],
)
ALERT_LATENCY = Histogram(
    "peacewatch_alert_latency_seconds",
    "From a new alert's observed_at (the report's time) to its frame sent on a WebSocket, per client.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
ALERT_SIGHTINGS_QUIETED = Counter(
    "peacewatch_alert_sightings_quieted_total",
    "Sightings that raised no alert because an officer dismissed the subject's alert within the quiet time, by kind.",
    ["kind"],
)
WEBSOCKET_CLIENTS = Gauge(
    "peacewatch_websocket_clients",
    "Officers' WebSocket connections open on /ws/alerts/, all web processes.",
    multiprocess_mode="livesum",
)
# A container restarted after a crash gets the same host name and pid 1 again, so
# this process would resume the dead one's file: connections do not survive, counts do.
WEBSOCKET_CLIENTS.set(0)
LIVE_EVENTS_DROPPED = Counter(
    "peacewatch_live_events_dropped_total",
    "Alert events not queued for a WebSocket client that fell behind (the client is cut and resyncs).",
)

# --- Analytics indexer (analytics/, the Elasticsearch adapter) ---------------------
INDEXER_BULK_DOCS = Histogram(
    "peacewatch_indexer_bulk_docs",
    "Documents per bulk request sent to the analytics engine.",
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000, 20000),
)
INDEXER_BULK_RETRIES = Counter(
    "peacewatch_indexer_bulk_retries_total", "Bulk requests (or items) retried, by reason.", ["reason"]
)

# --- HTTP ingest (ingest/http.py) ---------------------------------------------------
INGEST_REPORTS = Counter(
    "peacewatch_http_ingest_reports_total", "Reports received on POST /api/v1/ingest/reports, by outcome.", ["outcome"]
)


def render() -> tuple[bytes, str]:
    """The merged metrics of every process writing to the directory, in text format."""
    from prometheus_client import CONTENT_TYPE_LATEST

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(_DIR))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_dead(pid: int | None = None) -> None:
    """Live gauges (clients, partitions, lag) of a process that ended must not count.

    A process marks itself at exit; a killed one cannot, so its parent marks it by pid.
    """
    multiprocess.mark_process_dead(process_identity(pid), str(_DIR))


atexit.register(mark_dead)
