"""Automatic assignment of work orders to staff: skill, shift, current load, walking distance.

Candidates are the community's staff (``Community.staff``) whose skills cover the order's
category (:data:`CATEGORY_SKILLS`) and whose shift (``HH:MM-HH:MM`` in the site's time
zone, may cross midnight; no shift = always on duty) contains the current time. Among
them the lowest score wins::

    score_m = walking distance from the worker's base space to the order's space (m)
              + LOAD_PENALTY_M × open work orders already assigned to the worker

with walking distances over the twin's route graph (:class:`twin.routes.RouteGraph`,
elevators allowed). A worker with no route (or no base space) gets
:data:`UNREACHABLE_M`. Ties go to the smaller staff id, so the choice is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.workorders.lifecycle import OPEN_STATUSES
from services.workorders.models import WorkOrder
from twin.errors import TwinError
from twin.model import Community, Staff

__all__ = ["CATEGORY_SKILLS", "LOAD_PENALTY_M", "UNREACHABLE_M", "Candidate", "choose_assignee",
           "on_shift", "rank_candidates", "walking_distances_m"]

#: Each open work order a worker already holds weighs like this many metres of walking.
LOAD_PENALTY_M = 100.0
#: Distance used when a worker's base cannot reach the order's space (m).
UNREACHABLE_M = 10_000.0

#: Skills (as written in the staff register, case-insensitive) that cover each category.
CATEGORY_SKILLS: dict[str, frozenset[str]] = {
    "水电": frozenset({"水电", "plumbing", "plumber", "electrical", "electrician", "mep"}),
    "门窗": frozenset({"门窗", "carpentry", "carpenter", "locksmith", "doors", "windows"}),
    "电梯": frozenset({"电梯", "elevator", "elevators", "lift"}),
    "公共设施": frozenset({"公共设施", "facilities", "maintenance", "general", "handyman"}),
    "保洁": frozenset({"保洁", "cleaning", "cleaner", "housekeeping"}),
    "绿化": frozenset({"绿化", "greening", "gardening", "gardener", "landscaping"}),
    "安防": frozenset({"安防", "security", "guard", "fire", "消防"}),
    "其他": frozenset({"其他", "front_desk", "frontdesk", "customer_service", "客服", "general"}),
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


_GRAPHS: dict[int, tuple[Community, object]] = {}


def _graph(community: Community):
    """The route graph of ``community`` (built once per community object)."""
    from twin.routes import RouteGraph

    cached = _GRAPHS.get(id(community))
    if cached is None or cached[0] is not community:
        if len(_GRAPHS) > 8:
            _GRAPHS.clear()
        cached = (community, RouteGraph(community, elevators=True))
        _GRAPHS[id(community)] = cached
    return cached[1]


def walking_distances_m(community: Community, to_space_id: str) -> dict[str, float]:
    """Return walking distances (m) from every reachable space to ``to_space_id``."""
    try:
        graph = _graph(community)
        return graph.distances_from(to_space_id)
    except TwinError:
        return {}


def rank_candidates(session: Session, community: Community, category: str, space_id: str | None,
                    now: datetime, timezone: str = "Asia/Shanghai") -> list[Candidate]:
    """Return the workers able to take the order, best first."""
    local_now = now.astimezone(ZoneInfo(timezone))
    able = [m for m in community.staff if has_skill(m, category) and on_shift(m.shift, local_now)]
    if not able:
        return []
    loads = dict(session.execute(
        select(WorkOrder.assignee, func.count()).where(
            WorkOrder.assignee.in_([m.id for m in able]), WorkOrder.status.in_(OPEN_STATUSES))
        .group_by(WorkOrder.assignee)).all())
    distances = walking_distances_m(community, space_id) if space_id else {}
    ranked = [Candidate(m.id, distances.get(m.base_space_id, UNREACHABLE_M), int(loads.get(m.id, 0)))
              for m in able]
    ranked.sort(key=lambda c: (c.score_m, c.staff_id))
    return ranked


def choose_assignee(session: Session, community: Community | None, category: str,
                    space_id: str | None, now: datetime, timezone: str = "Asia/Shanghai") -> str | None:
    """Return the staff id of the best worker, or None when nobody is able and on shift."""
    if community is None or not community.staff:
        return None
    ranked = rank_candidates(session, community, category, space_id, now, timezone)
    return ranked[0].staff_id if ranked else None
