"""Structured logs: an event name plus fields, as text or one JSON object a line.

Call sites log ``logger.info("batch_committed", extra={"fields": {...}})`` via
:func:`log`, so logs stay greppable by event and parseable by machines.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any


def log(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    logger.log(level, event, extra={"fields": fields})


class StructuredFormatter(logging.Formatter):
    def __init__(self, json: bool = False) -> None:
        super().__init__()
        self.json = json

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", None) or {}
        when = datetime.fromtimestamp(record.created, tz=UTC)
        if self.json:
            payload = {
                "ts": when.isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(),
                "logger": record.name,
                "event": record.getMessage(),
                **fields,
            }
            if record.exc_info:
                payload["exc"] = self.formatException(record.exc_info)
            return json.dumps(payload, default=str)
        text = f"{when:%H:%M:%S} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            text += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text
