"""Fleet degradation simulator with known ground truth (the Python wrapper of the kernel).

The model of one elevator (see docs/elevators.md for the reasoning):

- **usage**: trips per day ~ Poisson(median × lognormal(σ) × weekday factor), door cycles
  ~ Poisson(trips × stops per trip);
- **wear**: door wear grows with door cycles, drive wear with trips × load, both faster
  with age; random **shocks** (abuse, power dips) add an exponential jump;
- **maintenance** every ~15 days (13–17, the regulated 半月保 cadence) multiplies door and
  drive wear by ``m_door`` / ``m_drive`` and finds a developing defect with ``p_catch``;
- **defects** (the hidden state) start at a rate growing with wear; a door defect (most
  failures, as in the field) or a drive defect. A defect starts **incipient** (the "P" of
  the P-F curve of reliability-centred maintenance: detectable, rarely failing, extra
  hazard ``h_incipient``) and **develops** with probability ``g_develop`` a day (a P-F
  interval of a few days to weeks); a developed defect fails with ``h_door`` /
  ``h_drive`` a day. While present, **precursors** rise: door reopens, fault codes,
  vibration and leveling error, scaled by a per-defect severity (``s_developed`` times
  stronger once developed);
- **failure**: hazard = wear baseline + defect hazard; a repair clears the defect.

The ground truth :attr:`Fleet.p7` is the exact probability of a failure in the next 7 days
given the hidden state (:func:`sim.elevators.kernel.oracle_p7`); no model that sees only
telemetry can rank better on average.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from sim.elevators import kernel as K
from sim.elevators.errors import ParameterError
from sim.elevators.telemetry import TELEMETRY_COLUMNS

__all__ = ["FleetParams", "Fleet", "simulate_fleet"]


@dataclass(frozen=True)
class FleetParams:
    """Parameters of the degradation process (rates per day unless stated).

    Defaults give about 2 failures per elevator-year (field figure 1–3), ~80% of defects
    in the door system.
    """

    trips_median: float = 220.0      #: median trips per day of an elevator
    trips_sigma: float = 0.5         #: lognormal spread of trips per day between elevators
    kd: float = 1.0e-4               #: door wear per door cycle
    km: float = 2.0e-4               #: drive wear per trip × load factor
    p_shock: float = 0.01            #: probability of a shock per day
    shock_size: float = 0.3          #: mean wear added by a shock
    q0: float = 0.3                  #: wear-independent part of the defect onset rate
    q_door: float = 0.002            #: door-defect onset rate per unit (q0 + door wear)
    q_drive: float = 0.0006          #: drive-defect onset rate per unit (q0 + drive wear)
    h_base: float = 2.0e-4           #: wear-only failure hazard per unit (1 + wear)
    h_door: float = 0.25             #: extra failure hazard while a developed door defect is present
    h_drive: float = 0.2             #: extra failure hazard while a developed drive defect is present
    r_wear: float = 0.5              #: door-reopen rate growth per unit of door wear
    r_defect: float = 5.0            #: door-reopen rate multiplier of a door defect (× severity)
    f_defect_door: float = 0.6       #: fault codes per day added by a door defect
    f_defect_drive: float = 1.2      #: fault codes per day added by a drive defect
    v_defect: float = 0.5            #: relative vibration increase of a drive defect
    l_defect: float = 1.5            #: leveling error added by a drive defect (mm)
    m_door: float = 0.5              #: door wear kept by a maintenance visit
    m_drive: float = 0.7             #: drive wear kept by a maintenance visit
    p_catch: float = 0.7             #: probability a maintenance visit finds a defect
    maint_interval_d: float = 15.0   #: nominal days between maintenance visits
    g_develop: float = 0.3           #: probability a day that an incipient defect develops
    h_incipient: float = 0.005       #: extra failure hazard while a defect is incipient
    s_developed: float = 2.0         #: precursor strength of a developed defect (× incipient)

    def to_array(self) -> np.ndarray:
        """Return the parameter vector in the kernel's order."""
        values = asdict(self)
        return np.array([float(values[name]) for name in K.PARAM_NAMES], dtype=np.float64)

    def validate(self) -> None:
        """Raise :class:`ParameterError` naming the first out-of-range field."""
        for f in fields(self):
            value = getattr(self, f.name)
            if not np.isfinite(value) or value < 0:
                raise ParameterError(f"{f.name}={value} must be a finite number >= 0")
        for name in ("p_shock", "p_catch", "m_door", "m_drive", "g_develop"):
            if getattr(self, name) > 1:
                raise ParameterError(f"{name}={getattr(self, name)} must be <= 1")
        if self.maint_interval_d < 3:
            raise ParameterError(f"maint_interval_d={self.maint_interval_d} must be >= 3")


@dataclass
class Fleet:
    """A simulated fleet: telemetry and failures tables plus the ground truth.

    ``p7[e, d]`` is the true probability that elevator ``e`` fails on one of days
    ``d+1 .. d+7``; ``fail[e, d]`` is 1 on failure days. Table dates are ``datetime64``
    (midnight), as :func:`sim.elevators.telemetry.validate_telemetry` returns them. Row ``e`` of the arrays is
    elevator ``elevator_ids[e]``; column ``d`` is ``start + d`` days.
    """

    elevator_ids: list[str]
    start: dt.date
    telemetry: pd.DataFrame
    failures: pd.DataFrame
    fail: np.ndarray
    p7: np.ndarray

    @property
    def days(self) -> int:
        """Number of simulated days."""
        return int(self.fail.shape[1])


def simulate_fleet(
    n: int, days: int, seed: int, *, params: FleetParams | None = None,
    start: dt.date = dt.date(2023, 1, 1), prefix: str = "EL", ids: list[str] | None = None,
) -> Fleet:
    """Simulate ``n`` elevators for ``days`` days.

    Parameters
    ----------
    n : int
        Number of elevators (>= 1).
    days : int
        Number of days (>= 1).
    seed : int
        Seed (0 <= seed < 2**63); the same seed gives the same fleet bit for bit, on any thread count.
    params : FleetParams, optional
        Degradation parameters (defaults: :class:`FleetParams`).
    start : datetime.date
        Date of day 0.
    prefix : str
        Elevator ids are ``f"{prefix}{e:05d}"``.
    ids : list of str, optional
        Elevator ids to use instead (e.g. the twin's elevator-controller device ids, so that
        the device simulator can replay a fleet on a site); must hold ``n`` unique ids.

    Returns
    -------
    Fleet

    Examples
    --------
    >>> fleet = simulate_fleet(3, 30, seed=1)
    >>> len(fleet.telemetry)
    90
    """
    params = params or FleetParams()
    params.validate()
    for name, value, low in (("fleet", n, 1), ("days", days, 1), ("seed", seed, 0)):
        if int(value) != value or value < low:
            raise ParameterError(f"{name}={value} must be an integer >= {low}")
    if seed >= 2 ** 63:  # the kernels take a signed 64-bit seed
        raise ParameterError(f"seed={seed} must be < 2**63")
    n, days, seed = int(n), int(days), int(seed)
    out_i = np.zeros((n, days, len(K.INT_COLUMNS)), dtype=np.int64)
    out_f = np.zeros((n, days, len(K.FLOAT_COLUMNS)), dtype=np.float64)
    fail = np.zeros((n, days), dtype=np.int8)
    p7 = np.zeros((n, days), dtype=np.float64)
    K.simulate_fleet_kernel(seed, n, days, start.weekday(), params.to_array(),
                            out_i, out_f, fail, p7)
    if ids is None:
        ids = [f"{prefix}{e:05d}" for e in range(n)]
    elif len(ids) != n or len(set(ids)) != n:
        raise ParameterError(f"ids: need {n} unique ids, got {len(set(ids))} unique of {len(ids)}")
    else:
        ids = [str(i) for i in ids]
    return Fleet(ids, start, _telemetry_frame(ids, start, out_i, out_f),
                 _failures_frame(ids, start, fail), fail, p7)


def _telemetry_frame(ids, start, out_i, out_f) -> pd.DataFrame:
    n, days, _ = out_i.shape
    dates = pd.date_range(start, periods=days, freq="D").to_numpy()
    cols = {"elevator_id": np.repeat(np.array(ids, dtype=object), days),
            "date": np.tile(dates, n)}
    for k, name in enumerate(K.INT_COLUMNS):
        cols[name] = out_i[:, :, k].reshape(-1)
    for k, name in enumerate(K.FLOAT_COLUMNS):
        cols[name] = out_f[:, :, k].reshape(-1)
    return pd.DataFrame(cols)[list(TELEMETRY_COLUMNS)]


def _failures_frame(ids, start, fail) -> pd.DataFrame:
    e_idx, d_idx = np.nonzero(fail)
    return pd.DataFrame({
        "elevator_id": [ids[e] for e in e_idx],
        "date": pd.Timestamp(start) + pd.to_timedelta(d_idx, unit="D"),
    })
