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


# -- parsing: ASCII only, exact, bounded by the column ------------------------------------
import pytest  # noqa: E402
from hypothesis import HealthCheck, assume  # noqa: E402

from services.billing.money import MONEY, QUANTITY, parse_money, parse_quantity  # noqa: E402
from services.errors import InvalidInput  # noqa: E402
from services.parsing import parse_month  # noqa: E402

ASCII = "0123456789"
#: decimal digits that are not ASCII (full-width, Arabic-Indic, Devanagari, Bengali, Thai, ...)
OTHER_DIGITS = st.characters(categories=["Nd"]).filter(lambda c: c not in ASCII)
MONEY_MAX_FEN = 99_999_999_999_999  # Numeric(14, 2): 14 digits, 2 of them decimals


def reference_fen(text: str) -> int | None:
    """Plain reference: fen of ``[-]digits[.digits]`` with ASCII digits and <= 2 decimals, else None."""
    text = text.strip(" \t")
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if sign < 0 else text
    whole, dot, frac = body.partition(".")
    if not whole or any(c not in ASCII for c in whole) or (dot and (not frac or any(c not in ASCII for c in frac))):
        return None
    if len(frac.rstrip("0")) > 2:
        return None
    cents = int(whole) * 100 + int((frac + "00")[:2])  # frac beyond 2 digits is zeros here
    return sign * cents if abs(cents) <= MONEY_MAX_FEN else None


def _accepts(parser, text):
    try:
        return parser(text)
    except InvalidInput:
        return None


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("0123456789.-_e+ ") + ["٣", "２", "\u00a0", "\x00"]), max_size=22))
def test_accepted_money_is_exact_and_fits(text):
    got = _accepts(parse_money, text)
    expected = reference_fen(text)
    if expected is None or len(text.strip(" \t")) > 64:
        assert got is None, (text, got)
        return
    assert got is not None and got * 100 == expected, (text, got, expected)
    assert abs(got) <= MONEY.max and got.as_tuple().exponent == -2


@settings(max_examples=300, deadline=None)
@given(fen=st.integers(-MONEY_MAX_FEN, MONEY_MAX_FEN), extra_zeros=st.integers(0, 3))
def test_every_column_value_is_accepted_exactly(fen, extra_zeros):
    sign = "-" if fen < 0 else ""
    text = f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}" + "0" * extra_zeros
    assert parse_money(text) * 100 == fen
    assert str(parse_money(text)) == f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}" if fen else True


@settings(max_examples=300, deadline=None)
@given(fen=st.integers(MONEY_MAX_FEN + 1, 10 ** 40))
def test_beyond_the_column_is_refused(fen):
    for text in (f"{fen // 100}.{fen % 100:02d}", f"-{fen // 100}.{fen % 100:02d}"):
        with pytest.raises(InvalidInput, match="does not fit"):
            parse_money(text)


@settings(max_examples=300, deadline=None)
@given(whole=st.integers(0, 10 ** 9), digit=OTHER_DIGITS, data=st.data())
def test_any_non_ascii_digit_is_refused(whole, digit, data):
    text = str(whole)
    at = data.draw(st.integers(0, len(text)))
    bad = text[:at] + digit + text[at:]
    for parser in (parse_money, lambda t: parse_quantity(t, "reading")):
        with pytest.raises(InvalidInput):
            parser(bad)
    month = f"{2000 + whole % 999:04d}-{whole % 12 + 1:02d}"
    at = data.draw(st.integers(0, len(month) - 1))
    assume(month[at] != "-")
    with pytest.raises(InvalidInput):
        parse_month(month[:at] + digit + month[at + 1:])


@settings(max_examples=200, deadline=None)
@given(year=st.integers(0, 9999), month=st.integers(0, 99))
def test_months_by_hand(year, month):
    text = f"{year:04d}-{month:02d}"
    ok = 1970 <= year <= 2999 and 1 <= month <= 12
    assert (_accepts(parse_month, text) == (year, month)) if ok else _accepts(parse_month, text) is None


def test_quantity_bounds_by_hand():
    assert parse_quantity("99999999999.999", "reading") == D("99999999999.999") == QUANTITY.max
    for bad in ("100000000000", "99999999999.9991", "-0.001", "1e3", "1_0", "١"):
        with pytest.raises(InvalidInput):
            parse_quantity(bad, "reading")


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(fens=st.lists(st.integers(1, MONEY_MAX_FEN), min_size=30, max_size=60, unique=True))
def test_accepted_amounts_round_trip_through_the_database(db_url, fens):
    """What parse_money accepts is stored and read back exactly (SQLite and PostgreSQL)."""
    from datetime import date

    from sqlalchemy import delete, select

    from services.billing.models import Payment, Unit
    from services.db import Database, get_by_id

    db = Database(db_url)
    try:
        db.migrate()
        texts = [f"{f // 100}.{f % 100:02d}" for f in fens] + ["999999999999.99", "0.01"]
        with db.transaction() as s:
            s.execute(delete(Payment))
            if get_by_id(s, Unit, "U1") is None:
                s.add(Unit(id="U1", kind="apartment", area_m2=D("1.00")))
            s.flush()
            s.add_all(Payment(unit_id="U1", amount=parse_money(t), received_on=date(2026, 1, 1), method="cash",
                              reference=f"r{i}", recorded_by="test") for i, t in enumerate(texts))
        with db.transaction() as s:
            stored = {p.reference: p.amount for p in s.scalars(select(Payment))}
        assert {f"r{i}": D(t) for i, t in enumerate(texts)} == stored
    finally:
        db.dispose()
