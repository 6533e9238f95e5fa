"""HTTP ingest for drones (``POST /api/v1/ingest/reports``) against the real embedded broker."""

import asyncio
import io
import json
import time

import pytest
from django.core.cache import cache
from django.core.handlers.asgi import ASGIRequest

from ingest import fleet
from ingest import http as ingest_http
from ingest.models import Drone
from peacewatch.streams import kafka
from peacewatch.streams.deadletter import parse_headers
from tests.factories import report
from tests.kafka import read_topic_sync

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/ingest/reports"
DRONE_ID = "pw-00042"


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate buckets live in the process's cache: they must not leak between tests."""
    cache.clear()


@pytest.fixture
async def broker(broker):
    """The real broker; the ingest producer (one per event loop) is closed before the broker stops."""
    yield broker
    await ingest_http.producer.close()


@pytest.fixture
def drone():
    return Drone(drone_id=DRONE_ID, name="North 42", squad="north")


@pytest.fixture
def token(drone):
    return fleet.register_drone(drone)


async def post(async_client, body, token=None, **headers):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await async_client.post(URL, data=data, content_type="application/json", headers=headers)


def dead_letters(expected):
    return read_topic_sync(kafka.topic("deadletter"), expected=expected, timeout=10)


async def test_a_good_batch_is_acknowledged_by_kafka_before_the_answer(async_client, broker, token):
    docs = [report() for _ in range(5)]
    response = await post(async_client, docs, token)

    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 5 and body["rejected"] == 0
    assert body["items"] == [
        {"index": i, "outcome": "accepted", "report_id": doc["report_id"]} for i, doc in enumerate(docs)
    ]
    records = read_topic_sync(kafka.topic("reports"), expected=5)
    assert {record.key for record in records} == {DRONE_ID.encode()}
    # Each item's bytes go to Kafka exactly as the drone sent them.
    assert sorted(record.value for record in records) == sorted(json.dumps(doc).encode() for doc in docs)


async def test_a_single_report_object_is_accepted_and_gets_a_derived_id(async_client, broker, token):
    doc = report()
    del doc["report_id"]
    response = await post(async_client, doc, token)

    assert response.status_code == 202
    [item] = response.json()["items"]
    assert item["outcome"] == "accepted" and item["report_id"].startswith("d-")
    [record] = read_topic_sync(kafka.topic("reports"), expected=1)
    assert json.loads(record.value) == doc


async def test_a_mixed_batch_answers_each_item_by_index_and_dead_letters_the_bad_ones(async_client, broker, token):
    good = [report(), report()]
    items = [
        good[0],
        report(location={"lat": 123, "lon": 0}),
        42,
        report(drone_id="pw-00666"),
        good[1],
        report(words=["w" * 100] * 2700),
    ]
    response = await post(async_client, items, token)

    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 4)
    outcomes = {item["index"]: item for item in body["items"]}
    assert [outcomes[i]["outcome"] for i in range(6)] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
        "rejected",
    ]
    assert {i: outcomes[i]["code"] for i in (1, 2, 3, 5)} == {
        1: "schema",
        2: "schema",
        3: "drone_mismatch",
        5: "too_large",
    }
    assert "does not match the token" in outcomes[3]["detail"]
    # Each refused item is a problem (RFC 9457) naming its field.
    assert (outcomes[1]["status"], outcomes[1]["title"], outcomes[1]["field"]) == (
        422,
        "Unprocessable Content",
        "location.lat",
    )
    assert outcomes[2]["field"] == ""  # the item as a whole

    reports = read_topic_sync(kafka.topic("reports"), expected=2)
    assert sorted(record.value for record in reports) == sorted(json.dumps(doc).encode() for doc in good)
    letters = dead_letters(4)
    assert len(letters) == 4
    headers = {int(parse_headers(r.headers)["source_offset"]): (r, parse_headers(r.headers)) for r in letters}
    assert {i: h["error"] for i, (_, h) in headers.items()} == {
        1: "schema",
        2: "schema",
        3: "drone_mismatch",
        5: "too_large",
    }
    for record, header in headers.values():
        assert header["source_topic"] == "http:/api/v1/ingest/reports"
        assert header["source_partition"] == "-1"
        assert header["drone_id"] == DRONE_ID
        assert record.key == DRONE_ID.encode()
    # The original bytes, unchanged (an item over the report limit is kept cut at it).
    assert headers[1][0].value == json.dumps(items[1]).encode()
    assert headers[2][0].value == b"42"
    assert headers[5][1]["truncated"] == "true"


async def test_a_report_for_another_drone_is_refused(async_client, broker, token):
    response = await post(async_client, [report(drone_id="pw-00007")], token)

    assert response.status_code == 202
    detail = "drone_id does not match the token: 'pw-00007' is not 'pw-00042'"
    assert response.json()["items"][0] == {
        "index": 0,
        "outcome": "rejected",
        "code": "drone_mismatch",
        "type": "about:blank",
        "title": "Unprocessable Content",
        "status": 422,
        "detail": detail,
        "field": "drone_id",
        "errors": [{"field": "drone_id", "detail": detail}],
    }
    assert len(dead_letters(1)) == 1


async def test_a_single_refused_report_is_answered_with_its_problem_and_still_dead_lettered(
    async_client, broker, token
):
    bad = report(location={"lat": 123, "lon": 0})
    response = await post(async_client, bad, token)

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert (problem["status"], problem["field"], problem["code"]) == (422, "location.lat", "schema")
    assert response["X-Request-ID"] == problem["request_id"]
    [letter] = dead_letters(1)
    assert letter.value == json.dumps(bad).encode()

    other = await post(async_client, report(drone_id="pw-00007"), token)
    assert other.status_code == 403
    assert (other.json()["field"], other.json()["code"]) == ("drone_id", "drone_mismatch")


async def test_a_missing_or_wrong_token_is_401(async_client, token):
    for headers in ({}, {"Authorization": "Bearer pwd_not-a-real-token"}, {"Authorization": f"Basic {token}"}):
        response = await post(async_client, report(), **headers)
        assert response.status_code == 401, headers
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["detail"]


async def test_a_retired_drone_is_refused(async_client, drone, token):
    await sync(fleet.retire_drone, drone)

    response = await post(async_client, report(), token)

    assert response.status_code == 403
    assert "retired" in response.json()["detail"]


async def test_a_rotated_token_replaces_the_old_one_at_once(async_client, broker, drone, token):
    new_token = await sync(fleet.rotate_token, drone)

    assert (await post(async_client, report(), token)).status_code == 401
    assert (await post(async_client, report(), new_token)).status_code == 202


async def test_a_drone_retired_between_two_of_its_requests_is_refused_on_the_second(async_client, broker, drone, token):
    # Admission keeps its database connection between requests: what it reads must still be current.
    assert (await post(async_client, report(), token)).status_code == 202

    await sync(fleet.retire_drone, drone)

    assert (await post(async_client, report(), token)).status_code == 403


async def test_a_token_rotated_between_two_requests_is_refused_on_the_second(async_client, broker, drone, token):
    assert (await post(async_client, report(), token)).status_code == 202

    new_token = await sync(fleet.rotate_token, drone)

    assert (await post(async_client, report(), token)).status_code == 401
    assert (await post(async_client, report(), new_token)).status_code == 202


async def test_a_body_over_5_mib_is_413(async_client, token):
    doc = report(words=["w" * 100] * 900)  # ~92 KiB each, a valid report
    body = json.dumps([doc] * 60).encode()
    assert len(body) > ingest_http.MAX_BODY_BYTES

    response = await post(async_client, body, token)

    assert response.status_code == 413


async def test_the_real_body_size_counts_not_only_its_header():
    # A client may send no Content-Length (chunked) or a false one.
    scope = {"type": "http", "method": "POST", "path": URL, "headers": [], "query_string": b""}
    request = ASGIRequest(scope, io.BytesIO(b"[" + b" " * ingest_http.MAX_BODY_BYTES + b"]"))

    with pytest.raises(ingest_http.Refused) as refused:
        ingest_http.read_body(request)

    assert refused.value.status == 413


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"this is not json", "not JSON"),
        (b'[{"drone_id": "pw-00042"}', "not JSON"),
        (b"[]", "empty"),
        (b"", "empty"),
        (b'"a string"', "report object or an array"),
        (json.dumps([report()] * 1001).encode(), "at most 1000"),
    ],
    ids=["not-json", "truncated", "empty-array", "empty-body", "string", "1001-items"],
)
async def test_a_body_that_is_not_reports_is_400(async_client, token, body, detail):
    response = await post(async_client, body, token)

    assert response.status_code == 400
    assert detail in response.json()["detail"]


async def test_a_drone_over_its_rate_limit_gets_429_with_retry_after(async_client, broker, token, settings):
    settings.INGEST_RATE_PER_S = 0.5
    settings.INGEST_BURST = 2

    statuses = [(await post(async_client, report(), token)).status_code for _ in range(2)]
    limited = await post(async_client, report(), token)

    assert statuses == [202, 202]
    assert limited.status_code == 429
    assert limited["Retry-After"] == "2"
    # The limit is per drone: another drone is not slowed down.
    other = await sync(fleet.register_drone, Drone(drone_id="pw-00043"))
    assert (await post(async_client, report(drone_id="pw-00043"), other)).status_code == 202


async def test_the_bucket_refills_at_the_configured_rate(settings):
    settings.INGEST_RATE_PER_S = 10
    settings.INGEST_BURST = 3
    now = 1_000_000.0
    assert [ingest_http.take_rate_token("pw-1", now=now) for _ in range(4)] == [0, 0, 0, 1]
    assert ingest_http.take_rate_token("pw-1", now=now + 0.1) == 0
    assert ingest_http.take_rate_token("pw-1", now=now + 0.1) == 1
    assert ingest_http.take_rate_token("pw-1", now=now + 10) == 0


async def test_with_kafka_down_it_answers_503_and_accepts_nothing_then_recovers(async_client, broker, token, settings):
    settings.INGEST_KAFKA_TIMEOUT_S = 1.0
    assert (await post(async_client, report(), token)).status_code == 202

    broker.stop()
    started = time.monotonic()
    response = await post(async_client, [report(), report()], token)

    assert response.status_code == 503
    assert time.monotonic() - started < settings.INGEST_KAFKA_TIMEOUT_S + 2
    assert int(response["Retry-After"]) >= 1
    assert "accepted" not in response.json()

    # The failed producer was dropped: the next request starts a new one,
    # and that cold start with the broker down is a 503 too, not a hang or a 500.
    assert (await post(async_client, report(), token)).status_code == 503

    # The broker is back (empty): a later request starts a new producer and
    # succeeds, as a drone retrying after Retry-After would.
    await sync(broker.restart)
    statuses = []
    deadline = time.monotonic() + 15
    while 202 not in statuses and time.monotonic() < deadline:
        statuses.append((await post(async_client, [report()], token)).status_code)
        await asyncio.sleep(0.2)
    assert statuses[-1] == 202, statuses
    assert set(statuses) <= {202, 503}, statuses


async def test_only_post_is_allowed(async_client, token):
    response = await async_client.get(URL, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405


async def sync(fn, *args):
    from asgiref.sync import sync_to_async

    return await sync_to_async(fn)(*args)
