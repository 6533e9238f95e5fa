"""Simulated drones: deterministic, valid, realistic enough to exercise the system."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from ingest.reports import Received, decode_report
from ingest.simulator import VOCABULARY, Fleet
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


def test_the_first_wave_fleet_sees_a_city_of_named_people_with_ids_and_a_large_zipf_vocabulary():
    fleet = Fleet.first_wave(drones=400, seed=3)
    people = [person for district in fleet.districts for person in district]
    assert len({person.subject_id for person in people}) == len(people) >= 100_000
    assert len({person.name for person in people}) < len(people) / 10  # names repeat across people, as in life
    assert len(set(fleet.words)) == 5000 and fleet.words[: len(VOCABULARY)] == list(VOCABULARY)

    ids, words, low, n = Counter(), Counter(), 0, 40_000
    for _ in range(n):
        result = decode_report(fleet.encoded(NOW)[1])
        assert isinstance(result, Received), result
        assert all(c.id is not None for c in result.report.citizens)
        ids.update(c.id for c in result.report.citizens)
        words.update(result.report.words)
        low += result.report.min_peacescore() < 20
    assert 0.005 <= low / n <= 0.02
    assert len(words) > 3000  # the long tail is reached
    ranked = [count for _, count in words.most_common()]
    assert ranked[0] > 50 * ranked[999]  # Zipf: the most common word far above the thousandth
    assert len(ids) > 50_000


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
