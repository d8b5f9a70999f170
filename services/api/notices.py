"""``/api/notices``: staff compose and schedule notices; recipients read them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import AwareDatetime, ConfigDict, Field

from services import notices
from services.api.deps import ActorDep, CommunityDep, SessionDep
from services.api.guard import allow
from services.api.inputs import InputModel
from services.errors import InvalidInput
from services.policy import ANY_USER, OPERATORS

__all__ = ["router"]

router = APIRouter(prefix="/api/notices", tags=["notices"])


class TargetIn(InputModel):
    """Who a notice reaches; every key given must match (docs/api.md, Notices)."""

    model_config = ConfigDict(extra="forbid")
    building: str | None = Field(None, min_length=1, max_length=128)
    entrance: int | None = Field(None, ge=1, le=999)
    floor: int | None = Field(None, ge=-99, le=999)
    unit_id: str | None = Field(None, min_length=1, max_length=128)
    role: Literal["admin", "operator", "planner", "staff", "owner"] | None = None


class NoticeIn(InputModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000)
    title_en: str | None = Field(None, max_length=200)
    body_en: str | None = Field(None, max_length=10_000)
    target: TargetIn
    publish_at: AwareDatetime | None = None
    email: bool = True


@router.post("", status_code=201, dependencies=[allow(OPERATORS)])
def create(body: NoticeIn, session: SessionDep, actor: ActorDep, community: CommunityDep) -> dict[str, Any]:
    """Compose a notice (published now, or at ``publish_at``); returns it with its counts."""
    n = notices.create_notice(session, community, actor, title=body.title, body=body.body,
                              title_en=body.title_en, body_en=body.body_en,
                              target=body.target.model_dump(), publish_at=_utc(body.publish_at),
                              email=body.email)
    return notices.office_view(session, n)


_EARLIEST, _LATEST = datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(9000, 1, 1, tzinfo=timezone.utc)


def _utc(value: datetime | None) -> datetime | None:
    """``publish_at`` in UTC, between the years 2000 and 9000 (422 otherwise)."""
    if value is None:
        return None
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError:
        utc = None
    if utc is None or not _EARLIEST <= utc < _LATEST:
        raise InvalidInput(f"publish_at={value.isoformat()} must lie between 2000 and 9000 (UTC)")
    return utc


@router.get("", dependencies=[allow(ANY_USER)])
def list_(session: SessionDep, actor: ActorDep,
          limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Office roles: every notice with ``recipients`` and ``read_count``; others: theirs."""
    return notices.list_notices(session, actor, limit=limit)


@router.post("/{notice_id}/read", dependencies=[allow(ANY_USER)])
def read(notice_id: Annotated[int, Path(ge=1, le=2_147_483_647)], session: SessionDep,
         actor: ActorDep) -> dict[str, Any]:
    """Mark a notice the caller received read."""
    return notices.mark_read(session, actor, notice_id)
