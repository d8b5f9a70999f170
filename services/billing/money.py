"""Money: ``Decimal`` yuan rounded to the fen with ROUND_HALF_UP, tiered prices, allocation.

No float ever touches money: inputs are parsed from strings (or ints) and every amount
stored or shown is quantized with :func:`fen`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Iterable, Sequence

from services.errors import InvalidInput

__all__ = ["FEN", "ZERO", "allocate_by_weight", "fen", "parse_money", "tiered_charge"]

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def fen(amount: Decimal) -> Decimal:
    """Round yuan to the fen, half up (0.005 → 0.01)."""
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def parse_money(value: object, name: str = "amount", *, positive: bool = False) -> Decimal:
    """Parse a money value (string or int, never float) into yuan; raise naming the value."""
    if isinstance(value, float):
        raise InvalidInput(f"{name}={value!r} must be a decimal string, not a float")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{name}={value!r} is not a decimal amount") from None
    if not amount.is_finite():
        raise InvalidInput(f"{name}={value!r} is not a finite amount")
    if amount != fen(amount):
        raise InvalidInput(f"{name}={value!r} has more than 2 decimals (fen)")
    if positive and amount <= 0:
        raise InvalidInput(f"{name}={value!r} must be > 0")
    return fen(amount)


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
