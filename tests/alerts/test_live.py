"""Officers get alert events live over /ws/alerts/; others are refused.

Real parts: Channels' WebsocketCommunicator on the project's ASGI app, the real
embedded broker, the real alerts consumer runner.
"""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from alerts.live import hub
from peacewatch.asgi import application
from tests.factories import citizen, report
from tests.kafka import produce, run_consumer_until

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
