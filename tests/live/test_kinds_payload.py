"""Device kinds table and payload validation: every bad-input kind gets its reason."""

from __future__ import annotations

import json
import math
import time

import pytest

import live
from live.errors import PayloadError
from live.kinds import KINDS, get_kind, resolve_kind
from live.payload import MAX_PAYLOAD_BYTES, decode, parse_ts
from tests.live.common import VALID_TELEMETRY

NOW = 1_795_000_000.0  # 2026-11-18T11:06:40Z (date -u -d @1795000000)


def _decode(body, kind="meter_water", channel="telemetry", now=NOW):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return decode(raw, device_id="d1", channel=channel, kind=KINDS[kind], now=now)


def _reason(body, **kw) -> str:
    with pytest.raises(PayloadError) as info:
        _decode(body, **kw)
    return info.value.reason


def test_every_kind_has_a_valid_example_and_units_on_quantities():
    assert set(VALID_TELEMETRY) == set(KINDS)
    for name, kind in KINDS.items():
        r = _decode({"ts": NOW, **VALID_TELEMETRY[name]}, kind=name)
        assert r.values == VALID_TELEMETRY[name] or all(r.values[k] == v for k, v in VALID_TELEMETRY[name].items())
        for f in kind.fields:
            if f.type == "float":
                assert f.unit, f"{name}.{f.name} has no unit"
            if f.min is not None and f.max is not None:
                assert f.min < f.max
        assert kind.offline_after_s > kind.report_period_s


def test_aliases_resolve_and_unknown_kinds_do_not():
    assert resolve_kind("Water_Meter") == "meter_water"
    assert resolve_kind("elevator") == "elevator_controller"
    assert resolve_kind("toaster") is None
    with pytest.raises(KeyError, match="toaster"):
        get_kind("toaster")


@pytest.mark.parametrize("text, expected", [
    ("2026-11-18T11:06:40Z", 1_795_000_000.0),
    ("2026-11-18T19:06:40+08:00", 1_795_000_000.0),
    ("2026-11-18T11:06:40", 1_795_000_000.0),       # no zone: UTC
    (1_795_000_000, 1_795_000_000.0),
    (1_795_000_000_500, 1_795_000_000.5),           # epoch milliseconds
])
def test_parse_ts_iso_and_epoch(text, expected):
    assert parse_ts(text) == pytest.approx(expected)


@pytest.mark.parametrize("body, reason", [
    (b"\xff\xfe not json", "not_json"),
    (b"{\"ts\": 1,", "not_json"),
    (b"[1, 2]", "not_object"),
    (b"\"text\"", "not_object"),
    ({"volume_m3": 1.0}, "missing_ts"),
    ({"ts": "yesterday", "volume_m3": 1.0}, "bad_ts"),
    ({"ts": True, "volume_m3": 1.0}, "wrong_type"),
    ({"ts": NOW + 3600, "volume_m3": 1.0}, "future_ts"),
    ({"ts": "2099-01-01T00:00:00Z", "volume_m3": 1.0}, "future_ts"),
    ({"ts": NOW - 90 * 86400, "volume_m3": 1.0}, "stale_ts"),
    ({"ts": NOW, "volume_m3": "12.5"}, "wrong_type"),
    ({"ts": NOW, "volume_m3": True}, "wrong_type"),
    ({"ts": NOW, "volume_m3": None, "flow_m3h": [1]}, "wrong_type"),
    ({"ts": NOW, "volume_m3": -1.0}, "out_of_range"),
    ({"ts": NOW, "flow_m3h": 1e6}, "out_of_range"),
    ({"ts": NOW, "volume_m3": 1.0, "colour": "red"}, "unknown_field"),
    ({"ts": NOW}, "empty"),
    ({"ts": NOW, "seq": 1.5, "volume_m3": 1.0}, "wrong_type"),
    ({"ts": NOW, "seq": -3, "volume_m3": 1.0}, "out_of_range"),
])
def test_bad_payloads_get_their_reason(body, reason):
    assert _reason(body) == reason


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_not_finite(literal):
    raw = b'{"ts": %d, "volume_m3": %s}' % (NOW, literal)
    assert _reason(raw) == "not_finite"
    raw = b'{"ts": %s, "volume_m3": 1}' % literal
    assert _reason(raw) in ("not_finite",)


def test_oversized_payload_is_rejected_before_parsing():
    big = json.dumps({"ts": NOW, "volume_m3": 1.0, "pad": "x" * MAX_PAYLOAD_BYTES}).encode()
    assert len(big) > 64 * 1024
    assert _reason(big) == "oversized"
    # exactly at the limit is parsed (and then fails for its unknown field, not its size)
    at_limit = b'{"ts": %d, "volume_m3": 1.0, "p": "' % NOW
    at_limit += b"x" * (MAX_PAYLOAD_BYTES - len(at_limit) - 2) + b'"}'
    assert len(at_limit) == MAX_PAYLOAD_BYTES
    assert _reason(at_limit) == "unknown_field"


def test_wrong_enum_and_event_and_status_payloads():
    assert _reason({"ts": NOW, "state": "ajar"}, kind="access_gate") == "wrong_type"
    assert _reason({"ts": NOW, "floor": 3.5}, kind="elevator_controller") == "wrong_type"
    assert _reason({"ts": NOW, "event": "explode"}, kind="elevator_controller", channel="event") == "unknown_event"
    assert _reason({"ts": NOW}, kind="elevator_controller", channel="event") == "missing_field"
    assert _reason({"ts": NOW, "online": "yes"}, kind="leak_sensor", channel="status") == "wrong_type"
    r = _decode({"ts": NOW, "online": False, "battery_pct": 12}, kind="leak_sensor", channel="status")
    assert r.online is False and r.values == {"battery_pct": 12.0}
    e = _decode({"ts": NOW, "event": "fault", "fault_code": 31}, kind="elevator_controller", channel="event")
    assert e.event == "fault" and e.values == {"fault_code": 31}


def test_int_accepted_for_float_fields_and_detail_names_the_value():
    r = _decode({"ts": NOW, "volume_m3": 12})
    assert r.values["volume_m3"] == 12.0
    with pytest.raises(PayloadError) as info:
        _decode({"ts": NOW, "volume_m3": -7.5})
    assert "volume_m3=-7.5" in info.value.detail


def test_public_api_matches_docs():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "mqtt.md").read_text(encoding="utf-8")
    for name in live.__all__:
        assert hasattr(live, name)
    for reason in live.DEAD_LETTER_REASONS:
        assert f"`{reason}`" in doc, f"dead-letter reason {reason} is not documented"
    for kind in KINDS:
        assert f"`{kind}`" in doc, f"kind {kind} is not documented"
