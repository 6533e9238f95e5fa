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
    extra_topics: tuple[str, ...] = ()  # further logical topics read by the same group
    # A sink that writes files wants few, big batches: with this set (the name of
    # a setting, in seconds, bounding the time from produce to durable), the
    # runner accumulates polls into one batch of up to ``max_batch`` records,
    # handed over at the latest half that bound after its first record.
    linger_setting: str | None = None

    @property
    def topics(self) -> tuple[str, ...]:
        return (self.topic, *self.extra_topics)

    @property
    def linger_s(self) -> float | None:
        # Half the bound waits in memory; the rest is for lag and the write itself.
        return getattr(settings, self.linger_setting) / 2 if self.linger_setting else None

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
