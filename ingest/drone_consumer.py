"""The ``drones`` consumer: fleet health from the reports stream, one write per drone per batch.

Pure core over a batch (STYLE rule 3): valid reports are aggregated per drone
in memory, then ``ingest.health.record_health`` applies them in one
transaction. A drone coming back online closes its drone_offline alert; the
``alert.updated`` event goes out through the outbox like every alert event.
"""

from __future__ import annotations

from collections import Counter

from alerts.consumer import outcome_for_events
from ingest import health
from ingest.reports import ReportError, decode_report
from peacewatch.streams.batch import BatchOutcome, KafkaRecord


def process_batch(records: list[KafkaRecord]) -> BatchOutcome:
    received = []
    invalid = 0
    for record in records:
        decoded = decode_report(record.value, timestamp_ms=record.timestamp)
        if isinstance(decoded, ReportError):
            invalid += 1  # dead-lettered by the indexer
        else:
            received.append(decoded)
    seen = health.aggregate(received)
    events = health.record_health(seen)
    outcome = outcome_for_events(events)
    outcome.records = len(records)
    outcome.counts.update(Counter(drones_seen=len(seen), invalid_skipped=invalid))
    return outcome
