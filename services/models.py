"""Tables shared by every domain of :mod:`services`: users, the audit log, the outbox.

Domain tables live beside their logic (:mod:`services.workorders.models`,
:mod:`services.billing.models`); :func:`all_metadata` imports them all so Alembic sees
every table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, MetaData, String, Text
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from services.db import Base, CommunityScoped, UTCDateTime, utcnow

__all__ = ["AuditEntry", "Membership", "Notice", "NoticeRecipient", "Notification", "RevokedToken", "User", "UserUnit",
           "all_metadata"]


class User(Base):
    """A login: username, argon2 hash, role (admin/operator/planner/staff/owner)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    email: Mapped[str | None] = mapped_column(String(255), nullable=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Created by ``twin demo`` with the published demo password: ``twin serve`` refuses
    #: to start while such a user exists (services.deployment).
    demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    #: Tokens issued before this instant are refused (set by a password change).
    tokens_valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RevokedToken(Base):
    """A token revoked by logout, refused until it would have expired anyway."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Membership(Base):
    """A user's role in one community (a user may belong to several, with a role in each)."""

    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    community: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))


class UserUnit(CommunityScoped, Base):
    """A billing unit an owner user owns (an owner may own several)."""

    __tablename__ = "user_units"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    community: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    unit_id: Mapped[str] = mapped_column(String(128), primary_key=True)


class AuditEntry(CommunityScoped, Base):
    """One audited write: who (actor), what (action on entity/id, detail), when (UTC)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Notification(CommunityScoped, Base):
    """A message in the outbox: in-app (delivered when stored) or email (sent over SMTP)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_status", "channel", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32), default="message")
    ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Notice(CommunityScoped, Base):
    """A notice staff compose for owners or staff: title and body in 中文 (+ English),
    a target (building, entrance, floor, household, role; see :mod:`services.notices`),
    published at ``publish_at`` (UTC) when its recipients are resolved and stored."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_due", "published_at", "publish_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    title_en: Mapped[str | None] = mapped_column(String(200), nullable=True)
    body_en: Mapped[str | None] = mapped_column(Text, nullable=True)
    target: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    email: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    publish_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class NoticeRecipient(CommunityScoped, Base):
    """A user a published notice reached (in-app) and when they read it."""

    __tablename__ = "notice_recipients"

    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def all_metadata() -> list[MetaData]:
    """Return the metadata of every services table (importing each domain's models)."""
    import services.billing.models  # noqa: F401
    import services.consumers  # noqa: F401
    import services.metering.models  # noqa: F401
    import services.workorders.models  # noqa: F401

    return [Base.metadata]
