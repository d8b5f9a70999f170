"""Build an evacuation scenario (the JSON contract) from the twin's spatial model.

Per storey of each building: a floor ``<building>/<storey>`` whose walkable area is the
storey's walkable geometry (or the union of its spaces), plus an opening at every door
(a square of the door's width centred on it, so rooms separated by walls connect) and the
stair footprints. Stairs become links between consecutive storeys, downward above the exit
level and upward below it. Exits are the doors to the outside on the exit level (a square of
the door's width centred on the door). Occupants come from the households register (their
apartment space) scaled by a time-of-day profile; visitors fill public spaces by day.

Coordinates stay in site metres (the engine shifts each floor to its own grid origin).
"""

from __future__ import annotations

import json
import math
from typing import Iterable, Mapping

import numpy as np
import shapely
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

from sim.evacuation.errors import ScenarioError

__all__ = ["AT_HOME_PROFILE", "VISITOR_DENSITY_P_M2", "at_home_fraction", "largest_remainders",
           "scenario_from_community"]

#: Share of registered residents at home by local hour range [start, end) (night: at home).
AT_HOME_PROFILE: list[tuple[int, int, float]] = [
    (0, 6, 0.95), (6, 9, 0.70), (9, 17, 0.35), (17, 22, 0.80), (22, 24, 0.95),
]
#: Visitors per m² of public space (lobbies, halls...) by local hour range.
VISITOR_DENSITY_P_M2: list[tuple[int, int, float]] = [
    (0, 7, 0.0), (7, 9, 0.02), (9, 17, 0.03), (17, 21, 0.02), (21, 24, 0.0),
]
#: Walking speed of residents (Weidmann 1.34 ± 0.26 m/s, truncated to 0.46-1.8 m/s).
RESIDENT_SPEED = {"normal": [1.34, 0.26, 0.46, 1.8]}
#: Pre-movement times (s): asleep at night (SFPE/BS PD 7974-6 order of magnitude), awake by day.
PREMOVEMENT_NIGHT = {"uniform": [60.0, 300.0]}
PREMOVEMENT_DAY = {"uniform": [30.0, 120.0]}


def _hour(time_of_day: str) -> float:
    try:
        hh, mm = time_of_day.split(":")
        h, m = int(hh), int(mm)
    except ValueError:
        raise ScenarioError(f"time_of_day={time_of_day!r} must be HH:MM") from None
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ScenarioError(f"time_of_day={time_of_day!r} must be HH:MM between 00:00 and 23:59")
    return h + m / 60


def _lookup(table, hour: float) -> float:
    for a, b, v in table:
        if a <= hour < b:
            return v
    return table[-1][2]


def at_home_fraction(time_of_day: str) -> float:
    """Share of residents at home at ``HH:MM`` local time (see :data:`AT_HOME_PROFILE`)."""
    return _lookup(AT_HOME_PROFILE, _hour(time_of_day))


def _gj(g: BaseGeometry) -> dict:
    return json.loads(shapely.to_geojson(g))


def _polygonal(g: BaseGeometry | None) -> BaseGeometry | None:
    if g is None or g.is_empty:
        return None
    if not g.is_valid:
        g = shapely.make_valid(g)
    parts = [p for p in getattr(g, "geoms", [g]) if p.geom_type in ("Polygon", "MultiPolygon") and p.area > 0]
    return shapely.unary_union(parts) if parts else None


def _door_square(d) -> BaseGeometry:
    w = max(float(d.width_m or 0.9), 0.6)
    x, y = d.position
    return box(x - w / 2, y - w / 2, x + w / 2, y + w / 2)


def _exit_level(storeys) -> str:
    return min(storeys, key=lambda s: (abs(s.elevation_m), s.elevation_m)).id


def largest_remainders(total: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Split ``total`` people over ``weights`` (Hamilton's largest-remainder method).

    Shares are ``total × w / Σw``; each key gets the floor of its share and the leftover
    people go one each to the largest remainders (ties: key order). All-zero weights split
    evenly. Returns ``{}`` for no keys.
    """
    keys = list(weights)
    if not keys or total <= 0:
        return {k: 0 for k in keys}
    w = np.array([max(float(weights[k]), 0.0) for k in keys])
    if w.sum() <= 0:
        w = np.ones(len(keys))
    share = total * w / w.sum()
    base = np.floor(share).astype(int)
    order = sorted(range(len(keys)), key=lambda i: (-(share[i] - base[i]), i))
    for i in order[: total - int(base.sum())]:
        base[i] += 1
    return {k: int(n) for k, n in zip(keys, base)}


def _live_groups(community, occupants, chosen, floor_of, walk_of, units, spaces, pre, alerted, warnings) -> list:
    """Groups of the ``occupants`` per storey, split over its households by size."""
    areas_of: dict[str, dict[str, tuple[BaseGeometry, int]]] = {}
    for h in community.households:
        u = units.get(h.unit_id)
        if u is None or u.building_id not in chosen:
            continue
        sp = spaces.get(u.space_id) if u.space_id else None
        sid = sp.storey_id if sp is not None else u.storey_id
        if sid not in floor_of:
            continue
        area = _polygonal(sp.footprint) if sp is not None else walk_of[sid]
        area = area.intersection(walk_of[sid]) if area is not None else None
        if area is not None and not area.is_empty:
            places = areas_of.setdefault(sid, {})
            gid = f"hh:{h.unit_id}"  # two household records of one unit: one group, sizes added
            places[gid] = (area, places.get(gid, (area, 0))[1] + max(int(h.size), 0))
    groups = []
    for sid, n in occupants.items():
        n = int(n)
        if n <= 0:
            continue
        if sid not in floor_of:
            warnings.append(f"{n} occupant(s) of storey {sid!r}, which is not in the scenario: skipped")
            continue
        places = areas_of.get(sid) or {f"storey:{sid}": (walk_of[sid], 1)}
        split = largest_remainders(n, {gid: size for gid, (_a, size) in places.items()})
        for gid, (area, _size) in places.items():
            k = min(split[gid], int(area.area / 0.6))
            if k < split[gid]:
                warnings.append(f"{split[gid] - k} occupant(s) of {gid!r} do not fit its area: left out")
            if k > 0:
                groups.append({"id": gid, "floor": floor_of[sid], "area": _gj(area), "count": k,
                               "speed_mps": RESIDENT_SPEED,
                               "premovement_s": PREMOVEMENT_DAY if sid in alerted else pre})
    return groups


def scenario_from_community(community, *, buildings: Iterable[str] | None = None, time_of_day: str = "02:00",
                            blocked: Iterable[str] = (), seed: int = 1, max_time_s: float = 3600.0,
                            occupants: Mapping[str, int] | None = None,
                            alerted_storeys: Iterable[str] = ()) -> dict:
    """Return the scenario dict for ``community`` (a :class:`twin.model.Community`).

    Parameters
    ----------
    buildings : iterable of str, optional
        Building ids to include (default: every building with storeys).
    time_of_day : str
        Local ``HH:MM``: sets the share of residents at home, visitors and pre-movement times.
    blocked : iterable of str
        Door, exit or stair ids to block (doors lose their opening; exits and stairs are listed
        under ``blocked``).
    seed, max_time_s
        Copied into the scenario.
    occupants : mapping of str to int, optional
        People per storey id (a live estimate) instead of the register scaled by the
        time-of-day profile: each storey's people are split over its households in
        proportion to their size (largest remainders; evenly when nobody is registered,
        over the storey's walkable area when it has no household); no visitors are added
        (the estimate counts everybody).
    alerted_storeys : iterable of str
        Storeys whose people are alerted first (the fire storey): day pre-movement times
        :data:`PREMOVEMENT_DAY` whatever the hour.

    Raises
    ------
    ScenarioError
        Unknown building or blocked id, bad time of day, or nothing to evacuate from.
    """
    hour = _hour(time_of_day)
    frac = _lookup(AT_HOME_PROFILE, hour)
    vis_density = _lookup(VISITOR_DENSITY_P_M2, hour)
    night = hour >= 22 or hour < 7
    blocked = set(blocked)
    alerted = set(alerted_storeys)
    all_b = {b.id: b for b in community.buildings}
    chosen = list(buildings) if buildings else [b.id for b in community.buildings if b.storeys]
    for b in chosen:
        if b not in all_b:
            raise ScenarioError(f"unknown building {b!r} (site has {', '.join(sorted(all_b)) or 'none'})")
    rng = np.random.default_rng(seed)
    spaces_by_storey: dict[str, list] = {}
    for sp in community.spaces:
        spaces_by_storey.setdefault(sp.storey_id, []).append(sp)
    doors_by_storey: dict[str, list] = {}
    for d in community.doors:
        doors_by_storey.setdefault(d.storey_id, []).append(d)
    known_ids = {d.id for d in community.doors} | {s.id for s in community.stairs}
    floors, exits, stairs, groups, warnings = [], [], [], [], []
    floor_of: dict[str, str] = {}
    walk_of: dict[str, BaseGeometry] = {}
    for bid in chosen:
        b = all_b[bid]
        storeys = sorted(b.storeys, key=lambda s: s.elevation_m)
        if not storeys:
            continue
        exit_sid = _exit_level(storeys)
        b_stairs = [s for s in community.stairs if s.building_id == bid and s.footprint is not None]
        for st in storeys:
            parts = [_polygonal(st.walkable)] + [_polygonal(sp.footprint) for sp in spaces_by_storey.get(st.id, [])]
            parts += [_polygonal(s.footprint) for s in b_stairs if st.id in s.storey_ids]
            parts += [_door_square(d) for d in doors_by_storey.get(st.id, []) if d.id not in blocked]
            parts = [p for p in parts if p is not None]
            if not parts:
                warnings.append(f"storey {st.id!r} of {bid!r} has no walkable area: skipped")
                continue
            walk = shapely.unary_union(parts)
            fid = f"{bid}/{st.id}"
            floor_of[st.id] = fid
            walk_of[st.id] = walk
            floors.append({"id": fid, "elevation_m": float(st.elevation_m), "walkable": _gj(walk)})
            if st.id != exit_sid:
                continue
            for d in doors_by_storey.get(st.id, []):
                if d.is_exit or (None in d.spaces and d.spaces != (None, None)):
                    exits.append({"id": d.id, "floor": fid, "area": _gj(_door_square(d))})
        # stairs between consecutive storeys: down above the exit level, up below it
        exit_z = next(s.elevation_m for s in storeys if s.id == exit_sid)
        z_of = {s.id: s.elevation_m for s in storeys}
        for s in b_stairs:
            ids = sorted([i for i in s.storey_ids if i in floor_of], key=lambda i: z_of.get(i, 0.0))
            fp = _polygonal(s.footprint)
            for lo, hi in zip(ids, ids[1:]):
                frm, to = (hi, lo) if z_of[lo] >= exit_z else (lo, hi)
                rise = abs(z_of[hi] - z_of[lo])
                length = float(s.run_length_m) if s.run_length_m and s.run_length_m > 0 else rise / math.sin(math.radians(32)) * 1.15
                sid = s.id if len(ids) == 2 else f"{s.id}/{lo}-{hi}"
                stairs.append({"id": sid, "from_floor": floor_of[frm], "to_floor": floor_of[to], "entry": _gj(fp),
                               "exit": _gj(fp), "length_m": round(length, 3), "width_m": float(s.width_m or 1.1)})
    if not floors:
        raise ScenarioError("the site has no storey with a walkable area to evacuate")
    if not exits:
        raise ScenarioError("the site has no door to the outside on an exit level: no exit")
    # occupants
    units = {u.id: u for u in community.billing_units}
    spaces = {sp.id: sp for sp in community.spaces}
    pre = PREMOVEMENT_NIGHT if night else PREMOVEMENT_DAY
    if occupants is not None:
        groups += _live_groups(community, occupants, chosen, floor_of, walk_of, units, spaces, pre,
                               alerted, warnings)
        vis_density = 0.0
    for h in community.households if occupants is None else ():
        u = units.get(h.unit_id)
        if u is None or u.building_id not in chosen:
            continue
        sp = spaces.get(u.space_id) if u.space_id else None
        sid = sp.storey_id if sp is not None else u.storey_id
        if sid not in floor_of:
            warnings.append(f"household {h.unit_id!r} has no storey in the scenario: skipped")
            continue
        area = _polygonal(sp.footprint) if sp is not None else walk_of[sid]
        area = area.intersection(walk_of[sid]) if area is not None else None
        if area is None or area.is_empty:
            continue
        n = int(rng.binomial(int(h.size), frac)) if h.size > 0 else 0
        n = min(n, int(area.area / 0.6))
        if n <= 0:
            continue
        groups.append({"id": f"hh:{h.unit_id}", "floor": floor_of[sid], "area": _gj(area), "count": n,
                       "speed_mps": RESIDENT_SPEED,
                       "premovement_s": PREMOVEMENT_DAY if sid in alerted else pre})
    if vis_density > 0:
        for sp in community.spaces:
            if sp.building_id not in chosen or sp.storey_id not in floor_of or not sp.is_public:
                continue
            if (sp.usage or "").lower() in ("stair", "stairwell", "elevator"):
                continue
            area = _polygonal(sp.footprint)
            if area is None:
                continue
            n = int(rng.poisson(vis_density * area.area))
            n = min(n, int(area.area / 0.6))
            if n > 0:
                groups.append({"id": f"visitors:{sp.id}", "floor": floor_of[sp.storey_id], "area": _gj(area),
                               "count": n, "speed_mps": RESIDENT_SPEED, "premovement_s": PREMOVEMENT_DAY})
    exit_ids = {e["id"] for e in exits}
    stair_ids = {s["id"] for s in stairs}
    scen_blocked = []
    for bid_ in sorted(blocked):
        if bid_ in exit_ids or bid_ in stair_ids:
            scen_blocked.append(bid_)
        elif any(s.startswith(bid_ + "/") for s in stair_ids):
            scen_blocked += sorted(s for s in stair_ids if s.startswith(bid_ + "/"))
        elif bid_ not in known_ids:
            raise ScenarioError(f"blocked id {bid_!r} is not a door, exit or stair of the site")
    return {
        "schema_version": 1, "name": f"{community.name} {time_of_day}", "seed": int(seed),
        "max_time_s": float(max_time_s), "floors": floors, "stairs": stairs, "exits": exits,
        "blocked": scen_blocked, "agents": [], "groups": groups,
        "source": {"site": community.name, "buildings": chosen, "time_of_day": time_of_day,
                   "at_home_fraction": frac, "blocked_doors": sorted(b for b in blocked if b not in exit_ids and b not in stair_ids),
                   "warnings": warnings},
    }
