from django.apps import AppConfig
from django.core.signals import setting_changed


def _apply_clock_skew(*, setting: str, value, **kwargs) -> None:
    """Tests that override MAX_CLOCK_SKEW_S get it in the decoder too (and the old value back)."""
    if setting == "MAX_CLOCK_SKEW_S":
        from ingest import reports

        reports.set_max_clock_skew(reports.DEFAULT_MAX_CLOCK_SKEW_S if value is None else value)


class IngestConfig(AppConfig):
    name = "ingest"
    verbose_name = "Ingest"

    def ready(self) -> None:
        from django.conf import settings

        from ingest import reports

        # Read once: the decoder keeps it in a module value because it runs per record.
        reports.set_max_clock_skew(settings.MAX_CLOCK_SKEW_S)
        setting_changed.connect(_apply_clock_skew, dispatch_uid="ingest.max_clock_skew")
