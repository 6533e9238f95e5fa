"""The query model (validation, resolution) and the embedded engine that runs it."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from analytics.query import QueryError, choose_interval, parse_query, plan, tile_xy
from analytics.store.embedded import EmbeddedStore
from analytics.store.embedded_search import build_sql, citizen_pieces, segments, uses_rollups
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
        ({"score": {"min": 150}}, "score.min", "must be at most 100"),
        ({"size": 100000}, "size", "must be at most 500"),
        ({"top": 0}, "top", "must be at least 1"),
        ({"area": {"box": {"south": 49, "west": 2, "north": 48, "east": 3}}}, "area.box", "south"),
        ({"area": {}}, "area", "exactly one"),
        ({"aggs": ["histogram", "pie"]}, "aggs[1]", "must be one of histogram, top_citizens"),
        ({"after": "not-a-cursor"}, "after", "cursor"),
        ({"words": {}}, "words", "any or all"),
        ({"citizen": {}}, "citizen", "exactly one of name or key"),
        ({"citizen": {"key": "subj-1", "match": "prefix"}}, "citizen.match", "exactly"),
        ({"clock_skew": "yes"}, "clock_skew", "must be true or false"),
        ({"drones": ["pw-1", "pw 2!"]}, "drones[1]", "use letters, digits, '.', '_' or '-' only"),
        ({"drones": ["x" * 65]}, "drones[0]", "must be at most 64 characters"),
        ({"area": {"box": {"south": 48}}}, "area.box.west", "is required"),
        ({"area": {"circle": {"lat": 48, "lon": 2, "radius_m": 0}}}, "area.circle.radius_m", "must be at least 1"),
        ({"time": {"from": "yesterday"}}, "time.from", "a time with an offset"),
        ({"stop_words": "drop"}, "stop_words", "must be one of skip, keep"),
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


def test_citizens_pieces_add_up_to_the_range_exactly_and_read_coarse_buckets():
    h, minute = 3_600_000, 60_000
    rng = random.Random(5)
    ranges = [(0, 24 * h), (3 * h, 27 * h), (12 * h + 7 * minute, 36 * h + 7 * minute), (10 * minute, 50 * minute)]
    ranges += [(a, a + rng.randrange(1, 60 * h)) for a in (rng.randrange(0, 48 * h) for _ in range(200))]
    for start, end in ranges:
        pieces = citizen_pieces(start, end)
        # Every minute (and every edge) counted once inside the range, never outside it.
        for t in {*range(start - h, end + h, minute // 2), start, end - 1}:
            assert sum(sign for _, a, b, sign in pieces if a <= t < b) == (1 if start <= t < end else 0)
        assert all(a % level == 0 and b % level == 0 for level, a, b, _ in pieces if level)
    assert citizen_pieces(0, 24 * h) == [(6 * h, 0, 24 * h, 1)]
    # Most of a 6-hour bucket: the bucket, less the few minutes outside the range, from 5-minute buckets and
    # raw rows at the ends.
    assert citizen_pieces(12 * h + 7 * minute, 36 * h + 7 * minute) == [
        (None, 12 * h + 5 * minute, 12 * h + 7 * minute, -1),
        (None, 36 * h + 5 * minute, 36 * h + 7 * minute, 1),
        (5 * minute, 12 * h, 12 * h + 5 * minute, -1),
        (5 * minute, 36 * h, 36 * h + 5 * minute, 1),
        (6 * h, 12 * h, 36 * h, 1),
    ]


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
    assert (
        "r.id IN (SELECT report FROM citizens WHERE name IN (SELECT name FROM citizen_names WHERE fold = ?) "
        "AND ts >= ? AND ts < ? AND score <= ?)" in match.sql
    )
    assert "jeanne martin" in match.params  # the name folded: any case, any accents
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
    [
        {"last": "24h"},
        {"from": "2026-11-27T13:17:11Z", "to": "2026-11-28T02:43:59Z"},
        {"last": "7d"},
        # Citizens from 6-hour buckets less the minutes outside the range, at both ends.
        {"from": "2026-11-27T12:10:00Z", "to": "2026-11-28T11:50:00Z"},
        {"from": "2026-11-27T12:50:30Z", "to": "2026-11-28T05:07:00Z"},
    ],
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


def test_no_message_of_a_refused_query_reads_like_a_programmers_error():
    for query in (
        {"drones": ["bad id!"]},
        {"score": {"max": -1}},
        {"size": "ten"},
        {"sort": "sideways"},
        {"citizen": {"name": "x" * 201}},
        {"words": {"any": [""]}},
    ):
        with pytest.raises(QueryError) as refused:
            parse_query(query)
        assert not any(jargon in refused.value.message for jargon in ("Expected", "`", "regex", "enum")), query


def test_a_citizens_name_is_compared_without_case_or_accents():
    exact = plan(parse_query({"citizen": {"name": "  Jeanne   MARTÍN "}}), now=NOW)
    assert (exact.citizen, exact.citizen_field, exact.citizen_prefix) == ("jeanne martin", "name", False)
    key = plan(parse_query({"citizen": {"key": "Subj-1"}}), now=NOW)
    assert (key.citizen, key.citizen_field) == ("Subj-1", "key")  # a key is an id: exact


def test_a_query_skips_stop_words_in_top_words_unless_it_keeps_them():
    from analytics.stop_words import BUILT_IN

    skip = plan(parse_query({"aggs": ["top_words"]}), now=NOW)
    assert set(skip.stop_words) == BUILT_IN and "the" in skip.stop_words
    keep = plan(parse_query({"aggs": ["top_words"], "stop_words": "keep"}), now=NOW)
    assert keep.stop_words == ()
    extra = plan(parse_query({"aggs": ["top_words"]}), now=NOW, stop_words=BUILT_IN | {"over"})
    assert "over" in extra.stop_words


def test_the_embedded_store_finds_names_in_any_case_and_suggests_them(tmp_path):
    from tests.factories import citizen, report

    store = EmbeddedStore(tmp_path / "names.sqlite3")
    sent = (NOW - timedelta(hours=1)).isoformat()
    people = [citizen("Jeanne Martin", 50.0), citizen("Jeanne Martín", 40.0), citizen("Jean Marais", 30.0)]
    for i, person in enumerate(people * 2 + [people[0]]):
        store.index([decode_report(json.dumps(report(report_id=f"r{i}", sent_at=sent, citizens=[person])).encode())])
    found = store.search(plan(parse_query({"citizen": {"name": "JEANNE MARTIN"}, "time": {"last": "7d"}}), now=NOW))
    assert found["total"] == 5
    since = int((NOW - timedelta(days=1)).timestamp() * 1000)
    assert store.suggest_citizens("jean", since_ms=since, limit=5) == [
        {"name": "Jeanne Martin", "count": 3},
        {"name": "Jean Marais", "count": 2},
        {"name": "Jeanne Martín", "count": 2},
    ]
    assert store.suggest_citizens("jeanne", since_ms=since, limit=1) == [{"name": "Jeanne Martin", "count": 3}]
    assert store.suggest_citizens("jean", since_ms=int(NOW.timestamp() * 1000), limit=5) == []  # none since
    store.close()


def test_a_store_from_before_the_name_dictionary_gets_it_filled_when_opened(tmp_path):
    from tests.factories import citizen, report

    path = tmp_path / "old.sqlite3"
    store = EmbeddedStore(path)
    sent = (NOW - timedelta(hours=1)).isoformat()
    store.index([decode_report(json.dumps(report(sent_at=sent, citizens=[citizen("Zoé Ærø", 9.0)])).encode())])
    store.db.execute("DELETE FROM citizen_names")  # as a file written before this version left it
    store.close()
    reopened = EmbeddedStore(path)
    found = reopened.search(plan(parse_query({"citizen": {"name": "zoe ærø"}, "time": {"last": "7d"}}), now=NOW))
    assert found["total"] == 1
    reopened.close()


def _sent(store: EmbeddedStore, *docs: dict) -> None:
    store.index([decode_report(json.dumps(doc).encode()) for doc in docs])


def test_a_peacescore_range_keeps_reports_with_someone_in_it_and_charts_only_those_citizens(tmp_path):
    from tests.factories import citizen, report

    store = EmbeddedStore(tmp_path / "scores.sqlite3")
    sent = (NOW - timedelta(hours=1)).isoformat()
    _sent(
        store,
        report(report_id="mixed", sent_at=sent, citizens=[citizen("Low Lee", 10.0), citizen("High Hu", 80.0)]),
        report(report_id="calm", sent_at=sent, citizens=[citizen("Calm Cy", 70.0)]),
    )
    query = {"time": {"last": "24h"}, "score": {"max": 30}, "aggs": ["score", "top_citizens"], "size": 5}
    found = store.search(plan(parse_query(query), now=NOW))
    assert found["total"] == 1
    assert [c["name"] for c in found["hits"][0]["citizens"]] == ["Low Lee", "High Hu"]  # the report, whole
    score = found["aggregations"]["score"]
    assert (score["count"], score["min"], score["max"], score["avg"]) == (1, 10.0, 10.0, 10.0)
    assert set(score["percentiles"].values()) == {10.0}
    assert found["aggregations"]["top_citizens"] == [{"key": "Low Lee", "name": "Low Lee", "count": 1}]
    # Without the range, everyone in the reports counts.
    everyone = store.search(plan(parse_query({**query, "score": None}), now=NOW))["aggregations"]
    assert (everyone["score"]["count"], everyone["score"]["max"]) == (3, 80.0)
    assert len(everyone["top_citizens"]) == 3
    store.close()


def test_a_search_bounded_by_its_as_of_counts_the_same_reports_whatever_arrived_since(tmp_path):
    from tests.factories import report

    store = EmbeddedStore(tmp_path / "arrivals.sqlite3")
    observed = [(NOW - timedelta(hours=h)).isoformat() for h in (1, 5, 20)]
    _sent(store, *(report(report_id=f"early-{i}", sent_at=at) for i, at in enumerate(observed)))
    # A day, by time alone: the rollups answer, and they must not count what arrived after the bound either.
    query = {"time": {"last": "24h"}, "aggs": ["histogram", "top_drones"], "size": 2}
    first = store.search(plan(parse_query(query), now=NOW))
    assert uses_rollups(plan(parse_query(query), now=NOW))
    assert first["total"] == 3
    datetime.fromisoformat(first["as_of"])  # RFC 3339
    # Late reports: observed inside the range, arrived after the answer.
    _sent(store, *(report(report_id=f"late-{i}", drone_id="pw-00007", sent_at=at) for i, at in enumerate(observed)))
    bounded = {**query, "arrived_before": first["as_of"]}
    again = store.search(plan(parse_query(bounded), now=NOW))
    assert again["total"] == 3 and again["as_of"] == first["as_of"]
    assert again["aggregations"] == first["aggregations"] and again["hits"] == first["hits"]
    filtered = store.search(plan(parse_query({**bounded, "drones": ["pw-00007"]}), now=NOW))
    assert filtered["total"] == 0
    unbounded = store.search(plan(parse_query(query), now=NOW))
    assert unbounded["total"] == 6 and unbounded["as_of"] > first["as_of"]
    store.close()


def test_arrival_times_rise_with_each_batch_even_when_the_clock_does_not(tmp_path, monkeypatch):
    from analytics.store import embedded
    from tests.factories import report

    store = EmbeddedStore(tmp_path / "clock.sqlite3")
    frozen = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    class StoppedClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return frozen

    monkeypatch.setattr(embedded, "datetime", StoppedClock)
    for i in range(3):
        _sent(store, report(report_id=f"r{i}", sent_at=(NOW - timedelta(hours=1)).isoformat()))
    stored = [row[0] for row in store.db.execute("SELECT stored_at FROM reports ORDER BY id")]
    assert stored == sorted(set(stored)) and len(stored) == 3
    store.close()
