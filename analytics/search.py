"""Searching the stored reports: the service behind the API, the pages and exports.

Entry points parse input with :func:`analytics.query.parse_query` and call
these; the engine (embedded or Elasticsearch) comes from settings, and the
days before its retention come from the archive (:mod:`analytics.tiered`).

Result shape (the same from both engines)::

    {"engine": "embedded", "took_ms": 12,
     "query": {"from": ISO, "to": ISO, "interval": "15m", "grid_precision": 14},
     "total": 1234,
     "hits": [{"report_id", "observed_at", "time_source", "clock_skew", "drone_id",
               "location": {"lat", "lon"}, "citizens": [{"name", "key", "peacescore"}],
               "words": [...], "alert": bool, "cursor": str}],
     "next": cursor or None,          # pass as "after" for the next page
     # A hit is one report: (drone_id, report_id) is its identity, report_id alone may repeat.
     "aggregations": {
        "histogram": {"interval": "15m", "buckets": [{"key": ISO, "count"}]},
        "top_citizens": [{"key", "name", "count"}],   # key: the id if given, else the name
        "top_drones": [{"key", "count"}], "top_words": [...],
        "score": {"count", "min", "max", "avg", "percentiles": {"50": v, ...}},
        "grid": {"precision": z, "cells": [{"key": "z/x/y", "count", "bounds": {...}}]}},
     # Which engine answered for which part of the range, in time order:
     "sources": [{"engine": "archive", "from": ISO, "to": ISO, "total": n}, {"engine": "embedded", ...}],
     # Only when a range spans both: the aggregations whose merge is an estimate.
     "approximate": {"top_words": {"count_error_upper_bound": n}, "score": {"percentiles": "..."}},
     # The reports counted are those that had arrived before this (RFC 3339); sent back as the query's
     # "arrived_before", later pages, counts and exports count the same ones, whatever arrived since.
     "as_of": ISO}

With a peacescore range (``score``), the reports kept are those where some
citizen is in it, and ``top_citizens`` and ``score`` count those citizens only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import msgspec
from django.conf import settings

from analytics import stop_words, tiered
from analytics.query import Plan, Query, decode_cursor, describe, plan
from analytics.store import get_store
from analytics.tokens import name_fold


def current_threshold() -> float:
    from alerts.models import AlertSettings

    return AlertSettings.load().threshold


def make_plan(query: Query, *, now: datetime | None = None) -> Plan:
    return plan(query, now=now, threshold=current_threshold(), stop_words=stop_words.active())


def run_plan(p: Plan, *, now: datetime) -> dict:
    """The answer for a plan: the index engine for the days it keeps, the archive before them."""
    from analytics.archive.search import ArchiveSearch

    store = get_store()
    boundary = tiered.boundary_ms(now, settings.ELASTICSEARCH_RETENTION_DAYS)
    return tiered.search(p, boundary, hot=(store.name, store.search), cold=(ArchiveSearch.name, ArchiveSearch().search))


def search(query: Query, *, now: datetime | None = None) -> dict:
    """Hits (one page) and aggregations for ``query``."""
    now = now or datetime.now(tz=UTC)
    p = make_plan(query, now=now)
    started = time.perf_counter()
    result = run_plan(p, now=now)
    result["engine"] = "+".join(source["engine"] for source in result["sources"])
    result["took_ms"] = round((time.perf_counter() - started) * 1000, 1)
    result["query"] = describe(p)
    return result


SUGGEST_DAYS = 30  # names seen this recently are suggested: who matters to a current case
SUGGEST_MAX = 20


def suggest_citizens(prefix: str, *, limit: int = 10, now: datetime | None = None) -> list[dict]:
    """Names starting with ``prefix`` (case, accents and spacing ignored), seen in the index engine's
    last ``SUGGEST_DAYS`` days, most sightings first: ``[{"name", "count"}]``, at most ``limit``."""
    now = now or datetime.now(tz=UTC)
    since_ms = int(now.timestamp() * 1000) - SUGGEST_DAYS * 86_400_000
    folded = name_fold(prefix)
    return get_store().suggest_citizens(folded, since_ms=since_ms, limit=max(1, min(limit, SUGGEST_MAX)))


def count(query: Query, *, now: datetime | None = None) -> int:
    """How many reports match (for an export's progress)."""
    now = now or datetime.now(tz=UTC)
    p = make_plan(msgspec.structs.replace(query, size=0, aggs=[], after=None), now=now)
    return run_plan(p, now=now)["total"]


def iter_hits(query: Query, *, now: datetime | None = None, page_size: int = 500) -> Iterator[dict]:
    """Every matching hit, oldest first or newest first as the query says, page by page.

    Constant memory: one page at a time, each continuing from the last cursor.
    The time range is resolved once, so a relative range does not slide while
    a long export runs.
    """
    now = now or datetime.now(tz=UTC)
    base = msgspec.structs.replace(query, size=page_size, aggs=[], after=None)
    p = make_plan(base, now=now)
    while True:
        page = run_plan(p, now=now)
        yield from page["hits"]
        if not page["next"] or len(page["hits"]) < page_size:
            return
        p = msgspec.structs.replace(p, after=decode_cursor(page["next"]))
