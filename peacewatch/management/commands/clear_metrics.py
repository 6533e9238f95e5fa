"""`python manage.py clear_metrics`: empty PROMETHEUS_MULTIPROC_DIR before an installation starts.

Run only while no PeaceWatch process runs (``runstack`` does it first thing,
compose's ``init`` service before the others start): the files of running
processes would be lost, and those of processes from a previous run would
otherwise keep adding their old counters to ``/metrics``.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Delete the Prometheus multiprocess files of a previous run."

    def handle(self, *args, **options):
        folder = Path(settings.PROMETHEUS_MULTIPROC_DIR)
        folder.mkdir(parents=True, exist_ok=True)
        removed = 0
        for file in folder.glob("*.db"):
            file.unlink(missing_ok=True)
            removed += 1
        if options["verbosity"]:
            self.stdout.write(f"Removed {removed} metrics files from {folder}")
