"""Questions over years: the index engine answers for the days its retention keeps, the archive before them.

Four days of simulated reports are in the archive, as the archive consumer
wrote them from the topic, on disk and in a bucket of the S3-compatible
server. The index engine keeps one day (``ELASTICSEARCH_RETENTION_DAYS=1``):
it holds only the reports observed since its boundary, as after retention
dropped the rest. A second, complete embedded store is the reference each
answer is compared with.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest

from analytics import search, tiered
from analytics.archive.consumer import process_batch
from analytics.query import QueryError, parse_query, plan
from analytics.store import get_store
from analytics.store.embedded import EmbeddedStore
from ingest.reports import decode_report
from ingest.simulator import Fleet
from peacewatch.streams import kafka
from peacewatch.streams.batch import Record
from tests.analytics.corpus import give_ids
from tests.factories import report

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
BOUNDARY = datetime(2026, 11, 27, tzinfo=UTC)  # midnight of NOW less one day
ALL_AGGS = ["histogram", "top_citizens", "top_drones", "top_words", "score", "grid"]


@pytest.fixture
def tiers(archive, settings, tmp_path):
    settings.ELASTICSEARCH_RETENTION_DAYS = 1
    fleet = Fleet(drones=8, seed=5, population_per_district=12)
    reports = [decode_report(give_ids(v)) for _, v in fleet.backfill(2400, NOW - timedelta(days=4), timedelta(days=4))]
    topic = kafka.topic("reports")
    records = [
        Record(value=r.raw, topic=topic, partition=0, offset=i, timestamp=int(r.observed_at.timestamp() * 1000) + 900)
        for i, r in enumerate(sorted(reports, key=lambda r: r.observed_at))
    ]
    assert process_batch(records, archive).counts["reports_archived"] == len(reports)
    hot = [r for r in reports if r.observed_at >= BOUNDARY]
    assert 0 < len(hot) < len(reports)
    get_store().index(hot)
    complete = EmbeddedStore(tmp_path / "complete.sqlite3")
    complete.index(reports)
    yield complete
    complete.close()


def ask(query: dict) -> dict:
    return search.search(parse_query(query), now=NOW)


def reference(store, query: dict) -> dict:
    return store.search(plan(parse_query(query), now=NOW, threshold=search.current_threshold()))


def test_the_boundary_is_midnight_of_the_oldest_day_retention_keeps():
    assert tiered.boundary_ms(NOW, 1) == int(BOUNDARY.timestamp() * 1000)
    late_evening = datetime(2026, 11, 28, 23, 59, tzinfo=UTC)
    assert tiered.boundary_ms(late_evening, 365) == int(datetime(2025, 11, 28, tzinfo=UTC).timestamp() * 1000)


def test_a_search_older_than_the_retention_is_answered_from_the_archive(tiers):
    query = {"time": {"from": "2026-11-24T12:00:00Z", "to": "2026-11-26T18:00:00Z"}, "aggs": ALL_AGGS, "size": 20}
    answer, expected = ask(query), reference(tiers, query)
    assert expected["total"] > 500
    assert answer["sources"] == [
        {
            "engine": "archive",
            "from": "2026-11-24T12:00:00.000Z",
            "to": "2026-11-26T18:00:00.000Z",
            "total": expected["total"],
        }
    ]
    assert answer["engine"] == "archive"
    assert answer["total"] == expected["total"]
    assert answer["hits"] == expected["hits"]
    assert answer["aggregations"] == expected["aggregations"]
    assert "approximate" not in answer
    # The index engine alone no longer has those days.
    assert reference(get_store(), query)["total"] == 0


def test_a_range_across_the_boundary_adds_up_both_parts(tiers):
    # Stop words kept: without them, each part hears fewer than MAX_TOP distinct words, and no list is cut.
    query = {"time": {"last": "3d"}, "aggs": ALL_AGGS, "size": 25, "stop_words": "keep"}
    answer, expected = ask(query), reference(tiers, query)
    old, new = answer["sources"]
    assert (old["engine"], old["to"], new["engine"], new["from"]) == (
        "archive",
        "2026-11-27T00:00:00.000Z",
        "embedded",
        "2026-11-27T00:00:00.000Z",
    )
    assert old["total"] > 0 and new["total"] > 0
    assert answer["total"] == old["total"] + new["total"] == expected["total"]
    assert answer["hits"] == expected["hits"] and answer["next"] == expected["next"]
    got, want = answer["aggregations"], expected["aggregations"]
    for name in ("histogram", "grid", "top_drones"):
        assert got[name] == want[name], name
    # More than MAX_TOP people and words in each part: each part's list was cut, and the answer says
    # by how much a count can be short. Each listed count is within that bound of the true count.
    for name, where in (
        ("top_citizens", lambda key: {"citizen": {"key": key}}),
        ("top_words", lambda key: {"words": {"all": [key]}}),
    ):
        bound = answer["approximate"].pop(name)["count_error_upper_bound"]
        assert bound > 0
        for entry in got[name]:
            true = reference(tiers, {"time": {"last": "3d"}, **where(entry["key"]), "size": 0})["total"]
            assert entry["count"] <= true <= entry["count"] + bound, (name, entry, true)
    score, exact = got["score"], want["score"]
    assert (score["count"], score["min"], score["max"]) == (exact["count"], exact["min"], exact["max"])
    assert abs(score["avg"] - exact["avg"]) < 1e-3
    # The one estimate, and flagged as one: percentiles merged from both parts' own.
    assert answer["approximate"] == {"score": {"percentiles": "estimated from both parts' percentiles"}}
    for p, value in score["percentiles"].items():
        assert abs(value - exact["percentiles"][p]) <= 1.5, (p, value, exact["percentiles"][p])


def test_a_peacescore_range_across_the_boundary_charts_only_the_citizens_within_it(tiers):
    query = {"time": {"last": "3d"}, "score": {"max": 30}, "aggs": ["score", "top_citizens"], "size": 10}
    answer, expected = ask(query), reference(tiers, query)
    assert [s["engine"] for s in answer["sources"]] == ["archive", "embedded"]
    assert answer["total"] == expected["total"] > 0
    assert answer["hits"] == expected["hits"]
    score, exact = answer["aggregations"]["score"], expected["aggregations"]["score"]
    assert (score["count"], score["min"], score["max"]) == (exact["count"], exact["min"], exact["max"])
    assert score["max"] <= 30
    everyone = reference(tiers, {**query, "score": None})["aggregations"]["score"]
    assert everyone["count"] > score["count"] and everyone["max"] > 30
    for entry in answer["aggregations"]["top_citizens"][:3]:
        under_30 = reference(tiers, {"time": {"last": "3d"}, "citizen": {"key": entry["key"]}, "score": {"max": 30}})
        assert entry["count"] == under_30["total"], entry


def test_an_answers_as_of_counts_the_same_reports_in_both_parts_after_late_ones_arrive(tiers, archive):
    query = {"time": {"last": "3d"}, "aggs": ["histogram", "top_drones"], "size": 0}
    first = ask(query)
    # Late reports, observed in each part's days, arriving after the answer: one stored by the
    # index engine, one written to the archive (its arrival, the broker's time, after the answer too).
    in_new_part = decode_report(
        json.dumps(report(report_id="late-new", drone_id="pw-late", sent_at="2026-11-27T10:00:00Z")).encode()
    )
    assert get_store().index([in_new_part]).created == 1
    in_old_part = json.dumps(report(report_id="late-old", drone_id="pw-late", sent_at="2026-11-26T10:00:00Z"))
    arrived = int(datetime.now(tz=UTC).timestamp() * 1000) + 60_000
    record = Record(
        value=in_old_part.encode(), topic=kafka.topic("reports"), partition=0, offset=10**6, timestamp=arrived
    )
    assert process_batch([record], archive).counts["reports_archived"] == 1
    again = ask({**query, "arrived_before": first["as_of"]})
    assert (again["total"], again["as_of"]) == (first["total"], first["as_of"])
    assert [s["total"] for s in again["sources"]] == [s["total"] for s in first["sources"]]
    assert again["aggregations"] == first["aggregations"]
    unbounded = ask(query)
    assert unbounded["total"] == first["total"] + 2
    assert {"key": "pw-late", "count": 2} in ask({**query, "top": 20})["aggregations"]["top_drones"]
    assert search.count(parse_query({**query, "arrived_before": first["as_of"]}), now=NOW) == first["total"]


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_pages_run_from_one_part_into_the_other_without_a_gap_or_a_repeat(tiers, sort):
    query = {"time": {"from": "2026-11-26T20:00:00Z", "to": "2026-11-27T04:00:00Z"}, "size": 37, "sort": sort}
    walked = []
    while True:
        page = ask(query)
        walked.extend((h["report_id"], h["drone_id"]) for h in page["hits"])
        if not page["next"]:
            break
        query = {**query, "after": page["next"]}
    expected = []
    query = {**query, "size": 500}
    query.pop("after")
    expected = [(h["report_id"], h["drone_id"]) for h in reference(tiers, query)["hits"]]
    assert len(expected) > 37 * 3
    assert walked == expected


def test_a_page_that_ends_exactly_at_the_boundary_still_leads_to_the_older_part(tiers):
    since_boundary = {"from": "2026-11-27T00:00:00Z", "to": "2026-11-27T02:00:00Z"}
    new_part = ask({"time": since_boundary, "size": 0})["total"]
    query = {"time": {"from": "2026-11-26T22:00:00Z", "to": "2026-11-27T02:00:00Z"}, "size": new_part}
    first = ask(query)
    assert len(first["hits"]) == new_part and first["next"]
    second = ask({**query, "after": first["next"]})
    assert second["hits"] and min(h["observed_at"] for h in first["hits"]) > second["hits"][0]["observed_at"]


def test_an_export_and_its_count_reach_into_the_archive(tiers):
    query = parse_query({"time": {"last": "3d"}, "sort": "oldest"})
    hits = list(search.iter_hits(query, now=NOW, page_size=300))
    assert len(hits) == search.count(query, now=NOW) == reference(tiers, {"time": {"last": "3d"}})["total"]
    assert len({(h["report_id"], h["drone_id"]) for h in hits}) == len(hits)


def test_the_api_says_which_part_came_from_where(client, analyst, tiers, settings):
    # The API's now is the clock's: a retention that still puts the boundary at BOUNDARY.
    settings.ELASTICSEARCH_RETENTION_DAYS = (datetime.now(tz=UTC).date() - BOUNDARY.date()).days
    client.force_login(analyst)
    body = {"time": {"from": "2026-11-25T00:00:00Z", "to": "2026-11-27T06:00:00Z"}, "aggs": ["histogram"]}
    body["purpose"] = "case 2026-0003: older than the index"
    response = client.post("/api/v1/reports/search", json.dumps(body), content_type="application/json")
    assert response.status_code == 200
    answer = response.json()
    assert [s["engine"] for s in answer["sources"]] == ["archive", "embedded"]
    assert sum(s["total"] for s in answer["sources"]) == answer["total"] > 0
    assert sum(b["count"] for b in answer["aggregations"]["histogram"]["buckets"]) == answer["total"]


def test_a_question_too_long_for_the_archive_is_refused_naming_the_range_and_the_server_goes_on(
    tiers, settings, tmp_path
):
    settings.VAR_DIR = tmp_path / "var"  # this test's own, where its searches make their scratch directories
    settings.ARCHIVE_SEARCH_TIMEOUT_S = 0.01
    query = {"time": {"from": "2026-11-24T00:00:00Z", "to": "2026-11-26T00:00:00Z"}, "aggs": ALL_AGGS}
    with pytest.raises(QueryError) as refused:
        ask(query)
    assert refused.value.field == "time"
    assert "could not answer within 0.01 s" in refused.value.message
    settings.ARCHIVE_SEARCH_TIMEOUT_S = 60
    assert ask(query)["total"] == reference(tiers, query)["total"]
    assert not list(settings.VAR_DIR.glob("archive-search-*")), "each search's scratch directory is removed"
