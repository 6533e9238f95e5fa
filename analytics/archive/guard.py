"""The retention guard: an index day is dropped only when the archive holds every report of it."""

from __future__ import annotations

import logging
from datetime import date

from analytics.archive import replay
from analytics.archive.storage import get_archive
from peacewatch import metrics
from peacewatch.logs import log

logger = logging.getLogger(__name__)


def archive_holds(day: date, indexed: int) -> bool:
    """Whether the archive holds at least the ``indexed`` reports observed on ``day``; logs and counts a refusal."""
    try:
        archived = replay.count_observed_on(get_archive(), day)
    except OSError as exc:  # the store cannot answer: keep the index, ask again next run
        archived, error = None, f"{type(exc).__name__}: {exc}"
    else:
        error = None
    if archived is not None and archived >= indexed:
        return True
    metrics.INDEX_DROP_REFUSED.inc()
    log(
        logger,
        logging.WARNING,
        "analytics_index_kept_for_archive",
        day=day.isoformat(),
        indexed=indexed,
        archived=archived,
        error=error,
    )
    return False
