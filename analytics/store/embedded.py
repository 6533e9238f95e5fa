"""The embedded analytics store: one SQLite file, safe across processes.

Reports are kept whole (the original JSON, unknown fields included) with the
columns queries filter on, one row per citizen sighting (clustered by name, so
"where was this citizen seen" is one range scan) and a full-text index of the
words heard.
WAL mode lets the web server read while the indexer writes; writers take the
lock at BEGIN IMMEDIATE and wait on busy_timeout rather than fail.

Idempotency: (``report_id``, ``drone_id``) is unique (CONTRACT v1.1). A batch
first looks up the keys already stored, inside the write transaction, so
replays and concurrent indexers store each report once; a key stored with
other bytes than the incoming report's is a conflict, refused, never an
overwrite. Citizens are keyed by their id when the report gave one, else by
name (:func:`analytics.query.citizen_key`).

Time (CONTRACT v1.1): ``ts`` is the report's observed time, ``time_source``
where it came from, and ``clock_skew`` says the drone's ``sent_at`` ran too far
ahead, so ``ts`` is the broker time (``raw`` keeps the drone's claim).
``dropped`` names the telemetry fields ingest left out as invalid.

A file from schema version 2 (report ids unique alone, citizens by name) or 3
(no 6-hour citizens rollup) is migrated when opened: see
:func:`migrate_v2` and :data:`MIGRATE_V3`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from analytics.query import Plan, tile_xy
from analytics.store.base import CONFLICT, AmbiguousReportId, IndexResult, Refused, conflict_detail, received_again
from analytics.tokens import name_fold, word_token
from ingest.reports import Received, decode_report
from peacewatch.logs import log

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 4
SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY,
    report_id TEXT NOT NULL,
    ts INTEGER NOT NULL,            -- observed_at, epoch milliseconds UTC
    drone_id TEXT NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    x16 INTEGER NOT NULL,           -- map tile at zoom 16 (heat-map grid, coarser zooms by shift)
    y16 INTEGER NOT NULL,
    min_score REAL,                 -- lowest peacescore in the report, NULL if nobody seen
    n_citizens INTEGER NOT NULL,
    tokens TEXT NOT NULL,           -- distinct word tokens, space separated (top-words of a filtered set)
    time_source TEXT NOT NULL,      -- 'drone' (sent_at) or 'broker' (record timestamp)
    clock_skew INTEGER NOT NULL,    -- 1: sent_at ran ahead of the broker time, ts is the broker time
    dropped TEXT NOT NULL,          -- telemetry fields dropped as invalid, space separated ('' for none)
    stored_at INTEGER NOT NULL,     -- arrival: when this store wrote it, rising with id
    raw TEXT NOT NULL,              -- the report exactly as received
    -- The identity (CONTRACT v1.1); report id first, so a lookup by report id alone uses it too.
    UNIQUE (report_id, drone_id)
);
CREATE INDEX IF NOT EXISTS reports_ts ON reports (ts);
CREATE INDEX IF NOT EXISTS reports_drone_ts ON reports (drone_id, ts);
-- Clustered by (key, ts): a citizen's timeline is one contiguous range. The
-- key is the citizen's id when the report gave one, else the name; a key twice
-- in one report is one sighting, the first one.
CREATE TABLE IF NOT EXISTS citizens (
    key TEXT NOT NULL,
    ts INTEGER NOT NULL,
    report INTEGER NOT NULL,
    name TEXT NOT NULL,
    score REAL NOT NULL,
    PRIMARY KEY (key, ts, report)
) WITHOUT ROWID;
-- Aggregations over a filtered set of reports start from report ids (the key
-- comes with the primary key, so top lists and scores read this index alone).
CREATE INDEX IF NOT EXISTS citizens_report ON citizens (report, score, name);
-- Filters by name (every sighting under a name, whoever it was): a range per name.
CREATE INDEX IF NOT EXISTS citizens_name ON citizens (name, ts, score);
-- Every name held, under its folded form (analytics.tokens.name_fold): a name
-- search without regard to case or accents, and suggestions as an analyst
-- types, look up the names here and then read their ranges of citizens_name.
CREATE TABLE IF NOT EXISTS citizen_names (
    fold TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (fold, name)
) WITHOUT ROWID;
-- Which reports heard which words: a contentless full-text index (rowid =
-- reports.id) is ~20x cheaper to write than one row per word and answers
-- "any of" / "all of" directly. Each word is one token (see word_token).
CREATE VIRTUAL TABLE IF NOT EXISTS words USING fts5(
    w, content='', detail=none, tokenize="unicode61 remove_diacritics 0 tokenchars '_'"
);
-- Rollups: counts per 5-minute and per 1-hour bucket (level = bucket length
-- in ms), kept in the same transaction as the reports, so a dashboard over a
-- day reads a few thousand rows instead of millions. Only queries filtered by
-- time alone use them; raw rows fill the partial buckets at both ends.
-- Citizens are rolled up per 6 hours too (CITIZEN_LEVELS): a bucket holds one
-- row per person seen in it, so an hour of a city holds nearly everyone and a
-- day of hours many times the people.
CREATE TABLE IF NOT EXISTS roll_count (
    level INTEGER NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (level, bucket)) WITHOUT ROWID;
-- Per citizen key and name: the counts of a key, and the name to show for it.
CREATE TABLE IF NOT EXISTS roll_citizen (
    level INTEGER NOT NULL, bucket INTEGER NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (level, bucket, key, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS roll_word (
    level INTEGER NOT NULL, bucket INTEGER NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (level, bucket, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS roll_drone (
    level INTEGER NOT NULL, bucket INTEGER NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (level, bucket, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS roll_tile (
    level INTEGER NOT NULL, bucket INTEGER NOT NULL, x INTEGER NOT NULL, y INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (level, bucket, x, y)) WITHOUT ROWID;
-- Peacescores in tenth-of-a-point bins: exact count, sum, min and max,
-- percentiles to within a tenth of a point.
CREATE TABLE IF NOT EXISTS roll_score (
    level INTEGER NOT NULL, bucket INTEGER NOT NULL, bin INTEGER NOT NULL,
    n INTEGER NOT NULL, total REAL NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL,
    PRIMARY KEY (level, bucket, bin)) WITHOUT ROWID;
"""
FIVE_MINUTES, HOUR, SIX_HOURS, DAY = 300_000, 3_600_000, 21_600_000, 86_400_000
ROLLUP_LEVELS = (FIVE_MINUTES, HOUR)
# A day's people from four 6-hour buckets rather than 24 hourly ones, each holding most of a
# city; the reader may take a bucket and subtract the part of it outside the range (counts add
# up), so partial buckets cost little too (analytics.store.embedded_search.citizen_pieces).
CITIZEN_LEVELS = (FIVE_MINUTES, HOUR, SIX_HOURS)
ALL_LEVELS = tuple(sorted({*ROLLUP_LEVELS, *CITIZEN_LEVELS}))  # each divides a day
GRID_ZOOM = 16

_CHUNK = 500  # well under SQLite's bound-parameter limit
# Past this size the writer starts the write-ahead log again (EmbeddedStore._bound_wal), waiting at most
# WAL_RESTART_WAIT_S for the readers: the indexer stands still meanwhile.
WAL_BOUND_BYTES = 512 * 2**20
WAL_RESTART_WAIT_S = 5.0
BUSY_TIMEOUT_MS = 30_000


NAME_DICTIONARY = "INSERT OR IGNORE INTO citizen_names SELECT name_fold(name), name FROM citizens GROUP BY name"
# After a day is dropped: names no sighting has any more leave the dictionary (and suggestions) too.
NAME_DICTIONARY_PRUNE = (
    "DELETE FROM citizen_names WHERE NOT EXISTS (SELECT 1 FROM citizens c WHERE c.name = citizen_names.name)"
)


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


class StoreSchemaError(RuntimeError):
    pass


def _statements(script: str) -> Iterator[str]:
    """The statements of ``script`` one by one (``executescript`` would commit an open transaction)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""


# Version 2 -> 3, in SQL over what the file holds. Citizens are read again from
# the stored reports: drones may already have sent ids, which version 2 kept in
# the raw report but ignored.
_LEVELS = f"(SELECT {FIVE_MINUTES} AS level UNION ALL SELECT {HOUR})"
MIGRATE_V2 = (
    # Out of the way, with their indexes, so the current SCHEMA creates the new layout.
    "DROP INDEX reports_ts",
    "DROP INDEX reports_drone_ts",
    "DROP INDEX citizens_report",
    "ALTER TABLE reports RENAME TO reports_v2",
    "ALTER TABLE citizens RENAME TO citizens_v2",
    "ALTER TABLE roll_citizen RENAME TO roll_citizen_v2",
    None,  # the current SCHEMA
    # Same row ids (the full-text index refers to them). Version 2 trusted every
    # sent_at, so no report was flagged clock_skew; which telemetry it dropped
    # the decoder says again from the raw report (telemetry_dropped, see migrate_v2).
    """INSERT INTO reports
       SELECT id, report_id, ts, drone_id, lat, lon, x16, y16, min_score, n_citizens, tokens, time_source,
              0, telemetry_dropped(raw), stored_at, raw
       FROM reports_v2""",
    # INSERT OR IGNORE in array order (json_each.key is the index in the array): a citizen key
    # twice in a report keeps its first sighting.
    """INSERT OR IGNORE INTO citizens (key, ts, report, name, score)
       SELECT coalesce(CASE WHEN json_type(c.value, '$.id') = 'text' THEN nullif(json_extract(c.value, '$.id'), '') END,
                       json_extract(c.value, '$.name')),
              r.ts, r.id, json_extract(c.value, '$.name'), json_extract(c.value, '$.peacescore')
       FROM reports r, json_each(r.raw, '$.citizens') c ORDER BY r.id, c.key""",
    # A name shared by two ids is two sightings now: the per-report figures follow.
    """UPDATE reports SET
         n_citizens = (SELECT count(*) FROM citizens c WHERE c.report = reports.id),
         min_score = (SELECT min(score) FROM citizens c WHERE c.report = reports.id)""",
    f"""INSERT INTO roll_citizen
        SELECT l.level, c.ts - c.ts % l.level, c.key, c.name, count(*) FROM citizens c, {_LEVELS} l
        GROUP BY 1, 2, 3, 4""",
    "DELETE FROM roll_score",
    f"""INSERT INTO roll_score
        SELECT l.level, c.ts - c.ts % l.level, min(CAST(c.score * 10 AS INTEGER), 999),
               count(*), sum(c.score), min(c.score), max(c.score)
        FROM citizens c, {_LEVELS} l GROUP BY 1, 2, 3""",
    "DROP TABLE reports_v2",
    "DROP TABLE citizens_v2",
    "DROP TABLE roll_citizen_v2",
    "PRAGMA user_version = 3",
)


def migrate_v2(db: sqlite3.Connection) -> bool:
    """Bring a version 2 file to version 3 in one transaction; False if another process did first.

    Version 2 made ``report_id`` unique alone and kept citizens by name. The
    reports table is rebuilt (SQLite cannot drop a constraint), citizens and the
    rollups built from them are recomputed, and other rollups and the full-text
    index are kept as they are. It rewrites the whole file once: minutes for
    tens of millions of reports, with the store locked for writing meanwhile
    (decoding each report again for its dropped telemetry is ~20 us of that).
    """
    db.create_function("telemetry_dropped", 1, _telemetry_dropped, deterministic=True)
    return migrate(db, 2, MIGRATE_V2)


# Version 3 -> 4: citizens per 6 hours too, summed from the hourly rows, which cover every report the file
# holds (seconds for a day of a city).
MIGRATE_V3 = (
    f"""INSERT INTO roll_citizen
        SELECT {SIX_HOURS}, bucket - bucket % {SIX_HOURS}, key, name, sum(n) FROM roll_citizen
        WHERE level = {HOUR} GROUP BY 2, 3, 4""",
    "PRAGMA user_version = 4",
)


def migrate(db: sqlite3.Connection, version: int, steps: tuple) -> bool:
    """Run ``steps`` on a file at ``version`` in one transaction; False if another process did first."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("PRAGMA user_version").fetchone()[0] != version:
            db.execute("ROLLBACK")
            return False
        for step in steps:
            for statement in _statements(SCHEMA) if step is None else (step,):
                db.execute(statement)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return True


def _telemetry_dropped(raw: str) -> str:
    """The ``dropped`` column of a stored report, from the decoder itself (one definition of the rules)."""
    decoded = decode_report(raw.encode("utf-8"))
    return " ".join(decoded.dropped) if isinstance(decoded, Received) else ""


class EmbeddedStore:
    name = "embedded"

    def __init__(
        self,
        path: Path | str,
        *,
        wal_bound_bytes: int = WAL_BOUND_BYTES,
        wal_restart_wait_s: float = WAL_RESTART_WAIT_S,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.wal_path = self.path.with_name(f"{self.path.name}-wal")
        self.db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        self.db.create_function("name_fold", 1, name_fold, deterministic=True)
        self._enter_wal()
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA cache_size=-262144")  # 256 MiB page cache
        # Checkpoint every ~40 MB of WAL rather than 4 MB: fewer, larger copies.
        self.db.execute("PRAGMA wal_autocheckpoint=10000")
        self.wal_bound_bytes = self._wal_bound = wal_bound_bytes
        self.wal_restart_wait_s = wal_restart_wait_s
        version = self._create_if_new()
        if version == 2:
            migrate_v2(self.db)
            version = 3
        if version == 3:
            migrate(self.db, 3, MIGRATE_V3)
            version = SCHEMA_VERSION
        if version != SCHEMA_VERSION:
            raise StoreSchemaError(
                f"the analytics store {self.path} has schema version {version}, this code needs "
                f"{SCHEMA_VERSION}: move the file aside and rebuild it with "
                "`python manage.py reindex --from-topic --since <time>`"
            )
        self.db.executescript(SCHEMA)  # IF NOT EXISTS throughout: a no-op on a current file
        self._fill_name_dictionary()

    def _fill_name_dictionary(self) -> None:
        """A file written before the name dictionary existed gets it filled once, from its citizens."""
        db = self.db
        if db.execute("SELECT 1 FROM citizen_names LIMIT 1").fetchone():
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            if not db.execute("SELECT 1 FROM citizen_names LIMIT 1").fetchone():  # another process may have
                db.execute(NAME_DICTIONARY)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _enter_wal(self, *, within_s: float = 30.0) -> None:
        """Switch a new file to WAL (a no-op once it is). The switch needs the file alone, and
        SQLite may refuse it at once, without waiting, while other processes open the same new
        file: it is asked again until it holds or ``within_s`` has passed."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _create_if_new(self) -> int:
        """The file's schema version, after creating the schema in it if it had none.

        One transaction, under the write lock: several processes open a new file
        at once (the indexer's processes, the web's), and one that looked between
        another's tables and its version number would take a half-made file for an
        unknown schema.
        """
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'reports'").fetchone():
                for statement in _statements(SCHEMA):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                version = SCHEMA_VERSION
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return version

    def close(self) -> None:
        self.db.close()

    def ping(self) -> None:
        self.db.execute("SELECT 1").fetchone()

    def index(self, reports: Sequence[Received]) -> IndexResult:
        if not reports:
            return IndexResult()
        db = self.db
        result = IndexResult()
        db.execute("BEGIN IMMEDIATE")
        try:
            # The raw text of every key already held, stored or earlier in this batch.
            held = self._existing([r.report_id for r in reports])
            fresh: list[Received] = []
            for position, item in enumerate(reports):
                key = (item.report_id, item.report.drone_id)
                raw = item.raw.decode("utf-8")
                stored = held.get(key)
                if stored is None:
                    held[key] = raw
                    fresh.append(item)
                elif stored != raw:
                    result.rejected.append(Refused(position, CONFLICT, conflict_detail(key[1], key[0])))
            if fresh:
                self._insert(fresh)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        result.created = len(fresh)
        self._bound_wal()
        return result

    def _bound_wal(self) -> None:
        """Start the write-ahead log again once it passes ``wal_bound_bytes`` (:data:`WAL_BOUND_BYTES`).

        SQLite's automatic checkpoint copies the log back into the file but starts the log again only at a
        moment when no reader holds an older snapshot. Pages that are read one after another (the dashboard, the
        next page, a long scan) may never leave such a moment, and the log then grows without bound, and every
        read with it. Here the writer waits (at most ``wal_restart_wait_s``) for the readers of older snapshots
        to finish, new readers reading the file meanwhile, then truncates the log. Should readers outlast the
        wait, the writer goes on and tries again a bound later.
        """
        try:
            size = self.wal_path.stat().st_size
        except OSError:
            return
        if size <= self._wal_bound:
            return
        started = time.monotonic()
        self.db.execute(f"PRAGMA busy_timeout={int(self.wal_restart_wait_s * 1000)}")
        try:
            busy, _, _ = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError:  # another process's writer held on: the batch is stored all the same
            busy = 1
        finally:
            self.db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        waited = round(time.monotonic() - started, 3)
        if busy:
            self._wal_bound = size + self.wal_bound_bytes
            log(logger, logging.WARNING, "wal_restart_blocked", wal_bytes=size, waited_s=waited)
        else:
            self._wal_bound = self.wal_bound_bytes
            log(logger, logging.INFO, "wal_restarted", wal_bytes=size, waited_s=waited)

    def _insert(self, fresh: list[Received]) -> None:
        db = self.db
        next_id = (db.execute("SELECT COALESCE(MAX(id), 0) FROM reports").fetchone()[0]) + 1
        # Arrival times rise with the row id, batch after batch, even if the clock steps back: a search
        # bounded by arrival relies on it (analytics.store.embedded_search.frontier). Writers hold the
        # lock from before this read to their commit, so a batch in progress is always after the last.
        from analytics.store.embedded_search import frontier

        now = max(_ms(datetime.now(tz=UTC)), frontier(db) or 0)
        report_rows, citizen_rows, word_rows = [], [], []
        rollup = Rollup()
        for rowid, item in enumerate(fresh, start=next_id):
            report = item.report
            ts = _ms(item.observed_at)
            lat, lon = report.location.lat, report.location.lon
            x16, y16 = tile_xy(lat, lon, GRID_ZOOM)
            people: dict[str, tuple[str, float]] = {}  # citizen key -> (name, score), the first sighting
            for c in report.citizens:
                people.setdefault(c.id or c.name, (c.name, c.peacescore))  # analytics.query.citizen_key
            scores = [score for _, score in people.values()]
            tokens = {word_token(w) for w in report.words}
            token_text = " ".join(sorted(tokens))
            report_rows.append(
                (
                    rowid,
                    item.report_id,
                    ts,
                    report.drone_id,
                    lat,
                    lon,
                    x16,
                    y16,
                    min(scores, default=None),
                    len(people),
                    token_text,
                    item.time_source,
                    item.clock_skew,
                    " ".join(item.dropped),
                    now,
                    item.raw.decode("utf-8"),
                )
            )
            citizen_rows.extend((key, ts, rowid, name, score) for key, (name, score) in people.items())
            word_rows.append((rowid, token_text))
            rollup.add(ts, report.drone_id, x16, y16, people, tokens)
        db.executemany("INSERT INTO reports VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", report_rows)
        db.executemany("INSERT INTO citizens VALUES (?,?,?,?,?)", citizen_rows)
        names = {row[3] for row in citizen_rows}
        db.executemany("INSERT OR IGNORE INTO citizen_names VALUES (?,?)", [(name_fold(n), n) for n in names])
        db.executemany("INSERT INTO words (rowid, w) VALUES (?,?)", word_rows)
        rollup.write(db)

    def _existing(self, report_ids: list[str]) -> dict[tuple[str, str], str]:
        """(report_id, drone_id) -> raw text of the stored reports with one of these ids (any drone)."""
        found: dict[tuple[str, str], str] = {}
        unique = list(dict.fromkeys(report_ids))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT report_id, drone_id, raw FROM reports WHERE report_id IN ({marks})"
            found.update(((rid, drone), raw) for rid, drone, raw in self.db.execute(sql, chunk))
        return found

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM reports").fetchone()[0]

    def count_since(self, since_ms: int | None) -> int:
        if since_ms is None:
            return self.count()
        return self.db.execute("SELECT COUNT(*) FROM reports WHERE ts >= ?", (since_ms,)).fetchone()[0]

    def get(self, report_id: str, drone_id: str | None = None) -> dict | None:
        sql = "SELECT raw, ts, time_source, clock_skew, dropped, stored_at, drone_id FROM reports WHERE report_id = ?"
        if drone_id is None:
            rows = self.db.execute(f"{sql} ORDER BY drone_id", (report_id,)).fetchall()
        else:
            rows = self.db.execute(f"{sql} AND drone_id = ?", (report_id, drone_id)).fetchall()
        if not rows:
            return None
        if len(rows) > 1:
            raise AmbiguousReportId(report_id, [row[-1] for row in rows])
        raw, ts, time_source, clock_skew, dropped, stored_at, _ = rows[0]
        doc = json.loads(raw)
        doc["report_id"] = report_id
        doc["observed_at"] = datetime.fromtimestamp(ts / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
        doc["time_source"] = time_source
        doc["clock_skew"] = bool(clock_skew)
        doc["dropped"] = dropped.split()
        doc["stored_at"] = datetime.fromtimestamp(stored_at / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
        return doc

    def report_ids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT report_id FROM reports ORDER BY id")]

    def iter_received(self, *, since_ms: int | None = None, batch: int = 2000) -> Iterator[list[Received]]:
        """Every stored report as received, in storage order, a batch at a time (re-indexing)."""
        last = 0
        while True:
            rows = self.db.execute(
                "SELECT id, raw, ts, time_source, clock_skew FROM reports WHERE id > ? AND ts >= ? ORDER BY id LIMIT ?",
                (last, since_ms if since_ms is not None else -(2**62), batch),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            out = []
            for _, raw, ts, time_source, clock_skew in rows:
                decoded = received_again(
                    raw.encode("utf-8"), observed_at_ms=ts, time_source=time_source, clock_skew=bool(clock_skew)
                )
                if decoded is not None:
                    out.append(decoded)
            yield out

    def prune(self, keep_days: int, *, now: datetime | None = None, may_drop=None) -> list[str]:
        """Delete the reports of whole UTC days older than ``keep_days``; returns those days (ISO dates).

        As the Elasticsearch engine drops daily indices: ``may_drop(day, reports)``
        (the archive's guard) is asked before each day goes, and a day it refuses is
        kept, to be asked again next time. A day goes a chunk at a time, each chunk its
        own write transaction, so the indexer waits for one chunk, never for a day.
        """
        cutoff = (now or datetime.now(tz=UTC)) - timedelta(days=keep_days)
        oldest_kept = _ms(datetime(cutoff.year, cutoff.month, cutoff.day, tzinfo=UTC))
        dropped = []
        for (day_ms,) in self.db.execute(
            "SELECT DISTINCT ts - ts % 86400000 FROM reports WHERE ts < ? ORDER BY 1", (oldest_kept,)
        ).fetchall():
            day = datetime.fromtimestamp(day_ms / 1000, tz=UTC).date()
            if may_drop is not None and not may_drop(day, self._count_between(day_ms, day_ms + DAY)):
                continue
            self._delete_between(day_ms, day_ms + DAY)
            log(logger, logging.INFO, "analytics_day_dropped", day=day.isoformat(), keep_days=keep_days)
            dropped.append(day.isoformat())
        return dropped

    def _count_between(self, start_ms: int, end_ms: int) -> int:
        sql = "SELECT COUNT(*) FROM reports WHERE ts >= ? AND ts < ?"
        return self.db.execute(sql, (start_ms, end_ms)).fetchone()[0]

    def _delete_between(self, start_ms: int, end_ms: int, *, chunk: int = 20_000) -> None:
        db = self.db
        while True:
            db.execute("BEGIN IMMEDIATE")
            try:
                ids = db.execute(
                    "SELECT id, tokens FROM reports WHERE ts >= ? AND ts < ? LIMIT ?", (start_ms, end_ms, chunk)
                ).fetchall()
                if ids:
                    # A contentless full-text table forgets a row only when told the words it held.
                    db.executemany("INSERT INTO words (words, rowid, w) VALUES ('delete', ?, ?)", ids)
                    rowids = [(rowid,) for rowid, _ in ids]
                    db.executemany("DELETE FROM citizens WHERE report = ?", rowids)
                    db.executemany("DELETE FROM reports WHERE id = ?", rowids)
                else:
                    # Days are whole buckets of every level: the rollups go with them.
                    levels = ",".join("?" * len(ALL_LEVELS))
                    for table in ("roll_count", "roll_citizen", "roll_word", "roll_drone", "roll_tile", "roll_score"):
                        db.execute(
                            f"DELETE FROM {table} WHERE level IN ({levels}) AND bucket >= ? AND bucket < ?",
                            (*ALL_LEVELS, start_ms, end_ms),
                        )
                    db.execute(NAME_DICTIONARY_PRUNE)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            if not ids:
                return

    def suggest_citizens(self, prefix: str, *, since_ms: int, limit: int) -> list[dict]:
        """Names starting with ``prefix`` (folded, see name_fold) seen since ``since_ms``, most sightings first."""
        from analytics.store.embedded_search import build_suggest_sql

        statement = build_suggest_sql(prefix, since_ms=since_ms, limit=limit)
        return [{"name": name, "count": n} for name, n in self.db.execute(statement.sql, statement.params)]

    def search(self, p: Plan) -> dict:
        from analytics.store.embedded_search import run_search

        return run_search(self.db, p)


class Rollup:
    """Counts of one batch per (level, bucket, key), written as additive upserts.

    Counted once per 5-minute bucket while reading the batch; the coarser levels
    are summed from those at write time (far fewer keys than sightings).
    """

    def __init__(self) -> None:
        self.count: Counter = Counter()
        self.citizen: Counter = Counter()
        self.word: Counter = Counter()
        self.drone: Counter = Counter()
        self.tile: Counter = Counter()
        self.scores: dict[tuple[int, int], list[float]] = {}

    def add(
        self, ts: int, drone_id: str, x16: int, y16: int, people: dict[str, tuple[str, float]], tokens: set[str]
    ) -> None:
        bucket = ts - ts % FIVE_MINUTES
        self.count[bucket] += 1
        self.drone[(bucket, drone_id)] += 1
        self.tile[(bucket, x16, y16)] += 1
        self.citizen.update([(bucket, key, name) for key, (name, _) in people.items()])
        self.word.update([(bucket, token) for token in tokens])
        scores = self.scores
        for _, score in people.values():
            key = (bucket, min(999, int(score * 10)))  # score_bin, inlined: this loop is hot
            found = scores.get(key)
            if found is None:
                scores[key] = [score]
            else:
                found.append(score)

    @staticmethod
    def _levels(counter: Counter, levels: tuple[int, ...] = ROLLUP_LEVELS) -> list[tuple]:
        """(level, bucket, *key, n) rows for ``levels`` from 5-minute counts."""
        rows = []
        for level in levels:
            if level == FIVE_MINUTES:  # the counts' own buckets
                rows.extend((level, key, n) if isinstance(key, int) else (level, *key, n) for key, n in counter.items())
                continue
            summed: Counter = Counter()
            for key, n in counter.items():
                bucket, rest = (key, ()) if isinstance(key, int) else (key[0], key[1:])
                summed[(bucket - bucket % level, *rest)] += n
            rows.extend((level, *key, n) for key, n in summed.items())
        return rows

    def write(self, db: sqlite3.Connection) -> None:
        upsert = "INSERT INTO {t} VALUES ({marks}) ON CONFLICT DO UPDATE SET n = n + excluded.n"
        db.executemany(upsert.format(t="roll_count", marks="?,?,?"), self._levels(self.count))
        db.executemany(upsert.format(t="roll_citizen", marks="?,?,?,?,?"), self._levels(self.citizen, CITIZEN_LEVELS))
        for table, counter in (("roll_word", self.word), ("roll_drone", self.drone)):
            db.executemany(upsert.format(t=table, marks="?,?,?,?"), self._levels(counter))
        db.executemany(upsert.format(t="roll_tile", marks="?,?,?,?,?"), self._levels(self.tile))
        stats: dict[tuple, list] = {}
        for (bucket, bin_), values in self.scores.items():
            n, total, lo, hi = len(values), sum(values), min(values), max(values)
            for key in ((FIVE_MINUTES, bucket, bin_), (HOUR, bucket - bucket % HOUR, bin_)):
                acc = stats.get(key)
                if acc is None:
                    stats[key] = [n, total, lo, hi]
                else:
                    acc[0] += n
                    acc[1] += total
                    acc[2] = min(acc[2], lo)
                    acc[3] = max(acc[3], hi)
        db.executemany(
            "INSERT INTO roll_score VALUES (?,?,?,?,?,?,?) ON CONFLICT DO UPDATE SET n = n + excluded.n, "
            "total = total + excluded.total, lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)",
            [(*k, *v) for k, v in stats.items()],
        )
