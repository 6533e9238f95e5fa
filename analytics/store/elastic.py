"""The Elasticsearch / OpenSearch engine: where the data outgrows one machine.

Writes: one index per UTC day (``<prefix>-reports-YYYY.MM.DD``) from an index
template, so retention is dropping whole indices and a mapping change applies
from the next day (or after ``reindex``). The report id is the document
``_id``, so replays and re-indexing overwrite rather than duplicate. Bulk
requests are cut by bytes and by count; a whole request refused with 429 or
lost to a timeout, and single items refused with 429, are retried with
back-off; nothing is dropped: a document the engine rejects as invalid is
handed back for the dead-letter topic.

Reads: :func:`build_body` compiles a Plan to a search body (pure, testable);
:func:`parse_response` turns the answer into the shared result shape.

The official ``elasticsearch`` client speaks Elasticsearch's versioned media
types (``application/vnd.elasticsearch+json; compatible-with=9``), which
OpenSearch refuses; against OpenSearch (detected from ``GET /`` or set by
``ELASTICSEARCH_FLAVOR``) the transport sends plain ``application/json``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import msgspec
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, Transport
from elasticsearch import ApiError, Elasticsearch

from analytics.query import (
    PERCENTS,
    Plan,
    distinct_citizens,
    encode_cursor,
    grid_cells,
    histogram_buckets,
    hit,
    iso,
    score_stats,
    top_buckets,
)
from analytics.tokens import word_token
from ingest.reports import Received, decode_report
from peacewatch.logs import log

logger = logging.getLogger(__name__)
_encoder = msgspec.json.Encoder()
TERMS_SHARD_SIZE = 1000


class PlainJsonTransport(Transport):
    """Plain JSON media types for OpenSearch, which refuses Elasticsearch's versioned ones."""

    def perform_request(self, method, target, *, headers=None, **kwargs):
        if headers:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                value = headers.get(name)
                if value and "compatible-with" in value:
                    headers[name] = value.split(";")[0].replace("vnd.elasticsearch+", "")
        response = super().perform_request(method, target, headers=headers, **kwargs)
        # The client insists on Elasticsearch's product header; OpenSearch does not send it.
        if "x-elastic-product" not in response.meta.headers:
            response.meta.headers["x-elastic-product"] = "Elasticsearch"
        return response


_flavors: dict[str, str] = {}  # url -> flavor: asked once per process, not per client


def detect_flavor(client: Elasticsearch) -> str:
    """'opensearch' or 'elasticsearch', from the root endpoint (ask with a plain-JSON client)."""
    version = client.info().get("version", {})
    return "opensearch" if version.get("distribution") == "opensearch" else "elasticsearch"


def make_client(
    url: str,
    *,
    flavor: str = "auto",
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    ca_certs: str | None = None,
    verify_certs: bool = True,
    timeout_s: float = 30.0,
) -> Elasticsearch:
    options: dict = {"request_timeout": timeout_s}
    if api_key:
        options["api_key"] = api_key
    elif username:
        options["basic_auth"] = (username, password or "")
    if url.startswith("https"):
        options["verify_certs"] = verify_certs
        if ca_certs:
            options["ca_certs"] = ca_certs
    plain = Elasticsearch(url, transport_class=PlainJsonTransport, **options)
    if flavor == "auto":
        flavor = _flavors.get(url) or _flavors.setdefault(url, detect_flavor(plain))
    if flavor == "opensearch":
        return plain
    plain.close()
    return Elasticsearch(url, **options)


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


class ElasticStore:
    name = "elasticsearch"

    def __init__(
        self,
        client: Elasticsearch,
        *,
        prefix: str = "peacewatch",
        shards: int = 1,
        replicas: int = 1,
        bulk_bytes: int = 5 * 1024 * 1024,
        bulk_docs: int = 5000,
        max_attempts: int = 8,
        refresh: bool = False,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.pattern = f"{prefix}-reports-*"
        self.bulk_bytes = bulk_bytes
        self.bulk_docs = bulk_docs
        self.max_attempts = max_attempts
        self.refresh = refresh  # tests: make writes visible at once
        self.rejected: list[tuple[str, str]] = []
        self.template = index_template(prefix, shards=shards, replicas=replicas)
        self.template_ready = False

    def close(self) -> None:
        self.client.close()

    def ping(self) -> None:
        self.client.info()

    def index_name(self, observed_at_ms: int) -> str:
        day = datetime.fromtimestamp(observed_at_ms / 1000, tz=UTC)
        return f"{self.prefix}-reports-{day:%Y.%m.%d}"

    # --- writing -----------------------------------------------------------------

    def index(self, reports: Sequence[Received]) -> int:
        """Index every report; returns how many were new. Rejected ones go to ``take_rejected``."""
        if not self.template_ready:
            # Only writers need it, once per store: readers (web threads) never send it.
            self.client.indices.put_index_template(name=f"{self.prefix}-reports", **self.template)
            self.template_ready = True
        now = int(time.time() * 1000)
        created = 0
        chunk: list[bytes] = []
        ids: list[str] = []
        size = 0
        for item in reports:
            doc = document(item, now)
            action = _encoder.encode({"index": {"_index": self.index_name(doc["observed_at"]), "_id": item.report_id}})
            body = _encoder.encode(doc)
            line_size = len(action) + len(body) + 2
            if chunk and (size + line_size > self.bulk_bytes or len(ids) >= self.bulk_docs):
                created += self._send(chunk, ids)
                chunk, ids, size = [], [], 0
            chunk.append(action + b"\n" + body + b"\n")
            ids.append(item.report_id)
            size += line_size
        if chunk:
            created += self._send(chunk, ids)
        return created

    def _send(self, lines: list[bytes], ids: list[str]) -> int:
        """One bulk request, retried until every item is stored or rejected for good."""
        from peacewatch import metrics

        pending = list(range(len(ids)))
        created = 0
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
                        created += 1
                    elif status < 300:
                        pass  # an overwrite: this report was already there
                    elif status == 429 or status >= 500:
                        retry.append(position)
                    else:
                        error = outcome.get("error", {})
                        reason = error.get("reason") if isinstance(error, dict) else str(error)
                        self.rejected.append((ids[position], f"{status}: {reason}"))
                if not retry:
                    return created
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

    def take_rejected(self) -> list[tuple[str, str]]:
        rejected, self.rejected = self.rejected, []
        return rejected

    def refresh_now(self) -> None:
        self.client.indices.refresh(index=self.pattern)

    def count(self) -> int:
        return self.client.count(index=self.pattern, ignore_unavailable=True, allow_no_indices=True)["count"]

    def count_since(self, since_ms: int | None) -> int:
        if since_ms is None:
            return self.count()
        query = {"range": {"observed_at": {"gte": since_ms, "format": "epoch_millis"}}}
        return self.client.count(index=self.pattern, query=query, allow_no_indices=True)["count"]

    def get(self, report_id: str) -> dict | None:
        found = self.client.search(
            index=self.pattern, query={"ids": {"values": [report_id]}}, size=1, allow_no_indices=True
        )["hits"]["hits"]
        if not found:
            return None
        doc = dict(found[0]["_source"])
        doc["observed_at"] = iso(doc["observed_at"])
        doc["stored_at"] = iso(doc["stored_at"])
        for derived in ("point", "min_score", "tokens"):
            doc.pop(derived, None)
        return doc

    def prune(self, keep_days: int, *, now: datetime | None = None) -> list[str]:
        """Delete daily indices older than ``keep_days``; returns their names."""
        cutoff = (now or datetime.now(tz=UTC)) - timedelta(days=keep_days)
        oldest_kept = f"{self.prefix}-reports-{cutoff:%Y.%m.%d}"
        names = sorted(self.client.indices.get(index=self.pattern, allow_no_indices=True).body)
        doomed = [name for name in names if name < oldest_kept]
        for name in doomed:
            self.client.indices.delete(index=name)
            log(logger, logging.INFO, "analytics_index_dropped", index=name, keep_days=keep_days)
        return doomed

    def iter_received(self, *, since_ms: int | None = None, batch: int = 2000) -> Iterator[list[Received]]:
        """Every stored report rebuilt as received (re-indexing into the other engine)."""
        after = None
        query = {"range": {"observed_at": {"gte": since_ms, "format": "epoch_millis"}}} if since_ms else None
        while True:
            body = {
                "size": batch,
                "sort": [{"observed_at": "asc"}, {"report_id": "asc"}],
                "_source": {"excludes": ["point", "min_score", "tokens", "stored_at"]},
            }
            if query:
                body["query"] = query
            if after:
                body["search_after"] = after
            found = self.client.search(index=self.pattern, allow_no_indices=True, **body)["hits"]["hits"]
            if not found:
                return
            out = []
            for h in found:
                source = h["_source"]
                ts = source.pop("observed_at")
                if source.pop("time_source", "drone") == "broker":
                    source.pop("sent_at", None)
                decoded = decode_report(_encoder.encode(source), timestamp_ms=ts)
                if isinstance(decoded, Received):
                    out.append(decoded)
            after = found[-1]["sort"]
            yield out

    # --- reading -----------------------------------------------------------------

    def search(self, p: Plan) -> dict:
        body = build_body(p)
        response = self.client.search(index=self.pattern, allow_no_indices=True, ignore_unavailable=True, **body)
        return parse_response(p, response.body)


def build_filters(p: Plan) -> list[dict]:
    filters: list[dict] = [{"range": {"observed_at": {"gte": p.start_ms, "lt": p.end_ms, "format": "epoch_millis"}}}]
    if p.drones:
        filters.append({"terms": {"drone_id": list(p.drones)}})
    score: dict = {}
    if p.score_min is not None:
        score["gte"] = p.score_min
    if p.score_max is not None:
        score["lte"] = p.score_max
    nested: list[dict] = []
    if p.citizen is not None:
        nested.append({"prefix" if p.citizen_prefix else "term": {"citizens.name": p.citizen}})
    if score:
        nested.append({"range": {"citizens.peacescore": score}})
    if nested:
        filters.append({"nested": {"path": "citizens", "query": {"bool": {"filter": nested}}}})
    if p.words_any:
        filters.append({"terms": {"tokens": list(p.words_any)}})
    filters.extend({"term": {"tokens": token}} for token in p.words_all)
    if p.box is not None:
        south, west, north, east = p.box
        filters.append(
            {
                "geo_bounding_box": {
                    "point": {"top_left": {"lat": north, "lon": west}, "bottom_right": {"lat": south, "lon": east}}
                }
            }
        )
    if p.circle is not None:
        lat, lon, radius = p.circle
        filters.append({"geo_distance": {"distance": f"{radius}m", "point": {"lat": lat, "lon": lon}}})
    if p.below is not None:
        filters.append({"range": {"min_score": {"lt": p.below}}})
    return filters


def build_body(p: Plan) -> dict:
    order = "desc" if p.newest_first else "asc"
    body: dict = {
        "query": {"bool": {"filter": build_filters(p)}},
        "size": p.size + 1 if p.size else 0,
        "track_total_hits": p.count_total,
    }
    if p.size:
        body["sort"] = [{"observed_at": {"order": order}}, {"report_id": {"order": order}}]
        body["_source"] = {"excludes": ["point", "tokens", "min_score", "stored_at"]}
        if p.after is not None:
            body["search_after"] = list(p.after)
    aggs: dict = {}
    top_order = [{"_count": "desc"}, {"_key": "asc"}]
    # Each shard (one daily index at least) sends its own top list; a generous
    # shard_size keeps the merged top N exact unless a shard holds more
    # distinct values than that, as Elasticsearch's error bound would then say.
    shard_size = max(TERMS_SHARD_SIZE, p.top * 20)
    if "histogram" in p.aggs:
        aggs["histogram"] = {
            "date_histogram": {
                "field": "observed_at",
                "fixed_interval": f"{p.interval_ms // 1000}s",
                "min_doc_count": 1,
            }
        }
    if "top_drones" in p.aggs:
        aggs["top_drones"] = {
            "terms": {"field": "drone_id", "size": shard_size, "shard_size": shard_size, "order": top_order}
        }
    if "top_words" in p.aggs:
        aggs["top_words"] = {
            "terms": {"field": "tokens", "size": shard_size, "shard_size": shard_size, "order": top_order}
        }
    if "top_citizens" in p.aggs or "score" in p.aggs:
        inner: dict = {}
        if "top_citizens" in p.aggs:
            inner["names"] = {
                "terms": {"field": "citizens.name", "size": shard_size, "shard_size": shard_size, "order": top_order}
            }
        if "score" in p.aggs:
            inner["stats"] = {"stats": {"field": "citizens.peacescore"}}
            inner["percentiles"] = {"percentiles": {"field": "citizens.peacescore", "percents": list(PERCENTS)}}
        aggs["citizens"] = {"nested": {"path": "citizens"}, "aggs": inner}
    if "grid" in p.aggs:
        aggs["grid"] = {"geotile_grid": {"field": "point", "precision": p.grid_precision, "size": 10_000}}
    if aggs:
        body["aggs"] = aggs
    return body


def parse_response(p: Plan, body: dict) -> dict:
    found = body["hits"]["hits"]
    hits = []
    for h in found[: p.size]:
        source = h["_source"]
        ts, report_id = h["sort"]
        hits.append(
            hit(
                source,
                report_id=report_id,
                ts_ms=int(ts),
                time_source=source.get("time_source", "drone"),
                threshold=p.threshold,
                citizens=source.get("citizens", []),
            )
        )
    next_cursor = None
    if p.size and len(found) > p.size:
        ts, report_id = found[p.size - 1]["sort"]
        next_cursor = encode_cursor(int(ts), report_id)
    raw = body.get("aggregations", {})
    out: dict = {}
    if "histogram" in p.aggs:
        counts = {int(b["key"]): b["doc_count"] for b in raw["histogram"]["buckets"]}
        out["histogram"] = {"interval": p.interval, "buckets": histogram_buckets(counts, p)}
    for name in ("top_drones", "top_words"):
        if name in p.aggs:
            out[name] = top_buckets([(b["key"], b["doc_count"]) for b in raw[name]["buckets"]], p.top)
    if "top_citizens" in p.aggs:
        names = raw["citizens"]["names"]["buckets"]
        out["top_citizens"] = top_buckets([(b["key"], b["doc_count"]) for b in names], p.top)
    if "score" in p.aggs:
        stats = raw["citizens"]["stats"]
        values = raw["citizens"]["percentiles"]["values"]
        percentiles = {float(k): v for k, v in values.items()}
        out["score"] = score_stats(
            stats["count"], stats["sum"] or 0.0, stats["min"], stats["max"], {q: percentiles.get(q) for q in PERCENTS}
        )
    if "grid" in p.aggs:
        counts = {}
        for b in raw["grid"]["buckets"]:
            _, x, y = (int(part) for part in b["key"].split("/"))
            counts[(x, y)] = b["doc_count"]
        out["grid"] = {"precision": p.grid_precision, "cells": grid_cells(counts, p.grid_precision)}
    total = body["hits"].get("total") if p.count_total else None
    return {
        "total": total["value"] if isinstance(total, dict) else total,
        "hits": hits,
        "next": next_cursor,
        "aggregations": out,
    }
