"""The live alert settings only take values the alert rules can make sense of."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from alerts.models import AlertSettings
from tests.conftest import sign_in_with_second_factor

pytestmark = pytest.mark.django_db

CHANGE_URL = "/admin/alerts/alertsettings/1/change/"


def form(**values) -> dict:
    return {
        "threshold": "20",
        "critical_threshold": "10",
        "min_confidence": "",
        "dismissal_quiet_minutes": "30",
        **{name: str(value) for name, value in values.items()},
    }


@pytest.fixture
def admin_client(client, admin_user):
    AlertSettings.load()
    sign_in_with_second_factor(client, admin_user)
    return client


@pytest.mark.parametrize("critical", [20, 25])
def test_the_admin_refuses_a_critical_threshold_at_or_above_the_alert_threshold(admin_client, critical):
    response = admin_client.post(CHANGE_URL, form(threshold=20, critical_threshold=critical))
    assert response.status_code == 200  # the form again, not a redirect
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["critical_threshold"]
    assert "below the alert threshold" in errors["critical_threshold"][0]
    row = AlertSettings.load()
    assert (row.threshold, row.critical_threshold) == (20, 10)


def test_the_admin_saves_consistent_thresholds_a_minimum_confidence_and_a_quiet_time(admin_client):
    response = admin_client.post(
        CHANGE_URL, form(threshold=30, critical_threshold=15, min_confidence=0.75, dismissal_quiet_minutes=0)
    )
    assert response.status_code == 302
    row = AlertSettings.load()
    assert (row.threshold, row.critical_threshold, row.min_confidence, row.dismissal_quiet_minutes) == (30, 15, 0.75, 0)


@pytest.mark.parametrize("confidence", [-0.1, 1.01])
def test_the_admin_refuses_a_minimum_confidence_outside_zero_to_one(admin_client, confidence):
    response = admin_client.post(CHANGE_URL, form(min_confidence=confidence))
    assert list(response.context["adminform"].form.errors) == ["min_confidence"]
    assert AlertSettings.load().min_confidence is None


def test_clean_names_the_field_at_fault_for_any_caller():
    row = AlertSettings(threshold=20, critical_threshold=20, min_confidence=2)
    with pytest.raises(ValidationError) as refused:
        row.full_clean()
    assert set(refused.value.message_dict) == {"critical_threshold", "min_confidence"}


def test_the_database_refuses_critical_at_or_above_the_alert_threshold_from_any_path():
    AlertSettings.load()
    with pytest.raises(IntegrityError), transaction.atomic():
        AlertSettings.objects.update(threshold=15, critical_threshold=30)
    row = AlertSettings.load()
    assert row.critical_threshold < row.threshold


def test_settings_refuse_a_default_critical_threshold_at_or_above_the_alert_threshold():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "peacewatch.settings", "ALERT_THRESHOLD": "15",
             "ALERT_CRITICAL_THRESHOLD": "30"},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "ALERT_CRITICAL_THRESHOLD must be below ALERT_THRESHOLD" in result.stderr
