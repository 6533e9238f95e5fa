"""Fleet silence storm: much of the fleet silent at once is one pipeline alert, not an alert per drone."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.events import decode_event
from alerts.fleet import detect_offline, process_batch
from alerts.models import Alert, OutboxEvent
from ingest.models import Drone
from peacewatch.streams.batch import Record
from tests.factories import report

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def storm_settings(settings):
    settings.DRONE_OFFLINE_AFTER_S = 180
    settings.FLEET_SILENCE_STORM_FRACTION = 0.5
    settings.FLEET_SILENCE_STORM_MIN_DRONES = 10


@pytest.fixture
def t0():
    # Ten minutes ago: offline detection takes its clock as an argument, but an alert is
    # closed at the wall clock's time, and the storm's end is read from that.
    return timezone.now().replace(microsecond=0) - timedelta(minutes=10)


def names(n: int) -> list[str]:
    return [f"pw-{i:03d}" for i in range(n)]


def fleet_of(n: int, t0) -> list[str]:
    """``n`` registered drones spread over a city, each reporting at ``t0``."""
    ids = names(n)
    Drone.objects.bulk_create(Drone(drone_id=drone_id) for drone_id in ids)
    for i, drone_id in enumerate(ids):
        report_from(drone_id, t0, lat=48.80 + i * 0.01, lon=2.30 + i * 0.01)
    return ids


def report_from(drone_id: str, at, **location) -> None:
    """One report, arriving at ``at`` (the drone's clock is right)."""
    doc = report(drone_id=drone_id, sent_at=at.isoformat(), location=location or {"lat": 48.85, "lon": 2.35})
    process_batch([Record(value=json.dumps(doc).encode(), timestamp=int(at.timestamp() * 1000))])


def decode(event):
    return decode_event(event.payload)


def alerts() -> list[tuple[str, str, str]]:
    return sorted(Alert.objects.values_list("kind", "subject", "status"))


def state() -> tuple:
    return (
        list(Alert.objects.order_by("pk").values()),
        list(Drone.objects.order_by("pk").values()),
        OutboxEvent.objects.count(),
    )


def test_sixty_percent_of_the_fleet_silent_at_once_raises_one_pipeline_alert_and_no_drone_offline_alert(t0):
    ids = fleet_of(20, t0)
    silent, reporting = ids[:12], ids[12:]
    for drone_id in reporting:
        report_from(drone_id, t0 + timedelta(seconds=150))

    events = detect_offline(now=t0 + timedelta(seconds=181))

    assert [(decode(e).type, decode(e).alert.kind) for e in events] == [("alert.created", "pipeline")]
    assert alerts() == [("pipeline", "fleet", "new")]
    storm = Alert.objects.get()
    # Where the silence is: the centroid of the silent drones' last positions.
    assert (storm.lat, storm.lon) == pytest.approx((48.80 + 0.055, 2.30 + 0.055))
    assert (storm.subject, storm.drone_id, storm.citizen, storm.peacescore) == ("fleet", "fleet", None, None)
    offline = Drone.objects.filter(online=False)
    assert sorted(offline.values_list("drone_id", flat=True)) == silent  # still marked offline
    assert all(offline.values_list("in_storm", flat=True))


def test_the_pipeline_alert_resolves_itself_once_more_than_half_of_its_drones_report_again(t0):
    ids = fleet_of(20, t0)
    silent = ids[:12]
    for drone_id in ids[12:]:
        report_from(drone_id, t0 + timedelta(seconds=150))
    detect_offline(now=t0 + timedelta(seconds=181))

    for drone_id in silent[:6]:  # half of them: not yet
        report_from(drone_id, t0 + timedelta(seconds=200))
    assert detect_offline(now=t0 + timedelta(seconds=211)) == []
    assert alerts() == [("pipeline", "fleet", "new")]

    report_from(silent[6], t0 + timedelta(seconds=220))  # seven of twelve
    events = detect_offline(now=t0 + timedelta(seconds=241))

    assert [(decode(e).type, decode(e).alert.kind, decode(e).alert.status) for e in events] == [
        ("alert.updated", "pipeline", "resolved")
    ]
    assert alerts() == [("pipeline", "fleet", "resolved")]
    assert Drone.objects.filter(online=True).count() == 8 + 7
    assert sorted(Drone.objects.filter(in_storm=True).values_list("drone_id", flat=True)) == silent[7:]


def test_one_silent_drone_of_twenty_still_raises_its_drone_offline_alert(t0):
    ids = fleet_of(20, t0)
    for drone_id in ids[1:]:
        report_from(drone_id, t0 + timedelta(seconds=150))

    events = detect_offline(now=t0 + timedelta(seconds=181))

    assert [(decode(e).type, decode(e).alert.kind, decode(e).alert.drone_id) for e in events] == [
        ("alert.created", "drone_offline", ids[0])
    ]
    assert alerts() == [("drone_offline", ids[0], "new")]
    assert not Drone.objects.filter(in_storm=True).exists()


def test_a_small_fleet_gone_silent_gets_one_drone_offline_alert_per_drone(t0):
    fleet_of(5, t0)  # all five silent, but fewer than FLEET_SILENCE_STORM_MIN_DRONES
    detect_offline(now=t0 + timedelta(seconds=181))
    assert [kind for kind, _, _ in alerts()] == ["drone_offline"] * 5


def test_running_detection_twice_at_a_storm_or_at_its_end_changes_nothing(t0):
    ids = fleet_of(20, t0)
    for drone_id in ids[12:]:
        report_from(drone_id, t0 + timedelta(seconds=150))
    now = t0 + timedelta(seconds=181)
    detect_offline(now=now)
    assert alerts() == [("pipeline", "fleet", "new")]
    after_storm = state()
    assert detect_offline(now=now) == []
    assert state() == after_storm

    for drone_id in ids[:7]:
        report_from(drone_id, t0 + timedelta(seconds=200))
    detect_offline(now=now + timedelta(seconds=60))
    assert alerts() == [("pipeline", "fleet", "resolved")]
    after_recovery = state()
    assert detect_offline(now=now + timedelta(seconds=60)) == []
    assert state() == after_recovery


def test_a_pipeline_stop_that_silences_the_fleet_over_a_report_interval_still_raises_one_pipeline_alert(t0):
    """Drones report once a minute, so they cross the offline delay one by one; every check sees part of them."""
    ids = names(20)
    Drone.objects.bulk_create(Drone(drone_id=drone_id) for drone_id in ids)
    for i, drone_id in enumerate(ids):  # the last reports before the stop, spread over a minute
        report_from(drone_id, t0 + timedelta(seconds=3 * i))

    events = []
    for check in range(120, 301, 30):  # beat's DRONE_OFFLINE_CHECK_EVERY_S
        events += detect_offline(now=t0 + timedelta(seconds=57 + check))

    assert [(decode(e).type, decode(e).alert.kind) for e in events] == [("alert.created", "pipeline")]
    assert alerts() == [("pipeline", "fleet", "new")]
    assert Drone.objects.filter(online=False, in_storm=True).count() == 20


def test_a_drone_still_silent_after_the_storm_gets_its_own_alert_once_the_fleet_had_time_to_report(t0):
    ids = fleet_of(20, t0)
    for drone_id in ids[12:]:
        report_from(drone_id, t0 + timedelta(seconds=150))
    detect_offline(now=t0 + timedelta(seconds=181))
    for drone_id in ids[1:12]:  # all but one come back
        report_from(drone_id, t0 + timedelta(seconds=200))
    detect_offline(now=t0 + timedelta(seconds=211))
    assert alerts() == [("pipeline", "fleet", "resolved")]
    ended = Alert.objects.get().closed_at

    for drone_id in ids[1:]:
        report_from(drone_id, ended + timedelta(seconds=50))
    assert detect_offline(now=ended + timedelta(seconds=60)) == []  # the fleet may still be catching up
    for drone_id in ids[1:]:
        report_from(drone_id, ended + timedelta(seconds=170))
    events = detect_offline(now=ended + timedelta(seconds=181))

    assert [(decode(e).type, decode(e).alert.kind, decode(e).alert.drone_id) for e in events] == [
        ("alert.created", "drone_offline", ids[0])
    ]
    assert not Drone.objects.filter(in_storm=True).exists()
    assert detect_offline(now=ended + timedelta(seconds=240)) == []


def test_drones_back_from_a_storm_have_no_alert_of_their_own_to_close(t0):
    ids = fleet_of(20, t0)
    detect_offline(now=t0 + timedelta(seconds=181))
    doc = report(drone_id=ids[0], sent_at=(t0 + timedelta(seconds=200)).isoformat())
    outcome = process_batch([Record(value=json.dumps(doc).encode(), timestamp=int((t0.timestamp() + 200) * 1000))])
    assert outcome.messages == []
    assert Drone.objects.get(drone_id=ids[0]).online
