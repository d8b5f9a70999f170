"""Users, roles, passwords, tokens, personal-data masking and the audit log.

Roles (:data:`ROLES`): ``admin`` (everything), ``operator`` (control room and front desk:
work orders, payments, reports), ``planner`` (drills and reports, masked personal data),
``staff`` (the work orders assigned to them) and ``owner`` (their own units' bills and work
orders, the public-area status). Passwords are hashed with argon2 (pwdlib); tokens are
HS256 JWTs (PyJWT) signed with ``TWIN_SECRET_KEY`` (generated once and kept in the data
folder when unset).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jwt
from pwdlib import PasswordHash
from sqlalchemy import exists, insert, select
from sqlalchemy.orm import Session

from services.db import COMMUNITY_KEY, PRIMARY_KEY, utcnow
from services.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated
from services.models import AuditEntry, RevokedToken, User, UserUnit
from services.settings import Settings

__all__ = [
    "MIN_SECRET_BYTES", "ROLES", "Actor", "add_membership", "audit", "authenticate", "change_password", "check_password",
    "create_user", "decode_claims", "decode_token", "issue_token", "load_actor", "mask_name", "mask_phone",
    "payment_callback_key", "require_role", "verify_password", "revoke_token", "secret_key", "sees_personal_data",
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
    #: The community the role holds in (None: a session bound to no community).
    community: str | None = None

    def is_(self, *roles: str) -> bool:
        """Whether the actor has one of ``roles``."""
        return self.role in roles


SYSTEM = Actor("system", "admin")


#: The shortest signing / callback secret accepted (bytes of its UTF-8 text).
MIN_SECRET_BYTES = 32


def _secret(settings: Settings, value: str | None, env: str, filename: str) -> str:
    """A configured secret (refused when short), else one generated once in data_dir."""
    if value:
        if len(value.encode()) < MIN_SECRET_BYTES:
            raise InvalidInput(f"{env} is {len(value.encode())} bytes long; it must be at least "
                               f"{MIN_SECRET_BYTES} bytes (e.g. the output of `openssl rand -hex 32`)")
        return value
    path = Path(settings.data_dir) / filename
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def secret_key(settings: Settings) -> str:
    """Return the token signing key: ``TWIN_SECRET_KEY`` (≥ 32 bytes), else one generated once
    in data_dir (``twin demo`` and tests; ``twin serve`` refuses to start without the
    variable, see :mod:`services.deployment`)."""
    return _secret(settings, settings.secret_key, "TWIN_SECRET_KEY", "secret.key")


def payment_callback_key(settings: Settings) -> bytes:
    """Return the HMAC-SHA256 key shared with the payment gateway adapter.

    ``TWIN_PAYMENT_SECRET`` (≥ 32 bytes), separate from the token signing key, so that the
    gateway never holds a key that signs logins; else one generated once in data_dir.
    """
    return _secret(settings, settings.payment_secret, "TWIN_PAYMENT_SECRET", "payment.key").encode()


def require_role(actor: Actor, *roles: str) -> None:
    """Raise :class:`Forbidden` unless ``actor`` has one of ``roles``."""
    if actor.role not in roles:
        raise Forbidden(f"role {actor.role!r} may not do this (needs one of {', '.join(roles)})")


# -- users --------------------------------------------------------------------------------
def create_user(session: Session, *, username: str, password: str, role: str,
                unit_ids: list[str] | None = None, staff_id: str | None = None,
                email: str | None = None, actor: Actor = SYSTEM, demo: bool = False,
                communities: list[str] | None = None) -> User:
    """Create a user with an argon2-hashed password (audited).

    ``communities``: the communities the user belongs to with ``role`` (none: the global
    role holds in the default community only; see :mod:`services.communities`).
    """
    if role not in ROLES:
        raise InvalidInput(f"role={role!r} must be one of {', '.join(ROLES)}")
    if not username or len(username) > 64 or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise InvalidInput(f"username={username!r} must be 1-64 letters, digits, '.', '-' or '_'")
    check_password(password, username)
    if unit_ids and role != "owner":
        raise InvalidInput(f"--unit applies to owners only, not role={role!r}")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"username={username!r} already exists")
    user = User(username=username, password_hash=_hasher.hash(password), role=role,
                staff_id=staff_id, email=email, demo=demo)
    session.add(user)
    session.flush()
    for unit_id in unit_ids or []:
        session.add(UserUnit(user_id=user.id, unit_id=unit_id))
    for community in dict.fromkeys(communities or []):
        add_membership(session, user, community, role)
    audit(session, actor, "user.create", "user", username, role=role, units=list(unit_ids or []),
          communities=list(communities or []))
    return user


def add_membership(session: Session, user: User, community: str, role: str) -> None:
    """Give ``user`` ``role`` in ``community`` (replacing a role they had there)."""
    from services.communities import COMMUNITY_ID
    from services.models import Membership

    if role not in ROLES:
        raise InvalidInput(f"role={role!r} must be one of {', '.join(ROLES)}")
    if not COMMUNITY_ID.match(community or ""):
        raise InvalidInput(f"community={community!r} must be a community id (ASCII letters, digits, '-', '_')")
    row = session.get(Membership, (user.id, community))
    if row is None:
        session.add(Membership(user_id=user.id, community=community, role=role))
    else:
        row.role = role


def authenticate(session: Session, username: str, password: str) -> User:
    """Return the active user with these credentials or raise :class:`NotAuthenticated`."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        _hasher.verify(password, _DUMMY_HASH)  # same time whether the user exists or not
        raise NotAuthenticated("incorrect username or password")
    if not _hasher.verify(password, user.password_hash):
        raise NotAuthenticated("incorrect username or password")
    return user


def verify_password(user: User, password: str) -> bool:
    """Whether ``password`` is ``user``'s password (argon2 verify)."""
    return _hasher.verify(password, user.password_hash)


# -- passwords ----------------------------------------------------------------------------
#: Passwords refused whatever their length: the most common ones in published leak lists
#: (all-digit and keyboard runs are refused by rule, see :func:`check_password`).
COMMON_PASSWORDS = frozenset("""
password password1 password12 password123 passw0rd p@ssw0rd p@ssword qwertyuiop qwerty123 qwertyui
iloveyou iloveyou1 sunshine1 princess1 football1 baseball1 welcome1 welcome123 admin123 admin1234
administrator letmein1 letmein123 trustno1 monkey123 dragon123 abc12345 abcd1234 abcdefgh a1b2c3d4
1q2w3e4r 1qaz2wsx zaq12wsx qazwsxedc asdfghjkl asdf1234 zxcvbnm1 changeme changeme1 default1
woaini1314 woaini520 5201314520 aa123456 a1234567 a12345678 qq123456 wang1234 zhang123
""".split())
MIN_PASSWORD_LENGTH = 8


def check_password(password: str, username: str = "") -> None:
    """Raise :class:`InvalidInput` for a password anyone could guess.

    At least 8 characters (NIST SP 800-63B), at most 128; not one of the most common leaked
    passwords; not only digits, not one repeated character or a run (``12345678``,
    ``abcdefgh``, ``qwertyui``); not the username. No composition rules (the same
    guideline): ``correct horse battery`` is fine.
    """
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 128:
        raise InvalidInput("password must be at most 128 characters")
    low = password.lower()
    if low in COMMON_PASSWORDS or low.rstrip("!.1") in COMMON_PASSWORDS:
        raise InvalidInput("password is one of the most common passwords; choose another")
    if password.isdigit():
        raise InvalidInput("password must not be only digits")
    if len(set(low)) <= 2 or _is_run(low):
        raise InvalidInput("password must not be a repeated character or a keyboard run")
    if username and username.lower() in low:
        raise InvalidInput("password must not contain the username")


_RUNS = ("abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiop", "asdfghjkl", "zxcvbnm", "1qaz2wsx3edc4rfv")


def _is_run(low: str) -> bool:
    return any(low in run or low in run[::-1] for run in _RUNS)


def change_password(session: Session, actor: Actor, old_password: str, new_password: str) -> None:
    """Change the caller's password; every token issued before now stops working."""
    try:
        user = authenticate(session, actor.username, old_password)
    except NotAuthenticated:
        raise Forbidden("the old password is wrong") from None
    if old_password == new_password:
        raise InvalidInput("the new password must differ from the old one")
    check_password(new_password, user.username)
    user.password_hash = _hasher.hash(new_password)
    user.tokens_valid_after = utcnow()
    audit(session, actor, "user.password", "user", user.username)


# -- tokens -------------------------------------------------------------------------------
def issue_token(settings: Settings, user: User) -> str:
    """Return a signed JWT for ``user`` (subject = username, 8 h lifetime, a unique ``jti``)."""
    now = utcnow()
    claims = {"sub": user.username, "role": user.role, "iat": now, "exp": now + TOKEN_TTL,
              "jti": uuid.uuid4().hex, "iat_ms": int(now.timestamp() * 1000)}
    return jwt.encode(claims, secret_key(settings), algorithm=ALGORITHM)


def decode_claims(settings: Settings, token: str) -> dict[str, Any]:
    """Return the claims of a validly signed, unexpired token or raise :class:`NotAuthenticated`.

    Only the signature and the times are checked here (no database): revocation and the
    user's current role are checked by :func:`load_actor`.
    """
    if not isinstance(token, str) or len(token) > 4096 or not token.isascii():
        raise NotAuthenticated("invalid token: not a compact JWT")
    try:
        claims = jwt.decode(token, secret_key(settings), algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp"]})
    except jwt.PyJWTError as exc:
        raise NotAuthenticated(f"invalid token: {exc}") from exc
    if not isinstance(claims.get("sub"), str):
        raise NotAuthenticated("invalid token: subject is not a username")
    return claims


def decode_token(settings: Settings, token: str) -> str:
    """Return the username of a valid token or raise :class:`NotAuthenticated`."""
    return str(decode_claims(settings, token)["sub"])


def revoke_token(session: Session, actor: Actor, claims: dict[str, Any]) -> None:
    """Revoke one token (logout): its ``jti`` is refused from now until it would expire."""
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise InvalidInput("this token has no id (jti) and cannot be revoked; change the password instead")
    expires = datetime.fromtimestamp(int(claims["exp"]), tz=timezone.utc)
    if session.get(RevokedToken, jti) is None:
        session.add(RevokedToken(jti=jti[:64], expires_at=expires))
    audit(session, actor, "user.logout", "user", actor.username)


def load_actor(session: Session, username: str, claims: dict[str, Any] | None = None) -> Actor:
    """Return the :class:`Actor` of an active user (with the units an owner owns).

    With ``claims`` (the token's), a token issued before the user's last password change
    or revoked by a logout is refused. One query either way.
    """
    revoked = exists().where(RevokedToken.jti == str((claims or {}).get("jti") or ""))
    rows = session.execute(
        select(User.id, User.username, User.role, User.staff_id, User.active, User.tokens_valid_after,
               revoked.label("revoked"), UserUnit.unit_id)
        .outerjoin(UserUnit, UserUnit.user_id == User.id).where(User.username == username)).all()
    if not rows or not rows[0].active:
        raise NotAuthenticated(f"user {username!r} is unknown or disabled")
    user = rows[0]
    if claims is not None:
        if user.revoked:
            raise NotAuthenticated("this token was revoked (logged out); log in again")
        valid_after = user.tokens_valid_after
        if valid_after is not None:
            issued_ms = claims.get("iat_ms")
            if not isinstance(issued_ms, int):
                issued_ms = int(claims.get("iat", 0)) * 1000
            if issued_ms < int(valid_after.timestamp() * 1000):
                raise NotAuthenticated("this token was issued before the password changed; log in again")
    units = frozenset(r.unit_id for r in rows if r.unit_id is not None)
    community = session.info.get(COMMUNITY_KEY)
    role = user.role
    if community is not None:
        from services.communities import community_role

        role = community_role(session, user.id, user.role, community, primary=session.info.get(PRIMARY_KEY, True))
        if role is None:
            raise Forbidden(f"user {username!r} is not a member of community {community!r}")
    return Actor(user.username, role, units, user.staff_id, community)


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
