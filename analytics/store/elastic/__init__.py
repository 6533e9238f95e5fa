"""The Elasticsearch / OpenSearch engine: where the data outgrows one machine.

Three parts: ``client`` (connecting, flavour and version detection),
``writer`` (template, documents, bulk with retries) and ``compiler`` (a Plan to
a search body and back, pure). :class:`ElasticStore` puts them behind the
``ReportStore`` interface.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import msgspec
from elasticsearch import BadRequestError, Elasticsearch

from analytics.query import Plan, iso
from analytics.store.base import AmbiguousReportId, IndexResult, received_again
from analytics.store.elastic.client import PlainJsonTransport, make_client
from analytics.store.elastic.compiler import (
    build_body,
    build_filters,
    build_frontier_body,
    build_instant_body,
    build_names_body,
    build_recount,
    build_scores_body,
    build_suggest_body,
    cut_instant,
    inexact_tops,
    join_answers,
    merge_recount,
    page_hits,
    parse_frontier,
    parse_names,
    parse_response,
    parse_suggest,
    shown_citizens,
    split_body,
    unscored_reports,
)
from analytics.store.elastic.writer import (
    SEARCH_FIELDS,
    BulkWriter,
    as_sent,
    doc_id,
    document,
    index_name,
    index_template,
)
from ingest.reports import Received
from peacewatch.logs import log

__all__ = [
    "ElasticStore",
    "PlainJsonTransport",
    "build_body",
    "build_filters",
    "doc_id",
    "document",
    "index_template",
    "make_client",
    "parse_response",
]

logger = logging.getLogger(__name__)
_encoder = msgspec.json.Encoder()


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
        self.hdr = True  # percentiles from an HDR histogram, until the engine refuses them (search)
        self.pattern = f"{prefix}-reports-*"
        self.writer = BulkWriter(
            client,
            prefix=prefix,
            template=index_template(prefix, shards=shards, replicas=replicas),
            bulk_bytes=bulk_bytes,
            bulk_docs=bulk_docs,
            max_attempts=max_attempts,
            refresh=refresh,  # tests: make writes visible at once
        )

    def close(self) -> None:
        self.client.close()

    def ping(self) -> None:
        self.client.info()

    def index_name(self, observed_at_ms: int) -> str:
        return index_name(self.prefix, observed_at_ms)

    def index(self, reports: Sequence[Received]) -> IndexResult:
        return self.writer.index(reports)

    def refresh_now(self) -> None:
        self.client.indices.refresh(index=self.pattern)

    def count(self) -> int:
        return self.client.count(index=self.pattern, ignore_unavailable=True, allow_no_indices=True)["count"]

    def count_since(self, since_ms: int | None) -> int:
        if since_ms is None:
            return self.count()
        query = {"range": {"observed_at": {"gte": since_ms, "format": "epoch_millis"}}}
        return self.client.count(index=self.pattern, query=query, allow_no_indices=True)["count"]

    def get(self, report_id: str, drone_id: str | None = None) -> dict | None:
        if drone_id is None:
            query = {"term": {"report_id": report_id}}
        else:
            query = {"ids": {"values": [doc_id(drone_id, report_id)]}}
        found = self.client.search(
            index=self.pattern,
            query=query,
            size=50,
            sort=[{"drone_id": "asc"}],
            _source={"excludes": [*SEARCH_FIELDS, "content_hash"]},
            allow_no_indices=True,
        )["hits"]["hits"]
        if not found:
            return None
        drones = sorted({h["_source"]["drone_id"] for h in found})
        if len(drones) > 1:
            raise AmbiguousReportId(report_id, drones)
        doc = as_sent(found[0]["_source"])
        doc.setdefault("clock_skew", False)  # written before the flag existed: not flagged
        doc.setdefault("dropped", [])
        doc["observed_at"] = iso(doc["observed_at"])
        doc["stored_at"] = iso(doc["stored_at"])
        return doc

    def prune(self, keep_days: int, *, now: datetime | None = None, may_drop=None) -> list[str]:
        """Delete daily indices older than ``keep_days``; returns their names.

        ``may_drop(day, documents)`` (the archive's guard) is asked before each
        one goes: an index it refuses is kept, to be asked again next time.
        """
        cutoff = (now or datetime.now(tz=UTC)) - timedelta(days=keep_days)
        oldest_kept = f"{self.prefix}-reports-{cutoff:%Y.%m.%d}"
        names = sorted(self.client.indices.get(index=self.pattern, allow_no_indices=True).body)
        dropped = []
        for name in (name for name in names if name < oldest_kept):
            if may_drop is not None:
                day = datetime.strptime(name.rsplit("-", 1)[-1], "%Y.%m.%d").date()
                if not may_drop(day, self.client.count(index=name)["count"]):
                    continue
            self.client.indices.delete(index=name)
            log(logger, logging.INFO, "analytics_index_dropped", index=name, keep_days=keep_days)
            dropped.append(name)
        return dropped

    def iter_received(self, *, since_ms: int | None = None, batch: int = 2000) -> Iterator[list[Received]]:
        """Every stored report rebuilt as received (re-indexing into the other engine)."""
        after = None
        query = {"range": {"observed_at": {"gte": since_ms, "format": "epoch_millis"}}} if since_ms else None
        while True:
            body = {
                "size": batch,
                "sort": [{"observed_at": "asc"}, {"report_id": "asc"}, {"drone_id": "asc"}],
                "_source": {"excludes": [*SEARCH_FIELDS, "stored_at", "content_hash"]},
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
                source = as_sent(h["_source"])
                ts = source.pop("observed_at")
                time_source = source.pop("time_source", "drone")
                clock_skew = source.pop("clock_skew", False)
                source.pop("dropped", None)  # the decoder names them again
                decoded = received_again(
                    _encoder.encode(source), observed_at_ms=ts, time_source=time_source, clock_skew=clock_skew
                )
                if decoded is not None:
                    out.append(decoded)
            after = found[-1]["sort"]
            yield out

    def suggest_citizens(self, prefix: str, *, since_ms: int, limit: int) -> list[dict]:
        """Names starting with ``prefix`` (folded) seen since ``since_ms``, most sightings first.

        Read from ``citizens.name_fold``, which daily indices made before it was in the template lack
        until they are rebuilt (``reindex``) or dropped by retention."""
        return parse_suggest(self._search(build_suggest_body(prefix, since_ms=since_ms, limit=limit)))

    def search(self, p: Plan) -> dict:
        if p.arrived_before_ms is None:
            # Bounded by the latest arrival seen first: a report that becomes visible between the two
            # requests is left out of this answer, as of every later one given its ``as_of``.
            frontier = parse_frontier(self._search(build_frontier_body()))
            if frontier is not None:
                p = msgspec.structs.replace(p, arrived_before_ms=frontier)
        try:
            answer = join_answers(self._searches(split_body(build_body(p, hdr=self.hdr))))
        except BadRequestError as exc:
            if not (self.hdr and "[hdr]" in str(exc)):
                raise
            # An OpenSearch-compatible engine without HDR histograms (the test suite's in-memory stand-in
            # is one): its default percentiles from now on, estimates rather than scores to the tenth.
            self.hdr = False
            log(logger, logging.WARNING, "analytics_percentiles_without_hdr", error=str(exc)[:300])
            answer = join_answers(self._searches(split_body(build_body(p, hdr=False))))
        unscored = unscored_reports(p, answer)
        if unscored:
            # Reports indexed before the writer kept a flat copy of their scores: the statistics come from
            # the nested citizens, which every report has, until those days are rebuilt or retired.
            log(logger, logging.INFO, "analytics_scores_from_nested_citizens", reports_without_flat_scores=unscored)
            nested = self._search(build_scores_body(p, hdr=self.hdr))["aggregations"]["scores"]
            answer = {**answer, "aggregations": {**answer["aggregations"], "scores": nested}}
        candidates = inexact_tops(p, answer)
        if candidates:
            answer = merge_recount(p, answer, self._search(build_recount(p, candidates)), candidates)
        hits = None
        if p.size:
            found = [answer["hits"]["hits"]]
            if p.after is not None:
                ts, *after = p.after
                found.append(self._hits(build_instant_body(p, ts, after=tuple(after))))
            cut = cut_instant(p, found[0])
            if cut is not None:
                found.append(self._hits(build_instant_body(p, cut)))
            hits = page_hits(p, *found)
        names = None
        if "top_citizens" in p.aggs:
            shown = shown_citizens(p, answer)
            names = parse_names(p, self._search(build_names_body(p, shown))) if shown else {}
        return parse_response(p, answer, hits=hits, names=names, hdr=self.hdr)

    def _searches(self, bodies: list[dict]) -> list[dict]:
        """The answers to ``bodies``, searched side by side."""
        if len(bodies) == 1:
            return [self._search(bodies[0])]
        searches = [part for body in bodies for part in ({}, body)]
        answers = self.client.msearch(
            index=self.pattern, searches=searches, allow_no_indices=True, ignore_unavailable=True
        ).body["responses"]
        # A search that failed inside the batch is sent again alone, to raise the client's own error for it
        # (a bad request, an engine without HDR histograms) as a single search would.
        return [
            self._search(body) if "error" in answer else answer for body, answer in zip(bodies, answers, strict=True)
        ]

    def _hits(self, body: dict) -> list[dict]:
        return self._search(body)["hits"]["hits"]

    def _search(self, body: dict) -> dict:
        return self.client.search(index=self.pattern, allow_no_indices=True, ignore_unavailable=True, **body).body
