"""The shape of a stream consumer: name -> topic, consumer group, handler.

Handlers are named by dotted path so that listing consumers imports no
consumer code, and so that this package never imports a domain app.
``peacewatch.consumers`` lists PeaceWatch's consumers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings

from peacewatch.streams.batch import BatchOutcome


@dataclass(frozen=True)
class ConsumerSpec:
    name: str
    topic: str  # logical topic name, see peacewatch.streams.kafka.topic()
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
