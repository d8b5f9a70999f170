"""An independently written degradation process (plain NumPy) the model was not tuned on.

Differences from :mod:`sim.elevators.simulator` on purpose: a gradual first-passage
degradation path (failure when damage crosses 1) instead of a hidden defect with a constant
hazard; a Weibull wear-out hazard in time since the last repair; monthly maintenance that
never finds anything; busy tower elevators (3-4x the trips), other sensor scales and
noise; precursors that grow with damage squared / cubed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TELEMETRY_COLUMNS = ("elevator_id", "date", "trips", "door_cycles", "door_reopens",
                     "fault_count", "vibration_rms", "leveling_error_mm", "motor_temp_c",
                     "age_years", "days_since_maintenance")


def generate(n: int, days: int, seed: int, start: str = "2024-03-01"):
    """Return ``(telemetry, failures)`` DataFrames of ``n`` elevators over ``days`` days."""
    rng = np.random.default_rng(seed)
    trips_mean = rng.uniform(500, 1100, n)
    stops = rng.uniform(2.5, 3.5, n)
    reopen_base = rng.uniform(0.001, 0.006, n)
    fault_base = rng.uniform(0.0, 0.05, n)
    vib0 = rng.uniform(0.01, 0.04, n)
    lev0 = rng.uniform(0.3, 1.2, n)
    temp0 = rng.uniform(50, 65, n)
    age0 = rng.uniform(1, 25, n)
    maint_phase = rng.integers(0, 30, n)
    since_repair = rng.uniform(0, 300, n)
    damage = np.zeros(n)
    growth = np.zeros(n)  # damage growth per day once a degradation path starts
    shape, scale = 2.2, 500.0
    rows, fails = [], []
    dates = pd.date_range(start, periods=days, freq="D")
    for d in range(days):
        weekend = dates[d].weekday() >= 5
        trips = rng.poisson(trips_mean * (0.7 if weekend else 1.0))
        cycles = rng.poisson(trips * stops)
        # a degradation path starts at a rate set by the Weibull hazard in time since repair
        tau = since_repair + 1.0
        h_start = (shape / scale) * (tau / scale) ** (shape - 1) * 2.0
        start_now = (growth == 0) & (rng.random(n) < h_start)
        growth[start_now] = rng.uniform(1 / 25, 1 / 5, start_now.sum())
        damage += growth
        failed = damage >= 1.0
        sudden = rng.random(n) < 0.0005
        failed |= sudden
        reopen_p = reopen_base * (1.0 + 6.0 * np.minimum(damage, 1) ** 2)
        reopens = rng.binomial(cycles, np.minimum(reopen_p, 1.0))
        faults = rng.poisson(fault_base + 1.5 * np.minimum(damage, 1) ** 3)
        vib = vib0 * (1 + 0.8 * damage * (np.arange(n) % 3 == 0)) * rng.lognormal(0, 0.1, n)
        lev = lev0 + 0.3 * rng.standard_normal(n) ** 2 + damage * (np.arange(n) % 3 == 1)
        temp = temp0 + 5 * trips / trips_mean + rng.normal(0, 3, n)
        dsm = (d + maint_phase) % 30
        for e in np.nonzero(failed)[0]:
            fails.append((f"T{e:04d}", dates[d]))
        damage[failed] = 0.0
        growth[failed] = 0.0
        since_repair = np.where(failed, 0.0, since_repair + 1.0)
        rows.append(pd.DataFrame({
            "elevator_id": [f"T{e:04d}" for e in range(n)], "date": dates[d],
            "trips": trips, "door_cycles": cycles, "door_reopens": reopens,
            "fault_count": faults, "vibration_rms": vib, "leveling_error_mm": lev,
            "motor_temp_c": temp, "age_years": age0 + d / 365.25,
            "days_since_maintenance": dsm,
        }))
    tel = pd.concat(rows, ignore_index=True)[list(TELEMETRY_COLUMNS)]
    return tel, pd.DataFrame(fails, columns=["elevator_id", "date"])
