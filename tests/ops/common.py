"""Canonical test objects of the operations tests: a small high-rise with staff and units.

Ground floor (storey ``S1``, elevation 0 m), plan in metres::

    y=8 ┌─────┐                        ┌─────┐
        │ R1  │                        │ R2  │      R1, R2: rooms (pump room, flat 101)
    y=3 └──d1─┴────────────────────────┴─d2──┘
        │              corridor C             │  ── exit door dX at (30, 1.5)
    y=0 └─────────────────────────────────────┘
        x=0  5                          25   30

First floor ``S2`` (3 m) holds flat ``A201`` (space ``R3``) joined by stair ``ST`` (run 6 m)
from the corridor. Centroids: R1 (2.5, 5.5), R2 (27.5, 5.5), C (15, 1.5); doors d1 (2.5, 3),
d2 (27.5, 3). So walking R1→C = 2.5 + |(2.5,3)−(15,1.5)| and R2→C likewise (symmetric).
"""

from __future__ import annotations

from shapely.geometry import box

from twin.model import BillingUnit, Building, Community, Door, Household, Space, Staff, Stair, Storey


def community() -> Community:
    """Return the canonical community (fresh objects each call)."""
    s1 = Storey("S1", "1F", "B1", 0.0, 3.0)
    s2 = Storey("S2", "2F", "B1", 3.0, 3.0)
    b1 = Building("B1", "Building 1", "gis", [s1, s2], footprint=box(0, 0, 30, 8), floors=18, height_m=54.0)
    spaces = [
        Space("C", "Corridor", "S1", "B1", box(0, 0, 30, 3), usage="corridor", area_m2=90.0),
        Space("R1", "Pump room", "S1", "B1", box(0, 3, 5, 8), usage="pump_room", area_m2=25.0),
        Space("R2", "Flat 101", "S1", "B1", box(25, 3, 30, 8), usage="apartment", area_m2=25.0),
        Space("C2", "Corridor 2F", "S2", "B1", box(0, 0, 30, 3), usage="corridor", area_m2=90.0),
        Space("R3", "Flat 201", "S2", "B1", box(25, 3, 30, 8), usage="apartment", area_m2=25.0),
    ]
    doors = [
        Door("d1", "d1", "S1", "B1", (2.5, 3.0), 0.9, ("R1", "C")),
        Door("d2", "d2", "S1", "B1", (27.5, 3.0), 0.9, ("R2", "C")),
        Door("dX", "exit", "S1", "B1", (30.0, 1.5), 1.5, ("C", None), is_exit=True),
        Door("d3", "d3", "S2", "B1", (27.5, 3.0), 0.9, ("R3", "C2")),
    ]
    stair = Stair("ST", "Stair", "B1", ["S1", "S2"], box(14, 0, 16, 3), 1.2, 6.0)
    units = [
        BillingUnit("A101", "apartment", "B1", 89.5, storey_id="S1", space_id="R2", owner="张三丰", phone="13812345678"),
        BillingUnit("A201", "apartment", "B1", 120.0, storey_id="S2", space_id="R3", owner="李四", phone="13987654321"),
        BillingUnit("P001", "parking", "B1", 12.5, attributes={"level": "garage"}),
    ]
    staff = [
        Staff("W-PLUMB-1", "王师傅", "technician", ["水电"], "00:00-23:59", "R1"),
        Staff("W-PLUMB-2", "赵师傅", "technician", ["plumbing", "electrical"], "00:00-23:59", "R2"),
        Staff("W-LIFT", "钱师傅", "technician", ["elevator"], None, "R1"),
        Staff("W-CLEAN", "孙阿姨", "cleaner", ["cleaning"], None, "C"),
    ]
    c = Community("testville", crs="EPSG:4547", buildings=[b1], spaces=spaces, doors=doors, stairs=[stair],
                  billing_units=units, staff=staff,
                  households=[Household("A101", 3, "张三丰", "13812345678"), Household("A201", 2, "李四", "13987654321")])
    c.validate()
    return c
