"""Load a site folder into a :class:`twin.model.Community` for the services.

Uses ``bim.load`` (IFC + GIS + registers) when the bim package provides it; otherwise
reads what billing and work orders need straight from the registers named in
``site.json`` (docs/site-format.md): billing units, households and staff.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from services.errors import InvalidInput
from twin.model import BillingUnit, Community, Household, Staff

__all__ = ["load_site", "load_registers"]


def load_site(path: Path | str) -> Community:
    """Return the community of a site folder (full twin when ``bim.load`` exists)."""
    path = Path(path)
    if not (path / "site.json").is_file():
        raise FileNotFoundError(f"{path}/site.json not found: not a site folder")
    try:
        from bim import load as bim_load  # type: ignore[attr-defined]
    except ImportError:
        return load_registers(path)
    return bim_load(path)


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8-sig") as f:
        return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(f)]


def load_registers(path: Path | str) -> Community:
    """Build a community holding only the registers (billing units, households, staff)."""
    path = Path(path)
    manifest = json.loads((path / "site.json").read_text(encoding="utf-8"))
    regs = manifest.get("registers", {})
    c = Community(name=manifest.get("name", path.name), crs=manifest.get("crs"))
    if regs.get("billing_units"):
        for i, r in enumerate(_rows(path / regs["billing_units"]), start=2):
            kind = r.get("kind", "")
            if kind not in ("apartment", "parking", "shop"):
                raise InvalidInput(f"billing_units.csv line {i}: kind={kind!r} must be apartment, parking or shop")
            try:
                area = float(r.get("area_m2") or 0)
            except ValueError:
                raise InvalidInput(f"billing_units.csv line {i}: area_m2={r.get('area_m2')!r} is not a number") from None
            c.billing_units.append(BillingUnit(
                id=r["id"], kind=kind, building_id=r.get("building") or None, area_m2=area,
                storey_id=r.get("storey") or None, space_id=r.get("space") or None,
                feature_id=r.get("feature") or None, owner=r.get("owner") or None, phone=r.get("phone") or None))
    if regs.get("households"):
        for r in _rows(path / regs["households"]):
            c.households.append(Household(unit_id=r["unit_id"], size=int(r.get("size") or 0),
                                          owner=r.get("owner") or None, phone=r.get("phone") or None))
    if regs.get("staff"):
        for r in _rows(path / regs["staff"]):
            c.staff.append(Staff(id=r["id"], name=r.get("name", ""), role=r.get("role", ""),
                                 skills=[s for s in r.get("skills", "").split(";") if s],
                                 shift=r.get("shift") or None, base_space_id=r.get("base_space") or None))
    return c
