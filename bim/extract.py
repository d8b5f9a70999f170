"""Build a :class:`twin.model.Community` fragment from an open IFC file.

One pass of the geometry iterator triangulates what needs a plan (spaces, doors, stairs and
their flights, elevators, and slabs/walls of storeys without spaces); everything else comes
from IFC semantics (containment, aggregation, references, property sets, quantities).
Coordinates are metres in the project's world frame; :mod:`bim.ifc` georeferences them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

import ifcopenshell
import ifcopenshell.util.unit as U

from bim.connections import ConnectionsMixin
from bim.devices import (DEVICE_ROOT_CLASSES, attribute, device_kind, is_elevator_like,
                         predefined_type)
from bim.doors import SpaceLocator
from bim.errors import IfcError
from bim.ifcattr import global_id, name as ifc_name
from bim.meshes import Mesh, clean_polygonal as _clean, iterate_meshes, mesh_footprint, mesh_footprints
from bim.relations import Relations
from bim.vertical import VerticalMixin
from twin.model import Building, Community, Device, Space, Storey

__all__ = ["MAPPED_CLASSES", "Extraction", "extract", "file_entity_counts", "geometry_plan"]

ProgressFn = Callable[[int, int, str], None]

#: IFC classes the reader maps, with the twin list they land in (docs/ifc.md has the table).
MAPPED_CLASSES: dict[str, str] = {
    "IfcBuilding": "buildings",
    "IfcBuildingStorey": "storeys",
    "IfcSpace": "spaces",
    "IfcDoor": "doors",
    "IfcStair": "stairs",
    "IfcStairFlight": "stairs[].flights",
    "IfcTransportElement": "elevators",
    **{cls: "devices" for cls in DEVICE_ROOT_CLASSES},
}

#: property sets of a space the reader uses (others are not read)
_SPACE_PSETS = {"Pset_SpaceCommon", "Pset_SpaceOccupancyRequirements"}


def _by_type(f, cls: str) -> list:
    try:
        return list(f.by_type(cls))
    except RuntimeError:  # class not in this schema
        return []


def file_entity_counts(f) -> dict[str, int]:
    """Return the file's own count per mapped class (subclasses included)."""
    return {cls: len(_by_type(f, cls)) for cls in MAPPED_CLASSES}


@dataclass
class Extraction:
    """What :func:`extract` returns: the fragment, file counts and site facts."""

    community: Community
    entity_counts: dict[str, int]
    site: dict
    unit_scale_m: float
    warnings: list[str] = field(default_factory=list)


class _Reader(ConnectionsMixin, VerticalMixin):
    """One read of one file (not reusable)."""

    def __init__(self, f, progress: ProgressFn | None, use_space_boundaries: bool = True) -> None:
        self.f = f
        self.use_space_boundaries = use_space_boundaries
        self.progress = progress
        self.us = float(U.calculate_unit_scale(f))
        try:
            self.area_scale = float(U.calculate_unit_scale(f, "AREAUNIT"))
        except Exception:
            self.area_scale = self.us ** 2
        self.warnings: list[str] = []
        self.rel = Relations(f, self.us)
        self._ground: dict[str | None, float] = {}
        self._footprints: dict[int, BaseGeometry] = {}
        self._locators: dict[str, SpaceLocator] = {}
        self._spaces_by_storey: dict[str, list[Space]] = defaultdict(list)
        self.meshes: dict[int, Mesh] = {}
        self.storey_of_building: dict[str, list[Storey]] = defaultdict(list)
        self.storeys: dict[int, Storey] = {}  # step id -> Storey
        self.building_by_step: dict[int, Building] = {}
        self.spaces: dict[int, Space] = {}
        self.space_z: dict[str, tuple[float, float]] = {}
        self._storey_up: dict[int, Storey | None] = {}
        self._of_type: dict[str, list] = {}
        self._facts: dict[int, tuple] = {}  # id(footprint) -> (footprint, is_empty, area)
        self._stair_unions: dict[tuple[int, ...], BaseGeometry | None] = {}  # by footprint ids

    def of_type(self, cls: str) -> list:
        """The file's instances of ``cls`` (subclasses included), listed once per read."""
        found = self._of_type.get(cls)
        if found is None:
            found = self._of_type[cls] = _by_type(self.f, cls)
        return found

    # -- spatial structure ------------------------------------------------------------
    def spatial_parent(self, el):
        """Return the spatial element that contains (or aggregates) ``el``, else None."""
        return self.rel.spatial_parent(el)

    def storey_up(self, spatial):
        """Walk up aggregation from a spatial element to its storey (or None); memoised
        (called once the storeys are read)."""
        if spatial is None:
            return None
        key = spatial.id()
        if key not in self._storey_up:
            self._storey_up[key] = self._walk_to_storey(spatial)
        return self._storey_up[key]

    def _walk_to_storey(self, spatial):
        seen = 0
        while spatial is not None and seen < 50:
            if spatial.is_a("IfcBuildingStorey"):
                return self.storeys.get(spatial.id())
            if spatial.is_a("IfcBuilding") or spatial.is_a("IfcSite"):
                return None
            spatial, seen = self.rel.aggregate(spatial), seen + 1
        return None

    def building_up(self, spatial):
        seen = 0
        while spatial is not None and seen < 50:
            if spatial.is_a("IfcBuilding"):
                return self.building_by_step.get(spatial.id())
            spatial, seen = self.rel.aggregate(spatial), seen + 1
        return None

    def storey_at_z(self, building: Building | None, z: float) -> Storey | None:
        storeys = building.storeys if building is not None else sorted(
            self.storeys.values(), key=lambda s: s.elevation_m)
        if not storeys or not math.isfinite(z):
            return None
        below = [s for s in storeys if s.elevation_m <= z + 0.1]
        return below[-1] if below else storeys[0]

    def place(self, el, mesh: Mesh | None) -> tuple[Building | None, Storey | None, object]:
        """Return building, storey and spatial parent of a product."""
        parent = self.spatial_parent(el)
        storey = self.storey_up(parent) if parent is not None else None
        building = self._building_of_storey.get(id(storey)) if storey else None
        if building is None and parent is not None:
            building = self.building_up(parent)
        if building is None and len(self.building_by_step) == 1:
            building = next(iter(self.building_by_step.values()))
        if storey is None and mesh is not None:
            storey = self.storey_at_z(building, mesh.zmin)
        if storey is None:
            z = self.placement_z(el)
            if z is not None:
                storey = self.storey_at_z(building, z)
        if storey is not None and building is None:
            building = self._building_of_storey[id(storey)]
        return building, storey, parent

    def placement(self, el) -> np.ndarray | None:
        """Object placement in metres (4x4, world), or None."""
        return self.rel.placement(el)

    def _plan_footprints(self, plan: list) -> None:
        """Footprints of every triangulated product but doors, in one batch."""
        doors = {d.id() for d in self.ifc_doors}
        keys = [k for k in (e.id() for e in plan) if k in self.meshes and k not in doors]
        for key, fp in zip(keys, mesh_footprints([self.meshes[k] for k in keys])):
            self._footprints[key] = fp

    def footprint(self, el) -> BaseGeometry | None:
        """Plan footprint of a triangulated product (computed once), None without mesh."""
        key = el.id()
        if key not in self._footprints:
            mesh = self.meshes.get(key)
            self._footprints[key] = mesh_footprint(mesh) if mesh is not None else None
        return self._footprints[key]

    def placement_z(self, el) -> float | None:
        m = self.placement(el)
        return float(m[2, 3]) if m is not None else None

    # -- read ---------------------------------------------------------------------------
    def read(self) -> Extraction:
        f = self.f
        ifc_buildings = _by_type(f, "IfcBuilding")
        if not ifc_buildings:
            raise IfcError("the file has no IfcBuilding (empty model)")
        project = (_by_type(f, "IfcProject") or [None])[0]
        c = Community(name=(getattr(project, "Name", None) or getattr(project, "LongName", None)
                            or "ifc"))
        self.c = c
        self._read_buildings(ifc_buildings)
        self._unique_ids("building")
        self._read_storeys()
        self._unique_ids("storey")
        plan = self._collect()
        self._step(0, 1, "geometry")
        self.meshes = iterate_meshes(f, plan, progress=self.progress)
        self._plan_footprints(plan)
        self._read_spaces()
        self._unique_ids("space")
        self._walkable()
        self._read_doors()
        self._read_openings()
        self._read_stairs()
        self._read_elevators()
        self._read_devices()
        self._finish_buildings()
        self._groups()
        self._unique_ids("door", "stair", "elevator", "device")
        c.warnings.extend(self.warnings)
        counts = {cls: len(self.of_type(cls)) for cls in MAPPED_CLASSES}  # = file_entity_counts(f)
        return Extraction(c, counts, self._site_info(), self.us, self.warnings)

    def _step(self, done: int, total: int, msg: str) -> None:
        if self.progress is not None:
            self.progress(done, total, msg)

    def _read_buildings(self, ifc_buildings) -> None:
        for b in ifc_buildings:
            attrs = {"ifc_class": b.is_a(), "long_name": b.LongName}
            m = self.placement(b)  # no placement: at the world origin
            m = np.eye(4) if m is None else m  # the origin is placed like every plan point
            attrs["origin_xy"] = [float(m[0, 3]), float(m[1, 3])]
            attrs["origin_z_m"] = float(m[2, 3])
            bld = Building(id=b.GlobalId, name=b.Name or b.LongName or b.GlobalId, source="ifc",
                           attributes=attrs)
            self.building_by_step[b.id()] = bld
            self.c.buildings.append(bld)

    def _read_storeys(self) -> None:
        self._building_of_storey: dict[int, Building] = {}  # by id() of the Storey
        first = self.c.buildings[0]
        for s in self.of_type("IfcBuildingStorey"):
            bld = self.building_up(self.rel.aggregate(s))
            if bld is None:
                bld = first
                self.warnings.append(f"IfcBuildingStorey {s.GlobalId} ({s.Name}) is not in an "
                                     f"IfcBuilding; assigned to building {first.id}")
            if s.Elevation is not None:
                elev = float(s.Elevation) * self.us
            else:
                elev = self.placement_z(s) or 0.0
                self.warnings.append(f"IfcBuildingStorey {s.GlobalId} ({s.Name}) has no "
                                     f"Elevation; placement z {elev:.3f} m used")
            st = Storey(id=s.GlobalId, name=s.Name or s.LongName or s.GlobalId, building_id=bld.id,
                        elevation_m=elev, attributes={"long_name": s.LongName})
            self.storeys[s.id()] = st
            self._building_of_storey[id(st)] = bld
            bld.storeys.append(st)
        for bld in self.c.buildings:
            bld.storeys.sort(key=lambda s: s.elevation_m)
            for lo, hi in zip(bld.storeys, bld.storeys[1:]):
                lo.height_m = hi.elevation_m - lo.elevation_m

    def _collect(self) -> list:
        """Choose the products to triangulate."""
        f = self.f
        self.ifc_spaces = self.of_type("IfcSpace")
        self.ifc_doors = self.of_type("IfcDoor")
        self.ifc_stairs = self.of_type("IfcStair")
        self.stair_parts = {s.id(): [p for p in self.rel.decomposition(s)
                                     if p.is_a("IfcStairFlight") or p.is_a("IfcSlab")]
                            for s in self.ifc_stairs}
        in_stair = {p.id() for parts in self.stair_parts.values() for p in parts}
        self.ifc_flights = self.of_type("IfcStairFlight")
        self.orphan_flights = [fl for fl in self.ifc_flights if fl.id() not in in_stair]
        self.ifc_transport = self.of_type("IfcTransportElement")
        self.elevator_elements = [t for t in self.ifc_transport if is_elevator_like(t, self.rel.type_of)]
        for t in self.ifc_transport:
            if t not in self.elevator_elements:
                self.warnings.append(f"IfcTransportElement {t.GlobalId} ({t.Name}, "
                                     f"{predefined_type(t, self.rel.type_of)}) is not an elevator; not mapped")
        self.elevator_elements += [p for p in _by_type(f, "IfcBuildingElementProxy")
                                   if is_elevator_like(p, self.rel.type_of)]
        storeys_with_spaces = set()
        for sp in self.ifc_spaces:
            st = self.storey_up(self.spatial_parent(sp) or self.rel.aggregate(sp))
            if st is not None:
                storeys_with_spaces.add(st.id)
        self.bare_storeys = {sid for sid in (s.id for s in self.storeys.values())
                             if sid not in storeys_with_spaces}
        self.floor_parts: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        if self.bare_storeys:
            for cls, key in (("IfcSlab", "slabs"), ("IfcWall", "walls"), ("IfcColumn", "walls")):
                for el in _by_type(f, cls):
                    if key == "slabs" and predefined_type(el, self.rel.type_of) == "ROOF":
                        continue
                    st = self.storey_up(self.spatial_parent(el))
                    if st is not None and st.id in self.bare_storeys:
                        self.floor_parts[st.id][key].append(el)
        plan = list(self.ifc_spaces) + list(self.ifc_doors) + list(self.ifc_stairs)
        plan += [p for parts in self.stair_parts.values() for p in parts]
        plan += self.orphan_flights + self.elevator_elements
        plan += [el for parts in self.floor_parts.values() for els in parts.values() for el in els]
        seen: set[int] = set()
        return [e for e in plan if not (e.id() in seen or seen.add(e.id()))]

    # -- spaces -------------------------------------------------------------------------
    def _read_spaces(self) -> None:
        for sp in self.ifc_spaces:
            mesh = self.meshes.get(sp.id())
            building, storey, _ = self.place(sp, mesh)
            if storey is None:
                self.warnings.append(f"IfcSpace {sp.GlobalId} ({sp.Name}) has no storey; not mapped")
                continue
            guid, name = global_id(sp), ifc_name(sp)
            fp = self.footprint(sp) if mesh is not None else Polygon()
            fp_empty, fp_area = self._shape_facts(fp)
            if fp_empty:
                self.warnings.append(f"IfcSpace {guid} ({name}) has no plan geometry")
            psets, qsets = self.rel.property_sets(sp, names=_SPACE_PSETS)
            q = _quantities_of(qsets)
            net = q.get("NetFloorArea")
            gross = q.get("GrossFloorArea")
            height = q.get("Height") or q.get("FinishCeilingHeight") or q.get("ClearHeight")
            height_m = float(height) * self.us if height else (
                mesh.zmax - mesh.zmin if mesh is not None else None)
            common = psets.get("Pset_SpaceCommon", {})
            occ = psets.get("Pset_SpaceOccupancyRequirements", {})
            pre = predefined_type(sp, self.rel.type_of)
            usage = (attribute(sp, "ObjectType") or occ.get("OccupancyType") or common.get("Category")
                     or (pre.lower() if pre and pre not in ("INTERNAL", "EXTERNAL", "SPACE") else None))
            attrs = {"ifc_class": sp.is_a(), "footprint_area_m2": fp_area}
            if net is not None:
                attrs["net_floor_area_m2"] = float(net) * self.area_scale
            if gross is not None:
                attrs["gross_floor_area_m2"] = float(gross) * self.area_scale
            if pre:
                attrs["predefined_type"] = pre
            public = common.get("PubliclyAccessible")
            space = Space(id=guid, name=name or guid, storey_id=storey.id,
                          building_id=building.id if building else storey.building_id,
                          footprint=fp, long_name=attribute(sp, "LongName"), usage=usage,
                          area_m2=float(attrs.get("net_floor_area_m2", fp_area)),
                          height_m=height_m, public=bool(public) if public is not None else None,
                          attributes=attrs)
            self.c.spaces.append(space)
            self.spaces[sp.id()] = space
            if mesh is not None:
                self.space_z[space.id] = (mesh.zmin, mesh.zmax)

    def _shape_facts(self, geom: BaseGeometry) -> tuple[bool, float]:
        """``(is_empty, area)`` of a footprint, once per (shared) footprint object."""
        facts = self._facts.get(id(geom))
        if facts is None or facts[0] is not geom:
            facts = self._facts[id(geom)] = (geom, geom.is_empty, float(geom.area))
        return facts[1], facts[2]

    def _walkable(self) -> None:
        by_storey: dict[str, list] = defaultdict(list)
        for s in self.c.spaces:
            if not s.footprint.is_empty:
                by_storey[s.storey_id].append(s.footprint)
        unions: dict[tuple[int, ...], BaseGeometry] = {}  # storeys of the same shared footprints
        for st in self.storeys.values():
            if by_storey.get(st.id):
                key = tuple(id(g) for g in by_storey[st.id])
                if key not in unions:
                    unions[key] = shapely.union_all(by_storey[st.id])
                st.walkable = unions[key]
                st.attributes["walkable_from"] = "spaces"
                continue
            st.walkable = self._slabs_minus_walls(st)
            if st.walkable is None or st.walkable.is_empty:
                self.warnings.append(f"storey {st.id} ({st.name}): no spaces, slabs or walls "
                                     "with geometry; walkable area unknown")
                st.walkable = None

    def _slabs_minus_walls(self, st: Storey) -> BaseGeometry | None:
        parts = self.floor_parts.get(st.id, {})
        slabs = [self.footprint(e) for e in parts.get("slabs", []) if e.id() in self.meshes]
        walls = [self.footprint(e) for e in parts.get("walls", []) if e.id() in self.meshes]
        if not slabs and walls:  # rooms enclosed by walls
            wall_union = shapely.union_all(walls)
            holes = [Polygon(r) for g in getattr(wall_union, "geoms", [wall_union])
                     for r in getattr(g, "interiors", [])]
            if not holes:
                return None
            st.attributes["walkable_from"] = "rooms enclosed by walls"
            self.warnings.append(f"storey {st.id} ({st.name}) has no spaces and no floor slabs; "
                                 "walkable area taken as the rooms enclosed by its walls")
            return _clean(shapely.union_all(holes))
        if not slabs:
            return None
        floor = shapely.union_all(slabs)
        if walls:
            floor = floor.difference(shapely.union_all(walls))
        if not hasattr(self, "_door_storey"):
            self._door_storey = {d.id(): self.storey_up(self.spatial_parent(d)) for d in self.ifc_doors}
        doors = []
        for d in self.ifc_doors:
            mesh = self.meshes.get(d.id())
            if mesh is not None and self._door_storey.get(d.id()) is st:
                doors.append(mesh_footprint(mesh).minimum_rotated_rectangle.buffer(0.05))
        if doors:
            floor = floor.union(shapely.union_all(doors).intersection(shapely.union_all(slabs)))
        st.attributes["walkable_from"] = "slabs minus walls"
        return _clean(floor)

    # -- devices --------------------------------------------------------------------------
    def _read_devices(self) -> None:
        seen: set[int] = set()
        rows = []
        for cls in DEVICE_ROOT_CLASSES:
            for el in self.of_type(cls):
                if el.id() in seen:
                    continue
                seen.add(el.id())
                building, storey, parent = self.place(el, None)
                pos = self.rel.position(el)
                space_id = None
                if parent is not None and parent.id() in self.spaces:
                    space_id = self.spaces[parent.id()].id
                rows.append([el, building, storey, pos, space_id])
        todo: dict[str, list] = defaultdict(list)  # storey -> rows to locate by position
        for row in rows:
            if row[4] is None and row[2] is not None and row[3] is not None:
                todo[row[2].id].append(row)
        for sid, items in todo.items():
            xy = np.array([r[3][:2] for r in items], dtype=float)
            for r, space_id in zip(items, self._locator(sid).at_many(xy)):
                r[4] = space_id
        for el, building, storey, pos, space_id in rows:
            self.c.devices.append(self._device(el, building, storey, pos, space_id))

    def _device(self, el, building, storey, pos, space_id) -> Device:
        guid, name = global_id(el), ifc_name(el)
        if storey is None:
            self.warnings.append(f"{el.is_a()} {guid} ({name}) has no storey")
        types = self.rel.type_of
        pre = predefined_type(el, types)
        return Device(id=guid, kind=device_kind(el, types, predefined=pre), name=name or guid,
                      building_id=building.id if building else None,
                      storey_id=storey.id if storey else None, space_id=space_id, position=pos,
                      ifc_class=el.is_a(),
                      attributes={"predefined_type": pre, "tag": attribute(el, "Tag")})

    def _quantities(self, el) -> dict[str, float]:
        return _quantities_of(self.rel.psets(el, qtos=True))

    def _unique_ids(self, *kinds: str) -> None:
        """Give a repeated GlobalId (a broken file) a suffix on its later elements, warning.

        Run on storeys and spaces as soon as they are read, so that references to them
        (doors, devices) use the final ids.
        """
        c = self.c
        groups = {"building": c.buildings, "storey": c.storeys, "space": c.spaces,
                  "door": c.doors, "stair": c.stairs, "elevator": c.elevators, "device": c.devices}
        for kind in kinds:
            items = groups[kind]
            seen: dict[str, int] = {}
            for item in items:
                n = seen.get(item.id, 0)
                seen[item.id] = n + 1
                if n:
                    new = f"{item.id}~{n}"
                    self.warnings.append(f"duplicate GlobalId {item.id} ({kind} {item.name!r}); "
                                         f"this one is {new!r}")
                    item.attributes["ifc_guid"] = item.id
                    item.id = new

    # -- groups ---------------------------------------------------------------------------
    def _groups(self) -> None:
        """Record IfcZone names on spaces and IfcSystem names on devices (``attributes``)."""
        by_guid = {x.id: x for x in list(self.c.spaces) + list(self.c.devices)}
        for cls, key in (("IfcZone", "zones"), ("IfcSystem", "systems")):
            for g in _by_type(self.f, cls):
                if cls == "IfcSystem" and g.is_a("IfcZone"):
                    continue
                for rel in getattr(g, "IsGroupedBy", None) or []:
                    for obj in rel.RelatedObjects or []:
                        item = by_guid.get(getattr(obj, "GlobalId", None))
                        if item is not None:
                            item.attributes.setdefault(key, []).append(g.Name or g.GlobalId)

    # -- buildings and site ---------------------------------------------------------------
    def _finish_buildings(self) -> None:
        for b in self.c.buildings:
            # each walkable area once (storeys of one plan share the object)
            parts = list({id(s.walkable): s.walkable for s in b.storeys if s.walkable is not None}.values())
            b.footprint = _clean(shapely.union_all(parts)) if parts else None
            above = [s for s in b.storeys if s.elevation_m >= -0.5]
            b.floors = len(above) or None
            if above and above[-1].height_m is None:
                hs = [sp.height_m for sp in self.c.spaces if sp.storey_id == above[-1].id and sp.height_m]
                above[-1].height_m = max(hs) if hs else None
            if above and above[-1].height_m:
                b.height_m = above[-1].elevation_m + above[-1].height_m - above[0].elevation_m

    def _site_info(self) -> dict:
        sites = _by_type(self.f, "IfcSite")
        if not sites:
            return {}
        s = sites[0]
        m = self.placement(s)
        m = np.eye(4) if m is None else m  # no placement: at the world origin
        return {"id": s.GlobalId, "name": s.Name, "long_name": s.LongName,
                "ref_latitude": _dms(s.RefLatitude), "ref_longitude": _dms(s.RefLongitude),
                "ref_elevation_m": float(s.RefElevation) * self.us if s.RefElevation is not None else None,
                "origin_xy": [float(m[0, 3]), float(m[1, 3])]}


def _quantities_of(psets: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, q in psets.items():
        for k, v in q.items():
            if isinstance(v, (int, float)) and k != "id":
                out.setdefault(k, float(v))
    return out


def _dms(value) -> float | None:
    """Degrees from an IfcCompoundPlaneAngleMeasure (deg, min, sec, millionths)."""
    if not value:
        return None
    parts = list(value) + [0] * (4 - len(value))
    sign = -1.0 if any(p < 0 for p in parts[:4]) else 1.0
    d, m, s, u = (abs(p) for p in parts[:4])
    return sign * (d + m / 60.0 + (s + u / 1e6) / 3600.0)


def geometry_plan(f: ifcopenshell.file) -> list:
    """Return the products :func:`extract` triangulates (for benchmarks and tests)."""
    r = _Reader(f, None)
    r.c = Community(name="plan")
    ifc_buildings = _by_type(f, "IfcBuilding")
    if not ifc_buildings:
        raise IfcError("the file has no IfcBuilding (empty model)")
    r._read_buildings(ifc_buildings)
    r._read_storeys()
    return [e for e in r._collect() if getattr(e, "Representation", None) is not None]


def extract(f: ifcopenshell.file, *, progress: ProgressFn | None = None,
            use_space_boundaries: bool = True) -> Extraction:
    """Read an open IFC file into a community fragment (project coordinates, metres).

    ``use_space_boundaries=False`` connects doors to spaces by plan probes only.

    Raises
    ------
    IfcError
        When the file has no IfcBuilding.
    """
    return _Reader(f, progress, use_space_boundaries).read()
