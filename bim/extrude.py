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
    "resolve_floors", "stair_run_length_m",
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
_GRID_M = 1e-6


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


def resolve_floors(fid: str, floors: int | None, height_m: float | None,
                    storey_height_m: float | None = None) -> tuple[int, float]:
    """Return ``(floors, height_m)``, deriving a missing one from the other.

    Raises
    ------
    GisError
        Both missing, or a storey lower than 1.8 m.
    """
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


def _and(a: BaseGeometry, b: BaseGeometry) -> BaseGeometry:
    """Intersection on the plan grid (robust: no slivers from rounding)."""
    return shapely.intersection(a, b, grid_size=_GRID_M)


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
            if _and(region, box(minx - 1, miny - 1, mid, maxy + 1)).area < target:
                lo = mid
            else:
                hi = mid
        cuts.append((lo + hi) / 2)
    cuts.append(maxx)
    return [_and(region, box(a if i else a - 1, miny - 1, b if i < k - 1 else b + 1, maxy + 1))
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
    corridor = _corridor(local, core.corridor_width_m, fid)
    cells = _core_cells(local, corridor, _core_row(corridor, core), fid)
    corridor, apartments = _apartments(local, corridor, cells, core, fid, warnings)
    return _Plan(corridor, cells["stair"], cells["elevator"], apartments,
                 _exits(local, corridor), warnings)


def _corridor(local: Polygon, width_m: float, fid: str) -> Polygon:
    """The corridor: a strip of ``width_m`` along x, as long as the plan allows.

    Candidate positions across the plan (every 5 % of its depth) are tried; among the
    strips within 5 % of the longest, the one nearest the middle wins (a rectangle's is its
    middle; a T or U shape gets its corridor along the long bar).
    """
    minx, miny, maxx, maxy = local.bounds
    ymid, depth = (miny + maxy) / 2, maxy - miny
    candidates = []  # (area, |offset step|, distance to the plan's middle, strip)
    for k in range(-9, 10):
        y = ymid + k * depth / 20
        if y - width_m / 2 < miny - 1e-9 or y + width_m / 2 > maxy + 1e-9:
            continue
        strip = _and(local, box(minx - 1, y - width_m / 2, maxx + 1, y + width_m / 2))
        centre = Point((minx + maxx) / 2, y)
        candidates += [(p.area, abs(k), p.distance(centre), p) for p in _parts(strip)]
    if not candidates:
        raise GisError(f"building {fid!r}: footprint too small for a corridor")
    longest = max(c[0] for c in candidates)
    # within 5 % of the longest, the most central (skewed rectangles keep a middle corridor)
    near = [c for c in candidates if c[0] >= 0.95 * longest]
    return min(near, key=lambda c: (c[1], c[2], -c[0]))[3]


def _core_row(corridor: Polygon, core: Core) -> list[tuple[str, float, float]]:
    """Where the shafts go along the corridor: ``(kind, x from, x to)``.

    Two or more stairs are spread to the quarter points of the corridor when it is long
    enough (exits apart, GB 50016), elevators in the middle; otherwise one compact row
    (stair, elevators, stairs) at the middle. Stair shafts are ``2 × width + 0.2`` m wide
    (two flights and a gap), elevator shafts 2.4 m.
    """
    stair_w = 2 * core.stair_width_m + 0.2
    cminx, _, cmaxx, _ = corridor.bounds
    length, middle = cmaxx - cminx, (cminx + cmaxx) / 2
    lifts = [("elevator", ELEVATOR_SHAFT_M)] * core.elevators
    spread = length / 4 >= (stair_w * (core.stairs - 1) / 2
                            + max(stair_w, ELEVATOR_SHAFT_M * core.elevators) / 2 + 1.0)
    if core.stairs >= 2 and spread:
        groups = [(cminx + length / 4, [("stair", stair_w)]), (middle, lifts),
                  (cminx + 3 * length / 4, [("stair", stair_w)] * (core.stairs - 1))]
    else:
        groups = [(middle, [("stair", stair_w)] * min(core.stairs, 1) + lifts
                   + [("stair", stair_w)] * max(core.stairs - 1, 0))]
    row = []
    for at, members in groups:
        x = at - sum(w for _, w in members) / 2
        for kind, width in members:
            row.append((kind, x, x + width))
            x += width
    return row


def _core_cells(local: Polygon, corridor: Polygon, row, fid: str) -> dict[str, list[Polygon]]:
    """Shafts from the corridor to the facade, on the side (north first) that holds them
    best (largest smallest cell)."""
    _, miny, _, maxy = local.bounds
    _, cminy, _, cmaxy = corridor.bounds

    def touch(cell: Polygon) -> tuple[bool, float]:  # the part opening onto the corridor
        return (_door_between(cell, corridor) is not None, cell.area)

    best = None
    for y_near, y_far in ((cmaxy, maxy + 1), (miny - 1, cminy)):
        cells = [max(_parts(_and(local, box(x0, y_near, x1, y_far))), key=touch,
                     default=Polygon()) for _, x0, x1 in row]
        score = min((c.area if touch(c)[0] else 0.0 for c in cells), default=0.0)
        if best is None or score > best[0] + 1e-9:
            best = (score, cells)
    result: dict[str, list[Polygon]] = {"stair": [], "elevator": []}
    for (kind, _, _), cell in zip(row, best[1]):
        if cell.area < 1.0:
            raise GisError(f"building {fid!r}: footprint too small for its {kind} core")
        result[kind].append(cell)
    return result


def _apartments(local: Polygon, corridor: Polygon, cells: dict[str, list[Polygon]], core: Core,
                fid: str, warnings: list[str]) -> tuple[Polygon, list[BaseGeometry]]:
    """Fill the rest of the plan with apartments; return the (grown) corridor and them.

    Each part of the plan of at least 12 m² gets ``round(area / 90 m²)`` apartments (at
    least one; ``apartments_per_floor`` shares that number out by area instead), cut across
    x into equal areas. Smaller parts join the corridor when they open onto it, else a
    neighbour.
    """
    used = shapely.union_all([corridor, *cells["stair"], *cells["elevator"]], grid_size=_GRID_M)
    regions = sorted(_parts(shapely.difference(local, used, grid_size=_GRID_M)), key=lambda p: -p.area)
    big = [r for r in regions if r.area >= _MIN_REGION_M2]
    leftovers = []
    for small in regions[len(big):]:
        joined = shapely.union(corridor, small, grid_size=_GRID_M)
        if _door_between(small, corridor) is not None and isinstance(joined, Polygon):
            corridor = joined
        else:
            leftovers.append(small)
    areas = [r.area for r in big]
    if core.apartments_per_floor:
        if core.apartments_per_floor < len(big):
            warnings.append(f"building {fid!r}: apartments_per_floor={core.apartments_per_floor} "
                            f"raised to {len(big)} (one per part of the plan)")
        counts = _allocate(areas, core.apartments_per_floor) if big else []
    else:
        counts = [max(1, round(a / APARTMENT_TARGET_M2)) for a in areas]
    flats = [p for region, k in zip(big, counts) for p in _split_x(region, k) if not p.is_empty]
    flats = _merge_unreached(flats + leftovers, corridor, [cells["stair"], cells["elevator"]],
                             fid, warnings)
    ymid = corridor.centroid.y
    flats.sort(key=lambda p: (p.centroid.y < ymid, round(p.centroid.x, 3)))
    return corridor, flats


def _exits(local: Polygon, corridor: Polygon) -> list[Point]:
    """Exit positions: where the corridor meets the facade, at its two ends."""
    facade = corridor.buffer(1e-4).intersection(local.exterior)
    segs = sorted((g for g in getattr(facade, "geoms", [facade])
                   if isinstance(g, LineString) and g.length >= 1.0), key=lambda g: g.centroid.x)
    ends = segs[:1] + segs[1:][-1:]
    if ends:
        return [seg.interpolate(0.5, normalized=True) for seg in ends]
    rim = _shared(corridor, local)
    if rim is not None:
        return [rim.interpolate(0.5, normalized=True)]
    return [local.exterior.interpolate(local.exterior.project(corridor.centroid))]


def _merge_unreached(flats: list[BaseGeometry], corridor: BaseGeometry,
                     hosts: list[list[BaseGeometry]], fid: str, warnings: list[str]) -> list[BaseGeometry]:
    """Merge each piece that does not touch the corridor into a neighbouring apartment that
    does (non-convex footprints), else into a neighbouring core cell of ``hosts`` (lists
    changed in place), so every apartment has a door to the corridor and no area is lost."""
    reached = [f for f in flats if _door_between(f, corridor) is not None]
    pending = [f for f in flats if _door_between(f, corridor) is None]
    while pending:
        progress = False
        for piece in list(pending):
            near = [(line.length, group, i)
                    for group in [reached, *hosts] for i, f in enumerate(group)
                    if (line := _shared(piece, f)) is not None]
            if near:
                _, group, i = max(near, key=lambda t: t[0])
                group[i] = shapely.union(group[i], piece, grid_size=_GRID_M)
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
    floors, height_m = resolve_floors(fid, floors, height_m, storey_height_m)
    core = core or default_core(floors, height_m)
    if floors == 1 and (core.stairs or core.elevators):
        core = Core(0, 0, core.stair_width_m, core.corridor_width_m, core.apartments_per_floor)
    angle, origin = _axis(footprint)
    # plan in a frame centred on the footprint, long axis along x, overlays on a 1 µm grid (no slivers)
    local = affinity.translate(affinity.rotate(footprint, -angle, origin=origin), -origin.x, -origin.y)
    local = shapely.set_precision(local, _GRID_M)
    plan = _plan(local, core, fid)

    def place(geom):
        return affinity.rotate(affinity.translate(geom, origin.x, origin.y), angle, origin=origin)

    walkable = place(shapely.union_all([plan.corridor, *plan.stairs, *plan.apartments],
                                       grid_size=_GRID_M))
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
        storey.walkable = walkable
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

    for k, cell in enumerate(stair_cells, 1):
        door(space(f"ST{k}", cell, "stair", f"{storey.name} stair {k}"), core.stair_width_m, "stair")
    for k, cell in enumerate(lift_cells, 1):
        door(space(f"EL{k}", cell, "elevator", f"{storey.name} elevator {k}"), FLAT_DOOR_M, "elevator")
    for k, flat in enumerate(flats, 1):
        sp = space(f"A{k:02d}", flat, "apartment", f"{i + 1}{k:02d}", unit_no=f"{i + 1}{k:02d}")
        door(sp, FLAT_DOOR_M, "apartment")
    if i == 0:
        for k, p in enumerate(exits, 1):
            parts.doors.append(Door(id=f"{sid}-X{k}", name=f"Exit {k}", storey_id=sid,
                                    building_id=fid, position=(p.x, p.y), width_m=EXIT_DOOR_M,
                                    spaces=(corr.id, None), is_exit=True,
                                    attributes={"kind": "exit", "generated": True}))
