"""Foot traffic per cleaning area and hour: a daily crowd-flow model, or counter history.

**Crowd flow.** Residents of every apartment make trips by purpose and time of day
(commute through a gate or the garage, errands through a gate, visits to the plaza and
playground). Each trip walks the twin's route graph from the apartment to the outside
(shortest path on :class:`twin.routes.RouteGraph` with elevator rides,
:mod:`sim.cleaning.network`), then outdoors on a
straight line from the building exit to the destination; every area on the way counts a
passage. Expected passages per route and hour are fixed by the purpose profiles; the
realised day draws Poisson counts per route and hour in a numba kernel
(:func:`accumulate_kernel`) with one random stream per (day, route, hour).

**Counters.** A CSV ``area_id, timestamp, count`` (people counters, gate logs) gives hourly
counts for the areas it covers; the other areas get crowd-flow estimates scaled so that
the counted areas' totals match (docs/cleaning.md).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from numba import prange
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString

from sim.cleaning.areas import SiteLayout
from sim.cleaning.errors import CleaningParameterError, TrafficError
from sim.cleaning.network import walk_matrix
from sim.numba_config import jit, pjit
from sim.rng import poisson, seed_state
from twin.model import Community
from twin.routes import OUTSIDE

__all__ = ["FlowParams", "Routes", "build_routes", "expected_traffic", "simulate_traffic",
           "read_traffic_csv", "traffic_from_counts", "accumulate_kernel"]

log = logging.getLogger(__name__)

HOURS = 24
APARTMENT_USAGES = {"apartment", "flat", "residential", "dwelling", "unit"}


def _profile(peaks: list[tuple[float, float, float]]) -> np.ndarray:
    """Hourly shares (sum 1) from Gaussian bumps ``(hour, width_h, weight)``."""
    h = np.arange(HOURS) + 0.5
    p = sum(w * np.exp(-0.5 * ((h - c) / s) ** 2) for c, s, w in peaks)
    return p / p.sum()


@dataclass(frozen=True)
class FlowParams:
    """Trip rates (passages per resident per day; an outing is two passages) and profiles.

    Defaults: ~55% of residents commute (one round trip), 35% of them by car through the
    garage; 0.8 errand outings and 0.4 amenity visits per resident and day; weekends
    scale commuting ×0.3, errands ×1.4, amenities ×1.8. Households of unknown size count
    ``residents_default`` people (China's mean household size is about 2.6). Routing
    weighs stair metres ×``stair_effort`` so that residents ride elevators where there are
    some; gates are chosen with weight ``exp(-extra distance / gate_decay_m)``.
    """

    residents_default: float = 2.6
    commute: float = 1.1
    car_share: float = 0.35
    errands: float = 1.6
    amenity: float = 0.8
    weekend_commute: float = 0.3
    weekend_errands: float = 1.4
    weekend_amenity: float = 1.8
    gate_decay_m: float = 200.0
    stair_effort: float = 2.0

    def profiles(self) -> dict[str, np.ndarray]:
        """Hourly share of each purpose's passages (index 0 = 00:00-01:00)."""
        return {
            "commute": _profile([(7.8, 0.8, 1.0), (18.3, 1.2, 1.0)]),
            "errands": _profile([(10.0, 2.0, 1.0), (16.5, 2.5, 1.2), (20.0, 1.2, 0.5)]),
            "amenity": _profile([(9.5, 1.2, 0.8), (16.0, 1.5, 1.0), (19.5, 1.2, 1.0)]),
        }


@dataclass
class Routes:
    """Trip routes of a site: areas each route passes and expected passages per hour.

    ``ptr``/``areas`` is a CSR list (route r passes ``areas[ptr[r]:ptr[r+1]]``);
    ``weekday[r, h]`` / ``weekend[r, h]`` expected passages in hour ``h``.
    """

    ptr: np.ndarray
    areas: np.ndarray
    weekday: np.ndarray
    weekend: np.ndarray

    @property
    def count(self) -> int:
        return len(self.ptr) - 1


# -- routes from the twin -------------------------------------------------------------------
def _apartments(c: Community, params: FlowParams) -> dict[str, float]:
    """Apartment space id → residents (households register where known)."""
    size_of = {h.unit_id: float(h.size) for h in c.households}
    spaces = {s.id: s for s in c.spaces}
    out: dict[str, float] = {}
    for u in c.billing_units:
        if u.kind == "apartment" and u.space_id in spaces:
            out[u.space_id] = out.get(u.space_id, 0.0) + size_of.get(u.id, params.residents_default)
    for s in c.spaces:
        if (s.usage or "").lower() in APARTMENT_USAGES and s.id not in out:
            out[s.id] = params.residents_default
    return out


def _paths_to_outside(layout: SiteLayout, sources: list[str], stair_effort: float):
    """Shortest path of each source node to the outside: area indices passed, exit xy."""
    nodes, mat = walk_matrix(layout.graph.community, layout.graph, stair_effort=stair_effort)
    pos = {n: i for i, n in enumerate(nodes)}
    if OUTSIDE not in pos or not layout.graph.adjacency[OUTSIDE]:
        return {s: ([], None) for s in sources}
    dist, pred = dijkstra(mat, directed=True, indices=pos[OUTSIDE], return_predecessors=True)
    area_of = {a.node: i for i, a in enumerate(layout.areas) if a.node is not None}
    doors = {d.id: d.position for d in layout.graph.community.doors}
    exit_of = {}
    for e in layout.graph.adjacency[OUTSIDE]:
        if e.via in doors and (e.target not in exit_of or e.length_m < exit_of[e.target][0]):
            exit_of[e.target] = (e.length_m, doors[e.via])
    out = {}
    for s in sources:
        if s not in pos or not np.isfinite(dist[pos[s]]):
            out[s] = ([], None)
            continue
        passed, k, last = [], pos[s], None
        while k != pos[OUTSIDE] and k >= 0:
            if nodes[k] in area_of:
                passed.append(area_of[nodes[k]])
            last = nodes[k]
            k = pred[k]
        out[s] = (passed, exit_of.get(last, (0, None))[1])
    return out


def _outdoor_passes(layout: SiteLayout, start, dest: int | None) -> list[int]:
    """Outdoor areas crossed by the straight walk from ``start`` to area ``dest``."""
    if start is None or dest is None:
        return [] if dest is None else [dest]
    line = LineString([start, layout.areas[dest].xy])
    out = [i for i, a in enumerate(layout.areas)
           if not a.indoor and a.kind in ("path", "plaza") and i != dest
           and a.geometry is not None and a.geometry.intersects(line)]
    return out + [dest]


def build_routes(c: Community, layout: SiteLayout, params: FlowParams | None = None) -> Routes:
    """Return the trip routes of every apartment with their expected passages per hour."""
    params = params or FlowParams()
    homes = _apartments(c, params)
    paths = _paths_to_outside(layout, sorted(homes), params.stair_effort)
    kinds = {k: [i for i, a in enumerate(layout.areas) if a.kind == k]
             for k in ("gate", "garage", "plaza", "playground")}
    prof = params.profiles()
    ptr, flat, wk, we = [0], [], [], []
    cache: dict = {}

    def outdoor(start, dest):
        key = (None if start is None else tuple(start), dest)
        if key not in cache:
            cache[key] = _outdoor_passes(layout, start, dest)
        return cache[key]

    def add(passed, weekday_rate, weekend_rate, profile):
        flat.extend(passed)
        ptr.append(len(flat))
        wk.append(weekday_rate * profile)
        we.append(weekend_rate * profile)

    for home in sorted(homes):
        people = homes[home]
        indoor, exit_xy = paths[home]
        origin = np.asarray(exit_xy if exit_xy is not None else (0.0, 0.0))
        gates = kinds["gate"] or [None]
        if kinds["gate"]:
            d = np.array([np.hypot(*(np.asarray(layout.areas[g].xy) - origin)) for g in gates])
            w = np.exp(-(d - d.min()) / params.gate_decay_m)
            w /= w.sum()
        else:
            w = np.ones(1)
        for g, share in zip(gates, w):
            out = indoor + outdoor(exit_xy, g)
            walk = params.commute * (1 - params.car_share)
            add(out, people * share * (walk + params.errands),
                people * share * (walk * params.weekend_commute + params.errands * params.weekend_errands),
                (walk * prof["commute"] + params.errands * prof["errands"]) / (walk + params.errands))
        car = params.commute * params.car_share * people
        garage = kinds["garage"][0] if kinds["garage"] else None
        add(indoor + outdoor(exit_xy, garage), car, car * params.weekend_commute,
            prof["commute"])
        amen = kinds["plaza"] + kinds["playground"] or [None]
        for a in amen:
            rate = people * params.amenity / len(amen)
            add(indoor + outdoor(exit_xy, a), rate, rate * params.weekend_amenity,
                prof["amenity"])
    return Routes(np.asarray(ptr, dtype=np.int64), np.asarray(flat, dtype=np.int64),
                  np.asarray(wk, dtype=np.float64).reshape(-1, HOURS),
                  np.asarray(we, dtype=np.float64).reshape(-1, HOURS))


# -- the kernel -------------------------------------------------------------------------------
@jit
def accumulate_hour(h, ptr, areas, lam, seed, stream0, out):
    """Draw passages of every route in hour ``h`` and add them to ``out[area, h]``."""
    n_routes = len(ptr) - 1
    for r in range(n_routes):
        if lam[r, h] <= 0.0:
            continue
        st = seed_state(seed, stream0 + r * 24 + h)
        k = poisson(st, lam[r, h])
        for j in range(ptr[r], ptr[r + 1]):
            out[areas[j], h] += k


@pjit
def accumulate_kernel(ptr, areas, lam, seed, stream0, out):
    """Parallel driver: one hour per thread (hours write disjoint columns of ``out``)."""
    for h in prange(lam.shape[1]):
        accumulate_hour(h, ptr, areas, lam, seed, stream0, out)


def expected_traffic(routes: Routes, n_areas: int, weekend: bool) -> np.ndarray:
    """Expected passages ``[area, hour]`` of a weekday or weekend day."""
    lam = routes.weekend if weekend else routes.weekday
    out = np.zeros((n_areas, HOURS))
    for r in range(routes.count):
        for a in routes.areas[routes.ptr[r]:routes.ptr[r + 1]]:
            out[a] += lam[r]
    return out


def simulate_traffic(routes: Routes, n_areas: int, days: int, seed: int,
                     start: dt.date) -> np.ndarray:
    """Realised passages ``[area, day, hour]`` for ``days`` days from ``start``."""
    if days < 1:
        raise CleaningParameterError(f"days={days} must be >= 1")
    out = np.zeros((n_areas, days, HOURS), dtype=np.int64)
    for d in range(days):
        weekend = (start + dt.timedelta(days=d)).weekday() >= 5
        lam = routes.weekend if weekend else routes.weekday
        day = np.zeros((n_areas, HOURS), dtype=np.int64)
        if routes.count:
            accumulate_kernel(routes.ptr, routes.areas, lam, seed, d * routes.count * 24, day)
        out[:, d, :] = day
    return out


# -- counter history --------------------------------------------------------------------------
def read_traffic_csv(path: str | Path, tz: str = "Asia/Shanghai") -> pd.DataFrame:
    """Read ``area_id, timestamp, count``; return columns area_id, date, hour, count.

    Naive timestamps are site local time; aware ones are converted to ``tz``.

    Raises
    ------
    TrafficError
        Missing column, unparsable timestamp, negative or non-numeric count.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"traffic file {str(path)!r} does not exist")
    try:
        df = pd.read_csv(path, dtype={"area_id": str}, skipinitialspace=True)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise TrafficError(f"traffic file {str(path)!r} is not a CSV with rows: {exc}") from None
    missing = [c for c in ("area_id", "timestamp", "count") if c not in df.columns]
    if missing:
        raise TrafficError(f"traffic {path.name} lacks column(s) {', '.join(missing)}")
    if df.empty:
        raise TrafficError(f"traffic {path.name} has no rows")
    ts = pd.to_datetime(df["timestamp"].astype(str), errors="coerce", utc=False, format="mixed")
    bad = ts.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise TrafficError(f"traffic {path.name} row {i + 2}: timestamp={df['timestamp'].iloc[i]!r} is not a time")
    ts = pd.Series([t.tz_convert(tz).tz_localize(None) if t.tzinfo else t for t in ts])
    count = pd.to_numeric(df["count"], errors="coerce")
    bad = ~np.isfinite(count.to_numpy(dtype=float)) | (count.to_numpy(dtype=float) < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise TrafficError(f"traffic {path.name} row {i + 2}: count={df['count'].iloc[i]} must be a number >= 0")
    return pd.DataFrame({"area_id": df["area_id"].astype(str).str.strip(),
                         "date": ts.dt.date, "hour": ts.dt.hour, "count": count.astype(float)})


def traffic_from_counts(counts: pd.DataFrame, layout: SiteLayout, estimate: np.ndarray,
                        start: dt.date) -> tuple[np.ndarray, dict]:
    """Merge counter history into a crowd-flow estimate ``[area, day, hour]``.

    Counted areas take their counts (days without counts: the area's mean counted day);
    other areas take the estimate × (counted total / estimated total of counted areas).
    Returns the merged array and a summary (areas counted, scale, ignored ids).

    Raises
    ------
    TrafficError
        No area id of the CSV is an area of the site.
    """
    known = {a.id: i for i, a in enumerate(layout.areas)}
    ignored = sorted(set(counts["area_id"]) - set(known))
    used = counts[counts["area_id"].isin(known)]
    if used.empty:
        sample = ", ".join(list(known)[:5])
        raise TrafficError(f"no area_id of the traffic CSV is a cleaning area of the site "
                           f"(e.g. {sample}); got {', '.join(ignored[:5])}")
    if ignored:
        log.warning("traffic CSV: %d area id(s) are not cleaning areas, ignored: %s",
                    len(ignored), ", ".join(ignored[:5]))
    n, days, _ = estimate.shape
    merged = estimate.astype(float).copy()
    observed = np.full((n, days, HOURS), np.nan)
    grouped = used.groupby(["area_id", "date", "hour"], as_index=False)["count"].sum()
    for row in grouped.itertuples(index=False):
        d = (row.date - start).days
        if 0 <= d < days:
            observed[known[row.area_id], d, row.hour] = row.count
    counted = sorted({known[a] for a in used["area_id"]})
    day_seen = np.isfinite(observed).any(axis=2)
    for a in counted:
        seen = day_seen[a]
        if not seen.any():  # counted, but not in the compared days: mean profile of its days
            prof = used[used["area_id"] == layout.areas[a].id].groupby("hour")["count"].sum()
            ndays = used[used["area_id"] == layout.areas[a].id]["date"].nunique()
            mean = np.zeros(HOURS)
            mean[prof.index.to_numpy()] = prof.to_numpy() / max(ndays, 1)
        else:
            mean = np.nanmean(np.where(seen[:, None], np.nan_to_num(observed[a]), np.nan), axis=0)
        for d in range(days):
            merged[a, d] = np.nan_to_num(observed[a, d]) if seen[d] else mean
    est_total = estimate[counted].sum()
    scale = float(merged[counted].sum() / est_total) if est_total > 0 else 1.0
    others = [i for i in range(n) if i not in set(counted)]
    merged[others] = estimate[others] * scale
    return merged, {"counted_areas": len(counted), "scale": scale, "ignored_ids": ignored}
