"""Counted traffic moves an area's next round (``sim.cleaning.live``), checked by hand.

Area: a 10 m² ground-floor lobby. A passage leaves 0.1 g × (1 − 0.37) (1.5 m mat) / 10 m²
= 0.0063 g/m²; the background is 0.05 g/m² a day; the floor starts at 0.3 g/m²; a round
is due at 0.7 × 1.0 g/m².
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.cleaning.areas import CleaningArea
from sim.cleaning.crews import Cleaner
from sim.cleaning.live import adjust_plan

LOBBY = CleaningArea("L", "lobby", "lobby", 10.0, True, (0.0, 0.0), "B1", "L", 0)
CREW = [Cleaner("S1", 420.0, 1020.0, 0)]  # 07:00-17:00
PASS = 0.1 * 0.63 / 10.0
BG = 0.05 / 1440


def run(counts_at: dict[int, int], now: int, plan=((900.0, 0, "S1"),), forecast_per_hour=0.0, cleanings=()):
    counted = np.zeros(1440)
    for m, n in counts_at.items():
        counted[m] = n
    return adjust_plan([LOBBY], list(plan), [list(cleanings)], np.full((1, 24), forecast_per_hour),
                       {0: counted}, now, rain=False, crew=CREW)


def test_surge_moves_the_next_round_to_now():
    adj = run({480: 100}, 490)
    # soil at 08:10: 0.3 + 490 × BG + 100 × PASS = 0.947 ≥ 0.7: due now
    assert adj.soil[0] == pytest.approx(0.3 + 490 * BG + 100 * PASS)
    mv = adj.moves[0]
    assert (mv.planned_min, mv.new_min, mv.cleaner, mv.counted, mv.forecast) == (900.0, 490.0, "S1", 100, 0.0)


def test_smaller_surge_moves_it_to_when_the_soil_gets_there():
    adj = run({480: 60}, 490)
    # 0.3 + 490 BG + 60 PASS = 0.695; the background fills the last 0.005 after t minutes
    at_now = 0.3 + 490 * BG + 60 * PASS
    due = 490 + int(np.ceil((0.7 - at_now) / BG))
    assert adj.moves[0].new_min == pytest.approx(due, abs=1)


@pytest.mark.parametrize("counts,forecast_per_hour", [
    ({480: 25}, 0.0),     # 25 ≤ 1.5 × 0 + 30: within the forecast's margin
    ({480: 100}, 10.0),   # forecast 8 h × 10 = 80 (+ 1/6 h): 100 ≤ 1.5 × 81.7 + 30
])
def test_traffic_near_the_forecast_moves_nothing(counts, forecast_per_hour):
    adj = run(counts, 490, forecast_per_hour=forecast_per_hour)
    assert adj.moves == {}
    assert adj.counted[0] == sum(counts.values())
    assert adj.forecast[0] == pytest.approx(round(forecast_per_hour * 490 / 60, 1))


def test_cleaning_before_now_counts_and_late_plans_are_added():
    # cleaned at 08:05, after the surge: 5% of 0.3 + 485 BG + 100 PASS stays, then 5 min of BG
    adj = run({480: 100}, 490, cleanings=(485,))
    expected = 0.05 * (0.3 + 485 * BG + 100 * PASS) + 5 * BG
    assert adj.soil[0] == pytest.approx(expected)
    assert adj.moves == {}  # 0.05 g/m² is far from due
    # no round left today and a surge at 15:00: a round is added for the cleaner on duty
    adj = run({899: 200}, 900, plan=((500.0, 0, "S1"),))
    assert adj.moves[0].planned_min is None and adj.moves[0].new_min == 900.0
    # after the shift nobody is on duty: nothing to add
    assert run({1079: 200}, 1080, plan=()).moves == {}


def test_a_cleaning_in_this_very_minute_counts():
    adj = run({480: 100}, 490, cleanings=(490,))
    assert adj.soil[0] == pytest.approx(0.05 * (0.3 + 490 * BG + 100 * PASS))
    assert adj.moves == {}


def test_counts_after_now_are_not_used():
    adj = run({480: 100, 600: 5000}, 490)
    assert adj.counted[0] == 100
