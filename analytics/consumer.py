"""The ``indexer`` consumer: every valid report into the analytics store.

Pure core over a batch (STYLE rule 3). Bad records become dead letters with
the original bytes; this consumer owns the reports topic's dead letters (the
``alerts`` consumer only counts them) so each bad record is dead-lettered once.
A valid report the engine itself refuses (an Elasticsearch mapping conflict,
say) is dead-lettered too, with code ``rejected``, rather than retried forever.
"""

from __future__ import annotations

from collections import Counter

from analytics.store import get_store
from analytics.store.base import ReportStore
from ingest.reports import ReportError, decode_report
from peacewatch import metrics
from peacewatch.streams.batch import BatchOutcome, KafkaRecord
from peacewatch.streams.deadletter import DeadLetter


def process_batch(records: list[KafkaRecord], store: ReportStore | None = None) -> BatchOutcome:
    """Index a batch into ``store`` (the configured engine unless a re-index names another)."""
    received, dead_letters, source = [], [], {}
    for record in records:
        decoded = decode_report(record.value, timestamp_ms=record.timestamp)
        if isinstance(decoded, ReportError):
            dead_letters.append(DeadLetter.for_record(record, decoded))
        else:
            received.append(decoded)
            source[decoded.report_id] = record
            for field in decoded.dropped:  # counted here only: this consumer sees every record once
                metrics.TELEMETRY_DROPPED.labels(field).inc()
    store = store or get_store()
    result = store.index(received)
    stored, rejected = result.created, result.rejected
    for report_id, reason in rejected:
        dead_letters.append(DeadLetter.for_record(source[report_id], ReportError("rejected", reason)))
    return BatchOutcome(
        records=len(records),
        dead_letters=dead_letters,
        counts=Counter(stored=stored, duplicates=len(received) - stored - len(rejected), rejected=len(rejected)),
    )
