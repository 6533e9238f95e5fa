"""Entry points: the embedded broker command, consumer liveness, aiokafka's C extension."""

import asyncio
import io
import os
import signal
import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from django.conf import settings

from peacewatch.streams import kafka
from tests.conftest import free_port
from tests.live_stack import liveness_check


def test_aiokafka_runs_its_c_extension():
    assert kafka.c_extension_in_use(), "aiokafka fell back to pure Python (about 6x slower)"


def test_the_broker_command_serves_kafka_and_creates_the_contract_topics(tmp_path):
    address = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": address, "PEACEWATCH_VAR_DIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "broker"], env=env, cwd=settings.BASE_DIR, stdout=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline()
        assert "ready" in line

        async def describe():
            admin = AIOKafkaAdminClient(bootstrap_servers=address)
            await admin.start()
            try:
                return {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics()}
            finally:
                await admin.close()

        topics = asyncio.run(describe())
        assert topics["peacewatch.reports"] == 6
        assert {"peacewatch.alerts", "peacewatch.deadletter"} <= set(topics)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_creating_topics_twice_is_harmless(broker):
    assert asyncio.run(kafka.ensure_topics()) == []


def test_the_liveness_check_fails_without_a_running_consumer(tmp_path):
    result = liveness_check("indexer", tmp_path)
    assert result.returncode != 0
    assert "not alive" in result.stderr


def test_make_run_sets_aside_an_analytics_store_from_an_older_version(settings, tmp_path):
    import sqlite3

    from peacewatch.management.commands.runstack import Command

    old = sqlite3.connect(settings.ANALYTICS_SQLITE_PATH)
    old.execute("CREATE TABLE reports (id INTEGER PRIMARY KEY)")
    old.close()

    Command(stdout=io.StringIO(), stderr=io.StringIO())._set_aside_old_analytics_store()

    assert not settings.ANALYTICS_SQLITE_PATH.exists()
    folder = settings.ANALYTICS_SQLITE_PATH.parent
    kept = [p for p in folder.glob("analytics.sqlite3.old-*") if not p.name.endswith(("-wal", "-shm"))]
    assert len(kept) == 1
    assert sqlite3.connect(kept[0]).execute("SELECT count(*) FROM reports").fetchone() == (0,)


@pytest.mark.django_db
def test_every_model_change_has_its_migration():
    from django.core.management import call_command

    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # exits 1 if one is missing
