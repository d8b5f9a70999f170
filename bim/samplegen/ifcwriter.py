"""Write one building plan as an IFC4 file (metres), deterministic to the byte.

The project skeleton (units, contexts, georeferencing, site, building, storeys, types) is
made with ``ifcopenshell.api``; the many repeated occurrences (spaces, walls, slabs, doors,
flights, devices) are written as plain entities that reuse shared geometry:

- every distinct shape (a space outline, a storey's walls, a door leaf, a stair flight, a
  device housing) is one ``IfcRepresentationMap`` held by an element type
  (``IfcSpaceType``, ``IfcWallType``, ``IfcDoorType`` ...); occurrences carry an
  ``IfcMappedItem`` of it, so a 33-storey tower stores one floor's geometry;
- placements relative to a storey share their ``IfcAxis2Placement3D``, so identical
  floors share those too.

GlobalIds come from :func:`bim.samplegen.ids.guid`; the header carries a fixed time stamp
and no owner history is written, so two runs give identical files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import ifcopenshell
import ifcopenshell.api.context
import ifcopenshell.api.georeference
import ifcopenshell.api.project
import ifcopenshell.api.root
import ifcopenshell.api.unit
from shapely.geometry import LineString, Polygon
from shapely.ops import linemerge, unary_union

from bim.samplegen.ids import guid
from bim.samplegen.kinds import DEVICE_KINDS
from bim.samplegen.plans import BuildingPlan, PlanDoor, StairPlan

__all__ = ["Georef", "HEADER_TIME_STAMP", "write_building_ifc"]

#: Fixed header time stamp: the files must not change between runs.
HEADER_TIME_STAMP = "2026-01-01T00:00:00+08:00"
SLAB_T_M = 0.15
EXT_WALL_T_M = 0.2
INT_WALL_T_M = 0.12
DEVICE_BOX_M = 0.15


@dataclass(frozen=True)
class Georef:
    """Where the building's local origin sits in the site CRS and its x axis direction.

    ``rotation_deg``: angle of the local x axis from grid east, counter-clockwise.
    """

    easting: float
    northing: float
    rotation_deg: float = 0.0
    crs: str = "EPSG:4547"

    def to_site(self, x: float, y: float) -> tuple[float, float]:
        """Return site (E, N) metres of a building-local point (x, y) in metres."""
        a = math.radians(self.rotation_deg)
        c, s = math.cos(a), math.sin(a)
        return self.easting + c * x - s * y, self.northing + s * x + c * y


def _r(v: float) -> float:
    """Round a coordinate to 0.1 mm so floating noise never reaches the file."""
    return float(round(v, 4)) + 0.0


class _Writer:
    def __init__(self, site: str, plan: BuildingPlan, georef: Georef, map_conversion: bool):
        self.site, self.plan, self.georef = site, plan, georef
        self.map_conversion = map_conversion
        self.f = ifcopenshell.api.project.create_file(version="IFC4")
        self._pts: dict = {}
        self._dirs: dict = {}
        self._axes: dict = {}
        self._maps: dict = {}
        self._types: dict = {}          # map key -> type entity
        self._typed: dict = {}          # type entity id -> [occurrences]
        self._contained: dict = {}      # structure id -> (structure, [products])
        self._referenced: dict = {}
        self._aggregated: dict = {}
        self._psets: dict = {}          # (pset name, frozen props) -> [objects]
        self.guids: dict[tuple[str, str], str] = {}

    # -- ids and small geometry helpers -----------------------------------------------
    def gid(self, kind: str, key: str) -> str:
        g = guid(self.site, self.plan.id, kind, key)
        self.guids[(kind, key)] = g
        return g

    def e(self, cls: str, **kw):
        return self.f.create_entity(cls, **kw)

    def pt(self, *c: float):
        c = tuple(_r(v) for v in c)
        if c not in self._pts:
            self._pts[c] = self.e("IfcCartesianPoint", Coordinates=c)
        return self._pts[c]

    def dir(self, *c: float):
        c = tuple(_r(v) for v in c)
        if c not in self._dirs:
            self._dirs[c] = self.e("IfcDirection", DirectionRatios=c)
        return self._dirs[c]

    def axis(self, x=0.0, y=0.0, z=0.0, angle_deg=0.0):
        key = (_r(x), _r(y), _r(z), round(angle_deg % 360.0, 6))
        if key not in self._axes:
            if key[3] == 0.0:
                self._axes[key] = self.e("IfcAxis2Placement3D", Location=self.pt(x, y, z))
            else:
                a = math.radians(angle_deg)
                self._axes[key] = self.e("IfcAxis2Placement3D", Location=self.pt(x, y, z),
                                         Axis=self.dir(0, 0, 1),
                                         RefDirection=self.dir(math.cos(a), math.sin(a), 0))
        return self._axes[key]

    def place(self, rel_to, x=0.0, y=0.0, z=0.0, angle_deg=0.0):
        return self.e("IfcLocalPlacement", PlacementRelTo=rel_to,
                      RelativePlacement=self.axis(x, y, z, angle_deg))

    def extrusion(self, poly: Polygon, z0: float, depth: float):
        coords = [self.pt(x, y) for x, y in list(poly.exterior.coords)[:-1]]
        profile = self.e("IfcArbitraryClosedProfileDef", ProfileType="AREA",
                         OuterCurve=self.e("IfcPolyline", Points=coords + coords[:1]))
        return self.e("IfcExtrudedAreaSolid", SweptArea=profile,
                      Position=self.axis(0, 0, z0), ExtrudedDirection=self.dir(0, 0, 1),
                      Depth=_r(depth))

    def box(self, x0, y0, z0, dx, dy, dz):
        prof = self.e("IfcRectangleProfileDef", ProfileType="AREA",
                      Position=self.e("IfcAxis2Placement2D",
                                      Location=self.pt(x0 + dx / 2, y0 + dy / 2)),
                      XDim=_r(dx), YDim=_r(dy))
        return self.e("IfcExtrudedAreaSolid", SweptArea=prof, Position=self.axis(0, 0, z0),
                      ExtrudedDirection=self.dir(0, 0, 1), Depth=_r(dz))

    # -- shared representations and types ---------------------------------------------
    def mapped(self, type_cls: str, key: tuple, name: str, items_fn, predefined=None):
        """Return a product shape mapping the type's representation (made on first use)."""
        if key not in self._maps:
            items = items_fn()
            rep = self.e("IfcShapeRepresentation", ContextOfItems=self.body,
                         RepresentationIdentifier="Body", RepresentationType="SweptSolid",
                         Items=items)
            rmap = self.e("IfcRepresentationMap", MappingOrigin=self.axis(), MappedRepresentation=rep)
            t = self.e(type_cls, GlobalId=self.gid("type", "/".join(map(str, key))), Name=name,
                       RepresentationMaps=[rmap])
            if predefined:
                t.PredefinedType = predefined
            self._maps[key] = rmap
            self._types[key] = t
            self._typed[t.id()] = (t, [])
        item = self.e("IfcMappedItem", MappingSource=self._maps[key],
                      MappingTarget=self._identity_op)
        rep = self.e("IfcShapeRepresentation", ContextOfItems=self.body,
                     RepresentationIdentifier="Body", RepresentationType="MappedRepresentation",
                     Items=[item])
        return self._types[key], self.e("IfcProductDefinitionShape", Representations=[rep])

    def typed(self, t, occurrence) -> None:
        self._typed[t.id()][1].append(occurrence)

    def contain(self, structure, product) -> None:
        self._contained.setdefault(structure.id(), (structure, []))[1].append(product)

    def reference(self, structure, product) -> None:
        self._referenced.setdefault(structure.id(), (structure, []))[1].append(product)

    def aggregate(self, whole, part) -> None:
        self._aggregated.setdefault(whole.id(), (whole, []))[1].append(part)

    def pset(self, obj, name: str, props: dict) -> None:
        key = (name, tuple(props.items()))
        self._psets.setdefault(key, []).append(obj)

    # -- the file -----------------------------------------------------------------------
    def setup(self) -> None:
        f = self.f
        hdr = f.header
        hdr.file_name.name = f"{self.plan.id}.ifc"
        hdr.file_name.time_stamp = HEADER_TIME_STAMP
        hdr.file_name.preprocessor_version = "community-twin bim.samplegen"
        hdr.file_name.originating_system = "community-twin bim.samplegen 1"
        hdr.file_name.author = ("community-twin sample generator",)
        hdr.file_name.organization = ("community-twin",)
        hdr.file_name.authorization = "none"
        hdr.file_description.description = ("ViewDefinition [DesignTransferView]",)
        api = ifcopenshell.api
        self.project = api.root.create_entity(f, ifc_class="IfcProject", name=f"{self.site} {self.plan.id}")
        self.project.GlobalId = self.gid("project", self.plan.id)
        units = [api.unit.add_si_unit(f, unit_type=t) for t in ("LENGTHUNIT", "AREAUNIT", "VOLUMEUNIT")]
        units.append(api.unit.add_si_unit(f, unit_type="PLANEANGLEUNIT"))
        api.unit.assign_unit(f, units=units)
        self.length_unit = units[0]
        model = api.context.add_context(f, context_type="Model")
        self.body = api.context.add_context(f, context_type="Model", context_identifier="Body",
                                            target_view="MODEL_VIEW", parent=model)
        self._identity_op = self.e("IfcCartesianTransformationOperator3D",
                                   LocalOrigin=self.pt(0.0, 0.0, 0.0))
        if self.map_conversion:
            self.add_map_conversion()
        self.ifc_site = api.root.create_entity(f, ifc_class="IfcSite", name=self.site)
        self.ifc_site.GlobalId = self.gid("site", self.site)
        self.ifc_site.ObjectPlacement = self.e("IfcLocalPlacement", RelativePlacement=self.axis())
        self.building = api.root.create_entity(f, ifc_class="IfcBuilding", name=self.plan.id)
        self.building.GlobalId = self.gid("building", self.plan.id)
        self.building.LongName = self.plan.name
        self.building.ObjectPlacement = self.place(self.ifc_site.ObjectPlacement)
        self.aggregate(self.project, self.ifc_site)
        self.aggregate(self.ifc_site, self.building)
        self.storeys = {}
        for st in self.plan.storeys:
            s = api.root.create_entity(f, ifc_class="IfcBuildingStorey", name=st.name)
            s.GlobalId = self.gid("storey", st.name)
            s.Elevation = _r(st.elevation_m)
            s.ObjectPlacement = self.place(self.building.ObjectPlacement, z=st.elevation_m)
            self.storeys[st.name] = s
            self.aggregate(self.building, s)

    def add_map_conversion(self) -> None:
        api = ifcopenshell.api
        api.georeference.add_georeferencing(self.f, ifc_class="IfcMapConversion",
                                            name=self.georef.crs)
        a = math.radians(self.georef.rotation_deg)
        api.georeference.edit_georeferencing(
            self.f,
            projected_crs={"Name": self.georef.crs,
                           "Description": "CGCS2000 / 3-degree Gauss-Kruger CM 114E",
                           "GeodeticDatum": "CGCS2000", "MapProjection": "Gauss-Kruger",
                           "MapZone": "3-degree CM 114E", "MapUnit": self.length_unit},
            coordinate_operation={"Eastings": _r(self.georef.easting),
                                  "Northings": _r(self.georef.northing),
                                  "OrthogonalHeight": 0.0,
                                  "XAxisAbscissa": round(math.cos(a), 12) + 0.0,
                                  "XAxisOrdinate": round(math.sin(a), 12) + 0.0,
                                  "Scale": 1.0})

    def storey_elements(self) -> None:
        for st in self.plan.storeys:
            storey = self.storeys[st.name]
            sp = storey.ObjectPlacement
            spaces = {}
            for ps in st.spaces:
                h = st.height_m - SLAB_T_M
                poly = ps.polygon
                key = ("space", ps.usage, tuple(poly.exterior.coords), _r(h))
                t, shape = self.mapped("IfcSpaceType", key, f"{ps.usage} {ps.key}",
                                       lambda: [self.extrusion(poly, 0.0, h)], "SPACE")
                space = self.e("IfcSpace", GlobalId=self.gid("space", f"{st.name}/{ps.key}"),
                               Name=ps.name, LongName=ps.long_name, ObjectType=ps.usage,
                               ObjectPlacement=self.place(sp), Representation=shape,
                               CompositionType="ELEMENT", PredefinedType="INTERNAL")
                self.typed(t, space)
                self.aggregate(storey, space)
                self.pset(space, "Twin_Space", {"Usage": ps.usage})
                spaces[ps.key] = space
            self.walls_and_slab(st, storey)
            for d in st.doors:
                self.door(st, storey, d, spaces)
            for dv in st.devices:
                self.device(st, storey, dv, spaces)
        top = self.plan.storeys[-1]
        if top.elevation_m >= 0:
            fp = unary_union([p.polygon for p in top.spaces])
            h = top.height_m - SLAB_T_M
            t, shape = self.mapped("IfcSlabType", ("roof", tuple(fp.exterior.coords)), "roof slab",
                                   lambda: [self.extrusion(fp, h, SLAB_T_M)], "ROOF")
            roof = self.e("IfcSlab", GlobalId=self.gid("slab", "roof"), Name=f"{self.plan.id} roof",
                          ObjectPlacement=self.place(self.storeys[top.name].ObjectPlacement),
                          Representation=shape, PredefinedType="ROOF")
            self.typed(t, roof)
            self.contain(self.storeys[top.name], roof)

    def walls_and_slab(self, st, storey) -> None:
        polys = [p.polygon for p in st.spaces]
        outline = unary_union(polys)
        ext_lines, int_lines = _wall_lines(polys, outline)
        h = st.height_m - SLAB_T_M
        for label, lines, thick in (("exterior", ext_lines, EXT_WALL_T_M),
                                    ("interior", int_lines, INT_WALL_T_M)):
            if not lines:
                continue
            key = ("walls", label, tuple(tuple(l.coords) for l in lines), _r(h))
            t, shape = self.mapped("IfcWallType", key, f"{label} walls",
                                   lambda: [self.wall_solid(l, thick, h) for l in lines],
                                   "SOLIDWALL")
            wall = self.e("IfcWall", GlobalId=self.gid("wall", f"{st.name}/{label}"),
                          Name=f"{st.name} {label} walls",
                          ObjectPlacement=self.place(storey.ObjectPlacement),
                          Representation=shape, PredefinedType="SOLIDWALL")
            self.typed(t, wall)
            self.contain(storey, wall)
        key = ("slab", tuple(outline.exterior.coords))
        t, shape = self.mapped("IfcSlabType", key, "floor slab",
                               lambda: [self.extrusion(outline, -SLAB_T_M, SLAB_T_M)], "FLOOR")
        slab = self.e("IfcSlab", GlobalId=self.gid("slab", st.name), Name=f"{st.name} floor slab",
                      ObjectPlacement=self.place(storey.ObjectPlacement), Representation=shape,
                      PredefinedType="FLOOR")
        self.typed(t, slab)
        self.contain(storey, slab)

    def wall_solid(self, line: LineString, thick: float, h: float):
        (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
        length = math.hypot(x1 - x0, y1 - y0)
        a = math.atan2(y1 - y0, x1 - x0)
        prof = self.e("IfcRectangleProfileDef", ProfileType="AREA",
                      Position=self.e("IfcAxis2Placement2D",
                                      Location=self.pt((x0 + x1) / 2, (y0 + y1) / 2),
                                      RefDirection=self.dir(math.cos(a), math.sin(a))),
                      XDim=_r(length + thick), YDim=_r(thick))
        return self.e("IfcExtrudedAreaSolid", SweptArea=prof, Position=self.axis(),
                      ExtrudedDirection=self.dir(0, 0, 1), Depth=_r(h))

    def door(self, st, storey, d: PlanDoor, spaces) -> None:
        w, t = d.width_m, EXT_WALL_T_M
        key = ("door", _r(w), _r(d.height_m))
        op = "DOUBLE_DOOR_DOUBLE_SWING" if w >= 1.5 else "SINGLE_SWING_LEFT"
        dt, shape = self.mapped("IfcDoorType", key, f"door {w:.2f} x {d.height_m:.2f} m",
                                lambda: [self.box(-w / 2, -t / 2, 0.0, w, t, d.height_m)], "DOOR")
        if dt.OperationType is None:
            dt.OperationType = op
        door = self.e("IfcDoor", GlobalId=self.gid("door", f"{st.name}/{d.key}"),
                      Name=f"{self.plan.id}-{d.key}", Tag=f"{self.plan.id}-{d.key}",
                      ObjectPlacement=self.place(storey.ObjectPlacement, d.x, d.y, 0.0, d.angle_deg),
                      Representation=shape, OverallHeight=_r(d.height_m), OverallWidth=_r(w),
                      PredefinedType="DOOR", OperationType=op)
        self.typed(dt, door)
        self.contain(storey, door)
        for side, sk in enumerate(d.spaces):
            if sk is None:
                continue
            self.e("IfcRelSpaceBoundary", GlobalId=self.gid("boundary", f"{st.name}/{d.key}/{sk}"),
                   RelatingSpace=spaces[sk], RelatedBuildingElement=door,
                   PhysicalOrVirtualBoundary="PHYSICAL",
                   InternalOrExternalBoundary="EXTERNAL" if d.is_exit else "INTERNAL")
        self.pset(door, "Twin_Door", {"IsExit": d.is_exit})

    def device(self, st, storey, dv, spaces) -> None:
        k = DEVICE_KINDS[dv.kind]
        b = DEVICE_BOX_M
        key = ("device", dv.kind)
        cls = k.ifc_class + "Type"
        t, shape = self.mapped(cls, key, f"{dv.kind}",
                               lambda: [self.box(-b / 2, -b / 2, -b / 2, b, b, b)], k.predefined_type)
        el = self.e(k.ifc_class, GlobalId=self.gid("device", dv.id), Name=dv.name, Tag=dv.id,
                    ObjectType=dv.kind,
                    ObjectPlacement=self.place(storey.ObjectPlacement, dv.x, dv.y, dv.z),
                    Representation=shape, PredefinedType=k.predefined_type)
        self.typed(t, el)
        self.contain(spaces[dv.space], el)
        self.pset(el, "Twin_Device", {"Kind": dv.kind})

    # -- vertical circulation ---------------------------------------------------------
    def stairs(self) -> None:
        for sp in self.plan.stairs:
            names = sp.storeys
            for lower, upper in zip(names, names[1:]):
                self.stair_segment(sp, lower, upper)

    def stair_segment(self, sp: StairPlan, lower: str, upper: str) -> None:
        lo = next(s for s in self.plan.storeys if s.name == lower)
        hi = next(s for s in self.plan.storeys if s.name == upper)
        rise_total = hi.elevation_m - lo.elevation_m
        n = _risers_per_flight(rise_total)
        r = rise_total / (2 * n)
        t, w = sp.tread_m, sp.flight_width_m
        going = (n - 1) * t
        slope = math.hypot(going, n * r)
        landing = 1.3
        run = 2 * slope + (sp.width_m - w)   # two flights + crossing the half landing
        stair = self.e("IfcStair", GlobalId=self.gid("stair", f"{sp.key}/{lower}"),
                       Name=f"{self.plan.id}-{sp.key} {lower}-{upper}",
                       Tag=f"{self.plan.id}-{sp.key}",
                       ObjectPlacement=self.place(self.storeys[lower].ObjectPlacement, sp.x0, sp.y0),
                       PredefinedType="HALF_TURN_STAIR")
        self.contain(self.storeys[lower], stair)
        self.reference(self.storeys[upper], stair)
        self.pset(stair, "Twin_Stair", {"Shaft": f"{self.plan.id}-{sp.key}",
                                        "Width": _r(w), "RunLength": _r(run)})
        self.pset(stair, "Pset_StairCommon", {"NumberOfRiser": 2 * n, "NumberOfTreads": 2 * (n - 1),
                                              "RiserHeight": _r(r), "TreadLength": _r(t),
                                              "FireExit": True})
        key = ("flight", n, _r(r), _r(t), _r(w))
        for i, (x, y, z, ang) in enumerate(((0.1, landing, 0.0, 90.0),
                                            (sp.width_m - 0.1, landing + n * t, n * r, 270.0))):
            ft, shape = self.mapped("IfcStairFlightType", key, f"flight {n}x{r:.3f} m",
                                    lambda: [self.flight_solid(n, r, t, w)], "STRAIGHT")
            fl = self.e("IfcStairFlight", GlobalId=self.gid("flight", f"{sp.key}/{lower}/{i + 1}"),
                        Name=f"{self.plan.id}-{sp.key} {lower} flight {i + 1}",
                        ObjectPlacement=self.place(stair.ObjectPlacement, x, y, z, ang),
                        Representation=shape, NumberOfRisers=n, NumberOfTreads=n - 1,
                        RiserHeight=_r(r), TreadLength=_r(t), PredefinedType="STRAIGHT")
            self.typed(ft, fl)
            self.aggregate(stair, fl)
            self.pset(fl, "Twin_StairFlight", {"Width": _r(w), "RunLength": _r(slope)})

    def flight_solid(self, n: int, r: float, t: float, w: float):
        """Stepped flight: profile in the local x (going) / y (rise) plane, extruded across."""
        pts = [(0.0, 0.0)]
        for k in range(1, n + 1):      # the top tread is the edge of the landing
            pts += [((k - 1) * t, k * r), (k * t, k * r)]
        pts += [(n * t, n * r - 0.2), (0.0, -0.2)]
        prof = self.e("IfcArbitraryClosedProfileDef", ProfileType="AREA",
                      OuterCurve=self.e("IfcPolyline", Points=[self.pt(*p) for p in pts + pts[:1]]))
        # local x = going, local y = up: the profile plane is the placement's XZ plane.
        pos = self.e("IfcAxis2Placement3D", Location=self.pt(0.0, 0.0, 0.0),
                     Axis=self.dir(0, -1, 0), RefDirection=self.dir(1, 0, 0))
        return self.e("IfcExtrudedAreaSolid", SweptArea=prof, Position=pos,
                      ExtrudedDirection=self.dir(0, 0, 1), Depth=_r(w))

    def elevators(self) -> None:
        for ev in self.plan.elevators:
            ground = next(s for s in self.plan.storeys if s.elevation_m >= 0)
            first = next(s for s in self.plan.storeys if s.name == ev.storeys[0])
            last = next(s for s in self.plan.storeys if s.name == ev.storeys[-1])
            height = last.elevation_m + last.height_m - first.elevation_m
            key = ("elevator", _r(ev.width_m), _r(ev.depth_m), _r(height))
            t, shape = self.mapped("IfcTransportElementType", key, "elevator car and shaft",
                                   lambda: [self.box(0, 0, 0, ev.width_m, ev.depth_m, height)],
                                   "ELEVATOR")
            el = self.e("IfcTransportElement", GlobalId=self.gid("elevator", ev.key),
                        Name=f"{self.plan.id}-{ev.key}", Tag=f"{self.plan.id}-{ev.key}",
                        ObjectPlacement=self.place(self.storeys[first.name].ObjectPlacement,
                                                   ev.x0, ev.y0),
                        Representation=shape, PredefinedType="ELEVATOR")
            self.typed(t, el)
            home = ground.name if ground.name in ev.storeys else ev.storeys[0]
            self.contain(self.storeys[home], el)
            for name in ev.storeys:
                if name != home:
                    self.reference(self.storeys[name], el)
            self.pset(el, "Pset_TransportElementCommon", {"CapacityPeople": 14})
            self.pset(el, "Twin_Elevator", {"CapacityKg": ev.capacity_kg})

    # -- relationships, written once at the end ---------------------------------------
    def relationships(self) -> None:
        for sid, (structure, items) in self._aggregated.items():
            self.e("IfcRelAggregates", GlobalId=self.gid("rel-aggregates", structure.GlobalId),
                   RelatingObject=structure, RelatedObjects=items)
        for sid, (structure, items) in self._contained.items():
            self.e("IfcRelContainedInSpatialStructure",
                   GlobalId=self.gid("rel-contained", structure.GlobalId),
                   RelatingStructure=structure, RelatedElements=items)
        for sid, (structure, items) in self._referenced.items():
            self.e("IfcRelReferencedInSpatialStructure",
                   GlobalId=self.gid("rel-referenced", structure.GlobalId),
                   RelatingStructure=structure, RelatedElements=items)
        for tid, (t, items) in self._typed.items():
            if items:
                self.e("IfcRelDefinesByType", GlobalId=self.gid("rel-type", t.GlobalId),
                       RelatingType=t, RelatedObjects=items)
        for (name, props), objs in self._psets.items():
            key = f"{name}/" + "/".join(f"{k}={v}" for k, v in props)
            values = [self.e("IfcPropertySingleValue", Name=k, NominalValue=_value(self.f, k, v))
                      for k, v in props]
            pset = self.e("IfcPropertySet", GlobalId=self.gid("pset", key), Name=name,
                          HasProperties=values)
            self.e("IfcRelDefinesByProperties", GlobalId=self.gid("rel-pset", key),
                   RelatedObjects=objs, RelatingPropertyDefinition=pset)


def _value(f, name: str, v):
    if isinstance(v, bool):
        return f.create_entity("IfcBoolean", v)
    if isinstance(v, int):
        return f.create_entity("IfcCountMeasure", v)
    if isinstance(v, float):
        if name in ("RiserHeight", "TreadLength", "Width", "RunLength"):
            return f.create_entity("IfcPositiveLengthMeasure", v)
        if name == "CapacityKg":
            return f.create_entity("IfcMassMeasure", v)
        return f.create_entity("IfcReal", v)
    return f.create_entity("IfcLabel", str(v))


def _risers_per_flight(rise_m: float) -> int:
    """Risers per flight (two flights per storey) keeping the riser at most 0.175 m."""
    return max(2, math.ceil(rise_m / 2 / 0.175))


def _wall_lines(polys: list[Polygon], outline) -> tuple[list[LineString], list[LineString]]:
    """Split the space edges of a storey into exterior and interior wall centre lines."""
    edges = unary_union([p.boundary for p in polys])
    merged = linemerge(edges) if edges.geom_type == "MultiLineString" else edges
    boundary = outline.boundary
    ext, inner = [], []
    for line in getattr(merged, "geoms", [merged]):
        coords = list(line.coords)
        for a, b in zip(coords, coords[1:]):
            seg = LineString([a, b])
            if seg.length < 1e-6:
                continue
            (ext if boundary.buffer(1e-6).contains(seg) else inner).append(seg)
    return _straighten(ext), _straighten(inner)


def _straighten(segs: list[LineString]) -> list[LineString]:
    """Join collinear touching segments and order them canonically."""
    merged = linemerge(unary_union(segs)) if segs else None
    out = []
    for line in getattr(merged, "geoms", [merged]) if merged is not None else []:
        coords = [tuple(round(c, 4) for c in p) for p in line.coords]
        run = [coords[0]]
        for p in coords[1:]:
            if len(run) >= 2 and _collinear(run[-2], run[-1], p):
                run[-1] = p
            else:
                run.append(p)
        for a, b in zip(run, run[1:]):
            out.append(LineString(sorted([a, b])))
    return sorted(out, key=lambda l: tuple(l.coords))


def _collinear(a, b, c) -> bool:
    return abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])) < 1e-9


def write_building_ifc(site: str, plan: BuildingPlan, path: Path, georef: Georef,
                       map_conversion: bool = True) -> dict[tuple[str, str], str]:
    """Write ``plan`` to ``path`` as IFC4 in metres and return the GlobalIds it used.

    Parameters
    ----------
    site : str
        Site name; part of every GlobalId's stable name.
    plan : BuildingPlan
        The building (building-local metres).
    path : Path
        Output file.
    georef : Georef
        Site coordinates of the local origin; written as ``IfcMapConversion`` to
        ``georef.crs`` when ``map_conversion`` is true (else the manifest's ``anchor``
        must carry it).

    Returns
    -------
    dict
        ``(kind, key) -> GlobalId`` for everything written (kinds: storey, space, door,
        device, stair, elevator, ...).
    """
    w = _Writer(site, plan, georef, map_conversion)
    w.setup()
    w.storey_elements()
    w.stairs()
    w.elevators()
    w.relationships()
    path.parent.mkdir(parents=True, exist_ok=True)
    w.f.write(str(path))
    return w.guids
