"""Generate a sample site folder: IFC files, GIS layers, registers and ``site.json``.

The folder is built in a temporary sibling and swapped in at the end, so a failed run
leaves the previous output untouched.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from shapely.geometry import LineString, Point, Polygon, box

from bim.samplegen.errors import SampleGenError
from bim.samplegen.gis import footpath_connectors, to_site, write_layer
from bim.samplegen.ids import guid
from bim.samplegen.ifcwriter import Georef, write_building_ifc
from bim.samplegen.names import FakePeople
from bim.samplegen.plans import BuildingPlan, garage_parking
from bim.samplegen.registers import (
    BILLING_COLUMNS, DEVICE_COLUMNS, HOUSEHOLD_COLUMNS, STAFF_COLUMNS, household_size,
    staff_roster, write_csv,
)
from bim.samplegen.sites import SITES, GisBuilding, IfcBuilding, SiteSpec

__all__ = ["SiteSummary", "generate_site"]

LAYERS = ("buildings", "roads", "footpaths", "green", "parking", "gates", "public_areas")
PARKING_SOLD_SHARE = 0.55


@dataclass
class SiteSummary:
    """What one run wrote: counts per kind, files and sizes, seconds taken."""

    name: str
    folder: Path
    counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)     # relative path -> bytes
    seconds: float = 0.0


class _Site:
    def __init__(self, spec: SiteSpec, folder: Path, log):
        self.spec, self.folder, self.log = spec, folder, log
        self.plans: list[tuple[IfcBuilding, BuildingPlan]] = []
        self.people = FakePeople(spec.seed)
        self.rng = random.Random(spec.seed + 1)
        self.billing: list[dict] = []
        self.devices: list[dict] = []
        self.exits: list[tuple[str, Point]] = []

    # -- helpers ---------------------------------------------------------------------
    def gid(self, bid: str, kind: str, key: str) -> str:
        return guid(self.spec.name, bid, kind, key)

    def site_geom(self, b: IfcBuilding, geom):
        return to_site(geom, self.spec.origin, b.rotation_deg, b.x, b.y)

    # -- buildings -------------------------------------------------------------------
    def write_ifc(self) -> None:
        for b in self.spec.ifc_buildings:
            t0 = time.perf_counter()
            plan = b.make()
            e, n = self.spec.origin[0] + b.x, self.spec.origin[1] + b.y
            georef = Georef(e, n, b.rotation_deg, self.spec.crs)
            write_building_ifc(self.spec.name, plan, self.folder / "ifc" / f"{plan.id}.ifc",
                               georef, map_conversion=b.georef == "map_conversion")
            self.plans.append((b, plan))
            self.log(f"  {plan.id}: {len(plan.storeys)} storeys, "
                     f"{sum(len(s.spaces) for s in plan.storeys)} spaces "
                     f"({time.perf_counter() - t0:.1f} s)")

    def building_features(self) -> list:
        feats = []
        for b, plan in self.plans:
            props = {"id": plan.id, "name": plan.name, "floors": plan.floors,
                     "height_m": round(plan.height_m, 3), "ifc": f"ifc/{plan.id}.ifc",
                     "kind": plan.kind}
            if plan.kind == "garage":
                props.update(floors=0, height_m=0.0, levels_below_ground=len(plan.storeys),
                             depth_m=round(-plan.storeys[0].elevation_m, 3))
            feats.append((props, self.site_geom(b, plan.footprint())))
        for g in self.spec.gis_buildings:
            feats.append(({"id": g.id, "name": g.name, "floors": g.floors,
                           "height_m": round(g.floors * g.storey_height_m, 3),
                           "kind": "residential"},
                          to_site(g.footprint, self.spec.origin)))
        return feats

    # -- devices and billing units ---------------------------------------------------
    def plan_rows(self) -> None:
        for b, plan in self.plans:
            for st in plan.storeys:
                storey_id = self.gid(plan.id, "storey", st.name)
                for sp in st.spaces:
                    if sp.billing_id:
                        self.billing.append({
                            "id": sp.billing_id,
                            "kind": "apartment" if sp.usage == "apartment" else "shop",
                            "building": plan.id, "storey": storey_id,
                            "space": self.gid(plan.id, "space", f"{st.name}/{sp.key}"),
                            "area_m2": round(sp.area_m2, 2)})
                for dv in st.devices:
                    p = self.site_geom(b, Point(dv.x, dv.y))
                    serves = (self.gid(plan.id, "elevator", dv.serves) if dv.serves else None)
                    self.devices.append({
                        "id": dv.id, "kind": dv.kind, "name": dv.name, "building": plan.id,
                        "storey": storey_id,
                        "space": self.gid(plan.id, "space", f"{st.name}/{dv.space}"),
                        "x": round(p.x, 3), "y": round(p.y, 3),
                        "z": round(st.elevation_m + dv.z, 3), "feeds": list(dv.feeds),
                        "ifc_guid": self.gid(plan.id, "device", dv.id), "serves": serves})
                for d in st.doors:
                    if d.is_exit and st.elevation_m >= 0 or d.is_exit and plan.kind == "garage":
                        if d.width_m < 5:   # vehicle ramps join roads, not footpaths
                            self.exits.append((f"{plan.id}-{d.key}",
                                               self.site_geom(b, Point(d.x, d.y))))
        if self.spec.garage:
            self.parking_units()

    def parking_units(self) -> None:
        b, plan = next((b, p) for b, p in self.plans if p.id == self.spec.garage)
        storey = plan.storeys[0]
        for pid, poly in garage_parking():
            self.billing.append({
                "id": pid, "kind": "parking", "building": plan.id,
                "storey": self.gid(plan.id, "storey", storey.name),
                "space": self.gid(plan.id, "space", f"{storey.name}/HALL"), "feature": pid,
                "area_m2": round(poly.area, 2)})

    def gis_building_rows(self) -> None:
        """Flats, meters and smoke detectors of GIS-only buildings (generated ids)."""
        for g in self.spec.gis_buildings:
            minx, miny, maxx, maxy = g.footprint.bounds
            unit_w = (maxx - minx) / g.units
            stair_w = g.stair_width_m * 2 + 0.4
            flat_w = (unit_w - stair_w) / g.flats_per_floor
            depth = maxy - miny
            for f in range(1, g.floors + 1):
                storey = f"{g.id}-F{f:02d}"
                z = (f - 1) * g.storey_height_m
                for u in range(1, g.units + 1):
                    x0 = minx + (u - 1) * unit_w
                    for k in range(1, g.flats_per_floor + 1):
                        bill = f"{g.id}-U{u}-{f:02d}{k:02d}"
                        fx = x0 if k == 1 else x0 + flat_w + stair_w
                        self.billing.append({"id": bill, "kind": "apartment", "building": g.id,
                                             "storey": storey, "area_m2": round(flat_w * depth, 2)})
                        p = to_site(Point(fx + flat_w / 2, miny + depth / 2), self.spec.origin)
                        for kind, suf, dz, zh in (("meter_electricity", "EM", 1.6, "电表"),
                                                  ("meter_water", "WM", 0.3, "水表")):
                            self.devices.append({
                                "id": f"{bill}-{suf}", "kind": kind,
                                "name": f"{g.name}{u}单元{f}{k:02d}室{zh}", "building": g.id,
                                "storey": storey, "x": round(p.x, 3), "y": round(p.y, 3),
                                "z": round(z + dz, 3), "feeds": [bill]})
                    p = to_site(Point(x0 + unit_w / 2, miny + depth / 2), self.spec.origin)
                    self.devices.append({
                        "id": f"{g.id}-U{u}-F{f:02d}-SD1", "kind": "smoke_detector",
                        "name": f"{g.name}{u}单元{f}层楼梯间烟感", "building": g.id,
                        "storey": storey, "x": round(p.x, 3), "y": round(p.y, 3),
                        "z": round(z + 2.7, 3)})
            for u in range(1, g.units + 1):
                x = minx + (u - 0.5) * unit_w
                self.exits.append((f"{g.id}-U{u}-ENTRANCE", to_site(Point(x, miny),
                                                                   self.spec.origin)))

    def gate_rows(self) -> None:
        for gid, name, x, y, kind in self.spec.gates:
            p = to_site(Point(x, y), self.spec.origin)
            rows = [("AG1", "access_gate", "门禁"), ("PC1", "people_counter", "客流计数")]
            if kind == "main":
                rows.append(("PB1", "parking_barrier", "车辆道闸"))
            for suf, dkind, zh in rows:
                self.devices.append({"id": f"{gid}-{suf}", "kind": dkind, "name": f"{name}{zh}",
                                     "x": round(p.x, 3), "y": round(p.y, 3), "z": 1.2,
                                     "serves": gid})

    # -- owners, households, staff ---------------------------------------------------
    def owners_and_households(self) -> list[dict]:
        households = []
        owners = []
        for row in self.billing:
            if row["kind"] in ("apartment", "shop"):
                row["owner"], row["phone"] = self.people.name(), self.people.phone()
                owners.append((row["owner"], row["phone"]))
                if row["kind"] == "apartment" and self.rng.random() < self.spec.occupancy:
                    households.append({"unit_id": row["id"], "size": household_size(self.rng),
                                       "owner": row["owner"], "phone": row["phone"]})
        for row in self.billing:
            if row["kind"] == "parking" and self.rng.random() < PARKING_SOLD_SHARE:
                row["owner"], row["phone"] = self.rng.choice(owners)
        return households

    def staff(self) -> list[dict]:
        if self.spec.office:
            bid, storey, key = self.spec.office
            base = self.gid(bid, "space", f"{storey}/{key}")
        else:
            _, plan = self.plans[0]
            st = plan.storeys[0]
            lobby = next(s for s in st.spaces if s.usage == "lobby")
            base = self.gid(plan.id, "space", f"{st.name}/{lobby.key}")
        return staff_roster(self.spec.staff_size, self.people, base)

    # -- GIS layers ------------------------------------------------------------------
    def write_gis(self) -> dict[str, int]:
        o, crs, out = self.spec.origin, self.spec.crs, self.folder / "gis"
        sg = lambda g: to_site(g, o)   # noqa: E731 - site-local metres -> CRS
        layers = {"buildings": self.building_features()}
        layers["roads"] = [({"id": rid, "name": nm, "width_m": w}, sg(LineString(pts)))
                           for rid, nm, pts, w in self.spec.roads]
        spines = [({"id": fid, "width_m": w}, sg(LineString(pts)))
                  for fid, pts, w in self.spec.footpath_spines]
        network = [g for _, g in layers["roads"]] + [g for _, g in spines]
        conns = footpath_connectors(self.exits, network) if network else []
        layers["footpaths"] = spines + [({"id": f"FP-{k}", "width_m": 1.5}, line)
                                        for k, line in conns]
        layers["green"] = [({"id": gid, "name": nm}, sg(poly)) for gid, nm, poly in self.spec.green]
        layers["public_areas"] = [({"id": pid, "kind": kind, "name": nm}, sg(poly))
                                  for pid, kind, nm, poly in self.spec.public_areas]
        layers["gates"] = [({"id": gid, "name": nm, "kind": kind}, sg(Point(x, y)))
                           for gid, nm, x, y, kind in self.spec.gates]
        parking = []
        if self.spec.garage:
            b, plan = next((b, p) for b, p in self.plans if p.id == self.spec.garage)
            for pid, poly in garage_parking():
                parking.append(({"id": pid, "level": "garage", "building": plan.id},
                                self.site_geom(b, poly)))
        parking += [({"id": pid, "level": "ground"}, sg(poly))
                    for pid, poly in self.spec.ground_parking]
        layers["parking"] = parking
        counts = {}
        for name in LAYERS:
            write_layer(out / f"{name}.geojson", name, crs, layers[name])
            counts[f"gis_{name}"] = len(layers[name])
        return counts

    def manifest(self) -> dict:
        buildings = []
        for b, plan in self.plans:
            entry = {"id": plan.id, "ifc": f"ifc/{plan.id}.ifc"}
            if b.georef == "anchor":
                entry["anchor"] = {"easting": round(self.spec.origin[0] + b.x, 3),
                                   "northing": round(self.spec.origin[1] + b.y, 3),
                                   "rotation_deg": b.rotation_deg}
            buildings.append(entry)
        for g in self.spec.gis_buildings:
            buildings.append({"id": g.id, "core": {"stairs": g.stairs, "elevators": g.elevators,
                                                   "stair_width_m": g.stair_width_m}})
        return {
            "name": self.spec.name, "title": self.spec.title, "crs": self.spec.crs,
            "timezone": self.spec.timezone,
            "layers": {name: f"gis/{name}.geojson" for name in LAYERS},
            "buildings": buildings,
            "registers": {"households": "registers/households.csv",
                          "billing_units": "registers/billing_units.csv",
                          "devices": "registers/devices.csv", "staff": "registers/staff.csv"},
            "generator": {"module": "bim.samplegen", "seed": self.spec.seed},
        }

    def run(self) -> dict[str, int]:
        self.log(f"{self.spec.name}: writing IFC")
        self.write_ifc()
        self.plan_rows()
        self.gis_building_rows()
        self.gate_rows()
        households = self.owners_and_households()
        staff = self.staff()
        self.log(f"{self.spec.name}: writing GIS layers and registers")
        counts = self.write_gis()
        reg = self.folder / "registers"
        write_csv(reg / "households.csv", HOUSEHOLD_COLUMNS, households)
        write_csv(reg / "billing_units.csv", BILLING_COLUMNS, self.billing)
        write_csv(reg / "devices.csv", DEVICE_COLUMNS, self.devices)
        write_csv(reg / "staff.csv", STAFF_COLUMNS, staff)
        text = json.dumps(self.manifest(), ensure_ascii=False, indent=2) + "\n"
        (self.folder / "site.json").write_text(text, encoding="utf-8")
        counts.update(households=len(households), billing_units=len(self.billing),
                      devices=len(self.devices), staff=len(staff),
                      apartments=sum(r["kind"] == "apartment" for r in self.billing))
        return counts


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def generate_site(name: str, out: Path | str = "sample_sites", log=_stderr) -> SiteSummary:
    """Generate sample site ``name`` into ``out/name`` and return what was written.

    Parameters
    ----------
    name : str
        ``"lakeside"`` or ``"tiny"`` (see :data:`bim.samplegen.sites.SITES`).
    out : path
        Parent folder; ``out/name`` is replaced only after the new folder is complete.
    log : callable
        Progress sink (one line per step); stderr by default.

    Raises
    ------
    SampleGenError
        Unknown site name, or ``out`` exists and is not a folder.
    """
    if name not in SITES:
        raise SampleGenError(f"site={name!r} must be one of {sorted(SITES)}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SampleGenError(f"out={str(out)!r} exists and is not a folder")
    t0 = time.perf_counter()
    final = out / name
    tmp = out / f".{name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        counts = _Site(SITES[name](), tmp, log).run()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out / f".{name}.old"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)
    files = {str(p.relative_to(final)): p.stat().st_size
             for p in sorted(final.rglob("*")) if p.is_file()}
    return SiteSummary(name, final, counts, files, time.perf_counter() - t0)
