"""Persistence on SQLite and PostgreSQL: batches, idempotency, state convergence, retention."""

from __future__ import annotations

import json

import pytest

from live.ingest import Pipeline
from live.payload import Reading
from live.registry import DeviceRegistry
from live.state import DeviceState
from live.store import LiveStore, alarms as alarms_table
from tests.live.common import make_community

T0 = 1_795_000_000.0


def reading(dev, ts, seq, **values):
    return Reading(device_id=dev, channel="telemetry", ts=ts, seq=seq, values=values, received_at=ts + 0.1)


@pytest.fixture
def store(db_url):
    s = LiveStore(db_url)
    s.create()
    yield s
    s.dispose()


def test_batch_write_is_idempotent(store):
    rows = [reading("m1", T0 + i, i, volume_m3=float(i)) for i in range(10)]
    assert store.write_batch(rows) == 10
    assert store.write_batch(rows[5:] + [reading("m1", T0 + 10, 10, volume_m3=10.0)]) == 1
    assert store.count() == 11
    hist = store.history("m1", start=T0 + 2, end=T0 + 5)
    assert [h["seq"] for h in hist] == [2, 3, 4] and hist[0]["values"] == {"volume_m3": 2.0}
    # no seq: stored as -1; the same ts again is a duplicate
    assert store.write_batch([reading("m2", T0, None, volume_m3=1.0)]) == 1
    assert store.write_batch([reading("m2", T0, None, volume_m3=1.0)]) == 0


def test_state_converges_newest_wins_per_field(store):
    # two workers write the same device out of order: the newest event time wins per field
    a = DeviceState("e1", "elevator_controller", "B3", "B3-F01", None, {"floor": 5}, last_ts=T0 + 10,
                    last_seen=T0 + 10, online=True)
    store.write_batch([reading("e1", T0 + 10, 2, floor=5)], states=[a])
    b = DeviceState("e1", "elevator_controller", "B3", "B3-F01", None, {"floor": 3}, last_ts=T0 + 5,
                    last_seen=T0 + 11, online=False)
    store.write_batch([reading("e1", T0 + 5, 1, floor=3, door="open")], states=[b])
    st = store.load_states()["e1"]
    assert st["values"] == {"floor": 5, "door": "open"}   # door only came in the older message
    assert st["last_ts"] == T0 + 10 and st["online"] is True


def test_dead_letters_are_stored_with_reason_and_payload(store):
    store.write_batch([], rejected=[{"received_at": T0, "topic": "twin/s/x/telemetry", "device_id": "x",
                                     "reason": "not_json", "detail": "bad", "payload": b"\xff{" + b"a" * 9000}])
    [d] = store.dead_letters()
    assert d["reason"] == "not_json" and d["payload_bytes"] == 9002 and len(d["payload"]) == 4096
    assert d["payload"].startswith("\ufffd{")


def test_retention_downsamples_into_buckets(store):
    # 900 s buckets; readings at 0, 300, 600 (bucket 0) and 900, 1200 (bucket 1), then a recent one
    b0 = (T0 // 900) * 900
    pts = [(0, 10.0), (300, 20.0), (600, 60.0), (900, 5.0), (1200, 7.0)]
    store.write_batch([reading("m1", b0 + dt, i, flow_m3h=v, leak=bool(i % 2)) for i, (dt, v) in enumerate(pts)])
    store.write_batch([reading("m1", b0 + 10 * 86400, 99, flow_m3h=1.0)])
    out = store.apply_retention(b0 + 10 * 86400, raw_keep_s=7 * 86400, bucket_s=900)
    assert out["downsampled"] == 5
    assert store.count() == 1
    flow = store.rollups("m1", "flow_m3h")
    assert [(r["bucket_start"], r["n"], r["min"], r["max"], r["last"]) for r in flow] == [
        (b0, 3, 10.0, 60.0, 60.0), (b0 + 900, 2, 5.0, 7.0, 7.0)]
    assert flow[0]["mean"] == pytest.approx(30.0) and flow[1]["mean"] == pytest.approx(6.0)
    leak = store.rollups("m1", "leak")
    assert [r["mean"] for r in leak] == [pytest.approx(1 / 3), pytest.approx(0.5)]
    # a late reading of an already rolled-up bucket merges into it
    store.write_batch([reading("m1", b0 + 450, 50, flow_m3h=90.0)])
    store.apply_retention(b0 + 10 * 86400, raw_keep_s=7 * 86400, bucket_s=900)
    r0 = store.rollups("m1", "flow_m3h")[0]
    assert (r0["n"], r0["max"], r0["mean"], r0["last"]) == (4, 90.0, pytest.approx(45.0), 60.0)


def test_pipeline_persists_and_restores_after_restart(store):
    c = make_community("st")
    reg = DeviceRegistry.from_community(c)
    now = [T0]
    p = Pipeline(reg, store=store, clock=lambda: now[0], batch_size=3)
    acks = []
    topic = "twin/st/B1-meter_water/telemetry"
    for i in range(5):
        p.handle(topic, json.dumps({"ts": T0 + i, "seq": i, "volume_m3": 1.0 + i}).encode(), ack=lambda i=i: acks.append(i))
    assert acks == [0, 1, 2]          # acked only once the batch of 3 was written
    p.handle("twin/st/B1-meter_water/telemetry", b"nope", ack=lambda: acks.append("bad"))
    p.flush()
    assert acks == [0, 1, 2, 3, 4, "bad"]
    assert store.count() == 5 and store.dead_letters()[0]["reason"] == "not_json"
    # a new pipeline (service restart) restores state and recognises redelivered messages
    p2 = Pipeline(reg, store=store, clock=lambda: now[0])
    assert p2.restore() >= 1
    assert p2.state.get("B1-meter_water").values["volume_m3"] == 5.0
    assert p2.handle(topic, json.dumps({"ts": T0 + 4, "seq": 4, "volume_m3": 5.0}).encode()) == "duplicate"
    assert p2.handle(topic, json.dumps({"ts": T0 + 3, "seq": 3, "volume_m3": 4.0}).encode()) == "duplicate"


def test_write_failure_keeps_the_batch_and_its_acks(tmp_path):
    db = tmp_path / "x.sqlite"
    s = LiveStore(f"sqlite:///{db}")
    s.create()
    c = make_community("wf")
    p = Pipeline(DeviceRegistry.from_community(c), store=s, clock=lambda: T0, batch_size=100)
    acks = []
    p.handle("twin/wf/B1-meter_water/telemetry", json.dumps({"ts": T0, "volume_m3": 1.0}).encode(), ack=lambda: acks.append(1))
    with s.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE live_telemetry RENAME TO moved")
    assert p.flush() == 0 and acks == [] and p.pending == 1 and p.stats()["write_errors"] == 1
    with s.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE moved RENAME TO live_telemetry")
    assert p.flush() == 1 and acks == [1] and s.count() == 1


def test_alarm_records_round_trip(store):
    from live.alarms import AlarmBook

    book = AlarmBook(on_change=lambda a, t: store.save_alarm(a.to_record()))
    a = book.raise_(rule_id="smoke", key="smoke:d1", severity="major", message="m", at=T0,
                    place={"device_id": "d1", "building": "B3", "storey": "B3-F12", "space": None}, drill=True)
    book.acknowledge(a.id, by="Li", at=T0 + 3)
    recs = store.load_alarms()
    assert len(recs) == 1 and recs[0]["state"] == "acknowledged" and recs[0]["acknowledged_by"] == "Li"
    assert recs[0]["drill"]["building"] == "B3"
    book2 = AlarmBook()
    book2.load(store.load_alarms(["raised", "acknowledged"]))
    assert book2.open_for("smoke:d1").id == a.id
    assert alarms_table.name == "live_alarms"
