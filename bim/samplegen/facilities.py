"""The community's other buildings: the clubhouse with the property office and shops, and
the underground garage with its parking bays."""

from __future__ import annotations

from shapely.geometry import Polygon
from shapely.ops import unary_union

from bim.samplegen.plans import (
    EXIT_DOOR_W_M, LOBBY_DOOR_W_M, ROOM_DOOR_W_M, STAIR_DOOR_W_M, BuildingPlan, PlanDevice,
    PlanSpace, StairPlan, StoreyPlan, canonical, door_on_shared_wall, exit_door, rect,
)

__all__ = ["clubhouse_plan", "garage_parking", "garage_plan"]

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

    shops = [sp(f1, f"SHOP{i}", "shop", f"商铺{i}", rect(9 * (i - 1), 0, 9 * i, 8),
                bill=f"{bid}-S{i:02d}") for i in (1, 2, 3)]
    office = sp(f1, "OFFICE", "office", "物业服务中心", rect(27, 0, 36, 8))
    hall1 = sp(f1, "HALL", "hall", "会所大堂", rect(0, 8, 30, 14))
    st1 = sp(f1, "S1", "stair", "楼梯间", rect(30, 8, 33.5, 14))
    pump = sp(f1, "PUMP", "pump_room", "水泵房", rect(33.5, 8, 36, 14))
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
    gym = sp(f2, "GYM", "clubhouse", "健身房", rect(0, 0, 18, 8))
    act = sp(f2, "ACT", "clubhouse", "活动室", rect(18, 0, 27, 8))
    mgr = sp(f2, "MGR", "office", "经理办公室", rect(27, 0, 36, 8))
    hall2 = sp(f2, "HALL", "hall", "二层走廊", rect(0, 8, 30, 14))
    st2 = sp(f2, "S1", "stair", "楼梯间", rect(30, 8, 33.5, 14))
    dist = sp(f2, "DIST", "distribution_room", "配电间", rect(33.5, 8, 36, 14))
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
    ramp_in = PlanSpace("RAMP1", "garage", f"{bid}-B1-RAMP1", "入口坡道", rect(0, 0, 7, 20))
    ramp_out = PlanSpace("RAMP2", "garage", f"{bid}-B1-RAMP2", "出口坡道",
                         rect(93, 40, 100, 60))
    s1 = PlanSpace("S1", "stair", f"{bid}-B1-S1", "1号楼梯间", rect(0, 54, 3.5, 60))
    s2 = PlanSpace("S2", "stair", f"{bid}-B1-S2", "2号楼梯间", rect(96.5, 0, 100, 6))
    pump = PlanSpace("PUMP", "pump_room", f"{bid}-B1-PUMP", "水泵房", rect(40, 54, 50, 60))
    dist = PlanSpace("DIST", "distribution_room", f"{bid}-B1-DIST", "配电间",
                     rect(50, 54, 60, 60))
    others = [ramp_in, ramp_out, s1, s2, pump, dist]
    hall_poly = rect(0, 0, GARAGE_W_M, GARAGE_D_M).difference(unary_union(
        [o.polygon for o in others]))
    hall = PlanSpace("HALL", "garage", f"{bid}-B1-HALL", "地下车库", canonical(hall_poly))
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
            out.append((f"P{n:03d}", rect(x, y0, x + PARKING_W_M, y0 + PARKING_D_M)))
            x += PARKING_W_M
    return out
