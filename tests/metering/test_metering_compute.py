"""The metering rules (services.metering.compute) against hand calculations and properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.metering.compute import MAX_GAP_S, meter_month

H = 3600.0
D = 86400.0


def test_interpolation_at_both_boundaries():
    # month [0, 30 d); readings 12 h before / after each boundary
    pts = [(-12 * H, 100.0), (12 * H, 112.0), (30 * D - 12 * H, 400.0), (30 * D + 12 * H, 404.0)]
    m = meter_month(pts, 0, 30 * D)
    # start: 100 + 12 × 12/24 = 106; end: 400 + 4 × 12/24 = 402; use 402 − 106 = 296
    assert (m.start_value, m.end_value, m.consumption, m.source, m.reset) == (
        Decimal("106.000"), Decimal("402.000"), Decimal("296.000"), "live", False)


def test_reading_exactly_on_the_boundary_is_used():
    m = meter_month([(0, 5.5), (10 * D, 7.0), (30 * D, 9.25)], 0, 30 * D)
    assert (m.start_value, m.end_value, m.consumption, m.source) == (
        Decimal("5.500"), Decimal("9.250"), Decimal("3.750"), "live")


def test_fall_is_a_new_register_from_zero_after_the_last_reading_before_it():
    # 0 d: 1000, 10 d: 1100, 11 d: 3 (replaced: 3 used since 10 d), 30 d: 53
    m = meter_month([(0, 1000.0), (10 * D, 1100.0), (11 * D, 3.0), (30 * D, 53.0)], 0, 30 * D)
    # use = (1100 − 1000) + 3 + (53 − 3) = 153; the register shows 1000 → 53
    assert (m.start_value, m.end_value, m.consumption, m.reset) == (
        Decimal("1000.000"), Decimal("53.000"), Decimal("153.000"), True)


def test_boundary_inside_a_fall_interval():
    # fall between 29 d (500) and 31 d (8): the new register runs 0 → 8 over those 2 days
    m = meter_month([(0, 400.0), (29 * D, 500.0), (31 * D, 8.0)], 0, 30 * D)
    # end: continuous 500 + 8 × 1/2 = 504 → use 104; register 8 × 1/2 = 4
    assert (m.end_value, m.consumption, m.reset, m.source) == (Decimal("4.000"), Decimal("104.000"), True, "live")


def test_gap_over_max_gap_around_a_boundary_is_estimated():
    gap = MAX_GAP_S + 3600
    m = meter_month([(0, 10.0), (30 * D - gap / 2, 40.0), (30 * D + gap / 2, 41.0)], 0, 30 * D)
    # still interpolated: 40 + 1 × 1/2 = 40.5; but the bracketing readings are 49 h apart
    assert (m.end_value, m.consumption, m.source) == (Decimal("40.500"), Decimal("30.500"), "estimated")


def test_month_after_the_last_reading_is_extrapolated_and_estimated():
    # 2 units/day over 10 days, last reading at 10 d; month [0, 30 d): end = 20 + 2 × 20 = 60
    m = meter_month([(0, 0.0), (10 * D, 20.0)], 0, 30 * D)
    assert (m.end_value, m.consumption, m.source) == (Decimal("60.000"), Decimal("60.000"), "estimated")


def test_no_use_before_the_first_reading():
    assert meter_month([(30 * D, 5.0), (31 * D, 6.0)], 0, 30 * D) is None  # ends on the first reading
    assert meter_month([], 0, 30 * D) is None
    m = meter_month([(10 * D, 5.0), (30 * D, 9.0)], 0, 30 * D)   # installed mid-month
    assert (m.start_value, m.consumption, m.source) == (Decimal("5.000"), Decimal("4.000"), "estimated")


def test_bad_month_is_refused():
    with pytest.raises(ValueError, match="end=0 must be after start=10"):
        meter_month([(0, 1.0)], 10, 0)


def test_huge_and_tiny_values_stay_exact():
    m = meter_month([(0, 999_999_999.999), (D, 1e9)], 0, D)
    assert m.consumption == Decimal("0.001")
    m = meter_month([(0, 0.0), (D, 0.001)], 0, D)
    assert m.consumption == Decimal("0.001")


def _naive_use(points, start, end):
    """A plain reference: walk pairs, add the use of the part of each pair inside the month."""
    pts = sorted((Decimal(repr(t)), Decimal(repr(v))) for t, v in points)
    total = Decimal(0)
    for (ta, va), (tb, vb) in zip(pts, pts[1:]):
        use = vb - va if vb >= va else vb
        lo, hi = max(ta, Decimal(repr(start))), min(tb, Decimal(repr(end)))
        if hi > lo:
            total += use * (hi - lo) / (tb - ta)
    return total


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-40, 80), st.integers(0, 10**6)), min_size=2, max_size=40,
                unique_by=lambda p: p[0]))
def test_use_inside_the_readings_matches_a_pairwise_reference(raw):
    """Whenever readings bracket both boundaries, the use is the sum over reading pairs of
    their use times the share of the pair's interval inside the month."""
    points = [(t * D / 2, v / 1000) for t, v in raw]
    lo, hi = min(p[0] for p in points), max(p[0] for p in points)
    start, end = lo + (hi - lo) / 3, lo + 2 * (hi - lo) / 3
    m = meter_month(points, start, end, max_gap_s=1e12)
    expected = _naive_use(points, start, end)
    assert abs(m.consumption - expected) <= Decimal("0.002")
    assert m.consumption >= 0 and m.source == "live"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 90), st.integers(0, 10**6)), min_size=2, max_size=30,
                unique_by=lambda p: p[0]))
def test_consecutive_months_add_up(raw):
    """Use over [a, c) = use over [a, b) + use over [b, c), to the rounding of one boundary."""
    points = [(t * D, v / 1000) for t, v in raw]
    a, b, c = 10 * D, 40 * D, 70 * D
    whole, first, second = (meter_month(points, x, y) for x, y in ((a, c), (a, b), (b, c)))
    if whole is None or first is None or second is None:
        return
    assert whole.consumption == first.consumption + second.consumption
