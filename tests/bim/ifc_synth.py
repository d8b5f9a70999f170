"""Small IFC files authored with ifcopenshell.api for tests, with known answers.

A building of ``storeys`` floors; each floor is a row of ``rooms`` rectangular spaces
(``room_w`` x ``room_d`` m, 0.2 m walls between them, no wall elements) along the local x
axis; a door in each wall between neighbours and one exterior door on the first room's
south side; one temperature sensor per room (placed at its centre); an elevator contained
in the ground floor and referenced in the others. The building's placement can be shifted
and rotated, the project can be in millimetres, and an IfcMapConversion can be added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import ifcopenshell
import ifcopenshell.api as api
import ifcopenshell.api.aggregate
import ifcopenshell.api.context
import ifcopenshell.api.geometry
import ifcopenshell.api.georeference
import ifcopenshell.api.owner
import ifcopenshell.api.owner.settings
import ifcopenshell.api.pset
import ifcopenshell.api.project
import ifcopenshell.api.root
import ifcopenshell.api.spatial
import ifcopenshell.api.type
import ifcopenshell.api.unit
from ifcopenshell.util.shape_builder import ShapeBuilder

WALL_M = 0.2
STOREY_H_M = 3.0


@dataclass
class Spec:
    """What to author (metres and degrees; ``mm`` switches the project length unit)."""

    storeys: int = 2
    rooms: int = 3
    room_w: float = 4.0
    room_d: float = 5.0
    mm: bool = False
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rotation_deg: float = 0.0
    map_conversion: dict | None = None
    crs: str = "EPSG:4547"
    schema: str = "IFC4"
    devices: bool = True
    elevator: bool = True
    names: dict = field(default_factory=dict)


def room_box_local(spec: Spec, i: int) -> tuple[float, float, float, float]:
    """Plan box (minx, miny, maxx, maxy) of room ``i`` in building coordinates (m)."""
    x0 = i * (spec.room_w + WALL_M)
    return (x0, 0.0, x0 + spec.room_w, spec.room_d)


def to_world(spec: Spec, x: float, y: float) -> tuple[float, float]:
    """Building coordinates -> project world coordinates (m)."""
    t = math.radians(spec.rotation_deg)
    ox, oy, _ = spec.origin
    return (ox + x * math.cos(t) - y * math.sin(t), oy + x * math.sin(t) + y * math.cos(t))


def _matrix(x: float, y: float, z: float, rot_deg: float = 0.0) -> np.ndarray:
    t = math.radians(rot_deg)
    m = np.eye(4)
    m[:2, :2] = [[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]]
    m[:3, 3] = (x, y, z)
    return m


def build(spec: Spec, path: Path) -> dict:
    """Write the file; return the GlobalIds by role (storeys, spaces[s][i], doors...)."""
    f = api.project.create_file(version=spec.schema)
    ifc2x3 = spec.schema == "IFC2X3"
    if not ifc2x3:
        return _build(f, spec, path, ifc2x3)
    # IFC2X3 requires owner history on every rooted entity
    person = api.owner.add_person(f)
    org = api.owner.add_organisation(f)
    user = api.owner.add_person_and_organisation(f, person=person, organisation=org)
    app = api.owner.add_application(f)
    settings = api.owner.settings
    saved = settings.get_user, settings.get_application
    settings.get_user, settings.get_application = (lambda _f: user), (lambda _f: app)
    try:
        return _build(f, spec, path, ifc2x3)
    finally:
        settings.get_user, settings.get_application = saved


def _build(f, spec: Spec, path: Path, ifc2x3: bool) -> dict:
    project = api.root.create_entity(f, ifc_class="IfcProject", name="Synth")
    length = api.unit.add_si_unit(f, unit_type="LENGTHUNIT", prefix="MILLI" if spec.mm else None)
    area = api.unit.add_si_unit(f, unit_type="AREAUNIT")
    api.unit.assign_unit(f, units=[length, area])
    k = 1000.0 if spec.mm else 1.0  # project units per metre
    model = api.context.add_context(f, context_type="Model")
    body = api.context.add_context(f, context_type="Model", context_identifier="Body",
                                   target_view="MODEL_VIEW", parent=model)
    site = api.root.create_entity(f, ifc_class="IfcSite", name="Site")
    api.aggregate.assign_object(f, products=[site], relating_object=project)
    bld = api.root.create_entity(f, ifc_class="IfcBuilding", name="Synth building")
    api.aggregate.assign_object(f, products=[bld], relating_object=site)
    api.geometry.edit_object_placement(f, product=site, matrix=np.eye(4))
    api.geometry.edit_object_placement(f, product=bld, matrix=_matrix(*spec.origin, spec.rotation_deg))
    sb = ShapeBuilder(f)
    ids: dict = {"building": bld.GlobalId, "storeys": [], "spaces": [], "doors": [], "exit": None,
                 "devices": [], "elevator": None}
    storeys = []
    for s in range(spec.storeys):
        st = api.root.create_entity(f, ifc_class="IfcBuildingStorey", name=f"F{s + 1:02d}")
        st.Elevation = s * STOREY_H_M * k
        api.aggregate.assign_object(f, products=[st], relating_object=bld)
        api.geometry.edit_object_placement(
            f, product=st, matrix=_matrix(*spec.origin, spec.rotation_deg) @ _matrix(0, 0, s * STOREY_H_M))
        storeys.append(st)
        ids["storeys"].append(st.GlobalId)
        row = []
        for i in range(spec.rooms):
            minx, miny, maxx, maxy = room_box_local(spec, i)
            sp = api.root.create_entity(f, ifc_class="IfcSpace", name=f"{s + 1}{i + 1:02d}")
            sp.LongName = f"Room {s + 1}-{i + 1}"
            api.aggregate.assign_object(f, products=[sp], relating_object=st)
            api.geometry.edit_object_placement(
                f, product=sp, matrix=_matrix(*spec.origin, spec.rotation_deg) @ _matrix(minx, miny, s * STOREY_H_M))
            prof = sb.polyline([(0, 0), ((maxx - minx) * k, 0), ((maxx - minx) * k, (maxy - miny) * k),
                                (0, (maxy - miny) * k)], closed=True)
            rep = sb.get_representation(body, [sb.extrude(sb.profile(prof), 2.8 * k)])
            api.geometry.assign_representation(f, product=sp, representation=rep)
            row.append(sp.GlobalId)
            if spec.devices:
                if ifc2x3:  # generic occurrence typed by an IfcSensorType
                    dev = api.root.create_entity(f, ifc_class="IfcDistributionControlElement",
                                                 name=f"T-{s + 1}{i + 1:02d}")
                    api.type.assign_type(f, related_objects=[dev], relating_type=_sensor_type(f))
                else:
                    dev = api.root.create_entity(f, ifc_class="IfcSensor", name=f"T-{s + 1}{i + 1:02d}",
                                                 predefined_type="TEMPERATURESENSOR")
                api.spatial.assign_container(f, products=[dev], relating_structure=st)
                cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
                api.geometry.edit_object_placement(
                    f, product=dev, matrix=_matrix(*spec.origin, spec.rotation_deg) @ _matrix(cx, cy, s * STOREY_H_M + 2.5))
                ids["devices"].append((dev.GlobalId, sp.GlobalId))
        ids["spaces"].append(row)
        for i in range(spec.rooms):
            if i + 1 < spec.rooms:  # interior door in the wall between room i and i+1
                x = room_box_local(spec, i)[2] + WALL_M  # rotated 90 deg: local y runs to -x
                ids["doors"].append((_door(f, sb, body, st, spec, k, x, spec.room_d / 2 - 0.45, 90.0, s),
                                     row[i], row[i + 1]))
        # exterior door on the south side of room 0 (y = 0 wall face, wall outside)
        ext = _door(f, sb, body, st, spec, k, 1.0, -WALL_M, 0.0, s)
        ids["doors"].append((ext, row[0], None))
        if s == 0:
            ids["exit"] = ext
    if spec.elevator:
        if ifc2x3:
            lift = api.root.create_entity(f, ifc_class="IfcTransportElement", name="Lift A")
            lift.OperationType = "ELEVATOR"
        else:
            lift = api.root.create_entity(f, ifc_class="IfcTransportElement", name="Lift A",
                                          predefined_type="ELEVATOR")
        api.spatial.assign_container(f, products=[lift], relating_structure=storeys[0])
        for st in storeys[1:]:
            api.spatial.reference_structure(f, products=[lift], relating_structure=st)
        x0 = spec.rooms * (spec.room_w + WALL_M)
        api.geometry.edit_object_placement(
            f, product=lift, matrix=_matrix(*spec.origin, spec.rotation_deg) @ _matrix(x0, 0, 0))
        prof = sb.polyline([(0, 0), (2 * k, 0), (2 * k, 2 * k), (0, 2 * k)], closed=True)
        rep = sb.get_representation(body, [sb.extrude(sb.profile(prof), 2.5 * k)])
        api.geometry.assign_representation(f, product=lift, representation=rep)
        ids["elevator"] = lift.GlobalId
    if spec.map_conversion is not None and ifc2x3:  # the IFC2x3 georeferencing guide's psets
        conv = api.pset.add_pset(f, product=site, name="ePSet_MapConversion")
        api.pset.edit_pset(f, pset=conv, properties=dict(spec.map_conversion))
        crs = api.pset.add_pset(f, product=site, name="ePSet_ProjectedCRS")
        api.pset.edit_pset(f, pset=crs, properties={"Name": spec.crs, "MapUnit": "METRE"})
    elif spec.map_conversion is not None:
        api.georeference.add_georeferencing(f, ifc_class="IfcMapConversion", name=spec.crs)
        metre = f.createIfcSIUnit(None, "LENGTHUNIT", None, "METRE")
        api.georeference.edit_georeferencing(
            f, coordinate_operation=dict(spec.map_conversion),
            projected_crs={"Name": spec.crs, "MapUnit": metre})
    f.write(str(path))
    return ids


def _door(f, sb, body, st, spec: Spec, k: float, x: float, y: float, rot: float, s: int) -> str:
    """A 0.9 m door leaf box through the 0.2 m wall; origin at one lining corner."""
    door = api.root.create_entity(f, ifc_class="IfcDoor", name="Door")
    door.OverallWidth, door.OverallHeight = 0.9 * k, 2.1 * k
    api.spatial.assign_container(f, products=[door], relating_structure=st)
    api.geometry.edit_object_placement(
        f, product=door, matrix=_matrix(*spec.origin, spec.rotation_deg) @ _matrix(x, y, s * STOREY_H_M, rot))
    # local x along the width, local y through the wall (IFC door convention)
    prof = sb.polyline([(0, 0), (0.9 * k, 0), (0.9 * k, WALL_M * k), (0, WALL_M * k)], closed=True)
    rep = sb.get_representation(body, [sb.extrude(sb.profile(prof), 2.1 * k)])
    api.geometry.assign_representation(f, product=door, representation=rep)
    return door.GlobalId


def _sensor_type(f):
    found = f.by_type("IfcSensorType")
    if found:
        return found[0]
    return api.root.create_entity(f, ifc_class="IfcSensorType", name="Thermometer",
                                  predefined_type="TEMPERATURESENSOR")
