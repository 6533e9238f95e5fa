"""The indexer's pure core and the embedded store behind it."""

import json
import subprocess
import sys

from analytics.consumer import process_batch
from analytics.store import get_store
from analytics.store.embedded import EmbeddedStore
from ingest.reports import decode_report
from peacewatch.streams.batch import Record
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
