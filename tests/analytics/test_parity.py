"""The same reports and the same queries give the same answers on both engines.

The embedded engine runs for real on SQLite; the Elasticsearch adapter talks
HTTP, through the official client, to the real OpenSearch node of ``make
engines`` when ``PEACEWATCH_TEST_OPENSEARCH`` is set (as in CI): there the
corpus is 50,000 reports of more than 5,000 distinct citizens, spread over
several daily indices, so top lists are merged across shards and not exact
by construction. Without it, osmem-server (an in-memory stand-in) answers a
small corpus, as a quick local loop. Either corpus has citizens with ids
(two people sharing a name, one person under two spellings) beside citizens
known by name only, one report id sent by two drones at the same instant, and
reports stored at their broker time because their drone's clock ran ahead
(flagged ``clock_skew``).
"""

from __future__ import annotations

import json
import math
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from analytics.query import parse_query, plan
from analytics.store import open_elastic
from analytics.store.elastic.client import drop_prefix
from analytics.store.embedded import EmbeddedStore
from ingest.reports import decode_report
from ingest.simulator import Fleet
from tests.analytics.corpus import give_ids
from tests.conftest import EXTERNAL_OPENSEARCH, unique_suffix
from tests.factories import citizen, report

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ALL_AGGS = ["histogram", "top_citizens", "top_drones", "top_words", "score", "grid"]


LARGE = bool(EXTERNAL_OPENSEARCH)
PAGE = 400 if LARGE else 40
EXPORT_PAGE = 500 if LARGE else 70


def more_names(value: bytes) -> bytes:
    """Give each simulated person a middle initial drawn from their name and drone.

    The simulator's name lists make fewer than 5,000 names; an initial per
    (name, drone) keeps each person's name stable and multiplies the names.
    """
    doc = json.loads(value)
    for person in doc["citizens"]:
        initial = chr(65 + zlib.crc32(f"{person['name']}|{doc['drone_id']}".encode()) % 26)
        first, _, last = person["name"].partition(" ")
        person["name"] = f"{first} {initial}. {last}"
    return json.dumps(doc).encode()


def corpus() -> list:
    if LARGE:
        fleet = Fleet(drones=60, seed=11, population_per_district=150)
        backfill = fleet.backfill(50_000, NOW - timedelta(hours=30), timedelta(hours=30))
        values = [give_ids(more_names(v)) for _, v in backfill]
    else:
        fleet = Fleet(drones=12, seed=11, population_per_district=9)
        values = [give_ids(v) for _, v in fleet.backfill(900, NOW - timedelta(hours=30), timedelta(hours=30))]
    # Edge cases: a name twice in one report, nobody seen, unknown fields, odd words.
    values.append(
        json.dumps(
            report(
                report_id="dup-name",
                sent_at=(NOW - timedelta(hours=2)).isoformat(),
                citizens=[citizen("Jeanne Martin", 12.5), citizen("Jeanne Martin", 90.0), citizen("Zoé Ærø", 3.0)],
                words=["New York", "STRIKE", "strike", "naïve"],
                wind_kph=12,
            )
        ).encode()
    )
    values.append(
        json.dumps(
            report(report_id="empty", sent_at=(NOW - timedelta(minutes=90)).isoformat(), citizens=[], words=[])
        ).encode()
    )
    # Ids: one name, two people; one person under two names, twice in one report (one sighting).
    jeanne, other_jeanne = {"id": "subj-jm-1"}, {"id": "subj-jm-2"}
    for hours, people in (
        (3, [citizen("Jeanne Martin", 14.0) | jeanne, citizen("Jeanne Martin", 70.0) | other_jeanne]),
        (4, [citizen("J. Martin", 22.0) | jeanne, citizen("Jeanne Martin", 8.0) | jeanne]),
    ):
        sent_at = (NOW - timedelta(hours=hours)).isoformat()
        values.append(json.dumps(report(sent_at=sent_at, citizens=people)).encode())
    # One report id from two drones at the same instant: two reports, in a fixed order.
    for drone in ("pw-00002", "pw-00001"):
        sent_at = (NOW - timedelta(hours=5)).isoformat()
        values.append(json.dumps(report(report_id="shared-id", drone_id=drone, sent_at=sent_at)).encode())
    # A faulty battery sensor: the telemetry is dropped, the report stays.
    values.append(json.dumps(report(sent_at=(NOW - timedelta(hours=7)).isoformat(), battery_pct="low")).encode())
    decoded = [decode_report(v) for v in values]
    # Drone clocks an hour fast: stored at their broker times, one within the last day, one before.
    for hours in (6, 26):
        broker_time = NOW - timedelta(hours=hours)
        value = json.dumps(report(sent_at=(broker_time + timedelta(hours=1)).isoformat())).encode()
        decoded.append(decode_report(value, timestamp_ms=int(broker_time.timestamp() * 1000)))
    assert sum(r.clock_skew for r in decoded) == 2
    return decoded


@pytest.fixture(scope="module")
def reports():
    return corpus()


@pytest.fixture(scope="module")
def engine_url(request):
    """The search engine for this module: the real OpenSearch, or a clone of osmem-server."""
    if EXTERNAL_OPENSEARCH:
        yield EXTERNAL_OPENSEARCH
        return
    clone = request.getfixturevalue("osmem_server").clone()
    yield clone.url
    clone.close()


@pytest.fixture(scope="module")
def engines(reports, engine_url, tmp_path_factory):
    """Both engines holding the corpus, indexed once for the module (the tests only read)."""
    prefix = f"parity{unique_suffix()}"
    embedded = EmbeddedStore(tmp_path_factory.mktemp("parity") / "parity.sqlite3")
    elastic = open_elastic(engine_url, prefix=prefix, bulk_docs=200 if not LARGE else 5000)
    assert embedded.index(reports).created == len(reports)
    assert elastic.index(reports).created == len(reports)
    elastic.refresh_now()
    if LARGE:
        assert len(distinct_names(reports)) > 5_000
        assert len(elastic.client.indices.get(index=elastic.pattern).body) >= 2  # top lists merge shards
    yield embedded, elastic
    embedded.close()
    drop_prefix(elastic.client, prefix)
    elastic.close()


def distinct_names(reports) -> set[str]:
    return {c.name for r in reports for c in r.report.citizens}


def run(store, query: dict) -> dict:
    return store.search(plan(parse_query(query), now=NOW, threshold=20.0))


# From this many scores on, the engines' percentile estimates agree to within a point.
PERCENTILES_AGREE_FROM = 20


def assert_same(a: dict, b: dict) -> None:
    assert a["total"] == b["total"]
    assert [h["report_id"] for h in a["hits"]] == [h["report_id"] for h in b["hits"]]
    assert a["hits"] == b["hits"]
    assert a["next"] == b["next"]
    aggs_a, aggs_b = a["aggregations"], b["aggregations"]
    assert aggs_a.keys() == aggs_b.keys()
    for name in aggs_a:
        if name == "score":
            sa, sb = aggs_a["score"], aggs_b["score"]
            assert (sa["count"], sa["min"], sa["max"]) == (sb["count"], sb["min"], sb["max"])
            if sa["count"]:
                assert math.isclose(sa["avg"], sb["avg"], abs_tol=1e-3)
                # Percentiles come from tenth-of-a-point bins here and from an HDR
                # histogram on OpenSearch, each exact to the tenth, but the rank each
                # takes differs (floor(p% x n) here, rounded there); the in-memory
                # stand-in, which has no HDR, estimates with its default. So over enough
                # scores they agree to within a point, and over a handful each engine's
                # must lie within the scores' range and rise with p.
                if sa["count"] >= PERCENTILES_AGREE_FROM:
                    for p, value in sa["percentiles"].items():
                        assert abs(value - sb["percentiles"][p]) <= 1.0, (p, value, sb["percentiles"][p])
                for percentiles in (sa["percentiles"], sb["percentiles"]):
                    values = [percentiles[p] for p in sorted(percentiles, key=float)]
                    assert all(sa["min"] <= v <= sa["max"] for v in values), percentiles
                    assert values == sorted(values), percentiles
        else:
            assert aggs_a[name] == aggs_b[name], name


def city_box(south: float, west: float, north: float, east: float) -> dict:
    """A box over these fractions of the simulator's city (the CITY_BOUNDS setting), where its drones fly.

    Its edges sit half a step off the simulator's 6-decimal grid: a report exactly on an edge is
    inside or out depending on how an engine stores a point (OpenSearch encodes it in 32-bit
    integers), and 50,000 reports over a small city put several exactly on any 6-decimal line.
    """
    from django.conf import settings

    city = settings.CITY_BOUNDS
    dlat, dlon = city.north - city.south, city.east - city.west
    off_grid = 5e-7
    return {
        "south": round(city.south + south * dlat, 6) + off_grid,
        "west": round(city.west + west * dlon, 6) + off_grid,
        "north": round(city.south + north * dlat, 6) + off_grid,
        "east": round(city.west + east * dlon, 6) + off_grid,
    }


def city_circle(radius_of_height: float) -> dict:
    """A circle at the middle of the simulator's city, its radius this fraction of the city's height."""
    from django.conf import settings

    city = settings.CITY_BOUNDS
    return {
        "lat": round((city.south + city.north) / 2, 6),
        "lon": round((city.west + city.east) / 2, 6),
        "radius_m": round((city.north - city.south) * 111_320 * radius_of_height),
    }


QUERIES = {
    "a day, everything": {"time": {"last": "24h"}, "aggs": ALL_AGGS, "size": 25},
    "absolute range, oldest first": {
        "time": {"from": "2026-11-27T08:13:00Z", "to": "2026-11-28T03:41:30Z"},
        "aggs": ALL_AGGS,
        "sort": "oldest",
        "size": 10,
    },
    "two drones, alerts only": {
        "time": {"last": "7d"},
        "drones": ["pw-00001", "pw-00004"],
        "alerts_only": True,
        "aggs": ["top_citizens", "score", "histogram"],
    },
    "citizen prefix with scores": {
        "time": {"last": "7d"},
        "citizen": {"name": "Jeanne", "match": "prefix"},
        "score": {"max": 60},
        "aggs": ["top_citizens", "top_drones", "score"],
    },
    "exact citizen": {"time": {"last": "7d"}, "citizen": {"name": "Jeanne Martin"}, "aggs": ["top_words"], "size": 50},
    "citizen by key": {
        "time": {"last": "7d"},
        "citizen": {"key": "subj-jm-1"},
        # Not "score": percentiles of three values are where the two engines' ranks
        # legitimately differ by more than the point allowed for them.
        "aggs": ["top_citizens", "histogram"],
        "size": 10,
    },
    "words any and all": {
        "time": {"last": "24h"},
        "words": {"any": ["bread", "strike"], "all": ["the"]},
        "aggs": ["top_words", "grid", "histogram"],
    },
    "words with case and spaces": {"time": {"last": "7d"}, "words": {"all": ["Strike", "new york"]}, "size": 5},
    "peacescore band": {"time": {"last": "7d"}, "score": {"min": 30, "max": 45}, "aggs": ["score", "top_citizens"]},
    # The citizen charts count the citizens under 30, not everyone in the reports kept.
    "peacescore up to 30": {
        "time": {"last": "24h"},
        "score": {"max": 30},
        "aggs": ["score", "top_citizens", "histogram"],
        "size": 10,
    },
    "a district box": {
        "time": {"last": "24h"},
        "area": {"box": city_box(0.28, 0.16, 0.72, 0.66)},
        "aggs": ["grid", "top_words"],
        "grid_precision": 16,
    },
    "a radius": {
        "time": {"last": "24h"},
        # osmem-server's edge is a few centimetres wider than the haversine one: a radius no report sits on.
        "area": {"circle": city_circle(0.28)},
        "aggs": ["grid", "top_drones", "score"],
        "top": 3,
    },
    "last hour, minute buckets": {"time": {"last": "1h"}, "aggs": ["histogram", "top_words"]},
    "clock skew only": {"time": {"last": "7d"}, "clock_skew": True, "aggs": ALL_AGGS, "size": 10},
    # Over a day: the embedded engine must not answer from its rollups, which count every report.
    "no clock skew": {"time": {"last": "24h"}, "clock_skew": False, "aggs": ["histogram", "top_drones"], "size": 5},
    "nothing matches": {"time": {"last": "24h"}, "drones": ["nobody"], "aggs": ALL_AGGS},
    # Names without regard to case or accents: "Jeanne Martin", "JEANNE MARTIN" (give_ids' other spelling) alike.
    "citizen name in other case and accents": {
        "time": {"last": "7d"},
        "citizen": {"name": "jeanne  MARTÍN"},
        "aggs": ["top_citizens", "score", "top_words"],
        "size": 50,
    },
    "citizen prefix in capitals": {
        "time": {"last": "7d"},
        "citizen": {"name": "JEANNE", "match": "prefix"},
        "aggs": ["top_citizens", "histogram"],
        "size": 20,
    },
    "an accented name typed bare": {"time": {"last": "7d"}, "citizen": {"name": "zoe ærø"}, "size": 5},
    "top words keeping stop words": {"time": {"last": "24h"}, "stop_words": "keep", "aggs": ["top_words"], "top": 20},
}


@pytest.mark.parametrize("other", ["elasticsearch", "archive"])
@pytest.mark.parametrize("name", list(QUERIES))
def test_every_engine_gives_the_embedded_engines_answer(request, engines, name, other):
    """OpenSearch, and the archive (a third engine, defined below), answer as the embedded engine does."""
    embedded, elastic = engines
    store = elastic if other == "elasticsearch" else request.getfixturevalue("archived")
    query = QUERIES[name]
    a, b = run(embedded, query), run(store, query)
    assert_same(a, b)
    if name != "nothing matches":
        assert a["total"] > 0, "the query should match something, or it proves nothing"


def test_both_engines_count_citizens_by_id_and_show_their_most_frequent_name(engines, reports):
    answers = [run(store, QUERIES["citizen by key"])["aggregations"]["top_citizens"] for store in engines]
    assert (
        answers[0]
        == answers[1]
        == [
            # Seen as "Jeanne Martin" once and "J. Martin" once: the tie goes to the first name in order.
            {"key": "subj-jm-1", "name": "J. Martin", "count": 2},
            {"key": "subj-jm-2", "name": "Jeanne Martin", "count": 1},
        ]
    )
    ids_by_name: dict[str, set[str]] = {}
    for item in reports:
        for person in item.report.citizens:
            if person.id is not None:
                ids_by_name.setdefault(person.name, set()).add(person.id)
    shared = [name for name, ids in ids_by_name.items() if len(ids) > 1]
    assert len(shared) > 10, "the corpus should have many names shared by people with different ids"


def test_paging_by_cursor_walks_the_same_reports_on_both_engines(engines):
    embedded, _ = engines
    seen = {}
    for store in engines:
        query = {"time": {"last": "24h"}, "size": PAGE}
        ids = []
        while True:
            page = run(store, query)
            ids.extend((h["report_id"], h["drone_id"]) for h in page["hits"])  # the identity
            if not page["next"]:
                break
            query = {**query, "after": page["next"]}
        seen[store.name] = ids
    assert seen["embedded"] == seen["elasticsearch"]
    assert len(seen["embedded"]) == len(set(seen["embedded"])) == run(embedded, {"time": {"last": "24h"}})["total"]


@pytest.fixture(scope="module")
def crowded(engine_url, tmp_path_factory):
    """Both engines holding instants crowded with reports (seven drones' at the same millisecond, one report
    id sent by two of them), with single reports between, and the order the cursor walks them in."""
    values = []
    for hours in (1, 2, 3):
        instant = (NOW - timedelta(hours=hours)).isoformat()
        for i in range(7):
            # Report ids in another order than the drones', so that the identity, not arrival, decides.
            values.append(report(report_id=f"r{hours}-{(i * 5) % 7}", drone_id=f"pw-0000{i + 1}", sent_at=instant))
        values.append(report(report_id=f"r{hours}-3", drone_id="pw-00009", sent_at=instant))
        between = (NOW - timedelta(hours=hours, minutes=30)).isoformat()
        values.append(report(report_id=f"between-{hours}", sent_at=between))
    decoded = [decode_report(json.dumps(v).encode()) for v in values]
    prefix = f"crowded{unique_suffix()}"
    embedded = EmbeddedStore(tmp_path_factory.mktemp("crowded") / "crowded.sqlite3")
    elastic = open_elastic(engine_url, prefix=prefix)
    for store in (embedded, elastic):
        assert store.index(decoded).created == len(decoded)
    elastic.refresh_now()
    order = sorted((r.observed_at, r.report_id, r.report.drone_id) for r in decoded)
    yield embedded, elastic, [(report_id, drone_id) for _, report_id, drone_id in order]
    embedded.close()
    drop_prefix(elastic.client, prefix)
    elastic.close()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_pages_cut_inside_a_crowded_instant_walk_it_in_order_on_both_engines(crowded, size, sort):
    """Pages of every size end inside instants that hold several reports: each report comes once, in the
    cursor's order (time, then report id, then drone id), on both engines."""
    *stores, order = crowded
    expected = order[::-1] if sort == "newest" else order
    for store in stores:
        query = {"time": {"last": "24h"}, "size": size, "sort": sort}
        walked, pages = [], 0
        while True:
            page = run(store, query)
            walked.extend((h["report_id"], h["drone_id"]) for h in page["hits"])
            pages += 1
            if not page["next"]:
                break
            query = {**query, "after": page["next"]}
        assert walked == expected, store.name
        assert pages == -(-len(expected) // size), store.name
        assert run(store, {"time": {"last": "24h"}, "size": size, "sort": sort})["total"] == len(expected)


def test_reindexing_the_same_reports_changes_nothing(engines, reports):
    embedded, elastic = engines
    before = run(elastic, QUERIES["a day, everything"])
    assert elastic.index(reports[:300]).created == 0
    assert embedded.index(reports[:300]).created == 0
    elastic.refresh_now()
    assert_same(run(embedded, QUERIES["a day, everything"]), run(elastic, QUERIES["a day, everything"]))
    assert_same(run(elastic, QUERIES["a day, everything"]), before)


def test_the_stored_report_keeps_unknown_fields_on_both_engines(engines):
    for store in engines:
        stored = store.get("dup-name")
        assert stored["wind_kph"] == 12
        assert stored["report_id"] == "dup-name"


def test_an_exports_pages_without_totals_walk_the_same_reports_on_both_engines(engines, reports):
    import msgspec

    from analytics.query import decode_cursor

    walked = {}
    for store in engines:
        p = msgspec.structs.replace(
            plan(parse_query({"time": {"last": "7d"}, "sort": "oldest", "size": EXPORT_PAGE}), now=NOW),
            count_total=False,
        )
        ids = []
        while True:
            page = store.search(p)
            assert page["total"] is None
            ids.extend((h["report_id"], h["drone_id"]) for h in page["hits"])  # the identity
            if not page["next"]:
                break
            p = msgspec.structs.replace(p, after=decode_cursor(page["next"]))
        walked[store.name] = ids
    assert walked["embedded"] == walked["elasticsearch"]
    assert len(walked["embedded"]) == len(set(walked["embedded"])) == len(reports)


# --- The archive, a third engine over the same reports -----------------------------


@pytest.fixture(scope="module")
def archived(reports, tmp_path_factory):
    """The corpus as the archive consumer wrote it from the topic: each report as a record that
    arrived a moment after it was observed (a skewed clock's at its broker time), plus what the
    topic holds and the index engines never store: a producer's retry of a report already sent,
    and a later report under a key already taken (the indexer refuses it as a conflict)."""
    from analytics.archive.consumer import process_batch
    from analytics.archive.search import ArchiveSearch
    from analytics.archive.storage import ArchiveStorage
    from peacewatch.streams import kafka
    from peacewatch.streams.batch import Record

    def arrival(r) -> int:
        observed = int(r.observed_at.timestamp() * 1000)
        return observed if r.clock_skew else observed + 1500

    recent = [r for r in reports if r.observed_at > NOW - timedelta(hours=20) and not r.clock_skew]
    first = next(r for r in recent if r.report.citizens and "the" in r.report.words)
    retry = (first.raw, arrival(first) + 30_000)
    conflict_doc = json.loads(first.raw) | {"words": ["nothing", "stored"], "citizens": []}
    conflict = (json.dumps(conflict_doc).encode(), arrival(first) + 60_000)
    sent = sorted([(r.raw, arrival(r)) for r in reports] + [retry, conflict], key=lambda item: item[1])
    topic = kafka.topic("reports")
    records = [
        Record(value=raw, topic=topic, partition=offset % 3, offset=offset, timestamp=ms)
        for offset, (raw, ms) in enumerate(sent)
    ]
    archive = ArchiveStorage(str(tmp_path_factory.mktemp("parity-archive") / "archive"))
    for partition in range(3):
        outcome = process_batch([r for r in records if r.partition == partition], archive)
        assert not outcome.counts["invalid_skipped"]
    assert archive.dataset("reports").count_rows() == len(reports) + 2
    return ArchiveSearch(archive)


def test_paging_through_the_archive_walks_the_same_reports_in_the_same_order(engines, archived):
    embedded, _ = engines
    seen = {}
    for store in (embedded, archived):
        query = {"time": {"last": "24h"}, "size": PAGE, "sort": "oldest"}
        ids = []
        while True:
            page = run(store, query)
            ids.extend((h["report_id"], h["drone_id"]) for h in page["hits"])
            if not page["next"]:
                break
            query = {**query, "after": page["next"]}
        seen[store.name] = ids
    assert seen["embedded"] == seen["archive"]
    assert len(seen["archive"]) == run(embedded, {"time": {"last": "24h"}})["total"]


# --- Stop words, names without case or accents, suggestions -------------------------


def test_top_words_skip_stop_words_unless_the_query_keeps_them_on_every_engine(request, engines):
    from analytics.stop_words import BUILT_IN

    embedded, elastic = engines
    archived = request.getfixturevalue("archived")
    for store in (embedded, elastic, archived):
        skipped = [
            b["key"]
            for b in run(store, {"time": {"last": "24h"}, "aggs": ["top_words"], "top": 20})["aggregations"][
                "top_words"
            ]
        ]
        kept = [
            b["key"]
            for b in run(store, {"time": {"last": "24h"}, "aggs": ["top_words"], "top": 20, "stop_words": "keep"})[
                "aggregations"
            ]["top_words"]
        ]
        assert kept[:3] == ["the", "and", "you"], store.name  # the simulator speaks as people do
        assert len(skipped) == 20 and not set(skipped) & BUILT_IN, store.name
        # A filter on a stop word still matches: only the top list leaves them out.
        assert run(store, {"time": {"last": "24h"}, "words": {"all": ["the"]}})["total"] > 0


def test_a_name_matches_whatever_its_case_and_accents_on_every_engine(request, engines):
    embedded, elastic = engines
    archived = request.getfixturevalue("archived")
    for store in (embedded, elastic, archived):
        found = {
            person["name"]
            for hit in run(store, {"time": {"last": "7d"}, "citizen": {"name": "jeanne martín"}, "size": 50})["hits"]
            for person in hit["citizens"]
        }
        assert "Jeanne Martin" in found, store.name
        zoe = run(store, {"time": {"last": "7d"}, "citizen": {"name": "ZOE ÆRØ"}})
        assert zoe["total"] == 1, store.name  # "Zoé Ærø" in the report dup-name


def test_both_index_engines_suggest_the_same_names_for_a_prefix(engines):
    embedded, elastic = engines
    since = int((NOW - timedelta(days=7)).timestamp() * 1000)
    for prefix in ("jeanne m", "j", "zo"):
        a = embedded.suggest_citizens(prefix, since_ms=since, limit=8)
        b = elastic.suggest_citizens(prefix, since_ms=since, limit=8)
        assert a == b, prefix
        assert a, prefix
    # Precise enough to reach the hand-made Jeanne Martin among the many "Jeanne M. ..." of a large population.
    suggested = embedded.suggest_citizens("jeanne mart", since_ms=since, limit=8)
    assert "Jeanne Martin" in [s["name"] for s in suggested]
    counts = [s["count"] for s in suggested]
    assert counts == sorted(counts, reverse=True)


# --- A peacescore range, and a count frozen by arrival, on every engine ---------------


def every_engine(request, engines) -> tuple:
    return (*engines, request.getfixturevalue("archived"))


def test_a_peacescore_range_charts_only_the_citizens_within_it_on_every_engine(request, engines):
    query = QUERIES["peacescore up to 30"]
    for store in every_engine(request, engines):
        answer = run(store, query)
        score, top = answer["aggregations"]["score"], answer["aggregations"]["top_citizens"]
        assert score["count"] and 0 <= score["min"] <= score["max"] <= 30, store.name
        everyone = run(store, {**query, "score": None})["aggregations"]["score"]
        assert everyone["max"] > 30 and everyone["count"] > score["count"], store.name
        # Reports with someone under 30 also hold people over it; a top citizen counts the times they scored under.
        assert sum(b["count"] for b in top) <= score["count"], store.name
        for bucket in top[:3]:
            under_30 = run(store, {"time": query["time"], "citizen": {"key": bucket["key"]}, "score": {"max": 30}})
            assert bucket["count"] == under_30["total"], (store.name, bucket)


def test_an_answers_as_of_sent_back_gives_the_same_answer_on_every_engine(request, engines):
    for store in every_engine(request, engines):
        query = QUERIES["a day, everything"]
        first = run(store, query)
        assert first["total"] > 0, store.name
        again = run(store, {**query, "arrived_before": first["as_of"]})
        assert again["as_of"] == first["as_of"], store.name
        assert_same(first, again)
        # A bound before anything arrived: nothing had.
        assert run(store, {**query, "arrived_before": "2026-11-01T00:00:00Z"})["total"] == 0, store.name
