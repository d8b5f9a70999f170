"""Floor plans of the sample buildings, in building-local metres (x east, y north).

A plan is plain data: spaces (shapely polygons with a usage), doors (a point on the wall
between two spaces, or between a space and the outside), devices (a point in a space),
stairs and elevators. The IFC writer, the GIS writer and the registers all read the same
plan, so the three outputs agree by construction. The plans themselves are drawn by
:mod:`bim.samplegen.towers` (residential towers) and :mod:`bim.samplegen.facilities`
(clubhouse, garage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.polygon import orient
from shapely.ops import unary_union

from bim.samplegen.errors import SampleGenError

__all__ = [
    "BuildingPlan",
    "DOOR_H_M",
    "ElevatorPlan",
    "EXIT_DOOR_W_M",
    "FLAT_DOOR_W_M",
    "LOBBY_DOOR_W_M",
    "PlanDevice",
    "PlanDoor",
    "PlanSpace",
    "ROOM_DOOR_W_M",
    "STAIR_DOOR_W_M",
    "StairPlan",
    "StoreyPlan",
    "canonical",
    "door_on_shared_wall",
    "exit_door",
    "floor_name",
    "l_shape",
    "point_inside",
    "rect",
]

FLAT_DOOR_W_M = 1.0           # flat entrance doors >= 0.90 m (GB 50016)
STAIR_DOOR_W_M = 1.1          # doors to stairs >= 1.10 m
EXIT_DOOR_W_M = 1.2           # ground-floor exits >= 1.10 m
LOBBY_DOOR_W_M = 1.8          # double entrance door of the lobby
ROOM_DOOR_W_M = 1.0
DOOR_H_M = 2.1



@dataclass(frozen=True)
class PlanSpace:
    """A space of a storey plan: ``key`` unique within the building's storey."""

    key: str
    usage: str
    name: str
    long_name: str
    polygon: Polygon
    billing_id: str | None = None    # billing unit id for apartments and shops

    @property
    def area_m2(self) -> float:
        """Plan area of the space (m²), measured on wall centre lines."""
        return float(self.polygon.area)


@dataclass(frozen=True)
class PlanDoor:
    """A door at ``(x, y)`` on a wall running at ``angle_deg`` (from +x, CCW).

    ``spaces`` are the keys of the two spaces it joins; ``None`` is the outside.
    """

    key: str
    spaces: tuple[str, str | None]
    x: float
    y: float
    angle_deg: float
    width_m: float
    height_m: float = DOOR_H_M

    @property
    def is_exit(self) -> bool:
        """Whether the door leads to the outside."""
        return self.spaces[1] is None


@dataclass(frozen=True)
class PlanDevice:
    """A device at ``(x, y, z)`` (z above the storey floor) in space ``space``."""

    id: str
    kind: str
    name: str
    space: str
    x: float
    y: float
    z: float
    feeds: tuple[str, ...] = ()
    serves: str | None = None


@dataclass
class StoreyPlan:
    """One storey: name (``F01``, ``B1``), elevation (m) and its spaces, doors, devices."""

    name: str
    elevation_m: float
    height_m: float
    spaces: list[PlanSpace] = field(default_factory=list)
    doors: list[PlanDoor] = field(default_factory=list)
    devices: list[PlanDevice] = field(default_factory=list)

    def space(self, key: str) -> PlanSpace:
        """Return the space with this key."""
        for s in self.spaces:
            if s.key == key:
                return s
        raise SampleGenError(f"storey {self.name}: no space {key!r}")


@dataclass(frozen=True)
class StairPlan:
    """A stair shaft: its plan rectangle, flight width and the storeys it links.

    One IFC stair per pair of consecutive storeys is written (contained in the lower,
    referenced in the upper), each with two flights of ``risers_per_flight`` risers.
    """

    key: str
    x0: float
    y0: float
    width_m: float
    depth_m: float
    storeys: tuple[str, ...]
    flight_width_m: float = 1.2
    tread_m: float = 0.26


@dataclass(frozen=True)
class ElevatorPlan:
    """An elevator: car footprint rectangle and the storeys it serves (bottom to top)."""

    key: str
    x0: float
    y0: float
    width_m: float
    depth_m: float
    storeys: tuple[str, ...]
    capacity_kg: float = 1050.0
    speed_m_s: float = 1.0


@dataclass
class BuildingPlan:
    """A whole building: storeys bottom to top, stairs, elevators, devices on no storey."""

    id: str
    name: str
    storeys: list[StoreyPlan]
    stairs: list[StairPlan] = field(default_factory=list)
    elevators: list[ElevatorPlan] = field(default_factory=list)
    kind: str = "residential"
    units: int = 1
    year_built: int | None = None

    @property
    def storey_height_m(self) -> float:
        """Height of the above-ground storeys (m); they are all equal."""
        return self.storeys[-1].height_m

    @property
    def height_m(self) -> float:
        """Height of the building above ground (m): top of the highest storey."""
        top = self.storeys[-1]
        return max(0.0, top.elevation_m + top.height_m)

    @property
    def floors(self) -> int:
        """Number of storeys above ground."""
        return sum(1 for s in self.storeys if s.elevation_m >= 0)

    def footprint(self) -> Polygon:
        """Outline of the building (m, building-local): union of its largest storey."""
        best = max(self.storeys, key=lambda s: unary_union([p.polygon for p in s.spaces]).area)
        return canonical(unary_union([p.polygon for p in best.spaces]))


# -- helpers ---------------------------------------------------------------------------
def door_on_shared_wall(key: str, a: PlanSpace, b: PlanSpace, width_m: float,
                        at: float = 0.5) -> PlanDoor:
    """Return a door on the longest wall segment shared by spaces ``a`` and ``b``.

    ``at`` is the position along that segment (0..1) of the door's centre.

    Raises
    ------
    SampleGenError
        When the spaces share no wall long enough for the door (width + 0.2 m).
    """
    shared = a.polygon.boundary.intersection(b.polygon.boundary)
    segments = [g for g in getattr(shared, "geoms", [shared]) if isinstance(g, LineString)]
    segments = [s for s in segments if s.length > 0]
    if not segments:
        raise SampleGenError(f"door {key}: spaces {a.key} and {b.key} share no wall")
    seg = max(segments, key=lambda s: (round(s.length, 6), s.coords[0]))
    if seg.length < width_m + 0.2:
        raise SampleGenError(f"door {key}: wall {seg.length:.2f} m too short for {width_m} m")
    return _door_on_segment(key, (a.key, b.key), seg, width_m, at)


def _door_on_segment(key: str, spaces: tuple[str, str | None], seg: LineString,
                     width_m: float, at: float) -> PlanDoor:
    (x0, y0), (x1, y1) = seg.coords[0], seg.coords[-1]
    if (x1, y1) < (x0, y0):
        x0, y0, x1, y1 = x1, y1, x0, y0
    half = width_m / 2 + 0.1
    t = min(max(at * seg.length, half), seg.length - half) / seg.length
    x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
    angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
    return PlanDoor(key, spaces, round(x, 4), round(y, 4), round(angle, 6), width_m)


def exit_door(key: str, space: PlanSpace, side: str, width_m: float, at: float = 0.5) -> PlanDoor:
    """Return a door from ``space`` to the outside on its ``side`` edge (N, S, E or W)."""
    minx, miny, maxx, maxy = space.polygon.bounds
    seg = {
        "S": LineString([(minx, miny), (maxx, miny)]),
        "N": LineString([(minx, maxy), (maxx, maxy)]),
        "W": LineString([(minx, miny), (minx, maxy)]),
        "E": LineString([(maxx, miny), (maxx, maxy)]),
    }[side]
    edge = space.polygon.boundary.intersection(seg)
    if edge.length < width_m + 0.2:
        raise SampleGenError(f"exit {key}: {space.key} has no {side} wall for {width_m} m")
    if not isinstance(edge, LineString):
        edge = max(edge.geoms, key=lambda g: g.length)
    return _door_on_segment(key, (space.key, None), edge, width_m, at)


def rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return box(round(x0, 4), round(y0, 4), round(x1, 4), round(y1, 4))


def canonical(poly: Polygon) -> Polygon:
    """Return ``poly`` without collinear vertices, counter-clockwise, starting at its
    lowest-left vertex, coordinates rounded to 0.1 mm.

    Union and difference results list vertices in an order that may change between GEOS
    versions; the files must not.

    Examples
    --------
    >>> list(canonical(box(0, 0, 2, 1)).exterior.coords)
    [(0.0, 0.0), (2.0, 0.0), (2.0, 1.0), (0.0, 1.0), (0.0, 0.0)]
    """
    if poly.geom_type != "Polygon" or poly.interiors:
        raise SampleGenError(f"expected a simple polygon, got {poly.geom_type}")
    ring = list(orient(poly.simplify(0), 1.0).exterior.coords)[:-1]
    ring = [(round(x, 4) + 0.0, round(y, 4) + 0.0) for x, y in ring]
    k = ring.index(min(ring, key=lambda p: (p[1], p[0])))
    ring = ring[k:] + ring[:k]
    return Polygon(ring)


def l_shape(*parts: Polygon) -> Polygon:
    """Return the union of touching rectangles as one canonical polygon."""
    merged = unary_union(parts)
    if merged.geom_type != "Polygon":
        raise SampleGenError("flat parts do not touch")
    return canonical(merged)


def floor_name(n: int) -> str:
    return f"F{n:02d}"



def point_inside(poly: Polygon, x: float, y: float, dist: float) -> tuple[float, float]:
    """Return the point ``dist`` m from (x, y) on a wall, into ``poly`` (rounded, m)."""
    for dx, dy in ((0, dist), (0, -dist), (dist, 0), (-dist, 0)):
        if poly.contains(Point(x + dx, y + dy)):
            return round(x + dx, 3), round(y + dy, 3)
    raise SampleGenError(f"no point inside {poly.wkt[:60]} near ({x}, {y})")
