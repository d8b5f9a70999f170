"""Spatial queries on a community: which space holds a point, what is near, public areas.

Coordinates are metres in the community's CRS (``Community.crs``).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import Point

from twin.errors import NotFoundError, QueryError
from twin.model import Community, Space, Storey

__all__ = ["SpatialIndex", "inner_point"]


def inner_point(geometry) -> tuple[float, float]:
    """Return a point inside ``geometry``: its centroid when inside, else a representative point."""
    c = geometry.centroid
    if not c.is_empty and geometry.contains(c):
        return (c.x, c.y)
    p = geometry.representative_point()
    return (p.x, p.y)


class SpatialIndex:
    """An STRtree of space footprints per storey, built once for a community.

    Parameters
    ----------
    community : Community
        The model to index. Later changes to it are not seen: build a new index.

    Examples
    --------
    >>> idx = SpatialIndex(community)            # doctest: +SKIP
    >>> idx.space_at("storey-1", 3.0, 2.5).name  # doctest: +SKIP
    'Kitchen'
    """

    def __init__(self, community: Community) -> None:
        self.community = community
        self._storeys: dict[str, Storey] = {s.id: s for s in community.storeys}
        by_storey: dict[str, list[Space]] = defaultdict(list)
        for space in community.spaces:
            if space.footprint is not None and not space.footprint.is_empty:
                by_storey[space.storey_id].append(space)
        self._spaces = dict(by_storey)
        self._trees = {
            sid: STRtree([s.footprint for s in spaces]) for sid, spaces in by_storey.items()
        }

    def _storey(self, storey_id: str) -> Storey:
        try:
            return self._storeys[storey_id]
        except KeyError:
            raise NotFoundError(f"no storey with id {storey_id!r}") from None

    def space_at(self, storey_id: str, x: float, y: float) -> Space | None:
        """Return the space of ``storey_id`` that contains the point (x, y) in metres, or None.

        Where footprints overlap (drawing errors), the smallest containing space wins.
        """
        self._storey(storey_id)
        tree = self._trees.get(storey_id)
        if tree is None:
            return None
        hits = tree.query(Point(x, y), predicate="intersects")
        if len(hits) == 0:
            return None
        spaces = [self._spaces[storey_id][i] for i in hits]
        return min(spaces, key=lambda s: s.footprint.area)

    def spaces_near(self, storey_id: str, x: float, y: float, radius_m: float) -> list[Space]:
        """Return the spaces of a storey within ``radius_m`` of (x, y), nearest first."""
        if not radius_m >= 0:
            raise QueryError(f"radius_m={radius_m!r} must be >= 0")
        self._storey(storey_id)
        tree = self._trees.get(storey_id)
        if tree is None:
            return []
        point = Point(x, y)
        hits = tree.query(point, predicate="dwithin", distance=radius_m)
        spaces = [self._spaces[storey_id][i] for i in hits]
        return sorted(spaces, key=lambda s: (s.footprint.distance(point), s.id))

    def nearest_space(self, storey_id: str, x: float, y: float) -> Space | None:
        """Return the space of a storey nearest to (x, y) (None when the storey has none)."""
        self._storey(storey_id)
        tree = self._trees.get(storey_id)
        if tree is None:
            return None
        i = tree.nearest(Point(x, y))
        return None if i is None else self._spaces[storey_id][int(i)]

    def public_spaces(self, building_id: str | None = None) -> list[Space]:
        """Return the public (common) spaces, of one building or of all."""
        return [
            s for s in self.community.spaces
            if s.is_public and (building_id is None or s.building_id == building_id)
        ]

    def storey_at(self, building_id: str, z_m: float) -> Storey:
        """Return the storey of a building whose elevation is the highest one ≤ ``z_m``.

        Below the lowest storey, the lowest storey is returned.
        """
        storeys = sorted(self.community.building(building_id).storeys, key=lambda s: s.elevation_m)
        if not storeys:
            raise QueryError(f"building {building_id!r} has no storeys")
        elevations = np.array([s.elevation_m for s in storeys])
        i = int(np.searchsorted(elevations, z_m + 1e-6, side="right")) - 1
        return storeys[max(i, 0)]

    def walkable(self, storey_id: str):
        """Return the walkable geometry of a storey: its own, else the union of its spaces."""
        storey = self._storey(storey_id)
        if storey.walkable is not None and not storey.walkable.is_empty:
            return storey.walkable
        spaces = self._spaces.get(storey_id, [])
        return shapely.union_all([s.footprint for s in spaces]) if spaces else shapely.Polygon()
