"""Fleet health from the stream, offline detection with a controllable clock, unknown drones."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from alerts.events import decode_event
from alerts.fleet import detect_offline, process_batch
from alerts.models import Alert
from ingest.models import Drone, UnknownDrone
from peacewatch.streams.batch import Record
from tests.factories import citizen, report

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def records(*docs):
    """Records as the broker hands them: stamped on arrival, here the moment each was sent (a good clock)."""
    return [
        Record(
            value=json.dumps(doc).encode(),
            offset=i,
            timestamp=int(datetime.fromisoformat(doc["sent_at"]).timestamp() * 1000),
        )
        for i, doc in enumerate(docs)
    ]


@pytest.fixture
def drone():
    return Drone.objects.create(drone_id="pw-00042", name="Bastille 1", squad="east")


def test_a_batch_brings_each_drone_up_to_date_in_one_write(drone):
    process_batch(
        records(
            report(drone_id="pw-00042", sent_at=at(0), seq=1, battery_pct=80, location={"lat": 48.85, "lon": 2.35}),
            report(drone_id="pw-00042", sent_at=at(60), seq=2, battery_pct=79, location={"lat": 48.86, "lon": 2.36}),
        )
    )
    drone.refresh_from_db()
    assert drone.online
    assert drone.last_seen_at == T0 + timedelta(seconds=60)
    assert (drone.last_lat, drone.last_lon, drone.battery_pct) == (48.86, 2.36, 79)
    assert (drone.reports_received, drone.reports_missing, drone.last_seq) == (2, 0, 2)
    assert drone.firmware == "1.4.2"


def test_a_seq_gap_is_counted_not_alerted(drone):
    process_batch(records(*[report(drone_id="pw-00042", sent_at=at(i * 60), seq=s) for i, s in enumerate([1, 2, 5])]))
    process_batch(records(report(drone_id="pw-00042", sent_at=at(600), seq=9)))
    drone.refresh_from_db()
    assert drone.reports_missing == 2 + 3
    assert not Alert.objects.exists()


def test_a_replayed_batch_changes_nothing(drone):
    batch = records(*[report(drone_id="pw-00042", sent_at=at(i * 60), seq=i + 1) for i in range(5)])
    process_batch(batch)
    process_batch(batch)
    drone.refresh_from_db()
    assert (drone.reports_received, drone.reports_missing) == (5, 0)


def test_a_silent_drone_goes_offline_with_exactly_one_alert_and_returns_on_its_next_report(drone, settings):
    settings.DRONE_OFFLINE_AFTER_S = 180
    process_batch(records(report(drone_id="pw-00042", sent_at=at(0), seq=1)))

    assert detect_offline(now=T0 + timedelta(seconds=179)) == []  # not yet
    events = detect_offline(now=T0 + timedelta(seconds=181))
    assert detect_offline(now=T0 + timedelta(seconds=240)) == []  # already offline: no second alert
    drone.refresh_from_db()
    assert not drone.online and drone.offline_since == T0 + timedelta(seconds=181)
    alert = Alert.objects.get()
    assert (alert.kind, alert.subject, alert.citizen, alert.peacescore) == ("drone_offline", "pw-00042", None, None)
    [created] = [decode_event(e.payload) for e in events]
    assert created.type == "alert.created" and created.alert.kind == "drone_offline"

    outcome = process_batch(records(report(drone_id="pw-00042", sent_at=at(300), seq=2)))
    drone.refresh_from_db()
    alert.refresh_from_db()
    assert drone.online and drone.offline_since is None
    assert alert.status == "resolved"
    [updated] = [decode_event(m.value) for m in outcome.messages]
    assert (updated.type, updated.alert.id, updated.alert.status) == ("alert.updated", alert.pk, "resolved")


def test_retired_and_never_seen_drones_are_not_reported_offline(drone, settings):
    Drone.objects.create(drone_id="pw-never", name="never flew")
    retired = Drone.objects.create(drone_id="pw-retired", status=Drone.Status.RETIRED)
    process_batch(records(report(drone_id="pw-retired", sent_at=at(0))))
    retired.refresh_from_db()
    assert retired.online
    assert detect_offline(now=T0 + timedelta(hours=1)) == []


def test_reports_of_unknown_drones_are_counted_for_admins_and_still_alert():
    from alerts.consumer import process_batch as alerts_batch
    from analytics.consumer import process_batch as index_batch
    from analytics.store import get_store

    batch = records(
        report(drone_id="pw-stranger", sent_at=at(0), citizens=[citizen("Jeanne Martin", 5)]),
        report(drone_id="pw-stranger", sent_at=at(60)),
    )
    process_batch(batch)
    process_batch(batch)  # replayed: counted once
    alerts_batch(batch)
    index_batch(batch)
    assert get_store().count() == 2  # stored like any other report
    unknown = UnknownDrone.objects.get()
    assert (unknown.drone_id, unknown.reports) == ("pw-stranger", 2)
    assert unknown.last_seen_at == T0 + timedelta(seconds=60)
    assert Alert.objects.get().drone_id == "pw-stranger"


def test_the_offline_check_is_scheduled_with_celery_beat(settings):
    from peacewatch.celery import app

    schedule = settings.CELERY_BEAT_SCHEDULE["detect-offline-drones"]
    assert schedule["task"] == "alerts.detect_offline_drones"
    app.loader.import_default_modules()  # what a worker does at start-up
    assert "alerts.detect_offline_drones" in app.tasks
    assert settings.CELERY_BEAT_SCHEDULE["prune-alert-outbox"]["task"] in app.tasks


def test_the_drones_api_lists_health_for_officers(client, officer, analyst, drone):
    process_batch(records(report(drone_id="pw-00042", sent_at=at(0), battery_pct=12)))
    Drone.objects.create(drone_id="pw-00043")
    client.force_login(analyst)
    assert client.get("/api/v1/drones/").status_code == 403
    client.force_login(officer)
    body = client.get("/api/v1/drones/").json()
    assert [d["drone_id"] for d in body["results"]] == ["pw-00042", "pw-00043"]
    first = body["results"][0]
    assert (first["online"], first["battery_pct"], first["low_battery"]) == (True, 12, True)
    assert first["location"] == {"lat": 48.8566, "lon": 2.3522}
    assert [d["drone_id"] for d in client.get("/api/v1/drones/?online=false").json()["results"]] == ["pw-00043"]
    assert [d["drone_id"] for d in client.get("/api/v1/drones/?low_battery=true").json()["results"]] == ["pw-00042"]
    assert client.get("/api/v1/drones/?online=perhaps").status_code == 400
    assert [d["state"] for d in body["results"]] == ["online", "never_seen"]


def test_the_drones_api_never_calls_a_retired_drone_online(client, officer, drone):
    process_batch(records(report(drone_id="pw-00042", sent_at=at(0))))
    Drone.objects.filter(drone_id="pw-00042").update(status=Drone.Status.RETIRED)
    process_batch(records(report(drone_id="pw-00042", sent_at=at(60))))  # it still sends, straight to Kafka
    client.force_login(officer)

    (listed,) = client.get("/api/v1/drones/").json()["results"]
    assert (listed["state"], listed["online"]) == ("retired", False)
    assert client.get("/api/v1/drones/?online=true").json()["results"] == []
    assert [d["drone_id"] for d in client.get("/api/v1/drones/?state=retired").json()["results"]] == ["pw-00042"]


@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_runs_the_offline_check_on_the_embedded_default(tmp_path, drone):
    """No Redis: the task travels through kombu's filesystem transport to a real worker process."""
    import subprocess
    import sys
    import time
    import uuid

    from django.conf import settings as django_settings
    from django.utils import timezone

    from alerts.tasks import detect_offline_drones
    from tests.live_stack import child_env

    Drone.objects.filter(pk=drone.pk).update(online=True, last_seen_at=timezone.now() - timedelta(minutes=10))
    queue = f"test-{uuid.uuid4().hex[:8]}"  # this test's own queue in the shared folder
    env = {**child_env(tmp_path), "PEACEWATCH_VAR_DIR": str(django_settings.VAR_DIR)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "peacewatch", "worker", "--pool", "solo", "-Q", queue],
        env=env,
        cwd=django_settings.BASE_DIR,
        stdout=open(tmp_path / "worker.log", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    try:
        detect_offline_drones.apply_async(queue=queue)
        deadline = time.monotonic() + 60
        while not Alert.objects.filter(kind="drone_offline", subject="pw-00042").exists():
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
            assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()[-2000:]
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    drone.refresh_from_db()
    assert not drone.online
