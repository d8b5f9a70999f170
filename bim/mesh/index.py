"""The viewer's element index: what can be searched, clicked and marked, in scene coordinates.

Holds no personal data (no owners or phones): it is served to every role.
"""

from __future__ import annotations

from twin.model import Community
from twin.naming import SiteNames

__all__ = ["scene_index", "to_scene"]

#: Height above the storey floor (m) of a device marker without a surveyed position.
MARKER_HEIGHT_M = 2.2


def to_scene(x: float, y: float, z: float, origin) -> list[float]:
    """Return site coordinates (m) as glTF scene coordinates (east, up, -north) from origin."""
    return [round(x - origin[0], 3), round(z - origin[2], 3), round(-(y - origin[1]), 3)]


def scene_index(community: Community, origin) -> dict:
    """Return ``{"buildings", "storeys", "spaces", "devices", "units", "stairs", "exits"}``
    for the viewer.

    Every entry has ``id`` and ``name``; buildings, storeys and spaces also ``label`` (``1号楼``,
    ``12F``, ``1号楼 1单元 1F 门厅``: :class:`twin.naming.SiteNames`); stairs and exits carry the names people use
    (``name`` with the building, e.g. ``3号楼 1单元 B梯 11F-12F``; stairs also
    ``staircase``). Spaces, devices, stairs and exits have ``position`` (scene
    coordinates, m): a device's surveyed position, else its space's centroid, else its
    storey's or building's centre, at ``MARKER_HEIGHT_M`` above the floor.
    """
    names = SiteNames(community)
    storeys = {s.id: s for s in community.storeys}
    spaces = {s.id: s for s in community.spaces}
    buildings = {b.id: b for b in community.buildings}

    def centre(building_id, storey_id, space_id):
        geom = None
        if space_id in spaces and spaces[space_id].footprint is not None:
            geom = spaces[space_id].footprint
        elif storey_id in storeys and storeys[storey_id].walkable is not None:
            geom = storeys[storey_id].walkable
        elif building_id in buildings and buildings[building_id].footprint is not None:
            geom = buildings[building_id].footprint
        if geom is None or geom.is_empty:
            return None
        p = geom.representative_point() if geom.geom_type != "Point" else geom
        z = storeys[storey_id].elevation_m if storey_id in storeys else 0.0
        return p.x, p.y, z + MARKER_HEIGHT_M

    out = {
        "buildings": [{"id": b.id, "name": b.name, "label": names.buildings[b.id], "source": b.source,
                       "storeys": [s.id for s in sorted(b.storeys, key=lambda s: s.elevation_m)]}
                      for b in community.buildings],
        "storeys": [{"id": s.id, "name": s.name, "label": names.storeys[s.id], "building": s.building_id,
                     "elevation_m": s.elevation_m}
                    for s in community.storeys],
        "spaces": [],
        "devices": [],
        "units": [{"id": u.id, "kind": u.kind, "building": u.building_id, "storey": u.storey_id,
                   "space": u.space_id, "area_m2": u.area_m2} for u in community.billing_units],
    }
    for s in community.spaces:
        c = centre(s.building_id, s.storey_id, s.id)
        out["spaces"].append({"id": s.id, "name": s.name, "label": names.space_label(s.id),
                              "long_name": s.long_name, "usage": s.usage,
                              "public": s.is_public, "building": s.building_id, "storey": s.storey_id,
                              "position": to_scene(*c, origin) if c else None})
    for d in community.devices:
        c = d.position if d.position is not None else centre(d.building_id, d.storey_id, d.space_id)
        out["devices"].append({"id": d.id, "kind": d.kind, "name": d.name, "building": d.building_id,
                               "storey": d.storey_id, "space": d.space_id,
                               "position": to_scene(*c, origin) if c else None})
    stairs = {st.id: st for st in community.stairs}
    doors = {d.id: d for d in community.doors}
    out["stairs"], out["exits"] = [], []
    for n in names.stairs:
        fp, lo = stairs[n.id].footprint, (n.storeys[0] if n.storeys else None)
        pos = None
        if fp is not None and not fp.is_empty:
            p = fp.representative_point()
            z = storeys[lo].elevation_m if lo in storeys else 0.0
            pos = to_scene(p.x, p.y, z + MARKER_HEIGHT_M, origin)
        out["stairs"].append({"id": n.id, "name": n.full, "staircase": n.group, "building": n.building,
                              "storeys": list(n.storeys), "position": pos})
    for n in names.exits:
        d = doors[n.id]
        z = storeys[d.storey_id].elevation_m if d.storey_id in storeys else 0.0
        out["exits"].append({"id": n.id, "name": n.full, "building": n.building, "storey": d.storey_id,
                             "position": to_scene(d.position[0], d.position[1], z + MARKER_HEIGHT_M, origin)})
    return out
