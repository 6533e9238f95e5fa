"""The v1 report contract (CONTRACT section 1): what is valid, and why the rest is not."""

import json

import pytest

from ingest.reports import MAX_REPORT_BYTES, Received, ReportError, decode_report, derive_report_id
from tests.factories import report


def decode(doc, **kwargs):
    raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return decode_report(raw, **kwargs)


def test_the_contract_example_is_valid():
    result = decode(report())
    assert isinstance(result, Received)
    assert result.report.drone_id == "pw-00042"
    assert result.time_source == "drone"
    assert result.observed_at.isoformat() == "2026-11-28T04:00:00+00:00"


def test_a_first_wave_report_with_only_required_fields_is_valid():
    doc = {"drone_id": "pw-1", "location": {"lat": 0, "lon": 0}, "citizens": [], "words": []}
    result = decode(doc, timestamp_ms=1_795_000_000_000)
    assert isinstance(result, Received)
    assert result.time_source == "broker"
    assert int(result.observed_at.timestamp() * 1000) == 1_795_000_000_000


def test_a_missing_report_id_is_derived_deterministically_from_the_bytes():
    doc = report()
    del doc["report_id"]
    raw = json.dumps(doc).encode()
    first, second = decode_report(raw), decode_report(raw)
    assert first.report_id == second.report_id == derive_report_id(raw)
    other = decode_report(json.dumps({**doc, "seq": 999}).encode())
    assert other.report_id != first.report_id


def test_unknown_fields_are_kept_in_the_raw_report():
    raw = json.dumps(report(wind_kph=12, sensor={"ir": True})).encode()
    result = decode_report(raw)
    assert isinstance(result, Received)
    assert json.loads(result.raw)["sensor"] == {"ir": True}


def test_sent_at_with_an_offset_is_converted_to_utc():
    result = decode(report(sent_at="2026-11-28T06:00:00+02:00"))
    assert result.observed_at.isoformat() == "2026-11-28T04:00:00+00:00"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"", "empty"),
        (b"not json at all", "invalid_json"),
        (b'{"drone_id": "pw-1", ', "invalid_json"),
        (b'{"drone_id": "\xff\xfe", "location": {"lat": 0, "lon": 0}, "citizens": [], "words": []}', "invalid_utf8"),
        (b"\xff\xfe{}", "invalid_utf8"),
        (b"[1, 2, 3]", "schema"),
        (b"null", "schema"),
    ],
)
def test_bytes_that_are_not_a_report_get_a_stable_code(raw, code):
    result = decode_report(raw)
    assert isinstance(result, ReportError)
    assert result.code == code
    assert result.detail


def test_a_record_over_256_kib_is_too_large():
    doc = report(words=["x" * 100] * 3000)
    raw = json.dumps(doc).encode()
    assert len(raw) > MAX_REPORT_BYTES
    assert decode_report(raw).code == "too_large"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"drone_id": ""}, "drone_id"),
        ({"drone_id": "pw 42"}, "drone_id"),
        ({"drone_id": "x" * 65}, "drone_id"),
        ({"drone_id": 42}, "drone_id"),
        ({"location": {"lat": 91, "lon": 0}}, "location.lat"),
        ({"location": {"lat": 0, "lon": -180.5}}, "location.lon"),
        ({"location": {"lat": "48.1", "lon": 2}}, "location.lat"),
        ({"location": {"lat": 0}}, "location"),
        ({"citizens": [{"name": "", "peacescore": 10}]}, "citizens[0].name"),
        ({"citizens": [{"name": "A", "peacescore": 100.5}]}, "citizens[0].peacescore"),
        ({"citizens": [{"name": "A", "peacescore": -1}]}, "citizens[0].peacescore"),
        ({"citizens": [{"name": "A", "peacescore": True}]}, "citizens[0].peacescore"),
        ({"citizens": [{"name": "A", "peacescore": 5, "confidence": 1.5}]}, "citizens[0].confidence"),
        ({"citizens": [{"name": "A", "peacescore": 50}] * 201}, "citizens"),
        ({"words": ["ok", ""]}, "words[1]"),
        ({"words": ["w" * 101]}, "words[0]"),
        ({"words": ["w"] * 1001}, "words"),
        ({"words": "bread strike"}, "words"),
        ({"report_id": ""}, "report_id"),
        ({"sent_at": "2026-11-28T04:00:00"}, "sent_at"),
        ({"sent_at": "yesterday"}, "sent_at"),
        ({"seq": -1}, "seq"),
        ({"seq": 1.5}, "seq"),
        ({"battery_pct": 101}, "battery_pct"),
        ({"heading_deg": 360}, "heading_deg"),
        ({"speed_mps": -0.1}, "speed_mps"),
        ({"firmware": ""}, "firmware"),
    ],
)
def test_a_report_breaking_a_rule_is_a_schema_error_naming_the_field(change, where):
    result = decode(report(**change))
    assert isinstance(result, ReportError)
    assert result.code == "schema"
    assert f"$.{where}" in result.detail


@pytest.mark.parametrize("field", ["drone_id", "location", "citizens", "words"])
def test_each_required_field_is_required(field):
    doc = report()
    del doc[field]
    result = decode(doc)
    assert result.code == "schema"
    assert field in result.detail


def test_boundaries_are_inclusive_where_the_contract_says_so():
    doc = report(
        location={"lat": -90, "lon": 180},
        citizens=[{"name": "A", "peacescore": 0}, {"name": "B" * 200, "peacescore": 100, "confidence": 1}],
        battery_pct=0,
        heading_deg=359.99,
        speed_mps=0,
        seq=0,
    )
    assert isinstance(decode(doc), Received)
