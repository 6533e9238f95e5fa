"""``POST /api/v1/ingest/reports``: reports over HTTP, for drones that cannot speak Kafka.

A drone signs in with its bearer token and sends one report or a JSON array
of up to 1,000. Each item is checked by the same ``decode_report`` as the
Kafka consumers and must carry the token's ``drone_id``. Valid items go to
``peacewatch.reports`` (key = drone_id), invalid ones to
``peacewatch.deadletter``, and the 202 with one outcome per item is sent only
once Kafka acknowledged every record: Kafka down is a 503, never a report
answered "accepted" that was not stored.

The view is async (the site runs under ASGI) and thin; the steps below are
plain functions: admit the drone, read and split the body, sort the items,
deliver them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import msgspec
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ingest import tokens
from ingest.models import Drone
from ingest.reports import MAX_REPORT_BYTES, ReportError, decode_report
from peacewatch import metrics, problems
from peacewatch.logs import log
from peacewatch.streams import kafka
from peacewatch.streams.deadletter import DeadLetter

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_ITEMS = 1000
SOURCE_TOPIC = "http:/api/v1/ingest/reports"


class Refused(Exception):
    """The whole request is refused: an HTTP status, a reason, and a log event."""

    def __init__(self, status: int, detail: str, event: str, *, headers: dict | None = None, **fields) -> None:
        super().__init__(detail)
        self.status, self.detail, self.event = status, detail, event
        self.headers = headers or {}
        self.fields = fields

    def response(self) -> HttpResponse:
        return problems.response(self.status, self.detail, headers=self.headers)


# --- who is sending ------------------------------------------------------------------


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def admit_drone(authorization: str | None) -> Drone:
    """The active drone behind this ``Authorization`` header, within its rate limit."""
    token = bearer_token(authorization)
    if token is None:
        raise Refused(
            401,
            "send Authorization: Bearer <drone token>",
            "ingest_unauthorized",
            reason="missing",
            headers={"WWW-Authenticate": "Bearer"},
        )
    drone = tokens.drone_for_token(token)
    if drone is None:
        raise Refused(
            401,
            "unknown or revoked drone token",
            "ingest_unauthorized",
            reason="invalid",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if drone.status != Drone.Status.ACTIVE:
        raise Refused(403, f"drone {drone.drone_id} is retired", "ingest_forbidden", drone_id=drone.drone_id)
    retry_after = take_rate_token(drone.drone_id)
    if retry_after:
        raise Refused(
            429,
            f"drone {drone.drone_id} is over its rate limit",
            "ingest_rate_limited",
            headers={"Retry-After": str(retry_after)},
            drone_id=drone.drone_id,
            retry_after_s=retry_after,
        )
    return drone


def take_rate_token(drone_id: str, *, now: float | None = None) -> int:
    """0 if the drone may send now, else whole seconds until it may.

    A token bucket kept as one number in the cache: the time at which the
    bucket would be full again (GCRA, the "theoretical arrival time"). It
    works with every cache backend; with locmem the limit is per process,
    with Redis it is shared. The read-then-write is not atomic, so two
    simultaneous requests of one drone may both pass: a request or two over
    the limit in a race is fine for a guard against runaway senders.
    """
    rate, burst = settings.INGEST_RATE_PER_S, settings.INGEST_BURST
    now = time.time() if now is None else now
    key = f"ingest:rate:{drone_id}"
    interval = 1.0 / rate
    full_at = max(cache.get(key, now), now) + interval
    wait = full_at - now - burst * interval
    if wait > 0:
        return max(1, math.ceil(wait))
    cache.set(key, full_at, timeout=math.ceil(full_at - now) + 1)
    return 0


# Admission runs on a few long-lived threads rather than the request's own: under ASGI each request's
# sync code gets a new thread, and Django's database connections are per thread, so every look-up
# opened a connection (for SQLite, the file and its set-up pragmas). These threads keep theirs
# between requests, checked like a request's at its start and end (close_old_connections: dropped
# once broken or past CONN_MAX_AGE, handed back to the pool when there is one). Every request still
# reads the drone from the database: a revoked token or a retired drone is refused at once.
_admission = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ingest-admit")


def _admit_on_kept_connection(authorization: str | None) -> Drone:
    close_old_connections()
    try:
        return admit_drone(authorization)
    finally:
        close_old_connections()


async def admit(authorization: str | None) -> Drone:
    """:func:`admit_drone`, on a thread that keeps its database connection."""
    return await sync_to_async(_admit_on_kept_connection, thread_sensitive=False, executor=_admission)(authorization)


# --- what was sent -------------------------------------------------------------------

_items_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_value_decoder = msgspec.json.Decoder(msgspec.Raw)


def read_body(request: HttpRequest) -> bytes:
    """The request body, refused (413) past ``MAX_BODY_BYTES`` by its header or its real size."""
    too_large = f"the body is over {MAX_BODY_BYTES} bytes; send fewer reports per request"
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError as exc:
        raise Refused(400, "Content-Length is not a number", "ingest_bad_request") from exc
    if declared > MAX_BODY_BYTES:
        raise Refused(413, too_large, "ingest_too_large", bytes=declared)
    # Read from the stream, not request.body: the latter refuses anything over
    # DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), below this endpoint's limit.
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, too_large, "ingest_too_large", bytes=len(body))
    return body


def split_items(body: bytes) -> tuple[list[bytes], bool]:
    """The raw bytes of each report in a body holding one JSON object or an array of them, and whether it
    was an array.

    Items stay bytes exactly as sent (msgspec.Raw): each is validated by
    ``decode_report`` like a Kafka record, produced unchanged when valid, and
    dead-lettered unchanged when not.
    """
    start = body.lstrip()[:1]
    if not start:
        raise Refused(400, "the body is empty; send a report object or an array of them", "ingest_bad_request")
    try:
        if start == b"[":
            items = [bytes(item) for item in _items_decoder.decode(body)]
        else:
            items = [bytes(_value_decoder.decode(body))]
    except msgspec.DecodeError as exc:
        raise Refused(400, f"the body is not JSON: {exc}", "ingest_bad_request") from exc
    if start not in (b"[", b"{"):
        raise Refused(400, "the body must be a report object or an array of them", "ingest_bad_request")
    if not items:
        raise Refused(400, "the array is empty; send at least one report", "ingest_bad_request")
    if len(items) > MAX_ITEMS:
        raise Refused(400, f"{len(items)} reports, at most {MAX_ITEMS} per request", "ingest_bad_request")
    return items, start == b"["


@dataclass
class Sorted:
    """A body's items sorted into records to produce and dead letters, with the per-item outcome."""

    drone_id: str
    reports: list[bytes] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    outcomes: list[dict] = field(default_factory=list)
    sent_as_array: bool = True

    def body(self) -> dict:
        return {"accepted": len(self.reports), "rejected": len(self.dead_letters), "items": self.outcomes}


def sort_items(items: list[bytes], drone_id: str, *, sent_as_array: bool = True) -> Sorted:
    """Validate each item as a report of ``drone_id``; no I/O."""
    batch = Sorted(drone_id, sent_as_array=sent_as_array)
    for index, raw in enumerate(items):
        outcome = decode_report(raw)
        if not isinstance(outcome, ReportError) and outcome.report.drone_id != drone_id:
            outcome = ReportError(
                "drone_mismatch", f"drone_id does not match the token: {outcome.report.drone_id!r} is not {drone_id!r}"
            )
        if isinstance(outcome, ReportError):
            batch.dead_letters.append(dead_letter(raw, outcome, index, drone_id))
            batch.outcomes.append(rejected(index, outcome))
        else:
            batch.reports.append(raw)
            batch.outcomes.append({"index": index, "outcome": "accepted", "report_id": outcome.report_id})
    return batch


def rejected(index: int, error: ReportError) -> dict:
    """A refused item's outcome: a problem (peacewatch/problems.py) with its index and stable code."""
    detail = error.detail.split(" - at ")[0]
    field = problems.field_path(error.detail)
    if field is None and error.code == "drone_mismatch":
        field = "drone_id"
    return {"index": index, "outcome": "rejected", **problems.body(422, detail, field=field or "", code=error.code)}


def dead_letter(raw: bytes, error: ReportError, index: int, drone_id: str) -> DeadLetter:
    # An item can be up to the 5 MiB body, more than a Kafka record may be:
    # an oversized one is kept cut at the report limit (its detail gives the
    # real size) rather than failing the whole request on every retry.
    return DeadLetter(
        key=drone_id.encode(),
        value=raw[:MAX_REPORT_BYTES],
        error=error.code,
        detail=error.detail,
        source_topic=SOURCE_TOPIC,
        source_partition=-1,
        source_offset=index,
    )


def dead_letter_headers(letter: DeadLetter, drone_id: str) -> list[tuple[str, bytes]]:
    headers = [*letter.headers(), ("drone_id", drone_id.encode())]
    if letter.error == "too_large":
        headers.append(("truncated", b"true"))
    return headers


# --- to Kafka ------------------------------------------------------------------------


class IngestProducer:
    """This process's Kafka producer for ingest: started on first use, shared, replaced after an error.

    One per event loop: an aiokafka producer belongs to the loop that started
    it (a server has one loop; tests have one per test).
    """

    def __init__(self) -> None:
        self._client: AIOKafkaProducer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._starting: asyncio.Lock | None = None
        self._stopping: set[asyncio.Task] = set()

    async def get(self) -> AIOKafkaProducer:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # The previous loop is gone and its producer with it: nothing to stop.
            self._loop, self._client, self._starting, self._stopping = loop, None, asyncio.Lock(), set()
        if self._client is not None and kafka.producer_failure(self._client) is not None:
            self.discard(self._client)  # its sender died: nothing sent through it would be acknowledged
        if self._client is None:
            async with self._starting:
                if self._client is None:
                    client = kafka.make_producer(acks="all", linger_ms=2)
                    try:
                        await client.start()
                    except BaseException:
                        self._stop_soon(client)
                        raise
                    self._client = client
        return self._client

    def discard(self, client: AIOKafkaProducer) -> None:
        """Drop a producer that failed; the next request starts a new one."""
        if self._client is client:
            self._client = None
        self._stop_soon(client)

    async def close(self) -> None:
        """Stop the producer and wait for every stop in progress (shutdown, tests)."""
        client, self._client = self._client, None
        if client is not None:
            self._stop_soon(client)
        await asyncio.gather(*self._stopping, return_exceptions=True)

    def _stop_soon(self, client: AIOKafkaProducer) -> None:
        # In the background and bounded: stopping flushes, which against a dead
        # broker would hold the request (or the next one) for the full timeout.
        task = asyncio.get_running_loop().create_task(self._stop(client))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    @staticmethod
    async def _stop(client: AIOKafkaProducer) -> None:
        try:
            await asyncio.wait_for(client.stop(), timeout=10)
        except Exception as exc:
            log(logger, logging.DEBUG, "ingest_producer_stop_failed", error=repr(exc))


producer = IngestProducer()


async def deliver(batch: Sorted) -> None:
    """Produce the batch's reports and dead letters; return once Kafka acknowledged all of them.

    On a timeout or a Kafka error nothing is reported as accepted. Records
    already sent may still land: the drone's retry then repeats them, which the
    consumers absorb (they are idempotent by report id).
    """
    timeout = settings.INGEST_KAFKA_TIMEOUT_S
    current = None
    try:
        async with asyncio.timeout(timeout):
            current = await producer.get()
            key = batch.drone_id.encode()
            reports_topic, deadletter_topic = kafka.topic("reports"), kafka.topic("deadletter")
            acks = [await current.send(reports_topic, value, key=key) for value in batch.reports]
            acks += [
                await current.send(
                    deadletter_topic, letter.value, key=letter.key, headers=dead_letter_headers(letter, batch.drone_id)
                )
                for letter in batch.dead_letters
            ]
            await kafka.wait_acked(current, acks)
    except (TimeoutError, KafkaError) as exc:
        if current is not None:
            producer.discard(current)
        raise Refused(
            503,
            "reports cannot be confirmed stored right now; none is accepted: send them again (a report Kafka kept "
            "anyway is counted once, by its report_id)",
            "ingest_kafka_unavailable",
            headers={"Retry-After": str(max(1, math.ceil(timeout)))},
            drone_id=batch.drone_id,
            error=f"{type(exc).__name__}: {exc}",
        ) from exc


# --- the view ------------------------------------------------------------------------


@csrf_exempt  # drones sign requests with a bearer token, not a session cookie
@require_POST
async def ingest_reports(request: HttpRequest) -> HttpResponse:
    drone_id = None
    try:
        drone = await admit(request.headers.get("Authorization"))
        drone_id = drone.drone_id
        items, sent_as_array = split_items(read_body(request))
        batch = sort_items(items, drone_id, sent_as_array=sent_as_array)
        await deliver(batch)
    except Refused as refused:
        level = logging.WARNING if refused.status in {401, 403, 429, 503} else logging.INFO
        fields = {"drone_id": drone_id, **refused.fields}
        log(logger, level, refused.event, status=refused.status, detail=refused.detail, **fields)
        return refused.response()
    metrics.INGEST_REPORTS.labels("accepted").inc(len(batch.reports))
    if batch.dead_letters:
        errors = Counter(letter.error for letter in batch.dead_letters)
        metrics.INGEST_REPORTS.labels("rejected").inc(len(batch.dead_letters))
        for error, count in errors.items():
            metrics.DEAD_LETTERS.labels("http_ingest", error).inc(count)
        log(
            logger,
            logging.WARNING,
            "ingest_items_rejected",
            drone_id=drone_id,
            accepted=len(batch.reports),
            rejected=len(batch.dead_letters),
            errors=dict(errors),
            first_detail=batch.dead_letters[0].detail[:200],
        )
    if len(batch.outcomes) == 1 and batch.dead_letters and not batch.sent_as_array:
        # One report sent, and refused (it is dead-lettered): its problem is the answer.
        item = batch.outcomes[0]
        status = 403 if item["code"] == "drone_mismatch" else 422
        fields = {"field": item["field"], "errors": item["errors"], "code": item["code"]}
        return problems.response(status, item["detail"], request=request, **fields)
    return HttpResponse(msgspec.json.encode(batch.body()), status=202, content_type="application/json")
