"""Shared fixtures: the real embedded broker, an isolated analytics store, users by role."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from subprocess import Popen

import pytest

from analytics.store import reset_store
from ingest.broker import start_broker, stop_process
from peacewatch import kafka
from tests.kafka import run_async


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, and on PostgreSQL nobody left connected when it is dropped.

    Web servers started by browser tests are stopped by then, but PostgreSQL may
    not yet have ended their sessions (nor those of threads of this process that
    are gone), and dropping a database with sessions fails.
    """
    yield
    from django.db import connection

    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Broker:
    address: str
    process: Popen
    log_path: object

    def stop(self) -> None:
        stop_process(self.process)

    def restart(self) -> None:
        """A new broker on the same address (memory only: it starts empty)."""
        self.stop()
        self.process = start_broker(self.address, log_path=self.log_path)
        run_async(kafka.ensure_topics)


@pytest.fixture(autouse=True)
def isolated_state(settings, tmp_path, monkeypatch):
    """Each test gets its own analytics store and status files, also in child processes."""
    settings.ANALYTICS_SQLITE_PATH = tmp_path / "analytics.sqlite3"
    settings.CONSUMER_STATUS_DIR = tmp_path / "run"
    monkeypatch.setenv("ANALYTICS_SQLITE_PATH", str(tmp_path / "analytics.sqlite3"))
    monkeypatch.setenv("PEACEWATCH_VAR_DIR", str(tmp_path))
    reset_store()
    yield
    reset_store()


@pytest.fixture
def broker(settings, monkeypatch, tmp_path):
    """A real Tansu broker on a free loopback port, with the contract's topics."""
    address = f"127.0.0.1:{free_port()}"
    log_path = tmp_path / "broker.log"
    process = start_broker(address, log_path=log_path)
    settings.KAFKA_BOOTSTRAP_SERVERS = address
    settings.KAFKA_IDEMPOTENCE = False
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", address)
    monkeypatch.setenv("KAFKA_IDEMPOTENCE", "false")
    running = Broker(address, process, log_path)
    try:
        run_async(kafka.ensure_topics)
        yield running
    finally:
        running.stop()


def _user_with_role(django_user_model, username: str, role: str, **extra):
    from peacewatch.roles import ensure_groups

    groups = ensure_groups()
    user = django_user_model.objects.create_user(username=username, password="correct-horse-battery", **extra)
    user.groups.add(groups[role])
    return user


@pytest.fixture
def officer(django_user_model):
    return _user_with_role(django_user_model, "officer1", "officer")


@pytest.fixture
def analyst(django_user_model):
    return _user_with_role(django_user_model, "analyst1", "analyst")


@pytest.fixture
def admin_user(django_user_model):
    return _user_with_role(django_user_model, "admin1", "admin", is_staff=True, is_superuser=True)
