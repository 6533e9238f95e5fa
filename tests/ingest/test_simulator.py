"""Simulated drones: deterministic, valid, realistic enough to exercise the system."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from ingest.reports import Received, decode_report
from ingest.simulator import Fleet
from peacewatch.streams import kafka
from tests.kafka import read_topic_sync

NOW = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def test_the_same_seed_gives_the_same_reports():
    a, b = Fleet(drones=20, seed=7), Fleet(drones=20, seed=7)
    assert [a.encoded(NOW) for _ in range(500)] == [b.encoded(NOW) for _ in range(500)]
    assert Fleet(drones=20, seed=8).encoded(NOW) != Fleet(drones=20, seed=7).encoded(NOW)


def test_every_simulated_report_is_valid_and_fills_every_optional_field():
    fleet = Fleet(drones=50, seed=1)
    for _ in range(3000):
        _, raw = fleet.encoded(NOW)
        result = decode_report(raw)
        assert isinstance(result, Received), result
        report = result.report
        assert 3 <= len(report.citizens) <= 8
        assert 5 <= len(report.words) <= 30
        assert None not in (report.report_id, report.sent_at, report.seq, report.location.alt_m, report.battery_pct)
        assert None not in (report.heading_deg, report.speed_mps, report.firmware)
        assert all(c.confidence is not None for c in report.citizens)


def test_seq_increases_per_drone_and_drones_move_plausibly():
    fleet = Fleet(drones=5, seed=3)
    last: dict[str, dict] = {}
    for _ in range(500):
        report = msgspec.json.decode(fleet.encoded(NOW)[1])
        previous = last.get(report["drone_id"])
        if previous:
            assert report["seq"] == previous["seq"] + 1
            moved_deg = abs(report["location"]["lat"] - previous["location"]["lat"])
            assert moved_deg < 0.01  # under ~1 km in a minute
        last[report["drone_id"]] = report
    assert len(last) == 5


def test_about_one_report_in_a_hundred_holds_an_agitated_citizen():
    fleet = Fleet(drones=200, seed=11)
    n = 40_000
    low = sum(
        1 for _ in range(n) if min(c["peacescore"] for c in msgspec.json.decode(fleet.encoded(NOW)[1])["citizens"]) < 20
    )
    assert 0.005 <= low / n <= 0.02


def test_the_same_people_recur_and_words_follow_a_skewed_frequency():
    fleet = Fleet(drones=30, seed=5)
    names, words = Counter(), Counter()
    for _ in range(5000):
        report = msgspec.json.decode(fleet.encoded(NOW)[1])
        names.update(c["name"] for c in report["citizens"])
        words.update(report["words"])
    assert names.most_common(1)[0][1] >= 10
    top, tenth = words.most_common(10)[0][1], words.most_common(10)[9][1]
    assert top > 3 * tenth


def test_backfill_spreads_reports_over_the_requested_span():
    fleet = Fleet(drones=10, seed=2)
    stamps = [msgspec.json.decode(raw)["sent_at"] for _, raw in fleet.backfill(100, NOW, timedelta(hours=24))]
    assert stamps[0].startswith("2026-11-28T04:00") and stamps[-1].startswith("2026-11-29T03:")


@pytest.mark.django_db
def test_the_simulate_command_produces_the_requested_count(broker):
    from django.core.management import call_command

    call_command("simulate", "--drones", "10", "--rate", "2000", "--count", "300", "--quiet")
    records = read_topic_sync(kafka.topic("reports"), expected=300)
    assert len(records) == 300
    assert {r.key for r in records} == {f"pw-{i:05d}".encode() for i in range(10)}
