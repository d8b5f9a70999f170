"""The public areas a cleaning crew looks after, and walking distances between them.

Areas come from the twin: public spaces of buildings (corridors, lobbies, elevator halls,
stairs, garages...) and site features (plaza, playground, footpaths, gates, the garage as
the union of its parking spaces). Each area carries its floor area, surface and whether it
is indoors; :func:`walking_distances` gives the metres between any two areas: inside a
building along the twin's route graph (:class:`twin.routes.RouteGraph`) with elevator
rides (:mod:`sim.cleaning.network`), between buildings and outdoor areas out through the nearest exit and on
straight lines × a detour factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.sparse.csgraph import dijkstra

from sim.cleaning.errors import SiteLayoutError
from sim.cleaning.network import walk_matrix
from twin.index import inner_point
from twin.model import Community
from twin.routes import OUTSIDE, RouteGraph

__all__ = ["CleaningArea", "SiteLayout", "build_layout", "DETOUR", "AREA_KINDS"]

#: Outdoor walking distance = straight line × this (paths are not straight).
DETOUR = 1.3

#: Kind of cleaning area of each space usage (public spaces that are not listed are kept
#: under their usage); usages in ``_NOT_CLEANED`` are left out (shafts, plant rooms).
AREA_KINDS = {
    "lobby": "lobby", "entrance": "lobby", "hall": "lobby", "elevator_hall": "elevator_hall",
    "corridor": "corridor", "circulation": "corridor", "landing": "corridor",
    "stair": "stair", "stairwell": "stair", "garage": "garage", "parking": "garage",
    "clubhouse": "clubhouse", "public": "corridor",
}
_NOT_CLEANED = {"elevator", "pump_room", "distribution_room", "equipment", "office"}
#: Site-feature kinds cleaned by the crews (others: roads, green, single parking spaces).
OUTDOOR_KINDS = {"plaza": "plaza", "playground": "playground", "footpath": "path",
                 "path": "path", "gate": "gate", "square": "plaza", "clubhouse": "clubhouse"}
#: Area assumed for a point feature (a gate given as a point), m².
POINT_AREA_M2 = 30.0


@dataclass
class CleaningArea:
    """One area to keep clean.

    ``node`` is its node in the route graph (a space id) or ``None`` for outdoor areas;
    ``xy`` a point inside (m, site CRS); ``floor`` the storey index above ground (0 =
    ground, negative below; outdoor 0); ``area_m2`` the floor area cleaned.
    """

    id: str
    name: str
    kind: str
    area_m2: float
    indoor: bool
    xy: tuple[float, float]
    building_id: str | None = None
    node: str | None = None
    floor: int = 0
    geometry: object | None = field(default=None, repr=False)


@dataclass
class SiteLayout:
    """Areas, walking distances (m) between them, and the route graph they came from."""

    areas: list[CleaningArea]
    distance_m: np.ndarray
    graph: RouteGraph
    exit_xy: dict[str, tuple[float, float]]
    exit_leg_m: np.ndarray

    def index(self, area_id: str) -> int:
        """Row of an area id (raises KeyError)."""
        return self._index[area_id]

    def __post_init__(self) -> None:
        self._index = {a.id: i for i, a in enumerate(self.areas)}


def _floor_index(c: Community) -> dict[str, int]:
    out = {}
    for b in c.buildings:
        storeys = sorted(b.storeys, key=lambda s: s.elevation_m)
        ground = min(range(len(storeys)), key=lambda i: abs(storeys[i].elevation_m)) if storeys else 0
        for i, s in enumerate(storeys):
            out[s.id] = i - ground
    return out


def _indoor_areas(c: Community) -> list[CleaningArea]:
    floors = _floor_index(c)
    out = []
    for sp in c.spaces:
        usage = (sp.usage or "").lower()
        if not sp.is_public or usage in _NOT_CLEANED or sp.footprint is None or sp.footprint.is_empty:
            continue
        area = sp.area_m2 or float(sp.footprint.area)
        if area <= 0:
            continue
        kind = AREA_KINDS.get(usage, usage or "corridor")
        floor = floors.get(sp.storey_id, 0)
        if kind == "corridor" and floor == 0:
            kind = "lobby"  # the ground-floor corridor of a generated core is its lobby
        out.append(CleaningArea(sp.id, sp.name, kind, float(area), True,
                                inner_point(sp.footprint), sp.building_id, sp.id, floor,
                                sp.footprint))
    return out


def _outdoor_areas(c: Community) -> list[CleaningArea]:
    out = []
    garage = [f for f in c.features if f.kind == "parking"
              and str(f.attributes.get("level", "")).lower() == "garage"]
    for f in c.features:
        kind = OUTDOOR_KINDS.get(f.kind.lower())
        if kind is None or f.geometry is None or f.geometry.is_empty:
            continue
        geom = f.geometry
        if kind == "path" and geom.geom_type in ("LineString", "MultiLineString"):
            width = float(f.attributes.get("width_m") or 2.0)
            area = geom.length * width
            geom = geom.buffer(width / 2)
        elif geom.geom_type in ("Point", "MultiPoint"):
            area = POINT_AREA_M2
            geom = geom.buffer(math.sqrt(POINT_AREA_M2 / math.pi))
        else:
            area = float(geom.area)
        if area <= 0:
            continue
        out.append(CleaningArea(f.id, f.name or f.id, kind, area, False, inner_point(geom),
                                geometry=geom))
    if garage:
        geom = shapely.union_all([f.geometry for f in garage])
        out.append(CleaningArea("garage", "garage", "garage", float(geom.area) * 2.5, True,
                                inner_point(geom), geometry=geom))
    return out


def _graph_distances(c: Community, graph: RouteGraph, sources: list[str]):
    """Dijkstra from ``sources`` over the walking network without the outside node."""
    nodes, mat = walk_matrix(c, graph)
    keep = np.array([n != OUTSIDE for n in nodes], dtype=bool)
    inner = mat[keep][:, keep]
    kept = [n for n, k in zip(nodes, keep) if k]
    kpos = {n: i for i, n in enumerate(kept)}
    d = dijkstra(inner, directed=True, indices=[kpos[s] for s in sources])
    return d, kpos


def _exits(graph: RouteGraph, c: Community) -> tuple[dict[str, list], dict[str, tuple]]:
    """Exit doors: per space next to the outside, the door positions; door id → xy."""
    doors = {d.id: d for d in c.doors}
    by_space: dict[str, list[tuple[float, tuple[float, float]]]] = {}
    for edge in graph.adjacency.get(OUTSIDE, []):
        door = doors.get(edge.via)
        if door is not None:
            by_space.setdefault(edge.target, []).append((edge.length_m, door.position))
    return by_space, {d.id: d.position for d in c.doors if d.is_exit}


def build_layout(c: Community) -> SiteLayout:
    """Return the areas of a community with the walking distances between them.

    Raises
    ------
    SiteLayoutError
        The community has no public area to clean.
    """
    indoor = _indoor_areas(c)
    areas = indoor + _outdoor_areas(c)
    if not areas:
        raise SiteLayoutError(f"community {c.name!r} has no public area to clean")
    graph = RouteGraph(c, elevators=True)
    n = len(areas)
    # indoor legs: from each indoor area to its nearest exit (metres, exit position)
    exit_spaces, _ = _exits(graph, c)
    leg = np.full(n, np.inf)
    exit_xy = {}
    dist = np.full((n, n), np.inf)
    srcs = [a.node for a in areas if a.node is not None]
    if srcs:
        d, kpos = _graph_distances(c, graph, srcs)
        row = {s: i for i, s in enumerate(srcs)}
        for i, a in enumerate(areas):
            if a.node is None:
                continue
            di = d[row[a.node]]
            for j, b in enumerate(areas):
                if b.node is not None and b.node in kpos:
                    dist[i, j] = di[kpos[b.node]]
            best = (np.inf, None)
            for space, doors in exit_spaces.items():
                if space in kpos and np.isfinite(di[kpos[space]]):
                    for length, xy in doors:
                        if di[kpos[space]] + length < best[0]:
                            best = (di[kpos[space]] + length, xy)
            if best[1] is not None:
                leg[i], exit_xy[a.id] = best
    for i, a in enumerate(areas):
        if a.node is None:
            leg[i], exit_xy[a.id] = 0.0, a.xy
        elif a.id not in exit_xy:  # an indoor area without an exit: treat as its own door
            leg[i], exit_xy[a.id] = 0.0, a.xy
    pts = np.array([exit_xy[a.id] for a in areas])
    outdoor = leg[:, None] + DETOUR * np.hypot(pts[:, None, 0] - pts[None, :, 0],
                                               pts[:, None, 1] - pts[None, :, 1]) + leg[None, :]
    dist = np.minimum(dist, outdoor)
    np.fill_diagonal(dist, 0.0)
    return SiteLayout(areas, dist, graph, exit_xy, leg)
