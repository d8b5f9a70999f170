"""A stair flight's ``full_s``: seconds it held its capacity, against the hydraulic model.

With N people released at once in front of a flight that passes r = Fs × w_eff people per
second and holds cap = floor(D_opt × L × w_eff) people, the flight is full from when it
first fills until the last person waiting at its foot gets in: about (N − cap) / r seconds
(SFPE hydraulic model), and never longer than the whole passage N / r plus one traversal.
"""

from __future__ import annotations

import math

from shapely.geometry import shape

from sim.evacuation import parse_scenario, simulate
from tests.evacuation.common import exit_, floor, gj, rect, scenario

SFPE_A = 0.266        # SFPE: speed = k (1 - a D), a = 0.266 m²/P
FS = 1.01             # P/(m s), stair 7/11
L_M, W_M = 8.0, 1.2


def _stair_scenario(count: int) -> dict:
    up = floor("U", gj(shape(rect(0, 0, 10, 10)).union(shape(rect(10, 4, 20, 6)))), 3.0)
    gr = floor("G", rect(0, 0, 6, 4), 0.0)
    st = {"id": "S", "from_floor": "U", "to_floor": "G", "entry": rect(19, 4, 20, 6), "exit": rect(0, 0, 2, 4),
          "length_m": L_M, "width_m": W_M}
    return scenario([up, gr], [exit_("E", "G", rect(5, 0, 6, 4))], stairs=[st],
                    groups=[{"floor": "U", "area": rect(0, 0, 9, 10), "count": count, "speed_mps": 1.34}],
                    max_time_s=400)


def test_a_crowd_fills_the_flight_for_about_the_hydraulic_queue_time():
    n = 80
    w_eff = W_M - 2 * 0.15
    rate = FS * w_eff                                   # 0.909 P/s
    cap = math.floor(1.0 / (2 * SFPE_A) * L_M * w_eff)  # 13 people
    r = simulate(parse_scenario(_stair_scenario(n)))
    assert r["evacuated"] == n
    full = r["stairs"]["S"]["full_s"]
    queue_s = (n - cap) / rate                          # 73.7 s
    assert 0.8 * queue_s <= full <= n / rate + L_M / (1.34 * 0.45)


def test_one_person_never_fills_the_flight():
    r = simulate(parse_scenario(_stair_scenario(1)))
    assert r["evacuated"] == 1 and r["stairs"]["S"]["full_s"] == 0.0
