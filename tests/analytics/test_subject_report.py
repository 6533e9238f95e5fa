"""`subject report`: everything held about one subject, for oversight (issue 14, point 6)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from alerts.consumer import process_batch as raise_alerts
from alerts.models import Alert
from alerts.workflow import acknowledge_alert
from analytics.consumer import process_batch as index
from analytics.models import AuditEntry
from peacewatch.streams.batch import Record
from tests.factories import report

pytestmark = pytest.mark.django_db


def recent(hours_ago: float) -> str:
    return (datetime.now(tz=UTC) - timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z")


def seen(person: dict, hours_ago: float, **extra) -> bytes:
    return json.dumps(report(citizens=[person], sent_at=recent(hours_ago), **extra)).encode()


@pytest.fixture
def subject(officer):
    """One person (id subj-77) seen three times, twice agitated; someone else seen once."""
    jeanne = {"name": "Jeanne Martin", "id": "subj-77", "peacescore": 12.5}
    values = [
        seen(jeanne, 3),
        seen({**jeanne, "peacescore": 9.0}, 2, drone_id="pw-00007"),
        seen({**jeanne, "peacescore": 70.0}, 1),
        seen({"name": "Paul Durand", "id": "subj-88", "peacescore": 80.0}, 1),
    ]
    records = [Record(value=value, offset=i) for i, value in enumerate(values)]
    index(records)
    raise_alerts(records)
    acknowledge_alert(Alert.objects.get(subject="subj-77").pk, by=officer)
    return "subj-77"


def test_the_report_gathers_alerts_actions_sightings_reports_and_who_looked(client, analyst, subject, tmp_path):
    client.force_login(analyst)
    body = {"time": {"last": "24h"}, "citizen": {"key": subject}, "purpose": "case 2026-0200"}
    assert client.post("/api/v1/reports/search", body, content_type="application/json").status_code == 200

    out = tmp_path / "subject.json"
    call_command("subject", "report", subject, "--reason", "subject access request SAR-9", "--output", str(out))
    found = json.loads(out.read_text())
    assert found["counts"] == {"alerts": 1, "sightings": 2, "reports": 3, "accesses": 2}
    (alert,) = found["alerts"]
    assert (alert["subject"], alert["citizen"], alert["status"]) == ("subj-77", "Jeanne Martin", "acknowledged")
    assert [a["action"] for a in alert["actions"]] == ["acknowledged"]
    assert sorted(s["peacescore"] for s in found["sightings"]) == [9.0, 12.5]
    assert {r["drone_id"] for r in found["reports"]} == {"pw-00042", "pw-00007"}
    times = [r["observed_at"] for r in found["reports"]]
    assert times == sorted(times)
    looked = [a for a in found["accesses"] if a["action"] == "search"]
    assert [(a["username"], a["purpose"]) for a in looked] == [("analyst1", "case 2026-0200")]
    assert "Paul Durand" not in out.read_text()
    assert (out.stat().st_mode & 0o777) == 0o600

    (ran,) = AuditEntry.objects.filter(action="subject.report")
    assert (ran.detail["subject"], ran.detail["reason"], ran.detail["reports"]) == (
        subject,
        "subject access request SAR-9",
        3,
    )


def test_a_report_by_name_finds_the_same_person(subject, capsys):
    call_command("subject", "report", "Jeanne Martin", "--reason", "oversight OB-3")
    found = json.loads(capsys.readouterr().out)
    assert found["counts"]["reports"] == 3 and found["counts"]["alerts"] == 1


def test_a_report_needs_a_reason():
    with pytest.raises(CommandError, match="reason"):
        call_command("subject", "report", "subj-77", "--reason", " ")
