"""Register CSVs of a sample site: households, billing units, devices, staff.

Rows are plain dicts; :func:`write_csv` writes them with a header row, UTF-8, ``\\n``
line ends, in the order given (the generator's order is deterministic).
"""

from __future__ import annotations

import csv
from pathlib import Path

from bim.samplegen.names import FakePeople

__all__ = [
    "BILLING_COLUMNS",
    "DEVICE_COLUMNS",
    "HOUSEHOLD_COLUMNS",
    "HOUSEHOLD_SIZE_SHARES",
    "STAFF_COLUMNS",
    "household_size",
    "staff_roster",
    "write_csv",
]

HOUSEHOLD_COLUMNS = ["unit_id", "size", "owner", "phone"]
BILLING_COLUMNS = ["id", "kind", "building", "storey", "space", "feature", "area_m2", "owner",
                   "phone"]
#: ``serves`` (extension): twin id of the element a device watches (elevator, gate).
DEVICE_COLUMNS = ["id", "kind", "name", "building", "storey", "space", "x", "y", "z", "feeds",
                  "ifc_guid", "serves"]
#: ``role_zh`` (extension): the role's usual Chinese title.
STAFF_COLUMNS = ["id", "name", "role", "skills", "shift", "base_space", "role_zh"]

#: Shares of household sizes 1..5 (5 = five or more), close to China's 2020 census
#: (average about 2.6 persons per household).
HOUSEHOLD_SIZE_SHARES = (0.25, 0.30, 0.21, 0.13, 0.11)

#: (role, role_zh, skills, shifts, share of the staff) of a property-service team.
ROLES = (
    ("manager", "管理", "management;billing;complaints", ("09:00-18:00",), 0.05),
    ("front_desk", "客服", "customer_service;billing;complaints;dispatch",
     ("08:30-17:30", "12:00-21:00"), 0.10),
    ("maintenance", "维修", "electrical;lighting;elevator;access_control",
     ("08:00-17:00", "17:00-08:00"), 0.10),
    ("maintenance", "维修", "plumbing;drainage;doors_windows;fire",
     ("08:00-17:00",), 0.09),
    ("cleaner", "保洁", "cleaning;waste;pest_control", ("06:00-14:00", "13:00-21:00"), 0.24),
    ("security", "保安", "patrol;parking;access_control;fire",
     ("07:00-15:00", "15:00-23:00", "23:00-07:00"), 0.33),
    ("gardener", "绿化", "greening;irrigation", ("07:00-16:00",), 0.09),
)


def household_size(rng) -> int:
    """Draw a household size (1..5) from :data:`HOUSEHOLD_SIZE_SHARES`."""
    return rng.choices(range(1, 6), weights=HOUSEHOLD_SIZE_SHARES)[0]


def staff_roster(n: int, people: FakePeople, base_space: str) -> list[dict]:
    """Return ``n`` staff rows spread over :data:`ROLES` (at least one of each role)."""
    counts = [max(1, round(n * share)) for *_, share in ROLES]
    while sum(counts) > n and max(counts) > 1:
        counts[counts.index(max(counts))] -= 1
    while sum(counts) < n:
        counts[-2] += 1
    rows = []
    for (role, zh, skills, shifts, _), count in zip(ROLES, counts):
        for i in range(count):
            rows.append({"id": f"S{len(rows) + 1:03d}", "name": people.name(), "role": role,
                         "skills": skills, "shift": shifts[i % len(shifts)],
                         "base_space": base_space, "role_zh": zh})
    return rows


def write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Write ``rows`` under a header of ``columns`` (missing values as empty strings)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n", extrasaction="raise")
        w.writeheader()
        for row in rows:
            w.writerow({c: _fmt(row.get(c)) for c in columns})


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if v != int(v) else f"{v:.1f}"
    if isinstance(v, (list, tuple)):
        return ";".join(v)
    return str(v)
