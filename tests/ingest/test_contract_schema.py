"""The published JSON Schema of a report is the decoder's own model, and agrees with the decoder."""

from __future__ import annotations

import json

import jsonschema
import pytest

from ingest.management.commands.contract_schema import SCHEMA_PATH, rendered
from ingest.reports import Received, decode_report

CONTRACT_EXAMPLE = {
    "report_id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "drone_id": "pw-00042",
    "sent_at": "2026-11-28T04:00:00Z",
    "seq": 1234,
    "location": {"lat": 48.8566, "lon": 2.3522, "alt_m": 120.5},
    "citizens": [
        {"name": "Jeanne Martin", "peacescore": 12.5, "confidence": 0.97},
        {"name": "Paul Durand", "peacescore": 81.0},
    ],
    "words": ["bread", "strike", "tomorrow"],
    "battery_pct": 76,
    "heading_deg": 270,
    "speed_mps": 5.2,
    "firmware": "1.4.2",
}


def test_the_checked_in_schema_is_the_one_the_decoder_model_generates():
    assert SCHEMA_PATH.read_text() == rendered(), "run: python manage.py contract_schema"


def test_the_contract_example_is_valid_by_the_schema_and_by_the_decoder():
    jsonschema.validate(CONTRACT_EXAMPLE, json.loads(SCHEMA_PATH.read_text()))
    assert isinstance(decode_report(json.dumps(CONTRACT_EXAMPLE).encode()), Received)


@pytest.mark.parametrize(
    "change",
    [
        {"drone_id": "no spaces allowed"},
        {"location": {"lat": 91, "lon": 0}},
        {"citizens": [{"name": "", "peacescore": 10}]},
        {"citizens": [{"name": "Jeanne", "peacescore": 101}]},
        {"words": ["x" * 101]},
        {"report_id": "r" * 65},
    ],
)
def test_what_the_schema_refuses_in_the_strict_core_the_decoder_refuses_too(change):
    report = {**CONTRACT_EXAMPLE, **change}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(report, json.loads(SCHEMA_PATH.read_text()))
    assert decode_report(json.dumps(report).encode()).code == "schema"
