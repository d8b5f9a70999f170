"""The reader's output used by the twin core: JSON round trip, routes, spatial index."""

from __future__ import annotations

import copy
import json
import math

import pytest

from bim import load_ifc
from twin.index import SpatialIndex
from twin.io import community_from_dict, community_to_dict, storey_geojson
from twin.errors import QueryError
from twin.routes import OUTSIDE, RouteGraph

FILES = ["AC20-FZK-Haus.ifc", "Duplex_A_20110907.ifc", "IfcOpenHouse_IFC4.ifc",
         "authored_building.ifc", "geographic-referencing.ifc"]


@pytest.mark.parametrize("name", FILES)
def test_json_round_trip(shared_ifc, name):
    c = load_ifc(shared_ifc / name).community
    text = json.dumps(community_to_dict(c), allow_nan=False)  # strict JSON: no NaN
    back = community_from_dict(json.loads(text))
    assert back.counts() == c.counts() and back.crs == c.crs and back.warnings == c.warnings
    for a, b in zip(c.spaces, back.spaces):
        assert a.footprint.equals_exact(b.footprint, 1e-9)
    assert [d.spaces for d in back.doors] == [d.spaces for d in c.doors]
    back.validate()
    for st in c.storeys:
        json.dumps(storey_geojson(c, st.id), allow_nan=False)


def test_fzk_routes_out_of_the_house(shared_ifc):
    c = load_ifc(shared_ifc / "AC20-FZK-Haus.ifc").community
    by_long = {s.long_name: s.id for s in c.spaces}
    doors = {d.id: d.name for d in c.doors}
    g = RouteGraph(c)
    r = g.route(by_long["Schlafzimmer"], OUTSIDE)
    assert [c.space(s).long_name for s in r.spaces[:-1]] == ["Schlafzimmer", "Flur"]
    assert [doors[v] for v in r.via] == ["Innentuer-1", "Haustuer"]
    # the upper floor's gallery reaches the outside down the spiral stair
    up = g.route(by_long["Galerie"], OUTSIDE)
    assert c.stairs[0].id in up.via and up.length_m > c.stairs[0].run_length_m


def _without_openings(c):
    """The community with its open connections left out."""
    out = copy.deepcopy(c)
    out.attributes["openings"] = []
    return out


def test_open_connections_from_virtual_boundaries(shared_ifc):
    """Rooms open to each other (virtual space boundaries, touching footprints)."""
    fzk = load_ifc(shared_ifc / "AC20-FZK-Haus.ifc").community
    long = {s.id: s.long_name for s in fzk.spaces}
    pairs = {frozenset(long[x] for x in o["spaces"]) for o in fzk.attributes["openings"]}
    # the KIT house plan: living room open to the hall and the kitchen, kitchen to the hall
    assert pairs == {frozenset({"Wohnen", "Flur"}), frozenset({"Wohnen", "Küche"}),
                     frozenset({"Flur", "Küche"})}
    duplex = load_ifc(shared_ifc / "Duplex_A_20110907.ifc").community
    names = {s.id: s.name for s in duplex.spaces}
    pairs = {frozenset(names[x] for x in o["spaces"]) for o in duplex.attributes["openings"]}
    for side in "AB":  # each flat: stair hall open to the foyer, open-plan kitchen/living/foyer
        stair = "A105" if side == "A" else "B105"
        assert frozenset({stair, f"{side}101"}) in pairs
        assert frozenset({f"{side}102", f"{side}103"}) in pairs
    assert len(pairs) == 8
    for o in duplex.attributes["openings"]:
        a, b = (duplex.space(x).footprint for x in o["spaces"])
        assert a.distance(b) < 0.05 and o["width_m"] >= 0.5
    # walls separate the flats of the authored building: no virtual boundaries, no openings
    assert load_ifc(shared_ifc / "authored_building.ifc").community.attributes["openings"] == []


def test_duplex_upper_bedrooms_evacuate_by_their_stair(shared_ifc):
    c = load_ifc(shared_ifc / "Duplex_A_20110907.ifc").community
    names = {s.name: s.id for s in c.spaces}
    # without the open connections the stair hall is a dead end (it has no door)
    with pytest.raises(QueryError):
        RouteGraph(_without_openings(c)).route(names["A202"], OUTSIDE)
    g = RouteGraph(c)           # the route graph links open connections like doors
    stair_ids = {s.id for s in c.stairs}
    for bedroom in ("A202", "A203", "B202", "B203"):
        r = g.route(names[bedroom], OUTSIDE)
        used = [v for v in r.via if v in stair_ids]
        assert len(set(used)) == 1, bedroom  # (its landing link carries the stair id too)
        side = bedroom[0]
        assert names[f"{side}105"] in r.spaces and names[f"{side}101"] in r.spaces
        # farther than the straight line from the room to the nearest exit door on level 1
        start = c.space(names[bedroom]).footprint.centroid
        nearest = min(math.dist(start.coords[0], d.position) for d in c.doors if d.is_exit)
        assert r.length_m > nearest


def test_spatial_index_finds_spaces_at_device_positions(shared_ifc, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from ifc_synth import Spec, build

    path = tmp_path / "b.ifc"
    build(Spec(storeys=3, rooms=4), path)
    c = load_ifc(path).community
    idx = SpatialIndex(c)
    for dev in c.devices:
        space = idx.space_at(dev.storey_id, dev.position[0], dev.position[1])
        assert space is not None and space.id == dev.space_id
    assert idx.storey_at(c.buildings[0].id, 4.0).name == "F02"
