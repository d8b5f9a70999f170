"""Residential towers: units (单元) of flats around a core of stairs and elevators.


Layout of a unit, every storey above the ground floor::

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

from dataclasses import dataclass

from shapely.geometry import Polygon

from bim.samplegen.errors import SampleGenError
from bim.samplegen.plans import (
    EXIT_DOOR_W_M, FLAT_DOOR_W_M, LOBBY_DOOR_W_M, ROOM_DOOR_W_M, STAIR_DOOR_W_M, BuildingPlan,
    ElevatorPlan, PlanDevice, PlanDoor, PlanSpace, StairPlan, StoreyPlan, door_on_shared_wall,
    exit_door, floor_name, l_shape, point_inside, rect,
)

__all__ = ["CORE_DEPTH_M", "CORRIDOR_DEPTH_M", "UNIT_DEPTH_M", "UNIT_WIDTH_M", "residential_plan"]

UNIT_DEPTH_M = 16.0           # depth of a residential unit, south to north facade
SOUTH_DEPTH_M = 7.5           # depth of the south band of flats
CORRIDOR_DEPTH_M = 2.0        # elevator hall in front of the core (>= 1.1 m, GB 50016)
CORE_DEPTH_M = UNIT_DEPTH_M - SOUTH_DEPTH_M - CORRIDOR_DEPTH_M
STAIR_SHAFT_W_M = 2.8         # two 1.2 m flights with a 0.2 m gap and 0.1 m clearances
ELEVATOR_SHAFT_W_M = 2.3
#: Unit width (m) per variant: flats per floor, or "tiny" (2 flats, 1 stair, 1 elevator).
UNIT_WIDTH_M = {2: 22.0, 3: 26.4, 4: 30.0, "tiny": 18.0}


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
    F = floor_name(floor)
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
        room("LOBBY", "lobby", "门厅", rect(xc0, 0, xc1, yc))
        left_s, left_n = rect(x_off, 0, xc0, ys), rect(x_off, ys, xc0, D)
        right_s, right_n = rect(xc1, 0, xe, ys), rect(xc1, ys, xe, D)
        if variant in (2, "tiny"):
            flat(1, rect(x_off, 0, xc0, D))
            flat(2, rect(xc1, 0, xe, D))
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
        room("HALL", "elevator_hall", "电梯厅", rect(xc0, ys, xc1, yc))
        sl, sr = rect(x_off, 0, xm, ys), rect(xm, 0, xe, ys)
        nl, nr = rect(x_off, ys, xc0, D), rect(xc1, ys, xe, D)
        if variant in (2, "tiny"):
            flat(1, l_shape(sl, nl))
            flat(2, l_shape(sr, nr))
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
        room(key, kind, f"{key}{zh}", rect(x, yc, x + w, D))
        x += w
    return out


def _unit_storey_parts(bid: str, u: int, variant, floor: int, x_off: float):
    """Spaces, doors and devices of one unit on one floor."""
    spaces = _unit_spaces(bid, u, variant, floor, x_off)
    by_role = {s.key.split("-", 1)[1]: s for s, _ in spaces}
    hall = by_role["LOBBY"] if floor == 1 else by_role["HALL"]
    U, F = f"U{u}", floor_name(floor)
    doors: list[PlanDoor] = []
    devices: list[PlanDevice] = []
    dev_prefix = f"{bid}-{U}-{F}"
    for s, role in spaces:
        tail = s.key.split("-", 1)[1]
        if role == "flat":
            doors.append(door_on_shared_wall(f"{U}-{F}-D{tail}", s, hall, FLAT_DOOR_W_M))
            d = doors[-1]
            for kind, suffix, dz in (("meter_electricity", "EM", 1.6), ("meter_water", "WM", 0.3)):
                px, py = point_inside(s.polygon, d.x, d.y, 0.4)
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
        gate_x, gate_y = point_inside(lobby.polygon, exit_.x, exit_.y, 1.0)
        devices.append(PlanDevice(f"{dev_prefix}-AG1", "access_gate", f"{lobby.long_name}门禁",
                                  lobby.key, gate_x, gate_y, 1.2))
        devices.append(PlanDevice(f"{dev_prefix}-PC1", "people_counter",
                                  f"{lobby.long_name}客流计数", lobby.key, exit_.x,
                                  round(exit_.y + 0.3, 3), 2.4))
    return [s for s, _ in spaces], doors, devices



def _lift_speed(floors: int) -> float:
    """Rated elevator speed (m/s) commonly chosen for a residential tower's height."""
    return 1.0 if floors <= 11 else 1.75 if floors <= 18 else 2.0 if floors <= 26 else 2.5


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
        st = StoreyPlan(floor_name(f), round((f - 1) * storey_height_m, 4), storey_height_m)
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
                                                   2.4, names, speed_m_s=_lift_speed(floors)))
                lobby = storeys[0].space(f"U{u}-LOBBY")
                devices = storeys[0].devices
                devices.append(PlanDevice(f"{bid}-U{u}-{key}-EC", "elevator_controller",
                                          f"{u}单元{key}电梯控制器", lobby.key,
                                          round(x + w / 2, 3), round(y - 0.3, 3), 2.2,
                                          serves=f"U{u}-{key}"))
            x += w
    return plan
