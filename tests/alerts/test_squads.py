"""Officers see only the alerts and drones of their squads (issue 14, point 3), on every path to a browser.

REST (list, catch-up after a seq, changes), the drones API, and the live
WebSocket (alert events and drone positions), with the real embedded broker
and the real alerts consumer.
"""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from alerts.consumer import process_batch
from alerts.models import Alert
from ingest.models import Drone
from ingest.squads import all_squads_group
from peacewatch.streams.batch import Record
from tests.alerts.test_live import connect_as, live_hub  # noqa: F401 - live_hub is a fixture
from tests.conftest import _user_with_role
from tests.factories import citizen, report
from tests.kafka import produce, run_consumer_until

pytestmark = pytest.mark.django_db(transaction=True)


def officer_of(django_user_model, username: str, *squads: str):
    user = _user_with_role(django_user_model, username, "officer")
    for squad in squads:
        user.groups.add(all_squads_group() if squad == "*" else ensure_squad(squad))
    return user


def ensure_squad(name: str):
    from django.contrib.auth.models import Group

    return Group.objects.get_or_create(name=f"squad:{name}")[0]


@pytest.fixture
def fleet():
    Drone.objects.create(drone_id="pw-north-1", squad="north", token_hash="x" * 64)
    Drone.objects.create(drone_id="pw-south-1", squad="south", token_hash="y" * 64)


def raise_alert(name: str, drone_id: str) -> Alert:
    process_batch([Record(value=json.dumps(report(citizens=[citizen(name, 5.0)], drone_id=drone_id)).encode())])
    return Alert.objects.get(citizen=name)


def listed(client, **params) -> list[str]:
    return sorted(a["citizen"] or a["kind"] for a in client.get("/api/v1/alerts/", params).json()["results"])


def test_an_officer_lists_and_catches_up_on_their_squads_alerts_only(client, django_user_model, fleet):
    north = raise_alert("North Person", "pw-north-1")
    raise_alert("South Person", "pw-south-1")
    pipeline = Alert.objects.create(
        kind=Alert.Kind.PIPELINE, subject="fleet", severity="critical", drone_id="", lat=0, lon=0, report_id="",
        observed_at=north.observed_at, first_observed_at=north.observed_at, raised_at=north.raised_at,
        updated_at=north.updated_at, seq=north.seq + 10,
    )  # fmt: skip

    client.force_login(officer_of(django_user_model, "north1", "north"))
    assert listed(client) == ["North Person", "pipeline"]
    assert listed(client, after_seq=0) == ["North Person", "pipeline"]
    south = Alert.objects.get(citizen="South Person")
    response = client.patch(f"/api/v1/alerts/{south.pk}/", {"status": "acknowledged"}, content_type="application/json")
    assert response.status_code == 404
    assert (
        client.patch(
            f"/api/v1/alerts/{north.pk}/", {"status": "acknowledged"}, content_type="application/json"
        ).status_code
        == 200
    )

    client.force_login(officer_of(django_user_model, "nosquad1"))
    assert listed(client) == ["pipeline"]  # no squad: nothing of any squad (fails closed)
    client.force_login(officer_of(django_user_model, "all1", "*"))
    assert listed(client) == ["North Person", "South Person", "pipeline"]
    assert pipeline.pk


def test_the_drones_api_lists_their_squads_drones_only(client, django_user_model, fleet):
    client.force_login(officer_of(django_user_model, "south1", "south"))
    drones = [d["drone_id"] for d in client.get("/api/v1/drones/").json()["results"]]
    assert drones == ["pw-south-1"]


async def test_the_live_stream_carries_only_their_squads_alerts_and_drones(
    client,
    django_user_model,
    fleet,
    live_hub,  # noqa: F811 - the fixture imported above
):
    north = await database_sync_to_async(officer_of)(django_user_model, "north2", "north")
    communicator, connected, _ = await connect_as(client, north)
    assert connected
    await asyncio.wait_for(live_hub.ready.wait(), 20)

    await produce(
        [
            report(citizens=[citizen("South Live", 4.0)], drone_id="pw-south-1"),
            report(citizens=[citizen("North Live", 4.0)], drone_id="pw-north-1"),
        ]
    )
    consumer = asyncio.create_task(run_consumer_until("alerts", lambda r: r.stats["alert_events"] >= 2))
    alerts, positions = [], set()
    deadline = asyncio.get_running_loop().time() + 30
    while not (alerts and positions) and asyncio.get_running_loop().time() < deadline:
        frame = json.loads(await communicator.receive_from(timeout=30))
        if frame["type"].startswith("alert."):
            alerts.append(frame["alert"]["citizen"])
        elif frame["type"] == "drones.positions":
            positions |= {row[0] for row in frame["drones"]}
    await consumer
    assert alerts == ["North Live"]  # the south alert, published first, never came
    assert positions == {"pw-north-1"}
    await communicator.disconnect()
