"""The analytics store chosen by settings: embedded unless ELASTICSEARCH_URL is set."""

from __future__ import annotations

import threading

from django.conf import settings

from analytics.store.base import ReportStore

_local = threading.local()


def open_store() -> ReportStore:
    if settings.ELASTICSEARCH_URL:
        return open_elastic(settings.ELASTICSEARCH_URL)
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


def open_elastic(url: str, **overrides) -> ReportStore:
    from analytics.store.elastic import ElasticStore, make_client

    client = make_client(
        url,
        flavor=settings.ELASTICSEARCH_FLAVOR,
        api_key=settings.ELASTICSEARCH_API_KEY or None,
        username=settings.ELASTICSEARCH_USERNAME or None,
        password=settings.ELASTICSEARCH_PASSWORD or None,
        ca_certs=settings.ELASTICSEARCH_CA_CERTS or None,
        verify_certs=settings.ELASTICSEARCH_VERIFY_CERTS,
        timeout_s=settings.ELASTICSEARCH_TIMEOUT_S,
    )
    options = {
        "prefix": settings.ELASTICSEARCH_INDEX_PREFIX,
        "shards": settings.ELASTICSEARCH_SHARDS,
        "replicas": settings.ELASTICSEARCH_REPLICAS,
        "bulk_bytes": settings.ELASTICSEARCH_BULK_BYTES,
        "bulk_docs": settings.ELASTICSEARCH_BULK_DOCS,
    }
    options.update(overrides)
    return ElasticStore(client, **options)
