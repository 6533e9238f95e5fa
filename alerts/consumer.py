"""The ``alerts`` consumer: reports in, alerts and alert events out.

Pure core over a batch of records (STYLE rule 3): decode, pick the citizens
below the live threshold, raise or update alerts in one transaction that also
writes the alert events to the outbox; the runner publishes those events on
``peacewatch.alerts`` before it commits the batch's offsets.

Bad records are only counted here: the ``indexer`` consumer owns the dead
letters of the reports topic, so each bad record is dead-lettered once.
"""

from __future__ import annotations

from collections import Counter

from alerts import services
from alerts.models import AlertSettings
from ingest.batch import BatchOutcome, KafkaRecord, Outgoing
from ingest.reports import ReportError, decode_report
from peacewatch import kafka


def process_batch(records: list[KafkaRecord]) -> BatchOutcome:
    counts: Counter = Counter()
    received = []
    for record in records:
        decoded = decode_report(record.value, timestamp_ms=record.timestamp)
        if isinstance(decoded, ReportError):
            counts["invalid_skipped"] += 1
        else:
            received.append(decoded)
    alert_settings = AlertSettings.load()
    observations = services.observations_from(received, alert_settings.threshold)
    counts["below_threshold"] += len(observations)
    events = services.raise_alerts(observations, alert_settings)
    outcome = _outcome_for(events)
    outcome.records = len(records)
    outcome.counts.update(counts)
    return outcome


def pending_events() -> BatchOutcome:
    """Alert events a previous run committed but did not get to publish."""
    return _outcome_for(services.pending_events())


def _outcome_for(events) -> BatchOutcome:
    alerts_topic = kafka.topic("alerts")
    ids = [event.pk for event in events]
    return BatchOutcome(
        messages=[
            Outgoing(topic=alerts_topic, key=str(event.alert_id).encode(), value=bytes(event.payload))
            for event in events
        ],
        after_delivery=(lambda: services.mark_published(ids)) if ids else None,
        counts=Counter(alert_events=len(ids)),
    )
