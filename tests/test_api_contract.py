"""The API does what its OpenAPI document says (issue 17), shown by schemathesis, a tool nobody here wrote.

schemathesis reads ``/api/schema/`` from the real server (daphne, as `make run`
starts it) and drives every operation with requests generated from it, valid
and invalid, in its four phases (the document's examples, coverage of each
constraint's edges, fuzzing, and stateful sequences that follow the links
between operations), signed in as each role and as a drone, with all its
checks: no server error, every status code and body as documented, schema-valid
requests accepted, schema-violating ones refused, authentication not ignored.
A fixed seed and a budget per operation keep a run the same and short.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from alerts.consumer import process_batch as raise_alerts
from analytics import saved_queries
from ingest import fleet
from ingest.models import Drone
from peacewatch.streams.batch import Record
from tests.conftest import _user_with_role, free_port, sign_in_with_second_factor
from tests.factories import citizen, report
from tests.live_stack import running_web

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
ROOT = Path(__file__).resolve().parent.parent
SEED, EXAMPLES = 17, 25
INGEST = "/api/v1/ingest/reports"


@pytest.fixture
def web(broker, tmp_path):
    with running_web(tmp_path, free_port()) as running:
        yield running


def some_data(django_user_model, owner=None) -> str:
    """What the operations act on: drones of two squads, alerts about them, an officer to assign them
    to (whose name it returns), a saved query."""
    duty = _user_with_role(django_user_model, "duty-officer", "officer")
    for n, squad in enumerate(["north", "south"]):
        fleet.register_drone(Drone(drone_id=f"pw-1000{n}", name=f"{squad} {n}", squad=squad))
    raise_alerts([
        Record(value=json.dumps(report(drone_id=f"pw-1000{n % 2}", citizens=[citizen(f"Case {n}", 5.0)])).encode())
        for n in range(4)
    ])  # fmt: skip
    if owner is not None:
        saved_queries.save_query(owner, ip=None, name="Strikes", query={"words": {"any": ["strike"]}}, shared=False)
    return duty.username


def served_document(web, tmp_path: Path, session: str) -> Path:
    """The document as the server serves it (to signed-in users only)."""
    answer = requests.get(f"{web.url}/api/schema/?format=json", cookies={"sessionid": session}, timeout=30)
    assert answer.status_code == 200, answer.text[:500]
    path = tmp_path / "openapi.json"
    path.write_text(answer.text)
    return path


def run_schemathesis(web, tmp_path: Path, reader: str, auth: dict[str, dict[str, str]], *args: str, env=None):
    """schemathesis over the document as ``reader`` (a session) is served it, signed in with ``auth``."""
    document = served_document(web, tmp_path, reader)
    config = tmp_path / "schemathesis.toml"
    lines = []
    for scheme, values in auth.items():
        lines.append(f"[auth.openapi.{scheme}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    config.write_text("\n".join(lines) + "\n")
    command = [
        str(SCHEMATHESIS), "--config-file", str(config), "run", str(document),
        "--url", web.url, "--checks", "all", "--seed", str(SEED), "--max-examples", str(EXAMPLES),
        "--no-color", *args,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=780, cwd=tmp_path, env=env)
    assert done.returncode == 0, f"schemathesis found problems:\n{done.stdout[-15000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def session(auth: dict[str, dict[str, str]]) -> str:
    return auth["cookieAuth"]["api_key"]


def session_auth(user, *, staff: bool = False) -> dict[str, dict[str, str]]:
    client = Client()
    if staff:
        sign_in_with_second_factor(client, user)
    else:
        client.force_login(user)
    csrf = _get_new_csrf_string()
    return {
        "cookieAuth": {"api_key": client.cookies["sessionid"].value},
        "csrfCookie": {"api_key": csrf},
        "csrfHeader": {"api_key": csrf},
    }


# Each role's run sends thousands of requests (one to two minutes on PostgreSQL beside another test
# worker): its own budget, with schemathesis stopped first so that the failure says where it was.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("role", ["officer", "analyst", "admin"])
def test_the_server_does_what_its_document_says_for_each_role(web, tmp_path, django_user_model, role):
    from ingest.squads import all_squads_group

    user = _user_with_role(django_user_model, f"{role}-st", role, is_staff=role == "admin")
    if role == "officer":
        user.groups.add(all_squads_group())
    officer = some_data(django_user_model, owner=user if role == "analyst" else None)

    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.schemathesis_query_hooks",
        "SCHEMATHESIS_OFFICER": officer,
        "PYTHONPATH": str(ROOT),
    }
    auth = session_auth(user, staff=role == "admin")
    out = run_schemathesis(web, tmp_path, session(auth), auth, "--exclude-path", INGEST, env=env)

    assert "Stateful" in out  # the stateful phase ran too


def test_the_ingest_endpoint_does_what_its_document_says_for_a_drone(web, tmp_path, django_user_model):
    token = fleet.register_drone(Drone(drone_id="pw-20000", name="st", squad="north"))
    reader = session(session_auth(_user_with_role(django_user_model, "reader", "officer")))
    hooks = tmp_path / "ingest_hooks.py"
    hooks.write_text(HOOKS.replace("DRONE", "pw-20000"))
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "ingest_hooks", "PYTHONPATH": str(tmp_path)}

    out = run_schemathesis(web, tmp_path, reader, {"droneToken": {"bearer": token}}, "--include-path", INGEST, env=env)

    assert "Selected: 1/" in out and "Fuzzing" in out


# What the document says in words only (OpenAPI 3.0 cannot say it of unknown fields, which reports may
# carry): no control character in any string or key, integers within 64 bits, 32 levels at most. And a
# report valid as far as a document can say may still be another drone's or dated last year. Before a
# generated valid case is sent, it is made to keep those rules: its drone is the token's, it is sent now.
HOOKS = """
import re
from datetime import datetime, timezone

import schemathesis

CONTROL = re.compile("[\\x00-\\x1f\\x7f]")
INT64 = 2**63 - 1


def kept(value, depth=1):
    if isinstance(value, str):
        return CONTROL.sub("", value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return max(-INT64 - 1, min(INT64, value))
    if depth >= 30:
        return None
    if isinstance(value, list):
        return [kept(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {CONTROL.sub("", key): kept(item, depth + 1) for key, item in value.items()}
    return value


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    meta = case.meta
    if meta is not None and meta.generation.mode.is_positive and isinstance(case.body, dict):
        case.body = kept(case.body)
        case.body["drone_id"] = "DRONE"
        case.body["sent_at"] = datetime.now(timezone.utc).isoformat()
"""


def generated_client(web, tmp_path: Path, session: str):
    """A Python client generated from the served document by openapi-python-client, imported as is."""
    document = served_document(web, tmp_path, session)
    config = tmp_path / "generator.yml"
    config.write_text("package_name_override: pw_client\nproject_name_override: pw-client\n")
    package = tmp_path / "generated" / "pw_client"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "openapi-python-client"), "generate", "--path", str(document),
         "--output-path", str(package), "--meta", "none", "--config", str(config)],
        capture_output=True, text=True, timeout=300,
        # It formats what it writes with ruff, from this environment (make test does not activate it).
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr  # every operation generated
    sys.path.insert(0, str(package.parent))
    try:
        return importlib.import_module("pw_client")
    finally:
        sys.path.remove(str(package.parent))


def test_a_client_generated_from_the_document_works_unchanged(web, tmp_path, django_user_model):
    from analytics.store import get_store
    from ingest.reports import decode_report
    from ingest.squads import all_squads_group

    officer = _user_with_role(django_user_model, "officer-gen", "officer")
    officer.groups.add(all_squads_group())
    analyst = _user_with_role(django_user_model, "analyst-gen", "analyst")
    some_data(django_user_model)
    get_store().index([decode_report(json.dumps(report(words=["harbour", "strike"])).encode())])
    drone_token = fleet.register_drone(Drone(drone_id="pw-30000", name="gen", squad="north"))
    officer_auth, analyst_auth = session_auth(officer), session_auth(analyst)
    pw = generated_client(web, tmp_path, session(officer_auth))
    from pw_client.api.ingest import ingest_reports
    from pw_client.api.reports import reports_search
    from pw_client.api.v1 import v1_alerts_list, v1_alerts_partial_update
    from pw_client.models import PatchedAlertChange, Report, ReportsSearchQuery

    def signed_in(auth):
        # The session cookie and the CSRF pair, as the document's security schemes say.
        csrf = auth["csrfHeader"]["api_key"]
        return pw.AuthenticatedClient(
            base_url=web.url,
            token=csrf,
            prefix="",
            auth_header_name="X-CSRFToken",
            cookies={"sessionid": session(auth), "csrftoken": csrf},
        )

    # An officer lists the alerts changed after change 0, and acknowledges one.
    officer_client = signed_in(officer_auth)
    listed = v1_alerts_list.sync(client=officer_client, after_seq=0)
    assert listed.results and all(alert.seq > 0 for alert in listed.results)
    first = listed.results[0]
    changed = v1_alerts_partial_update.sync(
        first.id, client=officer_client, body=PatchedAlertChange.from_dict({"status": "acknowledged"})
    )
    assert (changed.status.value, changed.acknowledged_by) == ("acknowledged", "officer-gen")

    # An analyst searches the reports, saying why.
    query = {"purpose": "generated client check", "time": {"last": "3650d"}, "words": {"any": ["strike"]}}
    found = reports_search.sync(client=signed_in(analyst_auth), body=ReportsSearchQuery.from_dict(query))
    assert found.total == 1

    # A drone posts a report with its token.
    drone_client = pw.AuthenticatedClient(base_url=web.url, token=drone_token)
    sent = report(drone_id="pw-30000", sent_at=datetime.now(UTC).isoformat())
    answer = ingest_reports.sync(client=drone_client, body=Report.from_dict(sent))
    assert (answer.accepted, answer.items[0].outcome.value) == (1, "accepted")


def test_the_published_copy_of_the_document_is_the_one_the_server_serves(tmp_path):
    served = tmp_path / "openapi.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(served))

    published = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert json.loads(served.read_text()) == published, (
        "docs/openapi.json is out of date: python manage.py spectacular --format openapi-json --file docs/openapi.json"
    )
