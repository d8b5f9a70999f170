"""Names people use (twin.naming): the documented rule, checked by hand and on real models."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from shapely.geometry import box

import twin
from tests.conftest import SAMPLE_SITES
from twin.errors import NotFoundError
from twin.model import Building, Community, Door, Space, Stair, Storey
from twin.naming import SiteNames, normalize_name, storey_label


# -- the pieces of the rule -------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 9, 10, 12, 33, 99, 100, 250])
def test_storey_labels_above_ground(n):
    for text in (f"F{n:02d}", f"F{n}", f"{n}F", f"{n}", f"{n:03d}", f"{n}层", f"第{n}层",
                 f"Level {n}", f"level{n}", f"L{n}", f"Floor {n}", f"F{n}".replace("1", "１")):
        assert storey_label(text) == f"{n}F", text


@pytest.mark.parametrize("n", [1, 2, 3, 10])
def test_storey_labels_below_ground(n):
    for text in (f"B{n}", f"B{n:02d}", f"B{n}F", f"-{n}", f"地下{n}层", f"Level -{n}"):
        assert storey_label(text) == f"B{n}", text


@pytest.mark.parametrize("text", ["", " ", "Roof", "Erdgeschoss", "F0", "B0", "0", "T/FDN", "F1a", "FF1"])
def test_storey_labels_refuse_what_states_no_level(text):
    assert storey_label(text) is None


@given(st.integers(min_value=1, max_value=10**6))
def test_storey_label_round_trips_any_width(n):
    assert storey_label(f"F{n}") == f"{n}F" and storey_label(f"B{n}") == f"B{n}"
    assert storey_label(storey_label(f"F{n}")) == f"{n}F"


def test_normalize_name_folds_width_space_and_case():
    assert normalize_name("１号楼　２单元 a梯") == normalize_name("1号楼 2单元 A梯") == "1号楼2单元a梯"
    assert normalize_name("") == ""


def _building(bid: str, name: str, storeys: list[tuple[str, float]]) -> Building:
    return Building(bid, name, "ifc", [Storey(f"{bid}-{n}", n, bid, z) for n, z in storeys])


def test_storeys_fall_back_to_elevation_order_with_ground_nearest_zero():
    b = _building("X", "Haus", [("Keller", -2.8), ("Erdgeschoss", 0.1), ("Obergeschoss", 2.9),
                                ("Dach", 5.8), ("Tiefkeller", -5.6)])
    names = SiteNames(Community("s", buildings=[b])).storeys
    assert [names[f"X-{n}"] for n in ("Tiefkeller", "Keller", "Erdgeschoss", "Obergeschoss", "Dach")] \
        == ["B2", "B1", "1F", "2F", "3F"]
    # names that parse but repeat are not trusted either: elevation order again
    b = _building("Y", "", [("F01", 0.0), ("F1", 3.0)])
    assert SiteNames(Community("s", buildings=[b])).storeys == {"Y-F01": "1F", "Y-F1": "2F"}


@pytest.mark.parametrize(("name", "bid", "expected"), [
    ("1号楼", "B1", "1号楼"), ("会所及物业服务中心", "C1", "会所及物业服务中心"),
    ("", "B7", "7号楼"), ("Building 12", "X", "12号楼"), ("B03", "X", "3号楼"), ("７", "X", "7号楼"),
    ("FZK-Haus", "2hQBAVPOr5VxhS3Jl0O47h", "FZK-Haus"),
    ("2hQBAVPOr5VxhS3Jl0O47h", "2hQBAVPOr5VxhS3Jl0O47h", "1号楼"),   # a GlobalId is no name
    ("", "", "1号楼"),
])
def test_building_names(name, bid, expected):
    assert SiteNames(Community("s", buildings=[Building(bid, name, "ifc")])).buildings[bid] == expected


def test_duplicate_building_names_get_a_suffix():
    c = Community("s", buildings=[Building("A", "B1", "ifc"), Building("B", "1号楼", "gis"),
                                  Building("C", "1 号楼", "gis")])
    assert list(SiteNames(c).buildings.values()) == ["1号楼", "1号楼 (2)", "1 号楼 (3)"]


def _row_of_stairs() -> Community:
    """Three staircases in a row (x = 20, 0, 10), no unit information, two flights each."""
    b = _building("H", "", [("F1", 0.0), ("F2", 3.0), ("F3", 6.0)])
    stairs = []
    for x in (20.0, 0.0, 10.0):
        for lo, hi in (("F1", "F2"), ("F2", "F3")):
            stairs.append(Stair(f"s{x:g}-{lo}", "Treppe", "H", [f"H-{lo}", f"H-{hi}"],
                                box(x, 0, x + 2, 5), 1.2, 4.0))
    return Community("s", buildings=[b], stairs=stairs)


def test_stairs_are_lettered_west_to_east_and_flights_carry_their_range():
    n = SiteNames(_row_of_stairs())
    by_id = {s.id: s.name for s in n.stairs}
    assert by_id["s0-F1"] == "A梯 1F-2F" and by_id["s0-F2"] == "A梯 2F-3F"
    assert by_id["s10-F1"] == "B梯 1F-2F" and by_id["s20-F2"] == "C梯 2F-3F"
    assert {s.group for s in n.stairs} == {"A梯", "B梯", "C梯"}
    assert sorted(n.resolve("b梯")) == ["s10-F1", "s10-F2"]
    assert n.resolve("1号楼 C梯 2F-3F") == ["s20-F2"]


def test_unit_from_attribute_and_units_letter_independently():
    c = _row_of_stairs()
    for s in c.stairs:
        s.attributes["unit"] = 2 if s.id.startswith("s20") else 1
    names = {s.id: s.name for s in SiteNames(c).stairs}
    assert names["s0-F1"] == "1单元 A梯 1F-2F" and names["s10-F1"] == "1单元 B梯 1F-2F"
    assert names["s20-F1"] == "2单元 A梯 1F-2F"


def test_exits_and_doors_are_named_by_the_space_they_lead_from_and_made_unique():
    b = _building("H", "", [("F1", 0.0)])
    sp = [Space("hall", "U3-HALL", "H-F1", "H", box(0, 0, 5, 5), long_name="3单元1层门厅", usage="lobby"),
          Space("flat", "U3-A01", "H-F1", "H", box(5, 0, 10, 5), long_name="3单元101室", usage="apartment")]
    doors = [Door("d1", "", "H-F1", "H", (5, 2), 1.0, ("hall", "flat")),
             Door("d2", "", "H-F1", "H", (5, 3), 1.0, ("flat", "hall")),
             Door("x1", "", "H-F1", "H", (2, 0), 1.5, ("hall", None)),
             Door("x2", "", "H-F1", "H", (3, 0), 1.5, (None, "hall"), is_exit=True)]
    n = SiteNames(Community("s", buildings=[b], spaces=sp, doors=doors))
    assert [d.name for d in n.doors] == ["3单元 1F 101室 门", "3单元 1F 101室 门 (2)"]
    assert [d.full for d in n.exits] == ["1号楼 3单元 1F 门厅 出口", "1号楼 3单元 1F 门厅 出口 (2)"]


def test_spaces_get_the_names_people_use_never_their_codes():
    b = _building("H", "", [("F1", 0.0), ("F2", 3.0)])
    sp = [Space("g1", "H-U3-F01-LOBBY", "H-F1", "H", box(0, 0, 5, 5), long_name="3单元1层门厅", usage="lobby"),
          Space("g2", "H-U3-F02-HALL", "H-F2", "H", box(0, 0, 5, 5), usage="corridor"),
          Space("g3", "ROOM", "H-F2", "H", box(5, 0, 9, 5), long_name="物业办公室", usage="office")]
    n = SiteNames(Community("s", buildings=[b], spaces=sp))
    # by hand: building "" → 1号楼 (first of the site); U3 → 3单元; F1 → 1F; 门厅 from the long
    # name; a corridor with only a code → its usage in Chinese; no entrance named → none
    assert n.space_label("g1") == "1号楼 3单元 1F 门厅"
    assert n.space_label("g2") == "1号楼 3单元 2F 走廊"
    assert n.space_label("g3", site=False) == "2F 物业办公室"
    with pytest.raises(NotFoundError, match="space_id='nope'"):
        n.space_label("nope")


def test_empty_community_and_unknown_names():
    n = SiteNames(Community("empty"))
    assert n.stairs == n.exits == n.doors == [] and n.buildings == {}
    with pytest.raises(NotFoundError, match="no stair, exit or door named ''"):
        n.resolve("")
    n = SiteNames(_row_of_stairs())
    with pytest.raises(NotFoundError, match=r"'Z梯'.*closest: .*梯"):
        n.resolve("Z梯")
    with pytest.raises(NotFoundError):
        n.resolve("x" * 100_000)


def test_naming_is_exported():
    assert "SiteNames" in twin.__all__ and twin.SiteNames is SiteNames


# -- sample sites and real IFC files ----------------------------------------------------------
def _assert_complete_and_unique(c: Community, n: SiteNames) -> None:
    assert len(n.stairs) == len(c.stairs)
    assert len(n.exits) + len(n.doors) == len(c.doors)
    exits = [d for d in c.doors if d.is_exit or (None in d.spaces and d.spaces != (None, None))]
    assert {e.id for e in n.exits} == {d.id for d in exits}
    for items in (n.stairs, n.exits + n.doors):
        for x in items:
            assert x.name.strip() and x.full.startswith(n.buildings[x.building] + " ")
            assert not re.search(r"[0-9A-Za-z_$]{22}", x.name), x.name  # no GlobalId in a name
        per_building = Counter((x.building, normalize_name(x.name)) for x in items)
        assert max(per_building.values(), default=1) == 1
    assert len(set(n.buildings.values())) == len(c.buildings)
    for b in c.buildings:
        labels = [n.storeys[s.id] for s in b.storeys]
        assert len(set(labels)) == len(labels) and all(re.fullmatch(r"B?\d+F?", x) for x in labels)


@pytest.fixture(scope="module")
def lakeside():
    import bim

    c = bim.load(SAMPLE_SITES / "lakeside")
    return c, SiteNames(c)


def test_lakeside_every_stair_and_exit_is_named_uniquely(lakeside):
    _assert_complete_and_unique(*lakeside)


def test_lakeside_names_follow_the_generator_layout(lakeside):
    """The sample towers (bim/samplegen/towers.py) name stair flights ``B3-U1-S2 F11-F12``:
    unit U1, core stair S2 (east of S1), storeys 11 to 12; by the rule that is
    ``1单元 B梯 11F-12F`` in ``3号楼``. Checked for every flight and exit of the towers."""
    c, n = lakeside
    names = {x.id: x for x in (*n.stairs, *n.exits, *n.doors)}
    checked = 0
    for st in c.stairs:
        m = re.fullmatch(r"B(\d)-U(\d)-S([12]) F(\d\d)-F(\d\d)", st.name)
        if m:
            b, u, s, lo, hi = (int(g) for g in m.groups())
            assert names[st.id].full == f"{b}号楼 {u}单元 {'AB'[s - 1]}梯 {lo}F-{hi}F"
            assert names[st.id].group == f"{u}单元 {'AB'[s - 1]}梯"
            checked += 1
    assert checked == 128 + 100 + 100 + 68 + 34
    for d in c.doors:
        m = re.fullmatch(r"B(\d)-U(\d)-F01-X(S1|S2|LOBBY)", d.name)
        if m:
            where = {"S1": "A梯", "S2": "B梯", "LOBBY": "门厅"}[m.group(3)]
            assert names[d.id].full == f"{m.group(1)}号楼 {m.group(2)}单元 1F {where} 出口"
            assert names[d.id].kind == "exit"
    by_full = {x.full: x for x in names.values()}
    assert by_full["3号楼 2单元 12F 1204室 门"].kind == "door"
    assert by_full["3号楼 2单元 12F A梯 门"].storeys == (by_full["3号楼 2单元 12F 1204室 门"].storeys)
    assert n.storeys[c.building("GAR").storeys[0].id] == "B1"
    assert n.buildings["B6"] == "6号楼(老楼)" and n.buildings["C1"] == "会所及物业服务中心"
    assert [x.name for x in n.stairs if x.building == "B6"] == ["A梯", "B梯"]


def test_lakeside_resolves_names_ids_and_source_names(lakeside):
    c, n = lakeside
    flight = next(s for s in c.stairs if s.name == "B3-U1-S2 F11-F12")
    assert n.resolve("B3-U1-S2 F11-F12") == n.resolve("3号楼 1单元 B梯 11F-12F") == [flight.id]
    assert n.resolve(flight.id) == [flight.id]
    whole = n.resolve("1号楼 2单元 A梯")
    expected = [s.id for s in c.stairs if re.fullmatch(r"B1-U2-S1 F\d\d-F\d\d", s.name)]
    assert whole == expected and len(whole) == 32
    assert n.resolve("2单元 A梯", buildings=["B1"]) == whole
    assert n.resolve("１号楼 ２单元 a梯") == whole
    with pytest.raises(NotFoundError, match=r"ambiguous.*'1号楼 2单元 A梯'.*'2号楼 2单元 A梯'"):
        n.resolve("2单元 A梯")
    with pytest.raises(NotFoundError, match="closest: '1号楼 2单元 A梯'"):
        n.resolve("1号楼 2单元 A")


def test_tiny_names():
    import bim

    c = bim.load(SAMPLE_SITES / "tiny")
    n = SiteNames(c)
    _assert_complete_and_unique(c, n)
    assert [x.full for x in n.stairs] == ["1号楼 1单元 A梯 1F-2F", "1号楼 1单元 A梯 2F-3F"]
    assert sorted(x.full for x in n.exits) == ["1号楼 1单元 1F A梯 出口", "1号楼 1单元 1F 门厅 出口"]


def test_real_ifc_files_get_complete_unique_names(shared_ifc):
    import bim

    files = sorted(shared_ifc.glob("*.ifc"))
    assert len(files) >= 5
    stairs = 0
    for f in files:
        c = bim.load(f)
        n = SiteNames(c)
        _assert_complete_and_unique(c, n)
        stairs += len(n.stairs)
    assert stairs >= 3   # FZK-Haus has one, the Duplex two, the authored building one


def test_suffixes_never_collide_with_an_existing_name():
    c = Community("s", buildings=[Building("A", "1号楼", "ifc"), Building("B", "1号楼", "ifc"),
                                  Building("C", "1号楼 (2)", "ifc")])
    names = list(SiteNames(c).buildings.values())
    assert names == ["1号楼", "1号楼 (3)", "1号楼 (2)"]
    assert len({normalize_name(x) for x in names}) == 3


@given(st.lists(st.sampled_from(["A", "a", "A (2)", "Ａ", "B", "A (3)", " A"]), max_size=12))
def test_unique_labels_property(labels):
    from twin.naming import _unique_labels

    out = _unique_labels(labels)
    assert len(out) == len(labels) and len({normalize_name(x) for x in out}) == len(out)
    assert all(o == x or o.startswith(x + " (") for o, x in zip(out, labels))


def test_stairs_without_footprint_group_by_name_without_storey_range():
    b = _building("H", "", [("F1", 0.0), ("F2", 3.0), ("F3", 6.0)])
    stairs = [Stair("a1", "Core-S1 F1-F2", "H", ["H-F1", "H-F2"], None, 1.2, 4.0),
              Stair("b1", "Core-S2 F1-F2", "H", ["H-F1", "H-F2"], None, 1.2, 4.0),
              Stair("a2", "Core-S1 F2-F3", "H", ["H-F2", "H-F3"], None, 1.2, 4.0),
              Stair("c", "Core-S3", "H", ["H-F1", "H-F3"], None, 1.2, 4.0)]
    n = SiteNames(Community("s", buildings=[b], stairs=stairs))
    groups = {x.id: x.group for x in n.stairs}
    assert groups["a1"] == groups["a2"] != groups["b1"] != groups["c"] != groups["a1"]
    assert {x.id: x.name for x in n.stairs}["c"] == groups["c"]   # a whole staircase: no range
