"""The analytics store interface: what the indexer writes to and pages read from.

Two engines implement it: the embedded SQLite store (default, one machine) and
Elasticsearch/OpenSearch (production). The indexer only needs ``index``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from analytics.query import Plan
from ingest.reports import Received


@dataclass
class IndexResult:
    """What one ``index`` call did: reports new to the store, and those the engine refused for good."""

    created: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (report id, reason)


class ReportStore(Protocol):
    name: str

    def index(self, reports: Sequence[Received]) -> IndexResult:
        """Store the reports; idempotent by report id. Says how many were new and which were refused."""

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

    def ping(self) -> None:
        """Raises if the engine cannot be reached."""

    def close(self) -> None: ...
