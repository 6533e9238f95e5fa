"""`python manage.py ensure_topics`: create the contract's topics on the configured Kafka.

Partitions, replication factor, ``min.insync.replicas`` and retention come
from the ``KAFKA_*`` settings (peacewatch/streams/kafka.py). Existing topics are left
as they are: growing partitions is an operator's decision (docs/OPERATIONS.md).
With ``--wait`` it retries until the cluster answers, for an install whose
brokers start at the same time.
"""

import asyncio
import time

from django.core.management.base import BaseCommand, CommandError

from peacewatch.streams import kafka


class Command(BaseCommand):
    help = "Create peacewatch.reports, .alerts and .deadletter if missing (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--wait", type=float, default=0, help="seconds to keep retrying while Kafka is not ready")

    def handle(self, *args, wait: float, **options):
        deadline = time.monotonic() + wait
        while True:
            try:
                created = asyncio.run(kafka.ensure_topics())
            except Exception as exc:
                if time.monotonic() >= deadline:
                    raise CommandError(f"cannot create topics: {type(exc).__name__}: {exc}") from exc
                time.sleep(2)
                continue
            self.stdout.write(f"Topics ready (created: {', '.join(created) or 'none'})")
            return
