"""Alarm rules and lifecycle on hand-made timelines (event time, no broker)."""

from __future__ import annotations

import json

import pytest

from live.alarms import AlarmBook, WorkOrderRequest, WorkOrderSink
from live.errors import AlarmError, RulesError
from live.ingest import Pipeline
from live.registry import DeviceRegistry
from live.rules import DEFAULT_RULES_PATH, RuleEngine, load_rules, parse_rules
from live.state import LiveState
from tests.live.common import make_community

T0 = 1_795_000_000.0

RULES = {
    "rules": [
        {"id": "leak", "kinds": ["leak_sensor"], "condition": {"field": "leak", "op": "==", "value": True},
         "for_s": 30, "severity": "major", "message": "leak at {device_id} in {where}",
         "work_order": {"category": "给排水", "priority": "紧急"}},
        {"id": "smoke", "kinds": ["smoke_detector"], "condition": {"field": "smoke", "value": True}},
        {"id": "rise", "kinds": ["temp_humidity"], "rate": {"field": "temperature_c", "window_s": 60, "rise": 5}},
        {"id": "hot", "kinds": ["temp_humidity"], "condition": {"field": "temperature_c", "op": ">", "value": 50}},
        {"id": "fire", "all_of": ["smoke", "rise"], "window_s": 120, "severity": "critical", "drill": True},
        {"id": "fault", "kinds": ["elevator_controller"], "event": ["fault"], "clear_event": "fault_cleared"},
        {"id": "offline", "kinds": ["elevator_controller", "leak_sensor"], "offline": True},
    ]
}


class Orders:
    """A WorkOrderSink recording requests."""

    def __init__(self):
        self.requests: list[WorkOrderRequest] = []

    def open_work_order(self, request: WorkOrderRequest) -> str | None:
        self.requests.append(request)
        return f"WO-{len(self.requests)}"


class Timeline:
    """Feeds messages at given event times; the receiver clock follows the timeline."""

    def __init__(self, rules=RULES, community=None):
        self.c = community or make_community("tl")
        self.now = T0
        reg = DeviceRegistry.from_community(self.c)
        self.state = LiveState(reg)
        self.orders = Orders()
        self.transitions = []
        self.book = AlarmBook(on_change=lambda a, t: self.transitions.append((a.rule_id, t, a.key)),
                              work_orders=self.orders)
        self.engine = RuleEngine(parse_rules(rules), self.state, self.book)
        self.p = Pipeline(reg, self.state, rules=self.engine, clock=lambda: self.now)

    def send(self, t, device, channel="telemetry", **values):
        self.now = T0 + t
        out = self.p.handle(f"twin/tl/{device}/{channel}", json.dumps({"ts": T0 + t, **values}).encode())
        assert out == "applied", out

    def tick(self, t):
        self.now = T0 + t
        self.p.tick(T0 + t)

    def alarms(self, rule=None, state=None):
        return [a for a in self.book.list(state) if rule is None or a.rule_id == rule]


def test_orders_sink_satisfies_protocol():
    assert isinstance(Orders(), WorkOrderSink)


def test_leak_must_last_30_s_before_the_alarm():
    tl = Timeline()
    tl.send(0, "B3-F02-leak", leak=True)
    tl.tick(29.9)
    assert tl.alarms("leak") == []
    tl.tick(30.5)
    [a] = tl.alarms("leak")
    assert a.state == "raised" and a.raised_at == T0 + 30  # the moment 30 s had passed
    assert a.device_id == "B3-F02-leak" and a.building == "B3" and a.storey == "B3-F02"
    assert a.message == "leak at B3-F02-leak in Building 3 F2 Lobby"   # display names of the place
    # one work order, with the place
    assert len(tl.orders.requests) == 1 and a.work_order_id == "WO-1"
    req = tl.orders.requests[0]
    assert (req.category, req.priority, req.space) == ("给排水", "紧急", "B3-F02-lobby")
    # repeated wet readings and ticks: still one alarm (dedup), occurrences not re-raised
    tl.send(60, "B3-F02-leak", leak=True)
    tl.tick(90)
    assert len(tl.alarms("leak")) == 1 and len(tl.orders.requests) == 1
    tl.send(100, "B3-F02-leak", leak=False)
    [a] = tl.alarms("leak")
    assert a.state == "cleared" and a.cleared_at == T0 + 100


def test_short_leak_never_alarms():
    tl = Timeline()
    tl.send(0, "B3-F03-leak", leak=True)
    tl.send(20, "B3-F03-leak", leak=False)
    tl.tick(100)
    assert tl.alarms() == []


def test_lifecycle_raised_acknowledged_cleared_with_who_and_when():
    tl = Timeline()
    tl.send(0, "B3-F05-smoke", smoke=True)
    [a] = tl.alarms("smoke")
    assert a.state == "raised"
    tl.book.acknowledge(a.id, by="operator Li", at=T0 + 5, note="on my way")
    assert (a.state, a.acknowledged_by, a.acknowledged_at, a.ack_note) == ("acknowledged", "operator Li", T0 + 5, "on my way")
    with pytest.raises(AlarmError, match="already acknowledged by 'operator Li'"):
        tl.book.acknowledge(a.id, by="someone else", at=T0 + 6)
    with pytest.raises(AlarmError, match="no alarm"):
        tl.book.acknowledge("nope", by="x", at=T0)
    with pytest.raises(AlarmError, match="by=''"):
        tl.book.acknowledge(a.id, by=" ", at=T0)
    tl.send(10, "B3-F05-smoke", smoke=False)
    assert a.state == "cleared" and a.cleared_at == T0 + 10
    # next smoke: a NEW alarm (the old one stays cleared)
    tl.send(20, "B3-F05-smoke", smoke=True)
    alarms = tl.alarms("smoke")
    assert len(alarms) == 2 and alarms[0].state == "raised" and alarms[0].id != a.id
    assert [t for r, t, _ in tl.transitions if r == "smoke"] == ["raised", "acknowledged", "cleared", "raised"]


def test_cleared_before_ack_can_still_be_acknowledged():
    tl = Timeline()
    tl.send(0, "B3-F05-smoke", smoke=True)
    tl.send(1, "B3-F05-smoke", smoke=False)
    [a] = tl.alarms("smoke")
    tl.book.acknowledge(a.id, by="Wang", at=T0 + 60)
    assert a.state == "cleared" and a.acknowledged_by == "Wang"


def test_fire_needs_smoke_and_temperature_rise_in_the_same_space():
    tl = Timeline()
    # smoke on storey 12 and a temperature rise on storey 11: no fire
    tl.send(0, "B3-F12-smoke", smoke=True)
    tl.send(0, "B3-F11-temp", temperature_c=22.0)
    tl.send(30, "B3-F11-temp", temperature_c=29.0)
    assert tl.alarms("rise") and tl.alarms("fire") == []
    # rise of 4.9 °C in 60 s in the same space: not yet
    tl.send(40, "B3-F12-temp", temperature_c=22.0)
    tl.send(70, "B3-F12-temp", temperature_c=26.9)
    assert tl.alarms("fire") == []
    tl.send(90, "B3-F12-temp", temperature_c=28.0)   # +6 within 60 s
    [fire] = tl.alarms("fire")
    assert fire.space == "B3-F12-lobby" and fire.building == "B3" and fire.severity == "critical"
    assert fire.raised_at == T0 + 90
    assert fire.drill == {"building": "B3", "storey": "B3-F12", "blocked_spaces": ["B3-F12-lobby"],
                          "reason": fire.drill["reason"], "alarm_id": fire.id}
    # while smoke persists the fire alarm stays open even after the rise window passed
    tl.tick(500)
    assert tl.alarms("fire")[0].state == "raised"
    tl.send(600, "B3-F12-smoke", smoke=False)
    tl.send(601, "B3-F12-temp", temperature_c=28.0)
    tl.tick(800)
    assert tl.alarms("fire")[0].state == "cleared"


def test_rate_rule_falls_out_of_window():
    tl = Timeline()
    tl.send(0, "B3-F07-temp", temperature_c=20.0)
    tl.send(61, "B3-F07-temp", temperature_c=25.5)  # the 20.0 point is older than 60 s
    assert tl.alarms("rise") == []


def test_event_rule_and_offline_rule():
    tl = Timeline()
    tl.send(0, "B3-elev-1", channel="event", event="fault", fault_code=12)
    tl.send(5, "B3-elev-1", channel="event", event="fault", fault_code=12)
    [f] = tl.alarms("fault")
    assert f.state == "raised" and f.occurrences == 1
    tl.send(50, "B3-elev-1", channel="event", event="fault_cleared")
    assert f.state == "cleared"
    # last will → offline alarm, next message → cleared
    tl.send(60, "B3-elev-1", channel="status", online=False)
    [o] = tl.alarms("offline")
    assert o.state == "raised" and o.device_id == "B3-elev-1"
    tl.send(70, "B3-elev-1", floor=1)
    assert o.state == "cleared"
    # heartbeat timeout (60 s for elevators) → offline alarm
    tl.tick(200)
    assert [a.state for a in tl.alarms("offline")] == ["raised", "cleared"]


def test_default_rules_load_and_bad_rules_are_named(tmp_path):
    ids = [r.id for r in load_rules(DEFAULT_RULES_PATH)]
    assert {"water_leak", "fire", "device_offline"} <= set(ids)
    cases = [
        ({"rules": [{"id": "a", "condition": {"field": "x", "value": 1}, "rate": {}}]}, "exactly one of"),
        ({"rules": [{"id": "a", "kinds": ["toaster"], "offline": True}]}, "kind='toaster'"),
        ({"rules": [{"id": "a", "kinds": ["leak_sensor"], "condition": {"field": "lek", "value": True}}]}, "field='lek'"),
        ({"rules": [{"id": "a", "offline": True, "for_s": -5}]}, "for_s=-5"),
        ({"rules": [{"id": "a", "offline": True, "severity": "apocalyptic"}]}, "severity='apocalyptic'"),
        ({"rules": [{"id": "a", "all_of": ["b", "c"]}]}, "unknown rule 'b'"),
        ({"rules": [{"id": "a", "offline": True}, {"id": "a", "offline": True}]}, "duplicate rule id"),
        ({"rules": [{"id": "a", "condition": {"field": "x", "op": "~", "value": 1}}]}, "op='~'"),
        ({"rules": [{"id": "a", "offline": True, "colour": 1}]}, "unknown key"),
        ({"alarms": []}, "list under 'rules'"),
    ]
    for doc, msg in cases:
        with pytest.raises(RulesError, match=msg.replace("(", r"\(")):
            parse_rules(doc)
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules: [ {id: a, offline: true")
    with pytest.raises(RulesError, match="rules.yaml: not valid yaml"):
        load_rules(bad)
    good = tmp_path / "rules.json"
    good.write_text(json.dumps(RULES))
    assert [r.id for r in load_rules(good)] == [r["id"] for r in RULES["rules"]]


def test_count_rule_two_smoke_detectors_on_one_storey():
    from shapely.geometry import box

    from twin.model import Device, Space

    rules = {"rules": [
        {"id": "smoke", "kinds": ["smoke_detector"], "condition": {"field": "smoke", "value": True}},
        {"id": "confirmed", "count": {"rule": "smoke", "min_devices": 2}, "window_s": 120, "drill": True},
    ]}
    c = make_community("tl")
    c.spaces.append(Space("B3-F12-hall", "Hall", "B3-F12", "B3", box(40, 0, 50, 10), usage="elevator_hall"))
    c.devices.append(Device("B3-F12-smoke-2", "smoke_detector", "smoke 2", "B3", "B3-F12", "B3-F12-hall"))
    tl2 = Timeline(rules, community=c)
    tl2.send(0, "B3-F12-smoke", smoke=True)
    tl2.send(10, "B3-F11-smoke", smoke=True)          # another storey: does not count
    assert tl2.alarms("confirmed") == []
    tl2.send(50, "B3-F12-smoke-2", smoke=True)        # second detector, other space, same storey
    [a] = tl2.alarms("confirmed")
    assert a.storey == "B3-F12" and a.space is None and a.raised_at == T0 + 50 and a.drill["building"] == "B3"
    tl2.send(60, "B3-F12-smoke", smoke=False)
    assert a.state == "raised"                         # one detector still in alarm
    tl2.send(70, "B3-F12-smoke-2", smoke=False)
    tl2.tick(200)                                      # both quiet for longer than the window
    assert a.state == "cleared"
    with pytest.raises(RulesError, match="min_devices=1"):
        parse_rules({"rules": [rules["rules"][0], {"id": "x", "count": {"rule": "smoke", "min_devices": 1}}]})
    with pytest.raises(RulesError, match="scope='flat'"):
        parse_rules({"rules": [rules["rules"][0], {"id": "x", "count": {"rule": "smoke"}, "scope": "flat"}]})


def test_rule_texts_in_chinese_and_english_are_checked_and_filled():
    from live.errors import RulesError
    from live.rules import parse_rules

    doc = {"rules": [{"id": "leak", "kinds": ["leak_sensor"], "condition": {"field": "leak", "value": True},
                      "message": "Leak at {device_id}", "message_zh": "{device_id} 漏水", "message_en": "Leak at {device_id}"}]}
    [r] = parse_rules(doc)
    assert (r.message_zh, r.message_en) == ("{device_id} 漏水", "Leak at {device_id}")
    for bad in (5, "", "  "):
        with pytest.raises(RulesError, match="message_zh"):
            parse_rules({"rules": [dict(doc["rules"][0], message_zh=bad)]})
