"""``/api/notifications``: the caller's in-app messages; email outbox dispatch (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from sqlalchemy import select

from services.api.deps import ActorDep, SessionDep
from services.auth import audit, require_role
from services.db import utcnow
from services.errors import InvalidInput, UnknownEntity
from services.models import Notification
from services.notify import deliver_email

from services.api.guard import allow
from services.policy import ANY_USER, OPERATORS

__all__ = ["router"]

router = APIRouter(prefix="/api/notifications", tags=["notifications"])


@router.get("", dependencies=[allow(ANY_USER)])
def mine(session: SessionDep, actor: ActorDep, unread: bool = False) -> list[dict[str, Any]]:
    """The caller's in-app notifications, newest first."""
    query = select(Notification).where(Notification.channel == "in_app", Notification.recipient == actor.username)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return [{"id": n.id, "kind": n.kind, "subject": n.subject, "body": n.body, "ref": n.ref,
             "created_at": n.created_at.isoformat(), "read": n.read_at is not None}
            for n in session.scalars(query.order_by(Notification.id.desc()).limit(200))]


@router.post("/{nid}/read", dependencies=[allow(ANY_USER)])
def mark_read(nid: Annotated[int, Path(ge=1, le=2_147_483_647)], session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Mark one of the caller's notifications read."""
    n = session.get(Notification, nid)
    if n is None or n.channel != "in_app" or n.recipient != actor.username:
        raise UnknownEntity(f"notification {nid} does not exist")
    if n.read_at is None:
        n.read_at = utcnow()
        audit(session, actor, "notification.read", "notification", n.id)
    return {"id": n.id, "read": True}


@router.post("/dispatch", dependencies=[allow(OPERATORS)])
def dispatch(request: Request, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Send pending email notifications over the configured SMTP server (admin/operator)."""
    require_role(actor, "admin", "operator")
    smtp_url = getattr(request.app.state, "smtp_url", None)
    if not smtp_url:
        raise InvalidInput("no SMTP server configured (DatabaseComponent(smtp_url='smtp://host:port'))")
    return deliver_email(session, smtp_url, request.app.state.mail_from)
