"""The archive rebuilds everything: re-index any period from it, and retention that waits for it."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from prometheus_client import REGISTRY

from analytics.archive.consumer import process_batch
from analytics.archive.guard import archive_holds
from analytics.store import open_elastic, reset_store
from ingest.reports import decode_report
from peacewatch.streams import kafka
from peacewatch.streams.batch import Record
from tests.factories import report

pytestmark = pytest.mark.django_db(transaction=True)

DAY_ONE = datetime(2026, 10, 1, 9, tzinfo=UTC)
DAY_TWO = DAY_ONE + timedelta(days=1)


def arrived(docs, at: datetime, first_offset: int) -> list[Record]:
    """Records of the reports topic, as they arrived at ``at`` (one a second)."""
    return [
        Record(
            value=json.dumps(doc).encode(),
            topic=kafka.topic("reports"),
            partition=0,
            offset=first_offset + i,
            timestamp=int((at + timedelta(seconds=i)).timestamp() * 1000),
        )
        for i, doc in enumerate(docs)
    ]


def day_of_reports(day: datetime, n: int, first_offset: int) -> list[Record]:
    docs = [report(report_id=f"{day:%m%d}-{i}", sent_at=(day + timedelta(seconds=i)).isoformat()) for i in range(n)]
    return arrived(docs, day, first_offset)


@pytest.fixture
def engine(search_engine, settings, monkeypatch):
    settings.ELASTICSEARCH_URL = search_engine.url
    monkeypatch.setenv("ELASTICSEARCH_URL", search_engine.url)
    reset_store()
    store = open_elastic(search_engine.url, refresh=True)
    yield store
    store.close()
    reset_store()


def index_names(store) -> list[str]:
    return sorted(store.client.indices.get(index=store.pattern, allow_no_indices=True).body)


def test_a_deleted_day_is_rebuilt_from_the_archive_idempotently_and_with_progress(archive, engine, capsys):
    process_batch(day_of_reports(DAY_ONE, 30, 0) + day_of_reports(DAY_TWO, 20, 30), archive)

    call_command("reindex", "--from-archive", "--since", "2026-10-01T00:00:00Z", "--until", "2026-10-03T00:00:00Z")
    engine.refresh_now()
    assert engine.count() == 50
    assert "50 / 50 reports (100.0%)" in capsys.readouterr().out

    day_one = f"{engine.prefix}-reports-2026.10.01"
    engine.client.indices.delete(index=day_one)  # lost, or dropped by retention
    engine.refresh_now()
    assert engine.count() == 20
    call_command("reindex", "--from-archive", "--since", "2026-10-01T00:00:00Z", "--until", "2026-10-02T00:00:00Z")
    engine.refresh_now()
    assert engine.count() == 50 and day_one in index_names(engine)
    assert engine.get("1001-7")["observed_at"] == "2026-10-01T09:00:07.000Z"
    assert "30 new, 0 bad" in capsys.readouterr().out

    call_command("reindex", "--from-archive", "--since", "2026-10-01T00:00:00Z", "--until", "2026-10-03T00:00:00Z")
    assert "done: 50 / 50 reports (100.0%)" in capsys.readouterr().out and engine.count() == 50  # nothing twice


def test_an_interrupted_rebuild_resumes_after_its_last_whole_file(archive, engine, capsys):
    process_batch(day_of_reports(DAY_ONE, 10, 0) + day_of_reports(DAY_TWO, 10, 10), archive)
    period = ["--since", "2026-10-01T00:00:00Z", "--until", "2026-10-03T00:00:00Z"]
    call_command("reindex", "--from-archive", *period)
    capsys.readouterr()

    call_command("reindex", "--from-archive", *period, "--resume")
    assert "done: 0 reports" in capsys.readouterr().out  # every file was done

    with pytest.raises(CommandError, match="nothing to resume"):
        call_command("reindex", "--from-archive", "--since", "2026-10-02T00:00:00Z", "--resume")
    with pytest.raises(CommandError, match="--until must be after --since"):
        call_command("reindex", "--from-archive", "--since", "2026-10-02T00:00:00Z", "--until", "2026-10-01T00:00:00Z")
    with pytest.raises(CommandError, match="--until 'yesterday'"):
        call_command("reindex", "--from-archive", "--since", "2026-10-02T00:00:00Z", "--until", "yesterday")


def test_retention_keeps_an_index_day_until_the_archive_holds_all_of_it(archive, engine):
    old = DAY_ONE
    now = old + timedelta(days=40)
    records = day_of_reports(old, 12, 0)
    engine.index([decode_report(r.value, timestamp_ms=r.timestamp) for r in records])
    process_batch(records[:10], archive)  # two reports never reached the archive
    refused = REGISTRY.get_sample_value("peacewatch_analytics_index_drop_refused_total") or 0

    assert engine.prune(keep_days=30, now=now, may_drop=archive_holds) == []
    assert f"{engine.prefix}-reports-2026.10.01" in index_names(engine)
    assert REGISTRY.get_sample_value("peacewatch_analytics_index_drop_refused_total") == refused + 1

    process_batch(records, archive)  # the archive catches up (the first ten are skipped, already there)
    assert engine.prune(keep_days=30, now=now, may_drop=archive_holds) == [f"{engine.prefix}-reports-2026.10.01"]


def test_a_report_observed_on_a_day_but_arriving_days_later_counts_for_its_day(archive):
    late = arrived([report(report_id="late", sent_at=DAY_ONE.isoformat())], DAY_ONE + timedelta(days=3), 0)
    process_batch(late, archive)

    assert archive_holds(DAY_ONE.date(), 1)
    assert not archive_holds(DAY_ONE.date(), 2)
