"""Canonical test objects shared by test modules (STYLE 17).

``two_storey_building()``: a small building whose routes are easy to compute by hand::

    storey F0 (z=0) and F1 (z=3), identical plans, metres:

      y=8 +---------+---------+
          |   A     |    B    |
      y=2 +--d1-----+---d2----+-----+
          |  C (corridor)   d3  S  |   S: stair space 10..13 × 0..4
      y=0 +-----------------+-----+
       exit d0 at (0, 1) on F0 only

Inner points (centroids): A (2.5, 5), B (7.5, 5), C (5, 1), S (11.5, 2).
Stair ST joins S on F0 and F1 with run length 7 m.
"""

from __future__ import annotations

from shapely.geometry import Polygon, box

from twin.model import (
    BillingUnit, Building, Community, Device, Door, Household, SiteFeature, Space, Stair,
    Storey,
)

__all__ = ["courtyard_space", "two_storey_building"]


def two_storey_building() -> Community:
    """Return the two-storey community described in the module docstring."""
    b = Building(id="B1", name="Block 1", source="ifc", footprint=box(0, 0, 13, 8))
    spaces, doors = [], []
    for level, z in ((0, 0.0), (1, 3.0)):
        sid = f"F{level}"
        b.storeys.append(Storey(id=sid, name=f"Level {level}", building_id="B1", elevation_m=z,
                                height_m=3.0))
        plan = {"A": (box(0, 2, 5, 8), "apartment"), "B": (box(5, 2, 10, 8), "apartment"),
                "C": (box(0, 0, 10, 2), "corridor"), "S": (box(10, 0, 13, 4), "stair")}
        for name, (poly, usage) in plan.items():
            spaces.append(Space(id=f"{name}{level}", name=name, storey_id=sid, building_id="B1",
                                footprint=poly, usage=usage, area_m2=poly.area, height_m=3.0))
        doors += [
            Door(id=f"d1-{level}", name="A door", storey_id=sid, building_id="B1",
                 position=(2.5, 2.0), width_m=0.9, spaces=(f"A{level}", f"C{level}")),
            Door(id=f"d2-{level}", name="B door", storey_id=sid, building_id="B1",
                 position=(7.5, 2.0), width_m=0.9, spaces=(f"B{level}", f"C{level}")),
            Door(id=f"d3-{level}", name="stair door", storey_id=sid, building_id="B1",
                 position=(10.0, 1.0), width_m=1.1, spaces=(f"C{level}", f"S{level}")),
        ]
    doors.append(Door(id="d0", name="exit", storey_id="F0", building_id="B1", position=(0.0, 1.0),
                      width_m=1.2, spaces=("C0", None), is_exit=True))
    stair = Stair(id="ST", name="Stair", building_id="B1", storey_ids=["F0", "F1"],
                  footprint=box(10, 0, 13, 4), width_m=1.2, run_length_m=7.0)
    units = [BillingUnit(id=f"U-{n}{lv}", kind="apartment", building_id="B1", area_m2=30.0,
                         storey_id=f"F{lv}", space_id=f"{n}{lv}") for n in "AB" for lv in (0, 1)]
    devices = [Device(id="SD-F1", kind="smoke_detector", name="smoke F1", building_id="B1",
                      storey_id="F1", space_id="C1", position=(5.0, 1.0, 5.8)),
               Device(id="EM-A1", kind="meter_electricity", name="meter A1", building_id="B1",
                      storey_id="F1", space_id="A1", feeds=["U-A1"])]
    return Community(
        name="canon", crs="EPSG:4547", buildings=[b], spaces=spaces, doors=doors,
        stairs=[stair], devices=devices, billing_units=units,
        households=[Household(unit_id="U-A1", size=3, owner="张三", phone="138-0000-0001")],
        features=[SiteFeature(id="G1", kind="gate", name="North gate", geometry=box(-5, -5, -3, -3))],
    )


def courtyard_space() -> Space:
    """Return a 20 × 20 m space with a 10 × 10 m courtyard hole in the middle (area 300 m²)."""
    shell = [(0, 0), (20, 0), (20, 20), (0, 20)]
    hole = [(5, 5), (15, 5), (15, 15), (5, 15)]
    return Space(id="CY", name="courtyard block", storey_id="F0", building_id="B1",
                 footprint=Polygon(shell, [hole]), usage="lobby", area_m2=300.0)
