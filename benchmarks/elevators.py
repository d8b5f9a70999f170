"""Elevator benchmarks: simulator fleet-days per second, scoring time for 10,000 elevators.

Prints figures and ratios measured in the same run (the baseline is the plain-Python
reference simulator of tests/elevators/naive.py on a small fleet, per fleet-day).
Run: ``python benchmarks/elevators.py``.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sim.elevators.model import default_model  # noqa: E402
from sim.elevators.simulator import FleetParams, simulate_fleet  # noqa: E402
from sim.elevators.telemetry import validate_telemetry  # noqa: E402
from tests.elevators import naive  # noqa: E402


def best_of(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    simulate_fleet(4, 10, 0)  # compile / load the cache
    t_fleet = best_of(lambda: simulate_fleet(1000, 1095, 1))
    t_naive = best_of(lambda: naive.simulate(5, 365, 1, asdict(FleetParams())), repeat=1)
    rate = 1000 * 1095 / t_fleet
    naive_rate = 5 * 365 / t_naive
    print(f"simulator: 1,000 elevators x 1,095 days in {t_fleet:.3f} s = {rate:,.0f} fleet-days/s")
    print(f"plain-Python reference: {naive_rate:,.0f} fleet-days/s; numba speed-up x{rate / naive_rate:,.0f}")
    sim = simulate_fleet(10_000, 60, 2)
    tel = validate_telemetry(sim.telemetry)
    model = default_model()
    as_of = dt.date(2023, 1, 1) + dt.timedelta(days=59)
    model.predict(tel, as_of)
    t_score = best_of(lambda: model.predict(tel, as_of))
    print(f"scoring 10,000 elevators (60 days of telemetry each, features + model): {t_score:.3f} s")


if __name__ == "__main__":
    main()
