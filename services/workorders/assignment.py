"""Automatic assignment of work orders to staff: skill, shift, current load, walking distance.

Candidates are the community's staff (``Community.staff``) whose skills cover the order's
category (:data:`CATEGORY_SKILLS`) and whose shift (``HH:MM-HH:MM`` in the site's time
zone, may cross midnight; no shift = always on duty) contains the current time. Among
them the lowest score wins::

    score_m = walking distance from the worker's base space to the order's space (m)
              + LOAD_PENALTY_M × open work orders already assigned to the worker

with walking distances over the twin's route graph (:class:`twin.routes.RouteGraph`,
elevators allowed; one search from each worker's base, kept with the graph, in metres
rounded to a micrometre). A worker with no route (or no base space) gets
:data:`UNREACHABLE_M`. Ties go to the smaller staff id, so the choice is deterministic.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.workorders.lifecycle import OPEN_STATUSES
from services.workorders.models import WorkOrder
from twin.errors import TwinError
from twin.model import Community, Staff
from services.communities import DEFAULT_TIMEZONE

__all__ = ["CATEGORY_SKILLS", "LOAD_PENALTY_M", "UNREACHABLE_M", "Candidate", "choose_assignee",
           "on_shift", "rank_candidates", "walking_distances_m"]

#: Each open work order a worker already holds weighs like this many metres of walking.
LOAD_PENALTY_M = 100.0
#: Distance used when a worker's base cannot reach the order's space (m).
UNREACHABLE_M = 10_000.0

#: Skills (as written in the staff register, case-insensitive) that cover each category.
CATEGORY_SKILLS: dict[str, frozenset[str]] = {
    "水电": frozenset({"水电", "plumbing", "plumber", "electrical", "electrician", "mep", "drainage"}),
    "门窗": frozenset({"门窗", "doors_windows", "carpentry", "carpenter", "locksmith", "doors", "windows"}),
    "电梯": frozenset({"电梯", "elevator", "elevators", "lift"}),
    "公共设施": frozenset({"公共设施", "facilities", "maintenance", "general", "handyman", "lighting",
                       "access_control"}),
    "保洁": frozenset({"保洁", "cleaning", "cleaner", "housekeeping", "waste", "pest_control"}),
    "绿化": frozenset({"绿化", "greening", "gardening", "gardener", "landscaping", "irrigation"}),
    "安防": frozenset({"安防", "security", "guard", "patrol", "fire", "消防", "parking"}),
    "其他": frozenset({"其他", "front_desk", "frontdesk", "customer_service", "客服", "complaints", "dispatch"}),
}


@dataclass(frozen=True)
class Candidate:
    """A worker able to take an order, with the parts of the score."""

    staff_id: str
    distance_m: float
    load: int

    @property
    def score_m(self) -> float:
        """Distance plus load penalty (m)."""
        return self.distance_m + LOAD_PENALTY_M * self.load


def _parse_hhmm(text: str) -> time:
    hh, mm = text.strip().split(":")
    return time(int(hh), int(mm))


def on_shift(shift: str | None, local_now: datetime) -> bool:
    """Whether ``local_now`` (site time) falls in ``shift`` (``HH:MM-HH:MM``; None = always)."""
    if not shift:
        return True
    try:
        start_s, end_s = shift.split("-")
        start, end = _parse_hhmm(start_s), _parse_hhmm(end_s)
    except ValueError:
        return False
    now = local_now.time().replace(second=0, microsecond=0)
    if start <= end:
        return start <= now < end
    return now >= start or now < end


def has_skill(member: Staff, category: str) -> bool:
    """Whether one of the worker's skills covers ``category``."""
    wanted = CATEGORY_SKILLS.get(category, frozenset({category}))
    return any(s.strip().lower() in wanted for s in member.skills)


class _Routes:
    """The route graph of one community and the walking distances from staff bases.

    The graph is undirected (every link is added both ways), so the distance from a
    worker's base to an order's space equals the distance from that space to the base:
    one search per *base* (a handful per community), kept for the life of the graph,
    answers every order instead of one search over the whole community per order.
    """

    def __init__(self, community: Community) -> None:
        from twin.routes import RouteGraph

        self.community = community
        self.graph = RouteGraph(community, elevators=True)
        self._from: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def from_space(self, space_id: str) -> dict[str, float]:
        """Distances (m) from ``space_id`` to every node it reaches (cached; read-only)."""
        dist = self._from.get(space_id)
        if dist is None:
            with self._lock:
                dist = self._from.get(space_id)
                if dist is None:
                    if len(self._from) >= 4096:
                        self._from.clear()
                    dist = self._from[space_id] = self.graph.distances_from(space_id)
        return dist


_ROUTES: dict[int, _Routes] = {}
_ROUTES_LOCK = threading.Lock()


def _routes(community: Community) -> _Routes:
    """The :class:`_Routes` of ``community`` (built once per community object)."""
    cached = _ROUTES.get(id(community))
    if cached is None or cached.community is not community:
        with _ROUTES_LOCK:
            cached = _ROUTES.get(id(community))
            if cached is None or cached.community is not community:
                if len(_ROUTES) > 8:
                    _ROUTES.clear()
                cached = _ROUTES[id(community)] = _Routes(community)
    return cached


def _graph(community: Community):
    """The route graph of ``community`` (built once per community object)."""
    return _routes(community).graph


def warm_up(community: Community) -> None:
    """Build the route graph and the distances from every staff base ahead of the first order."""
    if not community.staff:
        return
    routes = _routes(community)
    for member in community.staff:
        if member.base_space_id is not None:
            try:
                routes.from_space(member.base_space_id)
            except TwinError:
                pass


def walking_distances_m(community: Community, to_space_id: str) -> dict[str, float]:
    """Return walking distances (m) from every reachable space to ``to_space_id``."""
    try:
        return dict(_routes(community).from_space(to_space_id))
    except TwinError:
        return {}


def _distance_m(community: Community, base_space_id: str | None, space_id: str) -> float:
    """Walking distance (m) from a worker's base to ``space_id`` (:data:`UNREACHABLE_M` if none)."""
    if base_space_id is None:
        return UNREACHABLE_M
    if base_space_id == space_id:
        return 0.0 if space_id in _routes(community).graph.adjacency else UNREACHABLE_M
    try:
        dist = _routes(community).from_space(base_space_id).get(space_id)
    except TwinError:
        return UNREACHABLE_M
    # rounded to a micrometre: searches from either end may differ in the last bit
    return UNREACHABLE_M if dist is None else round(dist, 6)


def rank_candidates(session: Session, community: Community, category: str, space_id: str | None,
                    now: datetime, timezone: str = DEFAULT_TIMEZONE) -> list[Candidate]:
    """Return the workers able to take the order, best first."""
    local_now = now.astimezone(ZoneInfo(timezone))
    able = [m for m in community.staff if has_skill(m, category) and on_shift(m.shift, local_now)]
    if not able:
        return []
    loads = dict(session.execute(
        select(WorkOrder.assignee, func.count()).where(
            WorkOrder.assignee.in_([m.id for m in able]), WorkOrder.status.in_(OPEN_STATUSES))
        .group_by(WorkOrder.assignee)).all())
    ranked = [Candidate(m.id, _distance_m(community, m.base_space_id, space_id) if space_id else UNREACHABLE_M,
                        int(loads.get(m.id, 0)))
              for m in able]
    ranked.sort(key=lambda c: (c.score_m, c.staff_id))
    return ranked


def choose_assignee(session: Session, community: Community | None, category: str,
                    space_id: str | None, now: datetime, timezone: str = DEFAULT_TIMEZONE) -> str | None:
    """Return the staff id of the best worker, or None when nobody is able and on shift."""
    if community is None or not community.staff:
        return None
    ranked = rank_candidates(session, community, category, space_id, now, timezone)
    return ranked[0].staff_id if ranked else None
