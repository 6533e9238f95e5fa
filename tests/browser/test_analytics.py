"""An analyst's session on /analytics/, in a real browser against the real web server.

The analytics store is filled up front (the indexer's pure core over simulated
reports); the web server is a child process reading the same store file, so
no broker or consumers are needed. Exports also start a real Celery worker.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.live_stack import running_web

pytestmark = pytest.mark.django_db(transaction=True)

REPORTS = 1200
LATE = 30
# The README's screenshot is refreshed only on request (PEACEWATCH_SCREENSHOTS=1), so a
# test run never leaves the checkout modified.
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "analytics.png"


def fill_store(count: int = REPORTS, seed: int = 7) -> None:
    """``count`` simulated reports over the last 22 hours, through the indexer's core."""
    from analytics.consumer import process_batch
    from ingest.simulator import Fleet
    from peacewatch.streams.batch import Record

    now = datetime.now(tz=UTC)
    records = [
        Record(value=value, key=key)
        for key, value in Fleet(drones=20, seed=seed).backfill(count, now - timedelta(hours=22), timedelta(hours=21))
    ]
    for start in range(0, len(records), 500):
        process_batch(records[start : start + 500])


@pytest.fixture
def web(tmp_path, settings, transactional_db):
    """The web server alone, over a filled store; no broker is needed to query reports."""
    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"  # nobody there: nothing here uses Kafka
    fill_store()
    with running_web(tmp_path, free_port()) as running:
        yield running


def watch_errors(page) -> list[str]:
    """Script errors and Content-Security-Policy refusals the page meets (there must be none)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    def on_console(message) -> None:
        # Chromium's own /favicon.ico request (there is none) logs a 404 without a response event;
        # the page's own requests are checked by status below.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("response", lambda response: response.status >= 400 and errors.append(f"{response.status} {response.url}"))
    return errors


PURPOSE = "case 2026-0100: browser session"


def sign_in(page, stack, username: str, purpose: str | None = PURPOSE) -> None:
    """Sign in, then give the purpose of access the page asks for before its first search."""
    page.goto(f"{stack.url}/accounts/login/?next=/analytics/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct-horse-battery")
    page.press("#id_password", "Enter")
    page.wait_for_url(f"{stack.url}/analytics/")
    if purpose is None:
        return
    page.fill("#purpose", purpose)
    page.press("#purpose", "Enter")
    wait_idle(page)


def wait_idle(page, timeout: float = 15000) -> None:
    page.wait_for_function(
        "() => window.peacewatchAnalytics && !window.peacewatchAnalytics.busy && window.peacewatchAnalytics.result",
        timeout=timeout,
    )
    # The count is written 50 ms after it is emptied, so screen readers announce it again.
    page.wait_for_function("() => document.getElementById('result-count').textContent !== ''", timeout=5000)


def row_ids(page) -> list[str]:
    return page.eval_on_selector_all("#results-table tbody tr", "rows => rows.map(r => r.dataset.reportId)")


def run_query(page) -> None:
    page.click("#run-query")
    page.wait_for_timeout(50)
    wait_idle(page)


def test_an_analyst_runs_a_query_and_sees_rows_charts_and_heat_map_cells(web, new_page, analyst):
    page = new_page()
    errors = watch_errors(page)
    sign_in(page, web, analyst.username)

    page.select_option("#q-size", "25")
    run_query(page)
    assert page.locator("#result-count").inner_text() == f"{REPORTS:,} reports match."
    assert len(row_ids(page)) == 25
    assert page.locator("#page-info").inner_text() == f"Page 1: reports 1\u201325 of {REPORTS:,}"
    # Charts drawn by Chart.js, and the heat map's cells and legend on the Leaflet map.
    assert (
        page.evaluate("Chart.getChart('chart-histogram').data.datasets[0].data.reduce((a, b) => a + b, 0)") == REPORTS
    )
    assert page.evaluate("Chart.getChart('chart-top_drones').data.labels.length") == 10
    assert int(page.get_attribute("#an-map", "data-cells")) > 5
    assert page.locator("#an-map .heat-legend .legend-row").count() >= 2
    assert page.locator("#an-map canvas").count() >= 1  # cells drawn on a canvas renderer
    assert not errors


def test_the_page_asks_the_purpose_of_access_once_and_keeps_it(web, new_page, analyst):
    from analytics.models import AuditEntry

    page = new_page()
    errors = watch_errors(page)
    searches = []
    page.on("request", lambda request: "/reports/search" in request.url and searches.append(request))
    sign_in(page, web, analyst.username, purpose=None)
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'purpose'")
    assert "purpose of access" in page.locator("#form-error").inner_text().lower()
    assert page.locator("#result-count").inner_text() == "Give the purpose of access to search."
    assert searches == []  # nothing is asked of the server without a purpose

    page.keyboard.type("case 2026-0101: burglary on Rue Verte")
    page.keyboard.press("Enter")
    wait_idle(page)
    assert page.locator("#form-error").inner_text() == ""
    assert searches[-1].post_data_json["purpose"] == "case 2026-0101: burglary on Rue Verte"

    page.reload()  # the same tab: not asked again
    wait_idle(page)
    assert page.input_value("#purpose") == "case 2026-0101: burglary on Rue Verte"
    purposes = {e.detail.get("purpose") for e in AuditEntry.objects.filter(action="search", username=analyst.username)}
    assert purposes == {"case 2026-0101: burglary on Rue Verte"}
    assert not errors


def test_filters_narrow_the_results_and_a_bad_query_names_its_field(web, new_page, analyst):
    page = new_page()
    sign_in(page, web, analyst.username)
    page.fill("#q-drones", "pw-00005, pw-00011")  # two of the drones that met an agitated citizen
    page.check("#q-alerts-only")
    run_query(page)
    drones = page.eval_on_selector_all("#results-table tbody td.mono", "cells => cells.map(c => c.textContent)")
    assert drones and set(drones) <= {"pw-00005", "pw-00011"}
    assert page.locator("#results-table tbody tr:not(.is-alert)").count() == 0
    total = int(page.get_attribute("#result-count", "data-total"))
    assert 0 < total < REPORTS

    page.fill("#q-drones", "")
    page.uncheck("#q-alerts-only")
    page.select_option("#q-time", "custom")
    # Typed in the display zone (UTC by default), whatever the browser's own zone.
    page.fill("#q-from", (datetime.now(tz=UTC) - timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"))
    run_query(page)
    assert set(page.evaluate("window.peacewatchAnalytics.query.time")) == {"from"}
    assert 0 < int(page.get_attribute("#result-count", "data-total")) < REPORTS / 2

    page.fill("#q-drones", "not a drone!")
    page.click("#run-query")
    page.locator("#form-error").wait_for(state="visible")
    assert page.get_attribute("#q-drones", "aria-invalid") == "true"
    assert page.evaluate("document.activeElement.id") == "q-drones"


def test_paging_forward_shows_other_rows_and_back_returns_to_the_first_page(web, new_page, analyst):
    page = new_page()
    sign_in(page, web, analyst.username)
    page.select_option("#q-size", "25")
    run_query(page)
    first = row_ids(page)
    page.click("#page-next")
    page.wait_for_function("() => window.peacewatchAnalytics.page === 2 && !window.peacewatchAnalytics.busy")
    second = row_ids(page)
    assert len(second) == 25 and not set(first) & set(second)
    assert page.locator("#page-info").inner_text() == f"Page 2: reports 26\u201350 of {REPORTS:,}"
    page.click("#page-next")
    page.wait_for_function("() => window.peacewatchAnalytics.page === 3 && !window.peacewatchAnalytics.busy")
    page.click("#page-prev")
    page.wait_for_function("() => window.peacewatchAnalytics.page === 2 && !window.peacewatchAnalytics.busy")
    assert row_ids(page) == second
    page.click("#page-prev")
    page.wait_for_function("() => window.peacewatchAnalytics.page === 1 && !window.peacewatchAnalytics.busy")
    assert row_ids(page) == first
    assert page.is_disabled("#page-prev")


def test_a_saved_query_comes_back_into_the_form_and_can_be_renamed_and_deleted(
    web, new_page, analyst, django_user_model
):
    from analytics.models import SavedQuery
    from peacewatch.roles import ensure_groups

    colleague = django_user_model.objects.create_user("analyst2", password="correct-horse-battery")
    colleague.groups.add(ensure_groups()["analyst"])
    SavedQuery.objects.create(owner=colleague, name="Colleague's alerts", query={"alerts_only": True}, shared=True)
    SavedQuery.objects.create(owner=colleague, name="Colleague's secret", query={}, shared=False)

    page = new_page()
    sign_in(page, web, analyst.username)
    theirs = page.locator("#saved-list li", has_text="Colleague's alerts")
    theirs.wait_for()
    assert "by analyst2" in theirs.inner_text()
    assert theirs.get_by_role("button").all_inner_texts() == ["Load"]  # shared: run it, not change it
    assert page.locator("#saved-list li", has_text="Colleague's secret").count() == 0

    page.select_option("#q-time", "7d")
    page.select_option("#q-size", "25")
    page.uncheck("input[name=aggs][value=histogram]")
    page.fill("#q-words", "strike, bread")
    page.select_option("#q-words-match", "all")
    page.fill("#q-score-max", "40")
    page.fill("#save-name", "Angry bread strikes")
    page.check("#save-shared")
    page.click("#save-query")
    item = page.locator("#saved-list li", has_text="Angry bread strikes")
    item.wait_for()
    assert item.locator(".shared-badge").count() == 1

    page.click("#reset-query")
    assert page.input_value("#q-words") == ""
    item.get_by_role("button", name="Load Angry bread strikes").click()
    wait_idle(page)
    assert page.input_value("#q-time") == "7d"
    assert page.input_value("#q-words") == "strike, bread"
    assert page.input_value("#q-words-match") == "all"
    assert page.input_value("#q-score-max") == "40"
    assert page.input_value("#q-size") == "25"
    assert not page.is_checked("input[name=aggs][value=histogram]")
    assert page.is_hidden("#panel-histogram")
    assert page.evaluate("window.peacewatchAnalytics.query.words") == {"all": ["strike", "bread"]}

    item.get_by_role("button", name="Rename Angry bread strikes").click()
    page.fill("#saved-list input[type=text]", "Bread strikes")
    page.keyboard.press("Enter")
    page.locator("#saved-list li", has_text="Bread strikes").wait_for()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete Bread strikes").click()
    page.locator("#saved-list li", has_text="Bread strikes").wait_for(state="detached")
    assert page.locator("#saved-list li", has_text="Colleague's alerts").count() == 1


def test_the_keyboard_drives_the_main_flow(web, new_page, analyst):
    page = new_page()
    sign_in(page, web, analyst.username)
    page.focus("#q-time")
    page.keyboard.press("ArrowDown")  # last 24 hours -> last 7 days
    assert page.input_value("#q-time") == "7d"
    page.focus("#q-citizen")
    page.keyboard.type("Zzz Nobody")
    page.keyboard.press("Enter")  # Enter in a field submits the query
    page.wait_for_function("() => document.querySelector('#result-count').textContent.startsWith('0 reports')")
    assert page.is_visible("#results-empty")

    page.fill("#q-citizen", "")
    page.focus("#q-area")
    page.keyboard.press("ArrowDown")  # anywhere -> in a rectangle: it frames the map view, editable as numbers
    assert page.is_visible("#q-south")
    page.focus("#q-citizen")
    page.keyboard.press("Enter")
    wait_idle(page)
    from django.conf import settings

    assert page.evaluate("window.peacewatchAnalytics.query.area.box.south") < settings.CITY_BOUNDS.north

    # Tab order reaches the map, its draw buttons, the export buttons and the pager.
    reached = set()
    page.focus("#run-query")
    for _ in range(600):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.id || document.activeElement.className"))
        if "page-next" in reached:
            break
    for target in ("export-csv", "export-ndjson", "an-map", "page-next"):
        assert any(target in (name or "") for name in reached), (target, reached)
    page.focus("#page-next")
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.peacewatchAnalytics.page === 2 && !window.peacewatchAnalytics.busy")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"


def test_an_area_drawn_with_the_mouse_narrows_the_query(web, new_page, analyst):
    page = new_page()
    sign_in(page, web, analyst.username)
    box = page.locator("#an-map").bounding_box()
    page.get_by_role("button", name="Rectangle").click()
    assert page.get_attribute(".draw-box", "aria-pressed") == "true"
    page.mouse.move(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.35)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6, steps=5)
    page.mouse.up()
    assert page.input_value("#q-area") == "box"
    assert float(page.input_value("#q-south")) < float(page.input_value("#q-north"))
    run_query(page)
    total = int(page.get_attribute("#result-count", "data-total"))
    assert 0 < total < REPORTS

    page.get_by_role("button", name="Circle").click()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=5)
    page.mouse.up()
    assert page.input_value("#q-area") == "circle"
    # A drag of a tenth of the map's width over the (small) demo city: tens to hundreds of metres.
    assert 20 < float(page.input_value("#q-radius")) < 2000
    page.get_by_role("button", name="Clear").click()
    assert page.input_value("#q-area") == "none"


def test_a_citizen_from_the_results_opens_their_timeline(web, new_page, analyst):
    page = new_page()
    errors = watch_errors(page)
    sign_in(page, web, analyst.username)
    name = page.evaluate("Chart.getChart('chart-top_citizens').data.labels[0]")
    page.locator("#panel-top_citizens summary").click()
    page.locator("#top_citizens-list a", has_text=name).first.click()
    page.wait_for_url("**/analytics/citizen/?name=*")
    page.wait_for_function(
        "() => window.peacewatchCitizen && window.peacewatchCitizen.result && !window.peacewatchCitizen.busy"
    )
    rows = page.locator("#sightings-table tbody tr")
    assert rows.count() >= 2
    times = page.eval_on_selector_all("#sightings-table tbody time", "ts => ts.map(t => t.getAttribute('datetime'))")
    assert times == sorted(times)  # oldest first
    assert int(page.get_attribute("#citizen-map", "data-points")) == rows.count()
    assert page.locator("#citizen-map path.leaflet-interactive").count() >= rows.count()
    assert not errors


def test_an_export_shows_its_progress_then_a_download_link_to_the_reports_the_page_counted(web, new_page, analyst):
    worker = web.start(
        "worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "peacewatch",
            "worker",
            "--pool",
            "solo",
            "-Q",
            "exports",
            "-l",
            "warning",
        ],
    )
    page = new_page()
    sign_in(page, web, analyst.username)
    assert " as of " in page.inner_text("#result-range")
    # Late reports: observed within the range, stored after the page's answer (a drone back in range).
    fill_store(LATE, seed=8)
    page.click("#export-csv")
    assert page.is_visible("#export-progress")
    link = page.locator("#export-link")
    try:
        link.wait_for(state="visible", timeout=60000)
    except Exception:
        raise AssertionError(web.log("worker") + web.log("web")) from None
    assert worker.poll() is None
    assert page.evaluate("document.querySelector('#export-progress').value") == 1
    assert "Download CSV" in link.inner_text()
    with page.expect_download() as download:
        link.click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert len(lines) == REPORTS + 1  # a header, then every report the page counted, not the late ones
    run_query(page)
    assert page.evaluate("window.peacewatchAnalytics.result.total") == REPORTS + LATE  # a new run counts them


def test_the_api_reference_leads_from_its_contents_to_the_search_operation_by_keyboard(web, new_page, analyst):
    page = new_page()
    sign_in(page, web, analyst.username)
    errors = watch_errors(page)
    page.goto(f"{web.url}/api/docs/")
    link = page.get_by_role("link", name="POST /api/v1/reports/search")
    link.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#op-reports-search"
    operation = page.locator("article", has=page.locator("#op-reports-search"))
    assert operation.get_by_role("table", name="Body fields").is_visible()
    assert "purpose" in operation.inner_text()
    assert not errors


def test_the_analytics_page_reads_well_on_a_laptop_screen(web, new_page, analyst):
    page = new_page(viewport=(1366, 768))
    sign_in(page, web, analyst.username)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.wait_for_timeout(300)  # the map's canvas settles
    shot = SCREENSHOT if os.environ.get("PEACEWATCH_SCREENSHOTS") else web.tmp_path / "analytics.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


@pytest.fixture
def web_with_archive(tmp_path, settings, monkeypatch, transactional_db):
    """The web server over the filled store, the index keeping one day, and four older days in the archive."""
    from analytics.archive.consumer import process_batch
    from analytics.archive.storage import get_archive
    from ingest.simulator import Fleet
    from peacewatch.streams import kafka
    from peacewatch.streams.batch import Record

    settings.KAFKA_BOOTSTRAP_SERVERS = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("ELASTICSEARCH_RETENTION_DAYS", "1")
    fill_store()
    now = datetime.now(tz=UTC)
    backfill = Fleet(drones=20, seed=8).backfill(800, now - timedelta(days=6), timedelta(days=4))
    records = [
        Record(value=value, key=key, topic=kafka.topic("reports"), offset=i, timestamp=int(now.timestamp() * 1000))
        for i, (key, value) in enumerate(backfill)
    ]
    assert process_batch(records, get_archive()).counts["reports_archived"] == 800
    with running_web(tmp_path, free_port()) as running:
        yield running


def test_a_week_spanning_the_index_retention_says_which_part_came_from_the_archive(web_with_archive, new_page, analyst):
    page = new_page()
    errors = watch_errors(page)
    sign_in(page, web_with_archive, analyst.username)
    assert page.locator("#result-sources").is_hidden()  # the last 24 hours: the index alone

    page.select_option("#q-time", "7d")
    run_query(page)
    assert page.locator("#result-count").inner_text() == f"{REPORTS + 800:,} reports match."
    sources = page.locator("#result-sources")
    assert sources.is_visible()
    text = sources.inner_text()
    assert "from the archive (800)" in text and f"from the embedded index ({REPORTS:,})" in text
    assert (
        page.evaluate("Chart.getChart('chart-histogram').data.datasets[0].data.reduce((a, b) => a + b, 0)")
        == REPORTS + 800
    )
    assert not errors


SIGN_OUT_ON_SCREEN = """() => {
  const box = document.querySelector('.signout button').getBoundingClientRect();
  return box.left >= 0 && box.right <= window.innerWidth && box.height >= 44;
}"""
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def test_on_a_phone_the_analyst_pages_fit_the_screen_and_sign_out_stays_in_reach(web, new_page, analyst):
    page = new_page((390, 844))
    errors = watch_errors(page)
    sign_in(page, web, analyst.username)
    for path in ("/analytics/", "/api/docs/"):
        page.goto(f"{web.url}{path}")
        page.wait_for_load_state("networkidle")
        assert page.evaluate(NO_SIDEWAYS_SCROLL), path
        assert page.evaluate(SIGN_OUT_ON_SCREEN), path
        assert [a.inner_text() for a in page.locator("nav[aria-label=Main] a").all()] == ["Analytics", "API"]
    assert not errors


# --- Issue 15 point 5: a page that never misleads ----------------------------------

VIEWPORTS = [(1440, 900), (390, 844)]
FITS = "document.documentElement.scrollWidth <= window.innerWidth"


def submit_from(page, selector: str) -> None:
    """Enter in a field, as an analyst runs a query from the keyboard; returns once the page has answered.

    The answer is a new result, or none when the query was refused: the old one never stays. Waiting
    a fixed moment instead raced the page on a busy machine (the old answer looked like the new one).
    """
    page.evaluate("window.__answerBefore = window.peacewatchAnalytics.result")
    page.focus(selector)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => window.peacewatchAnalytics.result !== window.__answerBefore && !window.peacewatchAnalytics.busy",
        timeout=15000,
    )
    # The count is written 50 ms after it is emptied, so screen readers announce it again.
    page.wait_for_function("() => document.getElementById('result-count').textContent !== ''", timeout=5000)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_hidden_bad_field_never_blocks_a_run_and_a_query_that_cannot_run_clears_the_old_answer(
    web, new_page, analyst, viewport
):
    page = new_page(viewport)
    errors = watch_errors(page)
    sign_in(page, web, analyst.username)
    assert page.locator("#result-count").inner_text() == f"{REPORTS:,} reports match."

    page.select_option("#q-area", "circle")
    page.fill("#q-radius", "0")  # out of range, while it shows
    submit_from(page, "#q-radius")
    note = page.locator("#q-radius-error")
    assert note.inner_text() == "Radius (m): must be between 1 and 1000000"
    assert page.get_attribute("#q-radius", "aria-invalid") == "true"
    assert page.get_attribute("#q-radius", "aria-errormessage") == "q-radius-error"
    # The old answer is gone, not left on screen as if it answered.
    assert "did not run" in page.locator("#result-count").inner_text()
    assert page.get_attribute("#result-count", "data-total") is None
    assert page.locator("#results-table tbody tr").count() == 0
    assert page.is_hidden("#panel-histogram") and page.is_hidden("#panel-top_words")
    assert page.is_disabled("#export-csv")
    assert page.evaluate(FITS)

    page.select_option("#q-area", "none")  # the radius is hidden now, still "0": not part of the query
    submit_from(page, "#q-citizen")
    wait_idle(page)
    assert page.locator("#result-count").inner_text() == f"{REPORTS:,} reports match."
    assert page.locator("#q-radius-error").count() == 0
    page.select_option("#q-area", "circle")
    page.fill("#q-radius", "0")
    page.select_option("#q-area", "none")
    run_query(page)  # the button too
    assert page.locator("#result-count").inner_text() == f"{REPORTS:,} reports match."
    assert not errors


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_refused_query_says_what_is_wrong_in_plain_words_next_to_the_field(web, new_page, analyst, viewport):
    page = new_page(viewport)
    sign_in(page, web, analyst.username)
    page.fill("#q-drones", "pw-00001, pw-00002, pw#3")
    submit_from(page, "#q-drones")
    note = page.locator("#q-drones-error")
    note.wait_for()
    # The server said "drones[2]: use letters, digits, '.', '_' or '-' only".
    assert note.inner_text() == "Drone 3: use letters, digits, '.', '_' or '-' only"
    assert page.evaluate("document.activeElement.id") == "q-drones"
    assert "Expected" not in page.locator("#form-error").inner_text()
    assert page.locator("#results-table tbody tr").count() == 0
    assert page.is_hidden("#panel-histogram")
    box = note.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport[0]
    assert page.evaluate(FITS)


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_no_match_says_so_export_is_off_with_its_reason_and_every_time_shows_its_zone(web, new_page, analyst, viewport):
    page = new_page(viewport)
    errors = watch_errors(page)
    sign_in(page, web, analyst.username)
    # Times in the force's display zone (UTC unless DISPLAY_TIME_ZONE says otherwise), saying so.
    first_time = page.locator("#results-table tbody time").first
    assert first_time.inner_text().endswith("UTC")
    assert page.locator("#result-range time").first.inner_text().endswith("UTC")
    assert page.evaluate("Chart.getChart('chart-histogram').options.scales.x.title.text") == "Time (UTC)"
    assert page.locator("label[for=q-from]").inner_text() == "From (UTC)"
    assert not page.is_disabled("#export-csv") and page.is_hidden("#export-reason")

    page.fill("#q-citizen", "Zzz Nobody")
    submit_from(page, "#q-citizen")
    wait_idle(page)
    assert page.locator("#result-count").inner_text() == "0 reports match."
    assert page.locator("#no-match").is_visible()
    assert "No reports match" in page.locator("#no-match").inner_text()
    for panel in ("histogram", "score", "top_citizens", "top_drones", "top_words"):
        assert page.is_hidden(f"#panel-{panel}"), panel
    assert page.is_disabled("#export-csv") and page.is_disabled("#export-ndjson")
    assert page.locator("#export-reason").inner_text() == "Nothing to export: no reports match."
    assert page.get_attribute("#export-csv", "aria-describedby") == "export-reason"
    assert page.evaluate(FITS)
    assert not errors


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_citizen_is_found_in_any_case_with_names_suggested_as_one_types(web, new_page, analyst, viewport):
    from analytics.models import AuditEntry

    page = new_page(viewport)
    errors = watch_errors(page)
    sign_in(page, web, analyst.username)
    name = page.evaluate("Chart.getChart('chart-top_citizens').data.labels[0]")
    field = page.locator("#q-citizen")
    assert field.get_attribute("role") == "combobox"
    field.click()
    page.keyboard.type(name[:4].lower())
    listbox = page.locator("#q-citizen-suggestions")
    listbox.wait_for(state="visible")
    assert field.get_attribute("aria-expanded") == "true"
    options = listbox.locator("[role=option]")
    assert options.count() >= 1
    box = listbox.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport[0]
    assert options.first.bounding_box()["height"] >= 44  # a finger's target
    page.keyboard.press("ArrowDown")
    active = field.get_attribute("aria-activedescendant")
    assert active == options.first.get_attribute("id")
    assert options.first.get_attribute("aria-selected") == "true"
    picked = options.first.locator(".suggestion-name").inner_text()
    page.keyboard.press("Enter")  # takes the name, does not run the query yet
    assert field.input_value() == picked
    assert field.get_attribute("aria-expanded") == "false"

    page.keyboard.type("x")
    page.keyboard.press("Backspace")
    listbox.wait_for(state="visible")
    page.keyboard.press("Escape")
    assert listbox.is_hidden() and field.get_attribute("aria-expanded") == "false"
    assert field.input_value() == picked

    field.fill(picked.upper())  # any case finds them
    submit_from(page, "#q-citizen")
    wait_idle(page)
    assert int(page.get_attribute("#result-count", "data-total")) > 0
    suggested = AuditEntry.objects.filter(action="citizen.suggest", username=analyst.username)
    assert suggested.exists() and all(e.detail["purpose"] == PURPOSE for e in suggested)

    # The timeline too: a name in lower case shows that citizen's sightings.
    page.goto(f"{web.url}/analytics/citizen/?name={picked.lower()}")
    page.wait_for_function(
        "() => window.peacewatchCitizen && window.peacewatchCitizen.result && !window.peacewatchCitizen.busy"
    )
    assert page.locator("#sightings-table tbody tr").count() >= 1
    assert page.locator("#sightings-table tbody time").first.inner_text().endswith("UTC")
    assert page.locator("#c-name").get_attribute("role") == "combobox"
    assert page.evaluate(FITS)
    assert not errors


def answered_after(page, action) -> None:
    """Do ``action``, then wait for the page's new answer (as submit_from does for Enter)."""
    page.evaluate("window.__answerBefore = window.peacewatchAnalytics.result")
    action()
    page.wait_for_function(
        "() => window.peacewatchAnalytics.result !== window.__answerBefore && !window.peacewatchAnalytics.busy",
        timeout=15000,
    )
    page.wait_for_function("() => document.getElementById('result-count').textContent !== ''", timeout=5000)


def total_of(page) -> int:
    return int(page.get_attribute("#result-count", "data-total"))


BAR = """([id, i]) => {
  const chart = Chart.getChart(id);
  const bar = chart.getDatasetMeta(0).data[i];
  const area = chart.chartArea;
  return chart.options.indexAxis === 'y' ? [(bar.x + bar.base) / 2, bar.y] : [bar.x, (area.top + area.bottom) / 2];
}"""


def bar_on_screen(page, chart: str, index: int) -> tuple[float, float]:
    """Where bar ``index`` of a chart is in the viewport: the middle of its column."""
    canvas = page.locator(f"#chart-{chart}")
    canvas.scroll_into_view_if_needed()
    x, y = page.evaluate(BAR, [f"chart-{chart}", index])
    box = canvas.bounding_box()
    return box["x"] + x, box["y"] + y


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_words_drones_time_bars_and_heat_map_cells_drill_down_and_undo_steps_back(web, new_page, analyst, viewport):
    from tests.browser.accessibility import violations

    page = new_page(viewport)
    errors = watch_errors(page)
    sign_in(page, web, analyst.username)
    assert total_of(page) == REPORTS

    # A top word's bar, with the mouse: the word becomes required.
    word = page.evaluate("Chart.getChart('chart-top_words').data.labels[0]")
    word_count = page.evaluate("Chart.getChart('chart-top_words').data.datasets[0].data[0]")
    answered_after(page, lambda: page.mouse.click(*bar_on_screen(page, "top_words", 0)))
    assert page.input_value("#q-words") == word and page.input_value("#q-words-match") == "all"
    assert page.evaluate("window.peacewatchAnalytics.query.words") == {"all": [word]}
    assert total_of(page) == word_count < REPORTS
    assert page.locator("#drill-status").inner_text().startswith(f"Words filter: all of {word}.")

    # A drag across the time chart: the dragged buckets become the range.
    counts = page.evaluate("Chart.getChart('chart-histogram').data.datasets[0].data")
    first, last = len(counts) // 4, len(counts) // 2
    start, end = bar_on_screen(page, "histogram", first), bar_on_screen(page, "histogram", last)

    def drag() -> None:
        page.mouse.move(*start)
        page.mouse.down()
        page.mouse.move(*end, steps=6)
        page.mouse.up()

    answered_after(page, drag)
    assert page.input_value("#q-time") == "custom" and page.is_visible("#q-from")
    assert set(page.evaluate("window.peacewatchAnalytics.query.time")) == {"from", "to"}
    in_span = sum(counts[first : last + 1])
    assert total_of(page) == in_span < word_count

    # A time bar from the keyboard (the table under the chart): that one interval.
    page.locator("#panel-histogram summary").click()
    counts = page.evaluate("Chart.getChart('chart-histogram').data.datasets[0].data")
    busiest = counts.index(max(counts))
    before = page.input_value("#q-from")
    answered_after(page, lambda: page.locator("#histogram-table tbody button").nth(busiest).press("Enter"))
    assert page.input_value("#q-from") >= before
    assert total_of(page) == counts[busiest] < in_span
    assert page.evaluate("document.activeElement.id") == "drill-undo"  # the pressed button was drawn anew

    # Undo steps back to the span, with the keyboard.
    answered_after(page, lambda: page.keyboard.press("Enter"))
    assert total_of(page) == in_span

    # A top drone from its list (Space), then a heat-map cell from its table (Enter).
    page.locator("#panel-top_drones summary").click()
    drone = page.locator("#top_drones-list button").first
    name = drone.inner_text()
    answered_after(page, lambda: drone.press(" "))
    assert page.input_value("#q-drones") == name
    drones = page.eval_on_selector_all("#results-table tbody td.mono", "cells => cells.map(c => c.textContent)")
    assert drones and set(drones) == {name}
    by_drone = total_of(page)
    assert by_drone < in_span

    page.locator(".map-panel summary").click()
    cell_count = int(page.locator("#grid-table tbody tr td").nth(1).inner_text().replace(",", ""))
    answered_after(page, lambda: page.locator("#grid-table tbody button").first.press("Enter"))
    assert page.input_value("#q-area") == "box" and page.is_visible("#q-south")
    assert total_of(page) == cell_count <= by_drone
    assert page.locator("#drill-status").inner_text().startswith("Area: the rectangle")
    # The filters are all in the form, where the analyst can remove them.
    assert page.input_value("#q-words") == word and page.input_value("#q-drones") == name

    assert page.evaluate(FITS)
    found = violations(page)
    assert not found, found
    assert not errors


def compass(a: dict, b: dict) -> float:
    """The rhumb-line bearing from a to b: the angle seen on a Web Mercator map, degrees from north."""
    import math

    def mercator_y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    dx = math.radians(b["lon"] - a["lon"])
    dy = mercator_y(b["lat"]) - mercator_y(a["lat"])
    return math.degrees(math.atan2(dx, dy)) % 360


LABEL_BOXES = """() => Array.from(document.querySelectorAll('#citizen-map .trail-number-label'), (n) => {
  const r = n.getBoundingClientRect();
  return { text: n.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom };
})"""
ARROWS = """() => Array.from(document.querySelectorAll('#citizen-map .trail-arrow-head'), (n) => ({
  from: Number(n.dataset.from),
  angle: Number(/rotate\\(([-\\d.]+)deg\\)/.exec(n.style.transform)[1]),
}))"""


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_citizen_timeline_shows_numbers_on_the_map_arrows_from_earlier_to_later_and_first_and_last(
    web, new_page, analyst, viewport
):
    from urllib.parse import urlencode

    from tests.browser.accessibility import violations

    page = new_page(viewport)
    errors = watch_errors(page)
    sign_in(page, web, analyst.username)
    top = page.evaluate("window.peacewatchAnalytics.result.aggregations.top_citizens[0]")
    page.goto(f"{web.url}/analytics/citizen/?{urlencode({'name': top['name'], 'key': top['key']})}")
    page.wait_for_function(
        "() => window.peacewatchCitizen && window.peacewatchCitizen.result && !window.peacewatchCitizen.busy"
    )
    hits = page.evaluate("window.peacewatchCitizen.result.hits")
    assert len(hits) >= 3

    # Arrowheads point from each sighting to the next, as the compass has it between the two.
    found = page.evaluate(ARROWS)
    assert found, "no arrow on the trail"
    for arrow in found:
        a, b = hits[arrow["from"] - 1]["location"], hits[arrow["from"]]["location"]
        expected = compass(a, b)
        off = abs((arrow["angle"] - expected + 180) % 360 - 180)
        assert off < 5, (arrow, expected)

    # Numbers on the markers themselves: the first and the last always, none covering another.
    labels = page.evaluate(LABEL_BOXES)
    texts = [label["text"] for label in labels]
    assert "1" in texts and str(len(hits)) in texts
    map_box = page.locator("#citizen-map").bounding_box()
    for i, one in enumerate(labels):
        assert map_box["x"] <= one["left"] and one["right"] <= map_box["x"] + map_box["width"], one
        for other in labels[i + 1 :]:
            apart = (
                one["right"] <= other["left"]
                or other["right"] <= one["left"]
                or one["bottom"] <= other["top"]
                or other["bottom"] <= one["top"]
            )
            assert apart, (one, other)

    # The list and the legend say which is first and which is last.
    first_row = page.locator("#sightings-table tbody tr").first
    assert first_row.locator("td").first.inner_text().split() == ["1", "first"]
    legend = page.locator("#trail-legend").inner_text()
    assert "the first sighting on this page is number 1" in legend
    assert f"the last is number {len(hits)}" in legend and "Arrows point from each sighting to the next" in legend
    if len(hits) == int(page.evaluate("window.peacewatchCitizen.result.total")):
        assert page.locator("#sightings-table tbody tr").last.locator(".end-badge").inner_text() == "last"

    assert page.evaluate(FITS)
    axe = violations(page)
    assert not axe, axe
    assert not errors


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_a_peacescore_range_charts_only_the_citizens_in_it_and_says_so(web, new_page, analyst, viewport):
    page = new_page(viewport)
    sign_in(page, web, analyst.username)
    everyone = page.evaluate("window.peacewatchAnalytics.result.aggregations.score")
    page.fill("#q-score-max", "30")
    run_query(page)
    score = page.evaluate("window.peacewatchAnalytics.result.aggregations.score")
    # The reports kept hold someone under 30; their charts count only those people.
    assert 0 < score["count"] < everyone["count"]
    assert score["max"] <= 30 and score["percentiles"]["50"] <= 30
    assert page.inner_text("#score-caption") == "Peacescores seen (citizens scoring up to 30)"
    assert page.inner_text("#top-citizens-caption") == "Top citizens (citizens scoring up to 30)"
    assert "count only the citizens in it" in page.inner_text("#q-score-hint")
    from tests.browser.accessibility import violations

    assert not violations(page)
