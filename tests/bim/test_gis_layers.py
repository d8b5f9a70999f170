"""GIS layers: reading three formats, CRS checks and choice, reprojection (hand values)."""

from __future__ import annotations

import json

import geopandas as gpd
import pyproj
import pytest
from shapely.geometry import Point, box

from bim import gis
from bim.errors import GisError
from tests.bim.sitebuild import CRS, E0, N0

RECTS = [(30.0, 12.0), (45.5, 14.0), (8.0, 8.0)]


def _rects():
    return gpd.GeoDataFrame(
        {"id": ["A", "B", "C"], "name": ["a", "b", "c"], "floors": [6, 11, 2],
         "height_m": [17.4, 33.0, None]},
        geometry=[box(E0 + 100 * i, N0, E0 + 100 * i + w, N0 + h) for i, (w, h) in enumerate(RECTS)],
        crs=CRS)


@pytest.mark.parametrize("suffix", ["geojson", "gpkg", "shp"])
def test_footprints_read_in_each_format(tmp_path, suffix):
    path = tmp_path / f"buildings.{suffix}"
    _rects().to_file(path)
    gdf = gis.read_layer(path)
    assert gis.crs_name(gdf.crs) == "EPSG:4547"
    fps = gis.footprints_from_layer(gdf, path.name)
    assert [f.id for f in fps] == ["A", "B", "C"]
    assert [f.geometry.area for f in fps] == pytest.approx([w * h for w, h in RECTS], rel=1e-9)
    assert [f.floors for f in fps] == [6, 11, 2]
    assert fps[0].height_m == pytest.approx(17.4) and fps[2].height_m is None


def test_known_point_reprojected_onto_central_meridian(tmp_path):
    # 114 E is the central meridian of EPSG:4547: easting is the false easting, 500 000 m
    path = tmp_path / "gates.geojson"
    gpd.GeoDataFrame({"id": ["G1"]}, geometry=[Point(114.0, 30.0)], crs="EPSG:4326").to_file(path)
    gdf = gis.reproject(gis.read_layer(path), CRS)
    p = gdf.geometry.iloc[0]
    assert p.x == pytest.approx(500000.0, abs=1e-6)
    # meridian arc to 30 N on the CGCS2000 ellipsoid (about 3 320 113 m)
    assert p.y == pytest.approx(3320113.4, abs=1.0)
    x, y = pyproj.Transformer.from_crs("EPSG:4490", "EPSG:4547", always_xy=True).transform(114.0, 30.0)
    assert (p.x, p.y) == pytest.approx((x, y), abs=0.01)


def test_crs_choice_manifest_wins():
    wgs = gpd.GeoDataFrame(geometry=[Point(121.47, 31.23)], crs="EPSG:4326")
    assert gis.choose_crs("EPSG:4547", [wgs]) == "EPSG:4547"


@pytest.mark.parametrize("lon, lat, expected", [
    (121.47, 31.23, "EPSG:32651"),   # Shanghai: floor((121.47 + 180) / 6) + 1 = 51
    (116.40, 39.90, "EPSG:32650"),   # Beijing: 50
    (151.21, -33.87, "EPSG:32756"),  # Sydney, south: 56
    (-0.13, 51.5, "EPSG:32630"),     # London: 30
])
def test_crs_choice_utm_zone_of_wgs84_site(lon, lat, expected):
    layer = gpd.GeoDataFrame(geometry=[box(lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001)],
                             crs="EPSG:4326")
    assert gis.choose_crs(None, [layer]) == expected


def test_crs_choice_keeps_a_shared_projected_crs():
    layer = gpd.GeoDataFrame(geometry=[box(E0, N0, E0 + 1, N0 + 1)], crs=CRS)
    assert gis.choose_crs(None, [layer, layer]) == "EPSG:4547"


@pytest.mark.parametrize("bad", ["EPSG:4326", "EPSG:999999", "not a crs"])
def test_manifest_crs_must_be_projected_metres(bad):
    with pytest.raises(GisError, match="crs="):
        gis.choose_crs(bad, [])


def test_shapefile_without_prj_is_an_error(tmp_path):
    path = tmp_path / "b.shp"
    _rects().to_file(path)
    (tmp_path / "b.prj").unlink()
    with pytest.raises(GisError, match="has no CRS"):
        gis.read_layer(path)


def test_geojson_with_projected_coordinates_but_no_crs_is_an_error(tmp_path):
    path = tmp_path / "b.geojson"
    feature = {"type": "Feature", "properties": {"id": "A"},
               "geometry": json.loads(gpd.GeoSeries([box(E0, N0, E0 + 10, N0 + 10)]).to_json())
               ["features"][0]["geometry"]}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(GisError, match="out of range"):
        gis.read_layer(path)


def test_bad_floors_value_names_building_and_value(tmp_path):
    gdf = gpd.GeoDataFrame({"id": ["X"], "floors": ["six"]}, geometry=[box(0, 0, 10, 10)], crs=CRS)
    with pytest.raises(GisError, match=r"building 'X': floors='six' is not a number"):
        gis.footprints_from_layer(gdf, "b.geojson")


def test_duplicate_feature_ids_are_an_error():
    gdf = gpd.GeoDataFrame({"id": ["X", "X"]}, geometry=[box(0, 0, 1, 1), box(2, 2, 3, 3)], crs=CRS)
    with pytest.raises(GisError, match="'X' appears twice"):
        gis.features_from_layer(gdf, "green", "g.geojson")


def test_features_take_layer_kind_and_public_area_kind():
    green = gpd.GeoDataFrame({"name": ["lawn"]}, geometry=[box(0, 0, 5, 4)], crs=CRS)
    (f,) = gis.features_from_layer(green, "green", "green.geojson")
    assert (f.id, f.kind, f.name, f.geometry.area) == ("green-1", "green", "lawn", 20.0)
    pub = gpd.GeoDataFrame({"id": ["PG"], "kind": ["playground"]}, geometry=[box(0, 0, 3, 3)], crs=CRS)
    (p,) = gis.features_from_layer(pub, "public_areas", "p.geojson")
    assert p.kind == "playground"


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(GisError, match="not found"):
        gis.read_layer(tmp_path / "nope.geojson")
    bad = tmp_path / "bad.geojson"
    bad.write_text("{ not json")
    with pytest.raises(GisError, match="cannot read"):
        gis.read_layer(bad)
