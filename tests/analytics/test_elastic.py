"""The Elasticsearch engine against a real OpenSearch-compatible server (osmem-server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import ApiError

from analytics.query import AGGREGATIONS, parse_query, plan
from analytics.stop_words import BUILT_IN as BUILT_IN_STOP_WORDS
from analytics.store import get_store, open_elastic, reset_store
from analytics.store.elastic import PlainJsonTransport, build_body, make_client
from analytics.store.elastic.compiler import score_from_hdr, split_body, unscored_reports
from ingest.reports import decode_report
from peacewatch.streams import kafka
from peacewatch.streams.deadletter import parse_headers
from tests.factories import citizen, report
from tests.kafka import consumed, produce_sync, read_topic_sync, run_async, run_consumer_until


def test_the_client_detects_opensearch_and_speaks_plain_json_to_it(search_engine):
    client = make_client(search_engine.url)
    assert isinstance(client.transport, PlainJsonTransport)
    assert client.info()["version"]["distribution"] == "opensearch"
    # Why the adapter exists: the official client's versioned media types are refused.
    strict = make_client(search_engine.url, flavor="elasticsearch")
    with pytest.raises(ApiError) as refused:
        strict.search(index="*", size=0)
    assert refused.value.meta.status == 406


def test_the_indexer_consumer_fills_elasticsearch_and_dead_letters_bad_records(broker, settings, search_engine):
    settings.ELASTICSEARCH_URL = search_engine.url
    reset_store()
    good = [report(report_id=f"es-{i}", drone_id=f"pw-{i % 7:05d}") for i in range(300)]
    produce_sync([*good, b"{broken", {"drone_id": "x", "location": {"lat": 1, "lon": 1}}])

    run_async(run_consumer_until, "indexer", consumed(302), timeout=60)

    store = get_store()
    store.refresh_now()
    assert store.count() == 300
    assert store.get("es-17")["drone_id"] == "pw-00003"
    letters = read_topic_sync(kafka.topic("deadletter"), expected=2)
    assert sorted(parse_headers(r.headers)["error"] for r in letters) == ["invalid_json", "schema"]


def test_a_report_the_engine_refuses_is_dead_lettered_not_lost(broker, settings, search_engine):
    # A day index created by hand with a conflicting mapping: drone ids cannot be numbers.
    client = make_client(search_engine.url)
    client.indices.create(
        index=f"{search_engine.prefix}-reports-2026.11.28", mappings={"properties": {"drone_id": {"type": "long"}}}
    )
    settings.ELASTICSEARCH_URL = search_engine.url
    reset_store()
    refused = report(report_id="refused", sent_at="2026-11-28T04:00:00Z")
    accepted = report(report_id="accepted", sent_at="2026-11-27T04:00:00Z")
    produce_sync([refused, accepted])

    runner = run_async(run_consumer_until, "indexer", consumed(2), timeout=60)

    assert runner.stats["consumed"] == 2
    letters = read_topic_sync(kafka.topic("deadletter"), expected=1)
    headers = parse_headers(letters[0].headers)
    assert headers["error"] == "rejected"
    assert json.loads(letters[0].value)["report_id"] == "refused"
    store = get_store()
    store.refresh_now()
    assert store.get("accepted") is not None


def test_retention_drops_whole_days_older_than_the_setting(search_engine):
    store = open_elastic(search_engine.url, refresh=True)
    today = datetime(2026, 11, 28, 10, tzinfo=UTC)
    for days_ago in (0, 1, 5, 40):
        sent = (today - timedelta(days=days_ago)).isoformat()
        store.index([decode_report(json.dumps(report(report_id=f"d{days_ago}", sent_at=sent)).encode())])

    dropped = store.prune(keep_days=5, now=today)

    assert dropped == [f"{search_engine.prefix}-reports-2026.10.19"]
    assert store.get("d40") is None
    assert all(store.get(f"d{n}") for n in (0, 1, 5))


def test_a_query_compiles_to_a_search_body_that_reads_like_the_query():
    query = parse_query(
        {
            "time": {"from": "2026-11-28T00:00:00Z", "to": "2026-11-28T06:00:00Z"},
            "citizen": {"name": "Jeanne", "match": "prefix"},
            "score": {"max": 20},
            "words": {"any": ["Bread", "strike"]},
            "aggs": ["top_words"],
            "top": 5,
            "size": 10,
        }
    )
    body = build_body(plan(query, threshold=20))
    filters = body["query"]["bool"]["filter"]
    assert filters[0] == {
        "range": {"observed_at": {"gte": 1795824000000, "lt": 1795845600000, "format": "epoch_millis"}}
    }
    assert filters[1] == {
        "nested": {
            "path": "citizens",
            "query": {
                "bool": {
                    "filter": [
                        {"prefix": {"citizens.name_fold": "jeanne"}},
                        {"range": {"citizens.peacescore": {"lte": 20}}},
                    ]
                }
            },
        }
    }
    assert filters[2] == {"terms": {"tokens": ["bread", "strike"]}}
    # Two more than asked: whether a next page exists, and whether the page's last instant holds more reports.
    assert body["size"] == 12
    # By time alone; the identity orders each instant's reports in a request of their own (test_parity).
    assert body["sort"] == [{"observed_at": {"order": "desc"}}]
    assert body["aggs"]["top_words"]["terms"]["field"] == "tokens"
    # Stop words are counted, then dropped from the answer: as many more buckets as there are stop words.
    assert body["aggs"]["top_words"]["terms"]["size"] == 1000 + len(BUILT_IN_STOP_WORDS)


def test_a_score_range_and_an_arrival_bound_compile_to_a_citizen_filter_and_a_stored_at_range():
    query = parse_query(
        {
            "time": {"from": "2026-11-28T00:00:00Z", "to": "2026-11-28T06:00:00Z"},
            "score": {"max": 30},
            "aggs": ["score", "top_citizens"],
            "arrived_before": "2026-11-28T07:00:00Z",
        }
    )
    body = build_body(plan(query, threshold=20))
    assert {"range": {"stored_at": {"lt": 1795849200000, "format": "epoch_millis"}}} in body["query"]["bool"]["filter"]
    # The citizen aggregations count the citizens in the range, inside the nested citizens, the top list and
    # the score each in an aggregation of its own.
    for name, inner in (("citizens", {"keys"}), ("scores", {"stats", "percentiles"})):
        assert body["aggs"][name]["nested"] == {"path": "citizens"}
        scored = body["aggs"][name]["aggs"]["scored"]
        assert scored["filter"] == {"range": {"citizens.peacescore": {"lte": 30}}}
        assert set(scored["aggs"]) == inner
    # Without a range, every citizen of the matched reports, from each report's flat copy of their scores,
    # with the reports that have citizens but no such copy counted.
    unranged = build_body(plan(parse_query({"aggs": ["score"]}), threshold=20))["aggs"]["scores"]
    assert "nested" not in unranged
    assert unranged["aggs"]["stats"] == {"stats": {"field": "scores"}}
    assert set(unranged["aggs"]) == {"stats", "percentiles", "unscored"}


def test_the_dashboard_is_sent_as_three_searches_with_the_page_and_total_in_the_first():
    body = build_body(plan(parse_query({"aggs": list(AGGREGATIONS), "size": 50}), threshold=20))

    page, citizens, scores = split_body(body)

    assert (page["size"], page["track_total_hits"], page["sort"]) == (body["size"], True, body["sort"])
    assert set(page["aggs"]) == {"histogram", "top_drones", "top_words", "grid"}
    for search, name in ((citizens, "citizens"), (scores, "scores")):
        assert search == {
            "query": body["query"],
            "size": 0,
            "track_total_hits": False,
            "aggs": {name: body["aggs"][name]},
        }
    # Only the citizens' aggregations and no page: the first of them counts the total.
    counted = build_body(plan(parse_query({"aggs": ["score", "top_citizens"], "size": 0}), threshold=20))
    first, second = split_body(counted)
    assert (first["track_total_hits"], set(first["aggs"]), second["track_total_hits"]) == (True, {"citizens"}, False)
    # One aggregation and no page: one search, as built.
    alone = build_body(plan(parse_query({"aggs": ["score"], "size": 0}), threshold=20))
    assert split_body(alone) == [alone]


def test_an_hdr_percentile_reads_back_as_the_score_it_stands_for():
    # What OpenSearch 2.19's HDR histogram (3 significant digits) answered for scores of 10, 45.3 and 100:
    # the highest value of each one's bucket.
    assert score_from_hdr(10.00775146484375, 0.0, 100.0) == 10.0
    assert score_from_hdr(45.31243896484375, 0.0, 100.0) == 45.3
    assert score_from_hdr(100.06243896484375, 0.0, 100.0) == 100.0
    # Never outside the scores' own range, and nothing to say when there were none.
    assert score_from_hdr(100.06243896484375, 0.0, 99.9) == 99.9
    assert score_from_hdr(0.0, 0.5, 3.0) == 0.5
    assert score_from_hdr(None, None, None) is None


def test_reports_whose_telemetry_was_dropped_can_be_found_by_the_field_name(search_engine):
    store = open_elastic(search_engine.url, refresh=True)
    faulty = report(report_id="faulty", battery_pct="low")
    store.index([decode_report(json.dumps(doc).encode()) for doc in (faulty, report(report_id="fine"))])

    found = store.client.search(index=store.pattern, query={"term": {"dropped": "battery_pct"}})["hits"]["hits"]

    assert [h["_source"]["report_id"] for h in found] == ["faulty"]


def test_a_document_written_before_the_clock_skew_flag_existed_counts_as_not_flagged(search_engine):
    from analytics.store.elastic import document

    store = open_elastic(search_engine.url, refresh=True)
    fast = json.dumps(report(report_id="fast", sent_at="2026-11-28T05:00:00Z")).encode()
    store.index([decode_report(fast, timestamp_ms=1_795_838_400_000)])  # broker time 04:00: an hour behind
    older = document(decode_report(json.dumps(report(report_id="older")).encode()), stored_at_ms=0)
    del older["clock_skew"]
    store.client.index(index=store.index_name(older["observed_at"]), id="pw-00042/older", document=older, refresh=True)
    day = {"time": {"from": "2026-11-28T00:00:00Z", "to": "2026-11-29T00:00:00Z"}}

    def matching(flag: bool) -> list:
        hits = store.search(plan(parse_query({**day, "clock_skew": flag}), threshold=20))["hits"]
        return [(h["report_id"], h["clock_skew"]) for h in hits]

    assert matching(False) == [("older", False)]
    assert matching(True) == [("fast", True)]
    assert store.get("older")["clock_skew"] is False


def test_reports_indexed_before_the_flat_scores_existed_still_count_in_the_score_statistics(search_engine):
    from analytics.store.elastic import document

    store = open_elastic(search_engine.url, refresh=True)
    day = {"time": {"from": "2026-11-28T00:00:00Z", "to": "2026-11-29T00:00:00Z"}, "aggs": ["score"]}
    asked = plan(parse_query(day), threshold=20)

    def without_flat_scores() -> int:
        return unscored_reports(asked, store.client.search(index=store.pattern, **build_body(asked, hdr=False)).body)

    store.index([decode_report(json.dumps(report(report_id="newer", citizens=[citizen("Ann Lee", 10.0)])).encode())])
    assert without_flat_scores() == 0  # what the writer indexes needs no second search
    two = [citizen("Bob Roy", 40.5), citizen("Cy Tam", 90.0)]
    older = document(decode_report(json.dumps(report(report_id="older", citizens=two)).encode()), stored_at_ms=0)
    del older["scores"]
    store.client.index(index=store.index_name(older["observed_at"]), id="pw-00042/older", document=older, refresh=True)
    assert without_flat_scores() == 1

    score = store.search(asked)["aggregations"]["score"]

    assert (score["count"], score["min"], score["max"], score["avg"]) == (3, 10.0, 90.0, round(140.5 / 3, 4))
    assert score["percentiles"]["50"] == 40.5
    # Within a peacescore range the nested citizens answer, for old and new reports alike.
    ranged = store.search(plan(parse_query({**day, "score": {"min": 20}}), threshold=20))["aggregations"]["score"]
    assert (ranged["count"], ranged["min"], ranged["max"]) == (2, 40.5, 90.0)


class ThrottlingProxy:
    """A real HTTP proxy in front of the server that answers the first bulk requests
    with 429 or stalls past the client's timeout, as a busy cluster does."""

    def __init__(self, upstream: str, faults: list[str]) -> None:
        import http.server
        import threading
        import time as clock
        import urllib.request

        self.faults = list(faults)
        self.bulk_requests = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if "/_bulk" in self.path:
                    proxy.bulk_requests += 1
                    fault = proxy.faults.pop(0) if proxy.faults else None
                    if fault == "429":
                        payload = b'{"error":{"type":"es_rejected_execution_exception"},"status":429}'
                        self.send_response(429)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                    if fault == "stall":
                        clock.sleep(2.5)  # past the client's timeout; then hang up
                        return
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "accept")}
                request = urllib.request.Request(
                    upstream + self.path, data=body or None, method=self.command, headers=headers
                )
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status, data, reply_headers = response.status, response.read(), response.headers
                except urllib.error.HTTPError as error:
                    status, data, reply_headers = error.code, error.read(), error.headers
                self.send_response(status)
                for name in ("Content-Type", "X-Elastic-Product"):
                    if reply_headers.get(name):
                        self.send_header(name, reply_headers[name])
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_throttled_or_stalled_bulk_requests_are_retried_and_nothing_is_dropped(search_engine):
    from analytics.store.elastic import ElasticStore

    proxy = ThrottlingProxy(search_engine.url, ["429", "stall", "429"])
    try:
        client = make_client(proxy.url, timeout_s=1.0)
        store = ElasticStore(client, prefix=search_engine.prefix, bulk_docs=50, refresh=True)
        reports = [decode_report(json.dumps(report(report_id=f"t{i}")).encode()) for i in range(120)]

        result = store.index(reports)

        assert result.rejected == [] and not proxy.faults
        assert open_elastic(search_engine.url).count() == 120  # every report once, none dropped
        # Chunks of 50, 50 and 20, plus the three refused attempts. A loaded node may also
        # answer a forwarded request after the client's 1 s: that request is retried too,
        # and its documents, written by the first attempt, are not new to the second.
        assert proxy.bulk_requests >= 3 + 3
        if proxy.bulk_requests == 3 + 3:
            assert result.created == 120
    finally:
        proxy.close()


@pytest.mark.django_db
def test_the_search_api_answers_from_elasticsearch_when_it_is_configured(client, analyst, settings, search_engine):
    settings.ELASTICSEARCH_URL = search_engine.url
    reset_store()
    store = get_store()
    now = datetime.now(tz=UTC)
    store.index(
        [
            decode_report(
                json.dumps(report(report_id=f"api-{i}", sent_at=(now - timedelta(minutes=i)).isoformat())).encode()
            )
            for i in range(30)
        ]
    )
    store.refresh_now()
    client.force_login(analyst)

    response = client.post(
        "/api/v1/reports/search",
        json.dumps({"time": {"last": "1h"}, "aggs": ["top_drones"], "size": 10, "purpose": "case 2026-0004"}),
        content_type="application/json",
    )

    body = response.json()
    assert response.status_code == 200, body
    assert body["engine"] == "elasticsearch"
    assert body["total"] == 30
    assert [h["report_id"] for h in body["hits"]] == [f"api-{i}" for i in range(10)]
    assert body["aggregations"]["top_drones"] == [{"key": "pw-00042", "count": 30}]
