"""Monthly readings from cumulative meter points: the metering rules, as pure functions.

Rules (docs/metering.md):

- The value at a month boundary (midnight of the 1st, site time zone) is interpolated
  linearly between the readings on either side of it (a reading exactly on it is used).
- A value that falls is a meter replacement or reset: the new register is taken to start
  from 0 right after the last reading before the fall, so the use between those two
  readings is the value after the fall. The month's reading is flagged ``reset``.
- Use in a month = continuous register at the end − at the start, where the continuous
  register adds, over every pair of consecutive readings, their difference (or the value
  after a fall).
- ``live``: both boundary values come from readings at most ``max_gap_s`` (48 h) apart on
  either side of the boundary (or one on it). Otherwise the month is ``estimated``: a
  boundary between readings further apart is still interpolated; a boundary after the last
  reading is extrapolated at the meter's average rate over its readings (a single reading:
  its value is carried); a boundary before the first reading takes the first reading (no
  use before a meter reported). A month that ends on or before a meter's first reading,
  and a meter without any reading, give no row.

All arithmetic is ``Decimal``; a float from a payload is taken by its shortest repr
(``10.1`` is 10.1, not its binary expansion). Results are quantized to 0.001 (ROUND_HALF_UP).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

__all__ = ["MAX_GAP_S", "Boundary", "MeterMonth", "boundary_value", "meter_month", "q3"]

#: Readings further apart than this around a boundary make the month ``estimated`` (s).
MAX_GAP_S = 48 * 3600.0

_MILLI = Decimal("0.001")


def q3(d: Decimal) -> Decimal:
    """Round to 0.001 (ROUND_HALF_UP), the precision of readings and consumption."""
    return d.quantize(_MILLI, rounding=ROUND_HALF_UP)


def _dec(x) -> Decimal:
    return x if isinstance(x, Decimal) else Decimal(repr(float(x))) if isinstance(x, float) else Decimal(x)


@dataclass(frozen=True)
class Boundary:
    """The meter at one boundary: continuous register, register shown, and how it was found."""

    continuous: Decimal
    register: Decimal
    live: bool


@dataclass(frozen=True)
class MeterMonth:
    """One meter's month: register values at the boundaries and the use between them."""

    start_value: Decimal
    end_value: Decimal
    consumption: Decimal
    source: str          # "live" or "estimated"
    reset: bool          # a fall (replacement or reset) lies inside the month


class _Series:
    """Sorted readings with their continuous register (falls restart from 0)."""

    def __init__(self, points: Iterable[tuple[float, float]]) -> None:
        pts = sorted((_dec(t), _dec(v)) for t, v in points)
        self.ts = [t for t, _ in pts]
        self.v = [v for _, v in pts]
        self.c: list[Decimal] = []
        self.fall: list[bool] = []
        total = Decimal(0)
        for i, v in enumerate(self.v):
            if i == 0:
                total, fell = v, False
            elif v >= self.v[i - 1]:
                total, fell = total + (v - self.v[i - 1]), False
            else:  # new register from 0 right after the previous reading
                total, fell = total + v, True
            self.c.append(total)
            self.fall.append(fell)

    def __len__(self) -> int:
        return len(self.ts)

    def rate(self) -> Decimal:
        """Average use per second over all readings (0 with fewer than two)."""
        if len(self) < 2 or self.ts[-1] == self.ts[0]:
            return Decimal(0)
        return (self.c[-1] - self.c[0]) / (self.ts[-1] - self.ts[0])


def boundary_value(series: _Series, t: Decimal, max_gap_s: float = MAX_GAP_S) -> Boundary | None:
    """The meter at epoch ``t`` (see the module rules); None without any reading."""
    n = len(series)
    if n == 0:
        return None
    i = bisect_left(series.ts, t)
    if i < n and series.ts[i] == t:
        return Boundary(series.c[i], series.v[i], True)
    if 0 < i < n:
        tl, tr = series.ts[i - 1], series.ts[i]
        frac = (t - tl) / (tr - tl)
        cont = series.c[i - 1] + (series.c[i] - series.c[i - 1]) * frac
        if series.fall[i]:
            reg = series.v[i] * frac
        else:
            reg = series.v[i - 1] + (series.v[i] - series.v[i - 1]) * frac
        return Boundary(cont, reg, tr - tl <= _dec(max_gap_s))
    if i == n:   # every reading is before t: extrapolate at the meter's average rate
        rate, dt = series.rate(), t - series.ts[-1]
        return Boundary(series.c[-1] + rate * dt, series.v[-1] + rate * dt, False)
    # every reading is after t: no use before the meter's first reading
    return Boundary(series.c[0], series.v[0], False)


def meter_month(points: Iterable[tuple[float, float]], start: float, end: float, *,
                max_gap_s: float = MAX_GAP_S) -> MeterMonth | None:
    """One meter's reading for the month ``[start, end)`` (epoch s) from its readings.

    Parameters
    ----------
    points : iterable of (ts, value)
        Cumulative register values (any order; one per time).
    start, end : float
        The month's boundaries, epoch seconds.

    Returns
    -------
    MeterMonth or None
        None when the meter has no reading at all, or none before ``end``.

    Examples
    --------
    >>> m = meter_month([(0, 100.0), (10, 110.0), (20, 5.0), (30, 15.0)], 5, 25)
    >>> (m.start_value, m.end_value, m.consumption, m.reset)
    (Decimal('105.000'), Decimal('10.000'), Decimal('15.000'), True)
    """
    if end <= start:
        raise ValueError(f"end={end} must be after start={start}")
    s = _Series(points)
    t0, t1 = _dec(start), _dec(end)
    b0, b1 = boundary_value(s, t0, max_gap_s), boundary_value(s, t1, max_gap_s)
    if b0 is None or b1 is None or t1 <= s.ts[0]:
        return None
    # a fall whose interval (previous reading, fall reading] overlaps the month
    reset = any(s.fall[i] and s.ts[i] > t0 and s.ts[i - 1] < t1
                for i in range(max(1, bisect_right(s.ts, t0) - 1), min(len(s), bisect_right(s.ts, t1) + 1)))
    return MeterMonth(q3(b0.register), q3(b1.register), q3(b1.continuous) - q3(b0.continuous),
                      "live" if b0.live and b1.live else "estimated", reset)
