"""Hostile input: every dead-letter class, integer overflows, huge numbers, non-ASCII digits
and invalid UTF-8, hand-picked and generated (hypothesis), through a real Mosquitto.

Each bad message is bad by construction (the strategy that builds it says which reason it
must get); good messages are interleaved and must all be applied and stored.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from live.kinds import KINDS
from live.payload import MAX_PAYLOAD_BYTES, decode
from live.store import dead_letters
from tests.live.common import Publisher, make_community, wait_until

NOW = 1_795_000_000.0
WATER, ELEV = "B1-meter_water", "B3-elev-1"

# -- decode level: hostile payloads one by one --------------------------------------------
FULLWIDTH = "２０２６-11-18T19:00:00+08:00"
HOSTILE = [
    ('{"ts": "%s", "volume_m3": 1}' % FULLWIDTH, "bad_ts"),
    ('{"ts": "2026-11-18T1٩:00:00+08:00", "volume_m3": 1}', "bad_ts"),     # Arabic-Indic nine
    ('{"ts": "2026-11-18T19:00:00+０8:00", "volume_m3": 1}', "bad_ts"),
    ('{"ts": "%s", "volume_m3": 1}' % ("2" * 5000), "bad_ts"),
    ('{"ts": 1795000000, "volume_m3": "１２３"}', "wrong_type"),
    ('{"ts": 1795000000, "volume_m3": "1_000"}', "wrong_type"),
    ('{"ts": 1795000000, "volume_m3": 1, "volume_m3": 2}', "duplicate_key"),
    ('{"ts": 1795000000, "volume_m3": 1, "volume\\u005fm3": 2}', "duplicate_key"),   # escaped twin
    ('{"ts": "19:00:00", "ts": 1795000000, "volume_m3": 1}', "duplicate_key"),
    ('{"ts": 1795000000, "volume_m3": NaN}', "not_finite"),
    ('{"ts": 1795000000, "volume_m3": -Infinity}', "not_finite"),
    ('{"ts": NaN, "volume_m3": 1}', "not_finite"),
    ('{"ts": 1795000000, "volume_m3": %s}' % ("[" * 3000 + "]" * 3000), "too_deep"),
    ('{"ts": 1795000000, "volume_m3": %s}' % ("[" * 1100 + "]" * 1100), "too_deep"),
    ('{"ts": 1795000000, "volume_m3": [[1]]}', "wrong_type"),
    ('{"ts": 1795000000, "volume_m3": 1, "x": "\\ud800"}', "not_json"),
    ('[1, 2, 3]', "not_object"),
    ('{"ts": 1795000000, "volume_m3": 1e400}', "not_finite"),
]


@pytest.mark.parametrize("text,reason", HOSTILE)
def test_hostile_payloads_get_their_reason(text, reason):
    raw = text.encode()
    with pytest.raises(Exception) as info:
        decode(raw, device_id=WATER, channel="telemetry", kind=KINDS["meter_water"], now=NOW)
    assert info.value.reason == reason
    assert len(info.value.detail) <= 400


@pytest.mark.parametrize("raw", [b'{"ts": 1795000000, "volume_m3": 1, "d": "\xff"}', b"\xc3\x28{}",
                                 b'{"ts": 1795000000, "volume_m3": 1}\xed\xa0\x80', b"\xff" * 10])
def test_invalid_utf8_is_not_json(raw):
    with pytest.raises(Exception) as info:
        decode(raw, device_id=WATER, channel="telemetry", kind=KINDS["meter_water"], now=NOW)
    assert info.value.reason == "not_json" and "UTF-8" in info.value.detail


def test_colons_in_values_do_not_hide_or_fake_a_repeated_key():
    ok = '{"ts": "2026-11-18T19:00:00+08:00", "event": "fault", "detail": "a:b::c"}'
    r = decode(ok.encode(), device_id=ELEV, channel="event", kind=KINDS["elevator_controller"], now=1_795_000_000.0 + 7200)
    assert r.event == "fault"
    dup = '{"ts": 1795000000, "event": "fault", "detail": "a:b", "detail": "x"}'
    with pytest.raises(Exception) as info:
        decode(dup.encode(), device_id=ELEV, channel="event", kind=KINDS["elevator_controller"], now=NOW)
    assert info.value.reason == "duplicate_key"


_SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
            | st.text(alphabet=st.sampled_from(':"\\ab:é\u0000{}'), max_size=8))
_KEYS = st.text(alphabet=st.sampled_from('ab:"\\é'), min_size=1, max_size=4)


def _encode(pairs: list[tuple[str, object]], escape: bool) -> bytes:
    """A JSON object written pair by pair (so keys may repeat); ``escape``: non-ASCII as \\u."""
    body = ", ".join(f"{json.dumps(k, ensure_ascii=escape)}: {json.dumps(v, ensure_ascii=escape)}" for k, v in pairs)
    return ("{" + body + "}").encode()


@hsettings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.tuples(_KEYS, _SCALARS), min_size=1, max_size=6), st.booleans())
def test_repeated_keys_are_found_whatever_the_values(pairs, escape):
    """Oracle: the pairs themselves. A repeated key is always ``duplicate_key``; distinct keys
    (colons, quotes and escapes in keys and values included) never are."""
    from live.errors import PayloadError

    raw = _encode(pairs, escape)
    keys = [k for k, _ in pairs]
    try:
        decode(raw, device_id=WATER, channel="telemetry", kind=KINDS["meter_water"], now=NOW)
        reason = "applied"
    except PayloadError as exc:
        reason = exc.reason
    assert (reason == "duplicate_key") == (len(set(keys)) != len(keys)), (raw, reason)


@hsettings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=300) | st.builds(lambda pairs: _encode(pairs, False),
                                           st.lists(st.tuples(_KEYS | st.sampled_from(["ts", "seq", "volume_m3"]),
                                                              _SCALARS), max_size=6)))
def test_any_bytes_end_in_a_reading_or_a_known_reason(raw):
    from live.errors import PayloadError
    from live.ingest import DEAD_LETTER_REASONS

    try:
        decode(raw, device_id=WATER, channel="telemetry", kind=KINDS["meter_water"], now=NOW)
    except PayloadError as exc:
        assert exc.reason in DEAD_LETTER_REASONS and exc.reason != "internal_error"
        assert isinstance(exc.detail, str) and len(exc.detail) < 2500


def test_size_caps_apply_before_parsing(tmp_path):
    from live.ingest import MAX_TOPIC_CHARS, Pipeline
    from live.registry import DeviceRegistry
    from live.store import LiveStore

    store = LiveStore(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.create()
    p = Pipeline(DeviceRegistry.from_community(make_community("site1")), store=store, clock=lambda: NOW)
    big = b'{"ts": 1795000000, "detail": "' + "é".encode() * MAX_PAYLOAD_BYTES + b'"}'
    assert p.handle(f"twin/site1/{WATER}/telemetry", big) == "oversized"
    assert p.handle("twin/site1/" + "d" * 100_000 + "/telemetry", b"{}") == "bad_topic"
    assert p.handle("twin/site1/" + "d" * (MAX_TOPIC_CHARS - 21) + "/telemetry", b"{}") == "unknown_device"
    p.flush()
    rows = {r["reason"]: r for r in store.dead_letters()}
    assert rows["oversized"]["payload_bytes"] == len(big) and len(rows["oversized"]["payload"]) <= 4096
    assert rows["oversized"]["payload"].startswith('{"ts": 1795000000, "detail": "éé')
    assert len(rows["bad_topic"]["topic"]) == 512 and "exceeds 512" in rows["bad_topic"]["detail"]
    store.dispose()


# -- through Mosquitto ------------------------------------------------------------------
def _ts_with_foreign_digit(draw) -> str:
    base = "2026-11-18T19:00:00+08:00"
    positions = [i for i, ch in enumerate(base) if ch.isdigit()]
    i = draw(st.sampled_from(positions))
    digit = draw(st.characters(categories=["Nd"]).filter(lambda c: not c.isascii()))
    return base[:i] + digit + base[i + 1:]


@st.composite
def bad_message(draw, now: float):
    """(device, channel, raw payload, expected reason): bad by construction."""
    family = draw(st.sampled_from([
        "seq_high", "seq_low", "int_field", "float_field", "huge_float", "inf_literal", "foreign_ts",
        "foreign_number_text", "dup_key", "invalid_utf8", "nan", "deep", "unknown_field", "random_text_ts"]))
    ts = now - draw(st.floats(1, 3600))
    if family == "seq_high":
        seq = draw(st.integers(2**63, 2**80) | st.sampled_from([2**63, 2**64, 2**64 - 1, 10**400]))
        return WATER, "telemetry", b'{"ts": %r, "seq": %d, "volume_m3": 1.0}' % (ts, seq), "out_of_range"
    if family == "seq_low":
        seq = draw(st.integers(-(2**80), -1) | st.sampled_from([-1, -(2**63), -(2**63) - 1]))
        return WATER, "telemetry", b'{"ts": %r, "seq": %d, "volume_m3": 1.0}' % (ts, seq), "out_of_range"
    if family == "int_field":
        name, lo, hi = draw(st.sampled_from([("floor", -10, 200), ("trips", 0, 10**9), ("door_cycles", 0, 10**10),
                                             ("fault_code", 0, 9999)]))
        v = draw(st.integers(hi + 1, 2**70) | st.integers(-(2**70), lo - 1))
        return ELEV, "telemetry", b'{"ts": %r, "%s": %d}' % (ts, name.encode(), v), "out_of_range"
    if family == "float_field":
        v = draw(st.floats(1e7, 1e300, exclude_min=True) | st.floats(-1e300, -1e-300))
        return WATER, "telemetry", b'{"ts": %r, "volume_m3": %r}' % (ts, v), "out_of_range"
    if family == "huge_float":
        v = draw(st.floats(1e300, 1.7e308))
        return ELEV, "telemetry", b'{"ts": %r, "load_kg": %r}' % (ts, v), "out_of_range"
    if family == "inf_literal":
        exp = draw(st.integers(309, 100_000))
        return WATER, "telemetry", b'{"ts": %r, "volume_m3": 1e%d}' % (ts, exp), "not_finite"
    if family == "foreign_ts":
        return WATER, "telemetry", json.dumps({"ts": _ts_with_foreign_digit(draw), "volume_m3": 1.0}).encode(), "bad_ts"
    if family == "foreign_number_text":
        digits = draw(st.text(st.characters(categories=["Nd"]), min_size=1, max_size=6))
        return WATER, "telemetry", json.dumps({"ts": ts, "volume_m3": digits}).encode(), "wrong_type"
    if family == "dup_key":
        key = draw(st.sampled_from(["ts", "volume_m3", "seq"]))
        return WATER, "telemetry", b'{"ts": %r, "seq": 1, "volume_m3": 1.0, "%s": 2}' % (ts, key.encode()), "duplicate_key"
    if family == "invalid_utf8":
        junk = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]))
        return WATER, "telemetry", b'{"ts": %r, "volume_m3": 1.0, "x": "%s"}' % (ts, junk), "not_json"
    if family == "nan":
        lit = draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity"]))
        return WATER, "telemetry", b'{"ts": %r, "volume_m3": %s}' % (ts, lit), "not_finite"
    if family == "deep":
        n = draw(st.integers(1025, 20_000))
        return WATER, "telemetry", b'{"ts": %r, "volume_m3": %s%s}' % (ts, b"[" * n, b"]" * n), "too_deep"
    if family == "unknown_field":
        key = draw(st.text(st.characters(codec="utf-8"), min_size=1, max_size=20).filter(
            lambda k: k not in ("ts", "seq") and k not in KINDS["meter_water"].field_names))
        return WATER, "telemetry", json.dumps({"ts": ts, "volume_m3": 1.0, key: 1}).encode(), "unknown_field"
    text = draw(st.text(min_size=1, max_size=40).filter(lambda t: not t.strip().isascii() or not any(c.isdigit() for c in t)))
    return WATER, "telemetry", json.dumps({"ts": text, "volume_m3": 1.0}).encode(), "bad_ts"


def hand_picked(site: str, now: float) -> list[tuple[str, bytes, str]]:
    """(topic, payload, reason): every dead-letter reason a device can cause over MQTT.

    Not here: ``wrong_site`` (the service subscribes only its own site's topics, so the
    broker never delivers another site's message; covered in test_live_pipeline),
    ``storage_rejected`` (needs a row that passes validation; see test_live_storage_bounds)
    and ``internal_error`` (a bug)."""
    w = f"twin/{site}/{WATER}/telemetry"
    e = f"twin/{site}/{ELEV}/event"
    return [
        (w, b"x" * (MAX_PAYLOAD_BYTES + 1), "oversized"),
        (f"twin/{site}/{WATER}/other", b"{}", "bad_topic"),
        (f"twin/{site}/" + "d" * 600 + "/telemetry", b"{}", "bad_topic"),
        (f"twin/{site}/nobody/telemetry", b"{}", "unknown_device"),
        (f"twin/{site}/B1-toaster/telemetry", b'{"ts": 1}', "unknown_kind"),
        (w, b"not json", "not_json"),
        (w, b"[1]", "not_object"),
        (w, b'{"volume_m3": 1}', "missing_ts"),
        (w, b'{"ts": "yesterday", "volume_m3": 1}', "bad_ts"),
        (w, b'{"ts": %r, "volume_m3": 1}' % (now + 3600), "future_ts"),
        (w, b'{"ts": %r, "volume_m3": 1}' % (now - 40 * 86400), "stale_ts"),
        (w, b'{"ts": %r, "volume_m3": true}' % now, "wrong_type"),
        (w, b'{"ts": %r, "volume_m3": NaN}' % now, "not_finite"),
        (w, b'{"ts": %r, "volume_m3": -5}' % now, "out_of_range"),
        (w, b'{"ts": %r, "volume_m3": 1, "pressure": 2}' % now, "unknown_field"),
        (e, b'{"ts": %r, "event": "explode"}' % now, "unknown_event"),
        (e, b'{"ts": %r}' % now, "missing_field"),
        (w, b'{"ts": %r}' % now, "empty"),
        (w, b'{"ts": %r, "volume_m3": 1, "volume_m3": 1}' % now, "duplicate_key"),
        (w, b'{"ts": %r, "volume_m3": %s}' % (now, b"[" * 2000 + b"]" * 2000), "too_deep"),
        (w, b'{"ts": %r, "seq": 9223372036854775808, "volume_m3": 1}' % now, "out_of_range"),
    ]


@pytest.mark.mqtt
def test_fuzz_through_mosquitto_dead_letters_each_bad_message_once(mqtt_url, db_url, tmp_path):
    from fastapi.testclient import TestClient

    from services.app import create_app
    from services.live_component import LiveComponent
    from services.settings import Settings

    site = f"z{uuid.uuid4().hex[:8]}"
    c = make_community(site)
    from twin.model import Device

    c.devices.append(Device("B1-toaster", "toaster", "toaster", "B1", "B1-F01", "B1-F01-lobby"))
    settings = Settings(mqtt_url=mqtt_url, db_url=db_url, data_dir=tmp_path / "data")
    comp = LiveComponent(settings, c, client_id=f"ing-{site}")
    app = create_app(settings, community=c, components=[comp])
    pub = Publisher(mqtt_url)
    expected: Counter = Counter()
    sent = {"good": 0, "bad": 0, "duplicate": 0, "late": 0}
    clock = {"t": time.time() - 3000.0, "seq": 0}
    started = time.monotonic()

    def good(device: str) -> bytes:
        clock["t"] += 0.01
        clock["seq"] += 1
        body = {"ts": clock["t"], "seq": clock["seq"], **({"volume_m3": float(clock["seq"])} if device == WATER else {"floor": 3})}
        return json.dumps(body).encode()

    with TestClient(app) as client:
        p = comp.pipeline

        def send_and_check(bad: list[tuple[str, bytes, str]]) -> None:
            last_good = None
            for topic, raw, reason in bad:
                pub.send(topic, raw)
                expected[reason] += 1
                sent["bad"] += 1
                last_good = good(WATER)
                pub.send(f"twin/{site}/{WATER}/telemetry", last_good)
                sent["good"] += 1
            pub.send(f"twin/{site}/{WATER}/telemetry", last_good)      # QoS 1 redelivery look-alike
            expected["duplicate"] += 1
            sent["duplicate"] += 1
            last_ts = json.loads(last_good)["ts"]
            # older than the last applied one: late (kept for metering), never applied
            pub.send(f"twin/{site}/{WATER}/telemetry", b'{"ts": %r, "volume_m3": 1}' % (last_ts - 1))
            sent["late"] += 1
            pub.wait(120)
            total = sum(sent.values())
            wait_until(lambda: p.stats()["received"] == total and p.pending == 0, timeout=120, what=f"{total} messages")
            s = p.stats()
            assert s["applied"] == sent["good"] and s.get("late", sent["late"]) == sent["late"], s
            assert s["dead_letters"] == dict(sorted(expected.items()))
            assert client.get("/api/health").status_code == 200

        send_and_check(hand_picked(site, time.time()))

        @hsettings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(st.data())
        def generated(data):
            now = time.time()
            batch = data.draw(st.lists(bad_message(now), min_size=20, max_size=60))
            send_and_check([(f"twin/{site}/{dev}/{ch}", raw, reason) for dev, ch, raw, reason in batch])

        generated()
        store = comp.store
        wait_until(lambda: store.count() == sent["good"] + sent["late"], timeout=30,
                   what="every good (and late) reading stored")
        stored = Counter()
        with store.engine.connect() as conn:
            import sqlalchemy as sa

            for (reason,) in conn.execute(sa.select(dead_letters.c.reason)):
                stored[reason] += 1
        assert stored == Counter({r: n for r, n in expected.items() if r != "duplicate"})
        assert p.state.get(WATER).values["volume_m3"] == float(clock["seq"])
        assert client.get("/api/health").status_code == 200
    pub.close()
    elapsed = time.monotonic() - started
    print(f"\nfuzz[{db_url.split(':')[0]}]: {sum(sent.values())} messages ({sent['good']} good, {sent['bad']} bad, "
          f"{sent['duplicate']} duplicates), {sum(stored.values())} dead letters stored, {elapsed:.1f} s")
