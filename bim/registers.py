"""Registers of a site (CSV): households, billing units, devices, staff.

Each register is read, checked row by row and bound to the twin: every reference
(building, storey, space, feature, billing unit, IFC element) must resolve. A bad row raises
:class:`bim.errors.RegisterError` naming the file, the line (the header is line 1) and the
bad value; nothing is half-applied (the community is changed only when every register is
valid). Columns: see docs/site-format.md.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely.geometry import Point

from bim.errors import RegisterError
from twin.model import BillingUnit, Community, Device, Household, Staff

__all__ = ["REGISTER_COLUMNS", "apply_registers", "read_register"]

#: Required and optional columns of each register.
REGISTER_COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "households": (("unit_id", "size"), ("owner", "phone")),
    "billing_units": (("id", "kind"),
                      ("building", "storey", "space", "feature", "area_m2", "owner", "phone")),
    "devices": (("id", "kind"),
                ("name", "building", "storey", "space", "x", "y", "z", "feeds", "ifc_guid")),
    "staff": (("id", "name", "role"), ("skills", "shift", "base_space")),
}
UNIT_KINDS = ("apartment", "parking", "shop")
_SHIFT = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")


@dataclass
class _Row:
    """One CSV row with where it came from, for error messages."""

    file: str
    line: int
    values: dict[str, str]

    def fail(self, column: str, message: str) -> RegisterError:
        value = self.values.get(column, "")
        return RegisterError(f"{self.file} line {self.line}: {column}={value!r} {message}")

    def get(self, column: str) -> str | None:
        value = (self.values.get(column) or "").strip()
        return value or None

    def number(self, column: str, *, positive: bool = False) -> float | None:
        raw = self.get(column)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise self.fail(column, "is not a number") from None
        if not math.isfinite(value) or (positive and value <= 0):
            raise self.fail(column, "must be a finite number" + (" > 0" if positive else ""))
        return value

    def extra(self, kind: str) -> dict[str, Any]:
        known = set().union(*REGISTER_COLUMNS[kind])
        return {k: v for k, v in self.values.items() if k not in known and v not in (None, "")}


def read_register(path: Path, kind: str, *, label: str | None = None) -> list[_Row]:
    """Read a register CSV (UTF-8, header row) and check its columns.

    Raises
    ------
    RegisterError
        The file is missing, not UTF-8, or lacks a required column.
    """
    label = label or str(path)
    required, optional = REGISTER_COLUMNS[kind]
    if not Path(path).is_file():
        raise RegisterError(f"{label}: register file not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise RegisterError(f"{label} line 1: missing column {missing[0]!r} "
                                    f"(columns: {', '.join(required + optional)})")
            reader.fieldnames = header
            rows = []
            for values in reader:
                if None in values:
                    raise RegisterError(f"{label} line {reader.line_num}: more values than columns")
                if not any((v or "").strip() for v in values.values()):
                    continue
                rows.append(_Row(label, reader.line_num, values))
    except UnicodeDecodeError as exc:
        raise RegisterError(f"{label}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise RegisterError(f"{label}: bad CSV ({exc})") from None
    return rows


class _Index:
    """Id lookups of a community for binding register rows."""

    def __init__(self, c: Community):
        self.buildings = {b.id: b for b in c.buildings}
        self.storeys = {s.id: s for s in c.storeys}
        self.spaces = {s.id: s for s in c.spaces}
        self.features = {f.id: f for f in c.features}
        self.devices = {d.id: d for d in c.devices}
        self.by_guid = {d.attributes.get("ifc_guid", d.id): d for d in c.devices}

    def place(self, row: _Row) -> tuple[str | None, str | None, str | None]:
        """Resolve and cross-check ``building``/``storey``/``space`` of a row."""
        b, s, sp = row.get("building"), row.get("storey"), row.get("space")
        if sp is not None:
            if sp not in self.spaces:
                raise row.fail("space", "is not a space of the site")
            space = self.spaces[sp]
            if s is not None and s != space.storey_id:
                raise row.fail("storey", f"does not hold space {sp!r} (it is on {space.storey_id!r})")
            s = space.storey_id
        if s is not None:
            if s not in self.storeys:
                raise row.fail("storey", "is not a storey of the site")
            owner = self.storeys[s].building_id
            if b is not None and b != owner:
                raise row.fail("building", f"does not hold storey {s!r} (it is in {owner!r})")
            b = owner
        if b is not None and b not in self.buildings:
            raise row.fail("building", "is not a building of the site")
        return b, s, sp

    def space_at(self, storey_id: str, x: float, y: float) -> str | None:
        p = Point(x, y)
        for space in self.spaces.values():
            if space.storey_id == storey_id and space.footprint.covers(p):
                return space.id
        return None


def _households(rows: list[_Row], units: set[str]) -> list[Household]:
    result = []
    for row in rows:
        unit = row.get("unit_id")
        if unit not in units:
            raise row.fail("unit_id", "is not a billing unit (billing_units register)")
        size = row.number("size")
        if size is None or size < 0 or not float(size).is_integer():
            raise row.fail("size", "must be a whole number >= 0")
        result.append(Household(unit_id=unit, size=int(size), owner=row.get("owner"),
                                phone=row.get("phone"), attributes=row.extra("households")))
    return result


def _billing_units(rows: list[_Row], idx: _Index) -> list[BillingUnit]:
    result, seen = [], set()
    for row in rows:
        uid, kind = row.get("id"), (row.get("kind") or "").lower()
        if uid is None:
            raise row.fail("id", "must not be empty")
        if uid in seen:
            raise row.fail("id", "appears twice")
        seen.add(uid)
        if kind not in UNIT_KINDS:
            raise row.fail("kind", f"must be one of {', '.join(UNIT_KINDS)}")
        b, s, sp = idx.place(row)
        feature = row.get("feature")
        if feature is not None and feature not in idx.features:
            raise row.fail("feature", "is not a GIS feature of the site")
        if sp is None and feature is None and kind != "shop":
            raise row.fail("space" if kind == "apartment" else "feature",
                           f"must name the {'space' if kind == 'apartment' else 'parking feature or garage space'} of the {kind}")
        area = row.number("area_m2", positive=True)
        if area is None:
            geom = idx.spaces[sp].footprint if sp else idx.features[feature].geometry if feature else None
            if geom is None or geom.area <= 0:
                raise row.fail("area_m2", "is needed (no space or polygon feature to measure)")
            area = round(float(geom.area), 2)
        attrs = row.extra("billing_units")
        result.append(BillingUnit(id=uid, kind=kind, building_id=b, area_m2=float(area),
                                  storey_id=s, space_id=sp, feature_id=feature,
                                  owner=row.get("owner"), phone=row.get("phone"), attributes=attrs))
    return result


def _device(row: _Row, idx: _Index, units: set[str], taken: set[str]) -> Device:
    did, kind = row.get("id"), row.get("kind")
    if did is None:
        raise row.fail("id", "must not be empty")
    own = idx.by_guid.get(row.get("ifc_guid") or "")
    if did in taken and (own is None or own.id != did):
        raise row.fail("id", "appears twice (or is the id of another device)")
    if kind is None:
        raise row.fail("kind", "must not be empty")
    b, s, sp = idx.place(row)
    xyz = [row.number(c) for c in ("x", "y", "z")]
    if (xyz[0] is None) != (xyz[1] is None):
        raise row.fail("y" if xyz[1] is None else "x", "must be given together with x/y")
    position = None
    if xyz[0] is not None:
        z = xyz[2] if xyz[2] is not None else (idx.storeys[s].elevation_m if s else 0.0)
        position = (xyz[0], xyz[1], z)
        if s is not None and sp is None:
            sp = idx.space_at(s, xyz[0], xyz[1])
    feeds = [f.strip() for f in (row.get("feeds") or "").split(";") if f.strip()]
    for unit in feeds:
        if unit not in units:
            raise RegisterError(f"{row.file} line {row.line}: feeds={row.get('feeds')!r}: "
                                f"{unit!r} is not a billing unit")
    guid = row.get("ifc_guid")
    base = None
    if guid is not None:
        base = idx.by_guid.get(guid)
        if base is None:
            raise row.fail("ifc_guid", "is not a device element of the IFC files")
    dev = Device(id=did, kind=kind, name=row.get("name") or did, building_id=b, storey_id=s,
                 space_id=sp, position=position, feeds=feeds, attributes=row.extra("devices"))
    if base is not None:
        dev.ifc_class = base.ifc_class
        dev.building_id = b or base.building_id
        dev.storey_id = s or base.storey_id
        dev.space_id = sp or base.space_id
        dev.position = position or base.position
        dev.attributes = {**base.attributes, **dev.attributes, "ifc_guid": guid,
                          "ifc_kind": base.kind}
    return dev


def _staff(rows: list[_Row], idx: _Index) -> list[Staff]:
    result, seen = [], set()
    for row in rows:
        sid = row.get("id")
        if sid is None or sid in seen:
            raise row.fail("id", "must be unique and not empty")
        seen.add(sid)
        for col in ("name", "role"):
            if row.get(col) is None:
                raise row.fail(col, "must not be empty")
        shift = row.get("shift")
        if shift is not None and not _SHIFT.match(shift):
            raise row.fail("shift", "must be HH:MM-HH:MM")
        base = row.get("base_space")
        if base is not None and base not in idx.spaces and base not in idx.features:
            raise row.fail("base_space", "is not a space or GIS feature of the site")
        skills = [k.strip() for k in (row.get("skills") or "").split(";") if k.strip()]
        result.append(Staff(id=sid, name=row.get("name"), role=row.get("role"), skills=skills,
                            shift=shift, base_space_id=base, attributes=row.extra("staff")))
    return result


def apply_registers(community: Community, files: dict[str, tuple[Path, str]]) -> None:
    """Read the registers and add their records to ``community`` (all or nothing).

    Parameters
    ----------
    community : Community
        The composed site (buildings, spaces, features, IFC devices already in place).
    files : dict
        Register kind → (path, label used in messages, e.g. ``registers/devices.csv``).

    Raises
    ------
    RegisterError
        A row is invalid or a reference does not resolve (file, line and value named).
    """
    rows = {kind: read_register(path, kind, label=label) for kind, (path, label) in files.items()}
    idx = _Index(community)
    units = _billing_units(rows.get("billing_units", []), idx)
    unit_ids = {u.id for u in units} | {u.id for u in community.billing_units}
    households = _households(rows.get("households", []), unit_ids)
    devices, replaced = [], set()
    taken = set(idx.devices)
    for row in rows.get("devices", []):
        dev = _device(row, idx, unit_ids, taken - replaced)
        guid = dev.attributes.get("ifc_guid")
        if guid is not None:
            base = idx.by_guid[guid]
            if base.id in replaced:
                raise row.fail("ifc_guid", "is bound to another register row already")
            replaced.add(base.id)
            taken.discard(base.id)
        taken.add(dev.id)
        devices.append(dev)
    staff = _staff(rows.get("staff", []), idx)
    community.billing_units.extend(units)
    community.households.extend(households)
    community.devices = [d for d in community.devices if d.id not in replaced] + devices
    community.staff.extend(staff)
