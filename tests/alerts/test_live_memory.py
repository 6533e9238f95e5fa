"""A browser that stops reading costs the web process a bounded amount of memory, then is cut.

Real parts: daphne as `make run` starts it, the embedded broker, raw TCP
WebSocket clients that complete the handshake and then never read a byte.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import urllib.request

import pytest

from peacewatch.streams import kafka
from tests.conftest import free_port
from tests.kafka import produce_sync
from tests.live_stack import LiveStack, running_web

pytestmark = pytest.mark.django_db(transaction=True)

SILENT_CLIENTS = 16
EVENTS = 40_000
MIB = 1024 * 1024
# Before flow control, each silent client held +9.6 MiB for 20,000 events (about 19 MiB for these
# 40,000), never returned. A bounded client holds its queue (2,000 events), the 256 KiB window in
# daphne's buffers and their copies on the way, whatever the number of events. The web process's
# RSS also grows by one step of about 25 MiB however many clients there are (the allocator's arenas),
# which eight clients spread too thinly: 1.5-4.1 MiB per client, over the bound once in a CI run.
# Sixteen clients spread it to 1.4-2.1 MiB; twice the events make an unbounded client five times the bound.
BOUND_PER_CLIENT = 4 * MIB


@pytest.fixture
def web(broker, tmp_path, transactional_db):
    with running_web(tmp_path, free_port()) as running:
        yield running


def session_cookie(client, user) -> str:
    client.force_login(user)
    return client.cookies["sessionid"].value


def live_status(web: LiveStack, cookie: str) -> dict:
    request = urllib.request.Request(f"{web.url}/api/v1/live/status", headers={"Cookie": f"sessionid={cookie}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_status(web: LiveStack, cookie: str, check, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = live_status(web, cookie)
        if check(status):
            return status
        assert time.monotonic() < deadline, f"live status never got there: {status}\n{web.log('web')}"
        time.sleep(0.2)


def silent_websocket(port: int, cookie: str) -> socket.socket:
    """A WebSocket that completes the handshake and then never reads: a frozen tab, a dead network."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/alerts/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:{port}\r\n"
            f"Cookie: sessionid={cookie}\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # the handshake answer only, byte by byte, nothing after it
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def alert_events(start: int, count: int) -> list[dict]:
    """Events of the contract's size and shape (the web process passes them on as they are)."""
    return [
        {
            "type": "alert.updated",
            "alert": {
                "id": n,
                "kind": "citizen",
                "citizen": f"Citizen {n}",
                "peacescore": 12.5,
                "severity": "high",
                "status": "new",
                "drone_id": "pw-00042",
                "location": {"lat": 48.8566, "lon": 2.3522},
                "report_id": f"memory-test-report-{n:08}",
                "observed_at": "2026-11-28T04:00:00Z",
                "raised_at": "2026-11-28T04:00:00.120Z",
                "sightings": 3,
                "first_observed_at": "2026-11-28T04:00:00Z",
                "updated_at": "2026-11-28T04:00:00.120Z",
                "version": 2,
                "note": "",
                "citizen_id": None,
                "confidence": 0.97,
            },
        }
        for n in range(start, start + count)
    ]


def test_a_silent_client_is_cut_and_costs_a_bounded_amount_of_memory(web, client, officer):
    cookie = session_cookie(client, officer)
    pid = web.processes["web"].pid
    # The reader is positioned at process start, before any WebSocket asked for it.
    wait_status(web, cookie, lambda s: s["ready"], timeout=30)

    # The same traffic once without silent clients, so the baseline includes what handling it costs.
    produce_sync(alert_events(0, EVENTS), topic=kafka.topic("alerts"))
    wait_status(web, cookie, lambda s: s.get("events", 0) >= EVENTS)
    time.sleep(1)
    before = rss(pid)

    sockets = [silent_websocket(web.port, cookie) for _ in range(SILENT_CLIENTS)]
    wait_status(web, cookie, lambda s: s["clients"] == SILENT_CLIENTS)
    produce_sync(alert_events(EVENTS, EVENTS), topic=kafka.topic("alerts"))
    status = wait_status(web, cookie, lambda s: s.get("events", 0) >= 2 * EVENTS and s["clients"] == 0)
    time.sleep(2)  # the close handshake times out and the connections are dropped
    after = rss(pid)

    per_client = (after - before) / SILENT_CLIENTS
    print(
        f"\nsilent clients: {SILENT_CLIENTS}, events: {EVENTS}, RSS {before / MIB:.1f} -> {after / MIB:.1f} MiB,"
        f" growth per silent client {per_client / MIB:.2f} MiB (bound {BOUND_PER_CLIENT / MIB:.1f} MiB)"
    )
    # Each was cut (queue overflow or a window full too long) and counted, not silently skipped.
    assert status.get("dropped", 0) or status.get("cut_stalled", 0), status
    assert per_client < BOUND_PER_CLIENT
    for sock in sockets:  # and its connection is really gone
        sock.settimeout(10)
        try:
            while sock.recv(65536):
                pass
        except ConnectionResetError:
            pass
        sock.close()
