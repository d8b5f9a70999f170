"""The ingestion pipeline without a broker: mapping, dedup, ordering, counters, no corruption."""

from __future__ import annotations

import json

import pytest

from live.ingest import Pipeline
from live.registry import DeviceRegistry, parse_topic
from live.errors import LiveError
from tests.live.common import VALID_TELEMETRY, make_community

NOW = 1_795_000_000.0


@pytest.fixture
def setup():
    c = make_community("site1")
    reg = DeviceRegistry.from_community(c)
    events = []
    p = Pipeline(reg, clock=lambda: NOW, on_event=events.append)
    return c, reg, p, events


def msg(**body) -> bytes:
    return json.dumps(body).encode()


def test_every_device_lands_on_its_space_storey_and_building(setup):
    c, reg, p, events = setup
    for dev in c.devices:
        body = VALID_TELEMETRY[dev.kind]
        assert p.handle(f"twin/site1/{dev.id}/telemetry", msg(ts=NOW, **body)) == "applied"
    assert p.stats()["applied"] == len(c.devices)
    for dev in c.devices:
        st = p.state.get(dev.id)
        assert (st.building, st.storey, st.space) == (dev.building_id, dev.storey_id, dev.space_id)
        assert st.online is True and st.last_ts == NOW
    ev = next(e for e in events if e["device_id"] == "B3-F12-smoke")
    assert ev["type"] == "telemetry" and ev["building"] == "B3" and ev["storey"] == "B3-F12"
    assert ev["space"] == "B3-F12-lobby" and ev["kind"] == "smoke_detector" and ev["ts"].startswith("2026-11-18T11:06:40")
    assert {d.id for d in reg.__iter__()} == {d.id for d in c.devices}
    assert [d.device_id for d in p.state.select(storey="B3-F12")] == ["B3-F12-smoke", "B3-F12-temp", "B3-F12-leak"]


def test_device_inherits_storey_and_building_from_its_space():
    c = make_community("site2")
    c.devices[0].storey_id = None
    c.devices[0].building_id = None
    info = DeviceRegistry.from_community(c).get(c.devices[0].id)
    assert (info.building, info.storey, info.space) == ("B1", "B1-F01", "B1-F01-lobby")


def test_topics_and_bad_topic_segments():
    assert parse_topic("twin/s/d/telemetry") == ("s", "d", "telemetry")
    for bad in ("twin/s/d", "twin/s/d/other", "x/s/d/telemetry", "twin//d/event", "twin/s/d/status/x"):
        assert parse_topic(bad) is None
    c = make_community("bad/site")
    with pytest.raises(LiveError, match="site='bad/site'"):
        DeviceRegistry.from_community(c)


def test_bad_input_never_changes_state_and_is_counted_by_reason(setup):
    c, reg, p, events = setup
    good = msg(ts=NOW, seq=1, volume_m3=10.0, flow_m3h=0.2)
    assert p.handle("twin/site1/B1-meter_water/telemetry", good) == "applied"
    before = p.state.get("B1-meter_water").to_dict()
    bad = {
        "not_json": b"{oops",
        "wrong_type": msg(ts=NOW + 1, volume_m3="11"),
        "not_finite": b'{"ts": %d, "volume_m3": NaN}' % (NOW + 2),
        "missing_ts": msg(volume_m3=12.0),
        "future_ts": msg(ts=NOW + 86400, volume_m3=13.0),
        "out_of_range": msg(ts=NOW + 3, volume_m3=-1.0),
        "oversized": msg(ts=NOW + 4, volume_m3=1.0, pad="x" * 70000),
        "unknown_field": msg(ts=NOW + 5, volume_m3=1.0, hack=1),
    }
    for reason, raw in bad.items():
        assert p.handle("twin/site1/B1-meter_water/telemetry", raw) == reason
    assert p.handle("twin/site1/ghost/telemetry", good) == "unknown_device"
    assert p.handle("twin/other/B1-meter_water/telemetry", good) == "wrong_site"
    assert p.handle("twin/site1/B1-meter_water/bogus", good) == "bad_topic"
    assert p.state.get("B1-meter_water").to_dict() == before
    s = p.stats()
    assert s["received"] == 12 and s["applied"] == 1 and s["dead_lettered"] == 11
    assert s["dead_letters"] == {**{r: 1 for r in bad}, "unknown_device": 1, "wrong_site": 1, "bad_topic": 1}
    assert [d["reason"] for d in p.recent_dead][:2] == ["not_json", "wrong_type"]
    dl = [e for e in events if e["type"] == "dead_letter"]
    assert len(dl) == 11 and dl[0]["device_id"] == "B1-meter_water"


def test_duplicates_are_dropped_idempotently(setup):
    c, reg, p, events = setup
    raw = msg(ts=NOW, seq=7, volume_m3=10.0)
    assert p.handle("twin/site1/B1-meter_water/telemetry", raw) == "applied"
    assert p.handle("twin/site1/B1-meter_water/telemetry", raw) == "duplicate"
    # same ts, other seq: a distinct message
    assert p.handle("twin/site1/B1-meter_water/telemetry", msg(ts=NOW, seq=8, volume_m3=10.5)) == "applied"
    # same ts + seq on another channel is another message
    assert p.handle("twin/site1/B1-meter_water/status", msg(ts=NOW, seq=7, online=True)) == "applied"
    s = p.stats()
    assert (s["applied"], s["duplicates"], s["dead_letters"]) == (3, 1, {"duplicate": 1})
    assert p.state.get("B1-meter_water").values["volume_m3"] == 10.5


def test_out_of_order_never_rolls_state_back(setup):
    c, reg, p, events = setup
    topic = "twin/site1/B1-meter_electricity/telemetry"
    assert p.handle(topic, msg(ts=NOW, seq=2, energy_kwh=200.0)) == "applied"
    # a late reading (a concentrator's backlog) is kept for history and metering, not applied
    assert p.handle(topic, msg(ts=NOW - 60, seq=1, energy_kwh=199.0)) == "late"
    assert p.state.get("B1-meter_electricity").values["energy_kwh"] == 200.0
    assert p.state.get("B1-meter_electricity").last_ts == NOW
    late = [e for e in events if e["type"] == "late"]
    assert len(late) == 1 and late[0]["values"] == {"energy_kwh": 199.0} and late[0]["changed"] == {}
    s = p.stats()
    assert (s["received"], s["applied"], s["late"], s["dead_lettered"]) == (2, 1, 1, 0)
    # the last will (status channel) has its own order: an older ts than telemetry is fine
    assert p.handle("twin/site1/B1-meter_electricity/status", msg(ts=NOW - 30, online=False)) == "applied"
    assert p.state.get("B1-meter_electricity").online is False
    assert p.handle(topic, msg(ts=NOW + 1, seq=3, energy_kwh=200.5)) == "applied"
    assert p.state.get("B1-meter_electricity").online is True


def test_heartbeat_timeout_marks_offline(setup):
    c, reg, p, events = setup
    p.handle("twin/site1/B3-elev-1/telemetry", msg(ts=NOW, floor=2))
    p.tick(NOW + 59)   # elevator controllers: offline after 60 s
    assert p.state.get("B3-elev-1").online is True
    p.tick(NOW + 61)
    assert p.state.get("B3-elev-1").online is False
    off = [e for e in events if e["type"] == "offline"]
    assert [e["device_id"] for e in off] == ["B3-elev-1"] and p.stats()["went_offline"] == 1


def test_unknown_kind_in_register_is_dead_lettered():
    c = make_community("site3")
    c.devices[0].kind = "toaster"
    p = Pipeline(DeviceRegistry.from_community(c), clock=lambda: NOW)
    assert p.handle(f"twin/site3/{c.devices[0].id}/telemetry", msg(ts=NOW, x=1)) == "unknown_kind"


def test_acks_wait_for_the_commit_and_go_out_once_per_batch(tmp_path):
    """With ``ack_many`` the tokens of a batch are acknowledged together, only after the write;
    a duplicate (already stored) is acknowledged at once; a failed write acknowledges nothing."""
    from live.store import LiveStore

    c = make_community("site1")
    store = LiveStore(f"sqlite:///{tmp_path / 'live.sqlite'}")
    store.create()
    p = Pipeline(DeviceRegistry.from_community(c), store=store, clock=lambda: NOW, batch_size=10**6)
    calls: list[list] = []
    p.ack_many = lambda tokens: calls.append(list(tokens))
    topic = "twin/site1/B1-meter_water/telemetry"
    assert p.handle(topic, msg(ts=NOW, seq=1, volume_m3=1.0), ack=101) == "applied"
    assert p.handle(topic, b"not json", ack=102) == "not_json"
    assert p.handle(topic, msg(ts=NOW, seq=1, volume_m3=1.0), ack=103) == "duplicate"
    assert calls == [[103]]  # nothing of the batch acknowledged before its commit
    assert p.flush() == 1
    assert calls == [[103], [101, 102]] and store.count() == 1
    assert p.handle(topic, msg(ts=NOW + 1, seq=2, volume_m3=2.0), ack=104) == "applied"
    store.engine.dispose()
    real = store.write_batch

    def broken(*a, **k):
        raise RuntimeError("database away")
    store.write_batch = broken
    assert p.flush() == 0 and calls == [[103], [101, 102]]  # kept for the next flush
    store.write_batch = real
    assert p.flush() == 1 and calls[-1] == [104]
    store.dispose()


def test_iso_timestamps_match_the_standard_library_across_seconds():
    """iso() (which reuses the last formatted second) against datetime, including a
    millisecond that rounds up into the next second and going back in time."""
    from datetime import datetime, timezone

    from live.ingest import iso

    def expected(t):
        ms = round(t * 1000)
        dt = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"
    for t in [NOW, NOW + 0.25, NOW + 0.9996, NOW + 1.0004, NOW - 86400.5, 0.0, NOW + 0.001, NOW]:
        assert iso(t) == expected(t), t
    assert iso(None) is None
