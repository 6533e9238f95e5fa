"""The system as `make run` starts it, for end-to-end tests: web server and consumers as processes.

Tests that need it get the real daphne server and real consumer processes,
sharing the test database (a file) and the test's embedded broker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection

from peacewatch.streams.broker import stop_process, wait_for_port


def child_env(tmp_path: Path) -> dict[str, str]:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        database_url = f"sqlite:///{db['NAME']}"
    else:
        database_url = (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
        )
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "PEACEWATCH_VAR_DIR": str(tmp_path),
        "ANALYTICS_SQLITE_PATH": str(settings.ANALYTICS_SQLITE_PATH),
        "KAFKA_BOOTSTRAP_SERVERS": settings.KAFKA_BOOTSTRAP_SERVERS,
        "KAFKA_IDEMPOTENCE": str(settings.KAFKA_IDEMPOTENCE).lower(),
        "DEBUG": "true",
    }


def liveness_check(name: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """`run_consumer NAME --check 30` as a container healthcheck would run it."""
    return subprocess.run(
        [sys.executable, "manage.py", "run_consumer", name, "--check", "30"],
        env={**os.environ, "PEACEWATCH_VAR_DIR": str(tmp_path)},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


@dataclass
class LiveStack:
    tmp_path: Path
    port: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen(
            argv, env=child_env(self.tmp_path), cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT
        )
        self.processes[name] = process
        return process

    def start_web(self) -> None:
        self.start(
            "web",
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "peacewatch.asgi:application"],
        )
        wait_for_port("127.0.0.1", self.port, timeout=30, process=self.processes["web"])

    def start_consumer(self, name: str) -> None:
        self.start(f"consumer-{name}", [sys.executable, "manage.py", "run_consumer", name])

    def wait_consumer_ready(self, name: str, timeout: float = 30) -> None:
        """Until the consumer has joined its group (its liveness file says connected)."""
        status = self.tmp_path / "run" / f"consumer-{name}.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = json.loads(status.read_text()) if status.exists() else {}
            if state.get("state") == "running" and state.get("partitions", 0) > 0:
                return
            assert self.processes[f"consumer-{name}"].poll() is None, self.log(f"consumer-{name}")
            time.sleep(0.1)
        raise AssertionError(f"consumer {name} not ready: {self.log(f'consumer-{name}')}")

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            stop_process(process, timeout=15)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def log(self, name: str) -> str:
        path = self.tmp_path / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@contextmanager
def running_web(tmp_path: Path, port: int) -> Iterator[LiveStack]:
    """The web server alone (daphne, as `make run` starts it), stopped when the block ends."""
    running = LiveStack(tmp_path=tmp_path, port=port)
    try:
        running.start_web()
        yield running
    finally:
        running.stop_all()
