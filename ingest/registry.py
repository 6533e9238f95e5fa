"""Every stream consumer of PeaceWatch: name -> topic, consumer group, handler.

``python manage.py run_consumer NAME`` looks a consumer up here. Handlers are
named by dotted path so that listing consumers imports no consumer code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings

from ingest.batch import BatchOutcome


@dataclass(frozen=True)
class ConsumerSpec:
    name: str
    topic: str  # logical topic name, see peacewatch.kafka.topic()
    group: str  # the consumer group is KAFKA_GROUP_PREFIX-<group>, e.g. peacewatch-alerts
    handler: str  # "module:function" taking list[KafkaRecord] -> BatchOutcome
    # Optional "module:function" -> BatchOutcome of messages left unpublished by
    # a previous run (a transactional outbox), published before consuming.
    recover: str | None = None
    description: str = ""
    max_batch: int | None = None  # records per batch; None means CONSUMER_MAX_BATCH

    @property
    def group_id(self) -> str:
        return f"{settings.KAFKA_GROUP_PREFIX}-{self.group}"

    def load_handler(self) -> Callable[[list], BatchOutcome]:
        return _load(self.handler)

    def load_recover(self) -> Callable[[], BatchOutcome] | None:
        return _load(self.recover) if self.recover else None


def _load(path: str):
    module, _, attr = path.partition(":")
    return getattr(import_module(module), attr)


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
            handler="ingest.drone_consumer:process_batch",
            description="keeps drone health (last seen, battery, seq gaps, online) current",
            max_batch=5000,
        ),
    ]
}
