"""GIS layers and registers of the committed sample sites, resolved against the IFC files.

Every reference in a register must name an element of the right kind: checked by opening
the IFC with ifcopenshell and collecting GlobalIds (not through the site loader).
"""

from __future__ import annotations

import re
from collections import Counter

import geopandas as gpd
import ifcopenshell.util.element as ue
import pyogrio
import pytest
from shapely.ops import unary_union

from samples_ifcread import (
    building_ifcs, local_to_site, manifest, point_of, read_csv, site_dir, space_footprint,
    storey_of,
)

KINDS = {"meter_electricity", "meter_water", "smoke_detector", "people_counter",
         "access_gate", "elevator_controller", "leak_sensor", "temperature_humidity",
         "parking_barrier"}
SITES = ["tiny", "lakeside"]


def _layers(site):
    m = manifest(site)
    return {k: site_dir(site) / v for k, v in m["layers"].items()}


def _gid_index(site):
    """GlobalId -> (building id, element) over every IFC of the site."""
    out = {}
    for bid, f in building_ifcs(site).items():
        for e in f.by_type("IfcRoot"):
            out[e.GlobalId] = (bid, e)
    return out


@pytest.mark.parametrize("site", SITES)
def test_manifest_follows_the_format(site):
    m = manifest(site)
    assert m["name"] == site and m["crs"] == "EPSG:4547" and m["timezone"] == "Asia/Shanghai"
    for path in [*m["layers"].values(), *m["registers"].values()]:
        assert (site_dir(site) / path).is_file(), path
    for b in m["buildings"]:
        assert ("ifc" in b) != ("core" in b)
        if "ifc" in b:
            assert (site_dir(site) / b["ifc"]).is_file()


@pytest.mark.parametrize("site", SITES)
def test_every_layer_carries_the_crs(site):
    for name, path in _layers(site).items():
        info = pyogrio.read_info(path)
        assert info["crs"] == "EPSG:4547", name


def test_lakeside_grounds():
    layers = {k: gpd.read_file(p) for k, p in _layers("lakeside").items()}
    parking = layers["parking"]
    assert (parking["level"] == "garage").sum() >= 150
    assert parking["id"].is_unique
    assert 2 <= len(layers["gates"]) <= 3
    kinds = set(layers["public_areas"]["kind"])
    assert {"plaza", "playground"} <= kinds
    assert len(layers["roads"]) and len(layers["footpaths"]) and len(layers["green"])
    b = layers["buildings"].set_index("id")
    towers = b[(b["kind"] == "residential") & b["ifc"].notna()]
    assert len(towers) >= 4
    for bid, row in towers.iterrows():
        assert 18 <= row["floors"] <= 33
        assert row["height_m"] == pytest.approx(row["floors"] * 2.9)
    old = b.loc["B6"]
    assert old["ifc"] is None or old["ifc"] != old["ifc"]      # GIS only
    core = next(x["core"] for x in manifest("lakeside")["buildings"] if x["id"] == "B6")
    assert core["elevators"] == 0 and old["floors"] == 6
    assert old["year_built"] < towers["year_built"].min()       # the old walk-up
    b6_flats = [r for r in read_csv("lakeside", "billing_units") if r["building"] == "B6"]
    assert len(b6_flats) == core["apartments_per_floor"] * 6 == 24
    # garage bays lie inside the garage outline, towers do not overlap each other
    garage = b.loc["GAR", "geometry"]
    inside = parking[parking["level"] == "garage"].geometry.within(garage.buffer(0.01))
    assert inside.all()
    above = b[b["kind"] != "garage"].geometry.tolist()
    for i, g in enumerate(above):
        for h in above[i + 1:]:
            assert g.intersection(h).area < 1e-6


@pytest.mark.parametrize("site", SITES)
def test_gis_footprints_match_the_ifc_outlines(site):
    m = manifest(site)
    entries = {b["id"]: b for b in m["buildings"]}
    gis = gpd.read_file(_layers(site)["buildings"]).set_index("id")
    for bid, f in building_ifcs(site).items():
        lowest = min(f.by_type("IfcBuildingStorey"), key=lambda s: abs(s.Elevation))
        polys = [space_footprint(s) for s in f.by_type("IfcSpace") if storey_of(s) == lowest]
        outline = unary_union(polys)
        from shapely.geometry import Polygon

        site_outline = Polygon([local_to_site(f, entries[bid], x, y)
                                for x, y in outline.exterior.coords])
        g = gis.loc[bid, "geometry"]
        assert g.symmetric_difference(site_outline).area < 0.01 * g.area, bid


@pytest.mark.parametrize("site", SITES)
def test_register_references_resolve(site):
    idx = _gid_index(site)
    m = manifest(site)
    buildings = {b["id"]: b for b in m["buildings"]}
    gis_floors = {r["id"]: r["floors"] for _, r in gpd.read_file(_layers(site)["buildings"]).iterrows()}
    features = set()
    for name in ("parking", "gates"):
        if name in _layers(site):
            features |= set(gpd.read_file(_layers(site)[name])["id"])

    def check_place(row):
        b = row["building"]
        if not b:
            assert not row["storey"] and not row["space"]
            return
        assert b in buildings
        if "ifc" in buildings[b]:
            sb, storey = idx[row["storey"]]
            assert sb == b and storey.is_a("IfcBuildingStorey")
            if row["space"]:
                sb, space = idx[row["space"]]
                assert sb == b and space.is_a("IfcSpace") and storey_of(space) == storey
        else:
            mt = re.fullmatch(rf"{b}-F(\d\d)", row["storey"])
            assert mt and 1 <= int(mt.group(1)) <= gis_floors[b]
            assert row["space"] == ""

    billing = read_csv(site, "billing_units")
    bill_ids = {r["id"] for r in billing}
    assert len(bill_ids) == len(billing)
    for r in billing:
        assert r["kind"] in ("apartment", "parking", "shop")
        check_place(r)
        assert float(r["area_m2"]) > 0
        if r["kind"] == "apartment":
            assert 60 <= float(r["area_m2"]) <= 140
            if r["space"]:
                sp = idx[r["space"]][1]
                assert sp.ObjectType == "apartment" and sp.Name == r["id"]
                assert float(r["area_m2"]) == pytest.approx(space_footprint(sp).area, abs=0.01)
        if r["kind"] == "parking":
            assert r["feature"] in features
    devices = read_csv(site, "devices")
    assert len({d["id"] for d in devices}) == len(devices)
    for d in devices:
        assert d["kind"] in KINDS
        assert re.fullmatch(r"[A-Za-z0-9-]+", d["id"]), d["id"]
        check_place(d)
        for fed in filter(None, d["feeds"].split(";")):
            assert fed in bill_ids
        if d["ifc_guid"]:
            b, el = idx[d["ifc_guid"]]
            assert b == d["building"] and el.Tag == d["id"]
            assert ue.get_container(el).GlobalId == d["space"]
        if d["serves"]:
            target = idx.get(d["serves"])
            assert (target and target[1].is_a("IfcTransportElement")) or d["serves"] in features
    for h in read_csv(site, "households"):
        assert h["unit_id"] in bill_ids
    for s in read_csv(site, "staff"):
        assert idx[s["base_space"]][1].is_a("IfcSpace")


@pytest.mark.parametrize("site", SITES)
def test_device_coordinates_agree_with_the_ifc(site):
    idx = _gid_index(site)
    entries = {b["id"]: b for b in manifest(site)["buildings"]}
    files = building_ifcs(site)
    n = 0
    for d in read_csv(site, "devices"):
        if not d["ifc_guid"]:
            continue
        b, el = idx[d["ifc_guid"]]
        x, y, z = point_of(el)
        e, nn = local_to_site(files[b], entries[b], x, y)
        assert (float(d["x"]), float(d["y"])) == pytest.approx((e, nn), abs=0.002)
        assert float(d["z"]) == pytest.approx(z, abs=0.002)
        n += 1
    assert n > 0


def test_lakeside_devices_cover_every_kind_and_count():
    devices = read_csv("lakeside", "devices")
    billing = read_csv("lakeside", "billing_units")
    kinds = Counter(d["kind"] for d in devices)
    assert set(kinds) == KINDS
    metered = sum(r["kind"] in ("apartment", "shop") for r in billing)
    assert kinds["meter_electricity"] == kinds["meter_water"] == metered
    lifts = sum(len(f.by_type("IfcTransportElement")) for f in building_ifcs("lakeside").values())
    assert kinds["elevator_controller"] == lifts == 18        # 2 per unit, 9 units
    # one smoke detector per corridor / lift lobby per floor per unit (towers + walk-up)
    floors_units = 33 * 2 + 26 * 2 + 26 * 2 + 18 * 2 + 18 * 1 + 6 * 2
    assert kinds["smoke_detector"] >= floors_units
    assert len(devices) >= 1500
    meters = [d for d in devices if d["kind"].startswith("meter_")]
    assert all(len(d["feeds"].split(";")) == 1 for d in meters)
    assert Counter(d["feeds"] for d in meters).most_common(1)[0][1] == 2


@pytest.mark.parametrize("site", SITES)
def test_people_are_fictitious_and_plausible(site):
    households = read_csv(site, "households")
    sizes = [int(h["size"]) for h in households]
    assert all(1 <= s <= 5 for s in sizes)
    billing = read_csv(site, "billing_units")
    for row in households + [r for r in billing if r["owner"]]:
        assert re.fullmatch(r"138-0000-\d{4}", row["phone"])
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,3}", row["owner"])
    if site == "lakeside":
        apartments = sum(r["kind"] == "apartment" for r in billing)
        assert 0.8 * apartments <= len(households) <= apartments
        mean = sum(sizes) / len(sizes)
        assert 2.3 <= mean <= 3.0               # China, 2020 census: about 2.6
        assert set(sizes) == {1, 2, 3, 4, 5}
        staff = read_csv(site, "staff")
        roles = Counter(s["role"] for s in staff)
        assert set(roles) == {"front_desk", "maintenance", "cleaner", "security", "gardener",
                              "manager"}
        for s in staff:
            assert re.fullmatch(r"\d\d:\d\d-\d\d:\d\d", s["shift"]) and s["skills"]


def test_roads_and_footpaths_do_not_cross_buildings():
    layers = _layers("lakeside")
    b = gpd.read_file(layers["buildings"])
    above = b[b["kind"] != "garage"].geometry.buffer(-0.05)
    for name in ("roads", "footpaths"):
        for _, row in gpd.read_file(layers[name]).iterrows():
            assert all(row.geometry.intersection(g).length < 0.01 for g in above), row["id"]
