"""The work-order lifecycle: statuses, allowed transitions and who may make them.

::

    reported ──► assigned ──► in_progress ⇄ on_hold
        │           │  ▲           │
        │           │  └ (re)assign└──► completed ──► revisited ──► closed
        │           │                      │  │  └──────────────────►┘
        ▼           ▼                      │  └──► reopened ──► assigned
    cancelled ◄─────┴──── (any open state) ┘

``closed`` and ``cancelled`` are final. A transition not in :data:`TRANSITIONS` is refused
with :class:`services.errors.Conflict` (HTTP 409) naming the allowed ones; an unknown status
is :class:`services.errors.InvalidInput` (HTTP 422).
"""

from __future__ import annotations

from services.auth import Actor
from services.errors import Conflict, Forbidden, InvalidInput

__all__ = ["OPEN_STATUSES", "STATUSES", "TRANSITIONS", "check_transition"]

STATUSES = ("reported", "assigned", "in_progress", "on_hold", "completed", "revisited",
            "closed", "cancelled", "reopened")

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "reported": ("assigned", "cancelled"),
    "assigned": ("assigned", "in_progress", "cancelled"),
    "in_progress": ("on_hold", "completed", "cancelled"),
    "on_hold": ("in_progress", "cancelled"),
    "completed": ("revisited", "closed", "reopened"),
    "revisited": ("closed", "reopened"),
    "reopened": ("assigned", "cancelled"),
    "closed": (),
    "cancelled": (),
}

#: Statuses that count towards a worker's current load.
OPEN_STATUSES = ("assigned", "in_progress", "on_hold", "reopened")

#: Target statuses each role may set (admin and operator: every one).
_ROLE_TARGETS = {
    "staff": {"in_progress", "on_hold", "completed"},
    "owner": {"cancelled", "revisited", "closed", "reopened"},
    "planner": set(),
}


def check_transition(current: str, target: str, actor: Actor, *, owns: bool, assigned_to_actor: bool) -> None:
    """Raise unless ``actor`` may move a work order from ``current`` to ``target``.

    Parameters
    ----------
    owns : bool
        The actor reported the order or owns its unit (owners).
    assigned_to_actor : bool
        The order is assigned to the actor's staff id (staff).
    """
    if target not in STATUSES:
        raise InvalidInput(f"to={target!r} is not a status (one of {', '.join(STATUSES)})")
    if actor.role in _ROLE_TARGETS:
        allowed_targets = _ROLE_TARGETS[actor.role]
        if target not in allowed_targets:
            raise Forbidden(f"role {actor.role!r} may not set status {target!r}")
        if actor.role == "owner" and not owns:
            raise Forbidden("owners may only change their own work orders")
        if actor.role == "owner" and target == "cancelled" and current not in ("reported", "assigned"):
            raise Conflict(f"an owner can cancel only before work starts, not from {current!r}")
        if actor.role == "staff" and not assigned_to_actor:
            raise Forbidden("staff may only change work orders assigned to them")
    allowed = TRANSITIONS[current]
    if target not in allowed:
        options = ", ".join(allowed) if allowed else "none: it is final"
        raise Conflict(f"cannot go from {current!r} to {target!r} (allowed: {options})")
