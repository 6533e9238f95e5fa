"""Which Origin may open a WebSocket: the rule Django's CSRF check applies to an HTTP POST.

Channels' AllowedHostsOriginValidator compares host names only, so a page on
another port of the same host (another service, another user's dev server)
could open an officer's alert stream with the officer's cookie. Here an
Origin is accepted when its scheme, host and port are this site's own, as the
request reached it (the Host header, the scheme the proxy says when
SECURE_PROXY_SSL_HEADER is trusted, the host one of ALLOWED_HOSTS), or are
listed in CSRF_TRUSTED_ORIGINS.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the scheme's default port filled in; None for anything malformed."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return scheme, parts.hostname, port


def allowed(origin: str, host: str, scheme: str, forwarded_proto: str | None = None) -> bool:
    """Whether a WebSocket with these Origin and Host headers, reached over ``scheme`` ("ws"/"wss"), is same-origin."""
    site_scheme = "https" if scheme in ("wss", "https") else "http"
    proxy = settings.SECURE_PROXY_SSL_HEADER
    if proxy and forwarded_proto is not None and forwarded_proto == proxy[1]:
        site_scheme = "https"
    parts = urlsplit(origin)
    claimed = _origin(parts.scheme, parts.netloc) if parts.scheme in _DEFAULT_PORTS else None
    if claimed is None:
        return False
    trusted = {_origin(*urlsplit(t)[:2]) for t in settings.CSRF_TRUSTED_ORIGINS}
    if claimed in trusted:
        return True
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    return claimed == _origin(site_scheme, host)


class SameOriginValidator:
    """ASGI middleware: a WebSocket from another origin is refused before any consumer code runs."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = {name.decode("latin1").lower(): value.decode("latin1") for name, value in scope.get("headers", [])}
        proxy = settings.SECURE_PROXY_SSL_HEADER
        forwarded = None
        if proxy:
            forwarded = headers.get(proxy[0].removeprefix("HTTP_").replace("_", "-").lower())
        if allowed(headers.get("origin", ""), headers.get("host", ""), scope.get("scheme", "ws"), forwarded):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
