"""The drone registry: its verbs, its tokens, and the Django admin that drives them."""

import hashlib
import re

import pytest
from django.core.exceptions import ValidationError

from ingest import fleet, tokens
from ingest.models import Drone, UnknownDrone
from tests.conftest import sign_in_with_second_factor

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r"pwd_[A-Za-z0-9_-]{43}")
CHANGELIST = "/admin/ingest/drone/"


@pytest.fixture
def admin_client(client, admin_user):
    sign_in_with_second_factor(client, admin_user)
    return client


def register(drone_id="pw-00042", **fields) -> tuple[Drone, str]:
    drone = Drone(drone_id=drone_id, **fields)
    return drone, fleet.register_drone(drone)


def shown_tokens(response) -> list[str]:
    return TOKEN.findall(response.content.decode())


def act(client, action, drones, url=CHANGELIST):
    return client.post(url, {"action": action, "_selected_action": [d.pk for d in drones]}, follow=True)


# --- tokens and verbs ---------------------------------------------------------------


def test_a_token_is_stored_only_as_its_sha256_and_finds_its_drone():
    drone, token = register()

    drone.refresh_from_db()
    assert TOKEN.fullmatch(token)
    assert drone.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {str(value) for value in Drone.objects.values().get().values()}
    assert tokens.drone_for_token(token) == drone
    assert tokens.drone_for_token(token + "x") is None
    assert tokens.drone_for_token("not-a-token") is None


def test_rotating_a_token_stops_the_old_one_at_once():
    drone, old = register()

    new = fleet.rotate_token(drone)

    assert new != old
    assert tokens.drone_for_token(old) is None
    assert tokens.drone_for_token(new) == drone


def test_a_drone_id_follows_the_report_rule():
    with pytest.raises(ValidationError):
        register("not a drone id!")
    register("pw-00042")
    with pytest.raises(ValidationError):
        register("pw-00042")
    assert Drone.objects.count() == 1


def test_low_battery_follows_the_setting(settings):
    settings.DRONE_LOW_BATTERY_PCT = 30
    low, _ = register("pw-1", battery_pct=25)
    ok, _ = register("pw-2", battery_pct=30)
    unknown, _ = register("pw-3")

    assert (low.low_battery, ok.low_battery, unknown.low_battery) == (True, False, False)
    assert list(Drone.objects.low_battery()) == [low]


# --- admin ------------------------------------------------------------------------------


def test_adding_a_drone_in_the_admin_shows_its_token_once_and_keeps_only_the_hash(admin_client):
    response = admin_client.post(
        "/admin/ingest/drone/add/", {"drone_id": "pw-00042", "name": "North 42", "squad": "north"}, follow=True
    )

    [token] = shown_tokens(response)
    drone = Drone.objects.get(drone_id="pw-00042")
    assert (drone.name, drone.squad, drone.status) == ("North 42", "north", "active")
    assert drone.token_hash == tokens.hash_token(token)
    assert "will not be shown again" in response.content.decode()
    # Never again: not on the next page, nor on the drone's own page.
    assert token not in admin_client.get(CHANGELIST).content.decode()
    assert token not in admin_client.get(f"/admin/ingest/drone/{drone.pk}/change/").content.decode()


def test_the_admin_refuses_a_drone_id_reports_could_not_carry(admin_client):
    response = admin_client.post("/admin/ingest/drone/add/", {"drone_id": "pw 42/bad", "name": "", "squad": ""})

    assert response.status_code == 200  # the form again, with the error
    assert not Drone.objects.exists()


def test_editing_a_drone_changes_only_its_name_and_squad(admin_client):
    drone, token = register(battery_pct=50)
    # Health written by the stream since registration stays as the stream left it.
    Drone.objects.filter(pk=drone.pk).update(battery_pct=12, reports_received=7)

    admin_client.post(f"/admin/ingest/drone/{drone.pk}/change/", {"name": "Renamed", "squad": "south"})

    drone.refresh_from_db()
    assert (drone.name, drone.squad) == ("Renamed", "south")
    assert (drone.battery_pct, drone.reports_received) == (12, 7)
    assert tokens.drone_for_token(token) == drone


def test_retire_and_reactivate_actions(admin_client):
    (a, _), (b, _) = register("pw-1"), register("pw-2")

    act(admin_client, "retire", [a, b])
    assert set(Drone.objects.values_list("status", flat=True)) == {"retired"}

    act(admin_client, "reactivate", [a])
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.status, b.status) == ("active", "retired")


def test_the_issue_a_new_token_action_shows_each_new_token_once_and_revokes_the_old(admin_client):
    (a, old_a), (b, old_b) = register("pw-1"), register("pw-2")

    response = act(admin_client, "issue_new_token", [a, b])

    new = shown_tokens(response)
    assert len(new) == 2
    assert {tokens.drone_for_token(token) for token in new} == {a, b}
    assert tokens.drone_for_token(old_a) is None and tokens.drone_for_token(old_b) is None


def test_the_drone_list_filters_by_battery_status_and_online(admin_client, settings):
    settings.DRONE_LOW_BATTERY_PCT = 20
    register("pw-low", battery_pct=5)
    register("pw-ok", battery_pct=90)
    register("pw-unknown")
    Drone.objects.filter(drone_id="pw-ok").update(online=True)

    def listed(query):
        return [d.drone_id for d in admin_client.get(CHANGELIST + query).context["cl"].result_list]

    assert listed("?battery=low") == ["pw-low"]
    assert listed("?battery=ok") == ["pw-ok"]
    assert listed("?battery=unknown") == ["pw-unknown"]
    assert listed("?online__exact=1") == ["pw-ok"]
    assert listed("?status__exact=active") == ["pw-low", "pw-ok", "pw-unknown"]
    assert listed("?q=unk") == ["pw-unknown"]


def test_the_drone_list_links_to_the_fleet_map(admin_client):
    page = admin_client.get(CHANGELIST).content.decode()

    assert 'href="/"' in page and "Fleet map" in page


def test_unknown_drones_are_listed_read_only_and_can_be_registered(admin_client):
    UnknownDrone.objects.create(drone_id="pw-stray-1", reports=12)
    UnknownDrone.objects.create(drone_id="pw-stray-2", reports=3)
    register("pw-stray-3")
    UnknownDrone.objects.create(drone_id="pw-stray-3", reports=1)  # registered meanwhile

    url = "/admin/ingest/unknowndrone/"
    page = admin_client.get(url)
    assert page.status_code == 200 and "pw-stray-1" in page.content.decode()
    assert admin_client.get("/admin/ingest/unknowndrone/add/").status_code == 403

    response = act(admin_client, "register", UnknownDrone.objects.all(), url=url)

    new = shown_tokens(response)
    assert len(new) == 2
    assert {tokens.drone_for_token(token).drone_id for token in new} == {"pw-stray-1", "pw-stray-2"}
    assert "Already registered: pw-stray-3" in response.content.decode()
    assert not UnknownDrone.objects.exists()
    assert Drone.objects.count() == 3
