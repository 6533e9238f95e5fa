"""The v1.1 report contract (CONTRACT section 1): what is valid, and why the rest is not."""

import json
import time
from datetime import timedelta, timezone

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
        ({"sent_at": "1969-12-31T23:59:59Z"}, "sent_at"),
        ({"sent_at": "2200-01-01T00:00:00Z"}, "sent_at"),
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


# --- v1.1: lenient telemetry -------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"seq": -1}, "seq"),
        ({"seq": 1.5}, "seq"),
        ({"seq": "7"}, "seq"),
        ({"battery_pct": 101}, "battery_pct"),
        ({"battery_pct": True}, "battery_pct"),
        ({"heading_deg": 360}, "heading_deg"),
        ({"speed_mps": -0.1}, "speed_mps"),
        ({"speed_mps": {"kmh": 3}}, "speed_mps"),
        ({"firmware": ""}, "firmware"),
        ({"firmware": "f" * 65}, "firmware"),
        ({"location": {"lat": 1, "lon": 2, "alt_m": "high"}}, "location.alt_m"),
    ],
)
def test_a_telemetry_field_breaking_its_rule_is_dropped_and_the_report_stays_valid(change, field):
    doc = report(citizens=[{"name": "Jeanne Martin", "peacescore": 5}], **change)
    result = decode(doc)
    assert isinstance(result, Received)
    assert result.dropped == (field,)
    name = field.rpartition(".")[2]
    holder = result.report.location if field.startswith("location.") else result.report
    assert getattr(holder, name) is None
    assert result.report.citizens[0].name == "Jeanne Martin"  # the strict core is all there
    assert json.loads(result.raw) == doc  # the raw bytes keep what was dropped


def test_valid_telemetry_is_kept_and_nothing_is_reported_dropped():
    result = decode(report(seq=2**63 - 1))
    assert result.dropped == ()
    assert (result.report.seq, result.report.battery_pct, result.report.firmware) == (2**63 - 1, 76, "1.4.2")


def test_every_bad_telemetry_field_is_named_while_the_good_ones_are_kept():
    result = decode(report(heading_deg=360, firmware="x" * 65, battery_pct=50))
    assert sorted(result.dropped) == ["firmware", "heading_deg"]
    assert result.report.battery_pct == 50


def test_bad_telemetry_does_not_excuse_a_bad_core():
    result = decode(report(heading_deg=360, location={"lat": 91, "lon": 0}))
    assert result.code == "schema"
    assert "$.location.lat" in result.detail


# --- v1.1: limits that make decoding total -------------------------------------------
def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_nesting_up_to_32_levels_is_valid_and_deeper_is_a_schema_error():
    # The report object is level 1, so an extra field may hold 31 levels.
    assert isinstance(decode(report(extra=nested(31))), Received)
    result = decode(report(extra=nested(32)))
    assert result.code == "schema"
    assert "nested deeper than 32" in result.detail


def test_absurd_nesting_is_a_schema_error_not_a_recursion_error():
    raw = json.dumps(report())[:-1].encode() + b', "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert len(raw) <= MAX_REPORT_BYTES
    result = decode_report(raw)
    assert result.code == "schema"
    assert "nested" in result.detail


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert isinstance(decode(report(words=["[" * 60], comment="{" * 80)), Received)


@pytest.mark.parametrize(
    "change",
    [{"seq": 2**64}, {"seq": 2**63}, {"extra": {"n": -(2**63) - 1}}, {"extra": [10**30]}],
)
def test_an_integer_beyond_64_bits_anywhere_is_a_schema_error(change):
    result = decode(report(**change))
    assert result.code == "schema"
    assert "64 bits" in result.detail


def test_long_numbers_that_fit_or_are_not_integers_are_fine():
    doc = report(extra={"big": 2**63 - 1, "small": -(2**63), "float": 0.1234567890123456789012, "e": 1e300})
    assert isinstance(decode(doc), Received)
    assert isinstance(decode(report(report_id="12345678901234567890123")), Received)  # digits in a string


@pytest.mark.parametrize(
    "change",
    [
        {"citizens": [{"name": "Jeanne\u0000Martin", "peacescore": 5}]},
        {"firmware": "1.4\u0000"},
        {"words": ["line\nbreak"]},
        {"drone_note": "tab\there"},
        {"extra": {"key\u001f": 1}},
        {"extra": ["del\u007f"]},
    ],
)
def test_a_control_character_in_any_string_or_key_is_a_schema_error(change):
    result = decode(report(**change))  # json.dumps escapes them (\u0000, \n) or leaves DEL raw
    assert isinstance(result, ReportError)
    assert result.code == "schema"
    assert "control character" in result.detail


def test_an_escaped_delete_character_is_a_schema_error():
    raw = json.dumps(report(report_id="r-REPLACE")).encode().replace(b"REPLACE", b"\\u007F")
    assert decode_report(raw).code == "schema"


def test_escaped_backslashes_quotes_and_unicode_letters_are_not_control_characters():
    doc = report(citizens=[{"name": 'Jérôme "\\n" Dupont\\', "peacescore": 50}], words=["C:\\temp\\\\u0000"])
    assert b"\\\\n" in json.dumps(doc).encode()
    assert isinstance(decode(doc), Received)


@pytest.mark.parametrize("sent_at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_a_sent_at_that_overflows_in_utc_is_a_schema_error_saying_so(sent_at):
    result = decode(report(sent_at=sent_at))
    assert result.code == "schema"
    assert "cannot be converted to UTC" in result.detail


@pytest.mark.parametrize("timestamp_ms", [2**63 - 1, 253_402_300_800_000, -1, -(2**63), 0])
def test_a_nonsense_record_timestamp_falls_back_to_arrival_time(timestamp_ms):
    doc = report()
    del doc["sent_at"]
    result = decode(doc, timestamp_ms=timestamp_ms)
    assert isinstance(result, Received)
    assert result.time_source == "broker"
    if timestamp_ms > 0:  # 0 is the epoch itself, a real (if odd) broker time
        assert abs(result.observed_at.timestamp() - time.time()) < 60


# --- the decoder is total: a report or its own error, for any input ---------------
def assert_report_or_error(raw: bytes, timestamp_ms: int | None = None) -> None:
    result = decode_report(raw, timestamp_ms=timestamp_ms)
    assert isinstance(result, Received | ReportError)
    if isinstance(result, ReportError):
        assert result.code in {"empty", "too_large", "invalid_utf8", "invalid_json", "schema"}
    else:
        assert result.dropped == tuple(sorted(set(result.dropped), key=result.dropped.index))


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
telemetry = st.fixed_dictionaries(
    {},
    optional={
        "seq": json_values,
        "battery_pct": json_values,
        "heading_deg": json_values,
        "speed_mps": json_values,
        "firmware": json_values,
        "sent_at": st.one_of(
            st.builds(
                lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
                st.datetimes(),
                st.integers(min_value=-(14 * 60), max_value=14 * 60),
            ),
            json_values,
        ),
        "report_id": json_values,
        "extra": json_values,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(max_size=2000), timestamp_ms=st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_any_bytes_yield_a_report_or_a_report_error(raw, timestamp_ms):
    assert_report_or_error(raw, timestamp_ms)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    extra=telemetry,
    location=st.one_of(
        st.fixed_dictionaries({"lat": json_values, "lon": json_values}, optional={"alt_m": json_values}), json_values
    ),
    citizens=st.lists(st.fixed_dictionaries({"name": json_values, "peacescore": json_values}), max_size=3),
    depth=st.integers(min_value=0, max_value=40),
)
def test_any_json_shaped_like_a_report_yields_a_report_or_a_report_error(extra, location, citizens, depth):
    doc = {"drone_id": "pw-1", "location": location, "citizens": citizens, "words": ["w"], **extra}
    doc["deep"] = nested(depth) if depth else None
    assert_report_or_error(msgspec.json.encode(doc))
    assert_report_or_error(msgspec.json.encode(doc)[: len(msgspec.json.encode(doc)) // 2])
