"""The env-driven settings: typed helpers and loud failures on bad values."""

import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from peacewatch import env


def test_booleans_integers_and_lists_are_parsed(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env.env_bool("X_BOOL") is True
    assert env.env_int("X_INT", 1) == 42
    assert env.env_list("X_LIST") == ["a", "b", "c"]
    assert env.env_int("X_UNSET", 7) == 7


@pytest.mark.parametrize(
    ("name", "value", "call"),
    [
        ("X_BOOL", "maybe", lambda: env.env_bool("X_BOOL")),
        ("X_INT", "four", lambda: env.env_int("X_INT", 1)),
        ("X_INT", "-3", lambda: env.env_int("X_INT", 1, minimum=0)),
        ("X_URL", "mysql://db", lambda: env.env_url("X_URL", schemes=("postgres",))),
    ],
)
def test_a_bad_value_is_refused_with_its_name(monkeypatch, name, value, call):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        call()


def test_secrets_can_come_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t\n")
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env.env_str("X_SECRET") == "s3cr3t"


def test_unset_means_the_embedded_default():
    from django.conf import settings

    assert settings.DATABASES["default"]["ENGINE"] in {"django.db.backends.sqlite3", "django.db.backends.postgresql"}
    assert settings.KAFKA_TOPICS == {
        "reports": "peacewatch.reports",
        "alerts": "peacewatch.alerts",
        "deadletter": "peacewatch.deadletter",
    }


def test_a_process_with_a_bad_setting_fails_at_start_up(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={"PATH": "/usr/bin:/bin", "DEBUG": "true", "PEACEWATCH_VAR_DIR": str(tmp_path), "LOG_FORMAT": "yaml"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "LOG_FORMAT" in result.stderr


def test_the_embedded_default_database_is_sqlite_in_wal_mode(tmp_path):
    # A fresh process with no DATABASE_URL, whatever database this test run uses.
    code = (
        "from django.db import connection; c = connection.cursor(); "
        "c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        env={"PATH": "/usr/bin:/bin", "DEBUG": "true", "PEACEWATCH_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip().splitlines()[-1] == "wal", result.stderr
    assert (tmp_path / "peacewatch.sqlite3").exists()


def test_single_sign_on_half_configured_refuses_to_start_naming_what_is_missing(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env={
            "PATH": "/usr/bin:/bin",
            "DEBUG": "true",
            "PEACEWATCH_VAR_DIR": str(tmp_path),
            "OIDC_OP_ISSUER": "https://id.police.example",
            "OIDC_OP_TOKEN_ENDPOINT": "https://id.police.example/token",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "OIDC_OP_AUTHORIZATION_ENDPOINT, OIDC_OP_USER_ENDPOINT" in result.stderr
    assert "OIDC_RP_CLIENT_SECRET" in result.stderr


def test_the_providers_claims_map_to_roles_and_squads(settings):
    from peacewatch.single_sign_on import granted

    settings.OIDC_ROLE_MAP = "pw-officers=officer, pw-audit=auditor"
    claims = {"roles": ["pw-officers", "pw-audit", "canteen", "analyst", 7], "squads": "north east"}
    assert granted(claims) == ({"officer", "auditor", "analyst"}, {"squad:north", "squad:east"})
    assert granted({"roles": ["canteen"], "squads": ["*"]}) == (set(), {"squad:*"})
    settings.OIDC_ROLES_CLAIM = "groups"
    assert granted({"groups": ["pw-officers"]})[0] == {"officer"}
