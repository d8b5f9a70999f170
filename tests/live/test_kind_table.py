"""The one device-kind table (twin/kinds.py): a kind added there reaches the simulator, the
API and the viewer; nothing else lists kinds or derives severities from event names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import twin.kinds as tk
from bim.devices import KIND_BY_CLASS, NAME_RULES
from bim.samplegen.kinds import DEVICE_KINDS
from live.ingest import Pipeline
from live.registry import DeviceRegistry
from live.simulator import DeviceSimulator
from services.app import create_app
from services.billing.readings import KINDS as READING_UTILITIES
from services.billing.readings import meter_utility
from services.settings import Settings
from tests.live.common import make_community
from twin.model import Device

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000.0

NOISE = tk.DeviceKind(
    "noise_sensor", "Noise sensor", "environment",
    (tk.ValueField("level_db", "float", "dB(A)", 20, 130, description="sound level"),
     tk.ValueField("events_total", "int", None, 0, 1e9, counter=True)),
    events=("loud", "quiet", "tamper"), severities={"loud": "warning", "quiet": "clear", "tamper": "alarm"},
    report_period_s=60, offline_after_s=600, label_zh="噪声传感器",
    ifc=(tk.IfcMatch("IfcSensor", "SOUNDSENSOR"),), sim_profile="random",
)


@pytest.fixture
def noise_kind(monkeypatch):
    monkeypatch.setitem(tk.KINDS, NOISE.name, NOISE)
    return NOISE


def test_live_kinds_is_the_twin_table():
    import live.kinds

    assert live.kinds.KINDS is tk.KINDS and live.kinds.get_kind is tk.get_kind


def test_a_kind_added_to_the_table_is_simulated_and_valid(noise_kind):
    c = make_community("kindsim")
    c.devices.append(Device("B1-noise-1", "noise_sensor", "noise", "B1", "B1-F01", "B1-F01-lobby"))
    reg = DeviceRegistry.from_community(c)
    msgs = list(DeviceSimulator(reg, seed=1).messages(T0, 3600))
    mine = [body for _t, topic, body in msgs if topic.split("/")[2] == "B1-noise-1"]
    assert len(mine) == pytest.approx(60, abs=2)                   # report_period_s = 60
    assert all(20 <= b["level_db"] <= 130 for b in mine)
    counts = [b["events_total"] for b in mine]
    assert counts == sorted(counts) and counts[-1] > counts[0]      # a counter only grows
    p = Pipeline(reg, clock=lambda: T0 + 3600)
    for _t, topic, body in msgs:
        p.handle(topic, json.dumps(body).encode())
    assert p.stats()["dead_lettered"] == 0, p.stats()["dead_letters"]


def test_a_kind_added_to_the_table_is_served_by_the_api(noise_kind, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", db_url=f"sqlite:///{tmp_path / 'k.db'}")
    with TestClient(create_app(settings, community=make_community("kindapi"), components=[])) as client:
        r = client.get("/api/live/kinds")
    assert r.status_code == 200
    kinds = {k["name"]: k for k in r.json()}
    assert set(kinds) == set(tk.KINDS) and "noise_sensor" in kinds
    noise = kinds["noise_sensor"]
    assert noise["event_severities"] == {"loud": "warning", "quiet": "clear", "tamper": "alarm"}
    assert noise["label_zh"] == "噪声传感器" and noise["sim_profile"] == "random"
    assert [f["name"] for f in noise["fields"]] == ["level_db", "events_total"]
    assert kinds["elevator_controller"]["event_severities"]["passenger_trapped"] == "alarm"
    assert kinds["meter_gas"]["utility"] == "gas"


def _js_string_literals() -> dict[str, set[str]]:
    out = {}
    for path in sorted((ROOT / "viewer" / "src").glob("*.js")):
        text = path.read_text(encoding="utf-8")
        out[path.name] = set(re.findall(r"""["'`]([A-Za-z_][A-Za-z0-9_]*)["'`]""", text))
    return out


def test_viewer_lists_no_kind_and_no_event_severity():
    """The viewer reads kinds and severities from GET /api/live/kinds; no JS file names a
    kind or an event (viewer states alarm/ok/warn/offline/unknown are not events)."""
    literals = _js_string_literals()
    assert "states.js" in literals and "main.js" in literals
    states = {"alarm", "ok", "warn", "offline", "unknown", "info", "clear", "warning"}
    kinds = (set(tk.KINDS) | set(tk.PASSIVE_KINDS) | {a for k in tk.KINDS.values() for a in k.aliases}) - states
    kinds -= {k.device_class for k in tk.all_kinds()}   # "elevator" is a class (and an alias)
    events = {e for k in tk.KINDS.values() for e in k.events} - states
    for name, found in literals.items():
        assert not found & kinds, f"{name} names device kinds {sorted(found & kinds)}"
        assert not found & events, f"{name} names device events {sorted(found & events)}"
    main = (ROOT / "viewer" / "src" / "main.js").read_text(encoding="utf-8")
    assert "/api/live/kinds" in main and "setKinds" in main


def test_every_event_has_a_declared_severity_level():
    for k in tk.KINDS.values():
        for e in k.events:
            assert k.severity(e) in tk.EVENT_SEVERITIES
    assert tk.KINDS["leak_sensor"].severity("leak") == "alarm"
    assert tk.KINDS["leak_sensor"].severity("dry") == "clear"
    assert tk.KINDS["access_gate"].severity("pass") == "info"        # not declared: info


@pytest.mark.parametrize("bad", [
    dict(severities={"nope": "alarm"}),            # an event the kind does not have
    dict(events=("x",), severities={"x": "loud"}),  # not a severity
    dict(sim_profile="teleport"),
    dict(utility="steam"),
])
def test_a_bad_entry_is_refused_naming_the_value(bad):
    with pytest.raises(ValueError, match="nope|loud|teleport|steam"):
        tk.DeviceKind("k", "K", "x", **bad)


def test_ifc_mapper_and_sample_generator_read_the_table():
    for k in tk.all_kinds():
        for m in k.ifc:
            if m.name_pattern is None:
                assert KIND_BY_CLASS[(m.ifc_class, m.predefined_type)] == k.name
            else:
                assert any(rule_kind == k.name and m.ifc_class in classes and pattern.pattern == m.name_pattern
                           for classes, pattern, rule_kind in NAME_RULES)
    for k in tk.KINDS.values():
        if k.ifc_write:
            assert (DEVICE_KINDS[k.name].ifc_class, DEVICE_KINDS[k.name].predefined_type) == k.ifc_write
            assert DEVICE_KINDS[k.name].label_zh == k.label_zh
    # register aliases (the generator writes ``temperature_humidity``) resolve to their kind
    assert DEVICE_KINDS["temperature_humidity"].ifc_class == "IfcSensor"


def test_billing_utilities_come_from_the_table():
    assert set(READING_UTILITIES) == {k.utility for k in tk.KINDS.values() if k.utility}
    assert meter_utility("meter_gas") == "gas" and meter_utility("water_meter") == "water"
    assert meter_utility("smoke_detector") is None and meter_utility("no_such_kind") is None
    assert tk.kinds_feeding("electricity") == ("meter_electricity",)
    with pytest.raises(KeyError, match="steam"):
        tk.kinds_feeding("steam")


def test_no_other_python_file_lists_the_kinds():
    """Kind names appear in a tuple/list/set literal of two or more kinds only in the table."""
    names = sorted(tk.KINDS, key=len, reverse=True)
    pat = re.compile(r"""["'](%s)["']\s*,\s*["'](%s)["']""" % ("|".join(names), "|".join(names)))
    offenders = []
    for folder in ("live", "bim", "services", "sim", "twin"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "kinds.py" and path.parent.name == "twin":
                continue
            if pat.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_docs_kind_section_is_the_table():
    """docs/mqtt.md's kinds section is rendered from the table (regenerate it with
    ``twin.kinds.kinds_markdown()`` after editing a kind)."""
    doc = (ROOT / "docs" / "mqtt.md").read_text(encoding="utf-8")
    assert tk.kinds_markdown() in doc
    assert "| `vibration_rms` | float | m/s2 | 0 … 50 |" in doc
