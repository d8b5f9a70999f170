"""Integers bounded by their column; a batch the database refuses is bisected, never retried
forever; an unreachable database loses nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from live.ingest import Pipeline
from live.kinds import KINDS
from live.payload import payload_model
from live.registry import DeviceRegistry
from live.store import LiveStore, dead_letters, telemetry
from tests.live.common import make_community, wait_until

NOW = 1_795_000_000.0
#: PostgreSQL ``bigint`` / SQLite INTEGER (8 bytes): the documented range of live_telemetry.seq.
BIGINT_MIN, BIGINT_MAX = -9223372036854775808, 9223372036854775807
WATER = "B1-meter_water"
ELEV = "B3-elev-1"

#: (device, raw payload text after ts, expected outcome) — expectations from the column types
#: and the kinds' documented ranges, not from the code.
CASES = [
    (WATER, '"seq": 9223372036854775807', "applied"),          # largest bigint is stored
    (WATER, '"seq": 9223372036854775808', "out_of_range"),     # the issue's message
    (WATER, '"seq": 18446744073709551616', "out_of_range"),    # 2**64 (orjson reads a float)
    (WATER, '"seq": 18446744073709551615', "out_of_range"),    # 2**64 - 1
    (WATER, '"seq": -1', "out_of_range"),
    (WATER, '"seq": -9223372036854775808', "out_of_range"),
    (WATER, '"seq": -9223372036854775809', "out_of_range"),
    (WATER, '"seq": 1' + "0" * 400, "out_of_range"),
    (WATER, '"seq": 1' + "0" * 5000, "out_of_range"),          # beyond Python's int() text limit
    (WATER, '"seq": 1e19', "out_of_range"),
    (WATER, '"seq": 1e308', "out_of_range"),
    (WATER, '"seq": 1e309', "not_finite"),
    (WATER, '"seq": "1e309"', "wrong_type"),
    (WATER, '"seq": 1.5', "wrong_type"),
    (WATER, '"seq": -0', "applied"),                            # JSON -0 is the integer zero
    (WATER, '"volume_m3": 1e308', "out_of_range"),
    (WATER, '"volume_m3": 10000001', "out_of_range"),          # kind max 1e7
    (WATER, '"volume_m3": -0.0', "applied"),
    (WATER, '"volume_m3": -1', "out_of_range"),
    (WATER, '"volume_m3": 1' + "0" * 500, "out_of_range"),
    (ELEV, '"trips": 1000000001', "out_of_range"),              # kind max 1e9
    (ELEV, '"door_cycles": 9223372036854775808', "out_of_range"),
    (ELEV, '"floor": -11', "out_of_range"),
    (ELEV, '"floor": 200', "applied"),
    (ELEV, '"floor": 1' + "0" * 5000, "out_of_range"),
    (ELEV, '"state": 1' + "0" * 5000, "unknown_field"),
]


def _raw(dev: str, body: str, t: float) -> bytes:
    """The payload of a case: ``seq`` cases carry a valid value too (telemetry needs one)."""
    extra = (', "volume_m3": 1.0' if dev == WATER else ', "load_kg": 1.0') if body.startswith('"seq"') else ""
    return ('{"ts": %r, %s%s}' % (t, body, extra)).encode()


def _pipeline(db_url, site="site1"):
    store = LiveStore(db_url)
    store.create()
    p = Pipeline(DeviceRegistry.from_community(make_community(site)), store=store, clock=lambda: NOW,
                 batch_size=10**6)
    return p, store


@pytest.mark.parametrize("case", range(len(CASES)))
def test_every_number_is_bounded_by_its_column_and_kind(case):
    from live.payload import decode

    dev, body, expected = CASES[case]
    kind = KINDS["meter_water" if dev == WATER else "elevator_controller"]
    raw = _raw(dev, body, NOW)
    try:
        decode(raw, device_id=dev, channel="telemetry", kind=kind, now=NOW)
        got = "applied"
    except Exception as exc:  # PayloadError
        got = exc.reason
        assert len(exc.detail) < 400, "the detail names the value without dumping it"
        if got == "out_of_range":
            assert body.split(":")[0].strip('"') in exc.detail
    assert got == expected, body[:80]


def test_overflowing_integers_are_dead_lettered_and_good_messages_keep_flowing(db_url):
    p, store = _pipeline(db_url)
    acks = []
    p.ack_many = acks.extend
    expected_dead, applied, seq = {}, 0, 1000
    for i, (dev, body, expected) in enumerate(CASES):
        t = NOW - 1000 + i
        assert p.handle(f"twin/site1/{dev}/telemetry", _raw(dev, body, t), ack=f"bad{i}") == expected
        seq += 1
        good = {"ts": t + 0.5, "seq": seq, **({"volume_m3": 1.0} if dev == WATER else {"floor": 1})}
        assert p.handle(f"twin/site1/{dev}/telemetry", json.dumps(good).encode(), ack=f"good{i}") == "applied"
        applied += 1 + (expected == "applied")
        if expected != "applied":
            expected_dead[expected] = expected_dead.get(expected, 0) + 1
    p.flush()
    assert p.last_write_error is None
    assert sorted(acks) == sorted([f"bad{i}" for i in range(len(CASES))] + [f"good{i}" for i in range(len(CASES))])
    assert store.count() == applied
    assert store.count(dead_letters) == sum(expected_dead.values())
    with store.engine.connect() as conn:
        seqs = set(conn.execute(sa.select(telemetry.c.seq)).scalars())
    assert BIGINT_MAX in seqs and 0 in seqs
    with store.engine.connect() as conn:
        texts = [json.dumps(v) for v in conn.execute(sa.select(telemetry.c["values"])).scalars()]
    assert not any("-0.0" in t for t in texts), "negative zero is stored as zero"
    assert p.stats()["dead_letters"] == dict(sorted(expected_dead.items()))
    store.dispose()


@pytest.fixture
def lax_seq_bound():
    """Let ``seq`` up to 2**64 through validation, as the payload check did before it knew
    the column: the database itself must then refuse the row."""
    model = payload_model(KINDS["meter_water"], "telemetry")
    old = model.bounds
    model.bounds = {**old, "seq": (0, 2**64, "test: wider than the column")}
    yield
    model.bounds = old


def test_a_batch_the_database_refuses_is_bisected_and_only_the_bad_rows_dead_lettered(db_url, lax_seq_bound):
    p, store = _pipeline(db_url)
    events = []
    p.on_event = events.append
    acks = []
    p.ack_many = acks.extend
    topic = f"twin/site1/{WATER}/telemetry"
    bad_seqs = {7: 2**63, 23: 2**64 - 1}
    for i in range(40):
        seq = bad_seqs.get(i, i)
        assert p.handle(topic, json.dumps({"ts": NOW - 100 + i, "seq": seq, "volume_m3": float(i)}).encode(), ack=i) == "applied"
    assert p.handle(topic, b"garbage", ack=99) == "not_json"
    assert p.flush() == 38
    assert p.last_write_error is None and p.pending == 0
    assert sorted(acks) == list(range(40)) + [99]                 # everything acknowledged once
    assert store.count() == 38
    rows = store.dead_letters()
    rejected = [r for r in rows if r["reason"] == "storage_rejected"]
    assert len(rejected) == 2 and len(rows) == 3
    for r in rejected:
        assert r["device_id"] == WATER and r["topic"] == topic
        assert "\n" not in r["detail"] and len(r["detail"]) < 600
        assert json.loads(r["payload"])["seq"] in bad_seqs.values()
    s = p.stats()
    assert s["applied"] == 38 and s["dead_letters"] == {"not_json": 1, "storage_rejected": 2}
    assert sum(e["type"] == "dead_letter" and e["reason"] == "storage_rejected" for e in events) == 2
    # the next batch goes through untouched
    assert p.handle(topic, json.dumps({"ts": NOW, "seq": 500, "volume_m3": 50.0}).encode(), ack=500) == "applied"
    assert p.flush() == 1 and acks[-1] == 500
    store.dispose()


def test_a_row_failing_alone_for_another_reason_is_dead_lettered_after_the_cap(tmp_path):
    """A row the database refuses alone with an error that is not a data error (a driver
    failure on that row only) is retried, and dead-lettered on the third failure."""
    p, store = _pipeline(f"sqlite:///{tmp_path / 'db.sqlite'}")
    acks = []
    p.ack_many = acks.extend
    real = store.write_batch

    def picky(readings, rejected=(), states=()):
        readings = list(readings)
        if any(r.seq == 13 for r in readings):
            raise RuntimeError("row 13 upsets the database\nsecond line")
        return real(readings, rejected, states)
    store.write_batch = picky
    topic = f"twin/site1/{WATER}/telemetry"
    for i in range(20):
        p.handle(topic, json.dumps({"ts": NOW - 100 + i, "seq": i, "volume_m3": 1.0}).encode(), ack=i)
    assert p.flush() == 19 and p.pending == 1 and 13 not in acks
    assert p.flush() == 0 and p.pending == 1                   # second try alone
    p.flush()                                                  # third: dead-lettered
    assert p.pending == 0 and sorted(acks) == list(range(20))
    [dl] = store.dead_letters()
    assert dl["reason"] == "storage_rejected" and "failed 3 times" in dl["detail"] and "second line" not in dl["detail"]
    assert p.last_write_error is None
    store.dispose()


def _block_database(db_url, store):
    """Make the database refuse every write; return a function that lets it back."""
    if db_url.startswith("sqlite"):
        store.busy_timeout_ms = 50
        store.engine.dispose()
        path = db_url[len("sqlite:///"):]
        import sqlite3

        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN EXCLUSIVE")

        def release():
            holder.execute("ROLLBACK")
            holder.close()
        return release
    name = sa.engine.make_url(db_url).database
    from tests.conftest import PG_ADMIN_URL

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n "
                             "AND pid <> pg_backend_pid()"), {"n": name})
    store.engine.dispose()

    def release():
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
    return release


def test_an_unreachable_database_loses_nothing_and_backs_off(db_url):
    p, store = _pipeline(db_url)
    acks = []
    p.ack_many = acks.extend
    topic = f"twin/site1/{WATER}/telemetry"
    p.handle(topic, json.dumps({"ts": NOW - 50, "seq": 1, "volume_m3": 1.0}).encode(), ack=1)
    assert p.flush() == 1
    release = _block_database(db_url, store)
    try:
        for i in range(2, 30):
            p.handle(topic, json.dumps({"ts": NOW - 50 + i, "seq": i, "volume_m3": float(i)}).encode(), ack=i)
        p.handle(topic, b"[1, 2]", ack=1000)
        assert p.flush() == 0
        assert p.last_write_error is not None and p.pending == 29 and acks == [1]
        assert p.flush() == 0 and p.pending == 29                 # backing off: not even tried
        for _ in range(3):
            time.sleep(p.retry_max_s if p._retry_s >= p.retry_max_s else p._retry_s + 0.05)
            assert p.flush() == 0 and p.pending == 29
    finally:
        release()
    wait_until(lambda: p.flush() or p.pending == 0, timeout=30, what="the held batch written")
    assert p.pending == 0 and p.last_write_error is None
    assert sorted(acks) == list(range(1, 30)) + [1000]
    assert store.count() == 29 and [d["reason"] for d in store.dead_letters()] == ["not_object"]
    assert p.stats()["dead_letters"] == {"not_object": 1}
    store.dispose()


@pytest.mark.mqtt
def test_the_issue_message_through_mosquitto_keeps_the_service_healthy(mqtt_url, db_url, tmp_path):
    """``{"seq": 9223372036854775808}`` via a real broker: dead-lettered once, later good
    messages applied and acknowledged, health 200, and nothing redelivered after a restart."""
    from fastapi.testclient import TestClient

    from live.broker import parse_mqtt_url
    from live.client import MqttIngestor
    from services.app import create_app
    from services.live_component import LiveComponent
    from services.settings import Settings
    from tests.live.common import Publisher

    site = f"o{uuid.uuid4().hex[:8]}"
    c = make_community(site)
    settings = Settings(mqtt_url=mqtt_url, db_url=db_url, data_dir=tmp_path / "data")
    comp = LiveComponent(settings, c, client_id=f"ing-{site}")
    app = create_app(settings, community=c, components=[comp])
    pub = Publisher(mqtt_url)
    topic = f"twin/{site}/{WATER}/telemetry"
    try:
        with TestClient(app) as client:
            now = time.time()
            pub.send(topic, {"ts": now - 3, "seq": 1, "volume_m3": 1.0})
            pub.send(topic, b'{"ts": %r, "seq": 9223372036854775808, "volume_m3": 2.0}' % (now - 2))
            for i in range(2, 12):
                pub.send(topic, {"ts": now - 2 + i / 10, "seq": i, "volume_m3": float(i)})
            pub.wait()
            p = comp.pipeline
            wait_until(lambda: p.stats()["received"] == 12 and p.pending == 0, what="12 messages handled")
            wait_until(lambda: comp.store.count() == 11, what="11 stored readings")
            assert p.stats()["dead_letters"] == {"out_of_range": 1}
            [dl] = comp.store.dead_letters()
            assert dl["reason"] == "out_of_range" and "9223372036854775808" in dl["detail"]
            h = client.get("/api/health")
            assert h.status_code == 200 and h.json()["components"]["live"]["database"]["ok"] is True
            assert p.state.get(WATER).values["volume_m3"] == 11.0
        # same persistent session: every message was acknowledged, nothing comes back
        store = LiveStore(db_url)
        p2 = Pipeline(DeviceRegistry.from_community(c), store=store)
        ing = MqttIngestor(p2, parse_mqtt_url(mqtt_url), client_id=f"ing-{site}", flush_interval_s=0.05).start(wait_s=10)
        assert ing.subscribed.is_set()
        time.sleep(1.5)
        ing.stop()
        assert p2.stats()["received"] == 0 and store.count(dead_letters) == 1
        store.dispose()
    finally:
        pub.close()
