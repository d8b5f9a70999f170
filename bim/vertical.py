"""Stairs (with their flights) and elevators of the reader: storeys linked, plans, widths.

A mixin of :class:`bim.extract._Reader` (one concept per module).
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from bim.devices import predefined_type
from bim.ifcattr import global_id, name as ifc_name
from bim.meshes import Mesh, clean_polygonal as _clean, oriented_box, oriented_boxes
from twin.model import Elevator, Stair, StairFlight

__all__ = ["VerticalMixin"]

_STAIR_TOL_M = 0.45  # a stair reaches a storey when its geometry comes this close (m)


class VerticalMixin:
    """Stairs, stair flights and elevators of :class:`bim.extract._Reader`."""

    # -- stairs ---------------------------------------------------------------------------
    def _flight(self, fl, building) -> tuple[StairFlight, Mesh | None]:
        mesh = self.meshes.get(fl.id())
        _, storey, _ = self.place(fl, mesh)
        fp, width, run = None, 0.0, 0.0
        if mesh is not None:
            fp = self.footprint(fl)
            _, _, long_m, short_m = self._flight_boxes[fl.id()]
            width = short_m
            run = math.hypot(long_m, mesh.zmax - mesh.zmin)
        return StairFlight(id=global_id(fl), storey_id=storey.id if storey else "", footprint=fp,
                           width_m=float(width), run_length_m=float(run)), mesh

    def _union_of(self, footprints: list):
        """Clean union of footprints, once per set of (shared) footprint objects: a stair
        repeated storey above storey has the same parts' footprints."""
        key = tuple(id(g) for g in footprints)
        if key not in self._stair_unions:
            self._stair_unions[key] = _clean(shapely.union_all(footprints))
        return self._stair_unions[key]

    def _storeys_spanned(self, building, storey, zmin, zmax) -> list[str]:
        ids = [s.id for s in (building.storeys if building else [])
               if zmin - _STAIR_TOL_M <= s.elevation_m <= zmax + _STAIR_TOL_M]
        if storey is not None and storey.id not in ids:
            ids.append(storey.id)
            ids.sort(key=lambda i: self.c.storey(i).elevation_m)
        return ids

    def _read_stairs(self) -> None:
        flights = {fl.id(): fl for fl in self.orphan_flights}
        for s in self.ifc_stairs:
            flights.update((p.id(), p) for p in self.stair_parts[s.id()] if p.is_a("IfcStairFlight"))
        with_mesh = [k for k in flights if k in self.meshes]  # plan boxes in one batch
        self._flight_boxes = dict(zip(with_mesh, oriented_boxes([self.meshes[k].verts[:, :2]
                                                                 for k in with_mesh])))
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
        fps = [self.footprint(p) for p in [s] + list(parts) if p.id() in self.meshes]
        fp = self._union_of(fps) if fps else None
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
        run = sum(r.run_length_m for r, _ in recs)
        if (not widths or run == 0) and meshes:  # the plan box of the whole stair
            _, _, long_m, short_m = oriented_box(np.vstack([m.verts[:, :2] for m in meshes]))
            widths = widths or [short_m]
            run = run or math.hypot(long_m, zmax - zmin)
        legs = max(len(storey_ids) - 1, 1)
        self.c.stairs.append(Stair(
            id=global_id(s), name=ifc_name(s) or global_id(s),
            building_id=building.id if building else (storey.building_id if storey else ""),
            storey_ids=storey_ids, footprint=fp, width_m=float(min(widths)) if widths else 0.0,
            run_length_m=float(run / legs), flights=[r for r, _ in recs],
            attributes={"ifc_class": s.is_a(), "predefined_type": predefined_type(s, self.rel.type_of),
                        "z_range_m": [zmin, zmax] if meshes else None}))

    # -- elevators ------------------------------------------------------------------------
    def _read_elevators(self) -> None:
        for el in self.elevator_elements:
            mesh = self.meshes.get(el.id())
            building, storey, _ = self.place(el, mesh)
            ids = [storey.id] if storey else []
            for structure in self.rel.references.get(el.id(), []):
                st = self.storey_up(structure)
                if st is not None and st.id not in ids:
                    ids.append(st.id)
            if len(ids) < 2 and mesh is not None and building is not None:
                for st in building.storeys:
                    if mesh.zmin - 0.3 <= st.elevation_m <= mesh.zmax - 1.0 and st.id not in ids:
                        ids.append(st.id)
            ids.sort(key=lambda i: self.c.storey(i).elevation_m)
            psets = self.rel.psets(el, names={"Pset_TransportElementCommon"})
            cap = psets.get("Pset_TransportElementCommon", {}).get("CapacityWeight")
            fp = self.footprint(el) if mesh is not None else None
            if fp is None or fp.is_empty:
                self.warnings.append(f"elevator {el.GlobalId} ({el.Name}) has no plan geometry")
            self.c.elevators.append(Elevator(
                id=el.GlobalId, name=el.Name or el.GlobalId,
                building_id=building.id if building else (storey.building_id if storey else ""),
                storey_ids=ids, footprint=fp, capacity_kg=float(cap) if cap else None,
                attributes={"ifc_class": el.is_a(), "predefined_type": predefined_type(el, self.rel.type_of)}))
