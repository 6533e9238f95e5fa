"""`python manage.py broker`: the embedded Kafka-protocol broker, with the contract's topics."""

import asyncio
import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from peacewatch.logs import log
from peacewatch.streams import kafka
from peacewatch.streams.broker import start_broker, stop_process

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Start the embedded Tansu broker (memory only) and create PeaceWatch's topics."

    def add_arguments(self, parser):
        parser.add_argument("--listen", default=settings.EMBEDDED_BROKER_LISTEN, help="host:port to listen on")

    def handle(self, *args, listen: str, **options):
        process = start_broker(listen)
        log(logger, logging.INFO, "broker_started", listen=listen, pid=process.pid)
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            asyncio.run(kafka.ensure_topics(bootstrap_servers=listen))
            self.stdout.write(f"Embedded broker ready on {listen} (memory only). Ctrl-C stops it.")
            while not stopping and process.poll() is None:
                time.sleep(0.5)
        finally:
            stop_process(process)
            log(logger, logging.INFO, "broker_stopped", code=process.returncode)
