"""The web server takes its PostgreSQL connections from a pool, not one per request.

Under ASGI each request runs its sync code in a thread of its own, so Django's persistent
connections (CONN_MAX_AGE) were never reused: every signed-in request opened a PostgreSQL
connection (a process on the database server), which at the fleet's request rates is a storm.
"""

import json
import subprocess
import sys

import pytest
import requests
from django.db import connection
from django.test import Client

from tests.conftest import _user_with_role, free_port
from tests.live_stack import running_web


def database_settings(tmp_path, **env) -> dict:
    code = (
        "from django.conf import settings; import json; print(json.dumps(settings.DATABASES['default'], default=str))"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        env={"PATH": "/usr/bin:/bin", "DEBUG": "true", "PEACEWATCH_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_postgresql_database_is_reached_through_a_pool_sized_by_the_environment(tmp_path):
    url = "postgres://pw:secret@db.internal:5432/peacewatch"
    pooled = database_settings(tmp_path, DATABASE_URL=url, DB_POOL="true", DB_POOL_MAX_SIZE="8")
    assert pooled["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 8, "timeout": 10}
    assert pooled["CONN_MAX_AGE"] == 0 and pooled["CONN_HEALTH_CHECKS"] is True

    # Outside the web server the default is persistent connections (see settings: threads that end
    # without closing theirs would keep them from a pool).
    for mode in ("web", "false"):
        unpooled = database_settings(tmp_path, DATABASE_URL=url, DB_POOL=mode)
        assert "pool" not in unpooled.get("OPTIONS", {}) and unpooled["CONN_MAX_AGE"] == 60
    assert database_settings(tmp_path, DATABASE_URL=url) == unpooled  # web is the default


def sessions_opened() -> int:
    """Connections ever opened to this test database (a backend counts itself once it has gone)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="POOL TEST NOT RUN: it needs PostgreSQL (set DATABASE_URL); .ci/run's production pass runs it",
)
@pytest.mark.django_db(transaction=True)
def test_fifty_signed_in_requests_to_the_web_server_reuse_its_pooled_connections_by_default(
    broker, tmp_path, django_user_model
):
    client = Client()
    client.force_login(_user_with_role(django_user_model, "pooled", "officer"))
    cookies = {"sessionid": client.cookies["sessionid"].value}
    with running_web(tmp_path, free_port()) as web:
        for _ in range(3):  # the pool opens its connection
            assert requests.get(f"{web.url}/api/v1/alerts/", cookies=cookies, timeout=30).status_code == 200
        before = sessions_opened()
        for _ in range(50):
            assert requests.get(f"{web.url}/api/v1/alerts/", cookies=cookies, timeout=30).status_code == 200
        opened = sessions_opened() - before
    assert opened <= 2, f"{opened} PostgreSQL connections opened for 50 requests"
