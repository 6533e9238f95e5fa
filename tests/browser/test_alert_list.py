"""An officer working a long shift's alerts: a list that scales, a card that takes notes and assignments.

The alerts are raised up front through the alerts consumer's own core (and a
drone's silence through offline detection), then the page loads them as an
officer's browser does, against the real web server.
"""

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from peacewatch.streams.batch import Record
from tests.browser.test_live_map import alert_item, sign_in
from tests.factories import citizen, report

pytestmark = pytest.mark.django_db(transaction=True)


def raise_alerts(count: int, *, critical_every: int = 10) -> None:
    """``count`` alerts, one citizen each; every ``critical_every``-th is critical (below 10)."""
    from alerts.consumer import process_batch

    docs = [
        report(
            citizens=[citizen(f"Person {i:04d}", 5.0 if i % critical_every == 0 else 15.0)],
            drone_id=f"pw-{i % 40:05d}",
        )
        for i in range(count)
    ]
    for start in range(0, count, 200):
        process_batch([Record(value=json.dumps(doc).encode()) for doc in docs[start : start + 200]])


def silence_a_drone(drone_id: str = "pw-silent") -> None:
    from alerts.fleet import detect_offline
    from alerts.fleet import process_batch as drones_batch
    from ingest.models import Drone

    Drone.objects.create(drone_id=drone_id)
    sent = datetime.now(tz=UTC) - timedelta(minutes=10)
    doc = report(drone_id=drone_id, sent_at=sent.isoformat())
    # Health follows when reports arrive (the record's broker time), never the drone's clock.
    drones_batch([Record(value=json.dumps(doc).encode(), timestamp=int(sent.timestamp() * 1000))])
    detect_offline(now=datetime.now(tz=UTC))


def shown(page) -> list[str]:
    return page.eval_on_selector_all("#alert-list li .item-title", "nodes => nodes.map(n => n.textContent)")


def wait_count(page, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (now := page.inner_text("#alert-count")) != text:
        assert time.monotonic() < deadline, f"the list says {now!r}, not {text!r}"
        time.sleep(0.1)


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)])
def test_a_thousand_open_alerts_all_load_and_the_list_finds_sorts_and_pins(stack, new_page, officer, viewport):
    raise_alerts(1000)
    silence_a_drone()
    page = new_page(viewport)
    sign_in(page, stack, officer.username)

    wait_count(page, "1001 alerts shown")  # no silent cap at 500
    assert page.inner_text("#status-counts") == "Open: 1001 new, 0 acknowledged"
    titles = shown(page)
    assert all(t.startswith("Person") and int(t[-4:]) % 10 == 0 for t in titles[:100])  # the 100 critical first
    page.uncheck("#pin-critical")
    assert shown(page)[0] == "Drone offline: pw-silent"  # the newest, once nothing is pinned

    page.fill("#filter-text", "PERSON 0123")  # any case
    wait_count(page, "1 alert shown")
    page.fill("#filter-text", "")
    page.select_option("#filter-kind", "drone_offline")
    wait_count(page, "1 alert shown")
    item = alert_item(page, "Drone offline: pw-silent")
    assert "PeaceScore" not in item.inner_text() and "Last heard" in item.inner_text()
    assert "kind-drone_offline" in page.get_attribute(".alert-marker.kind-drone_offline", "class")
    page.select_option("#filter-kind", "all")
    page.select_option("#list-sort", "oldest")
    wait_count(page, "1001 alerts shown")
    assert shown(page)[0] == "Person 0000"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_ticked_alerts_are_acknowledged_together_after_a_confirmation_that_counts_them(stack, new_page, officer):
    from alerts.models import Alert

    raise_alerts(30)
    page = new_page()
    sign_in(page, stack, officer.username)
    wait_count(page, "30 alerts shown")
    page.fill("#filter-text", "person 001")  # Person 0001 and 0010 .. 0019
    wait_count(page, "11 alerts shown")
    page.check("#select-shown")
    assert page.inner_text("#bulk-acknowledged") == "Acknowledge ticked (11)"

    page.click("#bulk-acknowledged")
    assert page.inner_text("#bulk-question").startswith("Acknowledge 11 alerts?")
    assert Alert.objects.filter(status="acknowledged").count() == 0  # nothing before Yes
    page.click("#bulk-no")
    assert page.locator("#bulk-confirm").is_hidden()
    page.click("#bulk-acknowledged")
    page.click("#bulk-yes")
    page.wait_for_function("document.getElementById('bulk-progress').textContent === 'Acknowledged 11 of 11.'")
    acknowledged = set(Alert.objects.filter(status="acknowledged").values_list("citizen", flat=True))
    assert acknowledged == {f"Person {i:04d}" for i in (1, *range(10, 20))}
    page.fill("#filter-text", "")
    page.wait_for_function("document.getElementById('status-counts').textContent === 'Open: 19 new, 11 acknowledged'")


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)])
def test_an_officer_notes_assigns_and_reads_the_history_from_the_card(stack, new_page, officer, viewport):
    raise_alerts(3)
    page = new_page(viewport)
    sign_in(page, stack, officer.username)
    item = alert_item(page, "Person 0001")
    item.wait_for()
    item.locator('button[data-action="acknowledged"]').click()
    item.locator(".item-handler", has_text="acknowledged by officer1").wait_for()

    item.locator("button.details-toggle").click()
    details = item.locator(".alert-details")
    assert "Acknowledged by officer1" in details.locator(".details-handled").inner_text()
    details.locator("textarea").fill("Checked on foot, all calm.")
    details.locator('button[data-save="note"]').click()
    details.locator('button[data-save="assign-me"]').click()
    item.locator(".item-handler", has_text="assigned to officer1 (you)").wait_for()
    history = details.locator(".details-history")
    history.locator("li", has_text="officer1 wrote: Checked on foot, all calm.").wait_for()
    history.locator("li", has_text="officer1 assigned it to officer1").wait_for()
    assert "officer1 acknowledged it" in history.inner_text()
    assert details.locator("textarea").input_value() == "Checked on foot, all calm."

    from alerts.models import Alert

    saved = Alert.objects.get(citizen="Person 0001")
    assert (saved.note, saved.assigned_to.username) == ("Checked on foot, all calm.", "officer1")


def test_the_keyboard_reaches_the_list_in_a_few_steps_and_markers_stay_out_of_the_tab_order(stack, new_page, officer):
    raise_alerts(80)
    page = new_page()
    sign_in(page, stack, officer.username)
    wait_count(page, "80 alerts shown")
    assert page.evaluate("document.querySelectorAll('.leaflet-marker-pane [tabindex=\"0\"]').length") == 0

    page.keyboard.press("Tab")  # the page's first skip link goes to content; the second, to the list
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the alert list"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#alert-list') !== null")
    assert page.locator(".map-legend summary").inner_text() == "Legend"


@pytest.mark.parametrize("viewport", [(1440, 900), (390, 844)])
def test_a_note_being_typed_keeps_the_keyboard_when_a_colleague_changes_the_alert(
    stack, new_page, officer, django_user_model, viewport
):
    from alerts.models import Alert
    from alerts.workflow import acknowledge_alert
    from tests.conftest import _user_with_role

    raise_alerts(2)
    page = new_page(viewport)
    sign_in(page, stack, officer.username)
    item = alert_item(page, "Person 0001")
    item.wait_for()
    item.locator("button.details-toggle").focus()
    page.keyboard.press("Enter")  # the details open with the keyboard in the note
    page.keyboard.type("Seen at the ")
    colleague = _user_with_role(django_user_model, "colleague", "officer")
    acknowledge_alert(Alert.objects.get(citizen="Person 0001").pk, by=colleague)
    item.locator(".item-handler", has_text="acknowledged by colleague").wait_for()  # the card was redrawn
    page.keyboard.type("harbour gate.")
    note = item.locator(".alert-details textarea")
    assert note.input_value() == "Seen at the harbour gate."
    assert note.evaluate("node => node === document.activeElement")
