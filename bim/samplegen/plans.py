"""Floor plans of the sample buildings, in building-local metres (x east, y north).

A plan is plain data: spaces (shapely polygons with a usage), doors (a point on the wall
between two spaces, or between a space and the outside), devices (a point in a space),
stairs and elevators. The IFC writer, the GIS writer and the registers all read the same
plan, so the three outputs agree by construction.

Residential unit (单元) layout, every storey above the ground floor::

    y=16 +-------+----+----+----+----+-------+
         |  NL   | S1 | E1 | E2 | S2 |  NR   |   core: 2 fire stairs, 2 elevators
         |       +----+----+----+----+       |
         |       |   elevator hall   |       |   y = 7.5 .. 9.5
    y=7.5+-------+---------+---------+-------+
         |      SL         |     SR          |
    y=0  +-----------------+-----------------+
         x=0   xc0                     xc1   W

Flats: 2 per floor (SL+NL and SR+NR, L-shaped), 3 (SL, SR, NL; NR an equipment room) or
4 (SL, SR, NL, NR). The ground floor has an entrance lobby in the core's x range from the
south facade to the elevator hall; each stair has a door straight to the outside on the
north facade.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from shapely.geometry import LineString, Polygon, box
from shapely.ops import unary_union

from bim.samplegen.errors import SampleGenError

__all__ = [
    "BuildingPlan",
    "CORE_DEPTH_M",
    "CORRIDOR_DEPTH_M",
    "ElevatorPlan",
    "PlanDevice",
    "PlanDoor",
    "PlanSpace",
    "StairPlan",
    "StoreyPlan",
    "UNIT_DEPTH_M",
    "UNIT_WIDTH_M",
    "clubhouse_plan",
    "door_on_shared_wall",
    "garage_plan",
    "residential_plan",
]

UNIT_DEPTH_M = 16.0           # depth of a residential unit, south to north facade
SOUTH_DEPTH_M = 7.5           # depth of the south band of flats
CORRIDOR_DEPTH_M = 2.0        # elevator hall in front of the core (>= 1.1 m, GB 50016)
CORE_DEPTH_M = UNIT_DEPTH_M - SOUTH_DEPTH_M - CORRIDOR_DEPTH_M
STAIR_SHAFT_W_M = 2.8         # two 1.2 m flights with a 0.2 m gap and 0.1 m clearances
ELEVATOR_SHAFT_W_M = 2.3
#: Unit width (m) per variant: flats per floor, or "tiny" (2 flats, 1 stair, 1 elevator).
UNIT_WIDTH_M = {2: 22.0, 3: 26.4, 4: 30.0, "tiny": 18.0}

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
        return unary_union([p.polygon for p in best.spaces]).buffer(0)


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


def _rect(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return box(round(x0, 4), round(y0, 4), round(x1, 4), round(y1, 4))


def _l_shape(*parts: Polygon) -> Polygon:
    merged = unary_union(parts).simplify(0)
    if merged.geom_type != "Polygon":
        raise SampleGenError("flat parts do not touch")
    return Polygon(merged.exterior.coords)


def _floor_name(n: int) -> str:
    return f"F{n:02d}"


# -- residential towers ----------------------------------------------------------------
@dataclass(frozen=True)
class _Core:
    items: tuple[tuple[str, str, float], ...]   # (key, "stair"|"elevator", width)

    @property
    def width_m(self) -> float:
        return sum(w for _, _, w in self.items)


def _core(variant) -> _Core:
    if variant == "tiny":
        return _Core((("S1", "stair", STAIR_SHAFT_W_M), ("E1", "elevator", ELEVATOR_SHAFT_W_M)))
    return _Core((("S1", "stair", STAIR_SHAFT_W_M), ("E1", "elevator", ELEVATOR_SHAFT_W_M),
                  ("E2", "elevator", ELEVATOR_SHAFT_W_M), ("S2", "stair", STAIR_SHAFT_W_M)))


def _unit_spaces(bid: str, u: int, variant, floor: int, x_off: float):
    """Spaces of unit ``u`` on ``floor`` (1 = ground): list of (PlanSpace, role)."""
    W = UNIT_WIDTH_M[variant]
    core = _core(variant)
    xc0 = x_off + (W - core.width_m) / 2
    xc1 = xc0 + core.width_m
    ys, yc, D = SOUTH_DEPTH_M, SOUTH_DEPTH_M + CORRIDOR_DEPTH_M, UNIT_DEPTH_M
    xm, xe = x_off + W / 2, x_off + W
    F = _floor_name(floor)
    U = f"U{u}"
    out: list[tuple[PlanSpace, str]] = []

    def flat(slot: int, poly: Polygon) -> None:
        room = f"{floor:02d}{slot:02d}"
        bill = f"{bid}-{U}-{room}"
        out.append((PlanSpace(f"{U}-A{slot:02d}", "apartment", bill,
                              f"{u}单元{floor}{slot:02d}室", poly, billing_id=bill), "flat"))

    def room(key: str, usage: str, zh: str, poly: Polygon) -> None:
        out.append((PlanSpace(f"{U}-{key}", usage, f"{bid}-{U}-{F}-{key}",
                              f"{u}单元{floor}层{zh}", poly), usage))

    if floor == 1:
        room("LOBBY", "lobby", "门厅", _rect(xc0, 0, xc1, yc))
        left_s, left_n = _rect(x_off, 0, xc0, ys), _rect(x_off, ys, xc0, D)
        right_s, right_n = _rect(xc1, 0, xe, ys), _rect(xc1, ys, xe, D)
        if variant in (2, "tiny"):
            flat(1, _rect(x_off, 0, xc0, D))
            flat(2, _rect(xc1, 0, xe, D))
        else:
            flat(1, left_s)
            flat(2, right_s)
            flat(3, left_n)
            if variant == 4 and u != 1:
                flat(4, right_n)
            elif u == 1:
                room("DIST", "distribution_room", "配电间", right_n)
            else:
                room("EQUIP", "equipment", "设备间", right_n)
    else:
        room("HALL", "elevator_hall", "电梯厅", _rect(xc0, ys, xc1, yc))
        sl, sr = _rect(x_off, 0, xm, ys), _rect(xm, 0, xe, ys)
        nl, nr = _rect(x_off, ys, xc0, D), _rect(xc1, ys, xe, D)
        if variant in (2, "tiny"):
            flat(1, _l_shape(sl, nl))
            flat(2, _l_shape(sr, nr))
        else:
            flat(1, sl)
            flat(2, sr)
            flat(3, nl)
            if variant == 4:
                flat(4, nr)
            else:
                room("EQUIP", "equipment", "设备间", nr)
    x = xc0
    for key, kind, w in core.items:
        zh = "楼梯间" if kind == "stair" else "电梯井"
        room(key, kind, f"{key}{zh}", _rect(x, yc, x + w, D))
        x += w
    return out


def _unit_storey_parts(bid: str, u: int, variant, floor: int, x_off: float):
    """Spaces, doors and devices of one unit on one floor."""
    spaces = _unit_spaces(bid, u, variant, floor, x_off)
    by_role = {s.key.split("-", 1)[1]: s for s, _ in spaces}
    hall = by_role["LOBBY"] if floor == 1 else by_role["HALL"]
    U, F = f"U{u}", _floor_name(floor)
    doors: list[PlanDoor] = []
    devices: list[PlanDevice] = []
    dev_prefix = f"{bid}-{U}-{F}"
    for s, role in spaces:
        tail = s.key.split("-", 1)[1]
        if role == "flat":
            doors.append(door_on_shared_wall(f"{U}-{F}-D{tail}", s, hall, FLAT_DOOR_W_M))
            d = doors[-1]
            for kind, suffix, dz in (("meter_electricity", "EM", 1.6), ("meter_water", "WM", 0.3)):
                px, py = _inside(s.polygon, d.x, d.y, 0.4)
                devices.append(PlanDevice(f"{s.billing_id}-{suffix}", kind,
                                          f"{s.long_name}{'电表' if suffix == 'EM' else '水表'}",
                                          s.key, px, py, dz, feeds=(s.billing_id,)))
        elif role == "stair":
            doors.append(door_on_shared_wall(f"{U}-{F}-D{tail}", s, hall, STAIR_DOOR_W_M))
            if floor == 1:
                doors.append(exit_door(f"{U}-{F}-X{tail}", s, "N", EXIT_DOOR_W_M))
        elif role in ("distribution_room", "equipment"):
            doors.append(door_on_shared_wall(f"{U}-{F}-D{tail}", s, hall, ROOM_DOOR_W_M))
            if role == "distribution_room":
                c = s.polygon.centroid
                devices.append(PlanDevice(f"{dev_prefix}-TH1", "temperature_humidity",
                                          f"{s.long_name}温湿度", s.key, round(c.x, 3),
                                          round(c.y, 3), 2.0))
    c = hall.polygon.centroid
    devices.append(PlanDevice(f"{dev_prefix}-SD1", "smoke_detector", f"{hall.long_name}烟感",
                              hall.key, round(c.x, 3), round(c.y, 3), 2.6))
    if floor == 1:
        lobby = hall
        exit_ = exit_door(f"{U}-{F}-XLOBBY", lobby, "S", LOBBY_DOOR_W_M)
        doors.append(exit_)
        gate_x, gate_y = _inside(lobby.polygon, exit_.x, exit_.y, 1.0)
        devices.append(PlanDevice(f"{dev_prefix}-AG1", "access_gate", f"{lobby.long_name}门禁",
                                  lobby.key, gate_x, gate_y, 1.2))
        devices.append(PlanDevice(f"{dev_prefix}-PC1", "people_counter",
                                  f"{lobby.long_name}客流计数", lobby.key, exit_.x,
                                  round(exit_.y + 0.3, 3), 2.4))
    return [s for s, _ in spaces], doors, devices


def _inside(poly: Polygon, x: float, y: float, dist: float) -> tuple[float, float]:
    """Return the point ``dist`` m from (x, y) on a wall, into ``poly`` (rounded, m)."""
    for dx, dy in ((0, dist), (0, -dist), (dist, 0), (-dist, 0)):
        from shapely.geometry import Point

        if poly.contains(Point(x + dx, y + dy)):
            return round(x + dx, 3), round(y + dy, 3)
    raise SampleGenError(f"no point inside {poly.wkt[:60]} near ({x}, {y})")


def residential_plan(bid: str, name: str, floors: int, units: int, variant,
                     storey_height_m: float = 2.9) -> BuildingPlan:
    """Return the plan of a residential tower.

    Parameters
    ----------
    bid, name : str
        Building id (``B1``) and display name.
    floors : int
        Storeys above ground (all residential; the ground floor has the lobbies).
    units : int
        Units (单元) side by side along x, each with its own core.
    variant : {2, 3, 4, "tiny"}
        Flats per floor of a unit ("tiny": 2 flats, one stair and one elevator).
    storey_height_m : float
        Floor-to-floor height (m); GB 50096 recommends 2.80 m, 2.8–3.0 m is typical.
    """
    if variant not in UNIT_WIDTH_M:
        raise SampleGenError(f"variant={variant!r} must be one of {list(UNIT_WIDTH_M)}")
    if floors < 1 or units < 1:
        raise SampleGenError(f"floors={floors}, units={units} must be >= 1")
    W = UNIT_WIDTH_M[variant]
    storeys = []
    for f in range(1, floors + 1):
        st = StoreyPlan(_floor_name(f), round((f - 1) * storey_height_m, 4), storey_height_m)
        for u in range(1, units + 1):
            sp, dr, dv = _unit_storey_parts(bid, u, variant, f, (u - 1) * W)
            st.spaces += sp
            st.doors += dr
            st.devices += dv
        storeys.append(st)
    names = tuple(s.name for s in storeys)
    plan = BuildingPlan(bid, name, storeys, units=units)
    core = _core(variant)
    for u in range(1, units + 1):
        x = (u - 1) * W + (W - core.width_m) / 2
        y = SOUTH_DEPTH_M + CORRIDOR_DEPTH_M
        for key, kind, w in core.items:
            if kind == "stair" and floors > 1:
                plan.stairs.append(StairPlan(f"U{u}-{key}", x, y, w, CORE_DEPTH_M, names))
            elif kind == "elevator":
                plan.elevators.append(ElevatorPlan(f"U{u}-{key}", x + 0.1, y + 0.1, w - 0.2,
                                                   2.4, names))
                lobby = storeys[0].space(f"U{u}-LOBBY")
                devices = storeys[0].devices
                devices.append(PlanDevice(f"{bid}-U{u}-{key}-EC", "elevator_controller",
                                          f"{u}单元{key}电梯控制器", lobby.key,
                                          round(x + w / 2, 3), round(y - 0.3, 3), 2.2,
                                          serves=f"U{u}-{key}"))
            x += w
    return plan


# -- clubhouse with property office and shops ------------------------------------------
def clubhouse_plan(bid: str, name: str, storey_height_m: float = 4.0) -> BuildingPlan:
    """Return the plan of a two-storey clubhouse: shops and the property office below,
    activity rooms and the manager's office above, one stair."""
    H = storey_height_m
    f1 = StoreyPlan("F01", 0.0, H)
    f2 = StoreyPlan("F02", H, H)

    def sp(st, key, usage, zh, poly, bill=None):
        s = PlanSpace(key, usage, bill or f"{bid}-{st.name}-{key}", zh, poly, billing_id=bill)
        st.spaces.append(s)
        return s

    shops = [sp(f1, f"SHOP{i}", "shop", f"商铺{i}", _rect(9 * (i - 1), 0, 9 * i, 8),
                bill=f"{bid}-S{i:02d}") for i in (1, 2, 3)]
    office = sp(f1, "OFFICE", "office", "物业服务中心", _rect(27, 0, 36, 8))
    hall1 = sp(f1, "HALL", "hall", "会所大堂", _rect(0, 8, 30, 14))
    st1 = sp(f1, "S1", "stair", "楼梯间", _rect(30, 8, 33.5, 14))
    pump = sp(f1, "PUMP", "pump_room", "水泵房", _rect(33.5, 8, 36, 14))
    for s in shops:
        f1.doors.append(exit_door(f"F01-X{s.key}", s, "S", 1.5))
    f1.doors += [
        exit_door("F01-XOFFICE", office, "S", 1.5),
        door_on_shared_wall("F01-DOFFICE", office, hall1, ROOM_DOOR_W_M),
        exit_door("F01-XHALL", hall1, "W", LOBBY_DOOR_W_M),
        door_on_shared_wall("F01-DS1", st1, hall1, STAIR_DOOR_W_M),
        exit_door("F01-XS1", st1, "N", EXIT_DOOR_W_M),
        exit_door("F01-XPUMP", pump, "E", ROOM_DOOR_W_M),
    ]
    gym = sp(f2, "GYM", "clubhouse", "健身房", _rect(0, 0, 18, 8))
    act = sp(f2, "ACT", "clubhouse", "活动室", _rect(18, 0, 27, 8))
    mgr = sp(f2, "MGR", "office", "经理办公室", _rect(27, 0, 36, 8))
    hall2 = sp(f2, "HALL", "hall", "二层走廊", _rect(0, 8, 30, 14))
    st2 = sp(f2, "S1", "stair", "楼梯间", _rect(30, 8, 33.5, 14))
    dist = sp(f2, "DIST", "distribution_room", "配电间", _rect(33.5, 8, 36, 14))
    f2.doors += [
        door_on_shared_wall("F02-DGYM", gym, hall2, LOBBY_DOOR_W_M),
        door_on_shared_wall("F02-DACT", act, hall2, ROOM_DOOR_W_M),
        door_on_shared_wall("F02-DMGR", mgr, hall2, ROOM_DOOR_W_M),
        door_on_shared_wall("F02-DS1", st2, hall2, STAIR_DOOR_W_M),
        door_on_shared_wall("F02-DDIST", dist, mgr, ROOM_DOOR_W_M),
    ]
    for s in shops:
        c = s.polygon.centroid
        for kind, suf, z in (("meter_electricity", "EM", 1.6), ("meter_water", "WM", 0.3)):
            f1.devices.append(PlanDevice(f"{s.billing_id}-{suf}", kind, f"{s.long_name}"
                                         f"{'电表' if suf == 'EM' else '水表'}", s.key,
                                         round(c.x - 3, 3), round(c.y - 3, 3), z,
                                         feeds=(s.billing_id,)))
    for st, hall in ((f1, hall1), (f2, hall2)):
        c = hall.polygon.centroid
        st.devices.append(PlanDevice(f"{bid}-{st.name}-SD1", "smoke_detector",
                                     f"{hall.long_name}烟感", hall.key, round(c.x, 3),
                                     round(c.y, 3), 3.6))
    c = pump.polygon.centroid
    f1.devices.append(PlanDevice(f"{bid}-F01-LS1", "leak_sensor", "会所水泵房漏水", pump.key,
                                 round(c.x, 3), round(c.y, 3), 0.05))
    c = dist.polygon.centroid
    f2.devices.append(PlanDevice(f"{bid}-F02-TH1", "temperature_humidity", "会所配电间温湿度",
                                 dist.key, round(c.x, 3), round(c.y, 3), 2.0))
    f1.devices.append(PlanDevice(f"{bid}-F01-PC1", "people_counter", "会所大堂客流计数",
                                 hall1.key, 0.4, 11.0, 2.4))
    plan = BuildingPlan(bid, name, [f1, f2], kind="clubhouse")
    plan.stairs.append(StairPlan("S1", 30, 8, 3.5, 6, ("F01", "F02"), flight_width_m=1.4))
    return plan


# -- underground garage ----------------------------------------------------------------
GARAGE_W_M, GARAGE_D_M = 100.0, 60.0
PARKING_W_M, PARKING_D_M, AISLE_M = 2.5, 5.3, 6.0


def garage_plan(bid: str, name: str, storey_height_m: float = 3.6) -> BuildingPlan:
    """Return the plan of a one-level underground garage (storey ``B1``).

    Ramps and stair shafts have doors to the outside (they lead up to ground level);
    parking spaces are not IFC spaces but GIS features (see :func:`garage_parking`).
    """
    b1 = StoreyPlan("B1", -storey_height_m, storey_height_m)
    ramp_in = PlanSpace("RAMP1", "garage", f"{bid}-B1-RAMP1", "入口坡道", _rect(0, 0, 7, 20))
    ramp_out = PlanSpace("RAMP2", "garage", f"{bid}-B1-RAMP2", "出口坡道",
                         _rect(93, 40, 100, 60))
    s1 = PlanSpace("S1", "stair", f"{bid}-B1-S1", "1号楼梯间", _rect(0, 54, 3.5, 60))
    s2 = PlanSpace("S2", "stair", f"{bid}-B1-S2", "2号楼梯间", _rect(96.5, 0, 100, 6))
    pump = PlanSpace("PUMP", "pump_room", f"{bid}-B1-PUMP", "水泵房", _rect(40, 54, 50, 60))
    dist = PlanSpace("DIST", "distribution_room", f"{bid}-B1-DIST", "配电间",
                     _rect(50, 54, 60, 60))
    others = [ramp_in, ramp_out, s1, s2, pump, dist]
    hall_poly = _rect(0, 0, GARAGE_W_M, GARAGE_D_M).difference(unary_union(
        [o.polygon for o in others]))
    hall = PlanSpace("HALL", "garage", f"{bid}-B1-HALL", "地下车库", hall_poly.simplify(0))
    b1.spaces = [hall, *others]
    b1.doors = [
        door_on_shared_wall("B1-DRAMP1", ramp_in, hall, 6.0),
        exit_door("B1-XRAMP1", ramp_in, "S", 6.0),
        door_on_shared_wall("B1-DRAMP2", ramp_out, hall, 6.0),
        exit_door("B1-XRAMP2", ramp_out, "N", 6.0),
        door_on_shared_wall("B1-DS1", s1, hall, STAIR_DOOR_W_M),
        exit_door("B1-XS1", s1, "W", EXIT_DOOR_W_M),
        door_on_shared_wall("B1-DS2", s2, hall, STAIR_DOOR_W_M),
        exit_door("B1-XS2", s2, "E", EXIT_DOOR_W_M),
        door_on_shared_wall("B1-DPUMP", pump, hall, ROOM_DOOR_W_M),
        door_on_shared_wall("B1-DDIST", dist, hall, ROOM_DOOR_W_M),
    ]
    b1.devices = [
        PlanDevice(f"{bid}-B1-PB1", "parking_barrier", "入口道闸", "RAMP1", 3.5, 4.0, 1.0),
        PlanDevice(f"{bid}-B1-PB2", "parking_barrier", "出口道闸", "RAMP2", 96.5, 56.0, 1.0),
        PlanDevice(f"{bid}-B1-LS1", "leak_sensor", "水泵房漏水", "PUMP", 45.0, 57.0, 0.05),
        PlanDevice(f"{bid}-B1-TH1", "temperature_humidity", "配电间温湿度", "DIST", 55.0,
                   57.0, 2.0),
    ]
    for i, (x, y) in enumerate(((25, 30), (50, 30), (75, 30), (25, 50), (75, 10)), start=1):
        b1.devices.append(PlanDevice(f"{bid}-B1-SD{i}", "smoke_detector", f"车库烟感{i}",
                                     "HALL", x, y, 3.3))
    plan = BuildingPlan(bid, name, [b1], kind="garage")
    return plan


def garage_parking() -> list[tuple[str, Polygon]]:
    """Return the garage's parking spaces (id, rectangle in garage-local metres).

    Rows of 2.5 m × 5.3 m bays along 6 m aisles, clear of ramps, stairs and rooms.
    """
    rows = []
    y = 1.0
    pattern = ["row", "aisle", "row", "row", "aisle", "row", "row", "aisle", "row"]
    for item in pattern:
        if item == "row":
            rows.append(y)
            y += PARKING_D_M
        else:
            y += AISLE_M
    out = []
    n = 0
    for y0 in rows:
        x = 8.0
        while x + PARKING_W_M <= 92.0:
            n += 1
            out.append((f"P{n:03d}", _rect(x, y0, x + PARKING_W_M, y0 + PARKING_D_M)))
            x += PARKING_W_M
    return out
