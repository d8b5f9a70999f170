"""Canonical geometry and scenario builders for the evacuation tests (metres)."""

from __future__ import annotations


def rect(x0, y0, x1, y1) -> dict:
    """GeoJSON Polygon of an axis-aligned rectangle."""
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def poly(*pts) -> dict:
    """GeoJSON Polygon from a ring of points (closed automatically)."""
    ring = [list(p) for p in pts]
    return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}


def room_with_door(size_m=10.0, door_m=1.0, wall_m=0.2, beyond_m=2.0) -> tuple[dict, dict]:
    """A square room, a door of ``door_m`` through a wall ``wall_m`` thick in the east wall, a
    2 m deep area behind it; returns (walkable, exit area = the far 1 m of that area)."""
    c = size_m / 2
    lo, hi = c - door_m / 2, c + door_m / 2
    x1 = size_m + wall_m
    x2 = x1 + beyond_m
    walk = poly((0, 0), (size_m, 0), (size_m, lo), (x1, lo), (x1, 0), (x2, 0), (x2, size_m),
                (x1, size_m), (x1, hi), (size_m, hi), (size_m, size_m), (0, size_m))
    return walk, rect(x2 - 1.0, 0, x2, size_m)


def scenario(floors, exits, *, agents=(), groups=(), stairs=(), blocked=(), seed=1, max_time_s=600.0, **extra):
    """A scenario dict with the contract's keys."""
    d = {"name": "test", "seed": seed, "max_time_s": max_time_s, "floors": list(floors),
         "exits": list(exits), "stairs": list(stairs), "blocked": list(blocked),
         "agents": list(agents), "groups": list(groups)}
    d.update(extra)
    return d


def floor(fid, walkable, elevation_m=0.0, obstacles=()):
    return {"id": fid, "elevation_m": elevation_m, "walkable": walkable, "obstacles": list(obstacles)}


def exit_(eid, fid, area):
    return {"id": eid, "floor": fid, "area": area}


def gj(geom) -> dict:
    """GeoJSON dict (lists, not tuples) of a shapely geometry."""
    import json

    import shapely

    return json.loads(shapely.to_geojson(geom))
