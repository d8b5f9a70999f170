"""Money: ``Decimal`` yuan rounded to the fen with ROUND_HALF_UP, tiered prices, allocation.

No float ever touches money: inputs are parsed from ASCII decimal strings (or ints) by
:func:`parse_money` / :func:`parse_quantity`, bounded by the column they are stored in
(:data:`MONEY`, :data:`QUANTITY`, :data:`PRICE`, :data:`AREA`), and every amount stored or
shown is quantized with :func:`fen`. Computed amounts are checked with :func:`fits` before
they are written.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Iterable, Sequence

from services.billing.models import BillLine, MeterReading, Unit
from services.billing.models import Money as _MoneyType
from services.parsing import Fixed, parse_decimal

__all__ = ["AREA", "FEN", "MONEY", "PRICE", "QUANTITY", "ZERO", "allocate_by_weight", "fen", "fits", "parse_money",
           "parse_quantity", "tiered_charge"]

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
#: yuan with fen, ``Numeric(14, 2)``: at most 999,999,999,999.99
MONEY = Fixed.of(_MoneyType)
#: meter readings and line quantities (kWh, m³), ``Numeric(14, 3)``
QUANTITY = Fixed.of(MeterReading.__table__.c.reading.type)
#: unit prices and rates (yuan per kWh, m³, m²), ``Numeric(14, 4)``
PRICE = Fixed.of(BillLine.__table__.c.unit_price.type)
#: unit areas (m²), ``Numeric(12, 2)``
AREA = Fixed.of(Unit.__table__.c.area_m2.type)
#: working precision of billing arithmetic: products of bounded inputs stay exact
_PRECISION = 60


def fen(amount: Decimal) -> Decimal:
    """Round yuan to the fen, half up (0.005 → 0.01); exact for any finite amount."""
    with localcontext() as ctx:
        ctx.prec = max(_PRECISION, amount.adjusted() + 4)
        return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def parse_money(value: object, name: str = "amount", *, positive: bool = False) -> Decimal:
    """Parse yuan (ASCII decimal string or int, never float; at most 2 decimals; fits
    :data:`MONEY`) into a fen-quantized ``Decimal``; raise naming the value.

    >>> parse_money("12.5")
    Decimal('12.50')
    """
    return fen(parse_decimal(value, name, MONEY, minimum=None, positive=positive))


def parse_quantity(value: object, name: str, fixed: Fixed = QUANTITY) -> Decimal:
    """Parse a quantity >= 0 (kWh, m³, m²) that fits ``fixed``; raise naming the value."""
    return parse_decimal(value, name, fixed, minimum=0)


def fits(amount: Decimal, name: str, fixed: Fixed = MONEY) -> Decimal:
    """Return a computed ``amount`` when the column holds it, else raise naming it (422)."""
    return fixed.check(amount, name)


def tiered_charge(used: Decimal, tiers: Sequence[tuple[Decimal | None, Decimal]],
                  already_used: Decimal = Decimal(0)) -> tuple[Decimal, list[tuple[Decimal, Decimal]]]:
    """Charge ``used`` units on tiered prices, after ``already_used`` units of the period.

    Parameters
    ----------
    used : Decimal
        Units consumed now (kWh, m³), ≥ 0.
    tiers : sequence of (upper bound or None, price per unit)
        Ascending cumulative upper bounds of the period; the last bound is None.
    already_used : Decimal
        Units consumed earlier in the same period (yearly tiers).

    Returns
    -------
    (amount, parts)
        The exact (unrounded) amount and the ``(quantity, price)`` parts per tier.

    Examples
    --------
    >>> beijing = [(Decimal(240), Decimal("0.4883")), (Decimal(400), Decimal("0.5383")), (None, Decimal("0.7883"))]
    >>> tiered_charge(Decimal(450), beijing)[0]
    Decimal('242.7350')
    """
    start, end = already_used, already_used + used
    lower = Decimal(0)
    total = Decimal(0)
    parts: list[tuple[Decimal, Decimal]] = []
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        for upper, price in tiers:
            hi = end if upper is None else min(end, upper)
            lo = max(start, lower)
            if hi > lo:
                parts.append((hi - lo, price))
                total += (hi - lo) * price
            if upper is None or end <= upper:
                break
            lower = upper
    return total, parts


def allocate_by_weight(amount: Decimal, weights: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """Split ``amount`` (yuan) by weight into fen shares that add up exactly to it.

    Largest-remainder method: everyone gets the floor of their exact share in fen, the
    fen left over go to the largest remainders (ties by key), so the result is exact and
    deterministic.
    """
    items = [(k, w) for k, w in weights if w > 0]
    total_w = sum((w for _, w in items), Decimal(0))
    if not items or total_w == 0:
        return {}
    cents = int((amount / FEN).to_integral_value(rounding=ROUND_HALF_UP))
    exact = [(k, Decimal(cents) * w / total_w) for k, w in items]
    floors = {k: int(e) for k, e in exact}
    left = cents - sum(floors.values())
    by_remainder = sorted(exact, key=lambda kv: (-(kv[1] - int(kv[1])), kv[0]))
    for k, _ in by_remainder[:left]:
        floors[k] += 1
    return {k: Decimal(c) * FEN for k, c in floors.items()}
