"""``POST /api/v1/reports/search``: analysts search the stored reports; bad queries say what is wrong."""

import base64
import json

import pytest

from analytics.consumer import process_batch
from analytics.models import AuditEntry
from peacewatch.streams.batch import Record
from tests.conftest import sign_in_with_second_factor
from tests.factories import citizen, report

pytestmark = pytest.mark.django_db

URL = "/api/v1/reports/search"
# A cursor as this API encodes them, its time 10^30 ms.
HUGE_CURSOR = base64.urlsafe_b64encode(b'[1000000000000000000000000000000,"a","b"]').decode()
MORNING = {"from": "2026-11-28T04:00:00Z", "to": "2026-11-28T05:00:00Z"}


def index(*reports):
    process_batch([Record(value=json.dumps(r).encode(), offset=i) for i, r in enumerate(reports)])


PURPOSE = "case 2026-0001: test of the search API"


def post(client, body):
    """An analyst's search, with the purpose of access the page sends beside every query."""
    if isinstance(body, dict) and "purpose" not in body:
        body = {"purpose": PURPOSE, **body}
    return client.post(URL, body if isinstance(body, str) else json.dumps(body), content_type="application/json")


@pytest.fixture
def reports():
    index(
        report(report_id="calm", sent_at="2026-11-28T04:10:00Z", words=["bread"], citizens=[citizen("Ann Lee", 80)]),
        report(report_id="angry", sent_at="2026-11-28T04:20:00Z", words=["strike"], citizens=[citizen("Bob Roy", 5)]),
        report(report_id="later", sent_at="2026-11-28T06:00:00Z", words=["strike"]),
    )


def test_an_analyst_gets_hits_and_aggregations(client, analyst, reports):
    client.force_login(analyst)
    response = post(client, {"time": MORNING, "aggs": ["top_citizens", "score"], "size": 10})
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    assert [h["report_id"] for h in body["hits"]] == ["angry", "calm"]  # newest first
    angry = body["hits"][0]
    assert angry["citizens"] == [{"name": "Bob Roy", "key": "Bob Roy", "peacescore": 5}]  # no id: keyed by name
    assert angry["alert"] is True
    assert body["aggregations"]["top_citizens"] == [
        {"key": "Ann Lee", "name": "Ann Lee", "count": 1},
        {"key": "Bob Roy", "name": "Bob Roy", "count": 1},
    ]
    assert body["aggregations"]["score"]["min"] == 5
    assert body["query"]["from"] == "2026-11-28T04:00:00.000Z"
    assert body["engine"] == "embedded"


def test_filters_narrow_the_hits_and_next_pages_through_the_rest(client, analyst, reports):
    client.force_login(analyst)
    only_strikes = post(client, {"time": MORNING, "words": {"any": ["strike"]}}).json()
    assert [h["report_id"] for h in only_strikes["hits"]] == ["angry"]
    first = post(client, {"time": MORNING, "size": 1}).json()
    assert first["next"]
    second = post(client, {"time": MORNING, "size": 1, "after": first["next"]}).json()
    assert [h["report_id"] for h in first["hits"] + second["hits"]] == ["angry", "calm"]


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"colour": "red"}, "colour", "unknown field"),
        ({"time": {"from": "2026-11-28T05:00:00Z", "to": "2026-11-28T04:00:00Z"}}, "time", "from must be before to"),
        ({"size": 1_000_000}, "size", "size: must be at most 500"),
        ({"score": {"min": 50, "max": 10}}, "score", "min must not be greater than max"),
        ({"time": {"last": "forever"}}, "time.last", "expected a number and a unit"),
        ({"words": {"none": ["x"]}}, "words.none", "unknown field"),
        ({"citizen": {"name": "Ann Lee", "key": "subj-1"}}, "citizen", "exactly one of name or key"),
        ({"citizen": {"key": "subj-1", "match": "prefix"}}, "citizen.match", "a key matches exactly"),
        ([{"time": {"last": "1h"}}], "", "must be a JSON object"),
        ('{"time": ', "", "malformed JSON"),
        # Any depth, magnitude or smallness: a 400 naming the field, never a 500.
        ("[" * 5000 + "]" * 5000, "", "nested too deeply"),
        ({"after": HUGE_CURSOR}, "after", "not a cursor this API returned"),
        (
            {"area": {"circle": {"lat": 48.8, "lon": 2.3, "radius_m": 1e-300}}},
            "area.circle.radius_m",
            "must be at least 1",
        ),
        ({"area": {"box": {"south": 48.8, "west": 2.3, "north": 48.8 + 1e-300, "east": 2.3}}}, None, None),
    ],
)
def test_a_bad_query_gets_a_problem_naming_the_field(client, analyst, body, field, says):
    client.force_login(analyst)
    response = post(client, body)
    if field is None:  # odd but valid: answered
        assert response.status_code == 200
        return
    # A cursor this API did not return points at no page: 404, as the other lists answer.
    assert response.status_code == (404 if field == "after" else 400)
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["field"] == field
    assert says in response.json()["detail"]
    refused = AuditEntry.objects.get(action="search")  # nothing was searched, but the attempt is on record
    assert refused.action == "search"
    assert says in refused.detail["refused"]


def test_a_query_of_nothing_but_a_purpose_searches_the_last_day(client, analyst):
    index(report(report_id="old", sent_at="2020-01-01T00:00:00Z"))
    client.force_login(analyst)
    response = post(client, {})
    assert response.status_code == 200
    assert response.json()["total"] == 0


def test_only_analysts_and_superusers_may_search(client, officer, admin_user, reports):
    assert post(client, {}).status_code == 403  # anonymous, session auth
    client.force_login(officer)
    assert post(client, {}).status_code == 403
    sign_in_with_second_factor(client, admin_user)
    assert post(client, {"time": MORNING}).json()["total"] == 2


def test_every_search_is_recorded_with_who_what_and_how_many(client, analyst, reports):
    client.force_login(analyst)
    post(client, {"time": MORNING, "citizen": {"name": "Bob Roy"}})
    entry = AuditEntry.objects.get(action="search")
    assert (entry.user, entry.username, entry.action) == (analyst, "analyst1", "search")
    assert entry.query == {"time": MORNING | {"from": "2026-11-28T04:00:00Z"}, "citizen": {"name": "Bob Roy"}}
    assert entry.detail == {"total": 1, "engine": "embedded", "looked_at": {"name": "Bob Roy"}, "purpose": PURPOSE}
    assert entry.ip == "127.0.0.1"


def test_the_api_document_describes_search_with_an_example(client, analyst):
    client.force_login(analyst)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    search = schema["paths"]["/api/v1/reports/search"]["post"]
    request = search["requestBody"]["content"]["application/json"]
    assert request["schema"]["additionalProperties"] is False
    assert request["schema"]["properties"]["size"]["maximum"] == 500
    assert request["schema"]["properties"]["citizen"]["nullable"] is True
    assert request["examples"]
    assert "hits" in search["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    assert "400" in search["responses"]
    for path in ("/api/v1/saved-queries/", "/api/v1/saved-queries/{id}/", "/api/v1/exports/"):
        assert path in schema["paths"]
    assert "/api/v1/exports/{id}/download" in schema["paths"]


def test_peacescore_up_to_30_charts_only_the_citizens_under_30(client, analyst):
    index(
        report(
            report_id="mixed",
            sent_at="2026-11-28T04:30:00Z",
            citizens=[citizen("Low Lee", 10), citizen("High Hu", 80)],
        ),
        report(report_id="calm", sent_at="2026-11-28T04:40:00Z", citizens=[citizen("Calm Cy", 70)]),
    )
    client.force_login(analyst)
    body = post(client, {"time": MORNING, "score": {"max": 30}, "aggs": ["score", "top_citizens"]}).json()
    assert body["total"] == 1
    assert body["aggregations"]["score"]["count"] == 1
    assert body["aggregations"]["score"]["min"] == body["aggregations"]["score"]["max"] == 10
    assert body["aggregations"]["score"]["percentiles"]["50"] == 10
    assert body["aggregations"]["top_citizens"] == [{"key": "Low Lee", "name": "Low Lee", "count": 1}]


def test_an_answers_as_of_sent_back_counts_the_same_reports_after_late_ones_arrive(client, analyst, reports):
    client.force_login(analyst)
    first = post(client, {"time": MORNING, "aggs": ["histogram"]}).json()
    assert first["total"] == 2
    # Observed within the morning, arrived after the answer.
    index(report(report_id="late", sent_at="2026-11-28T04:50:00Z"))
    bounded = post(client, {"time": MORNING, "aggs": ["histogram"], "arrived_before": first["as_of"]}).json()
    assert (bounded["total"], bounded["as_of"]) == (2, first["as_of"])
    assert bounded["aggregations"] == first["aggregations"]
    assert post(client, {"time": MORNING}).json()["total"] == 3


def test_the_api_document_says_what_the_score_range_counts_and_how_to_freeze_a_count(client, analyst):
    client.force_login(analyst)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    search = schema["paths"]["/api/v1/reports/search"]["post"]
    properties = search["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert "count only the citizens within it" in properties["score"]["description"]
    assert properties["arrived_before"]["format"] == "date-time"
    answer = search["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    assert answer["as_of"]["format"] == "date-time"
    assert "arrived_before" in answer["as_of"]["description"]


# --- the purpose of access (issue 14, point 4) -------------------------------------------------


def test_a_search_without_a_purpose_is_refused_naming_the_field_and_recorded(client, analyst, reports):
    client.force_login(analyst)
    response = client.post(URL, json.dumps({"time": MORNING}), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == "purpose"
    assert "case reference or reason" in response.json()["detail"]
    assert "purpose" in AuditEntry.objects.get(action="search").detail["refused"]


@pytest.mark.parametrize("given", ["", "ab", "x" * 201, 42, "   \n\t ", "a" + " " * 200 + "b"])
def test_a_purpose_must_be_3_to_200_characters(client, analyst, given):
    client.force_login(analyst)
    response = post(client, {"time": MORNING, "purpose": given})
    assert response.status_code == 400
    assert response.json()["field"] == "purpose"


def test_what_a_purpose_cannot_show_is_kept_as_the_replacement_character(client, analyst, reports):
    client.force_login(analyst)
    assert post(client, {"time": MORNING, "purpose": "two\x00parts\u200e"}).status_code == 200
    assert AuditEntry.objects.get(action="search").detail["purpose"] == "two\ufffdparts\ufffd"


def test_the_purpose_is_kept_tidy_in_the_audit_entry_and_not_in_the_query(client, analyst, reports):
    client.force_login(analyst)
    assert post(client, {"time": MORNING, "purpose": "  case 2026-77:\n burglary  "}).status_code == 200
    entry = AuditEntry.objects.get(action="search")
    assert entry.detail["purpose"] == "case 2026-77: burglary"
    assert "purpose" not in entry.query


def test_without_the_requirement_a_search_needs_no_purpose(client, analyst, reports, settings):
    settings.ANALYTICS_REQUIRE_PURPOSE = False
    client.force_login(analyst)
    response = client.post(URL, json.dumps({"time": MORNING}), content_type="application/json")
    assert response.status_code == 200
    assert AuditEntry.objects.get(action="search").detail["purpose"] is None


def test_the_document_says_a_search_carries_a_purpose(client, analyst):
    client.force_login(analyst)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    body = schema["paths"][URL]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "purpose" in body["required"]
    assert (body["properties"]["purpose"]["minLength"], body["properties"]["purpose"]["maxLength"]) == (3, 200)


def test_a_nul_character_anywhere_in_a_query_is_a_400_naming_where(client, analyst):
    client.force_login(analyst)
    response = post(client, {"time": MORNING, "citizen": {"name": "Bob\x00Roy"}})
    assert response.status_code == 400
    assert response.json()["field"] == "citizen.name"


def test_a_refused_body_holding_nul_characters_is_still_recorded(client, analyst):
    # PostgreSQL's JSON cannot hold U+0000: the audit log keeps the body with it replaced.
    client.force_login(analyst)
    response = post(client, {"time": MORNING, "purpose": "case\x00 9", "col\x00our": "x\x00"})
    assert response.status_code == 400
    refused = AuditEntry.objects.get(action="search")
    assert refused.query["col\ufffdour"] == "x\ufffd"


# --- GET /api/v1/analytics/citizens/suggest ---------------------------------------

SUGGEST = "/api/v1/analytics/citizens/suggest"


@pytest.fixture
def people():
    from datetime import UTC, datetime, timedelta

    recent = (datetime.now(tz=UTC) - timedelta(hours=2)).isoformat()
    index(
        *(report(sent_at=recent, citizens=[citizen("Jeanne Martin", 50)]) for _ in range(3)),
        report(sent_at=recent, citizens=[citizen("Jeanne Martín", 40)]),
        report(sent_at=recent, citizens=[citizen("Jean Marais", 30)]),
        report(sent_at="2020-01-01T00:00:00Z", citizens=[citizen("Jeanne Old", 30)]),  # too long ago
    )


def test_suggestions_ignore_case_and_accents_and_put_the_most_seen_first(client, analyst, people):
    client.force_login(analyst)
    response = client.get(SUGGEST, {"prefix": "JEANNE M", "purpose": PURPOSE})
    assert response.status_code == 200
    assert response.json() == {
        "prefix": "JEANNE M",
        "results": [{"name": "Jeanne Martin", "count": 3}, {"name": "Jeanne Martín", "count": 1}],
    }
    few = client.get(SUGGEST, {"prefix": "jéan", "limit": "1", "purpose": PURPOSE}).json()["results"]
    assert few == [{"name": "Jeanne Martin", "count": 3}]


def test_every_suggestion_is_recorded_with_its_purpose_and_the_names_shown(client, analyst, people):
    client.force_login(analyst)
    client.get(SUGGEST, {"prefix": "jean", "purpose": PURPOSE})
    entry = AuditEntry.objects.get(action="citizen.suggest")
    assert (entry.username, entry.ip) == ("analyst1", "127.0.0.1")
    assert entry.detail == {
        "prefix": "jean",
        "names": ["Jeanne Martin", "Jean Marais", "Jeanne Martín"],
        "purpose": PURPOSE,
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"prefix": "jean"}, "purpose"),
        ({"prefix": "jean", "purpose": "x"}, "purpose"),
        ({"purpose": PURPOSE}, "prefix"),
        ({"prefix": "", "purpose": PURPOSE}, "prefix"),
        ({"prefix": "jean", "limit": "500", "purpose": PURPOSE}, "limit"),
    ],
)
def test_a_suggestion_request_missing_something_is_a_problem_naming_it(client, analyst, params, field):
    client.force_login(analyst)
    response = client.get(SUGGEST, params)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["field"] == field
    assert not AuditEntry.objects.filter(action="citizen.suggest").exists()


def test_only_analysts_get_suggestions(client, officer, people):
    assert client.get(SUGGEST, {"prefix": "jean", "purpose": PURPOSE}).status_code == 403
    client.force_login(officer)
    assert client.get(SUGGEST, {"prefix": "jean", "purpose": PURPOSE}).status_code == 403
