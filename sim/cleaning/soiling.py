"""Soiling of each area: traffic × surface factor × weather factor, and time over threshold.

Reasoning (docs/cleaning.md has the sources): most indoor soil arrives on shoes, so the
soil an area collects grows with its foot traffic. A passage deposits
``soil_per_passage_g`` grams, times

- a **surface factor** by area kind (stone lobby floors and stair treads show and hold
  soil; garage concrete and outdoor paving less per passage);
- a **weather factor**: on a rainy day shoes carry wet soil (×``rain_factor``) on every
  surface;
- the **entrance mats** for indoor areas: mats remove about 37% of the soil at 1.5 m of
  mat and 86% at 6 m (interpolated linearly, 0 without a mat); above the ground floor
  shoes carry a further reduced share (``upper_floor_share``);

spread over the area (g/m²), plus a background per day (dust, leaves, litter; larger
outdoors). An area is *over threshold* while its soil density exceeds
``threshold_g_m2`` (the point where residents see a dirty floor: INSTA 800 level 3 as a
rough match). Cleaning leaves ``residual`` of the soil.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.cleaning.areas import CleaningArea
from sim.cleaning.errors import CleaningParameterError
from sim.numba_config import jit
from sim.rng import seed_state, uniform

__all__ = ["SoilParams", "mat_removal", "deposit_per_minute", "rainy_days",
           "minutes_over_kernel", "minutes_over_threshold", "MINUTES_PER_DAY"]

MINUTES_PER_DAY = 1440

_SURFACE = {"lobby": 1.0, "elevator_hall": 1.0, "corridor": 1.0, "stair": 1.3,
            "garage": 0.5, "plaza": 0.5, "path": 0.5, "playground": 0.6, "gate": 1.0,
            "clubhouse": 1.0}
_BACKGROUND = {"plaza": 0.15, "path": 0.15, "playground": 0.15, "gate": 0.15, "garage": 0.05}


@dataclass(frozen=True)
class SoilParams:
    """Parameters of the soiling model (grams, m², minutes)."""

    soil_per_passage_g: float = 0.1
    threshold_g_m2: float = 1.0
    mat_length_m: float = 1.5
    upper_floor_share: float = 0.4
    rain_factor: float = 3.0
    rain_probability: float = 0.3
    background_indoor_g_m2_day: float = 0.05
    residual: float = 0.05
    initial_share: float = 0.3
    surface: dict = field(default_factory=lambda: dict(_SURFACE))
    background: dict = field(default_factory=lambda: dict(_BACKGROUND))

    def validate(self) -> None:
        """Raise :class:`CleaningParameterError` naming the first bad field."""
        for name in ("soil_per_passage_g", "threshold_g_m2", "mat_length_m", "rain_factor",
                     "background_indoor_g_m2_day"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0 or (name == "threshold_g_m2" and value == 0):
                raise CleaningParameterError(f"{name}={value} must be a number > 0")
        for name in ("upper_floor_share", "rain_probability", "residual", "initial_share"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise CleaningParameterError(f"{name}={value} must be in [0, 1]")


def mat_removal(length_m: float) -> float:
    """Share of shoe soil removed by an entrance mat of ``length_m`` metres.

    Linear through (0 m, 0), (1.5 m, 0.37), (6 m, 0.86); 0.86 beyond 6 m.
    """
    if length_m <= 0:
        return 0.0
    return float(np.interp(length_m, [0.0, 1.5, 6.0], [0.0, 0.37, 0.86]))


def rainy_days(days: int, seed: int, probability: float) -> np.ndarray:
    """Seeded weather: True on rainy days (one stream per day)."""
    out = np.zeros(days, dtype=bool)
    for d in range(days):
        out[d] = uniform(seed_state(seed ^ 0x5EED, d)) < probability
    return out


def deposit_per_minute(areas: list[CleaningArea], traffic: np.ndarray, rain: np.ndarray,
                       params: SoilParams) -> np.ndarray:
    """Soil deposited (g/m²) in every minute: array ``[area, days × 1440]``.

    ``traffic[a, d, h]`` is passages of area ``a`` in hour ``h`` of day ``d``; a passage's
    soil is spread evenly over its hour.
    """
    n, days, hours = traffic.shape
    per_pass = np.empty(n)
    background = np.empty(n)
    kept = 1.0 - mat_removal(params.mat_length_m)
    for i, a in enumerate(areas):
        f = params.soil_per_passage_g * params.surface.get(a.kind, 1.0)
        if a.indoor and a.kind != "garage":
            f *= kept * (1.0 if a.floor == 0 else params.upper_floor_share)
        per_pass[i] = f / a.area_m2
        background[i] = (params.background.get(a.kind, params.background_indoor_g_m2_day)
                         / MINUTES_PER_DAY)
    weather = np.where(rain, params.rain_factor, 1.0)  # [day]
    hourly = traffic * per_pass[:, None, None] * weather[None, :, None] / 60.0
    minute = np.repeat(hourly.reshape(n, days * hours), 60, axis=1)
    return minute + background[:, None]


@jit
def minutes_over_kernel(cum, clean_ptr, clean_min, initial, residual, threshold, out):
    """Count the minutes each area's soil density exceeds ``threshold``.

    ``cum[a, m]`` is the soil deposited before minute ``m`` (``m`` = 0..M); the cleanings
    of area ``a`` end at minutes ``clean_min[clean_ptr[a]:clean_ptr[a+1]]`` (sorted) and
    leave ``residual`` × the soil there. Soil at minute ``m`` is the soil left at the last
    cleaning plus what was deposited since; minute ``m`` counts when that exceeds the
    threshold at its end.
    """
    n, m1 = cum.shape
    for a in range(n):
        base = initial
        since = 0
        j = clean_ptr[a]
        count = 0
        for m in range(m1 - 1):
            while j < clean_ptr[a + 1] and clean_min[j] <= m:
                soil = base + cum[a, clean_min[j]] - cum[a, since]
                base = residual * soil
                since = clean_min[j]
                j += 1
            if base + cum[a, m + 1] - cum[a, since] > threshold:
                count += 1
        out[a] = count


def minutes_over_threshold(deposit: np.ndarray, cleanings: list[list[int]],
                           params: SoilParams) -> np.ndarray:
    """Minutes over threshold per area, given the minutes each area's cleanings ended."""
    n, m = deposit.shape
    cum = np.zeros((n, m + 1))
    np.cumsum(deposit, axis=1, out=cum[:, 1:])
    ptr = np.zeros(n + 1, dtype=np.int64)
    flat: list[int] = []
    for a in range(n):
        flat.extend(sorted(int(x) for x in cleanings[a]))
        ptr[a + 1] = len(flat)
    out = np.zeros(n, dtype=np.int64)
    minutes_over_kernel(cum, ptr, np.asarray(flat, dtype=np.int64),
                        params.initial_share * params.threshold_g_m2, params.residual,
                        params.threshold_g_m2, out)
    return out
