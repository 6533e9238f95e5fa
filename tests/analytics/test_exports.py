"""Exports: every matching report into a CSV or NDJSON file, written by a Celery worker, with progress."""

import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from analytics import exports, search
from analytics.consumer import process_batch
from analytics.models import AuditEntry, Export
from analytics.query import parse_query
from analytics.tasks import prune_exports
from peacewatch import metrics
from peacewatch.streams.batch import Record
from tests.conftest import _user_with_role
from tests.factories import citizen, report
from tests.test_metrics import local_value

pytestmark = pytest.mark.django_db

URL = "/api/v1/exports/"
T0 = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
TWO_HOURS = {"time": {"from": "2026-11-28T00:00:00Z", "to": "2026-11-28T02:00:00Z"}}


@pytest.fixture
def export_files(settings, tmp_path):
    """Export files in the test's own folder (VAR_DIR/exports)."""
    settings.VAR_DIR = tmp_path
    return tmp_path / "exports"


def index(reports, chunk=1000):
    for start in range(0, len(reports), chunk):
        part = reports[start : start + chunk]
        process_batch([Record(value=json.dumps(r).encode(), offset=start + i) for i, r in enumerate(part)])


def fleet_reports(n):
    return [
        report(
            report_id=f"r{i:05d}",
            drone_id=f"pw-{i % 7:05d}",
            sent_at=(T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
            citizens=[citizen(f"Person {i % 50}", i % 100), citizen("Ann Lee", 50.5)],
            words=["bread", f"w{i % 13}"],
        )
        for i in range(n)
    ]


def start(client, query, fmt="csv", purpose="case 2026-0002: export test"):
    body = {"query": query, "format": fmt, "purpose": purpose}
    return client.post(URL, json.dumps(body), content_type="application/json")


def test_a_5000_row_export_writes_exactly_those_rows_in_both_formats_and_reports_progress(
    analyst, export_files, monkeypatch
):
    index(fleet_reports(5000))
    index([report(report_id="outside", sent_at="2026-11-28T03:00:00Z")])
    seen = []
    save_progress = exports.save_progress

    def watch(export_id, rows_written):
        save_progress(export_id, rows_written)
        row = Export.objects.get(pk=export_id)  # what the page polling the export would see now
        seen.append((row.status, row.total, row.rows_written, row.progress))

    monkeypatch.setattr(exports, "save_progress", watch)
    query = {**TWO_HOURS, "sort": "oldest"}

    as_csv = exports.run_export(exports.create_export(analyst, query=query, format="csv").pk)
    assert (as_csv.status, as_csv.total, as_csv.rows_written, as_csv.progress) == ("done", 5000, 5000, 1.0)
    rows = list(csv.DictReader(io.StringIO(open(as_csv.file_path).read())))  # noqa: SIM115
    assert [r["report_id"] for r in rows] == [f"r{i:05d}" for i in range(5000)]
    assert rows[7] == {
        "report_id": "r00007",
        "observed_at": "2026-11-28T00:00:07.000Z",
        "drone_id": "pw-00000",
        "lat": "48.8566",
        "lon": "2.3522",
        "citizens": "Person 7:7; Ann Lee:50.5",
        "words": "bread w7",
        "alert": "true",
    }
    assert seen and {status for status, *_ in seen} == {"running"}
    assert {total for _, total, _, _ in seen} == {5000}  # counted before the first row
    progress = [p for *_, p in seen]
    assert progress == sorted(progress) and progress[0] > 0 and progress[-1] < 1

    seen.clear()
    as_ndjson = exports.run_export(exports.create_export(analyst, query=query, format="ndjson").pk)
    assert (as_ndjson.status, as_ndjson.rows_written) == ("done", 5000)
    lines = open(as_ndjson.file_path).read().splitlines()  # noqa: SIM115
    expected = [{k: v for k, v in hit.items() if k != "cursor"} for hit in search.iter_hits(parse_query(query))]
    assert [json.loads(line) for line in lines] == expected
    assert len(expected) == 5000 and seen
    assert sorted(p.name for p in export_files.iterdir()) == [
        f"export-{as_csv.pk}.csv",
        f"export-{as_ndjson.pk}.ndjson",
    ]


def test_a_failing_export_ends_failed_with_its_error_and_no_file(analyst, export_files, monkeypatch):
    index(fleet_reports(50))

    real_iter_hits = search.iter_hits

    def engine_dies_midway(query, **kwargs):
        for n, hit in enumerate(real_iter_hits(query, **kwargs)):
            if n == 20:
                raise ConnectionError("analytics store went away")
            yield hit

    monkeypatch.setattr(search, "iter_hits", engine_dies_midway)
    export = exports.run_export(exports.create_export(analyst, query=TWO_HOURS).pk)
    assert export.status == "failed"
    assert export.error == "ConnectionError: analytics store went away"
    assert export.finished_at is not None and export.file_path == ""
    assert list(export_files.iterdir()) == []  # the part file is gone too


def test_an_export_that_cannot_write_its_file_fails(analyst, export_files):
    export_files.write_text("a file where the folder should be")
    export = exports.run_export(exports.create_export(analyst, query=TWO_HOURS).pk)
    assert export.status == "failed"
    assert export.error.startswith(("FileExistsError", "NotADirectoryError"))


def test_a_relative_range_means_before_the_request_not_before_the_run(analyst, export_files):
    index(fleet_reports(10))
    export = exports.create_export(analyst, query={"time": {"last": "1h"}})
    Export.objects.filter(pk=export.pk).update(created_at=T0 + timedelta(minutes=30))
    assert exports.run_export(export.pk).rows_written == 10


def test_an_export_given_the_pages_as_of_writes_the_pages_total_whatever_arrived_since(analyst, export_files):
    reports = fleet_reports(50)
    index(reports[:30])
    page = search.search(parse_query({**TWO_HOURS, "aggs": ["histogram"]}))
    assert page["total"] == 30
    index(reports[30:])  # observed within the two hours, arrived after the page's answer
    frozen = exports.create_export(analyst, query={**TWO_HOURS, "arrived_before": page["as_of"]})
    assert datetime.fromisoformat(frozen.query["arrived_before"]) == datetime.fromisoformat(page["as_of"])
    done = exports.run_export(frozen.pk)
    assert (done.status, done.total, done.rows_written) == ("done", 30, 30)
    written = [r["report_id"] for r in csv.DictReader(open(done.file_path))]  # noqa: SIM115
    assert sorted(written) == sorted(r["report_id"] for r in reports[:30])
    # Without the bound, the late ones are counted and written.
    assert exports.run_export(exports.create_export(analyst, query=TWO_HOURS).pk).rows_written == 50


def test_csv_cells_that_look_like_formulas_are_defused(analyst, export_files):
    index([report(sent_at="2026-11-28T01:00:00Z", citizens=[citizen("=HYPERLINK(1)", 5)], words=["@cmd", "ok"])])
    export = exports.run_export(exports.create_export(analyst, query=TWO_HOURS).pk)
    row = next(csv.DictReader(open(export.file_path)))  # noqa: SIM115
    assert (row["citizens"], row["words"]) == ("'=HYPERLINK(1):5", "'@cmd ok")


def test_the_api_queues_an_export_and_serves_the_file_to_its_owner(
    client, analyst, django_user_model, django_capture_on_commit_callbacks, export_files
):
    index(fleet_reports(30))
    client.force_login(analyst)
    with django_capture_on_commit_callbacks() as enqueued:
        response = start(client, TWO_HOURS)
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {
        "id",
        "status",
        "format",
        "query",
        "total",
        "rows_written",
        "progress",
        "download_url",
        "error",
        "created_at",
        "finished_at",
    }
    assert (body["status"], body["format"], body["progress"], body["download_url"]) == ("queued", "csv", 0.0, None)
    assert len(enqueued) == 1  # analytics.run_export, once the export is committed
    pk = body["id"]
    assert client.get(f"{URL}{pk}/download").status_code == 409

    exports.run_export(pk)  # what the worker does
    done = client.get(f"{URL}{pk}/").json()
    assert (done["status"], done["total"], done["rows_written"], done["progress"]) == ("done", 30, 30, 1.0)
    assert done["download_url"] == f"/api/v1/exports/{pk}/download"
    download = client.get(done["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv"
    assert download["Content-Disposition"].startswith('attachment; filename="peacewatch-reports-')
    assert download["Content-Disposition"].endswith('.csv"')
    assert b"".join(download.streaming_content).count(b"\n") == 31
    assert [e["id"] for e in client.get(URL).json()["results"]] == [pk]
    taken = AuditEntry.objects.get(action="export.download")
    assert (taken.username, taken.detail) == ("analyst1", {"export_id": pk, "format": "csv", "rows": 30})

    stranger = _user_with_role(django_user_model, "analyst2", "analyst")
    client.force_login(stranger)
    assert client.get(f"{URL}{pk}/").status_code == 404
    assert client.get(f"{URL}{pk}/download").status_code == 404
    assert client.get(URL).json()["results"] == []


def test_an_export_request_is_audited(client, analyst):
    client.force_login(analyst)
    pk = start(client, {"time": {"last": "7d"}, "alerts_only": True}, "ndjson").json()["id"]
    entry = AuditEntry.objects.get(action="export")
    assert (entry.action, entry.username, entry.query) == (
        "export",
        "analyst1",
        {"time": {"last": "7d"}, "alerts_only": True},
    )
    assert entry.detail == {"export_id": pk, "format": "ndjson", "purpose": "case 2026-0002: export test"}


def test_bad_exports_are_refused(client, analyst, officer):
    client.force_login(analyst)
    bad_format = start(client, TWO_HOURS, "xlsx").json()
    assert (bad_format["field"], bad_format["detail"]) == ("format", 'format: "xlsx" is not a valid choice.')
    assert start(client, {"size": 10_000}).json()["field"] == "query.size"
    for _ in range(exports.MAX_ACTIVE_PER_USER):
        assert start(client, TWO_HOURS).status_code == 202
    assert start(client, TWO_HOURS).status_code == 429
    client.force_login(officer)
    assert start(client, TWO_HOURS).status_code == 403
    assert client.get(URL).status_code == 403


def test_old_exports_are_pruned_with_their_files(analyst, export_files):
    index(fleet_reports(5))
    old = exports.run_export(exports.create_export(analyst, query=TWO_HOURS).pk)
    new = exports.run_export(exports.create_export(analyst, query=TWO_HOURS).pk)
    Export.objects.filter(pk=old.pk).update(created_at=datetime.now(tz=UTC) - timedelta(hours=49))
    stray = export_files / ".export-99.csv.abcd.part"
    stray.write_text("left by a killed worker")
    os.utime(stray, (0, 0))

    counted = local_value(metrics.RETENTION_DELETED, kind="exports")

    assert prune_exports() == 1
    assert list(Export.objects.values_list("pk", flat=True)) == [new.pk]
    assert sorted(p.name for p in export_files.iterdir()) == [f"export-{new.pk}.csv"]
    assert local_value(metrics.RETENTION_DELETED, kind="exports") == counted + 1
    assert AuditEntry.objects.get(action="retention").detail == {"exports": 1, "export_hours": 48}


def test_the_export_tasks_are_registered_and_pruning_is_scheduled(settings):
    from peacewatch.celery import app

    app.loader.import_default_modules()  # what a worker does at start-up
    assert {"analytics.run_export", "analytics.prune_exports"} <= set(app.tasks)
    assert settings.CELERY_BEAT_SCHEDULE["prune-exports"]["task"] == "analytics.prune_exports"
    assert settings.EXPORT_KEEP_HOURS == 48
    # Exports have their own queue, so a long one never delays the offline check;
    # `make run` starts a worker for each queue.
    assert app.amqp.router.route({}, "analytics.run_export")["queue"].name == "exports"
    assert app.amqp.router.route({}, "alerts.detect_offline_drones")["queue"].name == app.conf.task_default_queue


@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_writes_an_export_on_the_embedded_default(tmp_path, analyst, client):
    """No Redis: the task travels through kombu's filesystem transport to a real worker process."""
    import subprocess
    import sys
    import time
    import uuid

    from django.conf import settings as django_settings

    from analytics.tasks import run_export
    from tests.live_stack import child_env

    index(fleet_reports(300))
    export = exports.create_export(analyst, query=TWO_HOURS, format="ndjson")
    queue = f"test-{uuid.uuid4().hex[:8]}"  # this test's own queue in the shared folder
    # The worker shares the test's queue folder (VAR_DIR) and writes export files there too.
    var_dir = django_settings.VAR_DIR
    env = {**child_env(tmp_path), "PEACEWATCH_VAR_DIR": str(var_dir)}
    log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "peacewatch", "worker", "--pool", "solo", "-Q", queue],
        env=env,
        cwd=django_settings.BASE_DIR,
        stdout=open(log, "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    try:
        run_export.apply_async(args=[export.pk], queue=queue)
        deadline = time.monotonic() + 60
        while Export.objects.get(pk=export.pk).status in ("queued", "running"):
            assert worker.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    export.refresh_from_db()
    try:
        assert (export.status, export.total, export.rows_written, export.error) == ("done", 300, 300, "")
        client.force_login(analyst)
        download = client.get(f"{URL}{export.pk}/download")
        lines = b"".join(download.streaming_content).splitlines()
        assert [json.loads(line)["report_id"] for line in lines] == [f"r{i:05d}" for i in reversed(range(300))]
    finally:
        exports.delete_export(export)


def test_an_export_without_a_purpose_is_refused_naming_it(client, analyst):
    client.force_login(analyst)
    response = client.post(URL, json.dumps({"query": {"time": {"last": "7d"}}}), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == "purpose"
    assert not Export.objects.exists()


def test_an_exports_purpose_is_in_its_audit_entry(client, analyst):
    client.force_login(analyst)
    assert start(client, {"time": {"last": "7d"}}, purpose="oversight request OB-12").status_code == 202
    assert AuditEntry.objects.get(action="export").detail["purpose"] == "oversight request OB-12"
