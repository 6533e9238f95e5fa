"""The analytics store interface: what the indexer writes to and pages read from.

Two engines implement it: the embedded SQLite store (default, one machine) and
Elasticsearch/OpenSearch (production). The indexer only needs ``index``.

Identity (CONTRACT v1.1): a stored report is keyed by the pair (``drone_id``,
``report_id``) in both engines; the same ``report_id`` from two drones is two
reports. Under one key, a replay of the same bytes changes nothing, and a
report with other content is refused as a ``conflict``: the stored one is
never overwritten.

Time (CONTRACT v1.1): both engines keep, beside ``observed_at``, where it came
from (``time_source``) and the ``clock_skew`` flag of a report whose ``sent_at``
ran too far ahead of its broker time; and ``dropped``, the telemetry fields
ingest left out as invalid (a faulty sensor shows as the same name, report
after report).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple, Protocol

import msgspec

from analytics.query import Plan
from ingest.reports import Received, broker_time, decode_report

CONFLICT = "conflict"  # dead-letter code: another report is stored under this (drone_id, report_id)
REJECTED = "rejected"  # dead-letter code: the engine refused the document for good (a mapping conflict, say)


class Refused(NamedTuple):
    """A report ``index`` did not store and never will: for the dead-letter topic."""

    position: int  # in the sequence given to ``index``
    code: str  # CONFLICT or REJECTED
    detail: str


@dataclass
class IndexResult:
    """What one ``index`` call did: reports new to the store, and those refused for good.

    The rest were already stored with the same content (replays).
    """

    created: int = 0
    rejected: list[Refused] = field(default_factory=list)


class AmbiguousReportId(LookupError):
    """A report id that several drones used, looked up without saying which drone."""

    def __init__(self, report_id: str, drones: list[str]) -> None:
        super().__init__(f"report id {report_id!r} was sent by drones {', '.join(drones)}: say which one")
        self.report_id = report_id
        self.drones = drones


def content_hash(raw: bytes) -> str:
    """Tells a replay (the same bytes) from a different report under an existing key."""
    return hashlib.sha256(raw).hexdigest()


def conflict_detail(drone_id: str, report_id: str) -> str:
    return f"drone {drone_id} already has a different report stored as {report_id!r}; the stored one is kept"


def received_again(raw: bytes, *, observed_at_ms: int, time_source: str, clock_skew: bool) -> Received | None:
    """A stored report as received, for a re-index; None if it no longer decodes.

    What ingest decided about its time is carried over, not judged again: a
    report flagged ``clock_skew`` keeps its ``sent_at`` in ``raw`` and its broker
    time, even if ``MAX_CLOCK_SKEW_S`` has been raised since. ``observed_at_ms``
    is the stored time (the broker time when ``time_source`` is "broker").
    """
    decoded = decode_report(raw, timestamp_ms=observed_at_ms)
    if not isinstance(decoded, Received):
        return None
    if (decoded.time_source, decoded.clock_skew) != (time_source, clock_skew):
        decoded = msgspec.structs.replace(
            decoded, observed_at=broker_time(observed_at_ms), time_source=time_source, clock_skew=clock_skew
        )
    return decoded


class ReportStore(Protocol):
    name: str

    def index(self, reports: Sequence[Received]) -> IndexResult:
        """Store the reports; idempotent by (drone_id, report_id). Says how many were new and which were refused."""

    def count(self) -> int:
        """Number of reports stored."""

    def count_since(self, since_ms: int | None) -> int:
        """Number of reports observed at or after ``since_ms`` (all when None)."""

    def get(self, report_id: str, drone_id: str | None = None) -> dict | None:
        """One stored report: the original fields plus what ingest derived.

        Without ``drone_id``, the report of that id if only one drone sent one;
        :class:`AmbiguousReportId` (naming the drones) if several did.
        """

    def search(self, plan: Plan) -> dict:
        """Hits and aggregations for a plan, in the shape described in analytics.search."""

    def iter_received(self, *, since_ms: int | None = None, batch: int = 2000) -> Iterator[list[Received]]:
        """Every stored report, rebuilt as received, a batch at a time (re-indexing)."""

    def prune(self, keep_days: int, *, now: datetime | None = None, may_drop=None) -> list[str]:
        """Delete the whole UTC days older than ``keep_days`` that ``may_drop(day, reports)`` allows; returns them."""

    def ping(self) -> None:
        """Raises if the engine cannot be reached."""

    def close(self) -> None: ...
