"""What a consumer's ``process_batch`` takes and returns.

Handlers receive records with the attributes of a Kafka record (``topic``,
``partition``, ``offset``, ``key``, ``value``, ``headers``, ``timestamp``) and
never import aiokafka: tests hand them plain :class:`Record` lists, the runner
hands them aiokafka's own records unchanged (no copy on the hot path).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from peacewatch.streams.deadletter import DeadLetter


class KafkaRecord(Protocol):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    timestamp: int


@dataclass(slots=True)
class Record:
    """A plain record, shaped like aiokafka's ConsumerRecord, for tests and tools."""

    value: bytes | None
    key: bytes | None = None
    topic: str = "peacewatch.reports"
    partition: int = 0
    offset: int = 0
    timestamp: int = 0
    headers: Sequence[tuple[str, bytes]] = ()


@dataclass(slots=True)
class Outgoing:
    """A message the runner must produce (and have acknowledged) before committing."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class BatchOutcome:
    records: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    messages: list[Outgoing] = field(default_factory=list)
    # Called (in the worker thread) once every message above is acknowledged,
    # e.g. to mark outbox rows as published.
    after_delivery: Callable[[], None] | None = None
    counts: Counter = field(default_factory=Counter)

    @classmethod
    def merged(cls, outcomes: Sequence[BatchOutcome], *, records: int) -> BatchOutcome:
        """One outcome for a batch handled in parts (the runner isolating a poison record)."""
        merged = cls(records=records)
        callbacks = []
        for outcome in outcomes:
            merged.dead_letters += outcome.dead_letters
            merged.messages += outcome.messages
            merged.counts.update(outcome.counts)
            if outcome.after_delivery is not None:
                callbacks.append(outcome.after_delivery)
        if callbacks:

            def after_delivery() -> None:
                for callback in callbacks:
                    callback()

            merged.after_delivery = after_delivery
        return merged
