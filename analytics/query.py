"""The analysts' query, defined once, validated once, run by either engine.

A :class:`Query` is what the UI, the API and saved queries hold: filters
(time, drones, citizen, words, peacescore, area, alerts only, clock skew), the
aggregations wanted and the page of hits. :func:`parse_query` turns JSON into
one, or a :class:`QueryError` naming the bad field; :func:`plan` resolves it
against a clock and the alert threshold into a :class:`Plan`, the plain data
both engines compile (STYLE rule 7): the embedded engine to SQL, the
Elasticsearch engine to a search body. Anything both engines must agree on
(time buckets, word tokens, percentiles, bucket order, cursors) is decided
here or in the shared post-processing below, not in each engine.
"""

from __future__ import annotations

import base64
import heapq
import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec

from analytics.stop_words import BUILT_IN as BUILT_IN_STOP_WORDS
from analytics.tokens import name_fold, word_token
from peacewatch.problems import field_path

MAX_SIZE = 500  # hits per page; exports page through everything instead
MAX_TOP = 100
MAX_GRID_PRECISION = 16  # the embedded rollups keep tiles at zoom 16
MAX_GRID_CELLS = 10_000
EARTH_RADIUS_M = 6_371_008.7714  # the mean radius Elasticsearch's arc distance uses (circle filters)
PERCENTS = (5.0, 25.0, 50.0, 75.0, 95.0, 99.0)
AGGREGATIONS = ("histogram", "top_citizens", "top_drones", "top_words", "score", "grid")

# Histogram intervals: the smallest giving at most MAX_BUCKETS buckets.
INTERVALS = (
    ("1m", 60_000),
    ("5m", 300_000),
    ("10m", 600_000),
    ("15m", 900_000),
    ("30m", 1_800_000),
    ("1h", 3_600_000),
    ("3h", 10_800_000),
    ("6h", 21_600_000),
    ("12h", 43_200_000),
    ("1d", 86_400_000),
    ("7d", 604_800_000),
)
MAX_BUCKETS = 120

_RELATIVE = re.compile(r"^(\d{1,4})(m|h|d)$")
_UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_RANGE_MS = 3660 * 86_400_000  # ten years: beyond that it is a typo

DroneId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
Word = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    pass


class TimeRange(Strict):
    """Absolute (``from``/``to``, RFC 3339) or relative (``last``: 15m, 24h, 7d)."""

    last: str | None = None
    from_: datetime | None = msgspec.field(default=None, name="from")
    to: datetime | None = None


class CitizenFilter(Strict):
    """One of: ``name``, every sighting under that name (the whole name, or its start), whoever it was,
    compared without regard to case, accents or spacing (:func:`analytics.tokens.name_fold`); or
    ``key``, one person as top lists count them (see :func:`citizen_key`), whatever name they went by,
    compared exactly."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=200)] | None = None
    match: Literal["exact", "prefix"] = "exact"


class WordsFilter(Strict):
    any: Annotated[list[Word], msgspec.Meta(max_length=50)] = []
    all: Annotated[list[Word], msgspec.Meta(max_length=50)] = []


class ScoreRange(Strict):
    min: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    max: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None


class Box(Strict):
    south: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    west: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    north: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    east: Annotated[float, msgspec.Meta(ge=-180, le=180)]


class Circle(Strict):
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    # At least a metre: a GPS position is no finer, and a smaller circle is a typo.
    radius_m: Annotated[float, msgspec.Meta(ge=1, le=1_000_000)]


class Area(Strict):
    box: Box | None = None
    circle: Circle | None = None


class Query(Strict):
    time: TimeRange = msgspec.field(default_factory=lambda: TimeRange(last="24h"))
    drones: Annotated[list[DroneId], msgspec.Meta(max_length=1000)] = []
    citizen: CitizenFilter | None = None
    words: WordsFilter | None = None
    score: ScoreRange | None = None
    area: Area | None = None
    alerts_only: bool = False
    # Only reports flagged clock_skew (true: the drone's clock ran ahead, the time is the broker's) or only
    # those not flagged (false); both when absent.
    clock_skew: bool | None = None
    aggs: list[Literal["histogram", "top_citizens", "top_drones", "top_words", "score", "grid"]] = []
    top: Annotated[int, msgspec.Meta(ge=1, le=MAX_TOP)] = 10
    grid_precision: Annotated[int, msgspec.Meta(ge=0, le=MAX_GRID_PRECISION)] | None = None
    size: Annotated[int, msgspec.Meta(ge=0, le=MAX_SIZE)] = 50
    sort: Literal["newest", "oldest"] = "newest"
    after: Annotated[str, msgspec.Meta(max_length=300)] | None = None
    # Top words skip stop words ("the", "and"; analytics/stop_words.py) unless asked to keep them.
    stop_words: Literal["skip", "keep"] = "skip"
    # Only reports that had arrived (were stored) before this moment: an earlier answer's ``as_of``, so that
    # its next pages, its count and its export count the same reports, whatever arrived since.
    arrived_before: datetime | None = None


class QueryError(ValueError):
    """A query that cannot run; ``field`` is the JSON path of the culprit."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def parse_query(data: Any) -> Query:
    """A validated Query from decoded JSON, or QueryError naming the problem."""
    if not isinstance(data, Mapping):
        raise QueryError("", "the query must be a JSON object")
    nul = _nul_path(data)
    if nul is not None:
        # PostgreSQL cannot store it (saved queries, exports, the audit log): refused here, by name.
        raise QueryError(nul, "must not hold the NUL character (U+0000)")
    try:
        query = msgspec.convert(dict(data), Query, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        text = str(exc)
        field = field_path(text) or ""
        unknown = re.match(r"Object contains unknown field `([^`]*)`", text)
        if unknown:
            field = ".".join(p for p in (field, unknown.group(1)) if p)
            raise QueryError(field, "unknown field") from None
        missing = re.match(r"Object missing required field `([^`]*)`", text)
        if missing:
            field = ".".join(p for p in (field, missing.group(1)) if p)
            raise QueryError(field, "is required") from None
        raise QueryError(field, plain_words(field, text.split(" - at ")[0])) from None
    _check(query)
    return query


# What msgspec says (for programmers), said for analysts: the UI shows these next to the field.
_CHOICES = {
    "sort": ("newest", "oldest"),
    "stop_words": ("skip", "keep"),
    "citizen.match": ("exact", "prefix"),
    "aggs": AGGREGATIONS,
}
_TYPES = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "str": "text",
    "array": "a list",
    "object": "an object",
    "datetime": "a time with an offset, such as 2026-11-28T12:00:00Z",
}
_BOUND = re.compile(r"Expected `(\w+)`(?: \| null)? (<=|>=|<|>) ([-\d.e+]+)")
_LENGTH = re.compile(r"Expected `(\w+)`(?: \| null)? of length (<=|>=) (\d+)")
_TYPE = re.compile(r"Expected `(\w+)(?: \| null)?`")


def plain_words(field: str, text: str) -> str:
    """msgspec's validation message for ``field`` in words an analyst reads without a manual."""
    if "matching regex" in text and re.sub(r"\[\d+\]", "", field) == "drones":
        return "use letters, digits, '.', '_' or '-' only"
    bound = _BOUND.match(text)
    if bound:
        _, op, value = bound.groups()
        value = f"{float(value):g}"
        return {
            "<=": f"must be at most {value}",
            ">=": f"must be at least {value}",
            "<": f"must be below {value}",
            ">": f"must be above {value}",
        }[op]
    length = _LENGTH.match(text)
    if length:
        kind, op, n = length.groups()
        unit = "items" if kind == "array" else "characters"
        if op == ">=" and n == "1":
            return "must not be empty"
        return f"must be at most {n} {unit}" if op == "<=" else f"must be at least {n} {unit}"
    if text.startswith("Invalid enum value"):
        choices = _CHOICES.get(re.sub(r"\[\d+\]$", "", field))
        return "must be one of " + ", ".join(choices) if choices else "is not one of the choices"
    if text.startswith("Invalid RFC3339"):
        return "must be " + _TYPES["datetime"]
    kind = _TYPE.match(text)
    if kind and kind.group(1) in _TYPES:
        return "must be " + _TYPES[kind.group(1)]
    return text


def _nul_path(value: Any, path: str = "") -> str | None:
    """The JSON path of the first string (or key) holding U+0000, if any."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                return here
            found = _nul_path(item, here)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _nul_path(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _dec_hook(type_: type, obj: Any) -> Any:
    raise NotImplementedError(type_)


def _check(query: Query) -> None:
    t = query.time
    if t.last is not None and (t.from_ is not None or t.to is not None):
        raise QueryError("time", "give either last or from/to, not both")
    if t.last is not None and not _RELATIVE.match(t.last):
        raise QueryError("time.last", "expected a number and a unit m, h or d, such as 15m, 24h or 7d")
    for name, value in (("time.from", t.from_), ("time.to", t.to), ("arrived_before", query.arrived_before)):
        if value is not None and value.tzinfo is None:
            raise QueryError(name, "a time needs an offset, such as Z or +01:00")
    if t.from_ is not None and t.to is not None and t.from_ >= t.to:
        raise QueryError("time", "from must be before to")
    score = query.score
    if score and score.min is not None and score.max is not None and score.min > score.max:
        raise QueryError("score", "min must not be greater than max")
    if query.area:
        if (query.area.box is None) == (query.area.circle is None):
            raise QueryError("area", "give exactly one of box or circle")
        box = query.area.box
        if box and box.south > box.north:
            raise QueryError("area.box", "south must not be greater than north")
        if box and box.west > box.east:
            raise QueryError("area.box", "west must not be greater than east")
    citizen = query.citizen
    if citizen and (citizen.name is None) == (citizen.key is None):
        raise QueryError("citizen", "give exactly one of name or key")
    if citizen and citizen.key is not None and citizen.match != "exact":
        raise QueryError("citizen.match", "a key matches exactly; prefix is for names")
    if query.words and not (query.words.any or query.words.all):
        raise QueryError("words", "give words in any or all")
    if query.after is not None:
        decode_cursor(query.after)
    if len(set(query.aggs)) != len(query.aggs):
        raise QueryError("aggs", "an aggregation is listed twice")


# --- The plan: the query resolved, engine-neutral --------------------------------


class Plan(msgspec.Struct, frozen=True):
    start_ms: int
    end_ms: int  # exclusive
    interval: str
    interval_ms: int
    drones: tuple[str, ...]
    citizen: str | None
    citizen_field: Literal["name", "key"]  # which of a sighting's two the filter compares (a name folded)
    citizen_prefix: bool
    words_any: tuple[str, ...]  # word tokens (see analytics.tokens)
    words_all: tuple[str, ...]
    score_min: float | None
    score_max: float | None
    box: tuple[float, float, float, float] | None  # south, west, north, east
    circle: tuple[float, float, float] | None  # lat, lon, radius_m
    below: float | None  # alerts only: some citizen's score below this threshold
    clock_skew: bool | None  # only reports with this clock_skew flag; None: any
    threshold: float  # for the hits' ``alert`` flag
    aggs: tuple[str, ...]
    top: int
    grid_precision: int
    size: int
    newest_first: bool
    after: tuple[int, str, str] | None  # (observed_at ms, report_id, drone_id) of the last hit seen
    # Word tokens top_words leaves out (analytics/stop_words.py); empty when the query keeps them.
    stop_words: tuple[str, ...] = ()
    # False when only the hits are wanted (an export's later pages): no total to count.
    count_total: bool = True
    # Only reports stored before this (epoch ms, exclusive): each engine compares its own arrival time,
    # the index engines when they stored the report, the archive when the broker received it.
    arrived_before_ms: int | None = None

    @property
    def scores_filtered(self) -> bool:
        """A peacescore range: it keeps the reports where some citizen is in it, and the citizen
        aggregations (top citizens, score) count those citizens only."""
        return self.score_min is not None or self.score_max is not None

    @property
    def only_time_filter(self) -> bool:
        """No filter but time: the embedded engine may answer from its rollups."""
        return not (
            self.drones
            or self.citizen
            or self.words_any
            or self.words_all
            or self.score_min is not None
            or self.score_max is not None
            or self.box
            or self.circle
            or self.below is not None
            or self.clock_skew is not None
        )


def plan(
    query: Query,
    *,
    now: datetime | None = None,
    threshold: float = 20.0,
    stop_words: frozenset[str] = BUILT_IN_STOP_WORDS,
) -> Plan:
    """The query resolved; ``stop_words`` are the tokens a query that skips them leaves out of top words."""
    now = now or datetime.now(tz=UTC)
    t = query.time
    if t.last is not None:
        end_ms = _ms(now) + 1  # "now" included
        start_ms = end_ms - relative_ms(t.last)
    else:
        end_ms = _ms(t.to) if t.to else _ms(now) + 1
        start_ms = _ms(t.from_) if t.from_ else end_ms - 86_400_000
    if start_ms >= end_ms:
        raise QueryError("time", "the range is empty (from is in the future?)")
    if end_ms - start_ms > MAX_RANGE_MS:
        raise QueryError("time", "the range is longer than ten years")
    interval, interval_ms = choose_interval(end_ms - start_ms)
    area = query.area
    box = (area.box.south, area.box.west, area.box.north, area.box.east) if area and area.box else None
    circle = (area.circle.lat, area.circle.lon, area.circle.radius_m) if area and area.circle else None
    words = query.words or WordsFilter()
    precision = query.grid_precision
    if precision is None:
        precision = auto_precision(box, circle)
    citizen = query.citizen
    if citizen is None:
        citizen_value = None
    elif citizen.key is not None:
        citizen_value = citizen.key
    else:
        citizen_value = name_fold(citizen.name or "")
    return Plan(
        start_ms=start_ms,
        end_ms=end_ms,
        interval=interval,
        interval_ms=interval_ms,
        drones=tuple(sorted(set(query.drones))),
        citizen=citizen_value,
        citizen_field="key" if query.citizen and query.citizen.key is not None else "name",
        citizen_prefix=bool(query.citizen and query.citizen.match == "prefix"),
        words_any=tuple(sorted({word_token(w) for w in words.any})),
        words_all=tuple(sorted({word_token(w) for w in words.all})),
        score_min=query.score.min if query.score else None,
        score_max=query.score.max if query.score else None,
        box=box,
        circle=circle,
        below=threshold if query.alerts_only else None,
        clock_skew=query.clock_skew,
        threshold=threshold,
        aggs=tuple(query.aggs),
        top=query.top,
        grid_precision=precision,
        size=query.size,
        newest_first=query.sort == "newest",
        after=decode_cursor(query.after) if query.after else None,
        stop_words=tuple(sorted(stop_words)) if query.stop_words == "skip" and "top_words" in query.aggs else (),
        arrived_before_ms=_ms(query.arrived_before) if query.arrived_before else None,
    )


def relative_ms(text: str) -> int | None:
    """The length of a relative range ("15m", "24h", "7d") in milliseconds, or None if it is not one."""
    match = _RELATIVE.match(text)
    if match is None:
        return None
    amount, unit = match.groups()
    return int(amount) * _UNITS[unit]


def choose_interval(span_ms: int) -> tuple[str, int]:
    for name, ms in INTERVALS:
        if span_ms / ms <= MAX_BUCKETS:
            return name, ms
    return INTERVALS[-1]


def auto_precision(box, circle) -> int:
    """A grid of roughly 16-32 cells across the area; without one, across the city (CITY_BOUNDS)."""
    if circle:
        lat, _, radius = circle
        span = 2 * radius / 111_320 / max(0.1, math.cos(math.radians(lat)))
    elif box:
        span = max(box[3] - box[1], (box[2] - box[0]) * 1.5)
    else:
        return auto_precision(city_box(), None)
    cells = 360 / span * 24 if span > 0 else math.inf
    if not math.isfinite(cells):  # a point, or an area too small for a float's range
        return MAX_GRID_PRECISION
    zoom = math.floor(math.log2(cells))
    return max(0, min(MAX_GRID_PRECISION, zoom))


def city_box() -> tuple[float, float, float, float]:
    """The patrolled city, (south, west, north, east): the area of a query that names none."""
    from django.conf import settings

    return tuple(settings.CITY_BOUNDS)


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def iso(ms: int) -> str:
    """Epoch milliseconds as RFC 3339 UTC with milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- An area in SQL: the same text for SQLite and DuckDB ---------------------------


def area_sql(p: Plan, lat: str = "lat", lon: str = "lon") -> tuple[list[str], list]:
    """WHERE clauses and their parameters for the plan's box or circle over columns ``lat`` and ``lon``.

    The circle is the haversine distance on the mean radius Elasticsearch's arc
    distance uses, so all three engines draw the same edge.
    """
    clauses: list[str] = []
    params: list = []
    if p.box is not None:
        south, west, north, east = p.box
        clauses.append(f"{lat} BETWEEN ? AND ? AND {lon} BETWEEN ? AND ?")
        params.extend([south, north, west, east])
    if p.circle is not None:
        centre_lat, centre_lon, radius = p.circle
        clauses.append(
            f"2 * ? * asin(sqrt(pow(sin(radians({lat} - ?) / 2), 2) + cos(radians(?)) * cos(radians({lat})) "
            f"* pow(sin(radians({lon} - ?) / 2), 2))) <= ?"
        )
        params.extend([EARTH_RADIUS_M, centre_lat, centre_lat, centre_lon, radius])
    return clauses, params


# --- Cursors: (time, report id, drone id) of the last hit, opaque to clients -----
#
# Hits are ordered by time, then by the report's identity (CONTRACT v1.1: the pair
# drone_id, report_id): two drones may send the same report_id at the same
# millisecond, and a cursor without the drone would skip the second one.


# Any time a stored report can have (epoch ms, within what every engine's integers hold).
CursorTime = Annotated[int, msgspec.Meta(ge=-(2**53), le=2**53)]


def encode_cursor(ts_ms: int, report_id: str, drone_id: str) -> str:
    raw = msgspec.json.encode([ts_ms, report_id, drone_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class CursorError(QueryError):
    """``after`` is not a cursor this API returned: over HTTP a 404, as DRF answers for its own cursors."""


def decode_cursor(cursor: str) -> tuple[int, str, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts_ms, report_id, drone_id = msgspec.json.decode(raw, type=tuple[CursorTime, str, str])
    except (ValueError, msgspec.DecodeError):
        raise CursorError("after", "not a cursor this API returned") from None
    return ts_ms, report_id, drone_id


# --- Geotiles, as Elasticsearch's geotile_grid computes them ----------------------

MAX_LAT = 85.05112877980659


def tile_xy(lat: float, lon: float, zoom: int) -> tuple[int, int]:
    tiles = 1 << zoom
    x = math.floor((lon + 180.0) / 360.0 * tiles)
    lat = min(MAX_LAT, max(-MAX_LAT, lat))
    rad = math.radians(lat)
    y = math.floor((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * tiles)
    return min(tiles - 1, max(0, x)), min(tiles - 1, max(0, y))


def tile_bounds(zoom: int, x: int, y: int) -> dict:
    tiles = 1 << zoom

    def lat(yy: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / tiles))))

    return {
        "north": lat(y),
        "south": lat(y + 1),
        "west": x / tiles * 360.0 - 180.0,
        "east": (x + 1) / tiles * 360.0 - 180.0,
    }


# --- Shared post-processing: both engines hand raw counts to these --------------


def top_buckets(counts: Mapping[str, int] | Iterable[tuple[str, int]], size: int) -> list[dict]:
    """Most frequent first, ties by key: the order Elasticsearch's terms use."""
    items = counts.items() if isinstance(counts, Mapping) else counts
    # The first ``size`` of the sorted list, without sorting it: a city holds 100,000 people or more.
    ranked = heapq.nsmallest(size, ((k, n) for k, n in items if n > 0), key=lambda kv: (-kv[1], kv[0]))
    return [{"key": k, "count": n} for k, n in ranked]


def top_citizen_buckets(counts: Mapping[str, int], names: Mapping[str, str], size: int) -> list[dict]:
    """Top citizens by key, each with the name to show for it (see :func:`display_names`)."""
    return named(top_buckets(counts, size), names)


def named(buckets: list[dict], names: Mapping[str, str]) -> list[dict]:
    return [{"key": b["key"], "name": names[b["key"]], "count": b["count"]} for b in buckets]


def display_names(name_counts: Mapping[tuple[str, str], int], keys: Collection[str] | None = None) -> dict[str, str]:
    """For each citizen key, the name it was most often seen under; ties to the first name in order.

    The most frequent rather than the latest name: one misrecognised name on
    the last sighting does not rename the person, and both engines can count
    it (a terms aggregation under the key; the embedded rollups keep counts
    per key and name) where "latest" would need a per-sighting time in every
    nested citizen. It is the name within the query's matches, like the counts.
    """
    best: dict[str, tuple[int, str]] = {}
    for (key, name), n in name_counts.items():
        if keys is not None and key not in keys:
            continue  # only the keys a top list shows: a city holds 100,000 people or more
        held = best.get(key)
        if held is None or (-n, name) < (-held[0], held[1]):
            best[key] = (n, name)
    return {key: name for key, (_, name) in best.items()}


def histogram_buckets(counts: Mapping[int, int], p: Plan) -> list[dict]:
    """Every interval of the range, empty ones included, keyed by its start."""
    first = p.start_ms // p.interval_ms * p.interval_ms
    last = (p.end_ms - 1) // p.interval_ms * p.interval_ms
    return [{"key": iso(k), "count": counts.get(k, 0)} for k in range(first, last + p.interval_ms, p.interval_ms)]


def grid_cells(counts: Mapping[tuple[int, int], int], zoom: int) -> list[dict]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_GRID_CELLS]
    return [{"key": f"{zoom}/{x}/{y}", "count": n, "bounds": tile_bounds(zoom, x, y)} for (x, y), n in ranked if n > 0]


def score_stats(count: int, total: float, low: float | None, high: float | None, percentiles: dict) -> dict:
    return {
        "count": count,
        "min": low if count else None,
        "max": high if count else None,
        "avg": round(total / count, 4) if count else None,
        "percentiles": {_pkey(p): (round(v, 2) if v is not None else None) for p, v in percentiles.items()},
    }


def _pkey(p: float) -> str:
    return f"{p:g}"


def percentiles_from_bins(bins: Mapping[int, tuple[int, float]], percents: Iterable[float] = PERCENTS) -> dict:
    """Percentiles as the value of rank floor(p% x n) in sorted order, from tenth-of-a-point bins.

    Each bin stands for its values' mean, so the answer is exact when scores
    carry one decimal (as drones send them) and within a tenth otherwise.
    Elasticsearch and OpenSearch answer from an HDR histogram, brought back to
    the tenth (``analytics.store.elastic.compiler.score_from_hdr``): the same
    guarantee, over a rank rounded where this one is floored.
    """
    total = sum(n for n, _ in bins.values())
    ordered = sorted(bins.items())
    result: dict[float, float | None] = {}
    for p in percents:
        if not total:
            result[p] = None
            continue
        rank = min(total - 1, math.floor(p / 100 * total))
        seen = 0
        for _, (n, value_sum) in ordered:
            if seen + n > rank:
                result[p] = value_sum / n
                break
            seen += n
    return result


def score_bin(score: float) -> int:
    return min(999, int(score * 10))


def hit(
    report: dict,
    *,
    report_id: str,
    ts_ms: int,
    time_source: str,
    clock_skew: bool,
    threshold: float,
    citizens: list | None = None,
) -> dict:
    """One result row, the same shape from both engines."""
    people = citizens if citizens is not None else distinct_citizens(report.get("citizens", []))
    location = report.get("location", {})
    drone_id = report.get("drone_id")
    return {
        "report_id": report_id,
        "observed_at": iso(ts_ms),
        "time_source": time_source,
        "clock_skew": clock_skew,
        "drone_id": drone_id,
        "location": {"lat": location.get("lat"), "lon": location.get("lon")},
        "citizens": [{"name": c["name"], "key": citizen_key(c), "peacescore": c["peacescore"]} for c in people],
        "words": report.get("words", []),
        "alert": any(c["peacescore"] < threshold for c in people),
        "cursor": encode_cursor(ts_ms, report_id, drone_id),
    }


def citizen_key(citizen: dict) -> str:
    """Who a sighting is of, for top lists and timelines (CONTRACT v1.1): the subject id when the
    recognition system gave one, else the name (two people can share a name, one person can be
    recognised under two spellings)."""
    subject = citizen.get("id")
    return subject if isinstance(subject, str) and subject else citizen["name"]


def distinct_citizens(citizens: Iterable[dict]) -> list[dict]:
    """One entry per citizen key, the first seen: a person twice in a report is one sighting."""
    seen: dict[str, dict] = {}
    for c in citizens:
        seen.setdefault(citizen_key(c), c)
    return list(seen.values())


def as_of(p: Plan, frontier_ms: int | None) -> str:
    """The answer's ``as_of``: the arrival bound it counted under, given or else the engine's
    ``frontier_ms`` (just after the latest arrival it could see; now when it holds nothing). Sent back
    as ``arrived_before``, it counts the same reports later."""
    if p.arrived_before_ms is not None:
        return iso(p.arrived_before_ms)
    return iso(frontier_ms if frontier_ms is not None else _ms(datetime.now(tz=UTC)))


def describe(p: Plan) -> dict:
    """The resolved query, echoed in results so a relative range is reproducible."""
    return {"from": iso(p.start_ms), "to": iso(p.end_ms), "interval": p.interval, "grid_precision": p.grid_precision}


def as_json(query: Query) -> dict:
    return msgspec.to_builtins(query)


# --- Raw counts, from any engine or several, ranked once -----------------------


class Totals:
    """Raw counts gathered from any mix of rollups and scans, before ranking."""

    def __init__(self) -> None:
        self.total = 0
        self.histogram: Counter = Counter()
        self.drones: Counter = Counter()
        self.citizens: Counter = Counter()  # by citizen key
        self.citizen_names: Counter = Counter()  # by (key, name): the name to show for a key
        self.words: Counter = Counter()
        self.grid: Counter = Counter()
        self.score_bins: dict[int, tuple[int, float]] = {}
        self.score_n = 0
        self.score_sum = 0.0
        self.score_lo: float | None = None
        self.score_hi: float | None = None

    def add_citizen(self, key: str, name: str, n: int) -> None:
        self.add_citizens(((key, name, n),))

    def add_citizens(self, rows: Iterable[tuple[str, str, int]]) -> None:
        """``add_citizen`` for each (key, name, n) row, inlined: a store may hand over a row per person."""
        citizens, names = self.citizens, self.citizen_names
        for key, name, n in rows:
            citizens[key] = citizens.get(key, 0) + n
            names[(key, name)] = names.get((key, name), 0) + n

    def add_score(self, bin_: int, n: int, total: float, lo: float, hi: float) -> None:
        old_n, old_sum = self.score_bins.get(bin_, (0, 0.0))
        self.score_bins[bin_] = (old_n + n, old_sum + total)
        self.score_n += n
        self.score_sum += total
        self.score_lo = lo if self.score_lo is None else min(self.score_lo, lo)
        self.score_hi = hi if self.score_hi is None else max(self.score_hi, hi)


def aggregations(p: Plan, t: Totals) -> dict:
    out: dict = {}
    if "histogram" in p.aggs:
        out["histogram"] = {"interval": p.interval, "buckets": histogram_buckets(t.histogram, p)}
    if "top_citizens" in p.aggs:
        top = top_buckets(t.citizens, p.top)
        out["top_citizens"] = named(top, display_names(t.citizen_names, keys={b["key"] for b in top}))
    if "top_drones" in p.aggs:
        out["top_drones"] = top_buckets(t.drones, p.top)
    if "top_words" in p.aggs:
        skipped = set(p.stop_words)
        out["top_words"] = top_buckets({k: n for k, n in t.words.items() if k not in skipped}, p.top)
    if "score" in p.aggs:
        out["score"] = score_stats(
            t.score_n, t.score_sum, t.score_lo, t.score_hi, percentiles_from_bins(t.score_bins, PERCENTS)
        )
    if "grid" in p.aggs:
        out["grid"] = {"precision": p.grid_precision, "cells": grid_cells(t.grid, p.grid_precision)}
    return out
