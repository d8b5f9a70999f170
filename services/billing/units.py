"""Billing units from the twin: kinds, areas, building type and floor, owners.

:func:`unit_records` derives from a :class:`twin.model.Community` what billing needs;
:func:`sync_units` mirrors it into the database (insert new, update changed; units are
never deleted while bills refer to them).
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.billing.models import Unit
from services.billing.money import AREA
from services.errors import InvalidInput
from twin.model import Building, Community

__all__ = ["building_type", "sync_units", "unit_records"]


def building_type(building: Building | None) -> str | None:
    """``high_rise`` (10+ floors or over 27 m), ``mid_rise`` (4–9 floors), ``low_rise``.

    An explicit ``attributes["type"]`` of the building wins.
    """
    if building is None:
        return None
    if building.attributes.get("type"):
        return str(building.attributes["type"])
    floors = building.floors or len(building.storeys) or None
    if (building.height_m or 0) > 27 or (floors or 0) >= 10:
        return "high_rise"
    if floors is not None and floors >= 4:
        return "mid_rise"
    return "low_rise" if floors else None


def _floor(community: Community, building: Building | None, storey_id: str | None) -> int | None:
    if building is None or storey_id is None:
        return None
    ordered = sorted(building.storeys, key=lambda s: s.elevation_m)
    above = [s for s in ordered if s.elevation_m >= -0.5]
    for i, s in enumerate(above):
        if s.id == storey_id:
            return i + 1
    for i, s in enumerate(reversed([s for s in ordered if s.elevation_m < -0.5])):
        if s.id == storey_id:
            return -(i + 1)
    return None


def _area(unit_id: str, area_m2: object) -> Decimal:
    """The unit's area (m², from the twin: a float) to the cm², bounded by its column."""
    where = f"billing unit {unit_id!r}: area_m2"
    if isinstance(area_m2, bool) or not isinstance(area_m2, (int, float, Decimal)) or not math.isfinite(area_m2):
        raise InvalidInput(f"{where}={area_m2!r} must be a finite number >= 0")
    area = Decimal(repr(area_m2) if isinstance(area_m2, float) else area_m2)
    area = AREA.check(area.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if abs(area) <= AREA.max else area, where)
    if area < 0:
        raise InvalidInput(f"{where}={area_m2!r} must be >= 0")
    return area


def unit_records(community: Community) -> list[dict[str, Any]]:
    """Return one dict per billing unit with the columns of :class:`Unit`."""
    buildings = {b.id: b for b in community.buildings}
    households = {h.unit_id: h for h in community.households}
    features = {f.id: f for f in community.features}
    out = []
    for u in community.billing_units:
        area = _area(u.id, u.area_m2)
        b = buildings.get(u.building_id) if u.building_id else None
        h = households.get(u.id)
        feature = features.get(u.feature_id) if u.feature_id else None
        level = u.attributes.get("level") or (feature.attributes.get("level") if feature else None)
        if u.kind == "parking" and level is None:
            level = "garage" if u.building_id else "ground"
        out.append({
            "id": u.id, "kind": u.kind, "building_id": u.building_id, "storey_id": u.storey_id,
            "space_id": u.space_id,
            "area_m2": area,
            "floor": _floor(community, b, u.storey_id), "building_type": building_type(b),
            "level": level, "owner": u.owner or (h.owner if h else None),
            "phone": u.phone or (h.phone if h else None), "email": u.attributes.get("email"),
        })
    return out


def sync_units(session: Session, community: Community) -> dict[str, int]:
    """Mirror the twin's billing units into the database; return inserted/updated counts."""
    records = unit_records(community)
    existing = {u.id: u for u in session.scalars(select(Unit))}
    inserted = updated = 0
    new_rows = []
    for rec in records:
        unit = existing.get(rec["id"])
        if unit is None:
            new_rows.append(rec)
            inserted += 1
            continue
        changed = False
        for key, value in rec.items():
            if getattr(unit, key) != value:
                setattr(unit, key, value)
                changed = True
        updated += changed
    if new_rows:
        session.execute(Unit.__table__.insert(), new_rows)
    session.flush()
    return {"inserted": inserted, "updated": updated, "units": len(records)}
