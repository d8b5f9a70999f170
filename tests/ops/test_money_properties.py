"""Properties of the money helpers against plain reference computations (hypothesis)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.billing.money import allocate_by_weight, fen, tiered_charge

D = Decimal
BEIJING = [(D(240), D("0.4883")), (D(400), D("0.5383")), (None, D("0.7883"))]


def naive_tiered(used: int, already: int, tiers) -> Decimal:
    """Charge unit by unit: each kWh at the price of the tier its cumulative index falls in."""
    total = D(0)
    for k in range(already, already + used):
        for upper, price in tiers:
            if upper is None or k < upper:
                total += price
                break
    return total


@settings(max_examples=150, deadline=None)
@given(used=st.integers(0, 900), already=st.integers(0, 600))
def test_tiered_matches_unit_by_unit(used, already):
    assert tiered_charge(D(used), BEIJING, D(already))[0] == naive_tiered(used, already, BEIJING)


@settings(max_examples=150, deadline=None)
@given(cents=st.integers(0, 10_000_000),
       weights=st.lists(st.integers(1, 50_000), min_size=1, max_size=40))
def test_allocation_is_exact_and_fair(cents, weights):
    amount = D(cents) / 100
    keyed = [(f"u{i:03d}", D(w) / 100) for i, w in enumerate(weights)]
    shares = allocate_by_weight(amount, keyed)
    assert sum(shares.values(), D(0)) == amount
    total_w = sum(w for _, w in keyed)
    for key, w in keyed:
        exact = amount * w / total_w
        assert abs(shares[key] - exact) < D("0.01")  # never more than a fen from the exact share


def test_fen_rounds_half_up():
    assert fen(D("0.005")) == D("0.01") and fen(D("2.675")) == D("2.68") and fen(D("-0.005")) == D("-0.01")
