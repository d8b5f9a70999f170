"""Alarm → work order through the durable consumer: no transaction in the ingestion lock,
one order per alarm whatever is redelivered or rolled back (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
import time

import pytest
import sqlalchemy as sa

from live.alarms import AlarmBook
from live.bus import EventBus
from live.events import alarm_event
from live.ingest import Pipeline
from live.registry import DeviceRegistry
from live.rules import DEFAULT_RULES_PATH, RuleEngine, load_rules
from live.state import LiveState
from live.store import LiveStore, alarms
from services.consumers import ConsumerRunner
from services.db import Database
from services.workorders.alarm_consumer import AlarmWorkOrderConsumer
from services.workorders.models import WorkOrder
from services.workorders.sink import AlarmWorkOrderSink
from tests.live.common import make_community, wait_until


def _orders(db: Database) -> list[tuple]:
    with db.engine.connect() as conn:
        return conn.execute(sa.select(WorkOrder.id, WorkOrder.alarm_id)).all()


def test_leak_alarm_opens_one_work_order_from_the_consumer(db_url):
    c = make_community("aw")
    db = Database(db_url)
    db.migrate()
    store = LiveStore(db.engine)
    bus = EventBus()
    book = AlarmBook(on_change=lambda a, t: bus.publish(alarm_event(a, t, kind=None)))
    bus.subscribe("alarm_store", lambda ev: store.save_alarm(ev["alarm"]), types=("alarm",))
    reg = DeviceRegistry.from_community(c)
    state = LiveState(reg)
    now = [time.time()]
    p = Pipeline(reg, state, store=store, rules=RuleEngine(load_rules(DEFAULT_RULES_PATH), state, book),
                 on_event=bus.publish, clock=lambda: now[0])
    # every transaction begun while the ingestion lock is held by the beginning thread
    in_lock: list[str] = []

    @sa.event.listens_for(db.engine, "begin")
    def _begin(conn):
        if p._lock._is_owned():
            in_lock.append(threading.current_thread().name)

    t0 = now[0]
    assert p.handle("twin/aw/B1-leak_sensor/telemetry", json.dumps({"ts": t0, "leak": True}).encode()) == "applied"
    now[0] = t0 + 31
    p.tick(t0 + 31)                       # the leak lasted 30 s: raised inside the lock
    p.flush()
    alarm = book.list("open")[0]
    assert alarm.work_order == {"title": alarm.message, "category": "给排水", "priority": "紧急",
                                "description": f"alarm {alarm.id} (water_leak, major)"}
    assert alarm.work_order_id is None   # nothing opened on the ingestion thread
    wait_until(lambda: store.load_alarms() and store.load_alarms()[0]["work_order"], what="the alarm stored")
    opened = []
    consumer = AlarmWorkOrderConsumer(AlarmWorkOrderSink(db, c), on_opened=lambda a, w: opened.append((a, w)))
    runner = ConsumerRunner(db.engine, consumer)

    # a crash after the order was opened but before the transaction committed: nothing stays
    real_apply = consumer.apply

    def crash(conn, rows):
        real_apply(conn, rows)
        raise RuntimeError("killed before commit")
    consumer.apply = crash
    with pytest.raises(RuntimeError):
        runner.step()
    assert _orders(db) == [] and opened == []
    consumer.apply = real_apply

    runner.drain()
    runner.drain()
    orders = _orders(db)
    assert [a for _, a in orders] == [alarm.id]
    assert opened == [(alarm.id, str(orders[0][0]))]
    # the alarm store saves an older copy of the record again (redelivery): still one order
    store.save_alarm({**alarm.to_record(), "work_order_id": None})
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(alarms.c.work_order_id)).scalar_one() == str(orders[0][0])
    runner.drain()
    assert len(_orders(db)) == 1
    # and a new transition of the alarm keeps the order too
    book.clear(alarm.key, t0 + 40)
    bus.stop()
    stored = store.load_alarms()[0]
    assert (stored["state"], stored["work_order_id"]) == ("cleared", str(orders[0][0]))
    assert in_lock == []
    db.dispose()


def test_a_confirmed_fire_without_a_device_opens_one_order_on_its_storey_across_a_restart(db_url):
    from shapely.geometry import box

    from twin.model import Device, Space

    c = make_community("cf")
    # a flat beside the lobby of B3 5F, with a second smoke detector: two detectors, one storey
    c.spaces.append(Space("B3-F05-501", "Flat 501", "B3-F05", "B3", box(20, 10, 30, 20), usage="apartment"))
    c.devices.append(Device("B3-F05-smoke-501", "smoke_detector", "smoke 501", "B3", "B3-F05", "B3-F05-501"))
    c.validate()
    db = Database(db_url)
    db.migrate()
    store = LiveStore(db.engine)
    bus = EventBus()
    book = AlarmBook(on_change=lambda a, t: bus.publish(alarm_event(a, t, kind=None)))
    bus.subscribe("alarm_store", lambda ev: store.save_alarm(ev["alarm"]), types=("alarm",))
    reg = DeviceRegistry.from_community(c)
    state = LiveState(reg)
    t0 = time.time()
    p = Pipeline(reg, state, store=store, rules=RuleEngine(load_rules(DEFAULT_RULES_PATH), state, book),
                 on_event=bus.publish, clock=lambda: t0 + 1)
    for dev in ("B3-F05-smoke", "B3-F05-smoke-501"):
        assert p.handle(f"twin/cf/{dev}/telemetry", json.dumps({"ts": t0, "smoke": True}).encode()) == "applied"
    p.flush()
    [fire] = [a for a in book.list("open") if a.rule_id == "fire_confirmed"]
    assert (fire.device_id, fire.space, fire.building, fire.storey) == (None, None, "B3", "B3-F05")
    wait_until(lambda: any(r["id"] == fire.id and r["work_order"] for r in store.load_alarms()), what="stored")
    for _restart in range(2):  # the service restarts: a new consumer on the same database
        runner = ConsumerRunner(db.engine, AlarmWorkOrderConsumer(AlarmWorkOrderSink(db, c)))
        runner.drain()
        store.save_alarm({**fire.to_record(), "work_order_id": None})   # redelivered by the store
        runner.drain()
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(WorkOrder.alarm_id, WorkOrder.space_id, WorkOrder.building_id)).all()
    # one order, for the confirmed fire, at the storey's lobby (a common space), in building B3
    assert rows == [(fire.id, "B3-F05-lobby", "B3")]
    bus.stop()
    db.dispose()
