"""The navigation graph of a community: spaces joined by doors, stairs and the outside.

Nodes are space ids, plus ``"outside"`` (everything beyond exit doors) and, where a stair
lands on a storey without a space around it, a node ``"stair:<stair id>@<storey id>"``.
Edge lengths are walking distances in metres:

- a door between spaces A and B: distance from A's inner point to the door plus from the
  door to B's inner point (straight lines; a space's inner point is its centroid when
  inside, else a representative point);
- an exit door of space A: A's inner point to the door;
- a stair between consecutive storeys: its ``run_length_m`` (walking length along the
  slope), joined to the stair's space on each storey;
- an elevator (only with ``elevators=True``): ``elevator_equivalent_m`` per storey
  travelled, joined to the hall space in front of it on each storey served.

Routes are shortest paths (Dijkstra). The numeric form (:meth:`RouteGraph.to_csr`) feeds
numba kernels of the simulations.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import Point

from twin.errors import NotFoundError, QueryError
from twin.index import SpatialIndex, inner_point
from twin.model import Community

__all__ = ["OUTSIDE", "Edge", "Route", "RouteGraph"]

#: Node id of the outside of every building.
OUTSIDE = "outside"


@dataclass(frozen=True)
class Edge:
    """A directed half of an undirected link: target node, length (m), element id."""

    target: str
    length_m: float
    via: str


@dataclass
class Route:
    """A route: total length (m), the spaces passed (from first to last), the links used."""

    length_m: float
    spaces: list[str]
    via: list[str] = field(default_factory=list)


class RouteGraph:
    """Shortest walking routes between spaces of a community.

    Parameters
    ----------
    community : Community
        The model; the graph is built once (build a new one after changes).
    elevators : bool, default False
        Whether elevators are links (for everyday trips); evacuation routes leave them out.
    elevator_equivalent_m : float, default 3.0
        Walking-distance equivalent (m) of one storey travelled by elevator.
    blocked : iterable of str, optional
        Ids of doors, stairs or elevators that are not usable.
    """

    def __init__(
        self,
        community: Community,
        *,
        elevators: bool = False,
        elevator_equivalent_m: float = 3.0,
        blocked: frozenset[str] | set[str] | list[str] = (),
    ) -> None:
        if elevator_equivalent_m < 0:
            raise QueryError(f"elevator_equivalent_m={elevator_equivalent_m} must be >= 0")
        self.community = community
        self.blocked = frozenset(blocked)
        self.index = SpatialIndex(community)
        self._spaces = {s.id: s for s in community.spaces}
        self._points = {s.id: inner_point(s.footprint) for s in community.spaces
                        if s.footprint is not None and not s.footprint.is_empty}
        self.adjacency: dict[str, list[Edge]] = {sid: [] for sid in self._spaces}
        self.adjacency[OUTSIDE] = []
        self._add_doors()
        self._add_vertical(community.stairs, lambda s: s.run_length_m, kind="stair")
        if elevators:
            self._add_vertical(community.elevators, lambda e: elevator_equivalent_m, kind="elevator")

    # -- building ----------------------------------------------------------------------
    def _link(self, a: str, b: str, length_m: float, via: str) -> None:
        self.adjacency.setdefault(a, []).append(Edge(b, length_m, via))
        self.adjacency.setdefault(b, []).append(Edge(a, length_m, via))

    def _leg(self, space_id: str, point: tuple[float, float]) -> float:
        p = self._points.get(space_id)
        return 0.0 if p is None else math.dist(p, point)

    def _add_doors(self) -> None:
        for door in self.community.doors:
            if door.id in self.blocked:
                continue
            a, b = door.spaces
            a = a if a in self._spaces else None
            b = b if b in self._spaces else None
            if a is None and b is None:
                continue
            if a is not None and b is not None:
                self._link(a, b, self._leg(a, door.position) + self._leg(b, door.position), door.id)
            elif door.is_exit or None in door.spaces:
                inside = a or b
                self._link(inside, OUTSIDE, self._leg(inside, door.position), door.id)

    def _landing(self, element, storey_id: str) -> str:
        """Return the node where a stair/elevator meets a storey (its space, or a stair node)."""
        if element.footprint is not None and not element.footprint.is_empty:
            x, y = inner_point(element.footprint)
            space = self.index.space_at(storey_id, x, y)
            if space is None:
                space = self.index.nearest_space(storey_id, x, y)
                if space is not None:
                    node = f"stair:{element.id}@{storey_id}"
                    self._link(node, space.id, space.footprint.distance(Point(x, y)), element.id)
                    return node
            if space is not None:
                return space.id
        node = f"stair:{element.id}@{storey_id}"
        self.adjacency.setdefault(node, [])
        return node

    def _add_vertical(self, elements, length_of, *, kind: str) -> None:
        storeys = {s.id: s for s in self.community.storeys}
        for element in elements:
            if element.id in self.blocked:
                continue
            ids = sorted((s for s in element.storey_ids if s in storeys),
                         key=lambda s: storeys[s].elevation_m)
            nodes = [self._landing(element, sid) for sid in ids]
            for lower, upper in zip(nodes, nodes[1:]):
                if lower != upper:
                    self._link(lower, upper, float(length_of(element)), element.id)

    # -- queries -----------------------------------------------------------------------
    def _check(self, node: str) -> None:
        if node not in self.adjacency:
            raise NotFoundError(f"no space with id {node!r} in the route graph")

    def _dijkstra(self, source: str, target: str | None = None):
        dist = {source: 0.0}
        prev: dict[str, tuple[str, str]] = {}
        heap = [(0.0, source)]
        done: set[str] = set()
        while heap:
            d, node = heapq.heappop(heap)
            if node in done:
                continue
            done.add(node)
            if node == target:
                break
            for edge in self.adjacency.get(node, ()):
                nd = d + edge.length_m
                if nd < dist.get(edge.target, math.inf):
                    dist[edge.target] = nd
                    prev[edge.target] = (node, edge.via)
                    heapq.heappush(heap, (nd, edge.target))
        return dist, prev

    def route(self, from_space_id: str, to_space_id: str) -> Route:
        """Return the shortest route between two spaces (or ``"outside"``).

        Raises
        ------
        NotFoundError
            An id is not a node of the graph.
        QueryError
            No route joins the two.
        """
        self._check(from_space_id)
        self._check(to_space_id)
        dist, prev = self._dijkstra(from_space_id, to_space_id)
        if to_space_id not in dist:
            raise QueryError(f"no route from {from_space_id!r} to {to_space_id!r}")
        nodes, vias = [to_space_id], []
        while nodes[-1] != from_space_id:
            node, via = prev[nodes[-1]]
            nodes.append(node)
            vias.append(via)
        nodes.reverse()
        vias.reverse()
        return Route(length_m=dist[to_space_id], spaces=nodes, via=vias)

    def distances_from(self, space_id: str) -> dict[str, float]:
        """Return the walking distance (m) from a space to every node it can reach."""
        self._check(space_id)
        dist, _ = self._dijkstra(space_id)
        return dist

    def to_csr(self) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(nodes, indptr, indices, lengths_m)``: the graph in CSR form for kernels."""
        nodes = sorted(self.adjacency)
        pos = {n: i for i, n in enumerate(nodes)}
        indptr = np.zeros(len(nodes) + 1, dtype=np.int64)
        indices: list[int] = []
        lengths: list[float] = []
        for i, node in enumerate(nodes):
            for edge in self.adjacency[node]:
                indices.append(pos[edge.target])
                lengths.append(edge.length_m)
            indptr[i + 1] = len(indices)
        return nodes, indptr, np.asarray(indices, dtype=np.int64), np.asarray(lengths, dtype=np.float64)
