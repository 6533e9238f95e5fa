"""`manage.py reindex`: from the other store, or by replaying the reports topic from a time."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command

from analytics.query import parse_query, plan
from analytics.store import get_store, open_elastic, reset_store
from analytics.store.embedded import EmbeddedStore
from ingest.reports import decode_report
from ingest.simulator import Fleet
from tests.factories import report
from tests.kafka import produce_sync

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def simulated(count: int, seed: int = 5) -> list:
    values = Fleet(drones=8, seed=seed).backfill(count, NOW - timedelta(hours=20), timedelta(hours=20))
    return [decode_report(v) for _, v in values]


def reindex(*args: str) -> str:
    out = io.StringIO()
    call_command("reindex", *args, stdout=out)
    return out.getvalue()


def test_it_copies_the_embedded_store_into_elasticsearch_idempotently(settings, search_engine, tmp_path):
    source = EmbeddedStore(tmp_path / "source.sqlite3")
    source.index(simulated(1500))
    settings.ELASTICSEARCH_URL = search_engine.url

    output = reindex("--from-store", "--source-path", str(tmp_path / "source.sqlite3"))

    assert "1,500 / 1,500 reports (100.0%)" in output
    assert "1,500 new" in output
    target = open_elastic(search_engine.url)
    target.refresh_now()
    assert target.count() == 1500
    query = parse_query({"time": {"last": "24h"}, "aggs": ["top_words", "top_drones"], "size": 5})
    p = plan(query, now=NOW)
    # Everything but when each store received them (as_of).
    assert target.search(p) | {"as_of": None} == source.search(p) | {"as_of": None}

    again = reindex("--from-store", "--source-path", str(tmp_path / "source.sqlite3"))
    assert "0 new" in again
    target.refresh_now()
    assert target.count() == 1500


def test_it_copies_only_reports_since_the_given_time(settings, search_engine, tmp_path):
    source = EmbeddedStore(tmp_path / "source.sqlite3")
    reports = simulated(600)
    source.index(reports)
    settings.ELASTICSEARCH_URL = search_engine.url
    since = NOW - timedelta(hours=5)
    expected = sum(1 for r in reports if r.observed_at >= since)

    reindex("--from-store", "--source-path", str(tmp_path / "source.sqlite3"), "--since", since.isoformat())

    target = open_elastic(search_engine.url)
    target.refresh_now()
    assert 0 < target.count() == expected < 600


def test_it_replays_the_topic_from_a_time_into_the_configured_engine(broker):
    before = [report(report_id=f"old-{i}") for i in range(30)]
    produce_sync(before)
    time.sleep(0.05)
    cut = datetime.now(tz=UTC)
    time.sleep(0.05)
    after = [report(report_id=f"new-{i}") for i in range(70)]
    produce_sync(after)

    output = reindex("--from-topic", "--since", cut.isoformat())

    assert "70 / 70 reports (100.0%)" in output
    reset_store()
    stored = set(get_store().report_ids())
    assert stored == {r["report_id"] for r in after}

    # More arrive; a resumed replay takes only those, and nothing twice.
    produce_sync([report(report_id="late-1"), b"not json"])
    resumed = reindex("--from-topic", "--resume")
    assert "2 / 2 reports" in resumed and "1 bad" in resumed
    reset_store()
    assert get_store().count() == 71


def test_a_replay_needs_a_time_and_a_bad_time_is_refused():
    with pytest.raises(CommandError, match="needs --since"):
        reindex("--from-topic")
    with pytest.raises(CommandError, match="expected RFC 3339"):
        reindex("--from-topic", "--since", "yesterday")


def test_a_replay_can_build_new_indices_beside_the_old_ones(broker, settings, search_engine):
    settings.ELASTICSEARCH_URL = search_engine.url
    cut = datetime.now(tz=UTC) - timedelta(seconds=1)
    produce_sync([report(report_id=f"v2-{i}") for i in range(25)])

    output = reindex("--from-topic", "--since", cut.isoformat(), "--target-prefix", f"{search_engine.prefix}-v2")

    assert "25 / 25 reports (100.0%)" in output
    new = open_elastic(search_engine.url, prefix=f"{search_engine.prefix}-v2")
    new.refresh_now()
    assert new.count() == 25
    assert open_elastic(search_engine.url).count() == 0  # the live indices were not touched
