"""The walking network used for trips and crews: the twin's route graph plus elevator rides.

:class:`twin.routes.RouteGraph` joins spaces by doors and stairs (and elevators whose
landing falls in a space with doors). Everyday trips in towers ride the elevator, and
elevator shafts of IFC models often have no door of their own, so this module adds, for
every elevator, a ride chain ``lift:<elevator>@<storey>`` (``ride_m_per_storey`` metres
equivalent per storey) joined on each storey to the hall in front of it: the nearest public
space that is not a stair, shaft or plant room. Stair links can be weighted
(``stair_effort``) so that trip routing prefers the elevator the way residents do.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.sparse import csr_matrix

from twin.index import inner_point
from twin.model import Community
from twin.routes import RouteGraph

__all__ = ["walk_matrix", "RIDE_M_PER_STOREY"]

#: Walking-distance equivalent of riding one storey (m).
RIDE_M_PER_STOREY = 3.0
_NOT_HALL = {"stair", "stairwell", "elevator", "pump_room", "distribution_room", "equipment",
             "office", "garage", "parking"}


def _halls(c: Community) -> dict[str, list]:
    out: dict[str, list] = {}
    for s in c.spaces:
        if s.is_public and (s.usage or "").lower() not in _NOT_HALL and s.footprint is not None \
                and not s.footprint.is_empty:
            out.setdefault(s.storey_id, []).append(s)
    return out


def walk_matrix(c: Community, graph: RouteGraph, *, stair_effort: float = 1.0,
                ride_m_per_storey: float = RIDE_M_PER_STOREY) -> tuple[list[str], csr_matrix]:
    """Return ``(nodes, matrix)``: the symmetric weighted walking graph (metres).

    Nodes are the route graph's nodes plus the elevator ride nodes; stair links of the route
    graph are multiplied by ``stair_effort``.
    """
    stairs = {s.id for s in c.stairs}
    edges: list[tuple[str, str, float]] = []
    for a, out in graph.adjacency.items():
        for e in out:
            w = e.length_m * (stair_effort if e.via in stairs else 1.0)
            edges.append((a, e.target, w))
    halls = _halls(c)
    elev = {s.id: s.elevation_m for s in c.storeys}
    for el in c.elevators:
        if el.footprint is None or el.footprint.is_empty:
            continue
        ex, ey = inner_point(el.footprint)
        served = sorted((s for s in el.storey_ids if s in elev), key=elev.get)
        prev = None
        for sid in served:
            node = f"lift:{el.id}@{sid}"
            cands = halls.get(sid, [])
            if cands:
                hall = min(cands, key=lambda s: (s.footprint.distance(el.footprint), s.id))
                hx, hy = inner_point(hall.footprint)
                leg = math.hypot(hx - ex, hy - ey)
                edges += [(node, hall.id, leg), (hall.id, node, leg)]
            if prev is not None:
                edges += [(prev, node, ride_m_per_storey), (node, prev, ride_m_per_storey)]
            prev = node
    nodes = sorted({a for a, _, _ in edges} | set(graph.adjacency))
    pos = {n: i for i, n in enumerate(nodes)}
    rows = np.array([pos[a] for a, _, _ in edges], dtype=np.int64)
    cols = np.array([pos[b] for _, b, _ in edges], dtype=np.int64)
    w = np.array([x for _, _, x in edges], dtype=np.float64)
    # keep the shortest of parallel links; zero-length links become tiny (csgraph drops 0)
    w = np.maximum(w, 1e-6)
    mat = csr_matrix((w, (rows, cols)), shape=(len(nodes), len(nodes)))
    mat.sum_duplicates()
    if len(edges):
        best: dict[tuple[int, int], float] = {}
        for r, k, x in zip(rows, cols, w):
            if x < best.get((r, k), math.inf):
                best[(r, k)] = x
        keys = np.array(list(best), dtype=np.int64).reshape(-1, 2)
        mat = csr_matrix((np.array(list(best.values())), (keys[:, 0], keys[:, 1])),
                         shape=(len(nodes), len(nodes)))
    return nodes, mat
