"""The analytics store interface: what the indexer writes to and pages read from.

Two engines implement it: the embedded SQLite store (default, one machine) and
Elasticsearch/OpenSearch (production). The indexer only needs ``index``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ingest.reports import Received


class ReportStore(Protocol):
    name: str

    def index(self, reports: Sequence[Received]) -> int:
        """Store the reports; idempotent by report id. Returns how many were new."""

    def count(self) -> int:
        """Number of reports stored."""

    def get(self, report_id: str) -> dict | None:
        """One stored report: the original fields plus what ingest derived."""

    def close(self) -> None: ...
