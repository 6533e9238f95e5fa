"""Searching the stored reports: the service behind the API, the pages and exports.

Entry points parse input with :func:`analytics.query.parse_query` and call
these; the engine (embedded or Elasticsearch) comes from settings.

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
        "grid": {"precision": z, "cells": [{"key": "z/x/y", "count", "bounds": {...}}]}}}
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime

import msgspec

from analytics.query import Plan, Query, decode_cursor, describe, plan
from analytics.store import get_store


def current_threshold() -> float:
    from alerts.models import AlertSettings

    return AlertSettings.load().threshold


def make_plan(query: Query, *, now: datetime | None = None) -> Plan:
    return plan(query, now=now, threshold=current_threshold())


def search(query: Query, *, now: datetime | None = None) -> dict:
    """Hits (one page) and aggregations for ``query``."""
    p = make_plan(query, now=now)
    started = time.perf_counter()
    store = get_store()
    result = store.search(p)
    result["engine"] = store.name
    result["took_ms"] = round((time.perf_counter() - started) * 1000, 1)
    result["query"] = describe(p)
    return result


def count(query: Query, *, now: datetime | None = None) -> int:
    """How many reports match (for an export's progress)."""
    p = make_plan(msgspec.structs.replace(query, size=0, aggs=[], after=None), now=now)
    return get_store().search(p)["total"]


def iter_hits(query: Query, *, now: datetime | None = None, page_size: int = 500) -> Iterator[dict]:
    """Every matching hit, oldest first or newest first as the query says, page by page.

    Constant memory: one page at a time, each continuing from the last cursor.
    The time range is resolved once, so a relative range does not slide while
    a long export runs.
    """
    base = msgspec.structs.replace(query, size=page_size, aggs=[], after=None)
    p = make_plan(base, now=now)
    store = get_store()
    while True:
        page = store.search(p)
        yield from page["hits"]
        if not page["next"] or len(page["hits"]) < page_size:
            return
        p = msgspec.structs.replace(p, after=decode_cursor(page["next"]))
