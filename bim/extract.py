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
import ifcopenshell.util.element as E
import ifcopenshell.util.placement as P
import ifcopenshell.util.unit as U

from bim.devices import DEVICE_ROOT_CLASSES, device_kind, is_elevator_like, predefined_type
from bim.doors import SpaceLocator, connect_door, door_frame
from bim.errors import IfcError
from bim.meshes import Mesh, iterate_meshes, mesh_footprint, oriented_box
from twin.model import (Building, Community, Device, Door, Elevator, Space, Stair, StairFlight,
                        Storey)

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

_SPATIAL = ("IfcSpatialStructureElement", "IfcSpatialElement")
_STAIR_TOL_M = 0.45  # a stair reaches a storey when its geometry comes this close (m)


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


class _Reader:
    """One read of one file (not reusable)."""

    def __init__(self, f, progress: ProgressFn | None) -> None:
        self.f = f
        self.progress = progress
        self.us = float(U.calculate_unit_scale(f))
        try:
            self.area_scale = float(U.calculate_unit_scale(f, "AREAUNIT"))
        except Exception:
            self.area_scale = self.us ** 2
        self.warnings: list[str] = []
        self.meshes: dict[int, Mesh] = {}
        self.storey_of_building: dict[str, list[Storey]] = defaultdict(list)
        self.storeys: dict[int, Storey] = {}  # step id -> Storey
        self.building_by_step: dict[int, Building] = {}
        self.spaces: dict[int, Space] = {}
        self.space_z: dict[str, tuple[float, float]] = {}

    # -- spatial structure ------------------------------------------------------------
    def spatial_parent(self, el):
        """Return the spatial element that contains (or aggregates) ``el``, else None."""
        seen = 0
        while el is not None and seen < 50:
            c = E.get_container(el)
            if c is not None:
                return c
            a = E.get_aggregate(el)
            if a is None or any(a.is_a(s) for s in _SPATIAL):
                return a
            el, seen = a, seen + 1
        return None

    def storey_up(self, spatial):
        """Walk up aggregation from a spatial element to its storey (or None)."""
        seen = 0
        while spatial is not None and seen < 50:
            if spatial.is_a("IfcBuildingStorey"):
                return self.storeys.get(spatial.id())
            if spatial.is_a("IfcBuilding") or spatial.is_a("IfcSite"):
                return None
            spatial, seen = E.get_aggregate(spatial), seen + 1
        return None

    def building_up(self, spatial):
        seen = 0
        while spatial is not None and seen < 50:
            if spatial.is_a("IfcBuilding"):
                return self.building_by_step.get(spatial.id())
            spatial, seen = E.get_aggregate(spatial), seen + 1
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
        building = self._building_of_storey.get(storey.id) if storey else None
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
            building = self._building_of_storey[storey.id]
        return building, storey, parent

    def placement(self, el) -> np.ndarray | None:
        """Object placement in metres (4x4, world), or None."""
        if getattr(el, "ObjectPlacement", None) is None:
            return None
        try:
            m = np.array(P.get_local_placement(el.ObjectPlacement), dtype=float)
        except Exception:
            return None
        m[:3, 3] *= self.us
        return m

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
        self._read_storeys()
        plan = self._collect()
        self._step(0, 1, "geometry")
        self.meshes = iterate_meshes(f, plan, progress=self.progress)
        self._read_spaces()
        self._walkable()
        self._read_doors()
        self._read_stairs()
        self._read_elevators()
        self._read_devices()
        self._finish_buildings()
        c.warnings.extend(self.warnings)
        return Extraction(c, file_entity_counts(f), self._site_info(), self.us, self.warnings)

    def _step(self, done: int, total: int, msg: str) -> None:
        if self.progress is not None:
            self.progress(done, total, msg)

    def _read_buildings(self, ifc_buildings) -> None:
        for b in ifc_buildings:
            bld = Building(id=b.GlobalId, name=b.Name or b.LongName or b.GlobalId, source="ifc",
                           attributes={"ifc_class": b.is_a(), "long_name": b.LongName})
            self.building_by_step[b.id()] = bld
            self.c.buildings.append(bld)

    def _read_storeys(self) -> None:
        self._building_of_storey: dict[str, Building] = {}
        first = self.c.buildings[0]
        for s in _by_type(self.f, "IfcBuildingStorey"):
            bld = self.building_up(E.get_aggregate(s))
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
            self._building_of_storey[st.id] = bld
            bld.storeys.append(st)
        for bld in self.c.buildings:
            bld.storeys.sort(key=lambda s: s.elevation_m)
            for lo, hi in zip(bld.storeys, bld.storeys[1:]):
                lo.height_m = hi.elevation_m - lo.elevation_m

    def _collect(self) -> list:
        """Choose the products to triangulate."""
        f = self.f
        self.ifc_spaces = _by_type(f, "IfcSpace")
        self.ifc_doors = _by_type(f, "IfcDoor")
        self.ifc_stairs = _by_type(f, "IfcStair")
        self.stair_parts = {s.id(): [p for p in E.get_decomposition(s)
                                     if p.is_a("IfcStairFlight") or p.is_a("IfcSlab")]
                            for s in self.ifc_stairs}
        in_stair = {p.id() for parts in self.stair_parts.values() for p in parts}
        self.ifc_flights = _by_type(f, "IfcStairFlight")
        self.orphan_flights = [fl for fl in self.ifc_flights if fl.id() not in in_stair]
        self.ifc_transport = _by_type(f, "IfcTransportElement")
        self.elevator_elements = [t for t in self.ifc_transport if is_elevator_like(t)]
        for t in self.ifc_transport:
            if t not in self.elevator_elements:
                self.warnings.append(f"IfcTransportElement {t.GlobalId} ({t.Name}, "
                                     f"{predefined_type(t)}) is not an elevator; not mapped")
        self.elevator_elements += [p for p in _by_type(f, "IfcBuildingElementProxy")
                                   if is_elevator_like(p)]
        storeys_with_spaces = set()
        for sp in self.ifc_spaces:
            st = self.storey_up(self.spatial_parent(sp) or E.get_aggregate(sp))
            if st is not None:
                storeys_with_spaces.add(st.id)
        self.bare_storeys = {sid for sid in (s.id for s in self.storeys.values())
                             if sid not in storeys_with_spaces}
        self.floor_parts: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        if self.bare_storeys:
            for cls, key in (("IfcSlab", "slabs"), ("IfcWall", "walls"), ("IfcColumn", "walls")):
                for el in _by_type(f, cls):
                    if key == "slabs" and predefined_type(el) == "ROOF":
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
            fp = mesh_footprint(mesh) if mesh is not None else Polygon()
            if fp.is_empty:
                self.warnings.append(f"IfcSpace {sp.GlobalId} ({sp.Name}) has no plan geometry")
            q = _quantities(sp)
            net = q.get("NetFloorArea")
            gross = q.get("GrossFloorArea")
            height = q.get("Height") or q.get("FinishCeilingHeight") or q.get("ClearHeight")
            height_m = float(height) * self.us if height else (
                mesh.zmax - mesh.zmin if mesh is not None else None)
            psets = E.get_psets(sp, psets_only=True)
            common = psets.get("Pset_SpaceCommon", {})
            occ = psets.get("Pset_SpaceOccupancyRequirements", {})
            pre = predefined_type(sp)
            usage = (sp.ObjectType or occ.get("OccupancyType") or common.get("Category")
                     or (pre.lower() if pre and pre not in ("INTERNAL", "EXTERNAL", "SPACE") else None))
            attrs = {"ifc_class": sp.is_a(), "footprint_area_m2": float(fp.area)}
            if net is not None:
                attrs["net_floor_area_m2"] = float(net) * self.area_scale
            if gross is not None:
                attrs["gross_floor_area_m2"] = float(gross) * self.area_scale
            if pre:
                attrs["predefined_type"] = pre
            public = common.get("PubliclyAccessible")
            space = Space(id=sp.GlobalId, name=sp.Name or sp.GlobalId, storey_id=storey.id,
                          building_id=building.id if building else storey.building_id,
                          footprint=fp, long_name=sp.LongName, usage=usage,
                          area_m2=float(attrs.get("net_floor_area_m2", fp.area)),
                          height_m=height_m, public=bool(public) if public is not None else None,
                          attributes=attrs)
            self.c.spaces.append(space)
            self.spaces[sp.id()] = space
            if mesh is not None:
                self.space_z[space.id] = (mesh.zmin, mesh.zmax)

    def _walkable(self) -> None:
        by_storey: dict[str, list] = defaultdict(list)
        for s in self.c.spaces:
            if not s.footprint.is_empty:
                by_storey[s.storey_id].append(s.footprint)
        for st in self.storeys.values():
            if by_storey.get(st.id):
                st.walkable = shapely.union_all(by_storey[st.id])
                st.attributes["walkable_from"] = "spaces"
                continue
            st.walkable = self._slabs_minus_walls(st)
            if st.walkable is None or st.walkable.is_empty:
                self.warnings.append(f"storey {st.id} ({st.name}): no spaces, slabs or walls "
                                     "with geometry; walkable area unknown")
                st.walkable = None

    def _slabs_minus_walls(self, st: Storey) -> BaseGeometry | None:
        parts = self.floor_parts.get(st.id, {})
        slabs = [mesh_footprint(self.meshes[e.id()]) for e in parts.get("slabs", []) if e.id() in self.meshes]
        walls = [mesh_footprint(self.meshes[e.id()]) for e in parts.get("walls", []) if e.id() in self.meshes]
        if not slabs and walls:  # rooms enclosed by walls
            wall_union = shapely.union_all(walls)
            holes = [Polygon(r) for g in getattr(wall_union, "geoms", [wall_union])
                     for r in getattr(g, "interiors", [])]
            if not holes:
                return None
            st.attributes["walkable_from"] = "rooms enclosed by walls"
            return _clean(shapely.union_all(holes))
        if not slabs:
            return None
        floor = shapely.union_all(slabs)
        if walls:
            floor = floor.difference(shapely.union_all(walls))
        doors = []
        for d in self.ifc_doors:
            mesh = self.meshes.get(d.id())
            if mesh is not None and self.storey_up(self.spatial_parent(d)) is st:
                doors.append(mesh_footprint(mesh).minimum_rotated_rectangle.buffer(0.05))
        if doors:
            floor = floor.union(shapely.union_all(doors).intersection(shapely.union_all(slabs)))
        st.attributes["walkable_from"] = "slabs minus walls"
        return _clean(floor)

    # -- doors ----------------------------------------------------------------------------
    def _read_doors(self) -> None:
        boundaries: dict[int, list[str]] = defaultdict(list)
        for rel in _by_type(self.f, "IfcRelSpaceBoundary"):
            el, sp = rel.RelatedBuildingElement, rel.RelatingSpace
            if el is not None and el.is_a("IfcDoor") and sp is not None and sp.id() in self.spaces:
                boundaries[el.id()].append(self.spaces[sp.id()].id)
        locators: dict[str, SpaceLocator] = {}
        for d in self.ifc_doors:
            mesh = self.meshes.get(d.id())
            building, storey, _ = self.place(d, mesh)
            if storey is None:
                self.warnings.append(f"IfcDoor {d.GlobalId} ({d.Name}) has no storey; not mapped")
                continue
            if storey.id not in locators:
                mine = [s for s in self.c.spaces if s.storey_id == storey.id]
                locators[storey.id] = SpaceLocator([s.id for s in mine], [s.footprint for s in mine])
            width = float(d.OverallWidth) * self.us if getattr(d, "OverallWidth", None) else None
            frame = door_frame(mesh.verts[:, :2] if mesh is not None else None,
                               self.placement(d), width)
            spaces = connect_door(frame, locators[storey.id], boundaries.get(d.id()))
            if spaces == (None, None) and mesh is not None:
                spaces = connect_door(frame, self._locator_by_z(building, mesh.zmin + 0.5))
            if frame is None:
                self.warnings.append(f"IfcDoor {d.GlobalId} ({d.Name}) has no geometry or placement")
            if spaces == (None, None):
                self.warnings.append(f"IfcDoor {d.GlobalId} ({d.Name}): no space on either side")
            pos = (float(frame.centre[0]), float(frame.centre[1])) if frame else (0.0, 0.0)
            self.c.doors.append(Door(
                id=d.GlobalId, name=d.Name or d.GlobalId, storey_id=storey.id,
                building_id=building.id if building else storey.building_id, position=pos,
                width_m=frame.width_m if frame else (width or 0.0), spaces=spaces,
                is_exit=(spaces[0] is None) != (spaces[1] is None),
                attributes={"ifc_class": d.is_a(),
                            "connection": "space_boundaries" if boundaries.get(d.id()) else "geometry"}))

    def _locator_by_z(self, building: Building | None, z: float) -> SpaceLocator:
        mine = [s for s in self.c.spaces
                if (building is None or s.building_id == building.id)
                and s.id in self.space_z and self.space_z[s.id][0] - 0.3 <= z <= self.space_z[s.id][1]]
        return SpaceLocator([s.id for s in mine], [s.footprint for s in mine])

    # -- stairs ---------------------------------------------------------------------------
    def _flight(self, fl, building) -> tuple[StairFlight, Mesh | None]:
        mesh = self.meshes.get(fl.id())
        _, storey, _ = self.place(fl, mesh)
        fp, width, run = None, 0.0, 0.0
        if mesh is not None:
            fp = mesh_footprint(mesh)
            _, _, long_m, short_m = oriented_box(mesh.verts[:, :2])
            width = short_m
            run = math.hypot(long_m, mesh.zmax - mesh.zmin)
        return StairFlight(id=fl.GlobalId, storey_id=storey.id if storey else "", footprint=fp,
                           width_m=float(width), run_length_m=float(run)), mesh

    def _storeys_spanned(self, building, storey, zmin, zmax) -> list[str]:
        ids = [s.id for s in (building.storeys if building else [])
               if zmin - _STAIR_TOL_M <= s.elevation_m <= zmax + _STAIR_TOL_M]
        if storey is not None and storey.id not in ids:
            ids.append(storey.id)
            ids.sort(key=lambda i: self.c.storey(i).elevation_m)
        return ids

    def _read_stairs(self) -> None:
        for s in self.ifc_stairs:
            self._make_stair(s, [p for p in self.stair_parts[s.id()] if p.is_a("IfcStairFlight")],
                             self.stair_parts[s.id()])
        for fl in self.orphan_flights:
            self._make_stair(fl, [fl], [fl], orphan=True)

    def _make_stair(self, s, flights: list, parts: list, orphan: bool = False) -> None:
        mesh = self.meshes.get(s.id())
        building, storey, _ = self.place(s, mesh)
        recs = [self._flight(fl, building) for fl in flights]
        meshes = [m for m in [mesh] + [self.meshes.get(p.id()) for p in parts] if m is not None]
        fps = [mesh_footprint(m) for m in meshes]
        fp = _clean(shapely.union_all(fps)) if fps else None
        zmin = min((m.zmin for m in meshes), default=float("nan"))
        zmax = max((m.zmax for m in meshes), default=float("nan"))
        storey_ids = (self._storeys_spanned(building, storey, zmin, zmax) if meshes
                      else ([storey.id] if storey else []))
        what = "IfcStairFlight (not part of an IfcStair)" if orphan else "IfcStair"
        if orphan and len(storey_ids) < 2:
            self.warnings.append(f"{what} {s.GlobalId} ({s.Name}) links no two storeys; not mapped")
            return
        if not meshes:
            self.warnings.append(f"{what} {s.GlobalId} ({s.Name}) has no geometry")
        elif len(storey_ids) < 2:
            self.warnings.append(f"{what} {s.GlobalId} ({s.Name}) reaches only one storey")
        widths = [r.width_m for r, _ in recs if r.width_m > 0]
        if not widths and meshes:
            widths = [oriented_box(np.vstack([m.verts[:, :2] for m in meshes]))[3]]
        run = sum(r.run_length_m for r, _ in recs)
        if run == 0 and meshes:
            _, _, long_m, _ = oriented_box(np.vstack([m.verts[:, :2] for m in meshes]))
            run = math.hypot(long_m, zmax - zmin)
        legs = max(len(storey_ids) - 1, 1)
        self.c.stairs.append(Stair(
            id=s.GlobalId, name=s.Name or s.GlobalId,
            building_id=building.id if building else (storey.building_id if storey else ""),
            storey_ids=storey_ids, footprint=fp, width_m=float(min(widths)) if widths else 0.0,
            run_length_m=float(run / legs), flights=[r for r, _ in recs],
            attributes={"ifc_class": s.is_a(), "predefined_type": predefined_type(s),
                        "z_range_m": [zmin, zmax] if meshes else None}))

    # -- elevators ------------------------------------------------------------------------
    def _read_elevators(self) -> None:
        for el in self.elevator_elements:
            mesh = self.meshes.get(el.id())
            building, storey, _ = self.place(el, mesh)
            ids = [storey.id] if storey else []
            for rel in getattr(el, "ReferencedInStructures", None) or []:
                st = self.storey_up(rel.RelatingStructure)
                if st is not None and st.id not in ids:
                    ids.append(st.id)
            if len(ids) < 2 and mesh is not None and building is not None:
                for st in building.storeys:
                    if mesh.zmin - 0.3 <= st.elevation_m <= mesh.zmax - 1.0 and st.id not in ids:
                        ids.append(st.id)
            ids.sort(key=lambda i: self.c.storey(i).elevation_m)
            psets = E.get_psets(el)
            cap = psets.get("Pset_TransportElementCommon", {}).get("CapacityWeight")
            fp = mesh_footprint(mesh) if mesh is not None else None
            if fp is None or fp.is_empty:
                self.warnings.append(f"elevator {el.GlobalId} ({el.Name}) has no plan geometry")
            self.c.elevators.append(Elevator(
                id=el.GlobalId, name=el.Name or el.GlobalId,
                building_id=building.id if building else (storey.building_id if storey else ""),
                storey_ids=ids, footprint=fp, capacity_kg=float(cap) if cap else None,
                attributes={"ifc_class": el.is_a(), "predefined_type": predefined_type(el)}))

    # -- devices --------------------------------------------------------------------------
    def _read_devices(self) -> None:
        seen: set[int] = set()
        locators: dict[str, SpaceLocator] = {}
        for cls in DEVICE_ROOT_CLASSES:
            for el in _by_type(self.f, cls):
                if el.id() in seen:
                    continue
                seen.add(el.id())
                self.c.devices.append(self._device(el, locators))

    def _device(self, el, locators: dict[str, SpaceLocator]) -> Device:
        building, storey, parent = self.place(el, None)
        m = self.placement(el)
        pos = (float(m[0, 3]), float(m[1, 3]), float(m[2, 3])) if m is not None else None
        space_id = None
        if parent is not None and parent.is_a("IfcSpace") and parent.id() in self.spaces:
            space_id = self.spaces[parent.id()].id
        elif storey is not None and pos is not None:
            if storey.id not in locators:
                mine = [s for s in self.c.spaces if s.storey_id == storey.id]
                locators[storey.id] = SpaceLocator([s.id for s in mine], [s.footprint for s in mine])
            space_id = locators[storey.id].at(pos[0], pos[1])
        if storey is None:
            self.warnings.append(f"{el.is_a()} {el.GlobalId} ({el.Name}) has no storey")
        return Device(id=el.GlobalId, kind=device_kind(el), name=el.Name or el.GlobalId,
                      building_id=building.id if building else None,
                      storey_id=storey.id if storey else None, space_id=space_id, position=pos,
                      ifc_class=el.is_a(),
                      attributes={"predefined_type": predefined_type(el), "tag": getattr(el, "Tag", None)})

    # -- buildings and site ---------------------------------------------------------------
    def _finish_buildings(self) -> None:
        for b in self.c.buildings:
            parts = [s.walkable for s in b.storeys if s.walkable is not None]
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
        return {"id": s.GlobalId, "name": s.Name, "long_name": s.LongName,
                "ref_latitude": _dms(s.RefLatitude), "ref_longitude": _dms(s.RefLongitude),
                "ref_elevation_m": float(s.RefElevation) * self.us if s.RefElevation is not None else None}


def _quantities(el) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, q in E.get_psets(el, qtos_only=True).items():
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


def _clean(g: BaseGeometry | None) -> BaseGeometry | None:
    if g is None:
        return None
    if not g.is_valid:
        g = shapely.make_valid(g)
    from bim.meshes import _polygonal

    return _polygonal(g)


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


def extract(f: ifcopenshell.file, *, progress: ProgressFn | None = None) -> Extraction:
    """Read an open IFC file into a community fragment (project coordinates, metres).

    Raises
    ------
    IfcError
        When the file has no IfcBuilding.
    """
    return _Reader(f, progress).read()
