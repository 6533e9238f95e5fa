"""The drone registry: its verbs, its tokens, and the Django admin that drives them."""

import hashlib
import re

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

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
    """The distinct tokens on a page (each is in its message and in its copy button)."""
    return list(dict.fromkeys(TOKEN.findall(response.content.decode())))


def act(client, action, drones, url=CHANGELIST):
    """An admin action on ``drones``, confirmed on its confirmation page."""
    data = {"action": action, "index": 0, "_selected_action": [d.pk for d in drones]}
    return client.post(url, {**data, "confirmed": "yes"}, follow=True)


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


def test_the_drone_list_filters_by_battery_and_state(admin_client, settings):
    settings.DRONE_LOW_BATTERY_PCT = 20
    register("pw-low", battery_pct=5)
    register("pw-ok", battery_pct=90)
    register("pw-unknown")
    Drone.objects.filter(drone_id="pw-ok").update(online=True, last_seen_at=timezone.now())
    Drone.objects.filter(drone_id="pw-low").update(last_seen_at=timezone.now())

    def listed(query):
        return [d.drone_id for d in admin_client.get(CHANGELIST + query).context["cl"].result_list]

    assert listed("?battery=low") == ["pw-low"]
    assert listed("?battery=ok") == ["pw-ok"]
    assert listed("?battery=unknown") == ["pw-unknown"]
    assert listed("?state=online") == ["pw-ok"]
    assert listed("?state=offline") == ["pw-low"]
    assert listed("?state=never_seen") == ["pw-unknown"]
    assert listed("?q=unk") == ["pw-unknown"]


@pytest.mark.parametrize(("action", "verb"), [("retire", "Retire"), ("issue_new_token", "Issue new tokens to")])
def test_retiring_and_rotating_ask_first_and_say_how_many_drones_they_touch(admin_client, action, verb):
    drones = [register(f"pw-{n}")[0] for n in range(3)]
    before = list(Drone.objects.order_by("pk").values_list("status", "token_hash"))

    page = admin_client.post(CHANGELIST, {"action": action, "index": 0, "_selected_action": [d.pk for d in drones]})

    assert page.status_code == 200
    text = page.content.decode()
    assert f"{verb} 3 drones." in text and f"Yes, {verb.lower()} 3 drones" in text
    assert all(d.drone_id in text for d in drones)
    assert list(Drone.objects.order_by("pk").values_list("status", "token_hash")) == before  # nothing yet


def test_select_all_is_confirmed_for_the_whole_filtered_list_not_just_the_page(admin_client):
    for n in range(60):  # more than one page of 50
        register(f"pw-{n:03d}", squad="north" if n < 55 else "south")
    on_page = list(Drone.objects.filter(squad="north").order_by("drone_id").values_list("pk", flat=True)[:50])
    url = CHANGELIST + "?squad=north"
    asked = {"action": "retire", "index": 0, "select_across": "1", "_selected_action": on_page}

    page = admin_client.post(url, asked)
    assert "Retire 55 drones." in page.content.decode() and "and 35 more" in page.content.decode()

    admin_client.post(url, {**asked, "confirmed": "yes"}, follow=True)
    assert Drone.objects.filter(status="retired").count() == 55
    assert not Drone.objects.filter(squad="south", status="retired").exists()


def test_a_retired_drone_is_never_shown_online_whatever_it_still_sends(admin_client):
    drone, _ = register("pw-ret", online=True, last_seen_at=timezone.now())
    act(admin_client, "retire", [drone])
    drone.refresh_from_db()
    assert drone.online  # the stream's own observation is kept...

    assert drone.state == "retired"  # ...but every screen reads the one rule
    row = admin_client.get(CHANGELIST).content.decode()
    assert "drone-state-retired" in row and "drone-state-online" not in row


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
