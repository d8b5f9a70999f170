"""Canonical test objects for the viewer tests: a small community built from twin records.

Site coordinates are EPSG:4547-like metres (large eastings/northings on purpose, to catch
float32 precision loss). ``E0, N0`` is the south-west corner of the grounds.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from shapely.geometry import LineString, Point, Polygon, box

from twin.model import (BillingUnit, Building, Community, Device, SiteFeature, Space, Staff, Storey)

E0, N0 = 500_000.0, 3_380_000.0
REPO = Path(__file__).resolve().parents[2]


def gis_building(bid: str, x0: float, y0: float, *, floors: int = 6, storey_h: float = 3.0,
                 w: float = 20.0, d: float = 10.0) -> tuple[Building, list[Space]]:
    """A GIS-only walk-up: ``floors`` storeys, two apartments and a stair hall each."""
    fp = box(E0 + x0, N0 + y0, E0 + x0 + w, N0 + y0 + d)
    b = Building(id=bid, name=f"{bid}栋", source="gis", footprint=fp, floors=floors,
                 height_m=floors * storey_h)
    spaces = []
    for k in range(floors):
        sid = f"{bid}-F{k + 1:02d}"
        b.storeys.append(Storey(id=sid, name=f"F{k + 1}", building_id=bid, elevation_m=k * storey_h,
                                height_m=storey_h, walkable=fp))
        xs = [E0 + x0, E0 + x0 + 8, E0 + x0 + 12, E0 + x0 + w]
        for j, (usage, name) in enumerate([("apartment", "01"), ("stair", "ST"), ("apartment", "02")]):
            spaces.append(Space(id=f"{sid}-{name}", name=name, storey_id=sid, building_id=bid,
                                footprint=box(xs[j], N0 + y0, xs[j + 1], N0 + y0 + d), usage=usage,
                                area_m2=(xs[j + 1] - xs[j]) * d))
    return b, spaces


def small_community(ifc_file: str | None = None) -> Community:
    """Two GIS-only buildings, roads, green, parking, a gate, devices and billing units."""
    b1, s1 = gis_building("B1", 10, 10)
    b2, s2 = gis_building("B2", 50, 10, floors=3)
    c = Community(name="viewer-test", crs="EPSG:4547", buildings=[b1, b2], spaces=s1 + s2)
    c.features = [
        SiteFeature(id="road-1", kind="road", name="主路",
                    geometry=LineString([(E0, N0 + 40), (E0 + 100, N0 + 40)]), attributes={"width_m": 6.0}),
        SiteFeature(id="green-1", kind="green", name="绿地", geometry=box(E0 + 0, N0 + 50, E0 + 20, N0 + 60)),
        SiteFeature(id="park-1", kind="parking", name="P1", geometry=box(E0 + 80, N0 + 0, E0 + 82.5, N0 + 5)),
        SiteFeature(id="gate-1", kind="gate", name="南门", geometry=Point(E0 + 95, N0 + 40)),
    ]
    c.devices = [
        Device(id="B1-F01-SD1", kind="smoke_detector", name="烟感 1F", building_id="B1",
               storey_id="B1-F01", space_id="B1-F01-ST"),
        Device(id="B1-F03-SD1", kind="smoke_detector", name="烟感 3F", building_id="B1",
               storey_id="B1-F03", space_id="B1-F03-ST"),
        Device(id="B2-EL1", kind="elevator_controller", name="电梯 1", building_id="B2",
               storey_id="B2-F01", space_id="B2-F01-ST"),
        Device(id="B1-F02-01-WM", kind="meter_water", name="水表 201", building_id="B1",
               storey_id="B1-F02", space_id="B1-F02-01", feeds=["U-B1-201"]),
    ]
    c.billing_units = [
        BillingUnit(id="U-B1-201", kind="apartment", building_id="B1", area_m2=80.0,
                    storey_id="B1-F02", space_id="B1-F02-01", owner="测试甲", phone="138-0000-0001"),
        BillingUnit(id="U-B2-101", kind="apartment", building_id="B2", area_m2=80.0,
                    storey_id="B2-F01", space_id="B2-F01-01", owner="测试乙", phone="138-0000-0002"),
    ]
    c.staff = [Staff(id="W-PLUMB-1", name="维修甲", role="maintenance", skills=["水电", "plumbing"],
                     shift="00:00-23:59")]
    c.validate()
    return c


# -- independent GLB reading (struct + numpy only, not the project's reader) --------------
COMPONENTS = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}
WIDTH = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


def parse_glb(data: bytes) -> tuple[dict, bytes]:
    """Split GLB bytes into the JSON document and the BIN chunk (glTF 2.0 §4.4)."""
    import json

    magic, version, length = struct.unpack_from("<III", data, 0)
    assert magic == 0x46546C67 and version == 2 and length == len(data)
    jlen, jtype = struct.unpack_from("<II", data, 12)
    assert jtype == 0x4E4F534A
    doc = json.loads(data[20:20 + jlen])
    blob = b""
    if 20 + jlen < length:
        blen, btype = struct.unpack_from("<II", data, 20 + jlen)
        assert btype == 0x004E4942
        blob = data[28 + jlen:28 + jlen + blen]
    return doc, blob


def accessor(doc: dict, blob: bytes, index: int) -> np.ndarray:
    """Return accessor ``index`` as an array (count, width)."""
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = COMPONENTS[acc["componentType"]]
    width = WIDTH[acc["type"]]
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    arr = np.frombuffer(blob, dtype=dtype, count=acc["count"] * width, offset=start)
    return arr.reshape(acc["count"], width)


def node_triangles(doc: dict, blob: bytes, node: dict) -> np.ndarray:
    """Return the node's triangles as (m, 3, 3) scene-coordinate vertices."""
    prim = doc["meshes"][node["mesh"]]["primitives"][0]
    pos = accessor(doc, blob, prim["attributes"]["POSITION"]).astype(np.float64)
    idx = accessor(doc, blob, prim["indices"]).reshape(-1, 3)
    return pos[idx]


def tri_area(tris: np.ndarray) -> float:
    """Total area (m²) of triangles (m, 3, 3)."""
    return float(0.5 * np.linalg.norm(np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]), axis=1).sum())
