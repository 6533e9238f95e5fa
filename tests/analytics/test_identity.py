"""Identity in both engines (CONTRACT v1.1): reports by (drone_id, report_id), citizens by id or name.

Each test runs on the embedded store and on the Elasticsearch adapter (against
osmem-server, or the real OpenSearch node when PEACEWATCH_TEST_OPENSEARCH is
set), through the same ``index``/``search``/``get`` and the indexer's pure core.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from analytics.consumer import process_batch
from analytics.query import parse_query, plan
from analytics.store import open_elastic
from analytics.store.base import AmbiguousReportId
from analytics.store.embedded import EmbeddedStore
from ingest.reports import decode_report
from peacewatch.streams.batch import Record
from tests.factories import citizen, report

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DAY = {"from": "2026-11-27T00:00:00Z", "to": "2026-11-29T00:00:00Z"}


@pytest.fixture(params=["embedded", "elasticsearch"])
def store(request, tmp_path):
    if request.param == "embedded":
        opened = EmbeddedStore(tmp_path / "identity.sqlite3")
    else:
        engine = request.getfixturevalue("search_engine")
        opened = open_elastic(engine.url, prefix=engine.prefix, refresh=True)  # writes visible at once
    yield opened
    opened.close()


def received(doc: dict):
    return decode_report(json.dumps(doc).encode())


def records(*docs: dict) -> list[Record]:
    return [Record(value=json.dumps(d).encode(), partition=0, offset=i) for i, d in enumerate(docs)]


def search(store, query: dict) -> dict:
    return store.search(plan(parse_query({"time": DAY, **query}), now=NOW, threshold=20.0))


def person(name: str, peacescore: float, subject: str) -> dict:
    return {**citizen(name, peacescore), "id": subject}


# --- Reports: (drone_id, report_id) -------------------------------------------------


def test_the_same_report_id_from_two_drones_is_stored_twice(store):
    outcome = process_batch(
        records(report(report_id="r-7", drone_id="pw-00001"), report(report_id="r-7", drone_id="pw-00002")), store
    )

    assert outcome.counts["stored"] == 2 and not outcome.dead_letters
    assert store.count() == 2
    assert store.get("r-7", "pw-00001")["drone_id"] == "pw-00001"
    assert store.get("r-7", "pw-00002")["drone_id"] == "pw-00002"


def test_a_replay_of_the_same_report_is_stored_once_and_not_dead_lettered(store):
    same = report(report_id="r-1", drone_id="pw-00001")
    first = process_batch(records(same), store)

    again = process_batch(records(same, same), store)  # redelivered, and twice in one batch

    assert first.counts["stored"] == 1
    assert again.counts["stored"] == 0 and again.counts["duplicates"] == 2
    assert again.dead_letters == []
    assert store.count() == 1


def test_a_different_report_under_a_stored_drone_and_report_id_is_dead_lettered_as_conflict_and_not_stored(store):
    stored = report(report_id="r-1", drone_id="pw-00001", words=["bread"])
    process_batch(records(stored), store)
    other = report(report_id="r-1", drone_id="pw-00001", words=["strike"])

    outcome = process_batch(records(other), store)

    assert [(d.error, json.loads(d.value)) for d in outcome.dead_letters] == [("conflict", other)]
    assert outcome.counts["conflicts"] == 1 and outcome.counts["stored"] == 0
    assert store.count() == 1
    assert store.get("r-1", "pw-00001")["words"] == ["bread"]  # the stored one is unchanged


def test_of_two_different_reports_under_one_key_in_a_batch_the_first_is_stored_the_second_is_a_conflict(store):
    first = report(report_id="r-1", drone_id="pw-00001", words=["bread"])
    second = report(report_id="r-1", drone_id="pw-00001", words=["strike"])

    outcome = process_batch(records(first, second, first), store)

    assert [(d.error, d.source_offset) for d in outcome.dead_letters] == [("conflict", 1)]
    assert store.get("r-1", "pw-00001")["words"] == ["bread"]


def test_a_different_report_under_a_stored_key_is_a_conflict_even_on_another_day(store):
    # Elasticsearch keeps one index per day, and _id is unique per index only.
    process_batch(records(report(report_id="r-1", drone_id="pw-00001", sent_at="2026-11-27T23:59:00Z")), store)

    outcome = process_batch(
        records(report(report_id="r-1", drone_id="pw-00001", sent_at="2026-11-28T00:01:00Z")), store
    )

    assert [d.error for d in outcome.dead_letters] == ["conflict"]
    assert store.count() == 1


def test_a_report_id_two_drones_used_is_fetched_by_naming_the_drone(store):
    store.index([received(report(report_id="r-7", drone_id=d)) for d in ("pw-00002", "pw-00001")])
    store.index([received(report(report_id="r-8", drone_id="pw-00001"))])

    with pytest.raises(AmbiguousReportId) as ambiguous:
        store.get("r-7")
    assert ambiguous.value.drones == ["pw-00001", "pw-00002"]
    assert store.get("r-8")["drone_id"] == "pw-00001"  # one drone used it: no need to say which
    assert store.get("r-8", "pw-00002") is None


def test_paging_walks_every_report_when_two_drones_send_the_same_id_at_the_same_time(store):
    store.index([received(report(report_id="r-1", drone_id=f"pw-0000{n}")) for n in range(1, 4)])
    for sort in ("newest", "oldest"):
        seen, query = [], {"size": 1, "sort": sort}
        while True:
            page = search(store, query)
            seen.extend(h["drone_id"] for h in page["hits"])
            if not page["next"]:
                break
            query["after"] = page["next"]
        assert sorted(seen) == ["pw-00001", "pw-00002", "pw-00003"], sort


# --- Citizens: by id when given, else by name ---------------------------------------


def test_two_citizens_sharing_a_name_with_different_ids_are_two_entries_in_top_lists(store):
    store.index(
        [
            received(report(citizens=[person("Jeanne Martin", 12, "subj-1"), person("Jeanne Martin", 70, "subj-2")])),
            received(report(citizens=[person("Jeanne Martin", 15, "subj-1")])),
        ]
    )

    tops = search(store, {"aggs": ["top_citizens"]})["aggregations"]["top_citizens"]

    assert tops == [
        {"key": "subj-1", "name": "Jeanne Martin", "count": 2},
        {"key": "subj-2", "name": "Jeanne Martin", "count": 1},
    ]


def test_the_same_id_under_two_names_is_one_entry_shown_by_its_most_frequent_name(store):
    store.index(
        [
            received(report(citizens=[person("J. Martin", 12, "subj-1")])),
            received(report(citizens=[person("Jeanne Martin", 14, "subj-1"), citizen("Paul Durand", 80)])),
            received(report(citizens=[person("Jeanne Martin", 13, "subj-1")])),
        ]
    )

    tops = search(store, {"aggs": ["top_citizens"]})["aggregations"]["top_citizens"]

    assert tops == [
        {"key": "subj-1", "name": "Jeanne Martin", "count": 3},
        {"key": "Paul Durand", "name": "Paul Durand", "count": 1},  # no id: the name is the key
    ]


def test_a_key_finds_one_person_and_a_name_everyone_seen_under_it(store):
    store.index(
        [
            received(report(report_id="a", citizens=[person("Jeanne Martin", 12, "subj-1")])),
            received(report(report_id="b", citizens=[person("Jeanne Martin", 70, "subj-2")])),
            received(report(report_id="c", citizens=[person("J. Martin", 15, "subj-1")])),
            received(report(report_id="d", citizens=[citizen("Jeanne Martin", 40)])),
        ]
    )

    def ids(citizen_filter: dict) -> list[str]:
        return sorted(h["report_id"] for h in search(store, {"citizen": citizen_filter})["hits"])

    assert ids({"key": "subj-1"}) == ["a", "c"]
    assert ids({"key": "Jeanne Martin"}) == ["d"]  # the one seen without an id
    assert ids({"name": "Jeanne Martin"}) == ["a", "b", "d"]  # as before ids: every sighting of the name
    assert ids({"name": "J", "match": "prefix"}) == ["a", "b", "c", "d"]


def test_a_person_twice_in_one_report_is_one_sighting_a_shared_name_is_not(store):
    store.index(
        [
            received(
                report(
                    report_id="twice",
                    citizens=[
                        person("Jeanne Martin", 12, "subj-1"),
                        person("J. Martin", 90, "subj-1"),  # the same person again: ignored
                        person("Jeanne Martin", 70, "subj-2"),
                    ],
                )
            )
        ]
    )

    answer = search(store, {"aggs": ["score"]})

    assert answer["hits"][0]["citizens"] == [
        {"name": "Jeanne Martin", "key": "subj-1", "peacescore": 12},
        {"name": "Jeanne Martin", "key": "subj-2", "peacescore": 70},
    ]
    assert answer["aggregations"]["score"]["count"] == 2
