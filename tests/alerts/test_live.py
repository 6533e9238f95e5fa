"""Officers get alert events live over /ws/alerts/; others are refused.

Real parts: Channels' WebsocketCommunicator on the project's ASGI app, the real
embedded broker, the real alerts consumer runner.
"""

import asyncio
import json
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from alerts.live import hub
from alerts.models import Alert
from alerts.services import current_seq
from peacewatch.asgi import application
from peacewatch.streams import kafka
from tests.factories import citizen, report
from tests.kafka import produce, run_async, run_consumer_until

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1:8000")


async def connect_as(client, user=None, origin=ORIGIN):
    """A WebSocket to the real ASGI app, signed in through a real session cookie."""
    headers = [origin, (b"host", b"127.0.0.1:8000")]
    if user is not None:
        await database_sync_to_async(client.force_login)(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/alerts/", headers=headers)
    connected, code = await communicator.connect(timeout=10)
    return communicator, connected, code


async def receive_type(communicator, wanted: str, timeout: float = 20):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        message = json.loads(await communicator.receive_from(timeout=max(remaining, 0.01)))
        if message["type"] == wanted:
            return message


@pytest.fixture
async def live_hub(broker):
    yield hub
    await hub.stop()


async def test_an_officer_receives_alert_created_for_a_bad_report_produced_to_kafka(client, officer, live_hub):
    communicator, connected, _ = await connect_as(client, officer)
    assert connected
    assert json.loads(await communicator.receive_from(timeout=10))["type"] == "hello"
    await asyncio.wait_for(live_hub.ready.wait(), 20)

    bad = report(citizens=[citizen("Jeanne Martin", 12.5)], drone_id="pw-00042")
    await produce([bad])
    consumer = asyncio.create_task(run_consumer_until("alerts", lambda r: r.stats["alert_events"] >= 1))
    event = await receive_type(communicator, "alert.created")
    await consumer
    assert event["alert"]["citizen"] == "Jeanne Martin"
    assert event["alert"]["peacescore"] == 12.5
    assert event["alert"]["drone_id"] == "pw-00042"
    assert event["alert"]["status"] == "new"
    await communicator.disconnect()


async def test_drone_positions_reach_officers(client, officer, live_hub):
    communicator, connected, _ = await connect_as(client, officer)
    assert connected
    await asyncio.wait_for(live_hub.ready.wait(), 20)
    await asyncio.sleep(0.5)  # the positions reader starts from the latest record
    await produce([report(drone_id="pw-00777", location={"lat": 48.87, "lon": 2.33})])
    while True:
        message = await receive_type(communicator, "drones.positions")
        seen = {row[0]: dict(zip(message["fields"], row, strict=True)) for row in message["drones"]}
        if "pw-00777" in seen:
            break
    assert (seen["pw-00777"]["lat"], seen["pw-00777"]["lon"]) == (48.87, 2.33)
    await communicator.disconnect()


async def test_an_analyst_is_refused(client, analyst):
    _, connected, code = await connect_as(client, analyst)
    assert not connected
    assert code == 4403


async def test_an_anonymous_user_is_refused(client):
    _, connected, code = await connect_as(client, None)
    assert not connected
    assert code == 4403


async def test_a_foreign_origin_is_refused_even_for_an_officer(client, officer):
    _, connected, _ = await connect_as(client, officer, origin=(b"origin", b"https://evil.example"))
    assert not connected


@pytest.mark.parametrize(
    "origin",
    [
        b"http://127.0.0.1:9999",  # same host, another port: another service's page
        b"https://127.0.0.1:8000",  # another scheme
        b"http://localhost:8000",  # another host name
        b"http://127.0.0.1:8000.evil.example",
        b"null",
        b"",
    ],
)
async def test_an_origin_differing_in_scheme_host_or_port_is_refused(client, officer, origin):
    _, connected, _ = await connect_as(client, officer, origin=(b"origin", origin))
    assert not connected


async def test_an_origin_in_csrf_trusted_origins_is_accepted_as_for_http(client, officer, live_hub, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://peacewatch.example.org"]
    communicator, connected, _ = await connect_as(
        client, officer, origin=(b"origin", b"https://peacewatch.example.org")
    )
    assert connected
    await communicator.disconnect()


async def test_a_browser_that_falls_behind_is_cut_and_the_drop_is_counted(client, officer, live_hub, settings):
    from alerts import live

    communicator, connected, _ = await connect_as(client, officer)
    assert connected
    before = live_hub.stats["dropped"]
    for i in range(live.QUEUE_SIZE + 10):
        live_hub.broadcast(json.dumps({"type": "test", "n": i}))
    # The connection is closed with the resync code rather than silently skipping events.
    while True:
        output = await communicator.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            break
    assert output["code"] == 4409
    assert live_hub.stats["dropped"] - before >= 10


async def test_browsers_are_told_to_resync_when_the_event_stream_restarts(client, officer, live_hub):
    communicator, connected, _ = await connect_as(client, officer)
    assert connected
    await asyncio.wait_for(live_hub.ready.wait(), 20)
    live_hub.resync_all()  # what a restarted alerts reader does
    while True:
        output = await communicator.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            break
    assert output["code"] == 4409


# --- issue 12: a stream that goes back, start-up, slow clients, revoked users -------------------


async def next_alert_or_close(communicator, timeout: float = 30):
    """The next alert event, or the close code if the server closes first."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = max(deadline - asyncio.get_running_loop().time(), 0.01)
        output = await communicator.receive_output(timeout=remaining)
        if output["type"] == "websocket.close":
            return None, output.get("code")
        message = json.loads(output["text"])
        if message["type"].startswith("alert."):
            return message, None


async def wait_closed(communicator, timeout: float = 20) -> int:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = max(deadline - asyncio.get_running_loop().time(), 0.01)
        output = await communicator.receive_output(timeout=remaining)
        if output["type"] == "websocket.close":
            return output["code"]


def recreate_alerts_topic(broker) -> None:
    """The embedded broker restarted (memory only: empty), or on a real cluster the topic deleted and created again."""
    from tests.conftest import Broker

    if isinstance(broker, Broker):
        broker.restart()
        return
    run_async(kafka.delete_topics, [kafka.topic("alerts")])
    deadline = time.monotonic() + 60
    while True:  # deletion completes asynchronously on Apache Kafka
        try:
            if kafka.topic("alerts") in run_async(kafka.ensure_topics):
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.5)


async def catch_up(client, after: int) -> tuple[dict, int]:
    seen, reached = {}, after
    page = (await database_sync_to_async(client.get)("/api/v1/alerts/", {"after_seq": after})).json()
    while True:
        for row in page["results"]:
            seen[row["id"]] = row
            reached = max(reached, row["seq"])
        if not page["next"]:
            return seen, max(reached, page["last_seq"])
        page = (await database_sync_to_async(client.get)(page["next"])).json()


async def test_alerts_still_reach_a_connected_officer_after_the_alerts_topic_is_recreated(
    client, officer, live_hub, broker, monkeypatch
):
    from alerts import live

    monkeypatch.setattr(live, "CHECK_EVERY_S", 0.5)
    communicator, connected, _ = await connect_as(client, officer)
    assert connected
    await produce([report(citizens=[citizen(f"Before {i}", 5.0)]) for i in range(5)])
    await run_consumer_until("alerts", lambda r: r.stats["alert_events"] >= 5)
    for _ in range(5):
        await receive_type(communicator, "alert.created")

    await asyncio.to_thread(recreate_alerts_topic, broker)  # the reader's offset is now beyond the log end

    await produce([report(citizens=[citizen("After Recreate", 4.0)])])
    await run_consumer_until("alerts", lambda r: r.stats["alert_events"] >= 1, timeout=60)
    event, code = await next_alert_or_close(communicator)
    if event is None:
        # Told to resync: what a browser does, reconnect and catch up.
        assert code == 4409
        communicator, connected, _ = await connect_as(client, officer)
        assert connected
        seen, _ = await catch_up(client, after=0)
        assert "After Recreate" in {row["citizen"] for row in seen.values()}
    else:
        assert event["alert"]["citizen"] == "After Recreate"
    # From here on, alerts arrive live again.
    await produce([report(citizens=[citizen("Later Still", 3.0)])])
    await run_consumer_until("alerts", lambda r: r.stats["alert_events"] >= 1, timeout=60)
    while True:
        event, code = await next_alert_or_close(communicator)
        assert code is None, f"closed with {code} instead of delivering live"
        if event["alert"]["citizen"] == "Later Still":
            break
    assert live_hub.stats["stream_resets"] >= 1
    await communicator.disconnect()


async def test_a_web_process_started_during_a_burst_delivers_every_alert_live_or_by_catch_up(client, officer, live_hub):
    await live_hub.stop()  # a process just started: no reader yet
    first = [report(citizens=[citizen(f"Burst {i}", 5.0)]) for i in range(200)]
    second = [report(citizens=[citizen(f"Burst {i}", 5.0)]) for i in range(200, 400)]
    await produce(first)
    consumer = asyncio.create_task(run_consumer_until("alerts", lambda r: r.stats["alert_events"] >= 400, timeout=90))
    for _ in range(3000):  # connect once the burst is under way
        if await database_sync_to_async(Alert.objects.count)():
            break
        await asyncio.sleep(0.01)

    communicator, connected, _ = await connect_as(client, officer)  # waits for the reader's position
    assert connected
    live_seqs = set()

    async def read_live():
        while True:
            message = json.loads(await communicator.receive_from(timeout=60))
            if message["type"].startswith("alert."):
                live_seqs.add(message["alert"]["seq"])

    reader = asyncio.create_task(read_live())
    _, reached = await catch_up(client, after=0)  # the browser's catch-up, once connected
    await produce(second)
    await consumer
    final = await database_sync_to_async(current_seq)()
    for _ in range(300):
        if set(range(reached + 1, final + 1)) <= live_seqs:
            break
        await asyncio.sleep(0.1)
    reader.cancel()
    # Everything up to the catch-up came by REST, everything after live: no gap in between.
    assert set(range(reached + 1, final + 1)) <= live_seqs
    assert reached < final  # the burst really went on after the connection
    assert await database_sync_to_async(Alert.objects.count)() == 400
    await communicator.disconnect()


async def test_a_client_that_stops_acknowledging_gets_no_more_than_the_window_then_is_cut(
    client, officer, live_hub, monkeypatch
):
    from alerts import live

    monkeypatch.setattr(live, "STALL_S", 1.0)
    communicator, connected, _ = await connect_as(client, officer)
    assert connected
    for i in range(live.WINDOW_FRAMES + 50):
        live_hub.broadcast(json.dumps({"type": "test", "n": i}))
    frames = 0
    while True:
        output = await communicator.receive_output(timeout=10)
        if output["type"] == "websocket.close":
            break
        frames += 1
    assert frames == live.WINDOW_FRAMES  # hello and snapshot included
    assert output["code"] == 4409


async def test_a_quiet_connection_hears_a_heartbeat_so_the_page_can_tell_no_alerts_from_no_link(
    client, officer, live_hub, monkeypatch
):
    from alerts import ws

    monkeypatch.setattr(ws, "HEARTBEAT_S", 0.5)
    communicator, connected, _ = await connect_as(client, officer)
    assert connected
    hello = json.loads(await communicator.receive_from(timeout=10))
    assert hello["type"] == "hello" and hello["heartbeat_s"] == 0.5  # the period in force
    started = asyncio.get_running_loop().time()
    beats = [await receive_type(communicator, "heartbeat", timeout=5) for _ in range(3)]
    assert all("server_time" in beat for beat in beats)
    assert asyncio.get_running_loop().time() - started < 3  # about one every 0.5 s, not more rarely
    await communicator.disconnect()


async def test_a_client_that_acknowledges_receives_everything_beyond_the_window(client, officer, live_hub):
    from alerts import live

    communicator, connected, _ = await connect_as(client, officer)
    assert connected
    total = live.WINDOW_FRAMES * 3
    for i in range(total):
        live_hub.broadcast(json.dumps({"type": "test", "n": i}))
    received, got = 0, []
    while len(got) < total:
        message = json.loads(await communicator.receive_from(timeout=10))
        received += 1
        if message["type"] == "test":
            got.append(message["n"])
        if received % 50 == 0:
            await communicator.send_to(text_data=json.dumps({"type": "ack", "received": received}))
    assert got == list(range(total))
    await communicator.disconnect()


@pytest.mark.parametrize("how", ["logout", "deactivation", "officer_role_removed", "shift_over"])
async def test_an_officer_signed_out_deactivated_or_demoted_is_disconnected_within_five_seconds(
    client, officer, live_hub, how
):
    communicator, connected, _ = await connect_as(client, officer)
    assert connected
    await asyncio.sleep(0.5)
    started = time.monotonic()

    def revoke():
        if how == "logout":
            client.logout()
        elif how == "deactivation":
            officer.is_active = False
            officer.save(update_fields=["is_active"])
        elif how == "officer_role_removed":
            officer.groups.clear()
        else:  # the session reached SESSION_MAX_AGE
            from importlib import import_module

            from django.conf import settings

            from peacewatch.sessions import SIGNED_IN_AT

            store = import_module(settings.SESSION_ENGINE).SessionStore
            session = store(session_key=client.cookies["sessionid"].value)
            session[SIGNED_IN_AT] = time.time() - settings.SESSION_MAX_AGE - 1
            session.save()

    await database_sync_to_async(revoke)()
    assert await wait_closed(communicator, timeout=10) == 4403
    assert time.monotonic() - started < 5


async def test_an_officer_still_allowed_stays_connected(client, officer, live_hub, monkeypatch):
    from alerts import live

    monkeypatch.setattr(live, "USER_CHECK_EVERY_S", 0.2)
    communicator, connected, _ = await connect_as(client, officer)
    assert connected
    before = live_hub.stats["connections_revoked"]
    live_hub.request_user_check()
    await asyncio.sleep(1.5)
    assert live_hub.stats["connections_revoked"] == before
    await communicator.send_to(text_data='{"type": "ping"}')
    await receive_type(communicator, "pong", timeout=5)
    await communicator.disconnect()


def test_the_hub_knows_a_change_it_has_already_seen():
    from alerts.live import SeqWatch

    watch = SeqWatch(10)
    assert [watch.seen(seq) for seq in (12, 11, 12, 11, 10, 13)] == [True, True, False, False, False, True]
    assert watch.through == 13


async def test_a_change_published_twice_reaches_each_browser_once(client, officer, live_hub):
    # The alerts topic is at-least-once (CONTRACT section 3): a relay and a
    # consumer can both publish a change whose acknowledgement was slow.
    communicator, connected, _ = await connect_as(client, officer)
    assert connected
    await asyncio.wait_for(live_hub.ready.wait(), 20)
    seq = await database_sync_to_async(current_seq)() + 1
    created = {"type": "alert.created", "alert": {"id": 1, "seq": seq, "citizen": "Twice Published"}}
    updated = {"type": "alert.updated", "alert": {"id": 1, "seq": seq + 1, "citizen": "Twice Published"}}
    before = live_hub.stats["duplicates_dropped"]
    await produce([created, created, updated, created], topic=kafka.topic("alerts"))

    first, _ = await next_alert_or_close(communicator)
    second, _ = await next_alert_or_close(communicator)
    assert (first["type"], first["alert"]["seq"]) == ("alert.created", seq)
    assert (second["type"], second["alert"]["seq"]) == ("alert.updated", seq + 1)
    assert await communicator.receive_nothing(timeout=2)
    assert live_hub.stats["duplicates_dropped"] - before == 2
    await communicator.disconnect()


def test_the_hub_calls_a_change_lost_only_once_it_was_published_and_still_never_came():
    from alerts.live import MISSING_AFTER_S, SeqWatch

    watch = SeqWatch(10)
    for seq in (11, 13, 14):
        watch.seen(seq)
    assert watch.through == 11  # 12 missing
    published, unpublished = (lambda lo, hi: True), (lambda lo, hi: False)
    # Still in the outbox: a slow publisher, not a loss, however long.
    assert not watch.missing_for(14, unpublished, now=0)
    assert not watch.missing_for(14, unpublished, now=100)
    # Published and not seen: lost once that lasts.
    assert not watch.missing_for(14, published, now=100)
    assert not watch.missing_for(14, published, now=100 + MISSING_AFTER_S / 2)
    assert watch.missing_for(14, published, now=100 + MISSING_AFTER_S)
    # A reader still working through a burst is behind, not missing anything.
    assert not watch.missing_for(14, published, now=200, read_to_end=False)
    assert not watch.missing_for(14, published, now=200 + MISSING_AFTER_S)
    watch.seen(12)
    assert watch.through == 14
    assert not watch.missing_for(14, published, now=1000)
