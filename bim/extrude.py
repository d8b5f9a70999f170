"""GIS-only buildings: a usable twin from a footprint, a floor count and a height.

Old communities have no BIM. :func:`extrude_building` builds storeys by extruding the
footprint; each storey gets a corridor along the footprint's long axis, a core of stairs and
elevator shafts on one side of it, and apartments filling the rest, with doors
(apartment↔corridor, corridor↔stair, corridor↔elevator) and exit doors from the ground
storey corridor to the outside. Stairs link consecutive storeys; elevators serve all storeys.

Ids: storeys ``<building>-F<nn>`` (``F01`` = ground), spaces ``<building>-F<nn>-CORR``,
``-ST<k>``, ``-EL<k>``, ``-A<mm>`` (apartments numbered north side first, west to east, in
the footprint's own frame), doors ``<space>-D``, exits ``<building>-F01-X<k>``, stairs
``<building>-ST<k>``, elevators ``<building>-EL<k>``.

Defaults follow the Chinese codes (GB 50016 fire code, GB 50096 residential design code):
buildings over 27 m or of 12+ storeys get 2 stairs 1.2 m wide and 2 elevators, others
1 stair 1.1 m wide and 1 elevator; a one-storey building gets no stair or elevator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import shapely
from shapely import affinity
from shapely.geometry import LineString, MultiLineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from bim.errors import GisError
from twin.model import Building, Door, Elevator, Space, Stair, StairFlight, Storey

__all__ = [
    "DEFAULT_STOREY_HEIGHT_M", "Core", "BuildingParts", "default_core", "extrude_building",
    "stair_run_length_m",
]

#: Storey height used when a footprint states only floors or only height (m): the middle
#: of the 2.8–3.0 m typical of flats (GB 50096 recommends 2.80 m).
DEFAULT_STOREY_HEIGHT_M = 2.9
#: Buildings above this height (m) are high-rise (GB 50016).
HIGH_RISE_M = 27.0
#: Storey count from which two elevators are required (GB 50096).
TWO_ELEVATOR_STOREYS = 12
RISER_MAX_M = 0.175
TREAD_M = 0.27
FLAT_DOOR_M = 0.9
EXIT_DOOR_M = 1.2
ELEVATOR_SHAFT_M = 2.4
ELEVATOR_CAPACITY_KG = 1000.0
#: Target gross area per apartment (m²) when the manifest does not state a count.
APARTMENT_TARGET_M2 = 90.0
_MIN_REGION_M2 = 12.0
_EPS = 1e-6


@dataclass(frozen=True)
class Core:
    """Stair/elevator core and layout of a GIS-only building (widths in m)."""

    stairs: int
    elevators: int
    stair_width_m: float
    corridor_width_m: float = 1.5
    apartments_per_floor: int | None = None

    def __post_init__(self):
        for name in ("stair_width_m", "corridor_width_m"):
            if not getattr(self, name) > 0:
                raise GisError(f"{name}={getattr(self, name)} must be > 0")
        if self.stairs < 0 or self.elevators < 0:
            raise GisError(f"stairs={self.stairs}, elevators={self.elevators} must be >= 0")


@dataclass
class BuildingParts:
    """Everything :func:`extrude_building` makes: the building (with its storeys) and its
    spaces, doors, stairs and elevators, plus warnings about the layout."""

    building: Building
    spaces: list[Space] = field(default_factory=list)
    doors: list[Door] = field(default_factory=list)
    stairs: list[Stair] = field(default_factory=list)
    elevators: list[Elevator] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def default_core(floors: int, height_m: float) -> Core:
    """Return the default core for a building of ``floors`` storeys and ``height_m`` metres.

    Notes
    -----
    GB 50016: residential buildings over 27 m are high-rise and need two exits per floor in
    the common cases; GB 50096: 12+ storeys need two elevators, stairs ≥ 1.1 m wide.
    """
    if floors <= 1:
        return Core(stairs=0, elevators=0, stair_width_m=1.1)
    if height_m > HIGH_RISE_M or floors >= TWO_ELEVATOR_STOREYS:
        return Core(stairs=2, elevators=2, stair_width_m=1.2)
    return Core(stairs=1, elevators=1, stair_width_m=1.1)


def stair_run_length_m(storey_height_m: float, stair_width_m: float = 1.1) -> float:
    """Return the walking length (m) of a two-flight stair between consecutive storeys.

    The rise is split into ``n = ceil(h / 0.175)`` equal risers, each walked along the slope
    with a 0.27 m tread (``hypot(h/n, 0.27)``), plus the walk across the intermediate landing
    (one stair width).

    >>> round(stair_run_length_m(2.9, 1.1), 3)  # 17 risers of 0.1706 m
    6.529

    Notes
    -----
    Typical evacuation stairs: riser 0.16–0.175 m, tread 0.26–0.28 m, two flights per storey
    with a landing (≈ 2 × 9 steps per storey).
    """
    if not storey_height_m > 0:
        raise GisError(f"storey_height_m={storey_height_m} must be > 0")
    n = math.ceil(storey_height_m / RISER_MAX_M - 1e-9)
    return n * math.hypot(storey_height_m / n, TREAD_M) + stair_width_m


def _resolve_floors(fid: str, floors: int | None, height_m: float | None,
                    storey_height_m: float | None) -> tuple[int, float]:
    if floors is None and height_m is None:
        raise GisError(f"building {fid!r}: needs floors or height_m")
    if floors is None:
        floors = max(1, round(height_m / (storey_height_m or DEFAULT_STOREY_HEIGHT_M)))
    if height_m is None:
        height_m = floors * (storey_height_m or DEFAULT_STOREY_HEIGHT_M)
    if floors < 1 or not height_m > 0:
        raise GisError(f"building {fid!r}: floors={floors}, height_m={height_m} must be > 0")
    if height_m / floors < 1.8:
        raise GisError(f"building {fid!r}: height_m={height_m} is too low for floors={floors}")
    return int(floors), float(height_m)


# -- plan layout (in the footprint's own frame: long axis along x) --------------------------
@dataclass
class _Plan:
    corridor: Polygon
    stairs: list[BaseGeometry]
    elevators: list[BaseGeometry]
    apartments: list[BaseGeometry]
    exits: list[Point]
    warnings: list[str]


def _axis(poly: Polygon) -> tuple[float, Point]:
    """Angle (deg) of the long side of the minimum rotated rectangle, and its centre."""
    rect = poly.minimum_rotated_rectangle
    coords = list(rect.exterior.coords) if isinstance(rect, Polygon) else list(poly.exterior.coords)
    edges = [(coords[i], coords[i + 1]) for i in range(min(2, len(coords) - 1))]
    (x0, y0), (x1, y1) = max(edges, key=lambda e: math.dist(*e))
    angle = math.degrees(math.atan2(y1 - y0, x1 - x0))
    angle = (angle + 90.0) % 180.0 - 90.0  # keep within (-90, 90]: stable "west to east"
    return angle, rect.centroid


def _parts(geom: BaseGeometry) -> list[Polygon]:
    if geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    return [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and g.area > _EPS]


def _shared(a: BaseGeometry, b: BaseGeometry) -> LineString | None:
    """Longest line of the common boundary of two touching polygons, or ``None``."""
    common = a.buffer(1e-4).intersection(b.boundary)
    lines = [g for g in (common.geoms if hasattr(common, "geoms") else [common])
             if isinstance(g, (LineString, MultiLineString))]
    lines = [p for g in lines for p in (g.geoms if isinstance(g, MultiLineString) else [g])]
    return max(lines, key=lambda g: g.length) if lines else None


def _split_x(region: Polygon, k: int) -> list[BaseGeometry]:
    """Split ``region`` into ``k`` pieces of equal area by cuts across the x axis."""
    minx, miny, maxx, maxy = region.bounds
    total = region.area
    cuts = [minx]
    for j in range(1, k):
        lo, hi = cuts[-1], maxx
        target = total * j / k
        for _ in range(40):
            mid = (lo + hi) / 2
            if region.intersection(box(minx - 1, miny - 1, mid, maxy + 1)).area < target:
                lo = mid
            else:
                hi = mid
        cuts.append((lo + hi) / 2)
    cuts.append(maxx)
    return [region.intersection(box(a if i else a - 1, miny - 1, b if i < k - 1 else b + 1, maxy + 1))
            for i, (a, b) in enumerate(zip(cuts[:-1], cuts[1:]))]


def _allocate(areas: list[float], n: int) -> list[int]:
    """Largest-remainder allocation of ``n`` apartments over regions, at least one each."""
    n = max(n, len(areas))
    spare = n - len(areas)
    total = sum(areas)
    quotas = [spare * a / total for a in areas]
    counts = [1 + math.floor(q) for q in quotas]
    order = sorted(range(len(areas)), key=lambda i: (-(quotas[i] - math.floor(quotas[i])), i))
    for i in order[: n - sum(counts)]:
        counts[i] += 1
    return counts


def _plan(local: Polygon, core: Core, fid: str) -> _Plan:
    """Lay out one storey of ``local`` (a footprint turned so its long axis runs along x)."""
    warnings: list[str] = []
    minx, miny, maxx, maxy = local.bounds
    ymid, xmid = (miny + maxy) / 2, (minx + maxx) / 2
    half = core.corridor_width_m / 2
    strip = local.intersection(box(minx - 1, ymid - half, maxx + 1, ymid + half))
    pieces = _parts(strip)
    if not pieces:
        raise GisError(f"building {fid!r}: footprint too small for a corridor")
    centre = Point(xmid, ymid)
    corridor = min(pieces, key=lambda p: (p.distance(centre), -p.area))
    # core cells: a row of shafts beside the corridor's middle, reaching the facade; on the
    # north side unless the south side holds more of them
    widths = [("stair", 2 * core.stair_width_m + 0.2)] * core.stairs
    lifts = [("elevator", ELEVATOR_SHAFT_M)] * core.elevators
    row = widths[:1] + lifts + widths[1:]
    cminx, _, cmaxx, _ = corridor.bounds
    x0 = (cminx + cmaxx) / 2 - sum(w for _, w in row) / 2
    best = None
    for side in (1, -1):
        y_near, y_far = (ymid + half, maxy + 1) if side > 0 else (miny - 1, ymid - half)
        cells, x = [], x0
        for _, width in row:
            cell = local.intersection(box(x, y_near, x + width, y_far))
            cells.append(max(_parts(cell), key=lambda p: p.area, default=Polygon()))
            x += width
        score = min((c.area for c in cells), default=0.0)
        if best is None or score > best[0] + 1e-9:
            best = (score, cells)
    cells = {"stair": [], "elevator": []}
    for (kind, _), cell in zip(row, best[1]):
        if cell.area < 1.0:
            raise GisError(f"building {fid!r}: footprint too small for its {kind} core")
        cells[kind].append(cell)
    used = shapely.union_all([corridor, *cells["stair"], *cells["elevator"]])
    zone = local.difference(used)
    regions = sorted(_parts(zone), key=lambda p: -p.area)
    big = [r for r in regions if r.area >= _MIN_REGION_M2]
    for small in regions[len(big):]:
        corridor = corridor.union(small) if _shared(small, corridor) else corridor
    if isinstance(corridor, Polygon) is False:
        corridor = max(_parts(corridor), key=lambda p: p.area)
    n = core.apartments_per_floor or max(1, round(sum(r.area for r in big) / APARTMENT_TARGET_M2))
    if core.apartments_per_floor and core.apartments_per_floor < len(big):
        warnings.append(f"building {fid!r}: apartments_per_floor={core.apartments_per_floor} "
                        f"raised to {len(big)} (one per part of the plan)")
    apartments: list[BaseGeometry] = []
    for region, k in zip(big, _allocate([r.area for r in big], n) if big else []):
        apartments.extend(p for p in _split_x(region, k) if not p.is_empty)
    apartments = _merge_unreached(apartments, corridor, fid, warnings)
    apartments.sort(key=lambda p: (p.centroid.y < ymid, round(p.centroid.x, 3)))
    exits = []
    rim = _shared(corridor, local)
    facade = corridor.buffer(1e-4).intersection(local.exterior)
    segs = [g for g in getattr(facade, "geoms", [facade]) if isinstance(g, LineString) and g.length >= 1.0]
    for seg in sorted(segs, key=lambda g: g.centroid.x)[:1] + sorted(segs, key=lambda g: g.centroid.x)[1:][-1:]:
        exits.append(seg.interpolate(0.5, normalized=True))
    if not exits:
        exits.append(rim.interpolate(0.5, normalized=True) if rim is not None
                     else local.exterior.interpolate(local.exterior.project(corridor.centroid)))
    return _Plan(corridor, cells["stair"], cells["elevator"], apartments, exits, warnings)


def _merge_unreached(flats: list[BaseGeometry], corridor: BaseGeometry, fid: str,
                     warnings: list[str]) -> list[BaseGeometry]:
    """Merge each apartment piece that does not touch the corridor into a neighbour that
    does (non-convex footprints), so every apartment has a door to the corridor."""
    reached = [f for f in flats if _door_between(f, corridor) is not None]
    pending = [f for f in flats if _door_between(f, corridor) is None]
    while pending:
        progress = False
        for piece in list(pending):
            near = [i for i, f in enumerate(reached) if _door_between(piece, f) is not None]
            if near:
                i = max(near, key=lambda j: _shared(piece, reached[j]).length)
                reached[i] = reached[i].union(piece)
                pending.remove(piece)
                progress = True
        if not progress:
            warnings.append(f"building {fid!r}: {len(pending)} part(s) of the plan cannot be "
                            "reached from the corridor; left out")
            break
    return reached


def _door_between(a: BaseGeometry, b: BaseGeometry) -> Point | None:
    line = _shared(a, b)
    return line.interpolate(0.5, normalized=True) if line is not None and line.length >= 0.5 else None


def extrude_building(fid: str, name: str, footprint: Polygon, *, floors: int | None,
                     height_m: float | None, core: Core | None = None,
                     storey_height_m: float | None = None) -> BuildingParts:
    """Build a GIS-only building: storeys, spaces, doors, stairs and elevators.

    Parameters
    ----------
    fid : str
        Building id (the GIS feature id); every generated id starts with it.
    name : str
        Display name.
    footprint : Polygon
        Plan outline in site coordinates (m).
    floors, height_m : int or None, float or None
        Storey count and roof height (m); a missing one is derived from the other with
        :data:`DEFAULT_STOREY_HEIGHT_M` (or ``storey_height_m``).
    core : Core, optional
        Stairs, elevators and widths; default :func:`default_core`.

    Returns
    -------
    BuildingParts
        Storey ``i`` (0-based) has elevation ``i * height_m / floors`` (m).

    Raises
    ------
    GisError
        When floors/height are missing or inconsistent, or the footprint cannot hold the
        corridor and core.
    """
    if not isinstance(footprint, Polygon) or footprint.is_empty or footprint.area < 4.0:
        raise GisError(f"building {fid!r}: footprint must be a polygon of at least 4 m²")
    floors, height_m = _resolve_floors(fid, floors, height_m, storey_height_m)
    core = core or default_core(floors, height_m)
    if floors == 1 and (core.stairs or core.elevators):
        core = Core(0, 0, core.stair_width_m, core.corridor_width_m, core.apartments_per_floor)
    angle, origin = _axis(footprint)
    local = affinity.rotate(footprint, -angle, origin=origin)
    plan = _plan(local, core, fid)

    def place(geom):
        return affinity.rotate(geom, angle, origin=origin)

    corridor = place(plan.corridor)
    stair_cells = [place(g) for g in plan.stairs]
    lift_cells = [place(g) for g in plan.elevators]
    flats = [place(g) for g in plan.apartments]
    exits = [place(p) for p in plan.exits]
    storey_h = height_m / floors
    parts = BuildingParts(Building(id=fid, name=name, source="gis", footprint=footprint,
                                   floors=floors, height_m=height_m,
                                   attributes={"core": core.__dict__.copy(), "generated": True}),
                          warnings=list(plan.warnings))
    width = 2 if floors < 100 else 3
    storeys = []
    for i in range(floors):
        sid = f"{fid}-F{i + 1:0{width}d}"
        storey = Storey(id=sid, name=f"F{i + 1}", building_id=fid, elevation_m=i * storey_h,
                        height_m=storey_h)
        _fill_storey(parts, storey, i, corridor, stair_cells, lift_cells, flats, exits, core)
        storeys.append(storey)
    parts.building.storeys = storeys
    ids = [s.id for s in storeys]
    run = stair_run_length_m(storey_h, core.stair_width_m)
    for k, cell in enumerate(stair_cells, 1):
        parts.stairs.append(Stair(
            id=f"{fid}-ST{k}", name=f"Stair {k}", building_id=fid, storey_ids=list(ids),
            footprint=cell, width_m=core.stair_width_m, run_length_m=run,
            flights=[StairFlight(id=f"{fid}-ST{k}-{s.name}", storey_id=s.id, footprint=cell,
                                 width_m=core.stair_width_m, run_length_m=run) for s in storeys[:-1]],
            attributes={"spaces": {s: f"{s}-ST{k}" for s in ids}, "generated": True},
        ))
    for k, cell in enumerate(lift_cells, 1):
        parts.elevators.append(Elevator(
            id=f"{fid}-EL{k}", name=f"Elevator {k}", building_id=fid, storey_ids=list(ids),
            footprint=cell, capacity_kg=ELEVATOR_CAPACITY_KG,
            attributes={"spaces": {s: f"{s}-EL{k}" for s in ids}, "generated": True},
        ))
    return parts


def _fill_storey(parts: BuildingParts, storey: Storey, i: int, corridor, stair_cells,
                 lift_cells, flats, exits, core: Core) -> None:
    sid, fid, h = storey.id, storey.building_id, storey.height_m

    def space(key: str, geom, usage: str, name: str, **attrs) -> Space:
        sp = Space(id=f"{sid}-{key}", name=name, storey_id=sid, building_id=fid,
                   footprint=geom, usage=usage, area_m2=float(geom.area), height_m=h,
                   attributes={"generated": True, **attrs})
        parts.spaces.append(sp)
        return sp

    corr = space("CORR", corridor, "corridor", f"{storey.name} corridor")

    def door(sp: Space, width_m: float, kind: str) -> None:
        pos = _door_between(sp.footprint, corridor)
        if pos is None:
            parts.warnings.append(f"space {sp.id!r} does not touch its corridor; no door")
            return
        parts.doors.append(Door(id=f"{sp.id}-D", name=f"{sp.name} door", storey_id=sid,
                                building_id=fid, position=(pos.x, pos.y), width_m=width_m,
                                spaces=(sp.id, corr.id), attributes={"kind": kind, "generated": True}))

    walk = [corridor]
    for k, cell in enumerate(stair_cells, 1):
        door(space(f"ST{k}", cell, "stair", f"{storey.name} stair {k}"), core.stair_width_m, "stair")
        walk.append(cell)
    for k, cell in enumerate(lift_cells, 1):
        door(space(f"EL{k}", cell, "elevator", f"{storey.name} elevator {k}"), FLAT_DOOR_M, "elevator")
    for k, flat in enumerate(flats, 1):
        sp = space(f"A{k:02d}", flat, "apartment", f"{i + 1}{k:02d}", unit_no=f"{i + 1}{k:02d}")
        door(sp, FLAT_DOOR_M, "apartment")
        walk.append(flat)
    if i == 0:
        for k, p in enumerate(exits, 1):
            parts.doors.append(Door(id=f"{sid}-X{k}", name=f"Exit {k}", storey_id=sid,
                                    building_id=fid, position=(p.x, p.y), width_m=EXIT_DOOR_M,
                                    spaces=(corr.id, None), is_exit=True,
                                    attributes={"kind": "exit", "generated": True}))
    storey.walkable = shapely.union_all(walk)
