"""Writing reports: the index template, the document, and bulk requests with retries.

One index per UTC day (``<prefix>-reports-YYYY.MM.DD``) from an index
template, so retention is dropping whole indices and a mapping change applies
from the next day (or after ``reindex``). The report id is the document
``_id``, so replays and re-indexing overwrite rather than duplicate. Bulk
requests are cut by bytes and by count; a whole request refused with 429 or
lost to a timeout, and single items refused with 429 or 5xx, are retried with
back-off; nothing is dropped: a document the engine rejects as invalid is
returned with the batch's result for the dead-letter topic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch

from analytics.query import distinct_citizens
from analytics.store.base import IndexResult
from analytics.tokens import word_token
from ingest.reports import Received
from peacewatch.logs import log

logger = logging.getLogger(__name__)
_encoder = msgspec.json.Encoder()


def index_template(prefix: str, *, shards: int, replicas: int) -> dict:
    """Mappings for a report: keywords, a geo_point, nested citizens, dates; nothing dynamic."""
    return {
        "index_patterns": [f"{prefix}-reports-*"],
        "template": {
            "settings": {"number_of_shards": shards, "number_of_replicas": replicas, "refresh_interval": "5s"},
            "mappings": {
                # Unknown report fields stay in _source but are not indexed: a
                # drone sending junk keys cannot blow up the mapping.
                "dynamic": False,
                "properties": {
                    "report_id": {"type": "keyword"},
                    "drone_id": {"type": "keyword"},
                    "observed_at": {"type": "date"},
                    "stored_at": {"type": "date"},
                    "time_source": {"type": "keyword"},
                    "point": {"type": "geo_point"},
                    "citizens": {
                        "type": "nested",
                        "properties": {
                            "name": {"type": "keyword"},
                            "peacescore": {"type": "double"},
                            "confidence": {"type": "float"},
                        },
                    },
                    "min_score": {"type": "double"},
                    "tokens": {"type": "keyword"},
                    "seq": {"type": "long"},
                    "battery_pct": {"type": "float"},
                    "firmware": {"type": "keyword"},
                },
            },
        },
    }


def document(item: Received, stored_at_ms: int) -> dict:
    """The stored report plus what queries filter on. Citizens: one per name (the first)."""
    doc = msgspec.json.decode(item.raw)
    report = item.report
    citizens = distinct_citizens(doc.get("citizens", []))
    doc.update(
        report_id=item.report_id,
        observed_at=int(item.observed_at.timestamp() * 1000),
        stored_at=stored_at_ms,
        time_source=item.time_source,
        point={"lat": report.location.lat, "lon": report.location.lon},
        citizens=citizens,
        min_score=min((c["peacescore"] for c in citizens), default=None),
        tokens=sorted({word_token(w) for w in report.words}),
    )
    return doc


def index_name(prefix: str, observed_at_ms: int) -> str:
    day = datetime.fromtimestamp(observed_at_ms / 1000, tz=UTC)
    return f"{prefix}-reports-{day:%Y.%m.%d}"


class BulkWriter:
    """Bulk indexing for one store; holds no state between batches but the template flag."""

    def __init__(
        self,
        client: Elasticsearch,
        *,
        prefix: str,
        template: dict,
        bulk_bytes: int,
        bulk_docs: int,
        max_attempts: int,
        refresh: bool,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.template = template
        self.bulk_bytes = bulk_bytes
        self.bulk_docs = bulk_docs
        self.max_attempts = max_attempts
        self.refresh = refresh
        self.template_ready = False

    def index(self, reports: Sequence[Received]) -> IndexResult:
        """Index every report: how many were new, and those the engine refused for good."""
        if not self.template_ready:
            # Only writers need it, once per store: readers (web threads) never send it.
            self.client.indices.put_index_template(name=f"{self.prefix}-reports", **self.template)
            self.template_ready = True
        now = int(time.time() * 1000)
        result = IndexResult()
        chunk: list[bytes] = []
        ids: list[str] = []
        size = 0
        for item in reports:
            doc = document(item, now)
            target = index_name(self.prefix, doc["observed_at"])
            action = _encoder.encode({"index": {"_index": target, "_id": item.report_id}})
            body = _encoder.encode(doc)
            line_size = len(action) + len(body) + 2
            if chunk and (size + line_size > self.bulk_bytes or len(ids) >= self.bulk_docs):
                self._send(chunk, ids, result)
                chunk, ids, size = [], [], 0
            chunk.append(action + b"\n" + body + b"\n")
            ids.append(item.report_id)
            size += line_size
        if chunk:
            self._send(chunk, ids, result)
        return result

    def _send(self, lines: list[bytes], ids: list[str], result: IndexResult) -> None:
        """One bulk request, retried until every item is stored or rejected for good."""
        from peacewatch import metrics

        pending = list(range(len(ids)))
        delay = 0.2
        for attempt in range(1, self.max_attempts + 1):
            body = b"".join(lines[i] for i in pending)
            metrics.INDEXER_BULK_DOCS.observe(len(pending))
            try:
                # The client's own retries would resend at once; ours back off and count.
                response = self.client.options(max_retries=0).bulk(
                    operations=body,
                    refresh="true" if self.refresh else None,
                    filter_path="errors,items.*.status,items.*.error,items.*.result",
                )
            except (ConnectionTimeout, TransportConnectionError) as exc:
                reason = "timeout" if isinstance(exc, ConnectionTimeout) else "connection"
            except ApiError as exc:
                if exc.meta.status != 429:
                    raise
                reason = "throttled"
            else:
                retry = []
                for position, item in zip(pending, response.body.get("items", []), strict=False):
                    outcome = next(iter(item.values()))
                    status = outcome.get("status", 500)
                    if status == 201:
                        result.created += 1
                    elif status < 300:
                        pass  # an overwrite: this report was already there
                    elif status == 429 or status >= 500:
                        retry.append(position)
                    else:
                        error = outcome.get("error", {})
                        reason = error.get("reason") if isinstance(error, dict) else str(error)
                        result.rejected.append((ids[position], f"{status}: {reason}"))
                if not retry:
                    return
                pending, reason = retry, "item_throttled"
            metrics.INDEXER_BULK_RETRIES.labels(reason=reason).inc()
            log(
                logger,
                logging.WARNING,
                "indexer_bulk_retry",
                reason=reason,
                documents=len(pending),
                attempt=attempt,
                delay_s=delay,
            )
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
        # Still failing: raise so the runner does not commit; the batch is redelivered.
        raise RuntimeError(f"bulk indexing failed {self.max_attempts} times for {len(pending)} documents")
