"""Time from the broker (CONTRACT v1.1 section 1): a fast drone clock is not trusted; liveness is arrival."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from alerts.events import decode_event
from alerts.fleet import detect_offline, process_batch
from alerts.models import Alert
from ingest.models import Drone
from ingest.reports import Received, decode_report
from peacewatch.streams.batch import Record
from tests.conftest import sign_in_with_second_factor
from tests.factories import citizen, report

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def record(doc: dict, *, arrived: datetime, offset: int = 0) -> Record:
    return Record(value=json.dumps(doc).encode(), offset=offset, timestamp=ms(arrived))


@pytest.fixture
def drone():
    return Drone.objects.create(drone_id="pw-00042")


def test_a_sent_at_an_hour_ahead_of_its_broker_time_is_replaced_by_the_broker_time_and_flagged():
    decoded = decode_report(json.dumps(report(sent_at=iso(T0 + timedelta(hours=1)))).encode(), timestamp_ms=ms(T0))
    assert isinstance(decoded, Received)
    assert (decoded.observed_at, decoded.time_source, decoded.clock_skew) == (T0, "broker", True)
    assert json.loads(decoded.raw)["sent_at"] == "2026-11-28T05:00:00Z"  # the drone's claim stays in the raw report


@pytest.mark.parametrize("offset", [timedelta(seconds=300), timedelta(seconds=-1), timedelta(hours=-3)])
def test_a_sent_at_up_to_the_allowed_skew_ahead_or_any_time_behind_is_trusted(offset):
    # Behind is trusted: a drone may send buffered reports long after it captured them.
    decoded = decode_report(json.dumps(report(sent_at=iso(T0 + offset))).encode(), timestamp_ms=ms(T0))
    assert (decoded.observed_at, decoded.time_source, decoded.clock_skew) == (T0 + offset, "drone", False)


def test_the_allowed_skew_is_the_max_clock_skew_s_setting(settings):
    raw = json.dumps(report(sent_at=iso(T0 + timedelta(seconds=120)))).encode()
    assert not decode_report(raw, timestamp_ms=ms(T0)).clock_skew
    settings.MAX_CLOCK_SKEW_S = 60
    assert decode_report(raw, timestamp_ms=ms(T0)).clock_skew


@pytest.mark.parametrize("timestamp_ms", [None, 0, -1, 2**62])
def test_without_a_real_broker_time_sent_at_is_trusted(timestamp_ms):
    decoded = decode_report(
        json.dumps(report(sent_at=iso(T0 + timedelta(days=30)))).encode(), timestamp_ms=timestamp_ms
    )
    assert (decoded.time_source, decoded.clock_skew) == ("drone", False)


def test_a_skewed_report_is_stored_and_alerts_with_its_broker_time():
    from alerts.consumer import process_batch as alerts_batch
    from analytics.consumer import process_batch as index_batch
    from analytics.store import get_store

    doc = report(sent_at=iso(T0 + timedelta(hours=1)), citizens=[citizen("Jeanne Martin", 5)])
    batch = [record(doc, arrived=T0)]
    index_batch(batch)
    alerts_batch(batch)
    stored = get_store().get(doc["report_id"])
    assert (stored["observed_at"], stored["time_source"]) == ("2026-11-28T04:00:00Z", "broker")
    assert Alert.objects.get().observed_at == T0


def test_skewed_reports_are_counted_for_their_drone_once_even_when_replayed(drone):
    batch = [
        record(report(sent_at=iso(T0 + timedelta(hours=1))), arrived=T0, offset=0),
        record(report(sent_at=iso(T0 + timedelta(seconds=60))), arrived=T0 + timedelta(seconds=60), offset=1),
        record(report(sent_at=iso(T0 + timedelta(hours=2))), arrived=T0 + timedelta(seconds=120), offset=2),
    ]
    process_batch(batch)
    process_batch(batch)
    drone.refresh_from_db()
    assert (drone.reports_received, drone.reports_clock_skew) == (3, 2)


def test_a_drone_whose_clock_is_hours_behind_is_not_declared_offline_while_it_reports(drone, settings):
    settings.DRONE_OFFLINE_AFTER_S = 180
    behind = timedelta(hours=3)
    for minute in range(5):
        arrived = T0 + timedelta(minutes=minute)
        process_batch([record(report(sent_at=iso(arrived - behind)), arrived=arrived, offset=minute)])
        assert detect_offline(now=arrived + timedelta(seconds=30)) == []
    drone.refresh_from_db()
    assert drone.online and drone.last_seen_at == T0 + timedelta(minutes=4)
    assert not Alert.objects.exists()


def test_a_drone_whose_clock_runs_ahead_does_not_look_alive_once_silent(drone, settings):
    settings.DRONE_OFFLINE_AFTER_S = 180
    # Four minutes ahead: within the allowed skew, so its sent_at is trusted as the report's time,
    # but its liveness is when the report arrived.
    process_batch([record(report(sent_at=iso(T0 + timedelta(minutes=4))), arrived=T0)])
    events = detect_offline(now=T0 + timedelta(seconds=181))
    assert [decode_event(e.payload).alert.kind for e in events] == ["drone_offline"]
    drone.refresh_from_db()
    assert not drone.online


def test_the_drone_admin_shows_how_many_reports_had_a_skewed_clock(client, admin_user, drone):
    process_batch([record(report(sent_at=iso(T0 + timedelta(hours=1))), arrived=T0)])
    sign_in_with_second_factor(client, admin_user)
    assert b"Reports clock skew" in client.get("/admin/ingest/drone/").content
    assert b"Reports clock skew" in client.get(f"/admin/ingest/drone/{drone.pk}/change/").content
