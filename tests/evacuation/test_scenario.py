"""Scenario contract: validation errors name the bad value; geometry a planner draws works."""

from __future__ import annotations

import json

import pytest
import shapely
from shapely.geometry import shape

from sim.evacuation import ScenarioError, parse_scenario, scenario_schema, simulate
from tests.evacuation.common import exit_, floor, gj, poly, rect, room_with_door, scenario


def _ok():
    walk, ex = room_with_door()
    return scenario([floor("F", walk)], [exit_("E", "F", ex)],
                    agents=[{"id": "a", "floor": "F", "x": 2.0, "y": 2.0, "speed_mps": 1.3}])


@pytest.mark.parametrize("mutate,needle", [
    (lambda d: d.pop("seed"), "'seed' is a required property"),
    (lambda d: d["agents"][0].update(floor="X"), "unknown floor 'X'"),
    (lambda d: d["agents"][0].update(x=50.0), "outside the walkable area"),
    (lambda d: d["exits"].append(exit_("E2", "F", rect(40, 40, 41, 41))), "exit 'E2' is unreachable"),
    (lambda d: d["stairs"].append({"id": "S", "from_floor": "F", "to_floor": "Z", "entry": rect(0, 0, 1, 1),
                                   "exit": rect(0, 0, 1, 1), "length_m": 5, "width_m": 1}), "unknown floor 'Z'"),
    (lambda d: d["agents"][0].update(speed_mps=-1), "agents/0/speed_mps"),
    (lambda d: d.update(blocked=["nope"]), "blocked id 'nope'"),
    (lambda d: d["agents"].append(dict(d["agents"][0])), "duplicate agent/group id 'a'"),
    (lambda d: d["agents"][0].update(exit="Q"), "unknown exit 'Q'"),
    (lambda d: d["floors"][0].update(walkable={"type": "Point", "coordinates": [0, 0]}), "floors/0/walkable"),
    (lambda d: d.update(groups=[{"floor": "F", "area": rect(1, 1, 2, 2), "count": 100, "speed_mps": 1.0}]),
     "cannot place 100 agents"),
    (lambda d: d.update(groups=[{"floor": "F", "area": rect(1, 1, 2, 2), "count": 1,
                                 "speed_mps": {"uniform": [1.5, 1.0]}}]), "max < min"),
])
def test_invalid_scenarios_raise_one_clear_line(mutate, needle):
    d = _ok()
    mutate(d)
    with pytest.raises(ScenarioError) as exc:
        sc = parse_scenario(d)
        simulate(sc)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_schema_is_valid_json_schema():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(scenario_schema())


def test_concave_room_with_hole_and_obstacle():
    # U-shaped floor with a courtyard hole and a pillar: everybody gets out, nobody on the pillar
    outer = [(0, 0), (20, 0), (20, 20), (0, 20), (0, 0)]
    hole = [(6, 6), (14, 6), (14, 14), (6, 14), (6, 6)]
    walk = {"type": "Polygon", "coordinates": [outer, hole]}
    pillar = rect(2, 9, 4, 11)
    sc = scenario([floor("F", walk, obstacles=[pillar])], [exit_("E", "F", rect(19, 0, 20, 1))],
                  groups=[{"floor": "F", "area": rect(0, 14, 20, 20), "count": 40, "speed_mps": 1.3}],
                  max_time_s=300, record={"trajectory_every_s": 0.5})
    r = simulate(parse_scenario(sc), trajectories=True)
    assert r["evacuated"] == 40
    bad = shape(pillar).buffer(-0.01)
    for fr in r["trajectories"]["frames"]:
        for x, y in zip(fr["x"], fr["y"]):
            assert not bad.contains(shapely.Point(x, y))
            assert not shape({"type": "Polygon", "coordinates": [hole]}).buffer(-0.01).contains(shapely.Point(x, y))


def test_multipolygon_part_without_exit_reports_not_evacuated_and_ends():
    # two separate rooms; only the first has an exit: the second's people are reported
    # not evacuated and the run ends as soon as the first room is empty
    walk = {"type": "MultiPolygon", "coordinates": [rect(0, 0, 10, 10)["coordinates"], rect(20, 0, 30, 10)["coordinates"]]}
    sc = scenario([floor("F", walk)], [exit_("E", "F", rect(9, 4, 10, 6))],
                  agents=[{"id": "in", "floor": "F", "x": 2, "y": 5, "speed_mps": 1.3},
                          {"id": "cut", "floor": "F", "x": 25, "y": 5, "speed_mps": 1.3}], max_time_s=10000)
    r = simulate(parse_scenario(sc))
    assert r["evacuated"] == 1 and r["not_evacuated"] == 1
    assert {a["id"]: a["exit"] for a in r["agents"]} == {"in": "E", "cut": None}
    assert r["end_time_s"] < 20


def test_blocked_exit_reroutes_and_all_blocked_ends_at_once():
    walk = rect(0, 0, 20, 4)
    exits = [exit_("W", "F", rect(0, 0, 0.5, 4)), exit_("O", "F", rect(19.5, 0, 20, 4))]
    agents = [{"id": "a", "floor": "F", "x": 3, "y": 2, "speed_mps": 1.3}]
    r = simulate(parse_scenario(scenario([floor("F", walk)], exits, agents=agents, blocked=["W"])))
    assert r["agents"][0]["exit"] == "O"
    assert r["agents"][0]["exit_time_s"] == pytest.approx((19.5 - 0.2 - 3) / 1.3, abs=0.5)
    r = simulate(parse_scenario(scenario([floor("F", walk)], exits, agents=agents, blocked=["W", "O"], max_time_s=1e5)))
    assert r["not_evacuated"] == 1 and r["steps"] == 0


def test_narrow_door_0_7_m_is_passable():
    walk, ex = room_with_door(6.0, 0.7)
    sc = scenario([floor("F", walk)], [exit_("E", "F", ex)],
                  groups=[{"floor": "F", "area": rect(0, 0, 5, 6), "count": 20, "speed_mps": 1.3}], max_time_s=200)
    assert simulate(parse_scenario(sc))["evacuated"] == 20


def test_self_intersecting_walkable_is_repaired():
    bow = poly((0, 0), (10, 10), (10, 0), (0, 10))  # a bow tie
    sc = scenario([floor("F", bow)], [exit_("E", "F", rect(9, 3, 10, 7))],
                  agents=[{"id": "a", "floor": "F", "x": 8.5, "y": 5, "speed_mps": 1.3}])
    assert simulate(parse_scenario(sc))["evacuated"] == 1


def test_same_seed_same_result_bit_for_bit():
    walk, ex = room_with_door(8.0, 1.0)
    sc = scenario([floor("F", walk)], [exit_("E", "F", ex)],
                  groups=[{"floor": "F", "area": rect(0, 0, 7, 8), "count": 60,
                           "speed_mps": {"normal": [1.34, 0.26, 0.8, 1.8]}, "premovement_s": {"uniform": [0, 5]}}])
    a = simulate(parse_scenario(sc))
    b = simulate(parse_scenario(json.loads(json.dumps(sc))))
    for r in (a, b):
        r.pop("wall_time_s")
    assert a == b
    c = simulate(parse_scenario(dict(sc, seed=2)))
    assert c["agents"] != a["agents"]


def test_result_contract_keys_and_remaining_curve():
    walk, ex = room_with_door(6.0, 1.0)
    sc = scenario([floor("F", walk)], [exit_("E", "F", ex)],
                  groups=[{"floor": "F", "area": rect(0, 0, 5, 6), "count": 10, "speed_mps": 1.3}])
    r = simulate(parse_scenario(sc))
    for k in ("evacuation_time_s", "evacuated", "not_evacuated", "agents", "exits", "remaining", "steps", "wall_time_s"):
        assert k in r
    assert set(r["agents"][0]) >= {"id", "exit", "exit_time_s"}
    assert set(r["exits"]["E"]) == {"count", "first_s", "last_s"}
    rem = r["remaining"]
    assert rem[0] == [0, 10] and [p[0] for p in rem] == list(range(len(rem)))
    assert all(b[1] <= a[1] for a, b in zip(rem, rem[1:]))
    assert rem[-1][1] == 0 and r["exits"]["E"]["last_s"] == r["evacuation_time_s"]


def _slit(max_time_s, extra_agents=()):
    # a 0.3 m slit: the routing grid passes it, a 0.4 m wide person does not
    walk, ex = room_with_door(4.0, 0.3)
    agents = [{"id": "p", "floor": "F", "x": 1.0, "y": 2.0, "speed_mps": 1.3}, *extra_agents]
    return simulate(parse_scenario(scenario([floor("F", walk)], [exit_("E", "F", ex)], agents=agents,
                                            max_time_s=max_time_s)))


def test_a_jam_that_never_clears_stops_the_run():
    # max_time_s is huge, yet the run stops once nobody has left for the no-progress window:
    # max(60 s, 2 x the longest free walk) = 60 s here (the walk is ~4 m at 1.3 m/s)
    r = _slit(1e7)
    assert r["not_evacuated"] == 1 and r["stalled"] is True and r["stall_window_s"] == 60.0
    assert 60.0 <= r["end_time_s"] < 60.1
    assert r["evacuation_time_s"] is None and r["completed"] is False


@pytest.mark.parametrize("max_time_s,stalled", [(30.0, False), (59.0, False), (75.0, True)])
def test_stalled_means_nobody_left_for_the_window(max_time_s, stalled):
    # stopped by max_time_s: stalled exactly when the window (60 s) passed without progress;
    # either way the run did not complete, so it has no evacuation time
    r = _slit(max_time_s)
    assert r["stalled"] is stalled and r["evacuation_time_s"] is None and not r["completed"]
    assert r["end_time_s"] == pytest.approx(min(max_time_s, 60.0), abs=0.06)


def test_evacuation_time_is_null_when_someone_who_could_leave_did_not():
    walk, ex = room_with_door(10.0, 1.0)
    agents = [{"id": "near", "floor": "F", "x": 9.0, "y": 5.0, "speed_mps": 1.3},
              {"id": "far", "floor": "F", "x": 0.5, "y": 5.0, "speed_mps": 0.5, "premovement_s": 5.0}]
    sc = scenario([floor("F", walk)], [exit_("E", "F", ex)], agents=agents, max_time_s=10.0)
    r = simulate(parse_scenario(sc))
    assert r["evacuated"] == 1 and r["evacuation_time_s"] is None and not r["stalled"]
    # with time enough both leave; a trapped agent (no route at all) does not null the time
    sc["max_time_s"] = 200.0
    r = simulate(parse_scenario(sc))
    assert r["completed"] and r["evacuation_time_s"] == pytest.approx((11.2 - 0.5) / 0.5 + 5.0, rel=0.05)


def test_unreachable_agents_do_not_null_the_evacuation_time():
    walk, ex = room_with_door(10.0, 1.0)
    island = {"type": "Polygon", "coordinates": [[[30, 0], [32, 0], [32, 2], [30, 2], [30, 0]]]}
    multi = {"type": "MultiPolygon", "coordinates": [walk["coordinates"], island["coordinates"]]}
    agents = [{"id": "free", "floor": "F", "x": 9.0, "y": 5.0, "speed_mps": 1.3},
              {"id": "trapped", "floor": "F", "x": 31.0, "y": 1.0, "speed_mps": 1.3}]
    r = simulate(parse_scenario(scenario([floor("F", multi)], [exit_("E", "F", ex)], agents=agents)))
    assert r["evacuated"] == 1 and r["unreachable"] == 1 and not r["completed"]
    assert r["evacuation_time_s"] is not None and r["evacuation_time_s"] < 5.0 and not r["stalled"]


def test_public_api_is_importable_and_documented():
    import sim.evacuation as evac
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "evacuation.md").read_text(encoding="utf-8")
    for name in evac.__all__:
        assert hasattr(evac, name)
    for name in ("load_scenario", "parse_scenario", "prepare", "simulate", "ScenarioError"):
        assert name in doc


def test_two_agents_on_the_same_spot_both_get_out():
    walk, ex = room_with_door(6.0, 1.0)
    sc = scenario([floor("F", walk)], [exit_("E", "F", ex)],
                  agents=[{"id": k, "floor": "F", "x": 2.0, "y": 3.0, "speed_mps": 1.3} for k in ("a", "b")])
    r = simulate(parse_scenario(sc))
    assert r["evacuated"] == 2 and r["end_time_s"] < 30


def _crowd(seed=1):
    walk, ex = room_with_door(8.0, 1.0)
    return scenario([floor("F", walk)], [exit_("E", "F", ex)], seed=seed, max_time_s=300,
                    groups=[{"floor": "F", "area": rect(0, 0, 7, 8), "count": 30,
                             "speed_mps": {"normal": [1.34, 0.26, 0.8, 1.8]}, "premovement_s": {"uniform": [0, 20]}}])


def test_the_run_seed_drives_every_draw_and_is_reported():
    from sim.evacuation import prepare
    from sim.evacuation.agents import spawn_agents

    sc1 = parse_scenario(_crowd(1))
    a, b = spawn_agents(sc1, seed=1), spawn_agents(sc1, seed=2)
    for field in ("x", "y", "speed_mps", "premovement_s"):
        assert not (getattr(a, field) == getattr(b, field)).any()  # all 30 differ
    assert a.ids == b.ids
    prep = prepare(sc1)
    r_override = simulate(prep, seed=2)
    r_scenario = simulate(parse_scenario(_crowd(2)))
    assert r_override["seed"] == r_scenario["seed"] == 2 and simulate(prep)["seed"] == 1
    assert r_override["agents"] == r_scenario["agents"]  # same draws, bit for bit
    assert r_override["agents"] != simulate(prep)["agents"]
