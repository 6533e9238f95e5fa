"""The archive as a search engine: a Plan compiled to DuckDB SQL over the Parquet files.

The third compiler of :class:`analytics.query.Plan`, beside SQLite's and
OpenSearch's, answering in the same shape through the same post-processing
(:class:`analytics.query.Totals`), so that a question about last year reads
like a question about last hour. :func:`build_sql` is pure (a Plan in, named
statements out); :class:`ArchiveSearch` runs them.

The archive keeps every record the topic held, so it sees what the index
engines never store: a report sent twice (a producer's retry) and a later
report under a key already taken. :func:`build_sql` keeps, per (drone_id,
report_id), the copy that arrived first, which is the one the indexer stored.
It also holds what the indexer keeps per report only once: a citizen seen
twice in one report counts as the first sighting (``analytics.query``'s
``distinct_citizens``), and words are compared and counted as their tokens
(``analytics.tokens.word_token``, run by DuckDB as a vectorised Python
function so that the two definitions cannot drift).

Files are partitioned by arrival, queries filter on observed time: a report
observed at ``t`` arrived between a day before (a clock a little ahead) and
``replay.LATE_ARRIVAL_DAYS`` after, so only those dates' files are read.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings

from analytics.archive import layout
from analytics.archive.replay import LATE_ARRIVAL_DAYS
from analytics.archive.storage import ArchiveStorage, get_archive
from analytics.query import (
    MAX_GRID_PRECISION,
    MAX_LAT,
    Plan,
    QueryError,
    Totals,
    aggregations,
    area_sql,
    as_of,
    encode_cursor,
    hit,
)
from analytics.tokens import name_fold, word_token


@dataclass(frozen=True)
class Sql:
    sql: str
    params: tuple


# A sighting's key (analytics.query.citizen_key): the subject id when given, else the name.
def _key(c: str) -> str:
    return f"coalesce(nullif({c}.id, ''), {c}.name)"


# The report's citizens, one per key, the first sighting of each (analytics.query.distinct_citizens).
PEOPLE = (
    "list_filter(citizens, lambda c, i: NOT list_contains("
    f"list_transform(citizens[1:i - 1], lambda d: {_key('d')}), {_key('c')}))"
)
# Map tiles at zoom 16 as analytics.query.tile_xy computes them; coarser zooms by shift.
_TILES = 1 << MAX_GRID_PRECISION
_LAT = f"radians(greatest(-{MAX_LAT}, least({MAX_LAT}, lat)))"
X16 = f"least({_TILES - 1}, greatest(0, floor((lon + 180.0) / 360.0 * {_TILES})::BIGINT))"
Y16 = f"least({_TILES - 1}, greatest(0, floor((1 - ln(tan({_LAT}) + 1 / cos({_LAT})) / pi()) / 2 * {_TILES})::BIGINT))"


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def arrival_dates(start_ms: int, end_ms: int) -> tuple[str, str]:
    """The archive's date directories that can hold reports observed in [start_ms, end_ms)."""
    first = _at(start_ms) - timedelta(days=1)
    last = _at(end_ms - 1) + timedelta(days=LATE_ARRIVAL_DAYS)
    return f"{first:%Y-%m-%d}", f"{last:%Y-%m-%d}"


def _cursor(p: Plan) -> tuple[str, tuple]:
    if p.after is None:
        return "", ()
    op = "<" if p.newest_first else ">"
    ts, report_id, drone_id = p.after
    sql = f" AND (ts {op} ? OR (ts = ? AND (report_id {op} ? OR (report_id = ? AND drone_id {op} ?))))"
    return sql, (ts, ts, report_id, report_id, drone_id)


# The latest arrival among the files read (epoch ms).
FRONTIER = Sql("SELECT epoch_ms(max(received_at)) FROM reports", ())

# Where a row is: enough to fetch its original bytes for the page alone (directories pruned by the first two).
LOCATION = ("date", "hour", "kafka_partition", "kafka_offset")
HIT_COLUMNS = ("ts", "report_id", "drone_id", "time_source", "clock_skew", *LOCATION)


def uses_people(p: Plan) -> bool:
    filtered = p.citizen is not None or p.score_min is not None or p.score_max is not None or p.below is not None
    return filtered or "top_citizens" in p.aggs or "score" in p.aggs


def uses_tokens(p: Plan) -> bool:
    return bool(p.words_any or p.words_all) or "top_words" in p.aggs


def matched(p: Plan) -> Sql:
    """The reports the plan matches, one row each, as a subquery over the view ``reports``."""
    # Inside: the time range (and the drones, part of the identity) before choosing each
    # key's first copy; everything else after, on the copy the indexer stored.
    inner = ["observed_at >= ?", "observed_at < ?"]
    inner_params: list = [_at(p.start_ms), _at(p.end_ms)]
    if p.drones:
        inner.append(f"drone_id IN ({', '.join('?' * len(p.drones))})")
        inner_params.extend(p.drones)
    if p.arrived_before_ms is not None:
        # The archive's arrival is the broker's time; a copy that came after the bound is not there yet.
        inner.append("received_at < ?")
        inner_params.append(_at(p.arrived_before_ms))
    outer: list[str] = []
    params: list = []
    # A citizen's name or key and a score range hold for one and the same citizen (as a nested query would).
    conditions: list[str] = []
    if p.citizen is not None:
        # A name is compared folded (analytics.tokens.name_fold, run by DuckDB as a Python function).
        column = _key("c") if p.citizen_field == "key" else "name_fold(c.name)"
        # The same bounds as the embedded engine's index range for a prefix.
        conditions.append(f"{column} >= ? AND {column} < ?" if p.citizen_prefix else f"{column} = ?")
        params += [p.citizen, p.citizen + "\U0010ffff"] if p.citizen_prefix else [p.citizen]
    scored = citizen_score(p)
    if p.scores_filtered:
        conditions.append(scored.sql)
        params += scored.params
    if conditions:
        outer.append(f"len(list_filter(people, lambda c: {' AND '.join(conditions)})) > 0")
    if p.words_any:
        outer.append("list_has_any(tokens, ?::VARCHAR[])")
        params.append(list(p.words_any))
    if p.words_all:
        outer.append("list_has_all(tokens, ?::VARCHAR[])")
        params.append(list(p.words_all))
    area, area_params = area_sql(p)
    outer += area
    params += area_params
    if p.below is not None:
        outer.append("list_min(list_transform(people, lambda c: c.peacescore)) < ?")
        params.append(p.below)
    if p.clock_skew is not None:
        outer.append("clock_skew = ?")
        params.append(p.clock_skew)
    # A report's citizens and words, each a list to build per row, only when something reads them.
    derived = ""
    if uses_people(p):
        derived += f", {PEOPLE} AS people"
    if uses_tokens(p):
        derived += ", word_tokens(words) AS tokens"
    # Copies of one key (a producer's retry, a conflicting later report) are few: find the keys
    # sent more than once and the first copy of each, then keep a row unless it is a later copy.
    # Narrow work on the keys alone; the wide rows (lists of citizens and words) stream past.
    where_inner = " AND ".join(inner)
    first = "{'r': received_at, 'p': kafka_partition, 'o': kafka_offset}"
    sql = (
        f"WITH copies AS (SELECT drone_id, report_id, min({first}) AS first FROM reports WHERE {where_inner} "
        "GROUP BY ALL HAVING count(*) > 1) "
        f"SELECT * FROM (SELECT * EXCLUDE (citizens, words){derived} FROM ("
        f"SELECT epoch_ms(r.observed_at) AS ts, {', '.join('r.' + c for c in LOCATION)}, r.report_id, r.drone_id, "
        "r.time_source, r.clock_skew, r.lat, r.lon, r.citizens, r.words "
        f"FROM (SELECT * FROM reports WHERE {where_inner}) r LEFT JOIN copies c "
        "ON c.drone_id = r.drone_id AND c.report_id = r.report_id "
        f"WHERE c.first IS NULL OR c.first = {{'r': r.received_at, 'p': r.kafka_partition, 'o': r.kafka_offset}}))"
    )
    if outer:
        sql += f" WHERE {' AND '.join(outer)}"
    return Sql(sql, (*inner_params, *inner_params, *params))


def citizen_score(p: Plan) -> Sql:
    """The plan's peacescore range over one citizen ``c`` (true when there is none)."""
    clauses, params = [], []
    for condition, value in (("c.peacescore >= ?", p.score_min), ("c.peacescore <= ?", p.score_max)):
        if value is not None:
            clauses.append(condition)
            params.append(value)
    return Sql(" AND ".join(clauses) or "true", tuple(params))


def build_sql(p: Plan) -> dict[str, Sql]:
    """The statements a search runs: the matches once, into the temporary table ``matched``
    (without the original bytes), then the total and each aggregation over it, and the page of
    hits (its rows' bytes are then fetched by :func:`raw_sql`)."""
    m = matched(p)
    out: dict[str, Sql] = {}
    if p.aggs or p.count_total:
        out["match"] = Sql(f"CREATE OR REPLACE TEMP TABLE matched AS {m.sql}", m.params)
        out["total"] = Sql("SELECT count(*) FROM matched", ())
    if "histogram" in p.aggs:
        out["histogram"] = Sql("SELECT ts // ? * ?, count(*) FROM matched GROUP BY 1", (p.interval_ms, p.interval_ms))
    if "top_drones" in p.aggs:
        out["top_drones"] = Sql("SELECT drone_id, count(*) FROM matched GROUP BY 1", ())
    # A peacescore range counts the citizens in it, not everyone in the reports it kept.
    scored = citizen_score(p)
    people = f"list_filter(people, lambda c: {scored.sql})" if p.scores_filtered else "people"
    if "top_citizens" in p.aggs:
        out["top_citizens"] = Sql(
            f"SELECT {_key('c')}, c.name, count(*) FROM (SELECT unnest({people}) AS c FROM matched) GROUP BY 1, 2",
            scored.params if p.scores_filtered else (),
        )
    if "top_words" in p.aggs:
        out["top_words"] = Sql(
            "SELECT t, count(*) FROM (SELECT unnest(list_distinct(tokens)) AS t FROM matched) GROUP BY 1", ()
        )
    if "score" in p.aggs:
        # Tenth-of-a-point bins, as analytics.query.score_bin cuts them.
        out["score"] = Sql(
            "SELECT least(floor(s * 10)::INTEGER, 999), count(*), sum(s), min(s), max(s) FROM "
            f"(SELECT unnest(list_transform({people}, lambda c: c.peacescore)) AS s FROM matched) GROUP BY 1",
            scored.params if p.scores_filtered else (),
        )
    if "grid" in p.aggs:
        shift = MAX_GRID_PRECISION - p.grid_precision
        out["grid"] = Sql(f"SELECT {X16} >> {shift}, {Y16} >> {shift}, count(*) FROM matched GROUP BY 1, 2", ())
    if p.size:
        order = "DESC" if p.newest_first else "ASC"
        cursor_sql, cursor_params = _cursor(p)
        source, params = ("matched", ()) if "match" in out else (f"({m.sql})", m.params)
        out["hits"] = Sql(
            f"SELECT {', '.join(HIT_COLUMNS)} FROM {source} WHERE true{cursor_sql} "
            f"ORDER BY ts {order}, report_id {order}, drone_id {order} LIMIT ?",
            (*params, *cursor_params, p.size + 1),
        )
    return out


def raw_sql(rows: list[tuple]) -> Sql:
    """The original bytes of a page's rows (``HIT_COLUMNS``), read from their directories alone."""
    places: dict[tuple[str, int, int], list[int]] = {}
    for *_, date, hour, partition, offset in rows:
        places.setdefault((date, hour, partition), []).append(offset)
    clauses, params = [], []
    for (date, hour, partition), offsets in sorted(places.items()):
        clauses.append(
            f"(date = ? AND hour = ? AND kafka_partition = ? AND kafka_offset IN ({', '.join('?' * len(offsets))}))"
        )
        params += [date, hour, partition, *offsets]
    where = " OR ".join(clauses) or "false"
    return Sql(f"SELECT kafka_partition, kafka_offset, raw FROM reports WHERE {where}", tuple(params))


def _word_tokens(words: pa.ListArray | pa.ChunkedArray) -> pa.ListArray:
    """Each report's words as tokens, every distinct word of the batch tokenised once."""
    if isinstance(words, pa.ChunkedArray):
        words = words.combine_chunks()
    encoded = pc.dictionary_encode(words.flatten())  # flatten honours a slice's offsets
    tokens = pa.array([word_token(w) for w in encoded.dictionary.to_pylist()], pa.string()).take(encoded.indices)
    offsets = pc.subtract(words.offsets, words.offsets[0])
    return pa.ListArray.from_arrays(offsets, tokens, mask=words.is_null())


def _name_folds(names: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Names folded as the other engines fold them, each distinct name of the batch once."""
    if isinstance(names, pa.ChunkedArray):
        names = names.combine_chunks()
    encoded = pc.dictionary_encode(names)
    folded = pa.array([name_fold(n) for n in encoded.dictionary.to_pylist()], pa.string())
    return folded.take(encoded.indices)


def connect(
    archive: ArchiveStorage, dates: tuple[str, str], *, scratch: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB over the reports of those arrival dates, locked against file access.

    ``scratch``: where it may spill beyond ``ARCHIVE_SEARCH_MEMORY_MB`` (else it fails there)."""
    connection = duckdb.connect(":memory:")
    connection.execute(f"SET memory_limit = '{int(settings.ARCHIVE_SEARCH_MEMORY_MB)}MB'")
    if scratch is not None:
        connection.execute("SET temp_directory = ?", [scratch])
    connection.register(layout.REPORTS, archive.dataset(layout.REPORTS, dates))
    strings = duckdb.list_type(duckdb.sqltype("VARCHAR"))
    connection.create_function("word_tokens", _word_tokens, [strings], strings, type="arrow")
    text = duckdb.sqltype("VARCHAR")
    connection.create_function("name_fold", _name_folds, [text], text, type="arrow")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


class Deadline:
    """Time allowed to one connection's statements: none starts after it, and one running then is interrupted.

    The watchdog interrupts again and again past the deadline, since an interrupt
    that arrives between two statements is lost."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self.connection = connection
        self.ends = time.monotonic() + seconds
        self.done = threading.Event()
        self.watchdog = threading.Thread(target=self._watch, name="archive-search-deadline", daemon=True)
        self.watchdog.start()

    def _watch(self) -> None:
        if self.done.wait(max(0.0, self.ends - time.monotonic())):
            return
        while not self.done.is_set():
            self.connection.interrupt()
            self.done.wait(0.05)

    def execute(self, sql: str, params: tuple) -> duckdb.DuckDBPyConnection:
        if time.monotonic() >= self.ends:
            raise duckdb.InterruptException("the search's time is up")
        return self.connection.execute(sql, params)

    def stop(self) -> None:
        self.done.set()
        self.watchdog.join()


class ArchiveSearch:
    """Searches over the archive, in the shape of the other engines (``analytics.search``)."""

    name = "archive"

    def __init__(self, archive: ArchiveStorage | None = None) -> None:
        self.archive = archive or get_archive()

    def search(self, p: Plan) -> dict:
        return result(p, *self.run(p))

    def run(self, p: Plan) -> tuple[Totals, list[tuple], int | None]:
        """Raw counts, the page's rows (``size + 1`` at most: ts, report_id, drone_id, time_source,
        clock_skew, raw) and, for a plan not bounded by arrival, just after the latest arrival among the
        files read (epoch ms; None when there are none). A question over more than the time or memory
        allowed is a QueryError on ``time``: the web process stays responsive, and the analyst learns
        what to narrow."""
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="archive-search-", dir=settings.VAR_DIR) as scratch:
            connection = connect(self.archive, arrival_dates(p.start_ms, p.end_ms), scratch=scratch)
            deadline = Deadline(connection, settings.ARCHIVE_SEARCH_TIMEOUT_S)
            try:
                return self._run(deadline.execute, p)
            except duckdb.InterruptException:
                raise QueryError(
                    "time",
                    f"the archive could not answer within {settings.ARCHIVE_SEARCH_TIMEOUT_S:g} s: narrow the time "
                    "range or add filters (an analyst with shell access can ask `archive sql`)",
                ) from None
            except duckdb.OutOfMemoryException:
                raise QueryError(
                    "time",
                    "the archive needs more memory than a search may take for this question: narrow the time "
                    "range or add filters",
                ) from None
            finally:
                deadline.stop()
                connection.close()

    def _run(self, execute, p: Plan) -> tuple[Totals, list[tuple], int | None]:
        totals = Totals()
        frontier_ms = None
        statements = build_sql(p)

        def fetch(name: str) -> list[tuple]:
            return execute(statements[name].sql, statements[name].params).fetchall()

        if p.arrived_before_ms is None:
            # Just after the latest arrival among the files read: a bound that leaves none of them out.
            latest = execute(FRONTIER.sql, FRONTIER.params).fetchone()[0]
            frontier_ms = latest + 1 if latest is not None else None
        if "match" in statements:
            execute(statements["match"].sql, statements["match"].params)
            totals.total = fetch("total")[0][0]
        for name, counter in (("histogram", totals.histogram), ("top_drones", totals.drones)):
            if name in statements:
                counter.update(dict(fetch(name)))
        if "top_words" in statements:
            totals.words.update(dict(fetch("top_words")))
        if "top_citizens" in statements:
            totals.add_citizens(fetch("top_citizens"))
        if "score" in statements:
            for row in fetch("score"):
                totals.add_score(*row)
        if "grid" in statements:
            totals.grid.update({(x, y): n for x, y, n in fetch("grid")})
        rows = fetch("hits") if "hits" in statements else []
        if rows:
            raw = raw_sql(rows)
            found = {(partition, offset): value for partition, offset, value in execute(raw.sql, raw.params).fetchall()}
            rows = [(*row[:5], found[(row[-2], row[-1])]) for row in rows]
        return totals, rows, frontier_ms

    def close(self) -> None:
        pass


def result(p: Plan, totals: Totals, rows: list[tuple], frontier_ms: int | None = None) -> dict:
    """The search answer from raw counts and the page's rows (as :meth:`ArchiveSearch.run` gives them)."""
    hits = [
        hit(
            json.loads(raw),
            report_id=report_id,
            ts_ms=ts,
            time_source=time_source,
            clock_skew=bool(clock_skew),
            threshold=p.threshold,
        )
        for ts, report_id, _, time_source, clock_skew, raw in rows[: p.size]
    ]
    next_cursor = None
    if len(rows) > p.size:
        ts, report_id, drone_id, *_ = rows[p.size - 1]
        next_cursor = encode_cursor(ts, report_id, drone_id)
    return {
        "total": totals.total if p.count_total else None,
        "hits": hits,
        "next": next_cursor,
        "aggregations": aggregations(p, totals),
        "as_of": as_of(p, frontier_ms),
    }
