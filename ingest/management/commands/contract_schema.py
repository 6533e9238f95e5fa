"""``python manage.py contract_schema``: write docs/report.schema.json from the decoder's model."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from ingest.reports import json_schema

SCHEMA_PATH = Path(settings.BASE_DIR) / "docs" / "report.schema.json"


def rendered() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


class Command(BaseCommand):
    help = "Write the report's JSON Schema (docs/report.schema.json), generated from ingest.reports.Report."

    def handle(self, *args, **options):
        SCHEMA_PATH.write_text(rendered())
        self.stdout.write(f"wrote {SCHEMA_PATH}")
