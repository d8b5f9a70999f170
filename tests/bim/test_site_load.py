"""Site folders: composition, IFC georeferencing (anchor, IfcMapConversion), IoU warning,
IFC device merge, cache."""

from __future__ import annotations

import json

import pyproj
import pytest
import shapely
from shapely import affinity
from shapely.geometry import box

import bim
from bim.errors import RegisterError, SiteError
from bim.ifc import load_ifc
from twin.errors import ModelError
from tests.bim.sitebuild import E0, N0, shared_ifc_or_skip, write_site

ANCHOR = {"easting": E0 + 200.0, "northing": N0 + 50.0, "rotation_deg": 90.0}


def _by_hand_anchor(x: float, y: float) -> tuple[float, float]:
    # rotate 90 degrees counter-clockwise: (x, y) -> (-y, x), then translate
    return ANCHOR["easting"] - y, ANCHOR["northing"] + x


def _copy_ifc(src, site):
    (site / "ifc").mkdir(parents=True, exist_ok=True)
    dst = site / "ifc" / src.name
    dst.write_bytes(src.read_bytes())
    return f"ifc/{src.name}"


def test_gis_only_site_counts_and_features(tmp_path):
    site = write_site(tmp_path / "s")
    c = bim.load(site)
    assert c.crs == "EPSG:4547" and c.name == "t"
    assert [b.id for b in c.buildings] == ["B1", "B2"]
    assert [len(b.storeys) for b in c.buildings] == [6, 18]
    assert c.counts()["stairs"] == 1 + 2 and c.counts()["elevators"] == 1 + 2
    kinds = {f.id: f.kind for f in c.features}
    assert kinds == {"P1": "parking", "P2": "parking", "R1": "road", "G1": "gate", "PL1": "plaza"}
    parking = {f.id: f.geometry.area for f in c.features if f.kind == "parking"}
    assert parking == pytest.approx({"P1": 12.5, "P2": 12.5})
    assert c.attributes["timezone"] == "Asia/Shanghai"


def test_manifest_core_overrides_defaults(tmp_path):
    site = write_site(tmp_path / "s", manifest={"buildings": [
        {"id": "B2", "core": {"stairs": 1, "elevators": 3, "stair_width_m": 1.3,
                              "apartments_per_floor": 6}}]})
    c = bim.load(site)
    assert len([s for s in c.stairs if s.building_id == "B2"]) == 1
    assert len([e for e in c.elevators if e.building_id == "B2"]) == 3
    assert len([s for s in c.spaces if s.storey_id == "B2-F01" and s.usage == "apartment"]) == 6


def test_ifc_building_placed_by_anchor(tmp_path, tmp_path_factory):
    src = shared_ifc_or_skip("AC20-FZK-Haus.ifc")
    raw = load_ifc(src).community
    outline = shapely.union_all([s.walkable for s in raw.storeys])
    # the GIS footprint: the raw outline turned and moved by hand
    gis_fp = affinity.translate(affinity.rotate(outline, 90, origin=(0, 0)),
                                ANCHOR["easting"], ANCHOR["northing"])
    site = write_site(tmp_path / "s", buildings=[
        {"id": "H1", "name": "Haus", "floors": 2, "height_m": 6.0, "geometry": gis_fp}])
    rel = _copy_ifc(src, site)
    data = json.loads((site / "site.json").read_text())
    data["buildings"] = [{"id": "H1", "ifc": rel, "anchor": ANCHOR}]
    (site / "site.json").write_text(json.dumps(data))
    c = bim.load(site, cache_dir=tmp_path_factory.mktemp("cache"))
    (b,) = c.buildings
    assert (b.id, b.source, b.name) == ("H1", "ifc", "Haus")
    assert b.attributes["footprint_iou"] == pytest.approx(1.0, abs=1e-6)
    assert not [w for w in c.warnings if "IoU" in w]
    raw_space = raw.spaces[0]
    placed = c.space(raw_space.id)
    x, y = raw_space.footprint.exterior.coords[0]
    assert placed.footprint.exterior.coords[0] == pytest.approx(_by_hand_anchor(x, y), abs=1e-6)
    raw_door = raw.doors[0]
    assert c.doors[[d.id for d in c.doors].index(raw_door.id)].position[:2] == pytest.approx(
        _by_hand_anchor(*raw_door.position[:2]), abs=1e-6)
    assert all(s.building_id == "H1" for s in c.storeys)


def test_iou_warning_when_footprints_disagree(tmp_path):
    src = shared_ifc_or_skip("AC20-FZK-Haus.ifc")
    site = write_site(tmp_path / "s", buildings=[
        {"id": "H1", "name": "Haus", "floors": 2, "height_m": 6.0,
         "geometry": box(ANCHOR["easting"] + 30, ANCHOR["northing"], ANCHOR["easting"] + 42, ANCHOR["northing"] + 10)}])
    rel = _copy_ifc(src, site)
    data = json.loads((site / "site.json").read_text())
    data["buildings"] = [{"id": "H1", "ifc": rel, "anchor": ANCHOR}]
    (site / "site.json").write_text(json.dumps(data))
    c = bim.load(site)
    assert c.buildings[0].attributes["footprint_iou"] == 0.0
    assert any("building 'H1'" in w and "IoU 0.00 < 0.9" in w for w in c.warnings)


def test_ifc_without_georeference_or_anchor_is_an_error(tmp_path):
    src = shared_ifc_or_skip("AC20-FZK-Haus.ifc")
    site = write_site(tmp_path / "s")
    rel = _copy_ifc(src, site)
    data = json.loads((site / "site.json").read_text())
    data["buildings"] = [{"id": "B1", "ifc": rel}]
    (site / "site.json").write_text(json.dumps(data))
    with pytest.raises(SiteError, match="'B1'.*no IfcMapConversion; give an 'anchor'"):
        bim.load(site)


@pytest.mark.parametrize("site_crs", ["EPSG:4547", "EPSG:32649"])
def test_map_conversion_reprojected_to_site_crs(tmp_path, site_crs):
    src = shared_ifc_or_skip("authored_building.ifc")
    raw = load_ifc(src)
    assert raw.crs == "EPSG:4547"
    site = write_site(tmp_path / "s", manifest={"crs": site_crs})
    rel = _copy_ifc(src, site)
    data = json.loads((site / "site.json").read_text())
    # an anchor is ignored (with a warning) when the file has its own IfcMapConversion
    data["buildings"] = [{"id": "A1", "ifc": rel, "anchor": ANCHOR}]
    (site / "site.json").write_text(json.dumps(data))
    c = bim.load(site)
    assert any("'A1': anchor in site.json ignored" in w for w in c.warnings)
    assert c.crs == site_crs
    tr = pyproj.Transformer.from_crs("EPSG:4547", site_crs, always_xy=True)
    for raw_space in raw.community.spaces:
        x, y = raw_space.footprint.exterior.coords[0]
        assert c.space(raw_space.id).footprint.exterior.coords[0] == pytest.approx(tr.transform(x, y), abs=1e-3)
    assert c.building("A1").source == "ifc"
    # no GIS footprint for A1: its placed outline stands in, nothing to compare
    assert "footprint_iou" not in c.building("A1").attributes
    assert c.building("A1").footprint.area == pytest.approx(88.16, rel=2e-3)  # UTM scale


def test_register_device_bound_to_ifc_element_is_not_counted_twice(tmp_path):
    src = shared_ifc_or_skip("authored_building.ifc")
    raw = load_ifc(src).community
    dev = raw.devices[0]
    site = write_site(tmp_path / "s", registers={"devices": [
        "id,kind,name,building,storey,space,x,y,z,feeds,ifc_guid",
        f"SMK-001,smoke_detector,Smoke 1,,,,,,,,{dev.id}",
        "M-1,meter_water,Water meter,B1,B1-F01,,,,,,",
    ]})
    rel = _copy_ifc(src, site)
    data = json.loads((site / "site.json").read_text())
    data["buildings"] = [{"id": "A1", "ifc": rel}]
    (site / "site.json").write_text(json.dumps(data))
    c = bim.load(site)
    assert len(c.devices) == len(raw.devices) + 1
    bound = c.device("SMK-001")
    assert bound.attributes["ifc_guid"] == dev.id and bound.ifc_class == dev.ifc_class
    assert bound.storey_id == dev.storey_id and bound.building_id == "A1"
    assert dev.id not in {d.id for d in c.devices}
    # binding the same element twice is an error naming the line
    (site / "registers" / "devices.csv").write_text(
        "id,kind,ifc_guid\nX1,smoke_detector," + dev.id + "\nX2,smoke_detector," + dev.id + "\n")
    with pytest.raises(RegisterError, match=r"registers/devices.csv line 3: ifc_guid=.*bound to another"):
        bim.load(site)


def test_cache_warm_load_and_invalidation(tmp_path):
    site = write_site(tmp_path / "s", registers={"billing_units": [
        "id,kind,building,storey,space,feature,area_m2,owner,phone", "U1,apartment,,,B1-F01-A01,,,,"]})
    cache = tmp_path / "cache"
    seen = []
    cold = bim.load(site, cache_dir=cache, progress=lambda d, t, m: seen.append(m))
    assert "loaded from cache" not in seen
    seen.clear()
    warm = bim.load(site, cache_dir=cache, progress=lambda d, t, m: seen.append(m))
    assert seen == ["loaded from cache"]  # speed-up: benchmarks/load_site.py (cold/warm)
    assert warm.counts() == cold.counts()
    assert [s.footprint.wkb for s in warm.spaces] == [s.footprint.wkb for s in cold.spaces]
    # any changed input is a new key
    with open(site / "registers" / "billing_units.csv", "a") as fh:
        fh.write("U2,apartment,,,B1-F01-A02,,,,\n")
    seen.clear()
    assert bim.load(site, cache_dir=cache, progress=lambda d, t, m: seen.append(m)).counts()["billing_units"] == 2
    assert "loaded from cache" not in seen
    # a corrupt entry is rebuilt
    for entry in (cache / "site").glob("*.pickle"):
        entry.write_bytes(b"garbage")
    assert bim.load(site, cache_dir=cache).counts()["billing_units"] == 2


def test_lone_gis_file_is_a_site_of_gis_only_buildings(tmp_path):
    site = write_site(tmp_path / "s")
    c = bim.load(site / "gis" / "buildings.geojson")
    assert c.name == "buildings" and c.crs == "EPSG:4547"
    assert [b.source for b in c.buildings] == ["gis", "gis"]
    assert c.features == []


@pytest.mark.parametrize("edit, message", [
    ({"crs": "EPSG:4326"}, "must be a projected CRS"),
    ({"layers": {"buildings": "gis/missing.geojson"}}, "layer buildings 'gis/missing.geojson' not found"),
    ({"buildings": [{"id": "B1", "floors": 0}]}, "buildings.0.floors"),
    ({"registers": {"owners": "x.csv"}}, "unknown register 'owners'"),
    ({"buildings": [{"id": "B9"}]}, "'B9' of site.json has neither a GIS footprint nor an IFC file"),
])
def test_bad_manifest_values_are_named(tmp_path, edit, message):
    site = write_site(tmp_path / "s", manifest=edit)
    with pytest.raises(bim.BimError, match=message):
        bim.load(site)


def test_not_a_site_and_empty_site(tmp_path):
    with pytest.raises(SiteError, match="no site.json"):
        bim.load(tmp_path)
    site = write_site(tmp_path / "s", manifest={"layers": {}})
    with pytest.raises(ModelError, match="empty model"):
        bim.load(site)


def test_manifest_path_loads_its_folder_and_public_api(tmp_path):
    site = write_site(tmp_path / "s")
    assert bim.load(site / "site.json").counts() == bim.load(site).counts()
    assert {"load", "load_site", "load_ifc", "GisError", "SiteError", "RegisterError"} <= set(bim.__all__)
    assert all(hasattr(bim, name) for name in bim.__all__)


def test_gis_only_building_without_floors_or_height_is_an_error(tmp_path):
    site = write_site(tmp_path / "s", buildings=[
        {"id": "G", "name": "garage", "floors": 0, "height_m": None, "geometry": box(E0, N0, E0 + 20, N0 + 20)}])
    with pytest.raises(bim.GisError, match="building 'G': needs floors or height_m"):
        bim.load(site)


def test_layers_of_one_geopackage(tmp_path):
    import geopandas as gpd

    site = write_site(tmp_path / "s")
    gpkg = site / "gis" / "site.gpkg"
    gpd.read_file(site / "gis" / "buildings.geojson").to_file(gpkg, layer="blocks")
    gpd.GeoDataFrame({"id": ["L1"]}, geometry=[box(E0, N0 + 40, E0 + 30, N0 + 60)],
                     crs="EPSG:4547").to_file(gpkg, layer="lawns")
    data = json.loads((site / "site.json").read_text())
    data["layers"] = {"buildings": {"path": "gis/site.gpkg", "layer": "blocks"},
                      "green": {"path": "gis/site.gpkg", "layer": "lawns"}}
    (site / "site.json").write_text(json.dumps(data))
    c = bim.load(site)
    assert [b.id for b in c.buildings] == ["B1", "B2"]
    assert [(f.id, f.kind, f.geometry.area) for f in c.features] == [("L1", "green", 600.0)]
    data["layers"]["green"]["layer"] = "nope"
    (site / "site.json").write_text(json.dumps(data))
    with pytest.raises(bim.GisError, match="site.gpkg"):
        bim.load(site)
