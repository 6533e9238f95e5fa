"""The embedded analytics store: one SQLite file, safe across processes.

Reports are kept whole (the original JSON, unknown fields included) with the
columns queries filter on, one row per citizen sighting (clustered by name, so
"where was this citizen seen" is one range scan) and a full-text index of the
words heard.
WAL mode lets the web server read while the indexer writes; writers take the
lock at BEGIN IMMEDIATE and wait on busy_timeout rather than fail.

Idempotency: ``report_id`` is unique; a batch first drops ids already stored,
inside the write transaction, so replays and concurrent indexers store each
report once.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from analytics.query import Plan, tile_xy
from analytics.store.base import IndexResult
from analytics.tokens import word_token
from ingest.reports import Received, decode_report

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY,
    report_id TEXT NOT NULL UNIQUE,
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
    stored_at INTEGER NOT NULL,
    raw TEXT NOT NULL               -- the report exactly as received
);
CREATE INDEX IF NOT EXISTS reports_ts ON reports (ts);
CREATE INDEX IF NOT EXISTS reports_drone_ts ON reports (drone_id, ts);
-- Clustered by (name, ts): a citizen's timeline is one contiguous range.
-- A name twice in one report is one sighting, the first one.
CREATE TABLE IF NOT EXISTS citizens (
    name TEXT NOT NULL,
    ts INTEGER NOT NULL,
    report INTEGER NOT NULL,
    score REAL NOT NULL,
    PRIMARY KEY (name, ts, report)
) WITHOUT ROWID;
-- Aggregations over a filtered set of reports start from report ids.
CREATE INDEX IF NOT EXISTS citizens_report ON citizens (report, score);
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
CREATE TABLE IF NOT EXISTS roll_count (
    level INTEGER NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (level, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS roll_citizen (
    level INTEGER NOT NULL, bucket INTEGER NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (level, bucket, key)) WITHOUT ROWID;
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
FIVE_MINUTES, HOUR = 300_000, 3_600_000
ROLLUP_LEVELS = (FIVE_MINUTES, HOUR)
GRID_ZOOM = 16

_CHUNK = 500  # well under SQLite's bound-parameter limit


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


class StoreSchemaError(RuntimeError):
    pass


class EmbeddedStore:
    name = "embedded"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.execute("PRAGMA cache_size=-262144")  # 256 MiB page cache
        # Checkpoint every ~40 MB of WAL rather than 4 MB: fewer, larger copies.
        self.db.execute("PRAGMA wal_autocheckpoint=10000")
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        has_reports = self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'reports'").fetchone()
        if has_reports and version != SCHEMA_VERSION:
            raise StoreSchemaError(
                f"the analytics store {self.path} has schema version {version}, this code needs "
                f"{SCHEMA_VERSION}: move the file aside and rebuild it with "
                "`python manage.py reindex --from-topic --since <time>`"
            )
        self.db.executescript(SCHEMA)
        if not has_reports:
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    def ping(self) -> None:
        self.db.execute("SELECT 1").fetchone()

    def index(self, reports: Sequence[Received]) -> IndexResult:
        if not reports:
            return IndexResult()
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            stored = self._existing([r.report_id for r in reports])
            fresh: dict[str, Received] = {}
            for item in reports:
                if item.report_id not in stored and item.report_id not in fresh:
                    fresh[item.report_id] = item
            if fresh:
                self._insert(list(fresh.values()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return IndexResult(created=len(fresh))

    def _insert(self, fresh: list[Received]) -> None:
        db = self.db
        next_id = (db.execute("SELECT COALESCE(MAX(id), 0) FROM reports").fetchone()[0]) + 1
        now = _ms(datetime.now(tz=UTC))
        report_rows, citizen_rows, word_rows = [], [], []
        rollup = Rollup()
        for rowid, item in enumerate(fresh, start=next_id):
            report = item.report
            ts = _ms(item.observed_at)
            lat, lon = report.location.lat, report.location.lon
            x16, y16 = tile_xy(lat, lon, GRID_ZOOM)
            people: dict[str, float] = {}
            for c in report.citizens:
                people.setdefault(c.name, c.peacescore)
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
                    min(people.values(), default=None),
                    len(people),
                    token_text,
                    item.time_source,
                    now,
                    item.raw.decode("utf-8"),
                )
            )
            citizen_rows.extend((name, ts, rowid, score) for name, score in people.items())
            word_rows.append((rowid, token_text))
            rollup.add(ts, report.drone_id, x16, y16, people, tokens)
        db.executemany("INSERT INTO reports VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", report_rows)
        db.executemany("INSERT OR IGNORE INTO citizens VALUES (?,?,?,?)", citizen_rows)
        db.executemany("INSERT INTO words (rowid, w) VALUES (?,?)", word_rows)
        rollup.write(db)

    def _existing(self, report_ids: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(report_ids), _CHUNK):
            chunk = report_ids[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            found.update(
                row[0] for row in self.db.execute(f"SELECT report_id FROM reports WHERE report_id IN ({marks})", chunk)
            )
        return found

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM reports").fetchone()[0]

    def count_since(self, since_ms: int | None) -> int:
        if since_ms is None:
            return self.count()
        return self.db.execute("SELECT COUNT(*) FROM reports WHERE ts >= ?", (since_ms,)).fetchone()[0]

    def get(self, report_id: str) -> dict | None:
        row = self.db.execute(
            "SELECT raw, ts, time_source, stored_at FROM reports WHERE report_id = ?", (report_id,)
        ).fetchone()
        if row is None:
            return None
        raw, ts, time_source, stored_at = row
        doc = json.loads(raw)
        doc["report_id"] = report_id
        doc["observed_at"] = datetime.fromtimestamp(ts / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
        doc["time_source"] = time_source
        doc["stored_at"] = datetime.fromtimestamp(stored_at / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
        return doc

    def report_ids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT report_id FROM reports ORDER BY id")]

    def iter_received(self, *, since_ms: int | None = None, batch: int = 2000) -> Iterator[list[Received]]:
        """Every stored report as received, in storage order, a batch at a time (re-indexing)."""
        last = 0
        while True:
            rows = self.db.execute(
                "SELECT id, raw, ts FROM reports WHERE id > ? AND ts >= ? ORDER BY id LIMIT ?",
                (last, since_ms if since_ms is not None else -(2**62), batch),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            out = []
            for _, raw, ts in rows:
                decoded = decode_report(raw.encode("utf-8"), timestamp_ms=ts)
                if isinstance(decoded, Received):
                    out.append(decoded)
            yield out

    def search(self, p: Plan) -> dict:
        from analytics.store.embedded_search import run_search

        return run_search(self.db, p)


class Rollup:
    """Counts of one batch per (level, bucket, key), written as additive upserts.

    Counted once per 5-minute bucket while reading the batch; the hour level is
    summed from those at write time (far fewer keys than sightings).
    """

    def __init__(self) -> None:
        self.count: Counter = Counter()
        self.citizen: Counter = Counter()
        self.word: Counter = Counter()
        self.drone: Counter = Counter()
        self.tile: Counter = Counter()
        self.scores: dict[tuple[int, int], list[float]] = {}

    def add(self, ts: int, drone_id: str, x16: int, y16: int, people: dict[str, float], tokens: set[str]) -> None:
        bucket = ts - ts % FIVE_MINUTES
        self.count[bucket] += 1
        self.drone[(bucket, drone_id)] += 1
        self.tile[(bucket, x16, y16)] += 1
        self.citizen.update([(bucket, name) for name in people])
        self.word.update([(bucket, token) for token in tokens])
        scores = self.scores
        for score in people.values():
            key = (bucket, min(999, int(score * 10)))  # score_bin, inlined: this loop is hot
            found = scores.get(key)
            if found is None:
                scores[key] = [score]
            else:
                found.append(score)

    @staticmethod
    def _levels(counter: Counter) -> list[tuple]:
        """(level, bucket, *key, n) rows for both levels from 5-minute counts."""
        hours: Counter = Counter()
        rows = []
        for key, n in counter.items():
            bucket, rest = (key, ()) if isinstance(key, int) else (key[0], key[1:])
            rows.append((FIVE_MINUTES, bucket, *rest, n))
            hours[(bucket - bucket % HOUR, *rest)] += n
        rows.extend((HOUR, *key, n) for key, n in hours.items())
        return rows

    def write(self, db: sqlite3.Connection) -> None:
        upsert = "INSERT INTO {t} VALUES ({marks}) ON CONFLICT DO UPDATE SET n = n + excluded.n"
        db.executemany(upsert.format(t="roll_count", marks="?,?,?"), self._levels(self.count))
        for table, counter in (("roll_citizen", self.citizen), ("roll_word", self.word), ("roll_drone", self.drone)):
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
