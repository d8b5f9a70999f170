"""The scenario contract: load, validate and hold an evacuation scenario.

A scenario is JSON (see ``scenario.schema.json`` beside this module and
``docs/evacuation.md``). :func:`load_scenario` reads a file, :func:`parse_scenario` a dict;
both check the JSON Schema first and then the meaning (ids unique, floors known, agents in the
walkable area, exits and stairs touching their floors) and raise :class:`ScenarioError` with
one line naming the bad value.

Coordinates are metres in the scenario's plane (any origin); times are seconds.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from sim.evacuation.errors import ScenarioError

__all__ = [
    "SCHEMA_VERSION", "Agent", "Exit", "Floor", "Group", "ModelParams", "Scenario",
    "StairLink", "load_scenario", "parse_scenario", "scenario_schema", "geometry_to_json",
]

#: Version of the scenario and result contracts written by this module.
SCHEMA_VERSION = 1


@lru_cache(maxsize=1)
def _fast_schema() -> dict:
    """The schema with coordinates checked by type only (shapely and a finite check do the
    rest): validating every number of a large site with jsonschema takes seconds."""
    fast = json.loads(json.dumps(scenario_schema()))
    fast["$defs"]["position"] = {"type": "array"}
    fast["$defs"]["ring"] = {"type": "array", "minItems": 4}
    return fast


@lru_cache(maxsize=1)
def scenario_schema() -> dict:
    """Return the scenario JSON Schema (draft 2020-12) shipped with the package."""
    text = resources.files("sim.evacuation").joinpath("scenario.schema.json").read_text("utf-8")
    return json.loads(text)


@dataclass(frozen=True)
class ModelParams:
    """Parameters of the collision-free speed model and of stairs.

    Defaults follow Tordeux et al. (2016) as shipped by JuPedSim 1.4 (radius 0.2 m, time gap
    1 s, neighbour repulsion 8 / 0.1 m, wall repulsion 5 / 0.02 m); stair factors scale an
    agent's horizontal speed to its speed along the slope (Fruin: down 0.60-1.01 m/s, up
    0.49-0.67 m/s for a 1.34 m/s walker); stair capacity 1.01 P/(m·s) is the SFPE peak
    specific flow for 7/11 stairs (k = 1.08). Within ``radius_m + wall_buffer_m`` of a wall
    the direction slides along it instead of being repelled (Xu, Chraibi & Seyfried 2021);
    agents stuck longer than ``impatience_s`` push on at ``push_speed_frac × v0``. Agents
    meeting an oncoming neighbour turn ``side_step_deg`` to their right (lane formation,
    Helbing & Molnár 1995; 0 turns it off).
    """

    radius_m: float = 0.2
    time_gap_s: float = 0.5
    strength_neighbor: float = 8.0
    range_neighbor_m: float = 0.1
    strength_wall: float = 5.0
    range_wall_m: float = 0.02
    stair_factor_down: float = 0.6
    stair_factor_up: float = 0.45
    stair_specific_flow_pmps: float = 1.01
    stair_sfpe_k_mps: float = 1.08
    impatience_s: float = 2.0
    wall_buffer_m: float = 0.02
    push_speed_frac: float = 0.1
    side_step_deg: float = 45.0


@dataclass
class Floor:
    """A floor: id, elevation (m), walkable area and obstacles (shapely, metres)."""

    id: str
    elevation_m: float
    walkable: BaseGeometry
    obstacles: list[BaseGeometry] = field(default_factory=list)


@dataclass
class StairLink:
    """A stair from ``from_floor`` (enter in ``entry``) to ``to_floor`` (leave in ``exit``)."""

    id: str
    from_floor: str
    to_floor: str
    entry: BaseGeometry
    exit: BaseGeometry
    length_m: float
    width_m: float
    speed_mps: float | None = None
    specific_flow_pmps: float | None = None
    #: An elevator trip (``use_elevators``): only mobility-impaired agents route through it.
    elevator: str | None = None
    #: People the link holds at once (default: SFPE jam density 3.76 P/m² × length × width).
    capacity: int | None = None


@dataclass
class Exit:
    """An exit: an agent is evacuated when it enters ``area`` on ``floor``."""

    id: str
    floor: str
    area: BaseGeometry


@dataclass
class Agent:
    """One explicit agent (position in m, speed in m/s, pre-movement in s)."""

    id: str
    floor: str
    x: float
    y: float
    speed_mps: float
    premovement_s: float = 0.0
    exit: str | None = None
    mobility_impaired: bool = False


@dataclass
class Group:
    """Agents spawned at random in ``area`` with distributed speed and pre-movement time."""

    id: str
    floor: str
    area: BaseGeometry
    count: int
    speed_mps: Any
    premovement_s: Any = 0.0
    exit: str | None = None
    mobility_impaired: bool = False


@dataclass
class Scenario:
    """A validated scenario (see the module docstring for units)."""

    name: str
    seed: int
    max_time_s: float
    floors: list[Floor]
    exits: list[Exit]
    stairs: list[StairLink] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    agents: list[Agent] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    dt_s: float = 0.05
    cell_m: float = 0.2
    model: ModelParams = field(default_factory=ModelParams)
    trajectory_every_s: float = 0.5
    density_cell_m: float = 1.0
    use_elevators: bool = False
    elevator_ids: list[str] = field(default_factory=list)
    _nav: dict = field(default_factory=dict, repr=False, compare=False)

    def floor(self, floor_id: str) -> Floor:
        """Return the floor with this id (raises :class:`ScenarioError`)."""
        for f in self.floors:
            if f.id == floor_id:
                return f
        raise ScenarioError(f"unknown floor {floor_id!r}")

    def navigable(self, floor_id: str) -> BaseGeometry:
        """Walkable area of a floor plus its exit and stair areas, minus obstacles (m)."""
        return _navigable(self, floor_id)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raise :class:`ScenarioError` on any problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"scenario file {str(p)!r} not found") from None
    except (IsADirectoryError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"scenario file {str(p)!r} cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"scenario {str(p)!r} is not valid JSON: {exc}") from None
    return parse_scenario(data)


def parse_scenario(data: Any, *, check_schema: bool = True) -> Scenario:
    """Validate a scenario dict against the schema and its meaning; return a :class:`Scenario`.

    ``check_schema=False`` skips the JSON Schema pass (about two thirds of the parsing time
    of a 33-storey tower) for a plain-JSON dict made by
    :func:`sim.evacuation.builder.scenario_from_community`, valid by construction; the
    meaning checks (ids, floors, geometry, finite numbers) still run.
    """
    import jsonschema

    if not isinstance(data, dict):
        raise ScenarioError("scenario must be a JSON object")
    if not check_schema:
        _check_finite(data, "")
        return _build(data)
    try:  # plain JSON types only (tuples from Python callers become lists)
        data = json.loads(json.dumps(data))
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"scenario is not JSON-serialisable: {exc}") from None
    validator = jsonschema.Draft202012Validator(_fast_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ScenarioError(f"scenario invalid at {where}: {_short(err.message)}")
    _check_finite(data, "")
    return _build(data)


def _short(msg: str, n: int = 160) -> str:
    msg = " ".join(msg.split())
    return msg if len(msg) <= n else msg[: n - 3] + "..."


def _check_finite(obj: Any, where: str) -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise ScenarioError(f"scenario invalid at {where or '(top level)'}: {obj} is not a finite number")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_finite(v, f"{where}/{k}" if where else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_finite(v, f"{where}/{i}" if where else str(i))


def _geometry(d: dict, what: str) -> BaseGeometry:
    """Return a valid (Multi)Polygon from GeoJSON ``d``; repair self-intersections."""
    try:
        g = shape(d)
    except Exception as exc:  # shapely raises several kinds on bad coordinates
        raise ScenarioError(f"{what}: bad geometry ({exc})") from None
    if not g.is_valid:
        g = shapely.make_valid(g)
        polys = [p for p in getattr(g, "geoms", [g]) if isinstance(p, (Polygon, MultiPolygon))]
        g = shapely.unary_union(polys) if polys else Polygon()
    if g.is_empty or g.area <= 0:
        raise ScenarioError(f"{what}: geometry is empty or has no area")
    return g


def geometry_to_json(g: BaseGeometry) -> dict:
    """Return the GeoJSON geometry dict of a shapely (Multi)Polygon (metres)."""
    return json.loads(shapely.to_geojson(g))


def _unique(ids: list[str], kind: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ScenarioError(f"duplicate {kind} id {i!r}")
        seen.add(i)


def _build(d: dict) -> Scenario:
    floors = [
        Floor(
            id=f["id"], elevation_m=float(f.get("elevation_m", 0.0)),
            walkable=_geometry(f["walkable"], f"floor {f['id']!r} walkable"),
            obstacles=[_geometry(o, f"floor {f['id']!r} obstacle {k}") for k, o in enumerate(f.get("obstacles", []))],
        )
        for f in d["floors"]
    ]
    _unique([f.id for f in floors], "floor")
    known = {f.id: f for f in floors}

    def need_floor(fid: str, owner: str) -> Floor:
        if fid not in known:
            raise ScenarioError(f"{owner} refers to unknown floor {fid!r}")
        return known[fid]

    exits = []
    for e in d.get("exits", []):
        fl = need_floor(e["floor"], f"exit {e['id']!r}")
        area = _geometry(e["area"], f"exit {e['id']!r} area")
        if not area.buffer(1e-6).intersects(fl.walkable):
            raise ScenarioError(f"exit {e['id']!r} is unreachable: its area does not touch the walkable area of floor {fl.id!r}")
        exits.append(Exit(e["id"], e["floor"], area))
    stairs = []
    for s in d.get("stairs", []):
        fa = need_floor(s["from_floor"], f"stair {s['id']!r}")
        fb = need_floor(s["to_floor"], f"stair {s['id']!r}")
        if fa.id == fb.id:
            raise ScenarioError(f"stair {s['id']!r} links floor {fa.id!r} to itself")
        entry = _geometry(s["entry"], f"stair {s['id']!r} entry")
        exit_ = _geometry(s["exit"], f"stair {s['id']!r} exit")
        if not entry.buffer(1e-6).intersects(fa.walkable):
            raise ScenarioError(f"stair {s['id']!r} entry does not touch the walkable area of floor {fa.id!r}")
        if not exit_.buffer(1e-6).intersects(fb.walkable):
            raise ScenarioError(f"stair {s['id']!r} exit does not touch the walkable area of floor {fb.id!r}")
        stairs.append(StairLink(s["id"], fa.id, fb.id, entry, exit_, float(s["length_m"]), float(s["width_m"]),
                                s.get("speed_mps"), s.get("specific_flow_pmps")))
    elevator_ids = [e["id"] for e in d.get("elevators", [])]
    if d.get("use_elevators", False):
        stairs += _elevator_links(d, known, exits)
    _unique([e.id for e in exits] + [s.id for s in stairs if s.elevator is None] + elevator_ids, "exit/stair/elevator")
    element_ids = {e.id for e in exits} | {s.id for s in stairs if s.elevator is None} | set(elevator_ids)
    blocked = set(d.get("blocked", []))
    for b in sorted(blocked):
        if b not in element_ids:
            raise ScenarioError(f"blocked id {b!r} is neither an exit, a stair nor an elevator of the scenario")
    for s in stairs:  # blocking an elevator blocks each of its trips
        if s.elevator is not None and s.elevator in blocked:
            blocked.add(s.id)
    exit_ids = {e.id for e in exits}
    sc = Scenario(
        name=d["name"], seed=int(d["seed"]), max_time_s=float(d["max_time_s"]), floors=floors,
        exits=exits, stairs=stairs, blocked=blocked, dt_s=float(d.get("dt_s", 0.05)),
        cell_m=float(d.get("cell_m", 0.2)), model=ModelParams(**d.get("model", {})),
        trajectory_every_s=float(d.get("record", {}).get("trajectory_every_s", 0.5)),
        use_elevators=bool(d.get("use_elevators", False)), elevator_ids=elevator_ids,
        density_cell_m=float(d.get("record", {}).get("density_cell_m", 1.0)),
    )
    for a in d.get("agents", []):
        fl = need_floor(a["floor"], f"agent {a['id']!r}")
        if a.get("exit") is not None and a["exit"] not in exit_ids:
            raise ScenarioError(f"agent {a['id']!r} is assigned to unknown exit {a['exit']!r}")
        x, y = float(a["x"]), float(a["y"])
        if not shapely.intersects_xy(sc.navigable(fl.id), x, y):
            raise ScenarioError(f"agent {a['id']!r} at ({x:g}, {y:g}) is outside the walkable area of floor {fl.id!r}")
        sc.agents.append(Agent(a["id"], fl.id, x, y, float(a["speed_mps"]), float(a.get("premovement_s", 0.0)),
                               a.get("exit"), bool(a.get("mobility_impaired", False))))
    for k, g in enumerate(d.get("groups", [])):
        gid = g.get("id", f"g{k}")
        fl = need_floor(g["floor"], f"group {gid!r}")
        if g.get("exit") is not None and g["exit"] not in exit_ids:
            raise ScenarioError(f"group {gid!r} is assigned to unknown exit {g['exit']!r}")
        area = _geometry(g["area"], f"group {gid!r} area")
        if g["count"] > 0 and area.intersection(sc.navigable(fl.id)).area <= 0:
            raise ScenarioError(f"group {gid!r} area does not overlap the walkable area of floor {fl.id!r}")
        for key in ("speed_mps", "premovement_s"):
            _check_distribution(g.get(key, 0.0), f"group {gid!r} {key}", positive=key == "speed_mps")
        sc.groups.append(Group(gid, fl.id, area, int(g["count"]), g["speed_mps"], g.get("premovement_s", 0.0),
                               g.get("exit"), bool(g.get("mobility_impaired", False))))
    _unique([a.id for a in sc.agents] + [g.id for g in sc.groups], "agent/group")
    return sc


def _elevator_links(d: dict, known: dict, exits: list) -> list[StairLink]:
    """One link per served floor to the discharge floor: travel ``door_s + |dz| / speed``;
    the car's trips (capacity per round trip to the farthest floor) shared by its floors."""
    out: list[StairLink] = []
    for e in d.get("elevators", []):
        eid, floors = e["id"], e["floors"]
        if len(e["areas"]) != len(floors):
            raise ScenarioError(f"elevator {eid!r} has {len(e['areas'])} areas for {len(floors)} floors")
        for fid in floors:
            if fid not in known:
                raise ScenarioError(f"elevator {eid!r} refers to unknown floor {fid!r}")
        areas = {fid: _geometry(a, f"elevator {eid!r} area on {fid!r}") for fid, a in zip(floors, e["areas"])}
        for fid, a in areas.items():
            if not a.buffer(1e-6).intersects(known[fid].walkable):
                raise ScenarioError(f"elevator {eid!r} area does not touch the walkable area of floor {fid!r}")
        with_exit = [f for f in floors if any(x.floor == f for x in exits)]
        dis = e.get("discharge_floor") or (with_exit[0] if with_exit else min(floors, key=lambda f: known[f].elevation_m))
        if dis not in areas:
            raise ScenarioError(f"elevator {eid!r} discharge floor {dis!r} is not one of its floors")
        speed, door = float(e.get("speed_mps", 1.5)), float(e.get("door_s", 10.0))
        cap = int(e.get("capacity", 8))
        others = [f for f in floors if f != dis]
        dz_max = max(abs(known[f].elevation_m - known[dis].elevation_m) for f in others)
        rate = cap / (2.0 * (door + dz_max / speed)) / len(others)
        for f in others:
            dz = abs(known[f].elevation_m - known[dis].elevation_m)
            out.append(StairLink(f"{eid}@{f}", f, dis, areas[f], areas[dis], dz + door * speed, 1.0,
                                 speed_mps=speed, specific_flow_pmps=rate, elevator=eid, capacity=cap))
    return out


def _check_distribution(spec: Any, what: str, *, positive: bool) -> None:
    if isinstance(spec, dict) and "uniform" in spec:
        a, b = spec["uniform"]
        if b < a:
            raise ScenarioError(f"{what}: uniform [{a}, {b}] has max < min")
        lo = a
    elif isinstance(spec, dict) and "normal" in spec:
        mean, sd, lo, hi = spec["normal"]
        if sd < 0 or hi < lo:
            raise ScenarioError(f"{what}: normal {spec['normal']} needs sd >= 0 and max >= min")
    else:
        lo = float(spec)
    if positive and lo <= 0:
        raise ScenarioError(f"{what}: speeds must be > 0 (got minimum {lo})")
    if not positive and lo < 0:
        raise ScenarioError(f"{what}: times must be >= 0 (got minimum {lo})")


def _navigable(sc: Scenario, floor_id: str) -> BaseGeometry:
    if floor_id in sc._nav:
        return sc._nav[floor_id]
    fl = sc.floor(floor_id)
    parts = [fl.walkable]
    parts += [e.area for e in sc.exits if e.floor == floor_id]
    parts += [s.entry for s in sc.stairs if s.from_floor == floor_id]
    parts += [s.exit for s in sc.stairs if s.to_floor == floor_id]
    g = shapely.unary_union(parts)
    if fl.obstacles:
        g = g.difference(shapely.unary_union(fl.obstacles))
    sc._nav[floor_id] = g
    return g
