"""The typed events (one schema) and the bus (bounded queues, slow subscribers)."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import jsonschema
import pytest

from live.alarms import AlarmBook
from live.bus import EventBus
from live.events import EVENT_TYPES, alarm_event, drill_event, event_schema, snapshot_event, validate_event
from live.ingest import Pipeline
from live.registry import DeviceRegistry
from live.rules import DEFAULT_RULES_PATH, RuleEngine, load_rules
from live.state import LiveState
from tests.conftest import REPO
from tests.live.common import VALID_TELEMETRY, make_community, payload, wait_until

NOW = 1_795_000_000.0


def _events() -> list[dict]:
    """Every event type the pipeline and the alarm book publish, from real messages."""
    c = make_community("ev")
    reg = DeviceRegistry.from_community(c)
    state = LiveState(reg)
    out: list[dict] = []
    book = AlarmBook(on_change=lambda a, t: out.extend([alarm_event(a, t, kind="smoke_detector")]
                                                       + ([drill_event(a, kind="smoke_detector")] if a.drill and t == "raised" else [])))
    p = Pipeline(reg, state, rules=RuleEngine(load_rules(DEFAULT_RULES_PATH), state, book),
                 on_event=out.append, clock=lambda: NOW)
    for kind, values in VALID_TELEMETRY.items():
        assert p.handle(f"twin/ev/B1-{kind}/telemetry", payload(NOW - 10, seq=1, **values)) == "applied"
    assert p.handle("twin/ev/B1-meter_water/telemetry", payload(NOW - 20, seq=0, volume_m3=1.0)) == "late"
    assert p.handle("twin/ev/B1-meter_water/event", payload(NOW, event="tamper")) == "applied"
    assert p.handle("twin/ev/B1-meter_water/status", payload(NOW, online=False, battery_pct=50)) == "applied"
    assert p.handle("twin/ev/B1-meter_water/telemetry", b"{") == "not_json"
    p.handle("twin/ev/B3-F02-smoke/telemetry", payload(NOW, smoke=True))
    p.handle("twin/ev/B3-F02-temp/telemetry", payload(NOW, temperature_c=70.0))
    p.tick(NOW + 3600 * 5)
    for a in book.list("open"):
        book.acknowledge(a.id, by="operator", at=NOW + 1)
    out.append(snapshot_event(devices=[s.to_dict() for s in state.select()], alarms=[], resync=False))
    return out


def test_every_published_event_matches_the_one_schema():
    jsonschema.Draft202012Validator.check_schema(event_schema())
    events = _events()
    seen = {e["type"] for e in events}
    assert seen >= {"telemetry", "event", "status", "late", "offline", "alarm", "dead_letter", "snapshot"}, seen
    for ev in events:
        validate_event(json.loads(json.dumps(ev)))
    transitions = {e["transition"] for e in events if e["type"] == "alarm"}
    assert {"raised", "acknowledged"} <= transitions


@pytest.mark.parametrize("broken", [
    {"type": "telemetry", "ts": "2026-11-18T11:06:41.250Z"},                       # no device keys
    {"type": "nonsense", "ts": "2026-11-18T11:06:41.250Z"},
    {"type": "dead_letter", "ts": "2026-11-18 11:06", "reason": "x", "topic": "t", "device_id": None, "detail": ""},
    {"type": "alarm", "ts": "2026-11-18T11:06:41.250Z", "transition": "exploded"},
])
def test_schema_refuses_malformed_events(broken):
    with pytest.raises(jsonschema.ValidationError):
        validate_event(broken)


def test_websocket_keys_of_today_are_kept():
    """Keys the viewer and the WebSocket tests read stay (extend, never rename)."""
    ev = next(e for e in _events() if e["type"] == "telemetry")
    assert {"type", "ts", "ts_epoch", "device_id", "kind", "building", "storey", "space", "values", "changed",
            "online", "seq"} <= set(ev)
    js = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "viewer" / "src").glob("*.js"))
    for t in re.findall(r'(?<!typeof )\b[a-z]+\.type === "([a-z_]+)"', js):
        assert t in EVENT_TYPES or t in ("state", "resync"), t


def test_docs_carry_the_schema():
    doc = (REPO / "docs" / "api-live.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- event-schema -->\n```json\n(.*?)\n```", doc, re.S)
    assert block is not None, "docs/api-live.md lacks the event JSON Schema block"
    assert json.loads(block.group(1)) == event_schema()


def test_slow_subscriber_never_slows_publishing_and_drops_only_its_own_events():
    bus = EventBus()
    release = threading.Event()
    fast, overflow = [], []
    bus.subscribe("slow", lambda ev: release.wait(), maxsize=10, on_overflow=overflow.append)
    bus.subscribe("fast", fast.append, maxsize=100_000)
    t = time.perf_counter()
    for i in range(20_000):
        bus.publish({"type": "telemetry", "i": i})
    elapsed = time.perf_counter() - t
    wait_until(lambda: len(fast) == 20_000, what="the fast subscriber got everything")
    assert [e["i"] for e in fast] == list(range(20_000))
    release.set()
    bus.stop()
    s = bus.stats()["subscribers"]
    # the slow one holds one event in its handler and 10 in the queue; the rest is dropped
    assert s["slow"]["dropped"] >= 20_000 - 11 and sum(overflow) == s["slow"]["dropped"]
    assert s["fast"]["dropped"] == 0
    assert elapsed < 60   # never blocked on the slow handler (which waited for release)


def test_subscriber_filters_types_and_names_are_unique():
    bus = EventBus()
    got = []
    bus.subscribe("alarms", got.append, types=("alarm",))
    bus.publish({"type": "telemetry"})
    bus.publish({"type": "alarm", "n": 1})
    wait_until(lambda: got, what="the alarm")
    assert got == [{"type": "alarm", "n": 1}]
    with pytest.raises(ValueError, match="name='alarms' is already registered"):
        bus.subscribe("alarms", got.append)
    with pytest.raises(ValueError, match="maxsize=0 must be >= 1"):
        bus.subscribe("x", got.append, maxsize=0)
    bus.stop()
