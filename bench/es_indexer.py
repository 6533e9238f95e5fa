"""Elasticsearch indexer throughput against a bare ``helpers.streaming_bulk`` (issue 4).

    python bench/es_indexer.py [--url URL] [--documents N] [--repeat 5]

Against the node at ``--url`` (e.g. the OpenSearch of ``make engines``,
http://127.0.0.1:19200; 200,000 documents by default), else against
osmem-server, an in-memory OpenSearch-compatible stand-in it starts itself
(20,000 by default; figures labelled ``"search": "osmem-server (stand-in)"``).
Every index and template the run creates carries a prefix unique to the run
and is deleted at the end. Decodes ``--documents`` simulated reports once, then
for each repeat runs, alternating and on fresh indices:

- **ours**: ``ElasticStore.index()`` from ``open_elastic(url, refresh=False)``,
  handed the decoded reports in batches of 5,000 as the indexer consumer does;
  it builds every document (``analytics.store.elastic.document``), encodes it
  and cuts and retries the bulk requests itself;
- **bare**: ``elasticsearch.helpers.streaming_bulk`` on a client from
  ``make_client(url)``, sending the same documents to the same daily indices
  with the same ``_id``, template and request size limits (documents per
  request and bytes per request as the store's). Its documents are built with
  ``document()`` *before* the clock starts, so the baseline does strictly less
  work and the ratio is conservative.

Throughput is documents / wall-clock seconds of the indexing call alone; the
benchmark process's CPU seconds over the same call are reported too (the
client-side cost per document, which the server's time hides). One untimed
round of each side warms the server up first: the first bulk requests a fresh
osmem-server takes are markedly slower. osmem-server indexes about 1,000 of
these documents per second on 2 shared cores (nested citizens, a geo_point),
so 20,000 documents (4 bulk requests) per side keep a 5-run benchmark near 5
minutes; 200,000 would take half an hour for the same ratio.
``--profile`` adds a cProfile of one extra run of ours (top functions on stderr).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import pstats
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from common import (
    STAND_IN,
    django_setup,
    drop_indices,
    emit,
    emit_median,
    machine,
    median,
    progress,
    run_suffix,
    search_label,
    set_labels,
)

DAY_START = datetime(2026, 11, 27, tzinfo=UTC)
BATCH = 5000  # what the indexer consumer hands the store at a time


def received(count: int, drones: int, seed: int) -> list:
    from ingest.reports import Received, decode_report
    from ingest.simulator import Fleet

    fleet = Fleet.first_wave(drones=drones, seed=seed)  # the benchmarks' realistic population and vocabulary
    # Spread over 24 h like a day of traffic: one daily index, as in production.
    span = timedelta(hours=24) - timedelta(milliseconds=1)
    out = []
    for _key, value in fleet.backfill(count, DAY_START, span):
        item = decode_report(value)
        assert isinstance(item, Received), item
        out.append(item)
    return out


def run_ours(url: str, items: list, prefix: str) -> tuple[float, float]:
    from analytics.store import open_elastic

    store = open_elastic(url, prefix=prefix, refresh=False)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        created, rejected = 0, []
        for start in range(0, len(items), BATCH):
            result = store.index(items[start : start + BATCH])
            created += result.created
            rejected += result.rejected
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        store.close()
    if created != len(items) or rejected:
        raise RuntimeError(f"ours created {created}/{len(items)}, rejected {rejected[:3]}")
    return seconds, cpu


def run_bare(url: str, items: list, prefix: str, *, chunk_size: int, max_chunk_bytes: int) -> tuple[float, float]:
    from django.conf import settings
    from elasticsearch import helpers

    from analytics.store.elastic import document, index_template, make_client

    client = make_client(url)
    try:
        client.indices.put_index_template(
            name=f"{prefix}-reports",
            **index_template(prefix, shards=settings.ELASTICSEARCH_SHARDS, replicas=settings.ELASTICSEARCH_REPLICAS),
        )
        now = int(time.time() * 1000)
        actions = []
        for item in items:  # outside the clock: the baseline gets its documents for free
            doc = document(item, now)
            day = datetime.fromtimestamp(doc["observed_at"] / 1000, tz=UTC)
            actions.append({"_index": f"{prefix}-reports-{day:%Y.%m.%d}", "_id": item.report_id, "_source": doc})
        started, cpu = time.perf_counter(), time.process_time()
        created = 0
        for ok, info in helpers.streaming_bulk(
            client, actions, chunk_size=chunk_size, max_chunk_bytes=max_chunk_bytes, raise_on_error=True
        ):
            created += ok and info["index"]["status"] == 201
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        client.close()
    if created != len(items):
        raise RuntimeError(f"bare created {created}/{len(items)}")
    return seconds, cpu


def drop(url: str, prefix: str) -> None:
    """Free the server's memory between runs."""
    from analytics.store.elastic import make_client

    client = make_client(url)
    try:
        client.indices.delete(index=f"{prefix}-reports-*", allow_no_indices=True)
        client.indices.delete_index_template(name=f"{prefix}-reports")
    finally:
        client.close()


def profile_ours(url: str, items: list, prefix: str, top: int = 25) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    seconds, _ = run_ours(url, items, prefix)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    progress(f"profile of ours ({len(items) / seconds:,.0f} docs/s under the profiler), by own time:")
    print(out.getvalue(), file=sys.stderr, flush=True)
    drop(url, prefix)


@contextmanager
def search_node(url: str | None):
    """The node to index into: ``url``, or a fresh osmem-server when None. Yields (url, label)."""
    if url:
        label = search_label(url)
        progress(f"{label} at {url}")
        yield url.rstrip("/"), label
        return
    from osmem_server import OsmemServer

    with OsmemServer.start() as server:
        progress(f"osmem-server {server.version} pid {server.pid} at {server.url} (stand-in)")
        yield server.url, STAND_IN


def cap_replicas(url: str) -> None:
    """No more replicas than the node's cluster can place (else every index stays yellow)."""
    from django.conf import settings

    from analytics.store.elastic import make_client

    client = make_client(url)
    try:
        nodes = client.cluster.health()["number_of_data_nodes"]
    finally:
        client.close()
    settings.ELASTICSEARCH_REPLICAS = min(settings.ELASTICSEARCH_REPLICAS, max(nodes - 1, 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="an OpenSearch/Elasticsearch node (default: start the osmem-server stand-in)")
    parser.add_argument("--documents", type=int, help="per run (default 200,000 with --url, 20,000 on the stand-in)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--drones", type=int, default=3500)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile one extra run of ours")
    args = parser.parse_args()
    documents = args.documents or (200_000 if args.url else 20_000)
    django_setup()
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)  # one INFO line per request otherwise
    from django.conf import settings

    from peacewatch.streams.runner import tune_gc

    base = f"bench{run_suffix()}"  # every index and template of this run starts with it
    ours_rates, bare_rates, ratios = [], [], []
    cpu_us: dict[str, list[float]] = {"ours": [], "bare": []}
    limits = {"chunk_size": settings.ELASTICSEARCH_BULK_DOCS, "max_chunk_bytes": settings.ELASTICSEARCH_BULK_BYTES}
    with search_node(args.url) as (url, label):
        set_labels(search=label)
        if args.url:
            cap_replicas(url)
        progress(f"decoding {documents:,} simulated reports")
        items = received(documents, args.drones, args.seed)
        tune_gc()  # as in the indexer's process; both sides run under it
        try:
            warm = items[:BATCH]
            run_ours(url, warm, f"{base}warmours")
            run_bare(url, warm, f"{base}warmbare", **limits)
            drop(url, f"{base}warmours")
            drop(url, f"{base}warmbare")
            for run in range(args.repeat):
                # Alternate which side goes first, so neither always meets a warmer server.
                order = ("ours", "bare") if run % 2 == 0 else ("bare", "ours")
                rates = {}
                for side in order:
                    prefix = f"{base}r{run}{side}"
                    if side == "ours":
                        seconds, cpu = run_ours(url, items, prefix)
                    else:
                        seconds, cpu = run_bare(url, items, prefix, **limits)
                    rates[side] = len(items) / seconds
                    cpu_us[side].append(cpu / len(items) * 1e6)
                    drop(url, prefix)
                ours_rates.append(rates["ours"])
                bare_rates.append(rates["bare"])
                ratios.append(rates["ours"] / rates["bare"])
                progress(
                    f"run {run + 1}: ours {rates['ours']:,.0f} docs/s, bare {rates['bare']:,.0f} docs/s, "
                    f"ratio {ratios[-1]:.3f}; client CPU ours {cpu_us['ours'][-1]:.0f} us/doc, "
                    f"bare {cpu_us['bare'][-1]:.0f} us/doc"
                )
            if args.profile:
                profile_ours(url, items, f"{base}profile")
        finally:
            drop_indices(url, base)
    emit_median("es_indexer_rate", ours_rates, "docs/s")
    emit_median("es_bare_streaming_bulk_rate", bare_rates, "docs/s")
    for side, values in cpu_us.items():
        emit_median(f"es_{side}_client_cpu", values, "us/doc", digits=1)
    emit(
        "es_indexer_to_bare_ratio",
        round(median(ratios), 3),
        "ratio",
        runs=[round(r, 3) for r in ratios],
        target=">= 0.7",
        met=median(ratios) >= 0.7,
        documents=documents,
        replicas=settings.ELASTICSEARCH_REPLICAS,
        machine=machine(),
    )
    return 0  # the target is reported, not enforced, as in the other benchmarks


if __name__ == "__main__":
    sys.exit(main())
