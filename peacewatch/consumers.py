"""Every stream consumer of PeaceWatch, by name.

``python manage.py run_consumer NAME`` looks a consumer up here. The platform
(``peacewatch.streams``) runs them without knowing what they do.
"""

from __future__ import annotations

from peacewatch.streams.registry import ConsumerSpec

KAFKA_CONSUMERS: dict[str, ConsumerSpec] = {
    spec.name: spec
    for spec in [
        ConsumerSpec(
            name="alerts",
            topic="reports",
            group="alerts",
            handler="alerts.consumer:process_batch",
            recover="alerts.consumer:pending_events",
            description="raises and updates alerts, publishes alert events",
            max_batch=20000,
        ),
        ConsumerSpec(
            name="indexer",
            topic="reports",
            group="indexer",
            handler="analytics.consumer:process_batch",
            description="stores every valid report in the analytics store; dead-letters bad ones",
            # Bigger batches amortise SQLite's per-commit page writes (see BENCHMARKS).
            max_batch=5000,
        ),
        ConsumerSpec(
            name="drones",
            topic="reports",
            group="drones",
            handler="alerts.fleet:process_batch",
            description="keeps drone health (last seen, battery, seq gaps, online) current",
            max_batch=5000,
        ),
        ConsumerSpec(
            name="archive",
            topic="reports",
            extra_topics=("deadletter",),
            group="archive",
            handler="analytics.archive.consumer:process_batch",
            description="writes every valid report and every dead letter to the Parquet archive",
            # Few, big files: up to this many records per file set, at most half
            # of ARCHIVE_FLUSH_SECONDS after the first of them arrived.
            max_batch=100_000,
            linger_setting="ARCHIVE_FLUSH_SECONDS",
        ),
    ]
}
