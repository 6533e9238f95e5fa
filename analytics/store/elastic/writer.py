"""Writing reports: the index template, the document, and bulk requests with retries.

One index per UTC day (``<prefix>-reports-YYYY.MM.DD``) from an index
template, so retention is dropping whole indices and a mapping change applies
from the next day (or after ``reindex``). Bulk requests are cut by bytes and by
count; a whole request refused with 429 or lost to a timeout, and single items
refused with 429 or 5xx, are retried with back-off; nothing is dropped: a
document the engine rejects as invalid is returned with the batch's result for
the dead-letter topic.

Identity (CONTRACT v1.1): the document ``_id`` is ``<drone_id>/<report_id>``
(:func:`doc_id`), written with the ``create`` action, which never overwrites.
The document keeps ``content_hash``, a hash of the report's bytes, so a key
already taken (a 409 ``version_conflict_engine_exception``) is told apart by
reading the stored hash back with ``mget``: the same hash is a replay, done;
another is a conflict, refused for the dead-letter topic. ``_id`` is unique
per index only, and a report's index is its day: a report under a key stored
on another day is found by an ``ids`` search over every day first (searches
see writes after the next refresh, so two such reports within a refresh
interval of each other can both be stored).

The document is the report as sent, but for telemetry ingest dropped as
invalid (named in ``dropped``): its values move to ``dropped_values``, which is
not indexed, since in their own fields a ``battery_pct`` of "low" would break
the float mapping and the engine would refuse a report the contract stores.
:func:`as_sent` puts them back.
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

from analytics.query import citizen_key, distinct_citizens
from analytics.store.base import CONFLICT, REJECTED, IndexResult, Refused, conflict_detail, content_hash
from analytics.tokens import name_fold, word_token
from ingest.reports import Received
from peacewatch.logs import log

logger = logging.getLogger(__name__)
_encoder = msgspec.json.Encoder()
LOOKUP_IDS = 5000  # ids per search for stored keys: its hits stay under index.max_result_window (10,000)


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
                # Derived from the citizens, which _source keeps: not stored twice.
                "_source": {"excludes": ["scores"]},
                "properties": {
                    "report_id": {"type": "keyword"},
                    "drone_id": {"type": "keyword"},
                    "observed_at": {"type": "date"},
                    "stored_at": {"type": "date"},
                    "time_source": {"type": "keyword"},
                    "clock_skew": {"type": "boolean"},
                    "dropped": {"type": "keyword"},
                    "dropped_values": {"type": "object", "enabled": False},
                    "point": {"type": "geo_point"},
                    "content_hash": {"type": "keyword", "index": False},
                    "citizens": {
                        "type": "nested",
                        "properties": {
                            # What top lists and timelines group by: the id when given, else the name.
                            "key": {"type": "keyword"},
                            "id": {"type": "keyword"},
                            "name": {"type": "keyword"},
                            # The name as searches compare it (analytics.tokens.name_fold): no case, no accents.
                            "name_fold": {"type": "keyword"},
                            "peacescore": {"type": "double"},
                            "confidence": {"type": "float"},
                        },
                    },
                    "min_score": {"type": "double"},
                    # Every citizen's peacescore, one value each (doc values keep repeats): the score
                    # statistics without the nested citizens' join, the costlier way (BENCHMARKS, "The
                    # dashboard's hits"). Read by aggregations only, so not indexed for search.
                    "scores": {"type": "double", "index": False},
                    "tokens": {"type": "keyword"},
                    "seq": {"type": "long"},
                    "battery_pct": {"type": "float"},
                    "firmware": {"type": "keyword"},
                },
            },
        },
    }


def doc_id(drone_id: str, report_id: str) -> str:
    """The document ``_id`` of a report: its identity, readable and collision-free.

    A drone id cannot contain "/" (CONTRACT section 1), so the first "/"
    separates the two and no two pairs share an id; at most 64 + 1 + 4 x 64
    bytes of UTF-8, within the engine's 512-byte bound. Readable, unlike a
    hash: an operator can find a report's document from a dead letter.
    """
    return f"{drone_id}/{report_id}"


def document(item: Received, stored_at_ms: int) -> dict:
    """The stored report plus what queries filter on. Citizens: one per key (the first), with their key."""
    doc = msgspec.json.decode(item.raw)
    report = item.report
    if item.dropped:
        aside: dict = {}
        for name in item.dropped:
            _put(aside, name, _pop(doc, name))
        doc["dropped_values"] = aside
    citizens = [
        {**c, "key": citizen_key(c), "name_fold": name_fold(c["name"])}
        for c in distinct_citizens(doc.get("citizens", []))
    ]
    doc.update(
        report_id=item.report_id,
        content_hash=content_hash(item.raw),
        observed_at=int(item.observed_at.timestamp() * 1000),
        stored_at=stored_at_ms,
        time_source=item.time_source,
        clock_skew=item.clock_skew,
        dropped=list(item.dropped),
        point={"lat": report.location.lat, "lon": report.location.lon},
        citizens=citizens,
        min_score=min((c["peacescore"] for c in citizens), default=None),
        scores=[c["peacescore"] for c in citizens],
        tokens=sorted({word_token(w) for w in report.words}),
    )
    return doc


ADDED = ("key", "name_fold")  # what document() adds to each citizen
# What document() adds to the report for searches and aggregations only: never read back as the report.
SEARCH_FIELDS = ("point", "min_score", "scores", "tokens")


def as_sent(source: dict) -> dict:
    """A document's ``_source`` with the report's fields as the drone sent them: dropped telemetry
    back in its place, citizens without the key :func:`document` added."""
    doc = dict(source)
    if "citizens" in doc:
        doc["citizens"] = [{k: v for k, v in c.items() if k not in ADDED} for c in doc["citizens"]]
    aside = doc.pop("dropped_values", None)
    if aside:
        for name in doc.get("dropped", []):
            _put(doc, name, _get(aside, name))
    return doc


# Telemetry names are paths ("location.alt_m"). What is set aside keeps the
# report's nesting, not dotted keys: source filtering in the engine expands
# dotted keys into objects, so a dotted key would not come back as written.
def _get(doc: dict, name: str):
    for part in name.split("."):
        doc = doc[part]
    return doc


def _pop(doc: dict, name: str):
    parent, _, leaf = name.rpartition(".")
    return (_get(doc, parent) if parent else doc).pop(leaf)


def _put(doc: dict, name: str, value) -> None:
    *parents, leaf = name.split(".")
    for parent in parents:
        child = dict(doc.get(parent, {}))  # a copy: as_sent leaves the engine's answer as it was
        doc[parent] = child
        doc = child
    doc[leaf] = value


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
        """Index every report: how many were new, and those refused for good (conflicts, rejections)."""
        if not self.template_ready:
            # Only writers need it, once per store: readers (web threads) never send it.
            self.client.indices.put_index_template(name=f"{self.prefix}-reports", **self.template)
            self.template_ready = True
        now = int(time.time() * 1000)
        result = IndexResult()
        batch = Batch(reports)
        keys = list(batch.first)
        for start in range(0, len(keys), LOOKUP_IDS):
            self._find_stored(batch, keys[start : start + LOOKUP_IDS])
        chunk: list[bytes] = []
        positions: list[int] = []
        size = 0
        for position in batch.to_write():
            item = reports[position]
            doc = document(item, now)
            target = index_name(self.prefix, doc["observed_at"])
            action = _encoder.encode({"create": {"_index": target, "_id": batch.ids[position]}})
            body = _encoder.encode(doc)
            line_size = len(action) + len(body) + 2
            if chunk and (size + line_size > self.bulk_bytes or len(positions) >= self.bulk_docs):
                self._send(chunk, positions, batch, result)
                chunk, positions, size = [], [], 0
            chunk.append(action + b"\n" + body + b"\n")
            positions.append(position)
            size += line_size
        if chunk:
            self._send(chunk, positions, batch, result)
        result.rejected.extend(batch.conflicts())
        result.rejected.sort()
        return result

    def _find_stored(self, batch: Batch, keys: list[str]) -> None:
        """Keys already held by a searchable document, on any day (see the module docstring)."""
        found = self.client.search(
            index=f"{self.prefix}-reports-*",
            query={"ids": {"values": keys}},
            size=len(keys),
            source=["content_hash"],
            allow_no_indices=True,
            ignore_unavailable=True,
        )["hits"]["hits"]
        for h in found:
            batch.stored[h["_id"]] = h["_source"].get("content_hash")

    def _send(self, lines: list[bytes], positions: list[int], batch: Batch, result: IndexResult) -> None:
        """One bulk request, retried until every item is stored, found stored, or refused for good."""
        from peacewatch import metrics

        pending = list(range(len(positions)))
        delay = 0.2
        for attempt in range(1, self.max_attempts + 1):
            body = b"".join(lines[i] for i in pending)
            metrics.INDEXER_BULK_DOCS.observe(len(pending))
            try:
                # The client's own retries would resend at once; ours back off and count.
                response = self.client.options(max_retries=0).bulk(
                    operations=body,
                    refresh="true" if self.refresh else None,
                    filter_path="errors,items.*.status,items.*.error,items.*.result,items.*._index,items.*._id",
                )
            except (ConnectionTimeout, TransportConnectionError) as exc:
                reason = "timeout" if isinstance(exc, ConnectionTimeout) else "connection"
            except ApiError as exc:
                if exc.meta.status != 429:
                    raise
                reason = "throttled"
            else:
                retry, taken = [], []
                for line, item in zip(pending, response.body.get("items", []), strict=False):
                    outcome = next(iter(item.values()))
                    status = outcome.get("status", 500)
                    if status == 201:
                        result.created += 1
                    elif status == 409:
                        taken.append((line, outcome.get("_index")))  # the key is taken: by this report, or another?
                    elif status == 429 or status >= 500:
                        retry.append(line)
                    else:
                        error = outcome.get("error", {})
                        reason = error.get("reason") if isinstance(error, dict) else str(error)
                        result.rejected.append(Refused(positions[line], REJECTED, f"{status}: {reason}"))
                # Gone again by the time we look (a day index dropped meanwhile): write it anew.
                retry.extend(self._read_taken(taken, positions, batch))
                if not retry:
                    return
                pending, reason = sorted(retry), "item_throttled"
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

    def _read_taken(self, taken: list[tuple[int, str]], positions: list[int], batch: Batch) -> list[int]:
        """The stored hashes of keys a ``create`` found taken; returns the lines whose document is gone."""
        if not taken:
            return []
        # mget is real-time: it sees a document another indexer wrote a moment ago, before any refresh.
        docs = [{"_index": index, "_id": batch.ids[positions[line]]} for line, index in taken]
        found = self.client.mget(docs=docs, source=["content_hash"])["docs"]
        gone = []
        for (line, _), doc in zip(taken, found, strict=True):
            if doc.get("found"):
                batch.stored[doc["_id"]] = doc["_source"].get("content_hash")
            else:
                gone.append(line)
        return gone


class Batch:
    """The reports of one ``index`` call by position: their document ids and content hashes.

    Of several reports under one key in a batch, the first is the one written;
    each is then compared with what holds its key, a stored document or that
    first report: the same hash is a replay, another a conflict.
    """

    def __init__(self, reports: Sequence[Received]) -> None:
        self.reports = reports
        self.ids = [doc_id(r.report.drone_id, r.report_id) for r in reports]
        self.hashes = [content_hash(r.raw) for r in reports]
        self.first: dict[str, int] = {}  # document id -> position of its first report
        for position, key in enumerate(self.ids):
            self.first.setdefault(key, position)
        self.stored: dict[str, str | None] = {}  # document id -> content hash of the document found holding it

    def to_write(self) -> list[int]:
        return [position for key, position in self.first.items() if key not in self.stored]

    def conflicts(self) -> list[Refused]:
        out = []
        for position, key in enumerate(self.ids):
            held = self.stored[key] if key in self.stored else self.hashes[self.first[key]]
            if held != self.hashes[position]:
                item = self.reports[position]
                out.append(Refused(position, CONFLICT, conflict_detail(item.report.drone_id, item.report_id)))
        return out
