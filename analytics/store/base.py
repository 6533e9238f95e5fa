"""The analytics store interface: what the indexer writes to and pages read from.

Two engines implement it: the embedded SQLite store (default, one machine) and
Elasticsearch/OpenSearch (production). The indexer only needs ``index``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol

from analytics.query import Plan
from ingest.reports import Received


class ReportStore(Protocol):
    name: str

    def index(self, reports: Sequence[Received]) -> int:
        """Store the reports; idempotent by report id. Returns how many were new."""

    def count(self) -> int:
        """Number of reports stored."""

    def count_since(self, since_ms: int | None) -> int:
        """Number of reports observed at or after ``since_ms`` (all when None)."""

    def get(self, report_id: str) -> dict | None:
        """One stored report: the original fields plus what ingest derived."""

    def search(self, plan: Plan) -> dict:
        """Hits and aggregations for a plan, in the shape described in analytics.search."""

    def iter_received(self, *, since_ms: int | None = None, batch: int = 2000) -> Iterator[list[Received]]:
        """Every stored report, rebuilt as received, a batch at a time (re-indexing)."""

    def take_rejected(self) -> list[tuple[str, str]]:
        """(report id, reason) of reports the engine refused since the last call."""

    def ping(self) -> None:
        """Raises if the engine cannot be reached."""

    def close(self) -> None: ...
