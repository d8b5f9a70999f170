"""``services.drills.per_building`` on the lakeside sample site: every exit and every stair
flight falls under its building, none under ``"?"``.

Lakeside has stair records spanning more than two storeys; the scenario builder cuts them
into flights named ``<stair>/<lo>-<hi>``. The expected building of each flight is read
independently of the twin's stair records: from the scenario's floor ids, which are
``<building>/<storey>`` (the flight leaves one of them).
"""

from __future__ import annotations

import pytest

from services.drills import per_building
from tests.conftest import SAMPLE_SITES


@pytest.fixture(scope="module")
def lakeside():
    import bim

    return bim.load(SAMPLE_SITES / "lakeside")


def test_stair_flights_fall_under_their_stairs_building_and_counts_add_up(lakeside):
    from sim.evacuation.builder import scenario_from_community

    scen = scenario_from_community(lakeside, time_of_day="02:00")
    flights = [st for st in scen["stairs"] if "/" in st["id"]]
    assert flights, "lakeside should have stair records cut into flights"
    # a made-up result: exit k let out k + 1 people, the last at 10 k s
    exits = {e["id"]: {"count": k + 1, "first_s": 1.0, "last_s": 10.0 * k} for k, e in enumerate(scen["exits"])}
    stairs = {st["id"]: {"count": 3, "full_s": 0.0} for st in scen["stairs"]}
    total = sum(e["count"] for e in exits.values())
    result = {"evacuated": total, "exits": exits, "stairs": stairs}

    got = per_building(lakeside, result)

    assert "?" not in got
    assert sum(b["evacuated"] for b in got.values()) == total == len(exits) * (len(exits) + 1) // 2
    floor_building = {f["id"]: f["id"].split("/")[0] for f in scen["floors"]}
    for st in scen["stairs"]:
        want = floor_building[st["from_floor"]]
        assert st["id"] in got[want]["stairs"], (st["id"], want)
    assert sum(len(b["stairs"]) for b in got.values()) == len(stairs)
    for e in scen["exits"]:
        assert e["id"] in got[floor_building[e["floor"]]]["exits"]
    for bid, b in got.items():  # each building's time: its slowest exit
        assert b["evacuation_time_s"] == max(exits[i]["last_s"] for i in b["exits"])
