"""The twin core: model invariants, spatial queries, routes (hand-computed), JSON forms."""

from __future__ import annotations

import json
import math

import pytest

import twin
from tests.common import courtyard_space, two_storey_building
from twin import OUTSIDE, RouteGraph, SpatialIndex
from twin.errors import ModelError, NotFoundError, QueryError


def test_public_api_matches_documentation():
    documented = {"Community", "Building", "Storey", "Space", "Door", "Stair", "Elevator",
                  "Device", "BillingUnit", "SiteFeature", "SpatialIndex", "RouteGraph",
                  "community_to_dict", "community_from_dict", "storey_geojson", "site_geojson",
                  "TwinError"}
    assert documented <= set(twin.__all__)
    for name in twin.__all__:
        assert hasattr(twin, name), name


def test_counts_and_validate():
    c = two_storey_building()
    c.validate()
    assert c.counts() == {"buildings": 1, "storeys": 2, "spaces": 8, "doors": 7, "stairs": 1,
                          "elevators": 0, "devices": 2, "billing_units": 4}


def test_validate_rejects_dangling_reference_and_duplicates():
    c = two_storey_building()
    c.devices[0].space_id = "nowhere"
    with pytest.raises(ModelError, match="nowhere"):
        c.validate()
    c = two_storey_building()
    c.spaces.append(c.spaces[0])
    with pytest.raises(ModelError, match="duplicate space"):
        c.validate()


def test_space_at_point_and_near():
    idx = SpatialIndex(two_storey_building())
    assert idx.space_at("F1", 2.0, 6.0).id == "A1"
    assert idx.space_at("F0", 11.0, 3.5).id == "S0"
    assert idx.space_at("F0", 50.0, 50.0) is None
    near = idx.spaces_near("F0", 7.5, 9.0, radius_m=1.5)      # 1 m above B's top wall
    assert [s.id for s in near] == ["B0"]
    with pytest.raises(NotFoundError):
        idx.space_at("F9", 0, 0)


def test_point_in_courtyard_hole_is_in_no_space():
    c = two_storey_building()
    c.spaces = [courtyard_space()]
    idx = SpatialIndex(c)
    assert idx.space_at("F0", 10.0, 10.0) is None          # inside the hole
    assert idx.space_at("F0", 2.0, 10.0).id == "CY"
    assert idx.walkable("F0").area == pytest.approx(300.0)


def test_public_spaces_and_storey_at():
    idx = SpatialIndex(two_storey_building())
    assert {s.id for s in idx.public_spaces()} == {"C0", "C1", "S0", "S1"}
    assert idx.storey_at("B1", 4.5).id == "F1"
    assert idx.storey_at("B1", 2.99).id == "F0"
    assert idx.storey_at("B1", -3.0).id == "F0"


def test_route_within_storey_by_hand():
    g = RouteGraph(two_storey_building())
    r = g.route("A0", "B0")
    # A(2.5,5) → d1(2.5,2) → C(5,1) → d2(7.5,2) → B(7.5,5)
    hand = 3.0 + math.hypot(2.5, 1.0) + math.hypot(2.5, 1.0) + 3.0
    assert r.length_m == pytest.approx(hand)
    assert r.spaces == ["A0", "C0", "B0"]
    assert r.via == ["d1-0", "d2-0"]


def test_route_down_the_stair_to_outside_by_hand():
    g = RouteGraph(two_storey_building())
    r = g.route("A1", OUTSIDE)
    hand = (3.0 + math.hypot(2.5, 1.0)          # A1 → d1 → C1
            + 5.0 + math.hypot(1.5, 1.0)        # C1 → d3 (10,1) → S1 (11.5,2)
            + 7.0                               # stair
            + math.hypot(1.5, 1.0) + 5.0        # S0 → d3 → C0
            + 5.0)                              # C0 → exit d0 (0,1)
    assert r.length_m == pytest.approx(hand)
    assert r.spaces == ["A1", "C1", "S1", "S0", "C0", OUTSIDE]
    assert r.via == ["d1-1", "d3-1", "ST", "d3-0", "d0"]


def test_blocked_stair_leaves_no_route():
    g = RouteGraph(two_storey_building(), blocked={"ST"})
    with pytest.raises(QueryError, match="no route"):
        g.route("A1", OUTSIDE)
    assert "A1" in g.distances_from("B1") and OUTSIDE not in g.distances_from("B1")


def test_csr_form_matches_adjacency():
    g = RouteGraph(two_storey_building())
    nodes, indptr, indices, lengths = g.to_csr()
    assert len(indptr) == len(nodes) + 1
    i = nodes.index("C0")
    neighbours = {nodes[j] for j in indices[indptr[i]:indptr[i + 1]]}
    assert neighbours == {"A0", "B0", "S0", OUTSIDE}
    assert len(indices) == len(lengths) == 2 * 8    # 7 doors + 1 stair, both directions


def test_json_round_trip_is_equal():
    c = two_storey_building()
    text = json.dumps(twin.community_to_dict(c))
    back = twin.community_from_dict(json.loads(text))
    assert back == c
    assert back.doors[0].position == (2.5, 2.0) and isinstance(back.doors[0].spaces, tuple)


def test_json_rejects_other_versions():
    with pytest.raises(ModelError):
        twin.community_from_dict({"name": "x", "schema_version": 99})
    with pytest.raises(ModelError):
        twin.community_from_dict([1, 2])


def test_geojson_export_opens_in_geopandas(tmp_path):
    gpd = pytest.importorskip("geopandas")
    c = two_storey_building()
    path = tmp_path / "F1.geojson"
    path.write_text(json.dumps(twin.storey_geojson(c, "F1")))
    frame = gpd.read_file(path)
    assert frame.crs.to_epsg() == 4547
    spaces = frame[frame["layer"] == "space"]
    assert sorted(spaces["id"]) == ["A1", "B1", "C1", "S1"]
    assert spaces.area.sum() == pytest.approx(30 + 30 + 20 + 12)
    site = tmp_path / "site.geojson"
    site.write_text(json.dumps(twin.site_geojson(c)))
    assert set(gpd.read_file(site)["layer"]) == {"building", "gate"}
