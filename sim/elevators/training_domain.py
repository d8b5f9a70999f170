"""Training domain of the default model: fleets from several process parameterisations.

A model fitted on one parameter set learns that set's scales; outside fleets have other
usage, sensors and failure mechanisms. The default model is trained on a mixture of
fleets whose parameters vary (domain randomisation), so that it leans on features that
transfer: changes against each elevator's own baseline.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from sim.elevators.simulator import FleetParams, simulate_fleet

__all__ = ["DOMAIN", "domain_fleets"]

_BASE = FleetParams()
#: Parameter variants, each simulated for an equal share of the fleet.
DOMAIN: tuple[FleetParams, ...] = (
    _BASE,
    replace(_BASE, trips_median=600.0, kd=0.5e-4, km=0.8e-4, r_defect=1.5, h_door=0.15,
            g_develop=0.2),
    replace(_BASE, trips_median=90.0, kd=2.5e-4, km=5e-4, f_defect_door=0.15,
            f_defect_drive=0.6, h_drive=0.35, p_catch=0.4, g_develop=0.45),
    replace(_BASE, q_door=0.001, q_drive=0.0015, v_defect=1.0, l_defect=3.0, r_defect=5.0,
            h_door=0.4, h_base=6e-4, maint_interval_d=30.0, s_developed=1.5),
)


def domain_fleets(fleet: int, days: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(telemetry, failures)`` of ``fleet`` elevators spread over :data:`DOMAIN`."""
    parts_t, parts_f = [], []
    sizes = np.full(len(DOMAIN), fleet // len(DOMAIN))
    sizes[: fleet % len(DOMAIN)] += 1
    for k, (params, size) in enumerate(zip(DOMAIN, sizes)):
        if size == 0:
            continue
        f = simulate_fleet(int(size), days, seed + k, params=params, prefix=f"D{k}-")
        parts_t.append(f.telemetry)
        parts_f.append(f.failures)
    tel = pd.concat(parts_t, ignore_index=True)
    tel["date"] = pd.to_datetime(tel["date"])
    fails = pd.concat(parts_f, ignore_index=True)
    fails["date"] = pd.to_datetime(fails["date"])
    return tel, fails
