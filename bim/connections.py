"""How the reader joins spaces: doors (space boundaries, plan probes) and open connections.

A mixin of :class:`bim.extract._Reader` (one concept per module); it uses the reader's
placement, footprint and locator helpers and appends to its community.
"""

from __future__ import annotations

from collections import defaultdict

import shapely

from bim.ifcattr import attribute, attributes, global_id, name as ifc_name
from bim.doors import SpaceLocator, connect_door, door_frame, probe_doors
from bim.meshes import oriented_boxes
from twin.model import Building, Door, Space, Storey

__all__ = ["ConnectionsMixin"]


def _by_type(f, cls: str) -> list:
    try:
        return list(f.by_type(cls))
    except RuntimeError:
        return []


class ConnectionsMixin:
    """Doors and open connections of :class:`bim.extract._Reader`."""

    # -- doors ----------------------------------------------------------------------------
    def _locator(self, storey_id: str) -> SpaceLocator:
        """Space locator of one storey (built once)."""
        loc = self._locators.get(storey_id)
        if loc is None:
            if not self._spaces_by_storey and self.c.spaces:
                for sp in self.c.spaces:
                    self._spaces_by_storey[sp.storey_id].append(sp)
            mine = self._spaces_by_storey.get(storey_id, [])
            loc = self._locators[storey_id] = SpaceLocator([s.id for s in mine],
                                                           [s.footprint for s in mine])
        return loc

    def _space_boundaries(self) -> list[tuple]:
        """``(element or None, space id, PhysicalOrVirtualBoundary)`` of every
        IfcRelSpaceBoundary of a read space (one pass over the file's boundaries)."""
        rows = getattr(self, "_boundary_rows", None)
        if rows is None:
            rows = self._boundary_rows = []
            for rel in _by_type(self.f, "IfcRelSpaceBoundary"):
                sp, el, kind = attributes(rel, _BOUNDARY)
                if sp is None or sp.id() not in self.spaces:
                    continue
                rows.append((el, self.spaces[sp.id()].id, kind))
        return rows

    def _read_doors(self) -> None:
        boundaries: dict[int, list[str]] = defaultdict(list)
        for el, space_id, _ in self._space_boundaries() if self.use_space_boundaries else []:
            if el is not None and el.is_a("IfcDoor"):
                boundaries[el.id()].append(space_id)
        with_mesh = [d for d in self.ifc_doors if d.id() in self.meshes]
        boxes = dict(zip((d.id() for d in with_mesh), oriented_boxes(
            [self.meshes[d.id()].verts[:, :2] for d in with_mesh])))
        rows = []
        for d in self.ifc_doors:
            mesh = self.meshes.get(d.id())
            building, storey, _ = self.place(d, mesh)
            if storey is None:
                self.warnings.append(f"IfcDoor {d.GlobalId} ({d.Name}) has no storey; not mapped")
                continue
            w = attribute(d, "OverallWidth")
            width = float(w) * self.us if w else None
            frame = door_frame(mesh.verts[:, :2] if mesh is not None else None,
                               lambda d=d: self.placement(d), width, boxes.get(d.id()))
            rows.append((d, mesh, building, storey, width, frame))
        by_storey: dict[str, list[int]] = defaultdict(list)
        for i, row in enumerate(rows):
            by_storey[row[3].id].append(i)
        probes: dict[int, tuple] = {}
        for sid, idx in by_storey.items():
            # a door whose space boundaries name exactly two spaces needs no probes
            idx = [i for i in idx if len(set(boundaries.get(rows[i][0].id(), ()))) != 2]
            if idx:
                for i, pr in zip(idx, probe_doors([rows[i][5] for i in idx], self._locator(sid))):
                    probes[i] = pr
        for i, (d, mesh, building, storey, width, frame) in enumerate(rows):
            self._add_door(d, mesh, building, storey, width, frame, boundaries.get(d.id()),
                           probes.get(i, ([], [])))

    def _add_door(self, d, mesh, building, storey, width, frame, bounds, probes) -> None:
        spaces = connect_door(frame, None, bounds, probes)
        if spaces == (None, None) and mesh is not None:
            spaces = connect_door(frame, self._locator_by_z(building, mesh.zmin + 0.5))
        guid, name = global_id(d), ifc_name(d)
        if frame is None:
            self.warnings.append(f"IfcDoor {guid} ({name}) has no geometry or placement")
        if spaces == (None, None):
            self.warnings.append(f"IfcDoor {guid} ({name}): no space on either side")
        pos = (float(frame.centre[0]), float(frame.centre[1])) if frame else (0.0, 0.0)
        outside = (spaces[0] is None) != (spaces[1] is None)
        self.c.doors.append(Door(
            id=guid, name=name or guid, storey_id=storey.id,
            building_id=building.id if building else storey.building_id, position=pos,
            width_m=frame.width_m if frame else (width or 0.0), spaces=spaces,
            is_exit=outside and self._is_exit_level(building, storey),
            attributes={"ifc_class": d.is_a(), "leads_outside": outside,
                        "connection": "space_boundaries" if bounds else "geometry"}))

    def _is_exit_level(self, building: Building | None, storey: Storey) -> bool:
        """Whether a door to the outside on ``storey`` is an exit (not a balcony door).

        The ground storey is the one whose elevation is nearest 0; doors to the outside on
        it or below (basements, ramps) are exits, those more than 1.5 m above are not.
        """
        key = building.id if building is not None else None
        if key not in self._ground:
            storeys = building.storeys if building is not None and building.storeys else [storey]
            self._ground[key] = min(storeys, key=lambda s: abs(s.elevation_m)).elevation_m
        return storey.elevation_m <= self._ground[key] + 1.5

    # -- open connections ------------------------------------------------------------------
    def _read_openings(self) -> None:
        """Open connections between spaces (no door): ``community.attributes["openings"]``.

        Two spaces of a storey are joined when both have virtual space boundaries (the file
        says they are open on some side: an open-plan kitchen, a stair hall) and their
        footprints meet along at least 0.5 m. Spaces separated by a wall never touch.
        """
        virtual = set()
        for el, space_id, kind in self._space_boundaries():
            if kind == "VIRTUAL" or (el is not None and el.is_a("IfcVirtualElement")):
                virtual.add(space_id)
        openings = []
        by_storey: dict[str, list[Space]] = defaultdict(list)
        for sp in self.c.spaces:
            if sp.id in virtual and not sp.footprint.is_empty:
                by_storey[sp.storey_id].append(sp)
        for storey_id, spaces in by_storey.items():
            if len(spaces) < 2:
                continue
            # only pairs within the gap of each other (one tree query, not every pair)
            near = shapely.STRtree([sp.footprint for sp in spaces]).query(
                [sp.footprint for sp in spaces], predicate="dwithin", distance=_OPENING_GAP_M)
            for i, j in sorted(zip(near[0].tolist(), near[1].tolist())):
                if i < j:
                    o = _opening(spaces[i], spaces[j])
                    if o is not None:
                        openings.append(o)
        self.c.attributes["openings"] = openings

    def _locator_by_z(self, building: Building | None, z: float) -> SpaceLocator:
        mine = [s for s in self.c.spaces
                if (building is None or s.building_id == building.id)
                and s.id in self.space_z and self.space_z[s.id][0] - 0.3 <= z <= self.space_z[s.id][1]]
        return SpaceLocator([s.id for s in mine], [s.footprint for s in mine])


_OPENING_GAP_M = 0.05  # footprints this close meet (m)
_BOUNDARY = ("RelatingSpace", "RelatedBuildingElement", "PhysicalOrVirtualBoundary")


def _opening(a: Space, b: Space, *, gap_m: float = _OPENING_GAP_M, min_width_m: float = 0.5) -> dict | None:
    """The open connection of two touching space footprints, or None."""
    if a.footprint.distance(b.footprint) > gap_m:
        return None
    shared = a.footprint.boundary.intersection(b.footprint.buffer(gap_m))
    if shared.is_empty or shared.length < min_width_m:
        return None
    mid = shapely.line_interpolate_point(shapely.line_merge(shared) if shared.geom_type == "MultiLineString"
                                         else shared, 0.5, normalized=True) \
        if shared.geom_type in ("LineString", "MultiLineString") else shared.centroid
    if mid.is_empty:
        mid = shared.centroid
    return {"id": f"open:{a.id}:{b.id}", "spaces": [a.id, b.id], "storey_id": a.storey_id,
            "building_id": a.building_id, "position": [float(mid.x), float(mid.y)],
            "width_m": float(shared.length), "source": "virtual_space_boundaries"}
