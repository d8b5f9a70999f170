"""A small community built in code for the cleaning tests (no site files needed)."""

from __future__ import annotations

from shapely.geometry import LineString, Point, box

from twin.model import (BillingUnit, Building, Community, Door, Elevator, Household,
                        SiteFeature, Space, Staff, Stair, Storey)


def make_community(buildings: int = 2, floors: int = 8, flats: int = 4, *,
                   cleaners: int = 0, name: str = "testville") -> Community:
    """``buildings`` towers of ``floors`` storeys, ``flats`` apartments a floor.

    Per storey: a corridor (20 × 3 m), a stair room and an elevator room joined to it by
    doors, apartments along it; the ground corridor has an exit door. Site: two gates,
    a plaza, a playground, a footpath, an underground garage of parking features.
    """
    c = Community(name=name, crs="EPSG:4547")
    for b in range(buildings):
        bid, ox = f"B{b + 1}", 120.0 * b
        bld = Building(bid, f"Tower {b + 1}", "gis", footprint=box(ox, 0, ox + 24, 19), floors=floors)
        c.buildings.append(bld)
        storey_ids = []
        for k in range(floors):
            sid = f"{bid}-F{k + 1:02d}"
            storey_ids.append(sid)
            bld.storeys.append(Storey(sid, f"F{k + 1}", bid, elevation_m=3.0 * k, height_m=3.0))
            corr = Space(f"{sid}-CORR", f"{sid} corridor", sid, bid, box(ox, 8, ox + 20, 11),
                         usage="corridor", area_m2=60.0)
            stair = Space(f"{sid}-ST", f"{sid} stair", sid, bid, box(ox + 20, 8, ox + 24, 13),
                          usage="stair", area_m2=20.0)
            lift = Space(f"{sid}-EL", f"{sid} elevator", sid, bid, box(ox + 20, 13, ox + 23, 16),
                         usage="elevator", area_m2=9.0)
            c.spaces += [corr, stair, lift]
            c.doors += [
                Door(f"{sid}-DST", "stair door", sid, bid, (ox + 20, 9.5), 1.1, (stair.id, corr.id)),
                Door(f"{sid}-DEL", "lift door", sid, bid, (ox + 20, 10.5), 0.9, (lift.id, corr.id)),
            ]
            for f in range(flats):
                x0 = ox + 5.0 * (f // 2) * 2
                geom = box(x0, 0, x0 + 9.5, 8) if f % 2 == 0 else box(x0, 11, x0 + 9.5, 19)
                ap = Space(f"{sid}-A{f + 1}", f"{k + 1}0{f + 1}", sid, bid, geom, usage="apartment",
                           area_m2=geom.area)
                c.spaces.append(ap)
                c.doors.append(Door(f"{ap.id}-D", "flat door", sid, bid,
                                    (x0 + 4.75, 8.0 if f % 2 == 0 else 11.0), 0.9, (ap.id, corr.id)))
                c.billing_units.append(BillingUnit(f"U-{ap.id}", "apartment", bid, geom.area,
                                                   storey_id=sid, space_id=ap.id))
                c.households.append(Household(f"U-{ap.id}", size=3))
            if k == 0:
                c.doors.append(Door(f"{sid}-X", "exit", sid, bid, (ox, 9.5), 1.2, (corr.id, None),
                                    is_exit=True))
        c.stairs.append(Stair(f"{bid}-STAIR", "stair", bid, storey_ids, box(ox + 20, 8, ox + 24, 13),
                              1.1, 7.0))
        c.elevators.append(Elevator(f"{bid}-LIFT", "lift", bid, storey_ids, box(ox + 20, 13, ox + 23, 16)))
    span = 120.0 * buildings
    c.features += [
        SiteFeature("G-WEST", "gate", "West gate", Point(-40, 9)),
        SiteFeature("G-EAST", "gate", "East gate", box(span + 10, 5, span + 16, 13)),
        SiteFeature("PLAZA", "plaza", "Central plaza", box(40, -50, 90, -20)),
        SiteFeature("PLAY", "playground", "Playground", box(40, 30, 60, 45)),
        SiteFeature("PATH-1", "footpath", "Main path", LineString([(-40, 9), (span + 10, 9)]),
                    {"width_m": 3.0}),
    ]
    for p in range(6):
        c.features.append(SiteFeature(f"P{p}", "parking", f"space {p}",
                                      box(30 + 2.5 * p, 60, 32.4 + 2.5 * p, 65), {"level": "garage"}))
    for k in range(cleaners):
        c.staff.append(Staff(f"S{k + 1}", f"cleaner {k + 1}", "cleaner", ["保洁"], "07:00-17:00"))
    c.validate()
    return c
