"""What ingest decided about a report's time and telemetry is stored with it, in both engines (CONTRACT v1.1).

A ``sent_at`` more than ``MAX_CLOCK_SKEW_S`` ahead of the record's broker time
is not trusted: the report is stored at its broker time and flagged
``clock_skew``. Telemetry that breaks its rule is dropped from the decoded
report, and the stored report names it in ``dropped``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from analytics.consumer import process_batch
from analytics.query import parse_query, plan
from analytics.reindex import from_store
from analytics.store import open_elastic
from analytics.store.embedded import EmbeddedStore
from peacewatch.streams.batch import Record
from tests.factories import report

T0 = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def record(doc: dict, *, arrived: datetime = T0) -> Record:
    return Record(value=json.dumps(doc).encode(), timestamp=int(arrived.timestamp() * 1000))


def fast_clock(report_id: str) -> dict:
    return report(report_id=report_id, sent_at=iso(T0 + timedelta(hours=1)))


def on_time(report_id: str) -> dict:
    return report(report_id=report_id, sent_at=iso(T0))


def faulty_sensors(report_id: str) -> dict:
    doc = report(report_id=report_id, sent_at=iso(T0), battery_pct="low", firmware={"major": 1})
    doc["location"]["alt_m"] = "high"
    return doc


def embedded(tmp_path, name: str = "analytics.sqlite3") -> EmbeddedStore:
    return EmbeddedStore(tmp_path / name)


def elastic(request):
    return open_elastic(request.getfixturevalue("search_engine").url, refresh=True)


@pytest.fixture(params=["embedded", "elasticsearch"])
def store(request, tmp_path):
    opened = embedded(tmp_path) if request.param == "embedded" else elastic(request)
    yield opened
    opened.close()


def observed_at(stored: dict) -> datetime:
    return datetime.fromisoformat(stored["observed_at"])


def search(store, **filters) -> dict:
    query = parse_query({"time": {"from": iso(T0 - timedelta(hours=1)), "to": iso(T0 + timedelta(hours=2))}, **filters})
    return store.search(plan(query))


def test_a_report_sent_an_hour_ahead_of_its_record_time_is_stored_at_its_broker_time_and_flagged(store):
    outcome = process_batch([record(fast_clock("fast")), record(on_time("punctual"))], store)

    assert outcome.counts["stored"] == 2
    fast, punctual = store.get("fast"), store.get("punctual")
    assert (observed_at(fast), fast["time_source"], fast["clock_skew"]) == (T0, "broker", True)
    assert fast["sent_at"] == "2026-11-28T05:00:00Z"  # the drone's claim stays with the report
    assert (observed_at(punctual), punctual["time_source"], punctual["clock_skew"]) == (T0, "drone", False)


def test_search_hits_say_which_reports_were_flagged(store):
    process_batch([record(fast_clock("fast")), record(on_time("punctual"))], store)

    hits = search(store)["hits"]

    assert {h["report_id"]: (h["time_source"], h["clock_skew"]) for h in hits} == {
        "fast": ("broker", True),
        "punctual": ("drone", False),
    }


def test_analysts_can_find_the_reports_whose_drone_clock_ran_ahead(store):
    process_batch([record(fast_clock("fast")), record(on_time("punctual")), record(on_time("also-punctual"))], store)

    assert [h["report_id"] for h in search(store, clock_skew=True)["hits"]] == ["fast"]
    assert sorted(h["report_id"] for h in search(store, clock_skew=False)["hits"]) == ["also-punctual", "punctual"]


def test_telemetry_dropped_as_invalid_is_named_in_the_stored_report_which_keeps_what_was_sent(store):
    outcome = process_batch([record(faulty_sensors("faulty")), record(on_time("fine"))], store)

    assert (outcome.counts["stored"], outcome.dead_letters) == (2, [])  # a faulty sensor never loses a report
    faulty = store.get("faulty")
    assert faulty["dropped"] == ["location.alt_m", "battery_pct", "firmware"]
    assert (faulty["location"]["alt_m"], faulty["battery_pct"], faulty["firmware"]) == ("high", "low", {"major": 1})
    assert store.get("fine")["dropped"] == []


@pytest.mark.parametrize("direction", ["embedded to elasticsearch", "elasticsearch to embedded"])
def test_a_reindex_keeps_the_clock_skew_flag_the_broker_time_and_the_dropped_telemetry(
    direction, request, tmp_path, settings
):
    stores = {"embedded": embedded(tmp_path), "elasticsearch": elastic(request)}
    source, target = (stores[name] for name in direction.split(" to "))
    process_batch([record(fast_clock("fast")), record(on_time("punctual")), record(faulty_sensors("faulty"))], source)
    # The re-index copies what ingest decided; it does not judge sent_at again by today's setting.
    settings.MAX_CLOCK_SKEW_S = 7200

    copied = from_store(source, target, since_ms=None, report=lambda progress: None)

    assert (copied.stored, copied.bad) == (3, 0)
    fast, punctual, faulty = (target.get(report_id) for report_id in ("fast", "punctual", "faulty"))
    assert (observed_at(fast), fast["time_source"], fast["clock_skew"], fast["sent_at"]) == (
        T0,
        "broker",
        True,
        "2026-11-28T05:00:00Z",
    )
    assert (punctual["time_source"], punctual["clock_skew"]) == ("drone", False)
    assert faulty["dropped"] == ["location.alt_m", "battery_pct", "firmware"]
    assert faulty["battery_pct"] == "low"
    assert [h["report_id"] for h in search(target, clock_skew=True)["hits"]] == ["fast"]
    for opened in stores.values():
        opened.close()


def test_reports_arriving_after_an_answer_are_left_out_of_a_search_given_its_as_of(store):
    observed = iso(T0 + timedelta(minutes=10))
    process_batch([record(report(report_id=f"early-{i}", sent_at=observed)) for i in range(3)], store)
    first = search(store, aggs=["histogram", "top_drones"])
    assert first["total"] == 3
    # Observed within the range, as the first ones, but arrived after the answer.
    late = [record(report(report_id=f"late-{i}", drone_id="pw-00009", sent_at=observed)) for i in range(2)]
    process_batch(late, store)
    again = search(store, aggs=["histogram", "top_drones"], arrived_before=first["as_of"])
    assert (again["total"], again["as_of"]) == (3, first["as_of"])
    assert again["aggregations"] == first["aggregations"]
    assert search(store)["total"] == 5
