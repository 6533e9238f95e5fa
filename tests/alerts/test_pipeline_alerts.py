"""Pipeline alerts ("a large share of the fleet silent at once") travel like drone_offline ones."""

from datetime import UTC, datetime

import pytest

from alerts.events import decode_event
from alerts.models import Alert, AlertSettings
from alerts.services import Observation, close_system_alert, raise_alerts

pytestmark = pytest.mark.django_db


def fleet_silent(report_id: str = "pipeline:1") -> Observation:
    return Observation(
        kind=Alert.Kind.PIPELINE,
        subject="fleet",
        citizen=None,
        peacescore=None,
        drone_id="fleet",
        lat=0.0,
        lon=0.0,
        report_id=report_id,
        observed_at=datetime(2026, 11, 28, 4, 0, tzinfo=UTC),
    )


def test_a_pipeline_alert_is_high_with_no_citizen_and_says_its_kind_in_events_and_the_api(client, officer):
    [pending] = raise_alerts([fleet_silent()], AlertSettings.load())
    event = decode_event(pending.payload)
    assert (event.type, event.alert.kind, event.alert.citizen, event.alert.peacescore) == (
        "alert.created",
        "pipeline",
        None,
        None,
    )
    assert (event.alert.severity, event.alert.citizen_id, event.alert.confidence) == ("high", None, None)
    client.force_login(officer)
    [listed] = client.get("/api/v1/alerts/", {"kind": "pipeline"}).json()["results"]
    assert (listed["kind"], listed["citizen"], listed["severity"]) == ("pipeline", None, "high")


def test_the_pipeline_alert_is_one_open_alert_closed_by_the_system():
    raise_alerts([fleet_silent("pipeline:1")], AlertSettings.load())
    raise_alerts([fleet_silent("pipeline:2")], AlertSettings.load())
    assert Alert.objects.get().sightings == 2
    [closed] = close_system_alert(Alert.Kind.PIPELINE, "fleet", reason="fleet reporting again")
    assert decode_event(closed.payload).alert.status == "resolved"
    assert close_system_alert(Alert.Kind.PIPELINE, "fleet") == []
