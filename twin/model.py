"""The spatial model of a community: plain, typed records and their relations.

Coordinates are metres in the site's projected CRS (``Community.crs``, e.g. a CGCS2000
Gauss-Krüger zone); for a lone IFC file without georeferencing, the file's own project
coordinates converted to metres. ``z`` values are elevations in metres above the site datum.

Every element keeps its source id (IFC GlobalId, GIS feature id, register id) as ``id``.

Relations, all by id:

- contains: Community › Building › Storey › Space (``Space.storey_id``, ``Storey.building_id``)
- connects: ``Door.spaces`` (two space ids, ``None`` = outside) and ``Stair.storey_ids``
  form the navigation graph (see :mod:`twin.routes`)
- serves: ``Elevator.storey_ids``
- located in: ``Device.space_id`` / ``Device.storey_id`` / ``Device.building_id``
- feeds: ``Device.feeds`` (meter → billing unit ids)
- belongs to: ``BillingUnit.space_id`` or ``BillingUnit.feature_id``
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from shapely.geometry.base import BaseGeometry

from twin.errors import ModelError, NotFoundError

__all__ = [
    "PUBLIC_USAGES",
    "Building",
    "BillingUnit",
    "Community",
    "Device",
    "Door",
    "Elevator",
    "Household",
    "SiteFeature",
    "Space",
    "Staff",
    "Stair",
    "StairFlight",
    "Storey",
]

#: Space usages that count as public (common) areas of the community.
PUBLIC_USAGES = frozenset(
    {
        "corridor", "lobby", "elevator_hall", "stair", "stairwell", "elevator", "garage",
        "parking", "plaza", "playground", "path", "road", "clubhouse", "office",
        "pump_room", "distribution_room", "equipment", "public", "entrance", "circulation",
        "hall", "landing",
    }
)

BuildingSource = Literal["ifc", "gis"]


@dataclass
class Space:
    """A room or area of a storey (IfcSpace or derived).

    ``footprint`` is the plan polygon in site coordinates (m); ``area_m2`` its area unless
    the source states a net area; ``height_m`` the clear height where known.
    """

    id: str
    name: str
    storey_id: str
    building_id: str
    footprint: BaseGeometry
    long_name: str | None = None
    usage: str | None = None
    area_m2: float = 0.0
    height_m: float | None = None
    public: bool | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def is_public(self) -> bool:
        """Whether the space is a public (common) area."""
        if self.public is not None:
            return self.public
        return (self.usage or "").lower() in PUBLIC_USAGES


@dataclass
class Door:
    """A door: its position (m, site CRS), clear width (m) and the two spaces it joins.

    ``spaces`` holds two space ids; ``None`` on one side means the outside. A door whose
    spaces could not be found holds ``(None, None)`` and a warning is recorded at load.
    """

    id: str
    name: str
    storey_id: str
    building_id: str
    position: tuple[float, float]
    width_m: float
    spaces: tuple[str | None, str | None] = (None, None)
    is_exit: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class StairFlight:
    """One flight of a stair (IfcStairFlight), with its plan footprint and run length (m)."""

    id: str
    storey_id: str
    footprint: BaseGeometry | None
    width_m: float
    run_length_m: float


@dataclass
class Stair:
    """A stair linking storeys (ordered bottom to top), with plan footprint and width (m).

    ``run_length_m`` is the walking length along the slope between two consecutive storeys.
    """

    id: str
    name: str
    building_id: str
    storey_ids: list[str]
    footprint: BaseGeometry | None
    width_m: float
    run_length_m: float
    flights: list[StairFlight] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Elevator:
    """An elevator (IfcTransportElement or equivalent): shaft footprint, storeys served."""

    id: str
    name: str
    building_id: str
    storey_ids: list[str]
    footprint: BaseGeometry | None
    capacity_kg: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Device:
    """A registered device with the place it sits in the twin.

    ``kind`` is a device kind of the live layer (``meter_water``, ``smoke_detector``, ...);
    ``ifc_class`` the IFC entity when the device comes from a model; ``feeds`` the billing
    units a meter measures.
    """

    id: str
    kind: str
    name: str
    building_id: str | None
    storey_id: str | None
    space_id: str | None
    position: tuple[float, float, float] | None = None
    ifc_class: str | None = None
    feeds: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class BillingUnit:
    """A unit that is billed: an apartment, a parking space or a shop."""

    id: str
    kind: Literal["apartment", "parking", "shop"]
    building_id: str | None
    area_m2: float
    storey_id: str | None = None
    space_id: str | None = None
    feature_id: str | None = None
    owner: str | None = None
    phone: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Household:
    """Residents of an apartment (register): size and contact (fictitious in samples)."""

    unit_id: str
    size: int
    owner: str | None = None
    phone: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Staff:
    """A member of staff: role, skills and shift (``HH:MM-HH:MM`` local time)."""

    id: str
    name: str
    role: str
    skills: list[str] = field(default_factory=list)
    shift: str | None = None
    base_space_id: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class SiteFeature:
    """A GIS feature of the grounds: road, footpath, green, parking space, gate, plaza..."""

    id: str
    kind: str
    name: str
    geometry: BaseGeometry
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Storey:
    """A storey of a building; ``walkable`` is its walkable area (m², site coordinates)."""

    id: str
    name: str
    building_id: str
    elevation_m: float
    height_m: float | None = None
    walkable: BaseGeometry | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def walkable_area_m2(self) -> float:
        """Area of the walkable geometry (0 when unknown)."""
        return float(self.walkable.area) if self.walkable is not None else 0.0


@dataclass
class Building:
    """A building with its storeys (ordered by elevation) and where it came from."""

    id: str
    name: str
    source: BuildingSource
    storeys: list[Storey] = field(default_factory=list)
    footprint: BaseGeometry | None = None
    floors: int | None = None
    height_m: float | None = None
    ifc_file: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Community:
    """The whole community: buildings and everything placed in them and on the grounds.

    Invariants (checked by :meth:`validate`): ids are unique per kind; every reference by id
    points at an element of the model.
    """

    name: str
    crs: str | None = None
    buildings: list[Building] = field(default_factory=list)
    spaces: list[Space] = field(default_factory=list)
    doors: list[Door] = field(default_factory=list)
    stairs: list[Stair] = field(default_factory=list)
    elevators: list[Elevator] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    billing_units: list[BillingUnit] = field(default_factory=list)
    households: list[Household] = field(default_factory=list)
    staff: list[Staff] = field(default_factory=list)
    features: list[SiteFeature] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)

    # -- lookups ---------------------------------------------------------------------
    @property
    def storeys(self) -> list[Storey]:
        """Every storey of every building."""
        return [s for b in self.buildings for s in b.storeys]

    def _find(self, items: list, element_id: str, kind: str):
        for item in items:
            if item.id == element_id:
                return item
        raise NotFoundError(f"no {kind} with id {element_id!r}")

    def building(self, building_id: str) -> Building:
        """Return the building with this id (raises :class:`NotFoundError`)."""
        return self._find(self.buildings, building_id, "building")

    def storey(self, storey_id: str) -> Storey:
        """Return the storey with this id (raises :class:`NotFoundError`)."""
        return self._find(self.storeys, storey_id, "storey")

    def space(self, space_id: str) -> Space:
        """Return the space with this id (raises :class:`NotFoundError`)."""
        return self._find(self.spaces, space_id, "space")

    def device(self, device_id: str) -> Device:
        """Return the device with this id (raises :class:`NotFoundError`)."""
        return self._find(self.devices, device_id, "device")

    def billing_unit(self, unit_id: str) -> BillingUnit:
        """Return the billing unit with this id (raises :class:`NotFoundError`)."""
        return self._find(self.billing_units, unit_id, "billing unit")

    def counts(self) -> dict[str, int]:
        """Element counts, keyed as in the ``twin load --json`` contract."""
        return {
            "buildings": len(self.buildings),
            "storeys": len(self.storeys),
            "spaces": len(self.spaces),
            "doors": len(self.doors),
            "stairs": len(self.stairs),
            "elevators": len(self.elevators),
            "devices": len(self.devices),
            "billing_units": len(self.billing_units),
        }

    def validate(self) -> None:
        """Check id uniqueness and that every reference resolves; raise ModelError if not."""
        groups = {
            "building": self.buildings, "storey": self.storeys, "space": self.spaces,
            "door": self.doors, "stair": self.stairs, "elevator": self.elevators,
            "device": self.devices, "billing unit": self.billing_units,
            "feature": self.features, "staff": self.staff,
        }
        ids: dict[str, set[str]] = {}
        for kind, items in groups.items():
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    raise ModelError(f"duplicate {kind} id {item.id!r}")
                seen.add(item.id)
            ids[kind] = seen
        problems: list[str] = []

        def check(kind: str, ref: str | None, owner: str) -> None:
            if ref is not None and ref not in ids[kind]:
                problems.append(f"{owner} refers to unknown {kind} {ref!r}")

        for b in self.buildings:
            for s in b.storeys:
                if s.building_id != b.id:
                    problems.append(f"storey {s.id!r} lists building {s.building_id!r}, is in {b.id!r}")
        for sp in self.spaces:
            check("storey", sp.storey_id, f"space {sp.id!r}")
            check("building", sp.building_id, f"space {sp.id!r}")
        for d in self.doors:
            check("storey", d.storey_id, f"door {d.id!r}")
            for ref in d.spaces:
                check("space", ref, f"door {d.id!r}")
        for st in self.stairs:
            for ref in st.storey_ids:
                check("storey", ref, f"stair {st.id!r}")
        for el in self.elevators:
            for ref in el.storey_ids:
                check("storey", ref, f"elevator {el.id!r}")
        for dev in self.devices:
            check("building", dev.building_id, f"device {dev.id!r}")
            check("storey", dev.storey_id, f"device {dev.id!r}")
            check("space", dev.space_id, f"device {dev.id!r}")
            for ref in dev.feeds:
                check("billing unit", ref, f"device {dev.id!r}")
        for u in self.billing_units:
            check("building", u.building_id, f"billing unit {u.id!r}")
            check("space", u.space_id, f"billing unit {u.id!r}")
            check("feature", u.feature_id, f"billing unit {u.id!r}")
        for h in self.households:
            check("billing unit", h.unit_id, f"household of {h.unit_id!r}")
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ModelError(problems[0] + more)
