"""What a bill run needs from metering: each metered unit's use per utility and month.

A unit "has meters" for a utility when a meter of the twin feeds it (``Device.feeds``);
its bill line then comes from the live readings (``source`` ``live`` or ``estimated``) and
never from the CSV import. Units without such a meter keep the imported readings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from services.metering.readings import meter_specs, monthly_readings

__all__ = ["MeteredUse", "metered_use"]


@dataclass
class MeteredUse:
    """A unit's use of one utility in one month, summed over the meters feeding it."""

    consumption: Decimal = Decimal(0)
    source: str = "live"
    devices: list[str] = field(default_factory=list)
    reset: bool = False
    #: Use earlier in the calendar year (yearly tiers), from the live readings too.
    before: Decimal = Decimal(0)
    has_reading: bool = False


def _sum(conn, community, month: str, cid: str | None = None) -> dict[tuple[str, str], MeteredUse]:
    out: dict[tuple[str, str], MeteredUse] = {}
    for r in monthly_readings(conn, community, month, cid=cid):
        if r["source"] == "import":
            continue
        use = out.setdefault((r["unit_id"], r["utility"]), MeteredUse())
        use.consumption += r["consumption"]
        use.devices.append(r["device_id"])
        use.reset |= r["reset"]
        use.has_reading = True
        if r["source"] == "estimated":
            use.source = "estimated"
    return out


def metered_use(conn: sa.Connection, community, month: str, *, yearly: set[str] = frozenset(),
                cid: str | None = None) -> dict[tuple[str, str], MeteredUse]:
    """``{(unit_id, utility): MeteredUse}`` for every unit a meter feeds (with or without data).

    For utilities in ``yearly`` the use of January … the month before is added as ``before``.
    ``cid``: only that community's imported readings (None: every row of ``meter_readings``).
    """
    from services.billing.run import _shift, parse_month

    out = _sum(conn, community, month, cid)
    for spec in meter_specs(community).values():
        for unit in spec.feeds:
            out.setdefault((unit, spec.utility), MeteredUse())
    if yearly:
        _, m = parse_month(month)
        for k in range(1, m):
            for key, use in _sum(conn, community, _shift(month, -k), cid).items():
                if key[1] in yearly and key in out:
                    out[key].before += use.consumption
    return out
