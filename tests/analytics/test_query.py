"""The query model (validation, resolution) and the embedded engine that runs it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.query import QueryError, choose_interval, parse_query, plan, tile_xy
from analytics.store.embedded import EmbeddedStore
from analytics.store.embedded_search import build_sql, segments, uses_rollups
from ingest.reports import decode_report
from ingest.simulator import Fleet
from tests.analytics.corpus import give_ids

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ALL_AGGS = ["histogram", "top_citizens", "top_drones", "top_words", "score", "grid"]


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ({"drone": ["pw-1"]}, "drone", "unknown field"),
        ({"time": {"last": "24h", "until": "now"}}, "time.until", "unknown field"),
        ({"time": {"from": "2026-11-28T10:00:00Z", "to": "2026-11-28T09:00:00Z"}}, "time", "before"),
        ({"time": {"from": "2026-11-28T10:00:00"}}, "time.from", "offset"),
        ({"time": {"last": "yesterday"}}, "time.last", "15m"),
        ({"time": {"last": "24h", "from": "2026-11-28T10:00:00Z"}}, "time", "not both"),
        ({"score": {"min": 60, "max": 20}}, "score", "greater"),
        ({"score": {"min": 150}}, "score.min", "<= 100"),
        ({"size": 100000}, "size", "<= 500"),
        ({"top": 0}, "top", ">= 1"),
        ({"area": {"box": {"south": 49, "west": 2, "north": 48, "east": 3}}}, "area.box", "south"),
        ({"area": {}}, "area", "exactly one"),
        ({"aggs": ["histogram", "pie"]}, "aggs[1]", "Invalid enum value 'pie'"),
        ({"after": "not-a-cursor"}, "after", "cursor"),
        ({"words": {}}, "words", "any or all"),
        ({"citizen": {}}, "citizen", "exactly one of name or key"),
        ({"citizen": {"key": "subj-1", "match": "prefix"}}, "citizen.match", "exactly"),
        ({"clock_skew": "yes"}, "clock_skew", "Expected `bool | null`"),
        ([1, 2], "", "JSON object"),
    ],
)
def test_a_bad_query_is_refused_with_the_field_named(query, field, words):
    with pytest.raises(QueryError) as refused:
        parse_query(query)
    assert refused.value.field == field
    assert words in refused.value.message


def test_a_relative_range_resolves_against_the_clock_and_picks_a_readable_interval():
    p = plan(parse_query({"time": {"last": "24h"}}), now=NOW)
    assert p.end_ms - p.start_ms == 24 * 3600 * 1000
    assert p.interval == "15m"
    assert choose_interval(15 * 60 * 1000) == ("1m", 60_000)
    assert choose_interval(30 * 24 * 3600 * 1000) == ("6h", 21_600_000)


def test_words_match_whatever_their_case_or_spacing():
    p = plan(parse_query({"words": {"any": ["Bread", "NEW  york"], "all": ["Café"]}}), now=NOW)
    assert p.words_any == ("bread", "new_york")
    assert p.words_all == ("café",)


def test_geotiles_are_numbered_as_web_map_tiles():
    assert tile_xy(48.8566, 2.3522, 12) == (2074, 1409)  # Paris at zoom 12
    assert tile_xy(0, 0, 1) == (1, 1)
    assert tile_xy(89.9, -180, 3) == (0, 0)  # clamped to the map's top edge


def test_a_time_range_is_cut_into_raw_ends_and_rollup_buckets():
    h, m5 = 3_600_000, 300_000
    start, end = 10 * h + 7 * 60_000, 14 * h + 22 * 60_000 + 5
    assert segments(start, end) == [
        (None, start, 10 * h + 2 * m5),
        (m5, 10 * h + 2 * m5, 11 * h),
        (h, 11 * h, 14 * h),
        (m5, 14 * h, 14 * h + 4 * m5),
        (None, 14 * h + 4 * m5, end),
    ]
    assert segments(0, 4 * 60_000) == [(None, 0, 4 * 60_000)]


def test_only_time_filtered_queries_over_hours_use_the_rollups():
    assert uses_rollups(plan(parse_query({"time": {"last": "24h"}}), now=NOW))
    assert not uses_rollups(plan(parse_query({"time": {"last": "1h"}}), now=NOW))
    assert not uses_rollups(plan(parse_query({"time": {"last": "24h"}, "drones": ["pw-00001"]}), now=NOW))


def test_filters_compile_to_sql_that_says_what_they_do():
    p = plan(
        parse_query({"citizen": {"name": "Jeanne Martin"}, "score": {"max": 20}, "words": {"all": ["strike"]}}),
        now=NOW,
    )
    match = build_sql(p)["match"]
    assert "r.id IN (SELECT report FROM citizens WHERE name = ? AND ts >= ? AND ts < ? AND score <= ?)" in match.sql
    assert "words MATCH ?" in match.sql
    assert '"strike"' in match.params


def test_a_citizen_key_filter_reads_one_range_of_the_citizens_primary_key():
    p = plan(parse_query({"citizen": {"key": "subj-1"}}), now=NOW)
    match = build_sql(p)["match"]
    assert "r.id IN (SELECT report FROM citizens WHERE key = ? AND ts >= ? AND ts < ?)" in match.sql
    assert "subj-1" in match.params


@pytest.fixture(scope="module")
def day_store(tmp_path_factory):
    values = Fleet(drones=30, seed=9).backfill(6000, NOW - timedelta(hours=26), timedelta(hours=26))
    store = EmbeddedStore(tmp_path_factory.mktemp("day") / "store.sqlite3")
    reports = [decode_report(give_ids(v)) for _, v in values]  # rollups keep citizens by key and name
    for start in range(0, len(reports), 1000):  # several batches, as the indexer writes them
        store.index(reports[start : start + 1000])
    yield store
    store.close()


@pytest.mark.parametrize(
    "time_range",
    [{"last": "24h"}, {"from": "2026-11-27T13:17:11Z", "to": "2026-11-28T02:43:59Z"}, {"last": "7d"}],
)
def test_rollups_give_exactly_what_a_scan_of_every_report_gives(day_store, time_range):
    fast = parse_query({"time": time_range, "aggs": ALL_AGGS, "size": 5})
    # A filter that matches every report forces the scan path.
    scan = parse_query({"time": time_range, "aggs": ALL_AGGS, "size": 5, "score": {"min": 0}})
    assert uses_rollups(plan(fast, now=NOW)) and not uses_rollups(plan(scan, now=NOW))
    a, b = day_store.search(plan(fast, now=NOW)), day_store.search(plan(scan, now=NOW))
    # Reports with nobody seen have no score and drop out of the scan's filter.
    empty = day_store.db.execute("SELECT count(*) FROM reports WHERE n_citizens = 0").fetchone()[0]
    assert empty == 0
    assert a == b
    assert a["total"] > 1000


def test_an_old_store_file_is_refused_with_instructions(tmp_path):
    import sqlite3

    old = sqlite3.connect(tmp_path / "old.sqlite3")
    old.execute("CREATE TABLE reports (id INTEGER PRIMARY KEY)")
    old.close()
    with pytest.raises(RuntimeError, match="reindex"):
        EmbeddedStore(tmp_path / "old.sqlite3")
