"""The analysts' pages and the API docs page: who may open them, what they load."""

import json
import re

import pytest
from django.conf import settings

from tests.conftest import sign_in_with_second_factor

pytestmark = pytest.mark.django_db

PAGES = ("/analytics/", "/analytics/citizen/?name=Jeanne%20Martin")


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_users_are_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


@pytest.mark.parametrize("url", PAGES)
def test_officers_cannot_open_the_analytics_pages(client, officer, url):
    client.force_login(officer)
    assert client.get(url).status_code == 403


def test_analysts_land_on_the_query_builder(client, analyst):
    client.force_login(analyst)
    assert client.get("/").url == "/analytics/"
    page = client.get("/analytics/")
    assert page.status_code == 200
    html = page.content.decode()
    for control in ("q-time", "q-drones", "q-citizen", "q-words", "q-score-min", "q-alerts-only", "q-area"):
        assert f'id="{control}"' in html
    assert 'id="analytics-config"' in html
    assert '<progress id="export-progress"' in html


def test_admins_may_open_the_analytics_page(client, admin_user):
    sign_in_with_second_factor(client, admin_user)
    assert client.get("/analytics/").status_code == 200


def test_every_control_of_the_query_builder_has_a_label(client, analyst):
    client.force_login(analyst)
    html = client.get("/analytics/").content.decode()
    labelled = set(re.findall(r'<label[^>]*for="([^"]+)"', html))
    for tag in re.finditer(r"<(input|select)\b([^>]*)>", html):
        attrs = tag.group(2)
        if 'type="hidden"' in attrs:
            continue
        before = html[: tag.start()]
        wrapped = before.rfind("<label") > before.rfind("</label>")
        control_id = re.search(r'id="([^"]+)"', attrs)
        assert wrapped or (control_id and control_id.group(1) in labelled), f"no label for {attrs}"


def test_the_citizen_timeline_names_the_citizen(client, analyst):
    client.force_login(analyst)
    page = client.get("/analytics/citizen/", {"name": "Jeanne <b>Martin</b>"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Jeanne &lt;b&gt;Martin&lt;/b&gt;" in html
    assert "<b>Martin</b>" not in html


def test_the_citizen_timeline_opened_from_a_top_list_looks_the_person_up_by_key(client, analyst):
    client.force_login(analyst)
    html = client.get("/analytics/citizen/", {"name": "Jeanne Martin", "key": "subj-1"}).content.decode()
    config = json.loads(
        re.search(r'<script id="analytics-config" type="application/json">(.*?)</script>', html).group(1)
    )
    assert (config["citizen"], config["citizen_key"]) == ("Jeanne Martin", "subj-1")
    # Kept for a change of range; a name typed in instead drops it (analytics_citizen.js).
    assert '<input type="hidden" id="c-key" name="key" value="subj-1">' in html


@pytest.mark.parametrize("user_fixture", ["officer", "analyst"])
def test_signed_in_users_get_the_api_docs(client, request, user_fixture):
    client.force_login(request.getfixturevalue(user_fixture))
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    # Every operation of the document, drawn on the server, and the document itself for tools.
    document = client.get("/api/schema/?format=json").json()
    for path, item in document["paths"].items():
        for method in item:
            assert f"<code>{path}</code>" in html and f">{method.upper()}</span>" in html
    assert 'href="/api/schema/?format=json"' in html
    assert "<script" not in html.split("</header>", 1)[1]  # a page of text: nothing to run


def test_the_api_docs_need_a_sign_in(client):
    assert client.get("/api/docs/").url.startswith("/accounts/login/")


@pytest.mark.parametrize("url", [*PAGES, "/api/docs/"])
def test_pages_have_no_inline_script_or_handler(client, admin_user, url):
    sign_in_with_second_factor(client, admin_user)
    html = client.get(url).content.decode()
    for script in re.finditer(r"<script\b([^>]*)>(.*?)</script>", html, re.S):
        attrs, body = script.groups()
        assert "src=" in attrs or 'type="application/json"' in attrs, f"inline script: {attrs}"
        assert "src=" not in attrs or not body.strip()
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert " style=" not in html


@pytest.mark.parametrize("url", [*PAGES, "/api/docs/"])
def test_every_asset_a_page_loads_is_vendored(client, admin_user, url):
    sign_in_with_second_factor(client, admin_user)
    html = client.get(url).content.decode()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert assets
    for asset in assets:
        path = settings.BASE_DIR / "static" / asset.removeprefix("/static/")
        assert path.is_file(), asset
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html), "no CDN"


def test_vendored_libraries_carry_their_versions_and_licences():
    vendor = settings.BASE_DIR / "static" / "vendor"
    assert "Chart.js v4.6.1" in (vendor / "chart.js" / "chart.umd.js").read_text()[:200]
    assert (vendor / "chart.js" / "LICENSE.md").is_file()
