"""The dead-letter message (CONTRACT section 2), defined once.

A record that cannot be handled goes to ``peacewatch.deadletter`` with its
original bytes unchanged and headers saying why and where it came from, so an
operator can inspect it, fix the sender, and replay it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class RecordError(Protocol):
    """Why a consumer refused a record: a stable code and a readable detail (e.g. a report's decode error)."""

    code: str
    detail: str


HANDLER_ERROR = "handler_error"  # a record that made a handler raise (the runner isolated it)
HEADER_NAMES = ("error", "detail", "source_topic", "source_partition", "source_offset")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    key: bytes | None
    value: bytes | None
    error: str
    detail: str
    source_topic: str
    source_partition: int
    source_offset: int

    @classmethod
    def for_record(cls, record, error: RecordError) -> DeadLetter:
        return cls._about(record, error.code, error.detail)

    @classmethod
    def for_failure(cls, record, exc: BaseException) -> DeadLetter:
        """A record the handler raised on when given it alone, while other records went through."""
        return cls._about(record, HANDLER_ERROR, f"{type(exc).__name__}: {exc}")

    @classmethod
    def _about(cls, record, error: str, detail: str) -> DeadLetter:
        return cls(
            key=record.key,
            value=record.value,
            error=error,
            detail=detail,
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
        )

    def headers(self) -> list[tuple[str, bytes]]:
        # Kafka header values are bytes; the detail is capped so one absurd
        # record cannot produce an oversized dead letter.
        return [
            ("error", self.error.encode()),
            ("detail", self.detail[:1000].encode("utf-8", "replace")),
            ("source_topic", self.source_topic.encode()),
            ("source_partition", str(self.source_partition).encode()),
            ("source_offset", str(self.source_offset).encode()),
        ]


def parse_headers(headers) -> dict[str, str]:
    """Headers of a dead-letter record as text, for tools and tests."""
    return {name: (value or b"").decode("utf-8", "replace") for name, value in headers}
