"""Ingestion against a real Mosquitto: mapping, bad input, service and broker restarts."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from live.broker import parse_mqtt_url
from live.client import MqttIngestor
from live.ingest import Pipeline
from live.registry import DeviceRegistry
from live.store import LiveStore
from tests.conftest import free_port
from tests.live.common import Publisher, make_community, start_mosquitto, wait_until

pytestmark = pytest.mark.mqtt


def _service(site_name: str, url: str, db: str, client_id: str):
    c = make_community(site_name)
    reg = DeviceRegistry.from_community(c)
    store = LiveStore(db)
    store.create()
    p = Pipeline(reg, store=store)
    p.restore()
    ing = MqttIngestor(p, parse_mqtt_url(url), client_id=client_id, flush_interval_s=0.05).start(wait_s=10)
    assert ing.subscribed.is_set(), ing.health()
    return c, p, ing, store


def test_messages_map_onto_the_twin_and_bad_input_is_dead_lettered(mqtt_url, tmp_path):
    site = f"m{uuid.uuid4().hex[:8]}"
    c, p, ing, store = _service(site, mqtt_url, f"sqlite:///{tmp_path / 'db.sqlite'}", f"ing-{site}")
    pub = Publisher(mqtt_url)
    try:
        now = time.time()
        base = f"twin/{site}"
        pub.send(f"{base}/B3-F12-smoke/telemetry", {"ts": now, "seq": 1, "smoke": False})
        pub.send(f"{base}/B1-meter_water/telemetry", {"ts": now, "seq": 1, "volume_m3": 10.0})
        bad = {
            "not_json": b"not json at all",
            "wrong_type": {"ts": now, "volume_m3": "ten"},
            "not_finite": b'{"ts": %f, "volume_m3": NaN}' % now,
            "missing_ts": {"volume_m3": 1.0},
            "future_ts": {"ts": now + 7 * 86400, "volume_m3": 1.0},
            "oversized": {"ts": now, "volume_m3": 1.0, "pad": "x" * (70 * 1024)},
            "duplicate": {"ts": now, "seq": 1, "volume_m3": 10.0},
        }
        late = {"ts": now - 100, "seq": 0, "volume_m3": 9.0}  # stored in the history, not applied
        for body in bad.values():
            pub.send(f"{base}/B1-meter_water/telemetry", body)
        pub.send(f"{base}/B1-meter_water/telemetry", late)
        pub.send(f"{base}/not-registered/telemetry", {"ts": now, "volume_m3": 1.0})
        pub.send(f"{base}/B1-meter_water/telemetry", {"ts": now + 1, "seq": 2, "volume_m3": 11.0})
        pub.wait()
        wait_until(lambda: p.stats()["received"] >= 12, what="12 messages")
        s = p.stats()
        assert s["applied"] == 3 and s["late"] == 1 and s["duplicates"] == 1
        assert s["dead_letters"] == {**{r: 1 for r in bad}, "unknown_device": 1}
        st = p.state.get("B3-F12-smoke")
        assert (st.building, st.storey, st.space, st.values) == ("B3", "B3-F12", "B3-F12-lobby", {"smoke": False})
        assert p.state.get("B1-meter_water").values["volume_m3"] == 11.0
        wait_until(lambda: store.count() == 4, what="3 applied + 1 late stored readings")
        reasons = sorted(d["reason"] for d in store.dead_letters())
        assert reasons == sorted([r for r in bad if r != "duplicate"] + ["unknown_device"])
    finally:
        pub.close()
        ing.stop()
        store.dispose()


def test_service_restart_loses_nothing_at_qos1(mqtt_url, tmp_path):
    site = f"r{uuid.uuid4().hex[:8]}"
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    cid = f"ing-{site}"
    c, p, ing, store = _service(site, mqtt_url, db, cid)
    pub = Publisher(mqtt_url)
    topic = f"twin/{site}/B1-meter_electricity/telemetry"
    try:
        t0 = time.time()
        for i in range(200):
            pub.send(topic, {"ts": t0 + i * 0.001, "seq": i, "energy_kwh": 100.0 + i})
        pub.wait()
        wait_until(lambda: p.stats()["applied"] == 200, what="first 200")
        ing.stop()
        store.dispose()
        # service down: 300 more messages are queued by the broker for the persistent session
        for i in range(200, 500):
            pub.send(topic, {"ts": t0 + i * 0.001, "seq": i, "energy_kwh": 100.0 + i})
        pub.wait()
        c2, p2, ing2, store2 = _service(site, mqtt_url, db, cid)
        try:
            wait_until(lambda: store2.count() == 500, what="500 stored readings after restart")
            seqs = [r["seq"] for r in store2.history("B1-meter_electricity", limit=1000)]
            assert seqs == list(range(500))
            assert p2.state.get("B1-meter_electricity").values["energy_kwh"] == 599.0
            assert p2.stats()["dead_lettered"] == 0
        finally:
            ing2.stop()
            store2.dispose()
    finally:
        pub.close()


def test_broker_restart_loses_nothing_at_qos1(tmp_path):
    port = free_port()
    url = f"mqtt://127.0.0.1:{port}"
    broker = start_mosquitto(tmp_path / "broker", port)
    site = f"b{uuid.uuid4().hex[:8]}"
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    c, p, ing, store = _service(site, url, db, f"ing-{site}")
    pub = Publisher(url)
    topic = f"twin/{site}/B1-meter_water/telemetry"
    t0 = time.time()
    sent = 0

    def send(n):
        nonlocal sent
        for _ in range(n):
            pub.send(topic, {"ts": t0 + sent * 0.001, "seq": sent, "volume_m3": float(sent)})
            sent += 1
    try:
        send(100)
        pub.wait()
        wait_until(lambda: p.stats()["applied"] == 100, what="first 100")
        # service away, messages queued in the broker, then the broker restarts (persistence)
        ing.stop()
        send(150)
        pub.wait()
        broker.terminate()
        broker.wait(timeout=10)
        wait_until(lambda: not pub.client.is_connected(), what="publisher to notice")
        broker = start_mosquitto(tmp_path / "broker", port)
        wait_until(lambda: pub.client.is_connected(), timeout=30, what="publisher reconnect")
        send(50)
        pub.wait(30)
        c2, p2, ing2, store2 = _service(site, url, db, f"ing-{site}")
        try:
            send(100)
            pub.wait()
            # the broker restarts again while the service is connected
            broker.terminate()
            broker.wait(timeout=10)
            broker = start_mosquitto(tmp_path / "broker", port)
            wait_until(lambda: pub.client.is_connected(), timeout=30, what="publisher reconnect")
            send(100)
            pub.wait(40)
            wait_until(lambda: ing2.connected.is_set(), timeout=40, what="ingestor reconnect")
            wait_until(lambda: store2.count() == sent, timeout=40, what=f"{sent} stored readings")
            assert [r["seq"] for r in store2.history("B1-meter_water", limit=10000)] == list(range(sent))
            assert sent == 500
        finally:
            ing2.stop()
            store2.dispose()
    finally:
        pub.close()
        broker.terminate()
        broker.wait(timeout=10)


def test_a_burst_is_read_in_order_and_every_message_acknowledged_once(mqtt_url, tmp_path):
    """A fast burst of 3,000 messages of mixed sizes (packets straddle the client's 64 KiB
    reads; more than one read burst and more than the Receive Maximum) while the service
    runs, then 900 more queued while it is away (a broker queues 1,000 per session by
    default): all applied in order, and every PUBACK reached the broker, so a later start
    of the same session gets nothing redelivered."""
    site = f"q{uuid.uuid4().hex[:8]}"
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    cid = f"ing-{site}"
    c, p, ing, store = _service(site, mqtt_url, db, cid)
    pub = Publisher(mqtt_url)
    topic = f"twin/{site}/B1-meter_electricity/telemetry"
    t0 = time.time()

    def send(lo, hi):
        for i in range(lo, hi):
            body = {"ts": t0 + i * 0.001, "seq": i, "energy_kwh": float(i)}
            if i % 7 == 0:  # valid JSON padded with whitespace: packets of up to ~20 KB
                pub.send(topic, json.dumps(body).encode() + b" " * (37 * i % 20000))
            else:
                pub.send(topic, body)
        pub.wait(60)
    try:
        send(0, 3000)
        wait_until(lambda: store.count() == 3000, timeout=60, what="3000 stored readings")
        ing.stop()
        store.dispose()
        send(3000, 3900)
        c2, p2, ing2, store2 = _service(site, mqtt_url, db, cid)
        try:
            wait_until(lambda: store2.count() == 3900, timeout=60, what="3900 stored readings")
            seqs = [r["seq"] for r in store2.history("B1-meter_electricity", limit=5000)]
            assert seqs == list(range(3900))
            assert p.stats()["dead_lettered"] == 0 and p2.stats()["dead_lettered"] == 0
            assert p2.stats()["received"] == 900
        finally:
            ing2.stop()
            store2.dispose()
        # everything was acknowledged: a new start of the same session receives nothing
        c3, p3, ing3, store3 = _service(site, mqtt_url, db, cid)
        try:
            time.sleep(1.5)
            assert p3.stats()["received"] == 0
        finally:
            ing3.stop()
            store3.dispose()
    finally:
        pub.close()
