"""The audit log is complete and tamper-evident (issue 14, point 5).

Every path a person takes leaves an entry: sign-in and its failures, searches
(who looked at whom), alert changes, drone registry verbs, admin changes of
settings, users and roles. Entries form a hash chain that ``audit verify``
checks: an entry edited, inserted or deleted with plain SQL is found.
"""

import hashlib
import json
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from alerts.models import Alert, AlertAction, AlertSettings
from analytics import audit
from analytics.models import AuditEntry
from ingest import fleet
from ingest.models import Drone
from peacewatch.roles import ensure_groups
from tests.alerts.test_api import patch, raise_alert
from tests.conftest import _user_with_role, sign_in_with_second_factor

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def table() -> str:
    return connection.ops.quote_name(AuditEntry._meta.db_table)


def three_searches(analyst) -> list[AuditEntry]:
    return [audit.record(analyst, "search", {"time": {"last": "1h"}}, ip="10.0.0.7", total=n) for n in range(3)]


# --- the chain -----------------------------------------------------------------------------------


def test_each_entry_carries_the_hash_of_the_one_before(analyst):
    first, second, third = three_searches(analyst)
    assert (first.seq + 1, first.seq + 2) == (second.seq, third.seq)
    assert second.prev_hash == first.hash and third.prev_hash == second.hash
    assert len({first.hash, second.hash, third.hash}) == 3
    result = audit.verify()
    assert result.intact and result.head_seq == third.seq and result.head_hash == third.hash


def test_an_entry_edited_with_plain_sql_is_found(analyst):
    _, edited, _ = three_searches(analyst)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table()} SET username = 'someone else' WHERE seq = %s", [edited.seq])
    result = audit.verify()
    assert not result.intact
    assert [(b.seq, "edited" in b.problem) for b in result.breaks] == [(edited.seq, True)]
    with pytest.raises(CommandError, match="does not hold"):
        call_command("audit", "verify")


def test_an_entry_deleted_with_plain_sql_is_found(analyst):
    _, deleted, after = three_searches(analyst)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table()} WHERE seq = %s", [deleted.seq])
    problems = [str(b) for b in audit.verify().breaks]
    assert any(f"entry {after.seq}" in p and "missing" in p for p in problems)


def test_the_last_entries_deleted_with_plain_sql_are_found(analyst):
    three_searches(analyst)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table()} WHERE seq = (SELECT MAX(seq) FROM {table()})")
    problems = [str(b) for b in audit.verify().breaks]
    assert len(problems) == 1 and "the head says" in problems[0]


def test_an_entry_inserted_with_plain_sql_is_found_even_with_a_plausible_hash(analyst):
    first, second, _ = three_searches(analyst)
    forged = AuditEntry(
        seq=second.seq,
        username="ghost",
        action="search",
        query={},
        detail={},
        at=first.at,
        prev_hash=first.hash,
        hash="",
    )
    forged.hash = audit.entry_hash(forged)  # the forger knows the formula
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table()} SET seq = seq + 1000 WHERE seq >= %s", [second.seq])
        cursor.execute(
            f"INSERT INTO {table()} (seq, username, action, query, detail, at, ip, prev_hash, hash)"
            " VALUES (%s, %s, %s, %s, %s, %s, NULL, %s, %s)",
            [forged.seq, "ghost", "search", "{}", "{}", first.at, forged.prev_hash, forged.hash],
        )
    assert not audit.verify().intact


@pytest.mark.django_db(transaction=True)
def test_writers_at_once_get_one_unbroken_chain(analyst):
    errors = []

    def write(n: int) -> None:
        try:
            for i in range(15):
                audit.record(analyst, "search", {}, writer=n, i=i)
        except Exception as exc:  # the assertion below names it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seqs = list(AuditEntry.objects.filter(action="search").order_by("seq").values_list("seq", flat=True))
    assert len(seqs) == 60
    assert audit.verify().intact


def test_an_export_can_be_checked_by_anyone_with_sha256(analyst, tmp_path):
    three_searches(analyst)
    out = tmp_path / "audit.ndjson"
    call_command("audit", "export", "--since", "2000-01-01", "--output", str(out))
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["action"] for line in lines][-3:] == ["search"] * 3
    previous = None
    for line in lines:
        claimed = line.pop("hash")
        # An oversight body's own check: compact JSON, sorted keys, SHA-256.
        body = json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(body.encode()).hexdigest() == claimed
        if previous is not None:
            assert line["prev_hash"] == previous
        previous = claimed
    assert (out.stat().st_mode & 0o777) == 0o600


def test_an_export_names_a_bad_date(capsys):
    with pytest.raises(CommandError, match="--since 'yesterday'"):
        call_command("audit", "export", "--since", "yesterday")


# --- what is recorded ----------------------------------------------------------------------------


def test_sign_ins_failures_and_sign_outs_through_the_login_page_are_recorded(client, officer):
    client.post("/accounts/login/", {"username": "officer1", "password": "wrong"}, REMOTE_ADDR="10.1.2.3")
    client.post("/accounts/login/", {"username": "officer1", "password": PASSWORD}, REMOTE_ADDR="10.1.2.3")
    client.post("/accounts/logout/", REMOTE_ADDR="10.1.2.3")
    (failed,) = entries("auth.sign_in_failed")
    assert (failed.username, failed.ip, failed.user) == ("officer1", "10.1.2.3", None)
    assert PASSWORD not in json.dumps(failed.detail) and "wrong" not in json.dumps(failed.detail)
    (signed_in,) = entries("auth.sign_in")
    assert (signed_in.username, signed_in.ip) == ("officer1", "10.1.2.3")
    (signed_out,) = entries("auth.sign_out")
    assert signed_out.username == "officer1" and signed_out.seq > signed_in.seq > failed.seq


def test_a_citizen_timeline_says_who_looked_at_whom(client, analyst):
    client.force_login(analyst)
    response = client.post(
        "/api/v1/reports/search",
        {"time": {"last": "30d"}, "citizen": {"key": "subj-77"}, "size": 50, "purpose": "case 2026-0005"},
        content_type="application/json",
    )
    assert response.status_code == 200
    (entry,) = entries("search")
    assert entry.username == "analyst1"
    assert entry.detail["looked_at"] == {"key": "subj-77"}
    assert entry.detail["purpose"] == "case 2026-0005"


def test_an_officer_changing_an_alert_is_recorded_and_the_trail_outlives_the_alert(client, officer):
    alert = raise_alert()
    client.force_login(officer)
    assert patch(client, alert.pk, {"status": "acknowledged", "note": "on my way"}).status_code == 200
    (entry,) = entries("alert.change")
    assert (entry.username, entry.detail["alert_id"], entry.detail["subject"]) == ("officer1", alert.pk, alert.subject)
    assert entry.detail["changes"] == [
        {"action": "acknowledged", "detail": ""},
        {"action": "noted", "detail": "on my way"},
    ]
    Alert.objects.filter(pk=alert.pk).delete()
    kept = list(AlertAction.objects.filter(alert_ref=alert.pk).values_list("action", flat=True))
    assert kept == ["acknowledged", "noted"]


def test_drone_registry_verbs_are_recorded_with_who_did_them(admin_user):
    drone = Drone(drone_id="pw-audit-1")
    fleet.register_drone(drone, by=admin_user, ip="10.9.9.9")
    fleet.rotate_token(drone, by=admin_user)
    fleet.retire_drone(drone, by=admin_user)
    fleet.reactivate_drone(drone, by=admin_user)
    recorded = AuditEntry.objects.filter(action__startswith="drone.").order_by("seq")
    assert [(e.action, e.username, e.detail["drone_id"]) for e in recorded] == [
        ("drone.register", "admin1", "pw-audit-1"),
        ("drone.token", "admin1", "pw-audit-1"),
        ("drone.retire", "admin1", "pw-audit-1"),
        ("drone.reactivate", "admin1", "pw-audit-1"),
    ]
    assert recorded[0].ip == "10.9.9.9"


def test_admin_changes_to_thresholds_and_roles_are_recorded(client, admin_user, officer):
    sign_in_with_second_factor(client, admin_user)
    settings_row = AlertSettings.objects.get_or_create(pk=1)[0]
    form = {"threshold": "25", "critical_threshold": "10", "min_confidence": "", "dismissal_quiet_minutes": "30"}
    response = client.post(f"/admin/alerts/alertsettings/{settings_row.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    (change,) = entries("admin.change")
    assert (change.username, change.detail["model"]) == ("admin1", "alerts.alertsettings")
    assert "Threshold" in json.dumps(change.detail["message"])

    groups = ensure_groups()
    officer.groups.add(groups["analyst"])
    roles = entries("user.roles")[-1]
    assert roles.detail["user_changed"] == "officer1"
    assert (roles.detail["change"], roles.detail["groups"]) == ("add", ["analyst"])
    assert roles.detail["roles_now"] == ["analyst", "officer", "squad:*"]


# --- who reads it ---------------------------------------------------------------------------------


def staff_with_role(django_user_model, username: str, role: str):
    return _user_with_role(django_user_model, username, role, is_staff=True)


def test_an_admin_runs_the_fleet_and_accounts_but_cannot_read_the_audit_log(client, django_user_model):
    sign_in_with_second_factor(client, staff_with_role(django_user_model, "admin2", "admin"))
    pages = ("/admin/ingest/drone/", "/admin/ingest/drone/add/", "/admin/alerts/alertsettings/", "/admin/auth/user/")
    for url in pages:
        assert client.get(url).status_code == 200, url
    assert client.get("/admin/analytics/auditentry/").status_code == 403
    assert "Audit log" not in client.get("/admin/").content.decode()


def test_an_auditor_reads_the_audit_log_and_changes_nothing(client, django_user_model, analyst):
    entry = audit.record(analyst, "search", {})
    sign_in_with_second_factor(client, staff_with_role(django_user_model, "auditor1", "auditor"))
    assert client.get("/admin/analytics/auditentry/").status_code == 200
    assert client.get(f"/admin/analytics/auditentry/{entry.pk}/change/").status_code == 200
    assert client.post(f"/admin/analytics/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    for url in ("/admin/ingest/drone/", "/admin/alerts/alertsettings/", "/admin/auth/user/"):
        assert client.get(url).status_code == 403, url
