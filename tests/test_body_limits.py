"""Request bodies are refused by size before they are read whole (issue 14, point 1), by the real daphne."""

import socket
import time

import pytest

from tests.conftest import free_port
from tests.live_stack import running_web

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def web(tmp_path, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"  # nothing here needs Kafka
    with running_web(tmp_path, free_port()) as running:
        yield running


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def send(port: int, head: str, body_chunks=(), *, chunk_pause: float = 0.0) -> tuple[int, bytes, int]:
    """Send a request, then body chunks for as long as the server reads; returns (status, answer, bytes sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(head.encode())
        try:
            for chunk in body_chunks:
                conn.sendall(chunk)
                sent += len(chunk)
                if chunk_pause:
                    time.sleep(chunk_pause)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: what this test wants
        answer = b""
        try:
            while part := conn.recv(65536):
                answer += part
        except (ConnectionResetError, TimeoutError):
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, answer, sent


def post_head(path: str, length: int | None, *, cookie: str = "", authorization: str = "") -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if authorization:
        lines.append(f"Authorization: {authorization}")
    return "\r\n".join(lines) + "\r\n\r\n"


def test_an_anonymous_300_mb_body_is_refused_from_its_header_and_never_read(web):
    pid = web.processes["web"].pid
    before = rss_kib(pid)
    megabyte = b"x" * (1 << 20)
    status, answer, sent = send(web.port, post_head("/accounts/login/", 300 << 20), (megabyte for _ in range(300)))
    assert status == 413
    assert b"application/problem+json" in answer and b"Content Too Large" in answer
    assert sent < 300 << 20  # the server closed the connection: the client could not send it all
    assert rss_kib(pid) - before < 20 * 1024


def test_a_body_of_undeclared_length_is_cut_off_at_the_limit(web):
    pid = web.processes["web"].pid
    before = rss_kib(pid)
    piece = b"x" * (64 << 10)
    chunks = (f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for _ in range(1600))  # 100 MB if all were read
    status, _, sent = send(web.port, post_head("/accounts/login/", None), chunks)
    assert status == 413
    assert sent < 100 << 20
    assert rss_kib(pid) - before < 20 * 1024


def test_a_signed_in_request_gets_djangos_limit_and_ingest_its_own(web, settings):
    over_django = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    status, _, _ = send(web.port, post_head("/api/v1/reports/search", over_django, cookie="sessionid=whatever"))
    assert status == 413
    # Ingest takes up to 5 MB from a drone's token: this one is read, then judged by the app (a bad token).
    body = b"[" + b" " * (3 << 20) + b"]"
    status, _, _ = send(
        web.port, post_head("/api/v1/ingest/reports", len(body), authorization="Bearer not-a-token"), [body]
    )
    assert status in (401, 403)


def test_small_requests_pass_as_before(web):
    body = b"username=nobody&password=wrong"
    head = (
        "POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    status, _, _ = send(web.port, head, [body])
    assert status == 403  # CSRF: the application answered, the size layer let it through
