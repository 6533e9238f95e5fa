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
import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ingest.reports import Received

SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id INTEGER PRIMARY KEY,
    report_id TEXT NOT NULL UNIQUE,
    ts INTEGER NOT NULL,            -- observed_at, epoch milliseconds UTC
    drone_id TEXT NOT NULL,
    lat REAL NOT NULL,
    lon REAL NOT NULL,
    min_score REAL,                 -- lowest peacescore in the report, NULL if nobody seen
    n_citizens INTEGER NOT NULL,
    time_source TEXT NOT NULL,      -- 'drone' (sent_at) or 'broker' (record timestamp)
    stored_at INTEGER NOT NULL,
    raw TEXT NOT NULL               -- the report exactly as received
);
CREATE INDEX IF NOT EXISTS reports_ts ON reports (ts);
CREATE INDEX IF NOT EXISTS reports_drone_ts ON reports (drone_id, ts);
-- Clustered by (name, ts): a citizen's timeline is one contiguous range.
CREATE TABLE IF NOT EXISTS citizens (
    name TEXT NOT NULL,
    ts INTEGER NOT NULL,
    report INTEGER NOT NULL,
    score REAL NOT NULL,
    PRIMARY KEY (name, ts, report)
) WITHOUT ROWID;
-- Which reports heard which words: a contentless full-text index (rowid =
-- reports.id) is ~20x cheaper to write than one row per word and answers
-- "any of" / "all of" directly. Each word is one token (see word_token).
CREATE VIRTUAL TABLE IF NOT EXISTS words USING fts5(
    w, content='', detail=none, tokenize="unicode61 remove_diacritics 0 tokenchars '_'"
);
"""

_NON_WORD = re.compile(r"[\W_]+")


def word_token(word: str) -> str:
    """A heard word as one full-text token: case-folded, inner punctuation as '_'."""
    return _NON_WORD.sub("_", word.casefold()).strip("_") or "_"


_CHUNK = 500  # well under SQLite's bound-parameter limit


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


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
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def index(self, reports: Sequence[Received]) -> int:
        if not reports:
            return 0
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            stored = self._existing([r.report_id for r in reports])
            fresh: dict[str, Received] = {}
            for item in reports:
                if item.report_id not in stored and item.report_id not in fresh:
                    fresh[item.report_id] = item
            if fresh:
                next_id = (db.execute("SELECT COALESCE(MAX(id), 0) FROM reports").fetchone()[0]) + 1
                now = _ms(datetime.now(tz=UTC))
                report_rows, citizen_rows, word_rows = [], [], []
                for rowid, item in enumerate(fresh.values(), start=next_id):
                    report = item.report
                    ts = _ms(item.observed_at)
                    report_rows.append(
                        (
                            rowid,
                            item.report_id,
                            ts,
                            report.drone_id,
                            report.location.lat,
                            report.location.lon,
                            report.min_peacescore(),
                            len(report.citizens),
                            item.time_source,
                            now,
                            item.raw.decode("utf-8"),
                        )
                    )
                    # The same name twice in one report is one sighting (key is name, ts, report).
                    citizen_rows.extend((c.name, ts, rowid, c.peacescore) for c in report.citizens)
                    word_rows.append((rowid, " ".join({word_token(w) for w in report.words})))
                db.executemany("INSERT INTO reports VALUES (?,?,?,?,?,?,?,?,?,?,?)", report_rows)
                db.executemany("INSERT OR IGNORE INTO citizens VALUES (?,?,?,?)", citizen_rows)
                db.executemany("INSERT INTO words (rowid, w) VALUES (?,?)", word_rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return len(fresh)

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
