"""Parsers of hostile input: decimals, integers, months and text, ASCII only and bounded.

Every number a request, a CSV file, a CLI option or a rules file carries goes through one
of these before any arithmetic: digits are ASCII ``0``-``9`` only (``\\d`` and ``int()``
also take full-width ``２``, Arabic-Indic ``٣`` and ``1_000``), no exponents, no NaN or
infinity, and the value must fit the database column it ends up in (:class:`Fixed` for a
``Numeric(precision, scale)`` column, an explicit range for an ``Integer``). A value that
does not fit raises :class:`services.errors.InvalidInput` naming it (HTTP 422, CLI exit 2);
nothing is rounded silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from services.errors import InvalidInput

__all__ = ["DECIMAL_PATTERN", "INT32", "MONTH_PATTERN", "Fixed", "check_text", "decode_utf8", "parse_decimal",
           "parse_int", "parse_month"]

#: the range of an ``Integer`` column (32-bit on PostgreSQL)
INT32 = (-(2 ** 31), 2 ** 31 - 1)

#: the accepted decimal and month texts (also published as OpenAPI patterns)
DECIMAL_PATTERN = r"-?[0-9]+(\.[0-9]+)?"
MONTH_PATTERN = r"([0-9]{4})-(0[1-9]|1[0-2])"
_DECIMAL = re.compile(DECIMAL_PATTERN)
_INTEGER = re.compile(r"-?[0-9]+")
_MONTH = re.compile(MONTH_PATTERN)
_MAX_CHARS = 64
_TRIM = " \t"


@dataclass(frozen=True)
class Fixed:
    """The values a ``Numeric(precision, scale)`` column holds: ``|v| <= max``, ``scale`` decimals."""

    precision: int
    scale: int

    @classmethod
    def of(cls, column_type: Any) -> "Fixed":
        """The bounds of a SQLAlchemy ``Numeric`` type."""
        return cls(int(column_type.precision), int(column_type.scale))

    @property
    def max(self) -> Decimal:
        """The largest value, e.g. 999999999999.99 for ``Numeric(14, 2)``."""
        return Decimal(10) ** (self.precision - self.scale) - Decimal(1).scaleb(-self.scale)

    def check(self, value: Decimal, name: str, shown: object = None) -> Decimal:
        """Return ``value`` when it fits, else raise naming ``name`` and ``shown`` (or the value)."""
        shown = str(value) if shown is None else shown
        if not value.is_finite() or abs(value) > self.max:
            raise InvalidInput(f"{name}={shown!r} does not fit: at most {self.max} in absolute value")
        if value != value.quantize(Decimal(1).scaleb(-self.scale)):
            raise InvalidInput(f"{name}={shown!r} has more than {self.scale} decimals")
        return value


def parse_decimal(value: object, name: str, fixed: Fixed, *, minimum: Decimal | int | None = 0,
                  maximum: Decimal | int | None = None, positive: bool = False) -> Decimal:
    """Parse an exact decimal (a string of ASCII digits, or an int; never a float).

    Parameters
    ----------
    value : str or int
        ``-?[0-9]+(.[0-9]+)?``, spaces and tabs around it ignored.
    name : str
        How the value is named in errors (``amount``, ``line 3: reading``).
    fixed : Fixed
        The column it must fit (magnitude and decimals).
    minimum, maximum : Decimal, optional
        Further inclusive bounds; ``positive`` requires ``> 0``.

    Raises
    ------
    InvalidInput
        Naming the value: not ASCII decimal, too many decimals, beyond the column or bounds.

    Examples
    --------
    >>> parse_decimal("12.50", "amount", Fixed(14, 2))
    Decimal('12.50')
    """
    if isinstance(value, float):
        raise InvalidInput(f"{name}={value!r} must be a decimal string, not a float")
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput(f"{name}={value!r} is not a decimal number")
    if isinstance(value, int):
        number = fixed.check(Decimal(value), name, _short(value))
    else:
        text = value.strip(_TRIM)
        if len(text) > _MAX_CHARS or not _DECIMAL.fullmatch(text):
            raise InvalidInput(f"{name}={_short(value)!r} is not a decimal number "
                               "(ASCII digits 0-9 with an optional '-' and '.', e.g. 12.50)")
        number = fixed.check(Decimal(text), name, value)
    if positive and number <= 0:
        raise InvalidInput(f"{name}={value!r} must be > 0")
    if minimum is not None and number < minimum:
        raise InvalidInput(f"{name}={value!r} must be >= {minimum}")
    if maximum is not None and number > maximum:
        raise InvalidInput(f"{name}={value!r} must be <= {maximum}")
    return number


def parse_int(value: object, name: str, *, minimum: int = INT32[0], maximum: int = INT32[1],
              strings: bool = False) -> int:
    """Parse a whole number in ``[minimum, maximum]`` (an int; with ``strings``, ASCII digits too)."""
    if isinstance(value, str) and strings and len(value) <= _MAX_CHARS and _INTEGER.fullmatch(value.strip(_TRIM)):
        value = int(value.strip(_TRIM))
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{name}={_short(value)!r} must be a whole number")
    if not minimum <= value <= maximum:
        raise InvalidInput(f"{name}={_short(value)!r} must be a whole number from {minimum} to {maximum}")
    return value


def parse_month(month: object) -> tuple[int, int]:
    """Return ``(year, month)`` of ``YYYY-MM`` (ASCII digits, 1970-01 to 2999-12) or raise naming it."""
    m = _MONTH.fullmatch(month) if isinstance(month, str) else None
    if not m or not 1970 <= int(m.group(1)) <= 2999:
        raise InvalidInput(f"month={_short(month)!r} must be YYYY-MM in ASCII digits between 1970-01 and "
                           "2999-12 (e.g. 2026-03)")
    return int(m.group(1)), int(m.group(2))


def check_text(value: str, name: str) -> str:
    """Return ``value`` unless it holds a NUL character (PostgreSQL text cannot store it)."""
    if "\x00" in value:
        raise InvalidInput(f"{name}={_short(value)!r} contains a NUL character (U+0000), which cannot be stored")
    return value


def decode_utf8(data: bytes, name: str) -> str:
    """Return ``data`` as text (UTF-8, an optional BOM) or raise naming the first bad byte."""
    try:
        return data.decode("utf-8-sig", errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{name} is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} "
                           "(save it as UTF-8)") from None


def _short(value: object) -> object:
    """The value as shown in an error: long text cut to 80 characters."""
    if isinstance(value, str) and len(value) > 80:
        return value[:80] + "…"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"<an integer of {value.bit_length()} bits>"
    return value
