"""Shared pieces of the benchmarks: an embedded broker, preloading, process sampling.

Benchmarks run the real entry points (``manage.py run_consumer``) as child
processes and read their liveness files; nothing here is imported by the app.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peacewatch.settings")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def emit(figure: str, value, unit: str, **extra) -> dict:
    line = {"figure": figure, "value": value, "unit": unit, **extra}
    print(json.dumps(line), flush=True)
    return line


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


@contextmanager
def bench_env():
    """A scratch var dir, an empty database, a fresh broker on a free port, and env for child processes.

    The database file keeps one path for the whole benchmark process (Django
    reads its settings once) and is emptied on every entry.
    """
    with tempfile.TemporaryDirectory(prefix="pw-bench-") as scratch:
        os.environ["PEACEWATCH_VAR_DIR"] = scratch
        os.environ["DATABASE_URL"] = f"sqlite:///{_DB_PATH}"
        os.environ["SECRET_KEY"] = "bench-only-not-a-secret"  # sessions made here must verify in children
        os.environ["DEBUG"] = "false"
        django_setup()
        from django.db import connections

        connections.close_all()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{_DB_PATH}{suffix}").unlink(missing_ok=True)
        from ingest.broker import start_broker, stop_process

        address = f"127.0.0.1:{free_port()}"
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": address,
            "KAFKA_IDEMPOTENCE": "false",
            "PEACEWATCH_VAR_DIR": scratch,
            "LOG_LEVEL": "WARNING",
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-not-a-secret",
        }
        os.environ.update({k: env[k] for k in ("KAFKA_BOOTSTRAP_SERVERS", "KAFKA_IDEMPOTENCE")})
        from django.conf import settings

        settings.KAFKA_BOOTSTRAP_SERVERS = address
        settings.KAFKA_IDEMPOTENCE = False
        broker = start_broker(address, log_path=Path(scratch) / "broker.log")
        try:
            from peacewatch import kafka

            asyncio.run(kafka.ensure_topics())
            yield Path(scratch), env
        finally:
            stop_process(broker)
            connections.close_all()


def django_setup():
    import django

    django.setup()


async def preload(count: int, *, drones: int = 3500, seed: int = 1) -> float:
    """Produce ``count`` simulated reports as fast as one producer can; returns seconds."""
    from ingest.simulator import Fleet
    from peacewatch import kafka

    fleet = Fleet(drones=drones, seed=seed)
    producer = kafka.make_producer(linger_ms=20)
    await producer.start()
    topic = kafka.topic("reports")
    started = time.perf_counter()
    try:
        pending = []
        now = datetime.now(tz=UTC)
        for i in range(count):
            key, value = fleet.encoded(now)
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


def run_consumer_process(name: str, group: str, count: int, scratch: Path, env: dict, timeout: float = 900) -> dict:
    """Run ``manage.py run_consumer`` until it has handled ``count`` records.

    Returns throughput measured between its first and last batch (start-up and
    group join excluded) and its RSS sampled through the run.
    """
    status_path = scratch / "run" / f"consumer-{name}.json"
    status_path.unlink(missing_ok=True)
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "run_consumer", name, "--group-id", group],
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
            samples.append((done, rss_kib(process.pid)))
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
