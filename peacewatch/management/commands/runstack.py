"""`python manage.py runstack`: the whole system on one machine, for `make run`.

Starts the embedded broker, the web server (daphne), every registered
consumer and a simulated fleet as child processes; restarts a child that dies;
Ctrl-C (or SIGTERM) stops them all, consumers first so they commit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from peacewatch.consumers import KAFKA_CONSUMERS
from peacewatch.streams.broker import port_open, split_hostport, stop_process, wait_for_port


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen | None = None
    restarts: int = 0
    note: str = ""
    started_at: float = field(default=0.0)


class Command(BaseCommand):
    help = "Start broker, web server, consumers and simulated drones; Ctrl-C stops everything."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--drones", type=int, default=200)
        parser.add_argument("--rate", type=float, default=50.0, help="simulated reports per second")
        parser.add_argument("--no-simulator", action="store_true")
        parser.add_argument("--no-broker", action="store_true", help="use the Kafka at KAFKA_BOOTSTRAP_SERVERS")

    def _set_aside_old_analytics_store(self) -> None:
        """An embedded store written by an older PeaceWatch cannot be opened; keep it, start afresh.

        Only here, before any process opens the file. The old file is renamed,
        never deleted: the embedded broker keeps nothing across restarts, so a
        new run starts from an empty store either way.
        """
        from analytics.store.embedded import EmbeddedStore, StoreSchemaError

        if settings.ELASTICSEARCH_URL or not settings.ANALYTICS_SQLITE_PATH.exists():
            return
        try:
            EmbeddedStore(settings.ANALYTICS_SQLITE_PATH).close()
        except StoreSchemaError as exc:
            path = settings.ANALYTICS_SQLITE_PATH
            aside = path.with_name(f"{path.name}.old-{time.strftime('%Y%m%d-%H%M%S')}")
            for suffix in ("", "-wal", "-shm"):
                old = path.with_name(path.name + suffix)
                if old.exists():
                    old.rename(aside.with_name(aside.name + suffix))
            self.stderr.write(self.style.WARNING(f"{exc}\nSet aside as {aside}; starting a new analytics store."))

    def handle(self, *args, port, drones, rate, no_simulator, no_broker, **options):
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        host, kafka_port = split_hostport(settings.KAFKA_BOOTSTRAP_SERVERS.split(",")[0])
        self.stopping = False
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGTERM, self._stop)
        children: list[Child] = []
        broker = None
        # Metrics files of a previous run would add old counters and dead
        # processes' gauges to this run's /metrics (peacewatch/metrics.py).
        call_command("clear_metrics", verbosity=0)
        self._set_aside_old_analytics_store()
        if not no_broker:
            if port_open(host, kafka_port):
                raise CommandError(
                    f"something already listens on {host}:{kafka_port}; stop it, or set "
                    "KAFKA_BOOTSTRAP_SERVERS to a free address, or pass --no-broker to use that Kafka"
                )
            broker = self._spawn(Child("broker", [*manage, "broker"]))
            wait_for_port(host, kafka_port, timeout=30, process=broker.process)
        if port_open("127.0.0.1", port):
            raise CommandError(f"port {port} is taken; run with PORT=<free port> make run")
        children.append(
            Child(
                "web",
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "peacewatch.asgi:application"],
            )
        )
        children += [Child(f"consumer:{name}", [*manage, "run_consumer", name]) for name in KAFKA_CONSUMERS]
        celery = [sys.executable, "-m", "celery", "-A", "peacewatch"]
        children += [
            Child("celery-worker", [*celery, "worker", "--pool", "solo", "-Q", "celery", "--loglevel", "WARNING"]),
            Child(
                "celery-exports",
                [*celery, "worker", "--pool", "solo", "-Q", "exports", "-n", "exports@%h", "--loglevel", "WARNING"],
            ),
            Child(
                "celery-beat",
                [*celery, "beat", "--loglevel", "WARNING", "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")],
            ),
        ]
        if not no_simulator:
            # Two groups of drones, so part of the fleet can be silenced (kill the
            # second simulator) to watch those drones go offline on the map.
            first = max(1, drones * 3 // 4)
            for name, start, count in (("simulator", 0, first), ("simulator-b", first, drones - first)):
                if count > 0:
                    argv = [*manage, "simulate", "--drones", str(count), "--first-id", str(start), "--quiet"]
                    argv += ["--rate", f"{rate * count / drones:.2f}", "--seed", str(42 + start)]
                    children.append(Child(name, argv, note=f"drones pw-{start:05d} to pw-{start + count - 1:05d}"))
        time.sleep(1.0)  # the broker command creates topics right after it listens
        for child in children:
            self._spawn(child)
        wait_for_port("127.0.0.1", port, timeout=60)
        signins = settings.VAR_DIR / "demo-signins.txt"
        self.stdout.write(
            self.style.SUCCESS(f"\nPeaceWatch is running: http://127.0.0.1:{port}/  (Ctrl-C stops everything)\n")
            + (signins.read_text() if signins.exists() else "Create sign-ins with: python manage.py demo_users\n")
        )
        for child in children:
            if child.name == "simulator-b":
                self.stdout.write(
                    f"To silence part of the fleet (offline within {settings.DRONE_OFFLINE_AFTER_S // 60} min): "
                    f"kill {child.process.pid}   ({child.note})\n"
                )
        try:
            while not self.stopping:
                for child in [broker, *children] if broker else children:
                    code = child.process.poll()
                    if code == 0 and child.name.startswith("simulator"):
                        continue  # stopped on purpose (kill <pid>): its drones fall silent
                    if code is not None and not self.stopping:
                        child.restarts += 1
                        self.stderr.write(f"runstack: {child.name} exited with {code}; restarting (#{child.restarts})")
                        time.sleep(min(10, child.restarts))
                        self._spawn(child)
                time.sleep(0.5)
        finally:
            # Producers and consumers first (they flush and commit), the broker last.
            for child in reversed(children):
                if child.process is not None:
                    stop_process(child.process, timeout=15)
            if broker is not None:
                stop_process(broker.process)
            self.stdout.write("runstack: everything stopped")

    def _stop(self, signum, frame) -> None:
        self.stopping = True

    def _spawn(self, child: Child) -> Child:
        # Own process group: Ctrl-C reaches runstack only, which then stops
        # children in order instead of all of them dying at once.
        child.process = subprocess.Popen(child.argv, start_new_session=True)
        child.started_at = time.monotonic()
        return child
