"""`python manage.py simulate`: simulated drones producing reports to Kafka."""

import asyncio
import signal
import sys
import time
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from ingest.simulator import Fleet
from peacewatch.streams import kafka


class Command(BaseCommand):
    help = "Produce reports from simulated drones (deterministic for a seed)."

    def add_arguments(self, parser):
        parser.add_argument("--drones", type=int, default=200)
        parser.add_argument(
            "--rate", type=float, help="reports per second for the whole fleet (default: real time, drones/60)"
        )
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--first-id", type=int, default=0, help="number of the first drone (pw-00000 by default)")
        parser.add_argument("--duration", type=float, default=0, help="seconds to run; 0 means until Ctrl-C")
        parser.add_argument("--count", type=int, default=0, help="stop after this many reports; 0 means no limit")
        parser.add_argument("--quiet", action="store_true", help="no progress line")

    def handle(self, *args, drones, rate, seed, duration, count, quiet, first_id, **options):
        if drones < 1:
            raise CommandError("--drones must be at least 1")
        rate = rate if rate is not None else drones / 60
        if rate <= 0:
            raise CommandError("--rate must be positive")
        fleet = Fleet(drones=drones, seed=seed, first_id=first_id)
        asyncio.run(self._run(fleet, rate, duration, count, quiet))

    async def _run(self, fleet: Fleet, rate: float, duration: float, count: int, quiet: bool) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        topic = kafka.topic("reports")
        producer = kafka.make_producer()
        try:
            await producer.start()
        except Exception as exc:
            await producer.stop()
            raise CommandError(f"cannot reach Kafka at {kafka.client_kwargs()['bootstrap_servers']}: {exc!r}") from exc
        sent = 0
        started = time.monotonic()
        last_progress = started
        pending = []
        try:
            while not stop.is_set():
                now = time.monotonic()
                if (duration and now - started >= duration) or (count and sent >= count):
                    break
                # Pace by the schedule, not by sleeps, so the rate holds at thousands/s.
                due = int((now - started) * rate) + 1
                if count:
                    due = min(due, count)
                while sent < due:
                    key, value = fleet.encoded(datetime.now(tz=UTC))
                    pending.append(await producer.send(topic, value, key=key))
                    sent += 1
                if len(pending) > 2000:
                    await asyncio.gather(*pending)
                    pending.clear()
                if not quiet and now - last_progress >= 5:
                    last_progress = now
                    sys.stdout.write(f"simulate: {sent} reports sent, {sent / (now - started):.0f}/s\n")
                    sys.stdout.flush()
                await asyncio.sleep(max(0.0, min(0.05, 1 / rate)))
            await asyncio.gather(*pending)
        finally:
            await producer.stop()
        elapsed = time.monotonic() - started
        self.stdout.write(f"simulate: done, {sent} reports in {elapsed:.1f}s ({sent / max(elapsed, 1e-9):.0f}/s)")
