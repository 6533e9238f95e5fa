"""The indexer's pure core and the embedded store behind it."""

import gzip
import json
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from analytics.consumer import process_batch
from analytics.query import MAX_TOP, parse_query, plan
from analytics.store import get_store
from analytics.store.embedded import ALL_LEVELS, SCHEMA_VERSION, EmbeddedStore
from ingest.reports import decode_report
from ingest.simulator import Fleet
from peacewatch.streams.batch import Record
from tests.analytics.corpus import give_ids
from tests.factories import citizen, report


def records(*values):
    return [
        Record(value=v if isinstance(v, bytes) else json.dumps(v).encode(), partition=3, offset=100 + i)
        for i, v in enumerate(values)
    ]


def test_it_stores_every_valid_report_with_citizens_and_words():
    outcome = process_batch(
        records(
            report(report_id="r1", words=["bread", "strike"]),
            report(report_id="r2", words=["Strike", "New York"], citizens=[citizen("A B", 50), citizen("C D", 9)]),
        )
    )
    store = get_store()
    assert store.count() == 2
    assert outcome.counts["stored"] == 2

    def ids_matching(expr):
        sql = "SELECT r.report_id FROM words JOIN reports r ON r.id = words.rowid WHERE words MATCH ? ORDER BY 1"
        return [row[0] for row in store.db.execute(sql, (expr,))]

    assert ids_matching("strike") == ["r1", "r2"]  # case-folded
    assert ids_matching("bread AND strike") == ["r1"]
    assert ids_matching("new_york") == ["r2"]  # a multi-word phrase stays one token
    sightings = store.db.execute("SELECT name, score FROM citizens ORDER BY name").fetchall()
    assert sightings == [("A B", 50.0), ("C D", 9.0), ("Paul Durand", 81.0)]


def test_stored_reports_keep_unknown_fields_and_say_where_their_time_came_from():
    doc = report(report_id="r-unknown", wind_kph=12)
    del doc["sent_at"]
    process_batch([Record(value=json.dumps(doc).encode(), timestamp=1_795_000_000_000)])
    stored = get_store().get("r-unknown")
    assert stored["wind_kph"] == 12
    assert stored["time_source"] == "broker"
    assert stored["observed_at"].startswith("2026-11-18T")


def test_replaying_reports_stores_each_once():
    batch = records(report(report_id="r1", citizens=[citizen("A", 1), citizen("B", 2)]), report(report_id="r2"))
    process_batch(batch)
    again = process_batch(batch)
    store = get_store()
    assert store.count() == 2
    assert store.db.execute("SELECT count(*) FROM citizens").fetchone()[0] == 3
    assert again.counts["stored"] == 0 and again.counts["duplicates"] == 2


def test_the_same_report_twice_in_one_batch_is_stored_once():
    process_batch(records(report(report_id="dup"), report(report_id="dup")))
    assert get_store().count() == 1


def test_bad_records_become_dead_letters_with_their_original_bytes():
    bad = b'{"drone_id": "pw-1", "location": {"lat": 95, "lon": 0}, "citizens": [], "words": []}'
    outcome = process_batch(records(report(report_id="ok"), b"\x00\x01 not json", bad))
    assert get_store().count() == 1
    codes = [(d.error, d.value, d.source_partition, d.source_offset) for d in outcome.dead_letters]
    assert codes == [("invalid_json", b"\x00\x01 not json", 3, 101), ("schema", bad, 3, 102)]
    headers = dict(outcome.dead_letters[1].headers())
    assert set(headers) == {"error", "detail", "source_topic", "source_partition", "source_offset"}
    assert headers["detail"].startswith(b"Expected")


def test_the_store_is_shared_safely_with_another_process(tmp_path):
    path = tmp_path / "shared.sqlite3"
    mine = EmbeddedStore(path)
    mine.index([decode_report(json.dumps(report(report_id="from-parent")).encode())])
    # Another process writes while this one holds the store open (as web + indexer do).
    script = (
        "import json, sys; sys.path.insert(0, '.');"
        "from analytics.store.embedded import EmbeddedStore; from ingest.reports import decode_report;"
        f"s = EmbeddedStore({str(path)!r});"
        "docs = [dict(drone_id='pw-9', location=dict(lat=1, lon=2), citizens=[], words=['w'], report_id=f'child-{i}')"
        " for i in range(500)];"
        "print(s.index([decode_report(json.dumps(d).encode()) for d in docs]).created)"
    )
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert child.stdout.strip() == "500"
    assert mine.count() == 501
    assert mine.get("child-7")["drone_id"] == "pw-9"
    mine.close()


def test_a_new_store_file_opened_by_many_processes_at_once_is_created_once_and_works_for_all(tmp_path):
    # The indexer's processes and the web's open the same new file together; one that
    # looked between another's tables and its version number took it for an unknown schema.
    path = tmp_path / "new.sqlite3"
    openers = 8
    start = threading.Barrier(openers)

    def open_and_write(n: int) -> int:
        start.wait()
        store = EmbeddedStore(path)
        try:
            return store.index([decode_report(json.dumps(report(report_id=f"opener-{n}")).encode())]).created
        finally:
            store.close()

    with ThreadPoolExecutor(max_workers=openers) as pool:
        created = list(pool.map(open_and_write, range(openers)))

    assert created == [1] * openers
    store = EmbeddedStore(path)
    assert store.count() == openers
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()


# Written by the embedded store at schema version 2 (commit 80a9bc6), which kept
# report ids unique alone and citizens by name (ids were ignored, kept in the raw
# report only), from these reports (2026-11-28, UTC):
#   r-1  pw-00001  01:10  Jeanne Martin (id subj-1) 12.5                  words: bread
#   r-2  pw-00001  02:20  Jeanne Martin (subj-1) 40, Jeanne Martin (subj-2) 70   strike
#   r-3  pw-00002  03:30  J. Martin (subj-1) 15, Paul Durand 81           bread, strike
#   r-4  pw-00002  04:40  Paul Durand 60                                  tomorrow
#   r-5  pw-00003  05:50  nobody, no words
# Version 2 stored r-2's two Jeanne Martins as one sighting.
STORE_V2 = Path(__file__).parent / "data" / "analytics-v2.sqlite3.gz"


def test_a_store_file_of_schema_version_2_opens_and_is_migrated(tmp_path):
    path = tmp_path / "analytics.sqlite3"
    path.write_bytes(gzip.decompress(STORE_V2.read_bytes()))
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 2

    store = EmbeddedStore(path)

    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert store.count() == 5 and store.get("r-3")["drone_id"] == "pw-00002"
    morning = {"from": "2026-11-28T00:00:00Z", "to": "2026-11-28T06:00:00Z"}

    def run(query: dict) -> dict:
        return store.search(plan(parse_query({"time": morning, "size": 10, **query})))

    # Citizens by the ids the reports carried, from the rollups and from a scan alike.
    rollups = run({"aggs": ["top_citizens", "score"]})["aggregations"]
    scan = run({"aggs": ["top_citizens", "score"], "score": {"min": 0}})["aggregations"]
    assert rollups == scan
    assert rollups["top_citizens"] == [
        {"key": "subj-1", "name": "Jeanne Martin", "count": 3},
        {"key": "Paul Durand", "name": "Paul Durand", "count": 2},
        {"key": "subj-2", "name": "Jeanne Martin", "count": 1},
    ]
    assert rollups["score"]["count"] == 6  # r-2's two people are two sightings now
    assert [h["report_id"] for h in run({"citizen": {"key": "subj-1"}})["hits"]] == ["r-3", "r-2", "r-1"]
    assert [h["report_id"] for h in run({"words": {"all": ["strike"]}})["hits"]] == ["r-3", "r-2"]
    # Identity by (drone_id, report_id): r-1 from another drone is new; another r-1 from pw-00001 a conflict.
    again = [report(report_id="r-1", drone_id=d, citizens=[], words=["later"]) for d in ("pw-00009", "pw-00001")]
    outcome = process_batch(records(*again), store)
    assert outcome.counts["stored"] == 1
    assert [d.error for d in outcome.dead_letters] == ["conflict"]
    assert store.count() == 6
    store.close()
    assert EmbeddedStore(path).count() == 6  # opened again: already version 3, nothing redone


def test_a_migrated_store_flags_no_clock_skew_and_names_the_telemetry_version_2_dropped(tmp_path):
    path = tmp_path / "analytics.sqlite3"
    path.write_bytes(gzip.decompress(STORE_V2.read_bytes()))
    v2 = sqlite3.connect(path)
    # Version 2 stored a report whose battery sensor sent junk, as received (lenient telemetry).
    v2.execute("UPDATE reports SET raw = json_set(raw, '$.battery_pct', 'low') WHERE report_id = 'r-5'")
    v2.commit()
    v2.close()

    store = EmbeddedStore(path)

    stored = {report_id: store.get(report_id) for report_id in ("r-1", "r-2", "r-3", "r-4", "r-5")}
    # Version 2 trusted every sent_at: nothing was stored at a broker time for a fast clock.
    assert {r["clock_skew"] for r in stored.values()} == {False}
    assert {report_id: r["dropped"] for report_id, r in stored.items() if r["dropped"]} == {"r-5": ["battery_pct"]}
    assert stored["r-5"]["battery_pct"] == "low"
    store.close()


def test_a_conflict_is_dead_lettered_with_its_original_bytes_and_where_it_came_from():
    process_batch(records(report(report_id="r-1", words=["bread"])))
    other = json.dumps(report(report_id="r-1", words=["strike"])).encode()

    outcome = process_batch([Record(value=other, partition=2, offset=41)])

    (letter,) = outcome.dead_letters
    assert (letter.error, letter.value, letter.source_partition, letter.source_offset) == ("conflict", other, 2, 41)
    assert "pw-00042" in letter.detail and "'r-1'" in letter.detail


# Written by the embedded store at schema version 3 (commit 85c7db5), which rolled citizens up per 5 minutes
# and per hour: 56 reports of Fleet(drones=3, seed=5) over 2026-11-28 00:00-14:00 UTC, subject ids given
# (tests.analytics.corpus.give_ids), indexed 20 at a time.
STORE_V3 = Path(__file__).parent / "data" / "analytics-v3.sqlite3.gz"


@pytest.mark.parametrize(
    "hours",
    [("00:00", "14:00"), ("00:20", "11:40"), ("01:10", "05:05"), ("05:50", "12:10"), ("03:00", "09:00")],
)
def test_a_store_file_of_schema_version_3_gets_citizens_by_six_hours_and_answers_as_a_scan_does(tmp_path, hours):
    path = tmp_path / "analytics.sqlite3"
    path.write_bytes(gzip.decompress(STORE_V3.read_bytes()))
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 3

    store = EmbeddedStore(path)

    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    levels = dict(store.db.execute("SELECT level, count(*) FROM roll_citizen GROUP BY level").fetchall())
    assert set(levels) == {300_000, 3_600_000, 21_600_000}
    window = {"from": f"2026-11-28T{hours[0]}:00Z", "to": f"2026-11-28T{hours[1]}:00Z"}
    aggs = ["histogram", "top_citizens", "top_drones", "top_words", "score", "grid"]
    # Every citizen listed (top at its maximum): one seen only outside the window must not show with 0.
    query = {"time": window, "aggs": aggs, "top": MAX_TOP, "size": 5}
    rollups = store.search(plan(parse_query(query)))
    scan = store.search(plan(parse_query({**query, "score": {"min": 0}})))  # a filter forces the scan
    assert rollups == scan
    assert rollups["total"] > 0 and len(rollups["aggregations"]["top_citizens"]) > 10
    # New reports add to the 6-hour buckets as to the hours.
    process_batch(records(report(report_id="after-migration", sent_at="2026-11-28T04:30:00Z")), store)
    again = store.search(plan(parse_query(query)))
    assert again == store.search(plan(parse_query({**query, "score": {"min": 0}})))
    store.close()


def test_dropping_a_day_drops_its_rollups_at_every_level_and_leaves_the_next_day_whole(tmp_path):
    store = EmbeddedStore(tmp_path / "analytics.sqlite3")
    day_one = datetime(2026, 11, 27, tzinfo=UTC)
    values = Fleet(drones=3, seed=2).backfill(96, day_one, timedelta(hours=48))
    store.index([decode_report(give_ids(v)) for _, v in values])
    tables = ("roll_count", "roll_citizen", "roll_word", "roll_drone", "roll_tile", "roll_score")
    day_two_ms = int((day_one + timedelta(days=1)).timestamp() * 1000)

    assert store.prune(keep_days=1, now=day_one + timedelta(days=2, hours=1)) == ["2026-11-27"]

    for table in tables:
        left = store.db.execute(f"SELECT level, count(*) FROM {table} WHERE bucket < ? GROUP BY 1", (day_two_ms,))
        assert left.fetchall() == [], table
    assert {level for (level,) in store.db.execute("SELECT DISTINCT level FROM roll_citizen")} == set(ALL_LEVELS)
    query = {"time": {"from": "2026-11-28T00:00:00Z", "to": "2026-11-29T00:00:00Z"}, "aggs": ["top_citizens"]}
    rollups = store.search(plan(parse_query({**query, "top": MAX_TOP})))
    assert rollups == store.search(plan(parse_query({**query, "top": MAX_TOP, "score": {"min": 0}})))
    assert rollups["total"] == 48
    store.close()


def wal_bytes(store: EmbeddedStore) -> int:
    return store.wal_path.stat().st_size if store.wal_path.exists() else 0


def a_long_read(path: Path) -> sqlite3.Connection:
    """A reader in the middle of a query: its snapshot holds the log back until it ends."""
    reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM reports").fetchone()
    return reader


def batches(count: int) -> list[list]:
    values = Fleet(drones=4, seed=5).backfill(count * 50, datetime(2026, 11, 27, tzinfo=UTC), timedelta(hours=2))
    reports = [decode_report(give_ids(v)) for _, v in values]
    return [reports[i : i + 50] for i in range(0, len(reports), 50)]


def log_growth_per_batch(tmp_path: Path) -> int:
    """How much one batch adds to the log: the bound below is a few batches."""
    probe = EmbeddedStore(tmp_path / "probe.sqlite3")
    first, second = batches(2)
    probe.index(first)
    before = wal_bytes(probe)
    probe.index(second)
    grown = wal_bytes(probe) - before
    probe.close()
    return grown


def test_the_write_ahead_log_starts_again_once_the_readers_of_older_snapshots_finish(tmp_path, caplog):
    """Readers one after another never leave SQLite a moment to start its log again by itself: the
    writer waits for the readers of older snapshots, then truncates it."""
    store = EmbeddedStore(tmp_path / "analytics.sqlite3", wal_bound_bytes=3 * log_growth_per_batch(tmp_path))
    caplog.set_level("INFO", logger="analytics.store.embedded")
    first, *rest = batches(10)
    store.index(first)
    assert 0 < wal_bytes(store) <= store.wal_bound_bytes
    older = a_long_read(store.path)
    threading.Timer(1.0, older.commit).start()

    while wal_bytes(store) > 0:  # the log passes its bound while the older reader still reads
        store.index(rest.pop(0))

    [restarted] = [r for r in caplog.records if r.getMessage() == "wal_restarted"]
    assert restarted.fields["waited_s"] >= 0.5  # it waited for the older reader
    assert restarted.fields["wal_bytes"] > store.wal_bound_bytes
    newer = a_long_read(store.path)  # a reader after the restart sees every report
    assert newer.execute("SELECT count(*) FROM reports").fetchone()[0] == store.count() == 50 * (10 - len(rest))
    newer.commit()
    store.close()


def test_a_reader_that_outlasts_the_wait_delays_the_restart_and_loses_nothing(tmp_path, caplog):
    store = EmbeddedStore(
        tmp_path / "analytics.sqlite3", wal_bound_bytes=3 * log_growth_per_batch(tmp_path), wal_restart_wait_s=0.2
    )
    caplog.set_level("INFO", logger="analytics.store.embedded")
    pending = batches(16)
    store.index(pending.pop(0))
    stuck = a_long_read(store.path)

    def attempts(event: str) -> int:
        return [r.getMessage() for r in caplog.records].count(event)

    while not attempts("wal_restart_blocked"):
        store.index(pending.pop(0))
    [blocked] = [r for r in caplog.records if r.getMessage() == "wal_restart_blocked"]
    assert 0.2 <= blocked.fields["waited_s"] < 5  # no longer than the store's wait
    blocked_at = wal_bytes(store)
    store.index(pending.pop(0))  # not tried again before the log has grown by another bound
    assert attempts("wal_restart_blocked") == 1
    assert wal_bytes(store) > blocked_at

    stuck.commit()
    while wal_bytes(store) > 0:
        store.index(pending.pop(0))
    assert attempts("wal_restarted") == 1
    assert store.count() == 50 * (16 - len(pending))
    store.close()
