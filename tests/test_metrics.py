"""/healthz, /readyz and /metrics: who may read them, and that real traffic moves the numbers.

Real parts: the embedded broker, consumer and web processes started as
`make run` starts them, Channels' WebsocketCommunicator on the ASGI app.
"""

import asyncio
import json
import sys
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from alerts.consumer import process_batch
from peacewatch import metrics
from peacewatch.streams.batch import Record
from tests.alerts.test_live import connect_as, live_hub, receive_type  # noqa: F401 - live_hub is a fixture
from tests.conftest import free_port, sign_in_with_second_factor
from tests.factories import citizen, report
from tests.kafka import produce, produce_sync, run_consumer_until
from tests.live_stack import LiveStack


def local_value(metric, sample_name: str | None = None, **labels) -> float:
    """This process's value of a sample (other test workers write their own files)."""
    wanted = sample_name or metric._name + ("_total" if metric._type == "counter" else "")
    total = 0.0
    for family in metric.collect():
        for sample in family.samples:
            if sample.name == wanted and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def scrape(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# --- access ---------------------------------------------------------------------


@pytest.mark.django_db
def test_metrics_are_readable_from_loopback_when_no_token_is_set(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics")  # the test client comes from 127.0.0.1
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"peacewatch_reports_consumed_total" in response.content or b"# HELP" in response.content


@pytest.mark.django_db
def test_metrics_are_refused_to_other_addresses_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403


@pytest.mark.django_db
def test_with_a_token_only_the_bearer_or_staff_may_read_metrics(client, settings, officer, admin_user):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    assert client.get("/metrics").status_code == 403  # loopback is no longer enough
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics-token").status_code == 200
    client.force_login(officer)
    assert client.get("/metrics").status_code == 403
    sign_in_with_second_factor(client, admin_user)
    assert client.get("/metrics").status_code == 200


# --- readiness ------------------------------------------------------------------


@pytest.mark.django_db
def test_readyz_is_ready_when_database_kafka_and_analytics_answer(client, broker):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert {body["checks"][name] for name in ("database", "kafka", "analytics")} == {"ok"}


@pytest.mark.django_db
def test_readyz_says_unavailable_when_kafka_is_down(client, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["kafka"] == "fail"
    assert response.json()["checks"]["database"] == "ok"
    assert "127.0.0.1" not in response.content.decode()  # no addresses to anonymous callers


@pytest.mark.django_db
def test_healthz_needs_no_dependency(client, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"
    assert client.get("/healthz").status_code == 200


# --- what the numbers count -----------------------------------------------------


@pytest.mark.django_db
def test_alerts_raised_are_counted_by_kind_and_event():
    created = local_value(metrics.ALERTS_RAISED, kind="citizen", event="created")
    updated = local_value(metrics.ALERTS_RAISED, kind="citizen", event="updated")
    process_batch([Record(value=json.dumps(report(citizens=[citizen("Metric Person", 5.0)])).encode())])
    process_batch([Record(value=json.dumps(report(citizens=[citizen("Metric Person", 6.0)])).encode())])
    assert local_value(metrics.ALERTS_RAISED, kind="citizen", event="created") == created + 1
    assert local_value(metrics.ALERTS_RAISED, kind="citizen", event="updated") == updated + 1


@pytest.mark.django_db(transaction=True)
async def test_websocket_clients_and_alert_latency_are_measured(client, officer, live_hub):  # noqa: F811
    clients_before = local_value(metrics.WEBSOCKET_CLIENTS)
    latency_count = local_value(metrics.ALERT_LATENCY, "peacewatch_alert_latency_seconds_count")
    communicator, connected, _ = await connect_as(client, officer)
    assert connected
    assert local_value(metrics.WEBSOCKET_CLIENTS) == clients_before + 1
    await asyncio.wait_for(live_hub.ready.wait(), 20)

    await produce([report(citizens=[citizen("Latency Person", 3.0)])])
    consumer = asyncio.create_task(run_consumer_until("alerts", lambda r: r.stats["alert_events"] >= 1))
    await receive_type(communicator, "alert.created")
    await consumer
    await asyncio.sleep(0.1)  # the pump observes right after the send
    assert local_value(metrics.ALERT_LATENCY, "peacewatch_alert_latency_seconds_count") == latency_count + 1
    await communicator.disconnect()
    assert local_value(metrics.WEBSOCKET_CLIENTS) == clients_before


@pytest.mark.django_db(transaction=True)
def test_one_metrics_endpoint_shows_what_separate_consumer_processes_counted(broker, tmp_path, monkeypatch, settings):
    # The web server and the consumer are separate processes sharing one
    # metrics directory, as under `make run`.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    monkeypatch.delenv("METRICS_TOKEN", raising=False)
    stack = LiveStack(tmp_path, free_port())
    try:
        stack.start_consumer("indexer")
        stack.start_web()
        stack.wait_consumer_ready("indexer")
        good = [report(report_id=f"m-{i}", drone_id=f"pw-{i % 5}") for i in range(40)]
        produce_sync([*good, b"not json at all", json.dumps(report(location={"lat": 500, "lon": 0})).encode()])

        deadline = time.monotonic() + 30
        while True:
            response = requests.get(f"{stack.url}/metrics", timeout=10)
            assert response.status_code == 200
            seen = scrape(response.text)
            consumed = seen.get(("peacewatch_reports_consumed_total", (("consumer", "indexer"),)), 0)
            lags = {
                labels: value
                for (name, labels), value in seen.items()
                if name == "peacewatch_consumer_lag" and ("consumer", "indexer") in labels
            }
            if consumed >= 42 and len(lags) == settings.KAFKA_REPORTS_PARTITIONS and not any(lags.values()):
                break
            assert time.monotonic() < deadline, (consumed, lags, stack.log("consumer-indexer"))
            time.sleep(0.5)

        assert consumed == 42
        dead = {labels: value for (name, labels), value in seen.items() if name == "peacewatch_dead_letters_total"}
        assert dead == {
            (("error", "invalid_json"), ("source", "indexer")): 1,
            (("error", "schema"), ("source", "indexer")): 1,
        }
        assert seen[("peacewatch_consumer_partitions", (("consumer", "indexer"),))] == settings.KAFKA_REPORTS_PARTITIONS
        ready = requests.get(f"{stack.url}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
    finally:
        stack.stop_all()


def test_clear_metrics_empties_the_directory(tmp_path):
    import subprocess

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "counter_x-1.db").write_bytes(b"")
    result = subprocess.run(
        [sys.executable, "manage.py", "clear_metrics"],
        env={
            "PATH": "/usr/bin:/bin",
            "DEBUG": "true",
            "PEACEWATCH_VAR_DIR": str(tmp_path),
            "PROMETHEUS_MULTIPROC_DIR": str(folder),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert list(folder.iterdir()) == []


@pytest.mark.django_db
def test_readyz_probes_once_per_period_however_many_callers(client, broker, monkeypatch):
    from peacewatch import views

    monkeypatch.setattr(views, "READY_CACHE_S", 1.5)
    first = client.get("/readyz").json()
    again = [client.get("/readyz").json() for _ in range(20)]
    # The same probe answered every caller: same timings, only older.
    assert all(body["checks"] == first["checks"] for body in again)
    assert again[-1]["age_s"] >= first["age_s"]
    time.sleep(1.6)
    assert client.get("/readyz").json()["age_s"] == 0.0  # a new probe once the period is over


@pytest.mark.django_db
def test_a_fresh_readyz_answer_is_not_aged_by_a_slow_dependency(client, broker, monkeypatch):
    from peacewatch import views

    probe = views._probe

    def slow_probe():
        time.sleep(0.3)  # a database or broker slow to answer, as on a loaded cluster
        return probe()

    monkeypatch.setattr(views, "_probe", slow_probe)
    assert client.get("/readyz").json()["age_s"] == 0.0
