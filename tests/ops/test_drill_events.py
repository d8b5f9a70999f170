"""Drill jobs publish ``drill`` events (the viewer follows them over /ws/live), and a fire
location blocks what burns.

Fire expectations by hand from the tiny site's register (docs/sample-sites.md): the 1F stair
hall ``T1-U1-F01-S1`` holds the flight ``1单元 A梯 1F-2F`` and has two doors, ``T1-U1-F01-DS1``
to the lobby and the exit ``1单元 1F A梯 出口``; the 2F stair hall touches both flights (1F-2F
arrives there, 2F-3F leaves from there).
"""

from __future__ import annotations

import time

import pytest

from live.events import drill_progress_event, validate_event
from services.auth import Actor
from services.drills import DrillJobs, check_request
from services.errors import InvalidInput
from services.policy import DeviceAccess
from tests.conftest import SAMPLE_SITES


def square(x0, y0, x1, y1) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


#: One 20 m × 10 m room, the exit the west wall's middle 2 m (x ≤ 0.5), one person at
#: (10, 5) walking 1 m/s with no pre-movement: out after about (10 − 0.5) / 1 = 9.5 s.
ROOM = {"name": "one room", "seed": 1, "max_time_s": 120, "dt_s": 0.05,
        "floors": [{"id": "F", "elevation_m": 0.0, "walkable": square(0, 0, 20, 10)}],
        "exits": [{"id": "E", "floor": "F", "area": square(0, 4, 0.5, 6)}],
        "agents": [{"id": "p", "floor": "F", "x": 10.0, "y": 5.0, "speed_mps": 1.0, "premovement_s": 0}]}


@pytest.fixture(scope="module")
def tiny():
    import bim

    return bim.load(SAMPLE_SITES / "tiny")


def test_a_drill_job_publishes_its_states_as_schema_valid_events(tmp_path):
    jobs = DrillJobs(tmp_path / "drills", None)
    events: list[dict] = []
    jobs.publish = events.append
    try:
        started = jobs.submit(check_request(None, {"scenario": ROOM, "runs": 2}))
        deadline = time.monotonic() + 300
        while jobs.get(started["id"])["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, "the drill did not finish"
            time.sleep(0.2)
        time.sleep(0.2)  # the last event follows the record
    finally:
        jobs.close()
    assert jobs.get(started["id"])["status"] == "done"
    for ev in events:
        validate_event(ev)
        assert ev["type"] == "drill" and ev["drill_id"] == started["id"] and ev["runs"] == 2
    statuses = [ev["status"] for ev in events]
    assert statuses[0] == "queued" and "running" in statuses and statuses[-1] == "done"
    assert statuses.count("done") == 1
    progress = [ev["progress"] for ev in events]
    assert progress == sorted(progress) and progress[-1] == 1.0
    last = events[-1]
    assert last["done_runs"] == 2
    assert last["evacuation_time_s"] == pytest.approx(9.5, abs=1.5)
    assert last["buildings"] == {"?": last["evacuation_time_s"]}  # no site: exits of no building


def test_a_failed_job_says_why(tmp_path):
    jobs = DrillJobs(tmp_path / "drills", None)
    events: list[dict] = []
    jobs.publish = events.append
    plan = {"scenario": {"name": "broken"}, "runs": 1, "request": {"scenario": True, "runs": 1}}  # unchecked
    try:
        drill_id = jobs.submit(plan)["id"]
        deadline = time.monotonic() + 120
        while jobs.get(drill_id)["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.2)
    finally:
        jobs.close()
    assert events[-1]["status"] == "failed" and events[-1]["error"]
    validate_event(events[-1])


def test_drill_events_go_to_office_roles_only(tiny):
    access = DeviceAccess(tiny)
    ev = drill_progress_event({"id": "0123456789ab", "status": "running", "progress": 0.5, "runs": 1,
                               "done_runs": 0, "error": None})
    validate_event(ev)
    seen = {role: access.sees_event(Actor("x", role), ev)
            for role in ("admin", "operator", "planner", "staff", "owner")}
    assert seen == {"admin": True, "operator": True, "planner": True, "staff": False, "owner": False}


def _id(community, name: str) -> str:
    from twin.naming import SiteNames

    [one] = SiteNames(community).resolve(name)
    return one


def _space(community, name: str) -> str:
    [sp] = [s.id for s in community.spaces if s.name == name]
    return sp


def _door(community, name: str) -> str:
    [d] = [d.id for d in community.doors if d.name == name]
    return d


def test_a_fire_in_the_1f_stair_hall_blocks_its_doors_and_flight(tiny):
    plan = check_request(tiny, {"fire": _space(tiny, "T1-U1-F01-S1")})
    assert set(plan["blocked"]) == {_id(tiny, "1单元 A梯 1F-2F"), _id(tiny, "1单元 1F A梯 出口"),
                                    _door(tiny, "T1-U1-F01-DS1")}
    assert plan["request"]["fire_space"] == _space(tiny, "T1-U1-F01-S1")


def test_a_fire_in_the_2f_stair_hall_cuts_both_flights(tiny):
    plan = check_request(tiny, {"fire": _space(tiny, "T1-U1-F02-S1"), "block": ["1单元 1F 门厅 出口"]})
    assert set(plan["blocked"]) == {_id(tiny, "1单元 A梯 1F-2F"), _id(tiny, "1单元 A梯 2F-3F"),
                                    _door(tiny, "T1-U1-F02-DS1"), _id(tiny, "1单元 1F 门厅 出口")}


def test_a_fire_at_a_detector_is_in_its_room(tiny):
    # T1-U1-F03-SD1 hangs in the 3F lift hall: its three doors (two flats, the stair hall)
    plan = check_request(tiny, {"fire": "T1-U1-F03-SD1"})
    assert plan["request"]["fire_space"] == _space(tiny, "T1-U1-F03-HALL")
    assert set(plan["blocked"]) == {_door(tiny, n) for n in ("T1-U1-F03-DA01", "T1-U1-F03-DA02", "T1-U1-F03-DS1")}


@pytest.mark.parametrize("fire, needle", [
    ("no-such-room", "no-such-room"),
    ("G1-AG1", "G1-AG1"),            # the gate's access control: a device in no room
    ("T1-U1-F0１-S1", "T1-U1-F0１-S1"),  # a full-width digit is another name
])
def test_a_bad_fire_location_is_refused(tiny, fire, needle):
    with pytest.raises(InvalidInput, match=needle):
        check_request(tiny, {"fire": fire})


def test_a_fire_goes_with_a_site_drill_only():
    with pytest.raises(InvalidInput, match="fire"):
        check_request(None, {"scenario": ROOM, "fire": "x"})


def test_stair_times_come_from_the_passages_by_hand():
    from services.drills import stair_times

    scenario = {"stairs": [
        {"id": "S1", "from_floor": "A", "to_floor": "B", "entry": square(18, 0, 20, 2), "exit": square(18, 0, 20, 2)},
        {"id": "S2", "from_floor": "A", "to_floor": "B", "entry": square(0, 8, 2, 10), "exit": square(0, 8, 2, 10)},
        {"id": "S3", "from_floor": "B", "to_floor": "C", "entry": square(5, 5, 6, 6), "exit": square(5, 5, 6, 6)}]}

    def frame(t, rows):
        return {"t": t, "i": [r[0] for r in rows], "f": [r[1] for r in rows],
                "x": [r[2] for r in rows], "y": [r[3] for r in rows]}
    # agent 0: on A at S1 until 1 s, inside at 2 and 3 s, out on B at 4 s; agent 1: on A at S2
    # until 2 s, out on B at 3 s; agent 2 stays on B
    frames = [frame(0, [(0, 0, 19, 1), (1, 0, 1, 9), (2, 1, 10, 5)]),
              frame(1, [(0, 0, 19, 1), (1, 0, 1, 9), (2, 1, 10, 5)]),
              frame(2, [(1, 0, 1, 9), (2, 1, 10, 5)]),
              frame(3, [(1, 1, 1, 9.5), (2, 1, 10, 5)]),
              frame(4, [(0, 1, 19, 1.5), (2, 1, 10, 5)])]
    got = stair_times(scenario, {"floors": ["A", "B", "C"], "frames": frames})
    assert got == {"S1": {"first_s": 1, "last_s": 4, "passages": 1},
                   "S2": {"first_s": 2, "last_s": 3, "passages": 1}}
    assert stair_times(scenario, None) == {} and stair_times(scenario, {"frames": []}) == {}
    # down two flights between two frames: A (at S1) at 0 s, then C (at S3) at 3 s; both
    # flights of the chain get the gap's bounds
    chain = [frame(0, [(3, 0, 19, 1)]), frame(3, [(3, 2, 5.5, 5.5)])]
    got = stair_times(scenario, {"floors": ["A", "B", "C"], "frames": chain})
    assert got == {"S1": {"first_s": 0, "last_s": 3, "passages": 1},
                   "S3": {"first_s": 0, "last_s": 3, "passages": 0}}
