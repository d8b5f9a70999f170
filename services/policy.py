"""Who may see or do what: the access policies of every route and every live event.

Each HTTP route and WebSocket declares one :class:`Policy` (the dependency
:func:`services.api.guard.allow`); the app refuses to start when a route has none. A policy
names the roles that pass (``None``: no login at all) and the largest request body the
route accepts. Object-level rules (an owner's own units, a member of staff's assigned work
orders, the devices an owner may watch) are applied by the code that loads the objects;
the device rules live here in :class:`DeviceAccess` so that the REST routes, the snapshot
and the event stream of ``/ws/live`` apply the same ones.

The whole table, with the object-level rules, is documented in ``docs/security.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from services.errors import Forbidden

if TYPE_CHECKING:  # pragma: no cover
    from services.auth import Actor
    from twin.model import Community

__all__ = [
    "ACK_ROLES", "ANY_USER", "BILLING", "DEVICE_HISTORY_ALL", "KiB", "MiB", "OFFICE", "OPERATORS", "PAYERS", "PUBLIC", "POLICIES",
    "Policy", "SIGNED", "STAFF", "ADMIN", "DeviceAccess", "reporter_key",
]

KiB = 1024
MiB = 1024 * KiB

_ALL_ROLES = frozenset({"admin", "operator", "planner", "staff", "owner"})


@dataclass(frozen=True)
class Policy:
    """Who may call a route.

    Parameters
    ----------
    name : str
        Name in docs/security.md (``public``, ``signed``, ``any_user``, ``staff``, ...).
    roles : frozenset of str or None
        Roles that pass; ``None`` means no login is needed (the route checks nothing or, for
        ``signed``, a signature of its own).
    description : str
        One line for the policy table.
    max_body_bytes : int
        Largest request body accepted (413 beyond, before any of it is parsed).
    """

    name: str
    roles: frozenset[str] | None
    description: str
    max_body_bytes: int = 64 * KiB

    @property
    def needs_login(self) -> bool:
        """Whether a valid bearer token is required before anything else happens."""
        return self.roles is not None

    def allows(self, role: str) -> bool:
        """Whether ``role`` passes this policy."""
        return self.roles is None or role in self.roles

    def check(self, actor: "Actor") -> None:
        """Raise :class:`~services.errors.Forbidden` unless ``actor``'s role passes."""
        if not self.allows(actor.role):
            allowed = ", ".join(sorted(self.roles or ()))
            raise Forbidden(f"role {actor.role!r} may not do this (needs one of {allowed})")

    def with_body(self, max_body_bytes: int) -> "Policy":
        """The same policy with another body limit (uploads, CSV imports)."""
        return Policy(self.name, self.roles, self.description, max_body_bytes)


PUBLIC = Policy("public", None, "anyone, no login: health, login, the pages and their static files, "
                "the 3D scene (shape and names, no state, no personal data), the API description")
SIGNED = Policy("signed", None, "no login; the request carries an HMAC signature the route checks "
                "(payment gateway callback)")
ANY_USER = Policy("any_user", _ALL_ROLES, "any logged-in user; what they see is filtered per object")
STAFF = Policy("staff", frozenset({"admin", "operator", "planner", "staff"}),
               "the property company's people (not owners)")
OFFICE = Policy("office", frozenset({"admin", "operator", "planner"}),
                "control room, front desk and planners")
OPERATORS = Policy("operators", frozenset({"admin", "operator"}), "control room and front desk")
BILLING = Policy("billing", frozenset({"admin", "operator", "planner", "owner"}),
                 "bills and accounts: office roles see every unit, owners their own (not staff)")
PAYERS = Policy("payers", frozenset({"admin", "operator", "owner"}),
                "start a gateway payment: owners for their own units, the front desk for any")
ADMIN = Policy("admin", frozenset({"admin"}), "administrators only")

#: Every named policy (the documented table).
POLICIES = (PUBLIC, SIGNED, ANY_USER, STAFF, OFFICE, BILLING, PAYERS, OPERATORS, ADMIN)

#: Roles that may acknowledge an alarm (the acknowledgement records the logged-in user).
ACK_ROLES = OPERATORS.roles

#: Roles that may read the stored history of any device, flats' meters included.
DEVICE_HISTORY_ALL = frozenset({"admin", "operator"})

#: Roles that see the live state of every device (owners see public areas and their own).
_DEVICE_STATE_ALL = frozenset({"admin", "operator", "planner", "staff"})


def reporter_key(username: str) -> str:
    """The opaque key of a work order's reporter on its live event (``_reporter``): a hash of
    the username, compared server-side with the caller's and stripped before the event is sent."""
    import hashlib

    return hashlib.sha256(f"twin-reporter\0{username}".encode("utf-8")).hexdigest()[:24]


class DeviceAccess:
    """Which devices (and their alarms and events) a caller may see.

    A device is *private* when it feeds a billing unit or sits in a unit's space (a flat's
    meters and detectors), or sits in a space that is not public; it is *public* otherwise
    (lobbies, stairs, lifts, garage, gates, grounds). Owners see public devices and those of
    their own units; control room, planners and staff see the live state of every device;
    the stored history of a private device (when people are home) only admin, operator
    and the unit's owner.
    """

    def __init__(self, community: "Community | None") -> None:
        self.units_of: dict[str, frozenset[str]] = {}
        self.private: set[str] = set()
        self.public_spaces: set[str] = set()
        if community is None:
            return
        unit_of_space: dict[str, set[str]] = {}
        for unit in community.billing_units:
            if unit.space_id:
                unit_of_space.setdefault(unit.space_id, set()).add(unit.id)
        spaces = {s.id: s for s in community.spaces}
        self.public_spaces = {sid for sid, s in spaces.items() if s.is_public and sid not in unit_of_space}
        for dev in community.devices:
            units = set(dev.feeds or ()) | unit_of_space.get(dev.space_id or "", set())
            if units:
                self.units_of[dev.id] = frozenset(units)
            if units or (dev.space_id is not None and dev.space_id not in self.public_spaces):
                self.private.add(dev.id)

    def sees_state(self, actor: "Actor", device_id: str | None) -> bool:
        """Whether ``actor`` may see the live state and events of ``device_id``."""
        if actor.role in _DEVICE_STATE_ALL:
            return True
        return self._owner_sees(actor, device_id)

    def sees_history(self, actor: "Actor", device_id: str | None) -> bool:
        """Whether ``actor`` may read the stored readings of ``device_id``."""
        if actor.role in DEVICE_HISTORY_ALL:
            return True
        if actor.role == "owner":
            return self._owner_sees(actor, device_id)
        return device_id is not None and device_id not in self.private

    def sees_alarm(self, actor: "Actor", alarm: dict[str, Any]) -> bool:
        """Whether ``actor`` may see an alarm record (``device_id``, ``space``)."""
        if actor.role in _DEVICE_STATE_ALL:
            return True
        if alarm.get("device_id"):
            return self._owner_sees(actor, alarm["device_id"])
        space = alarm.get("space")
        return space is None or space in self.public_spaces

    def sees_event(self, actor: "Actor", event: dict[str, Any]) -> bool:
        """Whether a live event (device, status, alarm, work order, ...) may go to ``actor``."""
        if event.get("type") == "work_order":
            return self.sees_work_order(actor, event)
        if event.get("type") == "forecast":  # as GET /api/alarms/{id}/forecast: the control room
            return actor.role in OPERATORS.roles
        if event.get("type") == "drill":  # drill jobs: the roles of the drill routes
            return actor.role in OFFICE.roles
        if actor.role in _DEVICE_STATE_ALL:
            return True
        if event.get("type") == "alarm":
            return self.sees_alarm(actor, event.get("alarm") or event)
        if event.get("type") == "dead_letter":
            return False
        device_id = event.get("device_id")
        if device_id is None:
            return event.get("type") in ("hello", "snapshot")
        return self._owner_sees(actor, device_id)

    @staticmethod
    def sees_work_order(actor: "Actor", event: dict[str, Any]) -> bool:
        """Whether a ``work_order`` event may go to ``actor``: the rule of the work-order API
        (services.workorders.service.may_see) on the event's keys: owners the orders of
        their units, public-area ones and those they reported; staff those assigned to them
        and those they reported; other roles all. The reporter is the event's server-only
        ``_reporter`` (:func:`reporter_key`), never sent."""
        reported = event.get("_reporter") is not None and event["_reporter"] == reporter_key(actor.username)
        if actor.role == "owner":
            return reported or bool(event.get("public")) or (event.get("unit_id") is not None
                                                             and event["unit_id"] in actor.unit_ids)
        if actor.role == "staff":
            return reported or (actor.staff_id is not None and event.get("assignee") == actor.staff_id)
        return actor.role in OFFICE.roles

    def _owner_sees(self, actor: "Actor", device_id: str | None) -> bool:
        if device_id is None:
            return False
        if device_id not in self.private:
            return True
        return bool(self.units_of.get(device_id, frozenset()) & actor.unit_ids)
