"""The ``indexer`` consumer: every valid report into the analytics store.

Pure core over a batch (STYLE rule 3). Bad records become dead letters with
the original bytes; this consumer owns the reports topic's dead letters (the
``alerts`` consumer only counts them) so each bad record is dead-lettered once.
A valid report the store refuses for good is dead-lettered too rather than
retried forever: code ``conflict`` when another report is already stored
under its (drone_id, report_id) (a replay of the same bytes is no conflict,
just a duplicate), code ``rejected`` when the engine itself refuses it (an
Elasticsearch mapping conflict, say).
"""

from __future__ import annotations

from collections import Counter

from analytics.store import get_store
from analytics.store.base import CONFLICT, ReportStore
from ingest.reports import ReportError, decode_report
from peacewatch import metrics
from peacewatch.streams.batch import BatchOutcome, KafkaRecord
from peacewatch.streams.deadletter import DeadLetter


def process_batch(records: list[KafkaRecord], store: ReportStore | None = None) -> BatchOutcome:
    """Index a batch into ``store`` (the configured engine unless a re-index names another)."""
    received, dead_letters, source = [], [], []
    for record in records:
        decoded = decode_report(record.value, timestamp_ms=record.timestamp)
        if isinstance(decoded, ReportError):
            dead_letters.append(DeadLetter.for_record(record, decoded))
        else:
            received.append(decoded)
            source.append(record)  # by position: several records may share a report's key
            for field in decoded.dropped:  # counted here only: this consumer sees every record once
                metrics.TELEMETRY_DROPPED.labels(field).inc()
    store = store or get_store()
    result = store.index(received)
    for refused in result.rejected:
        dead_letters.append(DeadLetter.for_record(source[refused.position], ReportError(refused.code, refused.detail)))
    conflicts = sum(1 for refused in result.rejected if refused.code == CONFLICT)
    rejected = len(result.rejected) - conflicts
    return BatchOutcome(
        records=len(records),
        dead_letters=dead_letters,
        counts=Counter(
            stored=result.created,
            duplicates=len(received) - result.created - len(result.rejected),
            conflicts=conflicts,
            rejected=rejected,
        ),
    )
