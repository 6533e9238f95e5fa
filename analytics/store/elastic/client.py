"""Connecting to Elasticsearch or OpenSearch with the official ``elasticsearch`` client.

The client line is 8.x: Elastic's compatibility matrix has 8.x clients talking
to Elasticsearch 8 and 9 (forward compatible), where a 9.x client refuses an 8
server. It sends Elasticsearch's versioned media types
(``application/vnd.elasticsearch+json; compatible-with=8``), which OpenSearch
refuses; against OpenSearch (detected from ``GET /`` or set by
``ELASTICSEARCH_FLAVOR``) the transport sends plain ``application/json``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from elastic_transport import Transport
from elasticsearch import Elasticsearch

# Server majors this client line is known to work with, per flavour. CI runs
# OpenSearch 2.19 for real; the others are named by the vendors' matrices only.
SUPPORTED_MAJORS = {"elasticsearch": (8, 9), "opensearch": (2, 3)}


class PlainJsonTransport(Transport):
    """Plain JSON media types for OpenSearch, which refuses Elasticsearch's versioned ones."""

    def perform_request(self, method, target, *, headers=None, **kwargs):
        if headers:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                value = headers.get(name)
                if value and "compatible-with" in value:
                    headers[name] = value.split(";")[0].replace("vnd.elasticsearch+", "")
        response = super().perform_request(method, target, headers=headers, **kwargs)
        # The client insists on Elasticsearch's product header; OpenSearch does not send it.
        if "x-elastic-product" not in response.meta.headers:
            response.meta.headers["x-elastic-product"] = "Elasticsearch"
        return response


@dataclass(frozen=True)
class Server:
    flavor: str  # "elasticsearch" or "opensearch"
    major: int | None  # None when the flavour was set rather than asked


_servers: dict[str, Server] = {}  # url -> server: asked once per process, not per client


def detect_server(client: Elasticsearch) -> Server:
    """Flavour and major version from the root endpoint (ask with a plain-JSON client)."""
    version = client.info().get("version", {})
    flavor = "opensearch" if version.get("distribution") == "opensearch" else "elasticsearch"
    number = str(version.get("number", ""))
    major = int(number.split(".")[0]) if number.split(".")[0].isdigit() else None
    return Server(flavor, major)


def check_supported(server: Server) -> None:
    if server.major is not None and server.major not in SUPPORTED_MAJORS[server.flavor]:
        known = " or ".join(str(m) for m in SUPPORTED_MAJORS[server.flavor])
        raise ImproperlyConfigured(
            f"ELASTICSEARCH_URL points at {server.flavor} {server.major}; PeaceWatch's client supports "
            f"{server.flavor} {known} only"
        )


def drop_prefix(client: Elasticsearch, prefix: str) -> None:
    """Delete every index and index template whose name starts with ``prefix`` (tests, benchmarks)."""
    client.options(ignore_status=404).indices.delete(index=f"{prefix}*", expand_wildcards="all", allow_no_indices=True)
    for template in client.indices.get_index_template().body.get("index_templates", []):
        if template["name"].startswith(prefix):
            client.indices.delete_index_template(name=template["name"])


def make_client(
    url: str,
    *,
    flavor: str = "auto",
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    ca_certs: str | None = None,
    verify_certs: bool = True,
    timeout_s: float = 30.0,
) -> Elasticsearch:
    options: dict = {"request_timeout": timeout_s}
    if api_key:
        options["api_key"] = api_key
    elif username:
        options["basic_auth"] = (username, password or "")
    if url.startswith("https"):
        options["verify_certs"] = verify_certs
        if ca_certs:
            options["ca_certs"] = ca_certs
    plain = Elasticsearch(url, transport_class=PlainJsonTransport, **options)
    if flavor == "auto":
        server = _servers.get(url)
        if server is None:
            server = detect_server(plain)
            check_supported(server)
            _servers[url] = server
        flavor = server.flavor
    if flavor == "opensearch":
        return plain
    plain.close()
    # Elasticsearch 8 and 9 both accept the 8.x client's compatible-with=8 media types.
    return Elasticsearch(url, **options)
