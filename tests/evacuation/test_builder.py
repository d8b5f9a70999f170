"""Scenario builder from twin.model records (a small two-storey building built here)."""

from __future__ import annotations

import pytest
from shapely.geometry import box

from sim.evacuation import ScenarioError, parse_scenario, simulate
from sim.evacuation.builder import at_home_fraction, scenario_from_community
from twin.model import BillingUnit, Building, Community, Door, Household, Space, Stair, Storey


def _community() -> Community:
    b = Building(id="B1", name="B1", source="ifc")
    c = Community(name="mini", buildings=[b])
    for k, z in enumerate((0.0, 3.0)):
        sid = f"S{k}"
        b.storeys.append(Storey(id=sid, name=f"F{k + 1}", building_id="B1", elevation_m=z, height_m=3.0))
        corr = Space(id=f"{sid}-C", name="corridor", storey_id=sid, building_id="B1", footprint=box(0, 0, 10, 2), usage="corridor")
        flat = Space(id=f"{sid}-A", name="flat", storey_id=sid, building_id="B1", footprint=box(0, 2.2, 5, 6.2), usage="apartment")
        stair = Space(id=f"{sid}-ST", name="stair", storey_id=sid, building_id="B1", footprint=box(10.2, 0, 12.2, 3), usage="stair")
        c.spaces += [corr, flat, stair]
        c.doors.append(Door(id=f"{sid}-DA", name="flat door", storey_id=sid, building_id="B1", position=(2.5, 2.1),
                            width_m=0.9, spaces=(flat.id, corr.id)))
        c.doors.append(Door(id=f"{sid}-DS", name="stair door", storey_id=sid, building_id="B1", position=(10.1, 1.0),
                            width_m=1.0, spaces=(stair.id, corr.id)))
        c.billing_units.append(BillingUnit(id=f"U{k}", kind="apartment", building_id="B1", area_m2=20.0,
                                           storey_id=sid, space_id=flat.id))
        c.households.append(Household(unit_id=f"U{k}", size=4))
    c.doors.append(Door(id="EXIT", name="main door", storey_id="S0", building_id="B1", position=(0.0, 1.0),
                        width_m=1.2, spaces=("S0-C", None), is_exit=True))
    c.stairs.append(Stair(id="ST1", name="stair", building_id="B1", storey_ids=["S0", "S1"],
                          footprint=box(10.2, 0, 12.2, 3), width_m=1.1, run_length_m=6.0))
    c.validate()
    return c


def test_builds_floors_stairs_exits_and_occupants():
    d = scenario_from_community(_community(), time_of_day="02:00", seed=3)
    assert [f["id"] for f in d["floors"]] == ["B1/S0", "B1/S1"]
    assert [(s["id"], s["from_floor"], s["to_floor"], s["length_m"], s["width_m"]) for s in d["stairs"]] == [
        ("ST1", "B1/S1", "B1/S0", 6.0, 1.1)]
    assert [e["id"] for e in d["exits"]] == ["EXIT"]
    counts = {g["floor"]: g["count"] for g in d["groups"]}
    assert set(counts) == {"B1/S0", "B1/S1"} and all(1 <= n <= 4 for n in counts.values())
    r = simulate(parse_scenario(d))
    assert r["not_evacuated"] == 0 and r["evacuated"] == sum(counts.values())
    assert r["stairs"]["ST1"]["count"] == counts["B1/S1"]
    assert r["exits"]["EXIT"]["count"] == r["evacuated"]


def test_blocking_the_stair_traps_the_upper_floor():
    d = scenario_from_community(_community(), time_of_day="02:00", blocked=["ST1"], seed=3)
    assert d["blocked"] == ["ST1"]
    r = simulate(parse_scenario(d))
    upper = sum(g["count"] for g in d["groups"] if g["floor"] == "B1/S1")
    assert r["not_evacuated"] == upper and r["evacuated"] == sum(g["count"] for g in d["groups"]) - upper


def test_blocking_a_flat_door_keeps_its_residents_in():
    d = scenario_from_community(_community(), time_of_day="02:00", blocked=["S0-DA"], seed=3)
    assert d["source"]["blocked_doors"] == ["S0-DA"]
    r = simulate(parse_scenario(d))
    ground = next(g["count"] for g in d["groups"] if g["floor"] == "B1/S0")
    assert r["not_evacuated"] == ground


def test_time_of_day_profile_and_errors():
    assert at_home_fraction("02:00") > at_home_fraction("12:00")
    day = scenario_from_community(_community(), time_of_day="12:00", seed=3)
    assert any(g["id"].startswith("visitors:") for g in day["groups"]) or all(
        g["id"].startswith("hh:") for g in day["groups"])
    with pytest.raises(ScenarioError, match="time_of_day='25:00'"):
        scenario_from_community(_community(), time_of_day="25:00")
    with pytest.raises(ScenarioError, match="unknown building 'B9'"):
        scenario_from_community(_community(), buildings=["B9"])
    with pytest.raises(ScenarioError, match="blocked id 'nope'"):
        scenario_from_community(_community(), blocked=["nope"])


def test_live_occupants_per_storey_replace_the_register_draw():
    c = _community()
    c.billing_units.append(BillingUnit(id="U0b", kind="apartment", building_id="B1", area_m2=20.0,
                                       storey_id="S0", space_id="S0-A"))
    c.households.append(Household(unit_id="U0b", size=2))   # a second household on S0: 4 + 2 people registered
    d = scenario_from_community(c, time_of_day="02:00", occupants={"S0": 9, "S1": 3}, alerted_storeys=["S1"])
    groups = [(g["floor"], g["count"], g["premovement_s"]) for g in d["groups"]]
    # S0's 9 people: 4/6 and 2/6 of 9 = 6 and 3; S1 all 3; no visitors; S1 alerted (day pre-movement)
    assert sorted((f, n) for f, n, _p in groups) == [("B1/S0", 3), ("B1/S0", 6), ("B1/S1", 3)]
    assert {f: p for f, _n, p in groups}["B1/S1"] == {"uniform": [30.0, 120.0]}
    assert {f: p for f, _n, p in groups}["B1/S0"] == {"uniform": [60.0, 300.0]}
    r = simulate(parse_scenario(d))
    assert r["evacuated"] == 12


def test_largest_remainders_hand_cases():
    from sim.evacuation.builder import largest_remainders

    assert largest_remainders(10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert largest_remainders(7, {"a": 5, "b": 2}) == {"a": 5, "b": 2}
    assert largest_remainders(5, {"a": 0, "b": 0}) == {"a": 3, "b": 2}
    assert largest_remainders(0, {"a": 3}) == {"a": 0}
    assert largest_remainders(3, {}) == {}
