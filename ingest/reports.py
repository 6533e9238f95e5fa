"""The drone report, wire format v1.1 (CONTRACT section 1), defined once.

``decode_report`` turns the raw bytes of one Kafka record (or one item of an
HTTP ingest body) into a validated :class:`Report` or a :class:`ReportError`
with a stable code. It is total: for any bytes and any record timestamp it
returns one of the two and raises nothing, because a bad report is data to be
dead-lettered, not an exception that could stop a consumer. Hence the v1.1
limits on what JSON itself allows: nesting depth, 64-bit integers, no control
characters, dates that convert to UTC and stay in a window every store and
date computation downstream can represent.

Strict core, lenient telemetry: a report whose ``drone_id``, ``location``,
``citizens``, ``words``, ``report_id`` or ``sent_at`` format breaks a rule is
bad; an optional telemetry field that breaks its rule is dropped from the
decoded report (the raw bytes keep it) and named in ``Received.dropped``, so a
faulty sensor never silences the citizens in the report.

Time (v1.1): a ``sent_at`` more than ``MAX_CLOCK_SKEW_S`` ahead of the record's
broker timestamp is a drone clock running fast, not a report from the future:
the broker time is used instead and ``Received.clock_skew`` says so. A
``sent_at`` behind the broker time is trusted (a drone may send buffered reports late).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec

MAX_REPORT_BYTES = 256 * 1024
MAX_DEPTH = 32  # containers nested in one another, the report object included
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
# Every date a report yields lies in [EARLIEST, LATEST): representable as epoch
# milliseconds, as Parquet nanoseconds (which end in 2262) and with room for
# date arithmetic, so no store or partitioning downstream can overflow on it.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_EARLIEST_MS = int(EARLIEST.timestamp() * 1000)
_LATEST_MS = int(LATEST.timestamp() * 1000)
DEFAULT_MAX_CLOCK_SKEW_S = 300
# MAX_CLOCK_SKEW_S in milliseconds. A module value set from the settings at
# start-up (``ingest.apps``), not a settings lookup per record: decode_report
# is on the hot path of every consumer.
_max_skew_ms = DEFAULT_MAX_CLOCK_SKEW_S * 1000.0


def set_max_clock_skew(seconds: float) -> None:
    """How far ``sent_at`` may run ahead of the broker time before it is not trusted."""
    global _max_skew_ms
    _max_skew_ms = seconds * 1000.0


DroneId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Lon = Annotated[float, msgspec.Meta(ge=-180, le=180)]
Score = Annotated[float, msgspec.Meta(ge=0, le=100)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
# v1.1 ``citizens[].id``: the recognition system's stable id of a person (two people may share a name).
SubjectId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Word = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=INT64_MAX)]
Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]
Heading = Annotated[float, msgspec.Meta(ge=0, lt=360)]
Speed = Annotated[float, msgspec.Meta(ge=0)]


class Location(msgspec.Struct, omit_defaults=True):
    lat: Lat
    lon: Lon
    alt_m: float | None = None


class Citizen(msgspec.Struct, omit_defaults=True):
    name: Name
    peacescore: Score
    confidence: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    id: SubjectId | None = None


class Report(msgspec.Struct, omit_defaults=True, kw_only=True):
    """A validated report. Unknown fields are not kept here but in ``raw``."""

    drone_id: DroneId
    location: Location
    citizens: Annotated[list[Citizen], msgspec.Meta(max_length=200)]
    words: Annotated[list[Word], msgspec.Meta(max_length=1000)]
    report_id: ShortText | None = None
    sent_at: AwareDatetime | None = None
    seq: Seq | None = None
    battery_pct: Percent | None = None
    heading_deg: Heading | None = None
    speed_mps: Speed | None = None
    firmware: ShortText | None = None

    def min_peacescore(self) -> float | None:
        return min((c.peacescore for c in self.citizens), default=None)


# The rule of each telemetry field, by its name in the report (CONTRACT v1.1).
TELEMETRY: dict[str, Any] = {
    "location.alt_m": float,
    "seq": Seq,
    "battery_pct": Percent,
    "heading_deg": Heading,
    "speed_mps": Speed,
    "firmware": ShortText,
}


class _LenientLocation(msgspec.Struct):
    lat: Lat
    lon: Lon
    alt_m: Any = None


class _LenientReport(msgspec.Struct, kw_only=True):
    """The strict core of :class:`Report`; telemetry of any JSON type, judged field by field."""

    drone_id: DroneId
    location: _LenientLocation
    citizens: Annotated[list[Citizen], msgspec.Meta(max_length=200)]
    words: Annotated[list[Word], msgspec.Meta(max_length=1000)]
    report_id: ShortText | None = None
    sent_at: AwareDatetime | None = None
    seq: Any = None
    battery_pct: Any = None
    heading_deg: Any = None
    speed_mps: Any = None
    firmware: Any = None


class ReportError(msgspec.Struct, frozen=True):
    """Why a record is not a valid report. ``code`` is stable (dead-letter header)."""

    code: str  # too_large | empty | invalid_utf8 | invalid_json | schema
    detail: str


class Received(msgspec.Struct):
    """A valid report plus what the system derived while receiving it."""

    report: Report
    report_id: str
    observed_at: datetime
    time_source: str  # "drone" (sent_at) or "broker" (Kafka record timestamp, or arrival)
    raw: bytes  # the original JSON, unknown fields included
    # Telemetry fields that broke their rule and were left out of ``report``
    # (names as in TELEMETRY); a store may flag the report with them.
    dropped: tuple[str, ...] = ()
    # sent_at was more than MAX_CLOCK_SKEW_S ahead of the broker time, so
    # observed_at is the broker time (time_source "broker"), not sent_at.
    clock_skew: bool = False


_decoder = msgspec.json.Decoder(Report)
_lenient_decoder = msgspec.json.Decoder(_LenientReport)

# Raw-bytes checks of the v1.1 limits. They run on JSON msgspec has already
# accepted, so string boundaries are unambiguous.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"[\[{][\]}]")
# 18 digits always fit in 64 bits. A run of 19 is found by mapping every byte to a digit mark or a
# blank and looking for 19 marks in a row: two C loops, where the regex walked every run of digits.
_DIGIT_MARKS = bytes(ord("d") if 0x30 <= b <= 0x39 else ord(" ") for b in range(256))
_LONG_DIGITS = b"d" * 19
_INTEGER = re.compile(rb"(?<![\w.+-])-?\d{19,}(?![\w.])")  # a whole integer token, not part of a float
# An escape of U+0000-U+001F or U+007F: an odd run of backslashes, then the escape.
_CONTROL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\(?:[bfnrt]|u00[01][0-9A-Fa-f]|u007[Ff])")


def derive_report_id(raw: bytes) -> str:
    """A deterministic id for a report that carries none: same bytes, same id."""
    return "d-" + hashlib.blake2b(raw, digest_size=16).hexdigest()


def decode_report(raw: bytes | None, *, timestamp_ms: int | None = None) -> Received | ReportError:
    """Validate one record value; ``timestamp_ms`` is the Kafka record time (any value)."""
    if not raw:
        return ReportError("empty", "record has no value")
    if len(raw) > MAX_REPORT_BYTES:
        return ReportError("too_large", f"record is {len(raw)} bytes, the limit is {MAX_REPORT_BYTES}")
    dropped: tuple[str, ...] = ()
    try:
        try:
            report = _decoder.decode(raw)
        except msgspec.ValidationError as strict_error:
            # Maybe only telemetry is wrong: the lenient decode says whether
            # the core holds (if not, its error names the core field).
            report, dropped = _drop_bad_telemetry(_lenient_decoder.decode(raw), strict_error)
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
    except RecursionError:
        return ReportError("schema", f"nested deeper than {MAX_DEPTH} levels")
    problem = _limits_problem(raw)
    if problem is not None:
        return ReportError("schema", problem)
    if report.sent_at is not None:
        try:
            observed_at = report.sent_at.astimezone(UTC)
        except OverflowError:
            return ReportError("schema", f"sent_at {report.sent_at.isoformat()} cannot be converted to UTC")
        if not EARLIEST <= observed_at < LATEST:
            window = f"{EARLIEST:%Y-%m-%d}..{LATEST:%Y-%m-%d}"
            return ReportError("schema", f"sent_at {report.sent_at.isoformat()} is outside {window} - at `$.sent_at`")
        time_source, clock_skew = "drone", False
        if _known(timestamp_ms) and observed_at.timestamp() * 1000 - timestamp_ms > _max_skew_ms:
            observed_at, time_source, clock_skew = broker_time(timestamp_ms), "broker", True
    else:
        observed_at, time_source, clock_skew = broker_time(timestamp_ms), "broker", False
    return Received(
        report=report,
        report_id=report.report_id or derive_report_id(raw),
        observed_at=observed_at,
        time_source=time_source,
        raw=raw,
        dropped=dropped,
        clock_skew=clock_skew,
    )


def _drop_bad_telemetry(wire: _LenientReport, strict_error: msgspec.ValidationError) -> tuple[Report, tuple[str, ...]]:
    values = {
        "location.alt_m": wire.location.alt_m,
        "seq": wire.seq,
        "battery_pct": wire.battery_pct,
        "heading_deg": wire.heading_deg,
        "speed_mps": wire.speed_mps,
        "firmware": wire.firmware,
    }
    kept, dropped = {}, []
    for name, value in values.items():
        if value is None:
            kept[name] = None
            continue
        try:
            kept[name] = msgspec.convert(value, TELEMETRY[name])
        except msgspec.ValidationError:
            kept[name] = None
            dropped.append(name)
    if not dropped:  # cannot happen while the lenient core equals the strict one; stay strict if it does
        raise strict_error
    report = Report(
        drone_id=wire.drone_id,
        location=Location(lat=wire.location.lat, lon=wire.location.lon, alt_m=kept["location.alt_m"]),
        citizens=wire.citizens,
        words=wire.words,
        report_id=wire.report_id,
        sent_at=wire.sent_at,
        seq=kept["seq"],
        battery_pct=kept["battery_pct"],
        heading_deg=kept["heading_deg"],
        speed_mps=kept["speed_mps"],
        firmware=kept["firmware"],
    )
    return report, tuple(dropped)


def _limits_problem(raw: bytes) -> str | None:
    """The v1.1 limit valid JSON ``raw`` breaks, if any. Cheap unless a quick test finds a suspect."""
    if b"\x7f" in raw:
        return "control character U+007F in a string"
    if b"\\" in raw and _CONTROL_ESCAPE.search(raw):
        return "control character (U+0000-U+001F) in a string"
    deep = raw.count(b"{") + raw.count(b"[") > MAX_DEPTH
    long_digits = _LONG_DIGITS in raw.translate(_DIGIT_MARKS)
    if not (deep or long_digits):
        return None
    skeleton = _STRING.sub(b'""', raw)  # strings out: what is left is structure and numbers
    if deep and _depth_exceeds(skeleton.translate(None, _NOT_BRACKETS), MAX_DEPTH):
        return f"nested deeper than {MAX_DEPTH} levels"
    if long_digits:
        for match in _INTEGER.finditer(skeleton):
            if not INT64_MIN <= int(match.group()) <= INT64_MAX:
                return f"integer {match.group()[:40].decode()} does not fit in 64 bits"
    return None


def _depth_exceeds(brackets: bytes, limit: int) -> bool:
    """Whether balanced ``brackets`` nest deeper than ``limit``: each pass removes the innermost level."""
    for _ in range(limit):
        if not brackets:
            return False
        brackets = _INNERMOST.sub(b"", brackets)
    return bool(brackets)


def _known(timestamp_ms: int | None) -> bool:
    """Whether a record timestamp is a real time: 0 and below mean none (Kafka's -1, or never set)."""
    return isinstance(timestamp_ms, int) and _EARLIEST_MS < timestamp_ms < _LATEST_MS


def broker_time(timestamp_ms: int | None) -> datetime:
    """The record's broker time; arrival time (now) when it is missing or outside the window."""
    if _known(timestamp_ms):
        return datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return datetime.now(tz=UTC)


def encode_report(report: Report) -> bytes:
    return msgspec.json.encode(report)


def json_schema() -> dict:
    """The JSON Schema of a valid report, generated from :class:`Report` (docs/report.schema.json).

    What JSON Schema cannot say is in the description: the decoder also refuses
    control characters, nesting deeper than 32 and integers beyond 64 bits, and
    drops (rather than refuses) telemetry that breaks its rule.
    """
    schema = msgspec.json.schema(Report)
    schema["$defs"]["Report"]["description"] = (
        "A PeaceWatch drone report, wire format v1.1 (docs/CONTRACT.md section 1). Unknown fields are allowed "
        "and kept. Beyond this schema: no control characters (U+0000-U+001F, U+007F) in any string, nesting of "
        "at most 32 levels, integers within 64 bits; a telemetry field (location.alt_m, seq, battery_pct, "
        "heading_deg, speed_mps, firmware) that breaks its rule is dropped, not refused."
    )
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "PeaceWatch report v1.1", **schema}
