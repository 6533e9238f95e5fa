"""Shared pieces of the benchmarks: the engines (embedded or real), preloading, process sampling.

Benchmarks run the real entry points (``manage.py run_consumer``) as child
processes and read their liveness files; nothing here is imported by the app.

``bench_env(engines="embedded")`` starts a Tansu broker of its own on a free
port; ``bench_env(engines="real")`` uses the Apache Kafka cluster (and, with
``search=True``, the OpenSearch node) of ``make engines``, read from
``var/engines/env``, on topics, consumer groups and indices unique to the run,
deleted when it ends.
"""

from __future__ import annotations

import asyncio
import atexit
import fcntl
import json
import os
import platform
import secrets
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peacewatch.settings")
# Benchmarks run as production does (DEBUG off), with a random key of their own.
BENCH_SECRET_KEY = secrets.token_urlsafe(64)
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", BENCH_SECRET_KEY)

ENGINES_ENV = ROOT / "var" / "engines" / "env"
KAFKA_LIB = ROOT / "var" / "engines" / "kafka-lib"
# The lock the test suite holds on the shared cluster (tests/conftest.py::ExternalCluster):
# a test that stops or kills brokers takes it alone, so holding it shared keeps the
# cluster whole for the benchmark's duration.
KAFKA_LOCK = Path(os.environ.get("PEACEWATCH_TEST_KAFKA_LOCK", "/tmp/pw-kafka.lock"))
NOT_UP = "run make engines first"
TANSU = "tansu"
STAND_IN = "osmem-server (stand-in)"
EMBEDDED_STORE = "embedded-sqlite"

# Added to every figure line: which engines the figure ran on (bench_env and scripts set them).
LABELS: dict[str, str] = {}


def set_labels(**labels: str) -> None:
    LABELS.update(labels)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def emit(figure: str, value, unit: str, **extra) -> dict:
    line = {"figure": figure, "value": value, "unit": unit, **LABELS, **extra}
    print(json.dumps(line), flush=True)
    return line


def emit_median(figure: str, values, unit: str, *, digits: int = 0, **extra) -> dict:
    """A figure as the median of its runs, the runs listed beside it (rounded alike)."""

    def rounded(value):
        return round(value, digits) if digits else round(value)

    return emit(figure, rounded(median(values)), unit, runs=[rounded(v) for v in values], **extra)


def progress(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


def median(values):
    return statistics.median(values)


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "date": datetime.now(tz=UTC).strftime("%Y-%m-%d"),
    }


_DB_PATH = Path(tempfile.gettempdir()) / f"pw-bench-{os.getpid()}.sqlite3"


@atexit.register
def _remove_database() -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{_DB_PATH}{suffix}").unlink(missing_ok=True)


# --- the real engines of `make engines` -------------------------------------------------------
def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def read_engines_env(path: Path | None = None) -> dict[str, str]:
    """The ``export NAME=value`` lines of ``var/engines/env`` (written by ``engines.sh up``)."""
    values = {}
    for line in (path or ENGINES_ENV).read_text().splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, value = words[1].split("=", 1)
            values[name] = value
    return values


def kafka_label() -> str:
    """``apache-kafka-4.4`` from the broker jar ``make engines`` runs."""
    for jar in sorted(KAFKA_LIB.glob("kafka_2.*-*.jar")):
        version = jar.stem.split("-", 1)[1]
        return "apache-kafka-" + ".".join(version.split(".")[:2])
    return "apache-kafka"


def search_label(url: str) -> str:
    """``opensearch-2.19`` (or ``elasticsearch-8.x``) from the node's own answer; raises if it does not answer."""
    with urllib.request.urlopen(url.rstrip("/") + "/", timeout=5) as response:
        version = json.load(response)["version"]
    flavor = version.get("distribution", "elasticsearch")
    return f"{flavor}-" + ".".join(version["number"].split(".")[:2])


async def _cluster_brokers(bootstrap: str) -> int:
    from aiokafka.client import AIOKafkaClient

    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await client.bootstrap()
        return len(client.cluster.brokers())
    finally:
        await client.close()


def real_engines(*, search: bool = False) -> dict[str, str]:
    """The exports of ``var/engines/env`` once the brokers (and OpenSearch) answer; else exit with why."""
    if not ENGINES_ENV.exists():
        raise SystemExit(f"real engines: {_shown(ENGINES_ENV)} is missing: {NOT_UP}")
    values = read_engines_env()
    bootstrap = values.get("KAFKA_BOOTSTRAP_SERVERS", "")
    if not bootstrap:
        raise SystemExit(f"real engines: no KAFKA_BOOTSTRAP_SERVERS in {ENGINES_ENV}: {NOT_UP}")
    for address in bootstrap.split(","):
        host, port = address.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
        except OSError as exc:
            raise SystemExit(f"real engines: Kafka broker {address} does not answer ({exc}): {NOT_UP}") from None
    try:
        brokers = asyncio.run(asyncio.wait_for(_cluster_brokers(bootstrap), 20))
    except Exception as exc:  # any failure means "not usable"
        raise SystemExit(f"real engines: Kafka cluster at {bootstrap} does not answer ({exc}): {NOT_UP}") from None
    wanted = int(values.get("KAFKA_REPLICATION_FACTOR", "3"))
    if brokers < wanted:
        raise SystemExit(f"real engines: {brokers} of {wanted} Kafka brokers in the cluster: {NOT_UP}")
    if search:
        url = values.get("ELASTICSEARCH_URL", "")
        try:
            search_label(url)
        except Exception as exc:
            raise SystemExit(
                f"real engines: OpenSearch at {url or '(no URL)'} does not answer ({exc}): {NOT_UP}"
            ) from None
    return values


def real_engines_up() -> str | None:
    """None when the real engines answer, else why not."""
    if not ENGINES_ENV.exists():
        return f"{_shown(ENGINES_ENV)} is missing"
    try:
        with cluster_lock():
            real_engines(search=True)
    except SystemExit as exc:
        return str(exc).removeprefix("real engines: ").removesuffix(f": {NOT_UP}")
    return None


@contextmanager
def cluster_lock():
    """Held shared while the benchmark uses the cluster (tests stopping brokers take it alone)."""
    with open(KAFKA_LOCK, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for {KAFKA_LOCK}: a test has stopped the real cluster")
            fcntl.flock(lock, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def drop_indices(url: str, prefix: str) -> None:
    """Delete every index and index template whose name starts with ``prefix``."""
    import logging

    from analytics.store.elastic.client import drop_prefix, make_client

    logging.getLogger("elastic_transport").setLevel(logging.WARNING)  # one INFO line per request otherwise

    client = make_client(url)
    try:
        drop_prefix(client, prefix)
    finally:
        client.close()


def run_suffix() -> str:
    return uuid.uuid4().hex[:10]


# Settings the benchmark sets for itself and its children, whatever the shell exported.
_KAFKA_KEYS = (
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_IDEMPOTENCE",
    "KAFKA_REPLICATION_FACTOR",
    "KAFKA_MIN_INSYNC_REPLICAS",
    "KAFKA_GROUP_PREFIX",
    "KAFKA_TOPIC_REPORTS",
    "KAFKA_TOPIC_ALERTS",
    "KAFKA_TOPIC_DEADLETTER",
)
_SEARCH_KEYS = ("ELASTICSEARCH_URL", "ELASTICSEARCH_REPLICAS", "ELASTICSEARCH_INDEX_PREFIX")


def _apply(values: dict[str, str]) -> None:
    """``values`` into this process: its environment and Django's settings (read once at start-up)."""
    from django.conf import settings

    for name in (*_KAFKA_KEYS, *_SEARCH_KEYS):
        if name in values:
            os.environ[name] = values[name]
        else:
            os.environ.pop(name, None)
    settings.KAFKA_BOOTSTRAP_SERVERS = values["KAFKA_BOOTSTRAP_SERVERS"]
    settings.KAFKA_IDEMPOTENCE = values["KAFKA_IDEMPOTENCE"] == "true"
    settings.KAFKA_REPLICATION_FACTOR = int(values["KAFKA_REPLICATION_FACTOR"])
    settings.KAFKA_MIN_INSYNC_REPLICAS = int(values["KAFKA_MIN_INSYNC_REPLICAS"])
    settings.KAFKA_GROUP_PREFIX = values["KAFKA_GROUP_PREFIX"]
    settings.KAFKA_TOPICS = {
        "reports": values["KAFKA_TOPIC_REPORTS"],
        "alerts": values["KAFKA_TOPIC_ALERTS"],
        "deadletter": values["KAFKA_TOPIC_DEADLETTER"],
    }
    settings.ELASTICSEARCH_URL = values.get("ELASTICSEARCH_URL", "")
    if "ELASTICSEARCH_REPLICAS" in values:
        settings.ELASTICSEARCH_REPLICAS = int(values["ELASTICSEARCH_REPLICAS"])
    if "ELASTICSEARCH_INDEX_PREFIX" in values:
        settings.ELASTICSEARCH_INDEX_PREFIX = values["ELASTICSEARCH_INDEX_PREFIX"]


@contextmanager
def bench_env(engines: str = "embedded", *, search: bool = False):
    """A scratch var dir, an empty database, a broker, and env for child processes.

    ``engines="embedded"``: a fresh Tansu broker on a free port (memory storage),
    the embedded analytics store. ``engines="real"``: the Apache Kafka cluster of
    ``make engines`` (exits with "run make engines first" when it does not
    answer), on topics and consumer groups unique to this entry, idempotent
    producers, replication factor 3 and min ISR 2 as the cluster's env says;
    with ``search=True`` the indexer writes to its OpenSearch node under an
    index prefix unique to this entry (``env["ELASTICSEARCH_INDEX_PREFIX"]``).
    The topics and indices are deleted on exit. Labels every figure emitted
    with the engine (``"engine": "apache-kafka-4.4"`` or ``"tansu"``).

    The database file keeps one path for the whole benchmark process (Django
    reads its settings once) and is emptied on every entry.
    """
    if engines not in ("embedded", "real"):
        raise ValueError(f"engines must be 'embedded' or 'real', not {engines!r}")
    if engines == "embedded":
        with _bench_env(engines, search, {}) as entered:
            yield entered
        return
    if not ENGINES_ENV.exists():
        raise SystemExit(f"real engines: {_shown(ENGINES_ENV)} is missing: {NOT_UP}")
    with cluster_lock():  # held to the end: no test stops a broker under the benchmark
        engine_env = real_engines(search=search)
        with _bench_env(engines, search, engine_env) as entered:
            yield entered


@contextmanager
def _bench_env(engines: str, search: bool, engine_env: dict[str, str]):
    with tempfile.TemporaryDirectory(prefix="pw-bench-") as scratch:
        os.environ["PEACEWATCH_VAR_DIR"] = scratch
        os.environ["DATABASE_URL"] = f"sqlite:///{_DB_PATH}"
        os.environ["SECRET_KEY"] = BENCH_SECRET_KEY  # sessions made here must verify in children
        os.environ["DEBUG"] = "false"
        django_setup()
        from django.db import connections

        connections.close_all()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{_DB_PATH}{suffix}").unlink(missing_ok=True)
        from peacewatch.streams import kafka
        from peacewatch.streams.broker import start_broker, stop_process

        if engines == "real":
            suffix = run_suffix()
            values = {
                "KAFKA_BOOTSTRAP_SERVERS": engine_env["KAFKA_BOOTSTRAP_SERVERS"],
                "KAFKA_IDEMPOTENCE": "true",
                "KAFKA_REPLICATION_FACTOR": engine_env.get("KAFKA_REPLICATION_FACTOR", "3"),
                "KAFKA_MIN_INSYNC_REPLICAS": engine_env.get("KAFKA_MIN_INSYNC_REPLICAS", "2"),
                "KAFKA_GROUP_PREFIX": f"peacewatch-bench-{suffix}",
                "KAFKA_TOPIC_REPORTS": f"peacewatch.reports.bench-{suffix}",
                "KAFKA_TOPIC_ALERTS": f"peacewatch.alerts.bench-{suffix}",
                "KAFKA_TOPIC_DEADLETTER": f"peacewatch.deadletter.bench-{suffix}",
            }
            if search:
                values.update(
                    ELASTICSEARCH_URL=engine_env["ELASTICSEARCH_URL"],
                    ELASTICSEARCH_REPLICAS=engine_env.get("ELASTICSEARCH_REPLICAS", "0"),
                    ELASTICSEARCH_INDEX_PREFIX=f"pwbench{suffix}",
                )
            set_labels(engine=kafka_label())
        else:
            values = {
                "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
                "KAFKA_IDEMPOTENCE": "false",
                "KAFKA_REPLICATION_FACTOR": "1",
                "KAFKA_MIN_INSYNC_REPLICAS": "1",
                "KAFKA_GROUP_PREFIX": "peacewatch",
                "KAFKA_TOPIC_REPORTS": "peacewatch.reports",
                "KAFKA_TOPIC_ALERTS": "peacewatch.alerts",
                "KAFKA_TOPIC_DEADLETTER": "peacewatch.deadletter",
            }
            set_labels(engine=TANSU)
        base = {k: v for k, v in os.environ.items() if k not in (*_KAFKA_KEYS, *_SEARCH_KEYS)}
        env = {
            **base,
            **values,
            "PEACEWATCH_VAR_DIR": scratch,
            "LOG_LEVEL": "WARNING",
            "DEBUG": "false",
            "SECRET_KEY": BENCH_SECRET_KEY,
        }
        _apply(values)
        broker = None
        topics_made = False
        try:
            if engines == "real":
                progress(f"real engines: {kafka_label()} at {values['KAFKA_BOOTSTRAP_SERVERS']}, run {suffix}")
                asyncio.run(kafka.ensure_topics())
                topics_made = True
                yield Path(scratch), env
            else:
                broker = start_broker(values["KAFKA_BOOTSTRAP_SERVERS"], log_path=Path(scratch) / "broker.log")
                asyncio.run(kafka.ensure_topics())
                yield Path(scratch), env
        finally:
            if broker is not None:
                stop_process(broker)
            if topics_made:
                try:
                    asyncio.run(
                        kafka.delete_topics([values[f"KAFKA_TOPIC_{n}"] for n in ("REPORTS", "ALERTS", "DEADLETTER")])
                    )
                except Exception as exc:  # report, do not hide the benchmark's own error
                    progress(f"WARNING: could not delete the run's topics: {exc}")
            if engines == "real" and search:
                try:
                    drop_indices(values["ELASTICSEARCH_URL"], values["ELASTICSEARCH_INDEX_PREFIX"])
                except Exception as exc:
                    progress(f"WARNING: could not delete indices {values['ELASTICSEARCH_INDEX_PREFIX']}*: {exc}")
            connections.close_all()


def django_setup():
    import django

    django.setup()


async def preload(count: int, *, drones: int = 3500, seed: int = 1) -> float:
    """Produce ``count`` first-wave reports as fast as one producer can; returns seconds.

    Their ``sent_at`` spread evenly over the 24 hours before now, as a day of the fleet would, so that
    the stores' time buckets and daily indices fill as they do in service (not one instant).
    """
    from ingest.simulator import Fleet
    from peacewatch.streams import kafka

    fleet = Fleet.first_wave(drones=drones, seed=seed)
    producer = kafka.make_producer(linger_ms=20)
    await producer.start()
    topic = kafka.topic("reports")
    started = time.perf_counter()
    try:
        pending = []
        day = timedelta(hours=24)
        start, step = datetime.now(tz=UTC) - day, day / count
        for i in range(count):
            key, value = fleet.encoded(start + step * i)
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
            if i and i % 200_000 == 0:
                progress(f"preloaded {i:,}/{count:,} reports")
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def read_status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def run_consumer_process(
    name: str, group: str, count: int, scratch: Path, env: dict, timeout: float = 900, argv: list[str] | None = None
) -> dict:
    """Run ``manage.py run_consumer`` (or ``argv``) until it has handled ``count`` records.

    ``argv`` is another consumer process writing the same liveness file
    (``<var>/run/consumer-<name>.json``: consumed, first_batch_at,
    first_batch_records, last_batch_at), e.g. the bare baseline of pipeline.py,
    so both sides are measured the same way. Returns throughput measured
    between its first and last batch (start-up and group join excluded) and its
    RSS sampled through the run.
    """
    status_path = scratch / "run" / f"consumer-{name}.json"
    status_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        argv or [sys.executable, str(ROOT / "manage.py"), "run_consumer", name, "--group-id", group],
        env=env,
        cwd=ROOT,
    )
    samples: list[tuple[int, int]] = []  # (records consumed, rss KiB)
    deadline = time.monotonic() + timeout
    last_report = 0
    try:
        while True:
            status = read_status(status_path)
            done = status.get("consumed", 0)
            # The worker's memory: run_consumer's parent only forks it (the liveness file names the worker).
            samples.append((done, rss_kib(status.get("pid") or process.pid)))
            if done >= count:
                break
            if process.poll() is not None:
                raise RuntimeError(f"consumer {name} exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"consumer {name} handled {done}/{count} in {timeout}s")
            if done - last_report >= max(count // 10, 1):
                last_report = done
                progress(f"{name}: {done:,}/{count:,} records")
            time.sleep(0.25)
        time.sleep(1.2)  # one more liveness beat, written after the last batch
        status = read_status(status_path)
    finally:
        process.terminate()
        process.wait(timeout=60)
    consumed = status["consumed"] - status.get("first_batch_records", 0)
    seconds = status["last_batch_at"] - status["first_batch_at"]
    rss = [kib for done, kib in samples if kib]
    early = [kib for done, kib in samples if kib and done >= count * 0.2] or rss
    return {
        "rate": consumed / seconds if seconds > 0 else float("inf"),
        "seconds": seconds,
        "rss_peak_mib": max(rss) / 1024,
        "rss_at_20pct_mib": early[0] / 1024,
        "rss_end_mib": rss[-1] / 1024,
        "status": status,
    }


def fresh_postgres(url: str) -> str:
    """A new, empty database on ``url``'s server for one run; returns its URL (``drop_postgres`` removes it).

    Each run starts from the same empty state, as the SQLite runs do, without
    touching the database ``url`` names.
    """
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    name = f"pw_bench_{run_suffix()}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def drop_postgres(url: str, run_url: str) -> None:
    from urllib.parse import urlsplit

    import psycopg

    name = urlsplit(run_url).path.lstrip("/")
    try:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as exc:  # report, do not hide the benchmark's own error
        progress(f"WARNING: could not drop database {name}: {exc}")
