"""The analytics store chosen by settings: embedded unless ELASTICSEARCH_URL is set."""

from __future__ import annotations

import threading

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from analytics.store.base import ReportStore

_local = threading.local()


def open_store() -> ReportStore:
    if settings.ELASTICSEARCH_URL:
        raise ImproperlyConfigured("the Elasticsearch engine arrives with the analytics issue; unset ELASTICSEARCH_URL")
    from analytics.store.embedded import EmbeddedStore

    return EmbeddedStore(settings.ANALYTICS_SQLITE_PATH)


def get_store() -> ReportStore:
    """The store for this thread (SQLite connections are not shared across threads)."""
    store = getattr(_local, "store", None)
    if store is None:
        store = _local.store = open_store()
    return store


def reset_store() -> None:
    store = getattr(_local, "store", None)
    if store is not None:
        store.close()
        _local.store = None
