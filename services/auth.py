"""Users, roles, passwords, tokens, personal-data masking and the audit log.

Roles (:data:`ROLES`): ``admin`` (everything), ``operator`` (control room and front desk:
work orders, payments, reports), ``planner`` (drills and reports, masked personal data),
``staff`` (the work orders assigned to them) and ``owner`` (their own units' bills and work
orders, the public-area status). Passwords are hashed with argon2 (pwdlib); tokens are
HS256 JWTs (PyJWT) signed with ``TWIN_SECRET_KEY`` (generated once and kept in the data
folder when unset).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from pwdlib import PasswordHash
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from services.db import utcnow
from services.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated
from services.models import AuditEntry, User, UserUnit
from services.settings import Settings

__all__ = [
    "ROLES", "Actor", "audit", "authenticate", "create_user", "decode_token", "issue_token",
    "load_actor", "mask_name", "mask_phone", "payment_callback_key", "require_role",
    "secret_key", "sees_personal_data",
]

ROLES = ("admin", "operator", "planner", "staff", "owner")
TOKEN_TTL = timedelta(hours=8)
ALGORITHM = "HS256"
_hasher = PasswordHash.recommended()
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in user or ``system`` (alarms, timers, the CLI)."""

    username: str
    role: str
    unit_ids: frozenset[str] = field(default_factory=frozenset)
    staff_id: str | None = None

    def is_(self, *roles: str) -> bool:
        """Whether the actor has one of ``roles``."""
        return self.role in roles


SYSTEM = Actor("system", "admin")


def secret_key(settings: Settings) -> str:
    """Return the signing key: ``TWIN_SECRET_KEY``, else one generated once in data_dir."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def payment_callback_key(settings: Settings) -> bytes:
    """Return the HMAC-SHA256 key shared with the payment gateway adapter.

    It is ``HMAC-SHA256(secret_key, "twin-payment-callback")`` so that the gateway never
    holds the token signing key itself.
    """
    return hmac.new(secret_key(settings).encode(), b"twin-payment-callback", hashlib.sha256).digest()


def require_role(actor: Actor, *roles: str) -> None:
    """Raise :class:`Forbidden` unless ``actor`` has one of ``roles``."""
    if actor.role not in roles:
        raise Forbidden(f"role {actor.role!r} may not do this (needs one of {', '.join(roles)})")


# -- users --------------------------------------------------------------------------------
def create_user(session: Session, *, username: str, password: str, role: str,
                unit_ids: list[str] | None = None, staff_id: str | None = None,
                email: str | None = None, actor: Actor = SYSTEM) -> User:
    """Create a user with an argon2-hashed password (audited)."""
    if role not in ROLES:
        raise InvalidInput(f"role={role!r} must be one of {', '.join(ROLES)}")
    if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise InvalidInput(f"username={username!r} must be 1-64 letters, digits, '.', '-' or '_'")
    if len(password) < 8:
        raise InvalidInput("password must be at least 8 characters")
    if unit_ids and role != "owner":
        raise InvalidInput(f"--unit applies to owners only, not role={role!r}")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username={username!r} already exists")
    user = User(username=username, password_hash=_hasher.hash(password), role=role,
                staff_id=staff_id, email=email)
    session.add(user)
    session.flush()
    for unit_id in unit_ids or []:
        session.add(UserUnit(user_id=user.id, unit_id=unit_id))
    audit(session, actor, "user.create", "user", username, role=role, units=list(unit_ids or []))
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    """Return the active user with these credentials or raise :class:`NotAuthenticated`."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        _hasher.verify(password, _DUMMY_HASH)  # same time whether the user exists or not
        raise NotAuthenticated("incorrect username or password")
    if not _hasher.verify(password, user.password_hash):
        raise NotAuthenticated("incorrect username or password")
    return user


def issue_token(settings: Settings, user: User) -> str:
    """Return a signed JWT for ``user`` (subject = username, 8 h lifetime)."""
    now = utcnow()
    claims = {"sub": user.username, "role": user.role, "iat": now, "exp": now + TOKEN_TTL}
    return jwt.encode(claims, secret_key(settings), algorithm=ALGORITHM)


def decode_token(settings: Settings, token: str) -> str:
    """Return the username of a valid token or raise :class:`NotAuthenticated`."""
    try:
        claims = jwt.decode(token, secret_key(settings), algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp"]})
    except jwt.PyJWTError as exc:
        raise NotAuthenticated(f"invalid token: {exc}") from exc
    return str(claims["sub"])


def load_actor(session: Session, username: str) -> Actor:
    """Return the :class:`Actor` of an active user (with the units an owner owns)."""
    rows = session.execute(
        select(User.username, User.role, User.staff_id, User.active, UserUnit.unit_id)
        .outerjoin(UserUnit, UserUnit.user_id == User.id).where(User.username == username)).all()
    if not rows or not rows[0].active:
        raise NotAuthenticated(f"user {username!r} is unknown or disabled")
    user = rows[0]
    units = frozenset(r.unit_id for r in rows if r.unit_id is not None)
    return Actor(user.username, user.role, units, user.staff_id)


# -- personal data ------------------------------------------------------------------------
def sees_personal_data(actor: Actor, unit_id: str | None = None) -> bool:
    """Whether ``actor`` may see names and phones (of ``unit_id`` for an owner)."""
    if actor.role in ("admin", "operator"):
        return True
    return actor.role == "owner" and unit_id is not None and unit_id in actor.unit_ids


def mask_name(name: str | None) -> str | None:
    """Keep the first character of a name: ``"张三丰"`` → ``"张**"``."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str | None) -> str | None:
    """Keep the first 3 and last 4 digits: ``"13812345678"`` → ``"138****5678"``."""
    if not phone:
        return phone
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


# -- audit --------------------------------------------------------------------------------
def audit(session: Session, actor: Actor, action: str, entity: str, entity_id: Any,
          **detail: Any) -> None:
    """Record a write (who, what, when) in the same transaction as the write itself.

    The row is inserted at once (an ORM bulk ``INSERT``: no unit-of-work pass over the
    session for a row nothing reads back in the same transaction).
    """
    session.execute(insert(AuditEntry), [{"actor": actor.username, "action": action, "entity": entity,
                                          "entity_id": str(entity_id), "detail": _jsonable(detail)}])


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)
