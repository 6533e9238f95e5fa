"""The embedded engine's read side: a Plan compiled to SQL, then run.

:func:`build_sql` is pure (a Plan in, named ``(sql, params)`` statements out)
so tests can read what a query becomes; :func:`run_search` executes them and
hands raw counts to the shared post-processing in analytics.query, which is
what keeps the two engines' answers identical.

A query filtered by time alone over more than a few hours reads the rollup
tables for whole 5-minute and 1-hour buckets and the raw rows only for the
partial buckets at both ends; any other filter scans the matching reports.
Citizens, whose buckets hold a row per person, come from 5-minute, hour and
6-hour buckets, each added or subtracted (:func:`citizen_pieces`): a range
that covers most of a bucket reads the bucket and takes away what lies outside.
The rollups count every report stored: a query bounded by arrival
(``arrived_before``) reads them only while nothing has arrived since its
bound, and scans otherwise.

A search reads in one transaction, one snapshot of the file: its total, its
aggregations, its hits and its ``as_of`` (just after the latest report
stored, see :func:`frontier`) all describe the same reports.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec

from analytics.query import Plan, Totals, aggregations, area_sql, as_of, encode_cursor, hit
from analytics.store.embedded import CITIZEN_LEVELS, GRID_ZOOM, ROLLUP_LEVELS, SIX_HOURS

FIVE_MIN, HOUR = ROLLUP_LEVELS
ROLLUP_MIN_SPAN_MS = 3 * HOUR
Pieces = list[tuple[int | None, int, int, int]]  # (level or None for raw sightings, start, end, sign)
# What a piece of a citizens' range costs to read, in hourly buckets. A bucket holds each person
# seen in it once: a 6-hour one is hardly larger than an hour's when most people are seen every
# hour, and 5 minutes hold a fraction of them. Raw rows are one per sighting, each reached from
# its report: an hour of them costs many hourly buckets.
_PIECE_COST = {FIVE_MIN: 0.25, HOUR: 1.0, SIX_HOURS: 1.05}
_RAW_COST_PER_HOUR = 10.0


@dataclass(frozen=True)
class Sql:
    sql: str
    params: tuple


def _fts_phrase(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def where(p: Plan, start_ms: int | None = None, end_ms: int | None = None) -> Sql:
    """The WHERE clause over ``reports r`` for the plan's filters."""
    clauses = ["r.ts >= ?", "r.ts < ?"]
    params: list = [p.start_ms if start_ms is None else start_ms, p.end_ms if end_ms is None else end_ms]
    if p.drones:
        clauses.append(f"r.drone_id IN ({','.join('?' * len(p.drones))})")
        params.extend(p.drones)
    score = []
    if p.score_min is not None:
        score.append(("score >= ?", p.score_min))
    if p.score_max is not None:
        score.append(("score <= ?", p.score_max))
    if p.citizen is not None:
        # A key's rows are one range of the clustered primary key, a name's one
        # range of its index; the score, if any, must hold for that same
        # citizen (as a nested query would).
        if p.citizen_field == "key":
            name_sql, name_params = "key = ?", [p.citizen]
        else:
            # A folded name (analytics.tokens.name_fold) stands for every spelling held under it.
            names = _folded_names(p.citizen, p.citizen_prefix)
            name_sql, name_params = f"name IN ({names.sql})", list(names.params)
        extra = "".join(f" AND {s}" for s, _ in score)
        clauses.append(f"r.id IN (SELECT report FROM citizens WHERE {name_sql} AND ts >= ? AND ts < ?{extra})")
        params.extend([*name_params, params[0], params[1], *(v for _, v in score)])
    elif score:
        cond = " AND ".join(f"c.{s}" for s, _ in score)
        clauses.append(f"EXISTS (SELECT 1 FROM citizens c WHERE c.report = r.id AND {cond})")
        params.extend(v for _, v in score)
    if p.words_any or p.words_all:
        parts = []
        if p.words_any:
            parts.append("(" + " OR ".join(_fts_phrase(t) for t in p.words_any) + ")")
        parts.extend(_fts_phrase(t) for t in p.words_all)
        clauses.append("r.id IN (SELECT rowid FROM words WHERE words MATCH ?)")
        params.append(" AND ".join(parts))
    area, area_params = area_sql(p, "r.lat", "r.lon")
    clauses += area
    params += area_params
    if p.below is not None:
        clauses.append("r.min_score < ?")
        params.append(p.below)
    if p.clock_skew is not None:
        clauses.append("r.clock_skew = ?")
        params.append(int(p.clock_skew))
    if p.arrived_before_ms is not None:
        clauses.append("r.stored_at < ?")
        params.append(p.arrived_before_ms)
    return Sql(" AND ".join(clauses), tuple(params))


def citizen_score(p: Plan, column: str = "c.score") -> Sql:
    """The plan's peacescore range over one citizen's ``column``, for the citizen aggregations
    (true when there is none)."""
    clauses, params = ["1"], []
    if p.score_min is not None:
        clauses.append(f"{column} >= ?")
        params.append(p.score_min)
    if p.score_max is not None:
        clauses.append(f"{column} <= ?")
        params.append(p.score_max)
    return Sql(" AND ".join(clauses), tuple(params))


def _folded_names(fold: str, prefix: bool) -> Sql:
    """The names held whose folded form is ``fold`` (or starts with it): a range of the name dictionary."""
    if prefix:
        return Sql("SELECT name FROM citizen_names WHERE fold >= ? AND fold < ?", (fold, fold + "\U0010ffff"))
    return Sql("SELECT name FROM citizen_names WHERE fold = ?", (fold,))


def build_suggest_sql(prefix: str, *, since_ms: int, limit: int) -> Sql:
    """Names starting with a folded ``prefix`` and their sightings since ``since_ms``, most first.

    Every name under the prefix is counted (each a range of ``citizens_name``): exact, as
    OpenSearch's nested terms count is, at the cost of reading those names' sightings. Counting
    only the alphabetically first names answered "Jeanne" for "j" where "Jonas" was seen twice
    as often (the parity test on real OpenSearch caught it).
    """
    names = _folded_names(prefix, True)
    return Sql(
        f"SELECT c.name, count(*) FROM ({names.sql}) d "
        "CROSS JOIN citizens c ON c.name = d.name AND c.ts >= ? GROUP BY c.name ORDER BY 2 DESC, 1 LIMIT ?",
        (*names.params, since_ms, limit),
    )


def _cursor(p: Plan, ts: str, report_id: str, drone_id: str) -> tuple[str, tuple]:
    """After the cursor in (time, report id, drone id) order, spelled out so the time index bounds it."""
    if p.after is None:
        return "", ()
    op = "<" if p.newest_first else ">"
    after_ts, after_id, after_drone = p.after
    sql = f" AND ({ts} {op} ? OR ({ts} = ? AND ({report_id} {op} ? OR ({report_id} = ? AND {drone_id} {op} ?))))"
    return sql, (after_ts, after_ts, after_id, after_id, after_drone)


def build_hits_sql(p: Plan) -> Sql:
    """One page of hits straight from the reports, in time order (the index stops at the page's end)."""
    start, end = p.start_ms, p.end_ms
    if p.after is not None:
        # The time range itself starts (or ends) at the cursor: SQLite's index range
        # uses one bound per side, so a second one would leave each page scanning
        # from the range's start, and deep pages (exports) would cost ever more.
        if p.newest_first:
            end = min(end, p.after[0] + 1)
        else:
            start = max(start, p.after[0])
    w = where(p, start, end)
    order = "DESC" if p.newest_first else "ASC"
    cursor_sql, cursor_params = _cursor(p, "r.ts", "r.report_id", "r.drone_id")
    return Sql(
        "SELECT r.report_id, r.ts, r.time_source, r.clock_skew, r.raw, r.drone_id FROM reports r "
        f"WHERE {w.sql}{cursor_sql} ORDER BY r.ts {order}, r.report_id {order}, r.drone_id {order} LIMIT ?",
        (*w.params, *cursor_params, p.size + 1),
    )


def build_count_sql(p: Plan) -> Sql:
    w = where(p)
    return Sql(f"SELECT count(*) FROM reports r WHERE {w.sql}", w.params)


def build_sql(p: Plan) -> dict[str, Sql]:
    """The statements of a scan, in order: the filter runs once, into the temporary
    table ``matched``; the total, every aggregation and the page of hits read that.
    CROSS JOIN fixes the join order (SQLite's rule): from the matched ids out, never
    a walk over every citizen row looking each up."""
    w = where(p)
    out: dict[str, Sql] = {
        "clear": Sql("DELETE FROM temp.matched", ()),
        "match": Sql(
            f"INSERT INTO temp.matched SELECT r.id, r.ts, r.drone_id, r.x16, r.y16 FROM reports r WHERE {w.sql}",
            w.params,
        ),
        "total": Sql("SELECT count(*) FROM temp.matched", ()),
    }
    if "histogram" in p.aggs:
        out["histogram"] = Sql(
            "SELECT ts / ? * ?, count(*) FROM temp.matched GROUP BY 1", (p.interval_ms, p.interval_ms)
        )
    if "top_drones" in p.aggs:
        out["top_drones"] = Sql("SELECT drone_id, count(*) FROM temp.matched GROUP BY 1", ())
    # A peacescore range counts the citizens in it, not everyone in the reports it kept.
    scored = citizen_score(p)
    if "top_citizens" in p.aggs:
        out["top_citizens"] = Sql(
            "SELECT c.key, c.name, count(*) FROM temp.matched m CROSS JOIN citizens c ON c.report = m.id "
            f"WHERE {scored.sql} GROUP BY 1, 2",
            scored.params,
        )
    if "top_words" in p.aggs:
        out["top_words"] = Sql("SELECT r.tokens FROM temp.matched m CROSS JOIN reports r ON r.id = m.id", ())
    if "score" in p.aggs:
        out["score"] = Sql(
            "SELECT min(CAST(c.score * 10 AS INTEGER), 999), count(*), sum(c.score), min(c.score), max(c.score) "
            f"FROM temp.matched m CROSS JOIN citizens c ON c.report = m.id WHERE {scored.sql} GROUP BY 1",
            scored.params,
        )
    if "grid" in p.aggs:
        shift = GRID_ZOOM - p.grid_precision
        out["grid"] = Sql(f"SELECT x16 >> {shift}, y16 >> {shift}, count(*) FROM temp.matched GROUP BY 1, 2", ())
    if p.size:
        order = "DESC" if p.newest_first else "ASC"
        cursor_sql, cursor_params = _cursor(p, "m.ts", "r.report_id", "m.drone_id")
        out["hits"] = Sql(
            "SELECT r.report_id, r.ts, r.time_source, r.clock_skew, r.raw, m.drone_id "
            "FROM temp.matched m CROSS JOIN reports r ON r.id = m.id "
            f"WHERE 1{cursor_sql} ORDER BY m.ts {order}, r.report_id {order}, m.drone_id {order} LIMIT ?",
            (*cursor_params, p.size + 1),
        )
    return out


MATCHED_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS matched "
    "(id INTEGER PRIMARY KEY, ts INTEGER, drone_id TEXT, x16 INTEGER, y16 INTEGER)"
)


def segments(start_ms: int, end_ms: int) -> list[tuple[int | None, int, int]]:
    """[start, end) cut into raw ends, 5-minute and hour stretches: (level or None, from, to)."""
    a5 = -(-start_ms // FIVE_MIN) * FIVE_MIN
    b5 = end_ms // FIVE_MIN * FIVE_MIN
    if a5 >= b5:
        return [(None, start_ms, end_ms)]
    ah = -(-a5 // HOUR) * HOUR
    bh = b5 // HOUR * HOUR
    whole_hours = ah < bh
    middle = [(FIVE_MIN, a5, ah), (HOUR, ah, bh), (FIVE_MIN, bh, b5)] if whole_hours else [(FIVE_MIN, a5, b5)]
    out = [(None, start_ms, a5), *middle, (None, b5, end_ms)]
    return [(level, a, b) for level, a, b in out if a < b]


def citizen_pieces(start_ms: int, end_ms: int) -> Pieces:
    """[start, end) as citizens are read: (level or None for raw rows, from, to, +1 or -1), whose signed
    counts add up to the range's exactly, chosen to read the fewest rows (by ``_PIECE_COST``)."""
    merged: list[tuple[int | None, int, int, int]] = []
    for level, a, b, sign in sorted(_cheapest(start_ms, end_ms, len(CITIZEN_LEVELS), 1), key=_piece_order):
        if merged and merged[-1][0] == level and merged[-1][2] == a and merged[-1][3] == sign:
            merged[-1] = (level, merged[-1][1], b, sign)  # one statement for touching stretches
        else:
            merged.append((level, a, b, sign))
    return merged


def _piece_order(piece: tuple[int | None, int, int, int]) -> tuple:
    level, a, _, sign = piece
    return (level or 0, sign, a)  # pieces of one level and sign side by side, in time order


def _cheapest(a: int, b: int, depth: int, sign: int) -> list[tuple[int | None, int, int, int]]:
    """[a, b) from the levels below ``depth`` (0: raw rows only), added with ``sign``."""
    if a >= b:
        return []
    if depth == 0:
        return [(None, a, b, sign)]
    level = CITIZEN_LEVELS[depth - 1]
    low = a // level * level
    high = low + level
    if b > high:  # across a bucket's end: the partial buckets at both ends, and the whole ones between
        first, last = -(-a // level) * level, b // level * level
        whole = [(level, first, last, sign)] if first < last else []
        return _cheapest(a, first, depth, sign) + whole + _cheapest(last, b, depth, sign)
    if (a, b) == (low, high):
        return [(level, a, b, sign)]
    # Within one bucket: finer pieces, or the bucket less what lies outside [a, b).
    finer = _cheapest(a, b, depth - 1, sign)
    less = [(level, low, high, sign), *_cheapest(low, a, depth - 1, -sign), *_cheapest(b, high, depth - 1, -sign)]
    return min(finer, less, key=_cost)


def _cost(pieces: list[tuple[int | None, int, int, int]]) -> float:
    return sum(
        (b - a) / HOUR * _RAW_COST_PER_HOUR if level is None else (b - a) / level * _PIECE_COST[level]
        for level, a, b, _ in pieces
    )


def uses_rollups(p: Plan, frontier_ms: int | None = None) -> bool:
    """Whether the rollups may answer; ``frontier_ms`` is the store's (:func:`frontier`): a bound
    by arrival below it leaves out reports the rollups count."""
    unbounded = p.arrived_before_ms is None or frontier_ms is None or frontier_ms <= p.arrived_before_ms
    return (
        p.only_time_filter
        and unbounded
        and p.end_ms - p.start_ms >= ROLLUP_MIN_SPAN_MS
        and p.interval_ms % FIVE_MIN == 0
    )


# The latest report's arrival: stored_at rises with the row id (analytics.store.embedded), so the last row
# has the latest, read from the end of the primary key.
FRONTIER = Sql("SELECT stored_at + 1 FROM reports ORDER BY id DESC LIMIT 1", ())


def frontier(db: sqlite3.Connection) -> int | None:
    """Just after the latest arrival (epoch ms): every stored report arrived before it, any later one at or
    after it. None when nothing is stored."""
    row = db.execute(FRONTIER.sql, FRONTIER.params).fetchone()
    return row[0] if row else None


def _scan(db: sqlite3.Connection, p: Plan, totals: Totals, statements: dict[str, Sql]) -> None:
    """Run a scan's statements; the temporary table is this connection's own."""
    db.execute(MATCHED_TABLE)
    for name in ("clear", "match"):
        db.execute(statements[name].sql, statements[name].params)
    totals.total += db.execute(statements["total"].sql, statements["total"].params).fetchone()[0]
    for name, counter in (("histogram", totals.histogram), ("top_drones", totals.drones)):
        if name in statements:
            for key, n in db.execute(statements[name].sql, statements[name].params):
                counter[key] += n
    if "top_citizens" in statements:
        totals.add_citizens(db.execute(statements["top_citizens"].sql, statements["top_citizens"].params))
    if "top_words" in statements:
        words = totals.words
        for (tokens,) in db.execute(statements["top_words"].sql, statements["top_words"].params):
            words.update(tokens.split())
    if "score" in statements:
        for row in db.execute(statements["score"].sql, statements["score"].params):
            totals.add_score(*row)
    if "grid" in statements:
        for x, y, n in db.execute(statements["grid"].sql, statements["grid"].params):
            totals.grid[(x, y)] += n


def _read_rollups(db: sqlite3.Connection, p: Plan, level: int, a: int, b: int, totals: Totals) -> None:
    span = (level, a, b)
    cond = "level = ? AND bucket >= ? AND bucket < ?"
    # Counts (total, histogram) in buckets no wider than the histogram's interval;
    # everything else from the widest level available, the fewest rows.
    count_level = FIVE_MIN if "histogram" in p.aggs and p.interval_ms < level else level
    for bucket, n in db.execute(f"SELECT bucket, n FROM roll_count WHERE {cond}", (count_level, a, b)):
        totals.total += n
        if "histogram" in p.aggs:
            totals.histogram[bucket // p.interval_ms * p.interval_ms] += n
    for agg, table, counter in (("top_words", "roll_word", totals.words), ("top_drones", "roll_drone", totals.drones)):
        if agg in p.aggs:
            for key, n in db.execute(f"SELECT key, sum(n) FROM {table} WHERE {cond} GROUP BY key", span):
                counter[key] += n
    if "grid" in p.aggs:
        shift = GRID_ZOOM - p.grid_precision
        sql = f"SELECT x >> {shift}, y >> {shift}, sum(n) FROM roll_tile WHERE {cond} GROUP BY 1, 2"
        for x, y, n in db.execute(sql, span):
            totals.grid[(x, y)] += n
    if "score" in p.aggs:
        sql = f"SELECT bin, sum(n), sum(total), min(lo), max(hi) FROM roll_score WHERE {cond} GROUP BY bin"
        for row in db.execute(sql, span):
            totals.add_score(*row)


def _citizen_rows(pieces: Pieces, keys: Sequence[str] = (), *, names: bool = True) -> tuple[str, list]:
    """Every piece's (key, name, n) rows (:func:`citizen_pieces`) with its sign, as one UNION ALL; only
    ``keys`` when given, (key, n) without ``names``. Raw sightings come from the reports' time index out,
    as a scan reads them."""
    only = f" AND {{}} IN ({', '.join('?' * len(keys))})" if keys else ""
    name, c_name = (", name", ", c.name AS name") if names else ("", "")
    parts, params = [], []
    for level, a, b, sign in pieces:
        if level is None:
            parts.append(
                f"SELECT c.key AS key{c_name}, ? AS n FROM reports r CROSS JOIN citizens c ON c.report = r.id "
                "WHERE r.ts >= ? AND r.ts < ?" + only.format("c.key")
            )
            params += [sign, a, b, *keys]
        else:
            parts.append(
                f"SELECT key{name}, ? * n AS n FROM roll_citizen WHERE level = ? AND bucket >= ? AND bucket < ?"
                + only.format("key")
            )
            params += [sign, level, a, b, *keys]
    return " UNION ALL ".join(parts), params


def build_top_citizens_sql(pieces: Pieces, top: int) -> Sql:
    """The ``top`` people over a range's :func:`citizen_pieces`, ranked in SQLite as :func:`top_buckets`
    ranks (most seen, then key; UTF-8 bytes order as code points do): a day holds 100,000 people or more,
    and only the listed ones need to reach Python. A key seen only outside the range is added and taken
    away again: the sum keeps those above 0."""
    union, params = _citizen_rows(pieces, names=False)
    return Sql(
        f"SELECT key, sum(n) FROM ({union}) GROUP BY key HAVING sum(n) > 0 ORDER BY 2 DESC, key LIMIT ?",
        (*params, top),
    )


def build_citizen_names_sql(pieces: Pieces, keys: Sequence[str]) -> Sql:
    """The listed people's counts by name over the same pieces: what :func:`display_names` chooses from."""
    union, params = _citizen_rows(pieces, keys)
    return Sql(f"SELECT key, name, sum(n) FROM ({union}) GROUP BY 1, 2 HAVING sum(n) > 0", tuple(params))


def run_search(db: sqlite3.Connection, p: Plan) -> dict:
    if db.in_transaction:  # the caller's snapshot, then
        return _search(db, p)
    db.execute("BEGIN")  # one snapshot: a batch stored meanwhile is in none of the answer or all of it
    try:
        return _search(db, p)
    finally:
        db.execute("COMMIT")


def _search(db: sqlite3.Connection, p: Plan) -> dict:
    totals = Totals()
    latest = frontier(db)
    scan: dict[str, Sql] | None = None
    hits_sql = build_hits_sql(p) if p.size else None  # straight from the time index, unless a scan has the ids
    if not p.aggs and not p.count_total:
        pass  # an export's pages: only the hits, the index walks from the cursor to the page's end
    elif uses_rollups(p, latest):
        rest = msgspec.structs.replace(p, aggs=[agg for agg in p.aggs if agg != "top_citizens"])
        for level, a, b in segments(p.start_ms, p.end_ms):
            if level is None:
                edge = msgspec.structs.replace(rest, start_ms=a, end_ms=b, size=0, after=None)
                _scan(db, edge, totals, build_sql(edge))
            else:
                _read_rollups(db, rest, level, a, b, totals)
        if "top_citizens" in p.aggs:
            pieces = citizen_pieces(p.start_ms, p.end_ms)  # chosen once for both statements
            top = build_top_citizens_sql(pieces, p.top)
            if keys := [key for key, _ in db.execute(top.sql, top.params)]:
                names = build_citizen_names_sql(pieces, keys)
                totals.add_citizens(db.execute(names.sql, names.params))
    elif not p.aggs:
        # Paging: one count over the filter.
        count = build_count_sql(p)
        totals.total = db.execute(count.sql, count.params).fetchone()[0]
    else:
        scan = build_sql(p)
        _scan(db, p, totals, scan)
        hits_sql = scan.get("hits")

    rows = db.execute(hits_sql.sql, hits_sql.params).fetchall() if hits_sql else []
    if scan is not None:
        db.execute(scan["clear"].sql)  # free the ids now, not at the next search
    hits, next_cursor = [], None
    for report_id, ts, time_source, clock_skew, raw, _ in rows[: p.size]:
        hits.append(
            hit(
                json.loads(raw),
                report_id=report_id,
                ts_ms=ts,
                time_source=time_source,
                clock_skew=bool(clock_skew),
                threshold=p.threshold,
            )
        )
    if len(rows) > p.size:
        report_id, ts, *_, drone_id = rows[p.size - 1]
        next_cursor = encode_cursor(ts, report_id, drone_id)
    total = totals.total if p.count_total else None
    return {
        "total": total,
        "hits": hits,
        "next": next_cursor,
        "aggregations": aggregations(p, totals),
        "as_of": as_of(p, latest),
    }
