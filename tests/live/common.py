"""Canonical test objects of the live layer: a small community with every device kind."""

from __future__ import annotations

import json
import time
import uuid

from shapely.geometry import box

from live.kinds import KINDS
from twin.model import Building, Community, Device, Space, Storey


def make_community(name: str | None = None) -> Community:
    """Two buildings (B1: 2 storeys, B3: 12 storeys); one device of every kind in B1-F1 and
    a smoke detector, a thermometer and a leak sensor in the lobby of each storey of B3."""
    name = name or f"t{uuid.uuid4().hex[:10]}"
    c = Community(name=name, crs="EPSG:4547")
    b1 = Building("B1", "Building 1", "gis", floors=2, height_m=6.0)
    b1.storeys = [Storey(f"B1-F{i:02d}", f"F{i}", "B1", 3.0 * (i - 1), 3.0) for i in (1, 2)]
    b3 = Building("B3", "Building 3", "gis", floors=12, height_m=36.0)
    b3.storeys = [Storey(f"B3-F{i:02d}", f"F{i}", "B3", 3.0 * (i - 1), 3.0) for i in range(1, 13)]
    c.buildings = [b1, b3]
    c.spaces = [Space("B1-F01-lobby", "Lobby", "B1-F01", "B1", box(0, 0, 10, 10), usage="lobby"),
                Space("B1-F02-101", "Flat 201", "B1-F02", "B1", box(0, 0, 10, 10), usage="apartment")]
    c.spaces += [Space(f"B3-F{i:02d}-lobby", "Lobby", f"B3-F{i:02d}", "B3", box(20, 0, 30, 10), usage="lobby")
                 for i in range(1, 13)]
    for kind in KINDS:
        c.devices.append(Device(f"B1-{kind}", kind, kind, "B1", "B1-F01", "B1-F01-lobby"))
    c.devices.append(Device("B1-water-201", "meter_water", "water 201", "B1", "B1-F02", "B1-F02-101"))
    for i in range(1, 13):
        sp = f"B3-F{i:02d}-lobby"
        c.devices += [Device(f"B3-F{i:02d}-smoke", "smoke_detector", "smoke", "B3", sp[:6], sp),
                      Device(f"B3-F{i:02d}-temp", "temp_humidity", "temp", "B3", sp[:6], sp),
                      Device(f"B3-F{i:02d}-leak", "leak_sensor", "leak", "B3", sp[:6], sp)]
    c.devices.append(Device("B3-elev-1", "elevator_controller", "Elevator 1", "B3", "B3-F01", None))
    c.validate()
    return c


def payload(ts: float | str | None = None, **values) -> bytes:
    """A JSON payload with ``ts`` (now by default) and values."""
    body = {"ts": time.time() if ts is None else ts, **values}
    return json.dumps(body).encode()


#: One valid telemetry payload body (without ts) per kind.
VALID_TELEMETRY = {
    "meter_electricity": {"energy_kwh": 1234.5, "power_kw": 1.2},
    "meter_water": {"volume_m3": 56.7, "flow_m3h": 0.3},
    "meter_gas": {"volume_m3": 12.0},
    "smoke_detector": {"smoke": False, "obscuration_pct_m": 0.1},
    "leak_sensor": {"leak": False},
    "temp_humidity": {"temperature_c": 22.5, "humidity_pct": 55.0},
    "people_counter": {"count_in": 12, "count_out": 9, "period_s": 60},
    "access_gate": {"state": "closed", "passes": 4},
    "parking_barrier": {"state": "down", "occupied_spaces": 120},
    "elevator_controller": {"floor": 3, "direction": "up", "door": "closed", "load_kg": 150.0},
}


def write_site(folder, name: str | None = None):
    """Write a site folder (docs/site-format.md): GIS-only buildings B1 (2 floors) and B3
    (12 floors) and a device register placing devices on storeys ``<building>-F<nn>``.

    Return ``(path, name, devices)`` with ``devices`` the register rows as dicts.
    """
    from pathlib import Path

    name = name or f"t{uuid.uuid4().hex[:10]}"
    folder = Path(folder) / name
    (folder / "gis").mkdir(parents=True)
    (folder / "registers").mkdir()
    x0, y0 = 500000.0, 3380000.0

    def square(x, y, s):
        return [[[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]]]

    feats = [
        {"type": "Feature", "properties": {"id": "B1", "name": "Building 1", "floors": 2, "height_m": 6.0},
         "geometry": {"type": "Polygon", "coordinates": square(x0, y0, 30)}},
        {"type": "Feature", "properties": {"id": "B3", "name": "Building 3", "floors": 12, "height_m": 36.0},
         "geometry": {"type": "Polygon", "coordinates": square(x0 + 60, y0, 30)}},
    ]
    (folder / "gis" / "buildings.geojson").write_text(json.dumps({
        "type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4547"}},
        "features": feats}))
    devices = [
        {"id": "B1-E-101", "kind": "meter_electricity", "building": "B1", "storey": "B1-F01"},
        {"id": "B1-W-101", "kind": "meter_water", "building": "B1", "storey": "B1-F01"},
        {"id": "B1-LEAK-1", "kind": "leak_sensor", "building": "B1", "storey": "B1-F01"},
        {"id": "B1-GATE-1", "kind": "access_gate", "building": "B1", "storey": "B1-F01"},
        {"id": "B3-SMOKE-12", "kind": "smoke_detector", "building": "B3", "storey": "B3-F12"},
        {"id": "B3-TEMP-12", "kind": "temp_humidity", "building": "B3", "storey": "B3-F12"},
        {"id": "B3-SMOKE-02", "kind": "smoke_detector", "building": "B3", "storey": "B3-F02"},
        {"id": "B3-ELEV-1", "kind": "elevator_controller", "building": "B3", "storey": "B3-F01"},
        {"id": "B3-PC-1", "kind": "people_counter", "building": "B3", "storey": "B3-F01"},
    ]
    lines = ["id,kind,name,building,storey,space,x,y,z,feeds,ifc_guid"]
    lines += [f"{d['id']},{d['kind']},{d['id']},{d['building']},{d['storey']},,,,,," for d in devices]
    (folder / "registers" / "devices.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "site.json").write_text(json.dumps({
        "name": name, "crs": "EPSG:4547", "timezone": "Asia/Shanghai",
        "layers": {"buildings": "gis/buildings.geojson"}, "buildings": [],
        "registers": {"devices": "registers/devices.csv"}}))
    return folder, name, devices
