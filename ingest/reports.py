"""The drone report, wire format v1 (CONTRACT section 1), defined once.

``decode_report`` turns the raw bytes of one Kafka record (or one item of an
HTTP ingest body) into a validated :class:`Report` or a :class:`ReportError`
with a stable code. It never raises on bad input: a bad report is data to be
dead-lettered, not an exception that could stop a consumer.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated

import msgspec

MAX_REPORT_BYTES = 256 * 1024

DroneId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Lon = Annotated[float, msgspec.Meta(ge=-180, le=180)]
Score = Annotated[float, msgspec.Meta(ge=0, le=100)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Word = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class Location(msgspec.Struct, omit_defaults=True):
    lat: Lat
    lon: Lon
    alt_m: float | None = None


class Citizen(msgspec.Struct, omit_defaults=True):
    name: Name
    peacescore: Score
    confidence: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None


class Report(msgspec.Struct, omit_defaults=True, kw_only=True):
    """A validated v1 report. Unknown fields are not kept here but in ``raw``."""

    drone_id: DroneId
    location: Location
    citizens: Annotated[list[Citizen], msgspec.Meta(max_length=200)]
    words: Annotated[list[Word], msgspec.Meta(max_length=1000)]
    report_id: ShortText | None = None
    sent_at: AwareDatetime | None = None
    seq: Annotated[int, msgspec.Meta(ge=0)] | None = None
    battery_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    heading_deg: Annotated[float, msgspec.Meta(ge=0, lt=360)] | None = None
    speed_mps: Annotated[float, msgspec.Meta(ge=0)] | None = None
    firmware: ShortText | None = None

    def min_peacescore(self) -> float | None:
        return min((c.peacescore for c in self.citizens), default=None)


class ReportError(msgspec.Struct, frozen=True):
    """Why a record is not a valid report. ``code`` is stable (dead-letter header)."""

    code: str  # too_large | empty | invalid_utf8 | invalid_json | schema
    detail: str


class Received(msgspec.Struct):
    """A valid report plus what the system derived while receiving it."""

    report: Report
    report_id: str
    observed_at: datetime
    time_source: str  # "drone" (sent_at) or "broker" (Kafka record timestamp)
    raw: bytes  # the original JSON, unknown fields included


_decoder = msgspec.json.Decoder(Report)


def derive_report_id(raw: bytes) -> str:
    """A deterministic id for a report that carries none: same bytes, same id."""
    return "d-" + hashlib.blake2b(raw, digest_size=16).hexdigest()


def decode_report(raw: bytes | None, *, timestamp_ms: int | None = None) -> Received | ReportError:
    """Validate one record value; ``timestamp_ms`` is the Kafka record time."""
    if not raw:
        return ReportError("empty", "record has no value")
    if len(raw) > MAX_REPORT_BYTES:
        return ReportError("too_large", f"record is {len(raw)} bytes, the limit is {MAX_REPORT_BYTES}")
    try:
        report = _decoder.decode(raw)
    except UnicodeDecodeError as exc:
        return ReportError("invalid_utf8", f"not UTF-8: {exc.reason} at byte {exc.start}")
    except msgspec.ValidationError as exc:
        return ReportError("schema", str(exc))
    except msgspec.DecodeError as exc:
        # msgspec checks UTF-8 inside strings only; bytes outside them show up
        # as malformed JSON, so tell the two apart for the operator.
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as uexc:
            return ReportError("invalid_utf8", f"not UTF-8: {uexc.reason} at byte {uexc.start}")
        return ReportError("invalid_json", str(exc))
    if report.sent_at is not None:
        observed_at, time_source = report.sent_at.astimezone(UTC), "drone"
    else:
        ts = timestamp_ms if timestamp_ms is not None and timestamp_ms >= 0 else None
        observed_at = datetime.fromtimestamp(ts / 1000, tz=UTC) if ts is not None else datetime.now(tz=UTC)
        time_source = "broker"
    return Received(
        report=report,
        report_id=report.report_id or derive_report_id(raw),
        observed_at=observed_at,
        time_source=time_source,
        raw=raw,
    )


def encode_report(report: Report) -> bytes:
    return msgspec.json.encode(report)
