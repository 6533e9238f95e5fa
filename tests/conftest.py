"""Shared fixtures: a real broker, a real search engine, an isolated analytics store, users by role.

By default each test that asks for ``broker`` gets its own embedded Tansu broker,
and ``search_engine`` is osmem-server (a quick local loop). With
``PEACEWATCH_TEST_KAFKA`` (bootstrap servers) and ``PEACEWATCH_TEST_OPENSEARCH``
(a URL), as ``.ci/run`` sets them after ``make engines``, the same tests run on
the real Apache Kafka cluster and the real OpenSearch node: each test gets its
own topics, consumer groups and index prefix there, and tests that stop the
cluster hold it alone while they do.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

import pytest
from django.conf import settings as django_settings
from hypothesis.configuration import set_hypothesis_home_dir

from analytics.archive.storage import get_archive
from analytics.store import reset_store
from peacewatch.streams import kafka
from peacewatch.streams.broker import start_broker, stop_process
from peacewatch.views import forget_readiness
from tests.kafka import run_async

# Hypothesis keeps the examples it found under the var directory, not in a folder at the repository's root.
set_hypothesis_home_dir(django_settings.VAR_DIR / "hypothesis")


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


EXTERNAL_KAFKA = os.environ.get("PEACEWATCH_TEST_KAFKA", "")
EXTERNAL_OPENSEARCH = os.environ.get("PEACEWATCH_TEST_OPENSEARCH", "")
ENGINES_SCRIPT = Path(__file__).resolve().parent.parent / "docker" / "engines" / "engines.sh"


def engines(*args: str, timeout: float = 240) -> str:
    """Run ``docker/engines/engines.sh`` (the fault hooks of ``make engines``)."""
    done = subprocess.run(["bash", str(ENGINES_SCRIPT), *args], capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        raise RuntimeError(f"engines.sh {' '.join(args)} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def unique_suffix() -> str:
    return uuid.uuid4().hex[:10]


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
    settings.ARCHIVE_URL = str(tmp_path / "archive")
    monkeypatch.setenv("ANALYTICS_SQLITE_PATH", str(tmp_path / "analytics.sqlite3"))
    monkeypatch.setenv("ARCHIVE_URL", str(tmp_path / "archive"))
    get_archive.cache_clear()
    monkeypatch.setenv("PEACEWATCH_VAR_DIR", str(tmp_path))
    reset_store()
    forget_readiness()
    yield
    reset_store()
    get_archive.cache_clear()


@dataclass
class ExternalCluster:
    """The real Kafka cluster of ``make engines``, shared by every test of the run.

    Each test holds a shared lock on it; stopping it takes the lock alone, so no
    other test's brokers vanish under it.
    """

    address: str
    lock_path: Path
    lock_file: object = field(default=None, repr=False)
    exclusive: bool = False

    def acquire(self, mode: int) -> None:
        if self.lock_file is None:
            self.lock_file = open(self.lock_path, "a+")  # noqa: SIM115 - held for the test
        fcntl.flock(self.lock_file, mode)

    def release(self) -> None:
        if self.lock_file is not None:
            fcntl.flock(self.lock_file, fcntl.LOCK_UN)
            self.lock_file.close()
            self.lock_file = None

    def hold_alone(self) -> None:
        if not self.exclusive:
            self.acquire(fcntl.LOCK_EX)
            self.exclusive = True

    def stop(self) -> None:
        """Every broker stopped (data on disk kept)."""
        self.hold_alone()
        engines("stop-kafka")

    def restart(self) -> None:
        engines("start-kafka")
        run_async(kafka.ensure_topics)

    def kill_broker(self, node: int) -> None:
        self.hold_alone()
        engines("kill-broker", str(node))

    def start_broker(self, node: int) -> None:
        engines("start-broker", str(node))


def use_external_kafka(settings, monkeypatch, address: str) -> dict[str, str]:
    """Point this test (and the processes it starts) at the real cluster, on topics of its own."""
    suffix = unique_suffix()
    values = {
        "KAFKA_BOOTSTRAP_SERVERS": address,
        "KAFKA_IDEMPOTENCE": "true",
        "KAFKA_REPLICATION_FACTOR": "3",
        "KAFKA_MIN_INSYNC_REPLICAS": "2",
        "KAFKA_GROUP_PREFIX": f"peacewatch-{suffix}",
        "KAFKA_TOPIC_REPORTS": f"peacewatch.reports.{suffix}",
        "KAFKA_TOPIC_ALERTS": f"peacewatch.alerts.{suffix}",
        "KAFKA_TOPIC_DEADLETTER": f"peacewatch.deadletter.{suffix}",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings.KAFKA_BOOTSTRAP_SERVERS = address
    settings.KAFKA_IDEMPOTENCE = True
    settings.KAFKA_REPLICATION_FACTOR = 3
    settings.KAFKA_MIN_INSYNC_REPLICAS = 2
    settings.KAFKA_GROUP_PREFIX = values["KAFKA_GROUP_PREFIX"]
    settings.KAFKA_TOPICS = {
        "reports": values["KAFKA_TOPIC_REPORTS"],
        "alerts": values["KAFKA_TOPIC_ALERTS"],
        "deadletter": values["KAFKA_TOPIC_DEADLETTER"],
    }
    return values


@pytest.fixture
def broker(settings, monkeypatch, tmp_path):
    """A real broker with the contract's topics: the test's own Tansu, or the real cluster."""
    if EXTERNAL_KAFKA:
        use_external_kafka(settings, monkeypatch, EXTERNAL_KAFKA)
        cluster = ExternalCluster(
            EXTERNAL_KAFKA, Path(os.environ.get("PEACEWATCH_TEST_KAFKA_LOCK", "/tmp/pw-kafka.lock"))
        )
        cluster.acquire(fcntl.LOCK_SH)
        try:
            run_async(kafka.ensure_topics)
            yield cluster
        finally:
            try:
                if cluster.exclusive:
                    engines("start-kafka")  # whatever the test stopped is back before others run
                run_async(kafka.delete_topics, list(settings.KAFKA_TOPICS.values()))
            finally:
                cluster.release()
        return
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


@dataclass
class SearchEngine:
    url: str
    prefix: str


@pytest.fixture
def search_engine(request, settings, monkeypatch):
    """An OpenSearch-compatible engine and an index prefix of this test's own.

    The real OpenSearch node of ``make engines`` when ``PEACEWATCH_TEST_OPENSEARCH``
    is set (as in CI), else osmem-server, an in-memory stand-in for a quick loop.
    """
    prefix = f"pw{unique_suffix()}"
    settings.ELASTICSEARCH_INDEX_PREFIX = prefix
    monkeypatch.setenv("ELASTICSEARCH_INDEX_PREFIX", prefix)
    if not EXTERNAL_OPENSEARCH:
        yield SearchEngine(request.getfixturevalue("osmem_clone").url, prefix)
        return
    from analytics.store.elastic.client import drop_prefix, make_client

    yield SearchEngine(EXTERNAL_OPENSEARCH, prefix)
    client = make_client(EXTERNAL_OPENSEARCH)
    try:
        drop_prefix(client, prefix)
    finally:
        client.close()


def sign_in_with_second_factor(client, user):
    """``client.force_login`` for staff: the session also passed the second factor (peacewatch/second_factor.py).

    The user gets a confirmed authenticator, as after setting one up; the sign-in
    flow itself is tested in tests/test_second_factor.py.
    """
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def _user_with_role(django_user_model, username: str, role: str, **extra):
    from peacewatch.roles import ensure_groups

    groups = ensure_groups()
    user = django_user_model.objects.create_user(username=username, password="correct-horse-battery", **extra)
    user.groups.add(groups[role])
    return user


@pytest.fixture
def officer(django_user_model):
    """An officer of the whole force (group ``squad:*``); squad-scoped officers: tests/alerts/test_squads.py."""
    from ingest.squads import all_squads_group

    user = _user_with_role(django_user_model, "officer1", "officer")
    user.groups.add(all_squads_group())
    return user


@pytest.fixture
def analyst(django_user_model):
    return _user_with_role(django_user_model, "analyst1", "analyst")


@pytest.fixture
def admin_user(django_user_model):
    return _user_with_role(django_user_model, "admin1", "admin", is_staff=True, is_superuser=True)


@dataclass
class S3Server:
    endpoint: str
    process: Popen


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """A real S3-compatible server (moto's server mode, from PyPI) on a free loopback port."""
    import sys
    import time
    import urllib.request

    port = free_port()
    log = (tmp_path_factory.mktemp("s3") / "moto.log").open("wb")
    moto = Path(sys.executable).with_name("moto_server")
    process = Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop_process(process)
                raise RuntimeError(f"moto_server did not start on {endpoint} (log: {log.name})") from None
            time.sleep(0.2)
    yield S3Server(endpoint, process)
    stop_process(process)
    log.close()


@pytest.fixture(params=["local", "s3"])
def archive(request, settings, monkeypatch, tmp_path):
    """The archive of this test, on local disk and then in a bucket of the S3-compatible server."""
    from pyarrow import fs

    if request.param == "s3":
        server = request.getfixturevalue("s3_server")
        for name, value in {
            "AWS_ACCESS_KEY_ID": "test-only",
            "AWS_SECRET_ACCESS_KEY": "test-only",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": server.endpoint,
        }.items():
            monkeypatch.setenv(name, value)
        bucket = f"pw-{unique_suffix()}"
        fs.S3FileSystem(
            endpoint_override=server.endpoint.removeprefix("http://"),
            scheme="http",
            region="us-east-1",
            allow_bucket_creation=True,
        ).create_dir(bucket)
        url = f"s3://{bucket}/archive"
        settings.AWS_ENDPOINT_URL = server.endpoint
    else:
        url = str(tmp_path / "archive")
    settings.ARCHIVE_URL = url
    monkeypatch.setenv("ARCHIVE_URL", url)
    get_archive.cache_clear()
    yield get_archive()
    get_archive.cache_clear()
