"""Request bodies refused by size before they are read (issue 14, point 1), in daphne itself.

Daphne receives a request's whole body and hands all of it to the application
at once, so a check in Django comes too late: an anonymous 300 MB upload had
already cost the server 300 MB. Here the limit is applied while Twisted reads:
a declared ``Content-Length`` over the limit is refused with 413 as soon as the
headers are in, and a body of undeclared length is cut off at the limit. The
limit depends on what the request can be:

- no session cookie and no ``Authorization`` header (anyone): ``ANONYMOUS_BODY_BYTES``,
  enough for the sign-in form;
- drone ingest (``/api/v1/ingest/``): its own 5 MB limit (``ingest.http``);
- anything else: ``DATA_UPLOAD_MAX_MEMORY_SIZE``, Django's own limit for what it reads.

A forged cookie only reaches the signed-in limit, still a few MB. Installed by
``peacewatch.asgi`` when daphne serves it (``install``).
"""

from __future__ import annotations

import json
import logging

from django.conf import settings

from peacewatch.logs import log

logger = logging.getLogger(__name__)

ANONYMOUS_BODY_BYTES = 64 * 1024


def limit_for(path: bytes, *, authorization: bool, session_cookie: bool) -> int:
    """The largest body this request may send, from what its headers say it is."""
    from ingest.http import MAX_BODY_BYTES

    if not (authorization or session_cookie):
        return ANONYMOUS_BODY_BYTES
    if path.startswith(b"/api/v1/ingest/"):
        return MAX_BODY_BYTES
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def install() -> None:
    """Make daphne's HTTP server build its requests from :func:`limited_request_class`."""
    from daphne import http_protocol

    if not getattr(http_protocol.WebRequest, "peacewatch_body_limits", False):
        # HTTPFactory.buildProtocol looks WebRequest up in this module on every connection.
        http_protocol.WebRequest = limited_request_class(http_protocol.WebRequest)


def limited_request_class(base):
    from twisted.web import http

    class LimitedWebRequest(base):
        peacewatch_body_limits = True
        _refused = False
        _body_limit = 0
        _body_read = 0

        def _target(self) -> bytes:
            # The request line's target: Twisted sets ``uri`` only once the body is in, and
            # keeps the target on the channel until then.
            return (getattr(self.channel, "_path", None) or b"").split(b"?", 1)[0]

        def gotLength(self, length):
            self._body_limit = limit_for(
                self._target(),
                authorization=self.requestHeaders.hasHeader(b"authorization"),
                session_cookie=settings.SESSION_COOKIE_NAME.encode() in self.received_cookies,
            )
            super().gotLength(length)
            if length is not None and length > self._body_limit:
                self._refuse(f"the body is {length} bytes, the limit here is {self._body_limit}")

        def handleContentChunk(self, data):
            if self._refused:
                return  # the connection is closing: nothing more is kept
            self._body_read += len(data)
            if self._body_read > self._body_limit:
                self._refuse(f"the body is over {self._body_limit} bytes, the limit here")
                return
            super().handleContentChunk(data)

        def process(self):
            if not self._refused:
                super().process()

        def connectionLost(self, reason):
            if self._refused:
                # Never handed to the application, so daphne has nothing to clean up for it.
                http.Request.connectionLost(self, reason)
                return
            super().connectionLost(reason)

        def _refuse(self, detail: str) -> None:
            self._refused = True
            log(logger, logging.WARNING, "request_body_refused", path=self._target()[:200].decode("latin-1"),
                limit=self._body_limit)  # fmt: skip
            body = json.dumps(
                {"type": "about:blank", "title": "Content Too Large", "status": 413, "detail": detail}
            ).encode()
            head = (
                b"HTTP/1.1 413 Content Too Large\r\n"
                b"Content-Type: application/problem+json\r\n"
                b"Connection: close\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            self.channel.transport.write(head + body)
            self.channel.transport.loseConnection()

    return LimitedWebRequest
