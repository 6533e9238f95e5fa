"""Errors outside DEBUG: a plain page or a JSON problem with a request id, never a traceback or a URL list."""

import logging

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

SECRET_DETAIL = "/srv/peacewatch/settings.py"


@pytest.fixture
def failing(settings):
    settings.ROOT_URLCONF = "tests.failing_urls"
    settings.DEBUG = False
    return Client(raise_request_exception=False)


def test_a_server_error_shows_only_a_request_id_that_the_log_holds_with_the_traceback(failing, caplog):
    with caplog.at_level(logging.ERROR, logger="peacewatch.errors"):
        page = failing.get("/explode")
    assert page.status_code == 500
    request_id = page["X-Request-ID"]
    html = page.content.decode()
    assert request_id in html and "Something went wrong" in html
    assert SECRET_DETAIL not in html and "Traceback" not in html and "RuntimeError" not in html
    logged = [r for r in caplog.records if r.getMessage() == "request_failed"]
    assert logged and logged[0].fields["request_id"] == request_id
    assert SECRET_DETAIL in str(logged[0].exc_info[1])


def test_an_api_error_is_a_json_problem_with_the_request_id(failing):
    response = failing.get("/api/v1/explode", HTTP_X_REQUEST_ID="trace-0123456789")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body == {
        "type": "about:blank",
        "title": "Internal Server Error",  # RFC 9457: the status's phrase
        "status": 500,
        "detail": body["detail"],
        "request_id": "trace-0123456789",  # the caller's own id, to match its logs with ours
    }
    assert SECRET_DETAIL not in response.content.decode()


def test_an_unknown_address_lists_no_urls(failing, officer):
    failing.force_login(officer)
    page = failing.get("/no/such/page")
    assert page.status_code == 404
    html = page.content.decode()
    assert "Not found" in html and page["X-Request-ID"] in html
    assert "URLconf" not in html and "api/v1" not in html
    api = failing.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json()["title"] == "Not Found"


def test_an_insane_request_id_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="<script>" * 20)
    assert response["X-Request-ID"] != "<script>" * 20
    assert len(response["X-Request-ID"]) == 32
