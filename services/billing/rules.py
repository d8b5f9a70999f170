"""The fee rules file (YAML or JSON): parsed and validated into :class:`FeeRules`.

See ``fee_rules.yaml`` beside this module (the default) and docs/billing.md. Every money
value is a decimal string; a bad value raises :class:`services.errors.InvalidInput` naming
the key and the value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from services.billing.money import MONEY, PRICE, QUANTITY
from services.errors import InvalidInput
from services.parsing import Fixed, check_text, decode_utf8, parse_decimal, parse_int

__all__ = ["DEFAULT_RULES", "FeeRules", "LateFee", "PropertyRule", "SharedCharge", "Utility", "load_rules"]

DEFAULT_RULES = Path(__file__).resolve().parent / "fee_rules.yaml"
UNIT_KINDS = ("apartment", "parking", "shop")


#: a fixed fee (yuan with fen) stored as a line's amount and unit price: Numeric(12, 2) fits both
FEE = Fixed(PRICE.precision - PRICE.scale + MONEY.scale, MONEY.scale)
#: late-fee ratios (per day, cap): not stored, bounded so that arithmetic stays exact
RATIO = Fixed(12, 6)
#: a whole number of days (due, grace): at most ten years
MAX_DAYS = 3650


def _dec(value: Any, where: str, fixed: Fixed = PRICE, *, maximum: Decimal | None = None) -> Decimal:
    """A decimal >= 0 of the rules file: ASCII, fits ``fixed`` (one parser: services.parsing)."""
    if value is None:
        raise InvalidInput(f"{where} is missing (a decimal string, e.g. \"2.00\")")
    return parse_decimal(value, where, fixed, minimum=0, maximum=maximum)


def _fee(value: Any, where: str) -> Decimal:
    """A fixed monthly fee: yuan >= 0 with fen, that fits the unit-price column too."""
    return _dec(value, where, FEE)


def _floor(value: Any, where: str) -> int | None:
    return None if value is None else parse_int(value, where)


def _text(value: Any, where: str, max_chars: int) -> str:
    """A name of the rules that ends up in a bill (its column holds ``max_chars``)."""
    text = check_text(str(value), where)
    if len(text) > max_chars:
        raise InvalidInput(f"{where}={text[:40]!r}... is longer than {max_chars} characters")
    return text


def _mapping(raw: Any, where: str) -> dict:
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be a mapping, not {type(raw).__name__}")
    return raw


def _list(raw: Any, where: str) -> list:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidInput(f"{where} must be a list, not {type(raw).__name__}")
    return raw


@dataclass(frozen=True)
class PropertyRule:
    """Property fee rate (yuan/m²/month) for units matching every stated condition."""

    rate: Decimal
    kind: str | None = None
    building_type: str | None = None
    min_floor: int | None = None
    max_floor: int | None = None

    def matches(self, kind: str, building_type: str | None, floor: int | None) -> bool:
        if self.kind is not None and self.kind != kind:
            return False
        if self.building_type is not None and self.building_type != building_type:
            return False
        if self.min_floor is not None and (floor is None or floor < self.min_floor):
            return False
        return not (self.max_floor is not None and (floor is None or floor > self.max_floor))


@dataclass(frozen=True)
class Utility:
    """A metered utility with tiered prices per month or per calendar year."""

    name: str
    unit: str
    period: str
    kinds: tuple[str, ...]
    tiers: tuple[tuple[Decimal | None, Decimal], ...]


@dataclass(frozen=True)
class SharedCharge:
    """A monthly public-area amount (公摊) allocated by area."""

    name: str
    amount: Decimal
    scope: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class LateFee:
    """Late fee: ``rate_per_day`` of unpaid principal after due + grace, capped."""

    rate_per_day: Decimal = Decimal("0.003")
    grace_days: int = 30
    cap_ratio: Decimal = Decimal("1.00")


@dataclass(frozen=True)
class FeeRules:
    """Validated fee rules."""

    version: str
    due_days: int
    property_fee: tuple[PropertyRule, ...]
    parking: dict[str, Decimal]
    utilities: tuple[Utility, ...]
    shared_charges: tuple[SharedCharge, ...]
    late_fee: LateFee = field(default_factory=LateFee)

    def property_rate(self, kind: str, building_type: str | None, floor: int | None) -> Decimal | None:
        """The first matching property fee rate, or None."""
        for rule in self.property_fee:
            if rule.matches(kind, building_type, floor):
                return rule.rate
        return None


def _kinds(raw: Any, where: str) -> tuple[str, ...]:
    kinds = tuple(raw or UNIT_KINDS)
    bad = [k for k in kinds if k not in UNIT_KINDS]
    if bad:
        raise InvalidInput(f"{where}: kind {bad[0]!r} must be one of {', '.join(UNIT_KINDS)}")
    return kinds


def _utility(name: str, raw: dict) -> Utility:
    period = raw.get("period", "month")
    if period not in ("month", "year"):
        raise InvalidInput(f"utilities.{name}.period={period!r} must be 'month' or 'year'")
    tiers: list[tuple[Decimal | None, Decimal]] = []
    last = Decimal(0)
    raw_tiers = _list(raw.get("tiers"), f"utilities.{name}.tiers")
    for i, t in enumerate(raw_tiers):
        where = f"utilities.{name}.tiers[{i}]"
        t = _mapping(t, where)
        price = _dec(t.get("price"), f"{where}.price")
        upper = t.get("up_to")
        if upper is None and i != len(raw_tiers) - 1:
            raise InvalidInput(f"{where}: only the last tier may omit up_to")
        if upper is not None:
            upper = _dec(upper, f"{where}.up_to", QUANTITY)
            if upper <= last:
                raise InvalidInput(f"{where}.up_to={upper} must be above the previous bound {last}")
            last = upper
        tiers.append((upper, price))
    if not tiers or tiers[-1][0] is not None:
        raise InvalidInput(f"utilities.{name}.tiers must end with a tier without up_to")
    return Utility(name, _text(raw.get("unit", ""), f"utilities.{name}.unit", 16), period,
                   _kinds(raw.get("kinds"), f"utilities.{name}"), tuple(tiers))


def parse_rules(raw: dict) -> FeeRules:
    """Validate a parsed rules document."""
    if not isinstance(raw, dict):
        raise InvalidInput("fee rules must be a mapping")
    prop = []
    for i, r in enumerate(_list(raw.get("property_fee"), "property_fee")):
        where = f"property_fee[{i}]"
        r = _mapping(r, where)
        kind = r.get("kind")
        if kind is not None and kind not in UNIT_KINDS:
            raise InvalidInput(f"{where}.kind={kind!r} must be one of {', '.join(UNIT_KINDS)}")
        prop.append(PropertyRule(_dec(r.get("rate"), f"{where}.rate"), kind, r.get("building_type"),
                                 _floor(r.get("min_floor"), f"{where}.min_floor"),
                                 _floor(r.get("max_floor"), f"{where}.max_floor")))
    parking = {str(k): _fee(v, f"parking.{k}") for k, v in _mapping(raw.get("parking") or {}, "parking").items()}
    utilities = tuple(_utility(_text(n, f"utilities.{n}", 32), _mapping(u or {}, f"utilities.{n}"))
                      for n, u in _mapping(raw.get("utilities") or {}, "utilities").items())
    shared = []
    for i, s in enumerate(_list(raw.get("shared_charges"), "shared_charges")):
        s = _mapping(s, f"shared_charges[{i}]")
        amount = parse_decimal(s.get("amount"), f"shared_charges[{i}].amount", MONEY, minimum=0)
        shared.append(SharedCharge(_text(s.get("name", f"shared {i}"), f"shared_charges[{i}].name", 200), amount,
                                   str(s.get("scope", "community")), _kinds(s.get("kinds"), f"shared_charges[{i}]")))
    lf = _mapping(raw.get("late_fee") or {}, "late_fee")
    grace = parse_int(lf.get("grace_days", 30), "late_fee.grace_days", minimum=0, maximum=MAX_DAYS)
    late = LateFee(_dec(lf.get("rate_per_day", "0.003"), "late_fee.rate_per_day", RATIO, maximum=Decimal(1)),
                   grace, _dec(lf.get("cap_ratio", "1.00"), "late_fee.cap_ratio", RATIO, maximum=Decimal(100)))
    due_days = parse_int(raw.get("due_days", 15), "due_days", minimum=0, maximum=MAX_DAYS)
    return FeeRules(_text(raw.get("version", "unversioned"), "version", 64), due_days, tuple(prop), parking, utilities,
                    tuple(shared), late)


def load_rules(path: Path | str | None = None, *, site: Path | str | None = None) -> FeeRules:
    """Load rules from ``path``, else ``<site>/fee_rules.yaml`` when present, else the default."""
    if path is None and site is not None:
        for name in ("fee_rules.yaml", "fee_rules.yml", "fee_rules.json"):
            if (Path(site) / name).is_file():
                path = Path(site) / name
                break
    path = Path(path) if path is not None else DEFAULT_RULES
    text = decode_utf8(path.read_bytes(), path.name)
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{path.name}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}") from None
    return parse_rules(raw)
