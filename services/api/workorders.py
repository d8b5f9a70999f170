"""``/api/work-orders``: report, read, list, transition, rate, attach photos; SLA pass."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import ConfigDict, Field, model_validator
from sqlalchemy import select

from services.api.inputs import InputModel
from services.api.deps import ActorDep, CommunityDep, SessionDep, TokenDep, caller_name, get_database, run_write
from services.auth import require_role
from services.errors import InvalidInput, UnknownEntity
from services.workorders import service
from services.workorders.attachments import MAX_BYTES
from services.workorders.classifier import CATEGORIES, classify
from services.workorders.models import Attachment
from services.workorders.lifecycle import STATUSES
from services.workorders.sla import SLA_STATES, escalate_overdue

from services.api.guard import allow, deferred
from services.policy import ANY_USER, OPERATORS, STAFF, KiB

__all__ = ["router"]

router = APIRouter(prefix="/api/work-orders", tags=["work orders"])

Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


class LocationIn(InputModel):
    """Exactly one twin id: a space, a device or a billing unit."""

    model_config = ConfigDict(extra="forbid")
    space_id: str | None = Field(None, min_length=1, max_length=128)
    device_id: str | None = Field(None, min_length=1, max_length=128)
    unit_id: str | None = Field(None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _exactly_one(self) -> "LocationIn":
        given = [k for k in ("space_id", "device_id", "unit_id") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"location needs exactly one of space_id, device_id, unit_id (got {given or 'none'})")
        return self


class WorkOrderIn(InputModel):
    model_config = ConfigDict(extra="forbid")
    description: str = Field(min_length=1, max_length=2000)
    location: LocationIn
    source: Literal["owner", "front_desk", "alarm", "preventive"] | None = None
    category: str | None = None
    priority: str | None = None
    contact_name: str | None = Field(None, max_length=64)
    contact_phone: str | None = Field(None, max_length=32)


class TransitionIn(InputModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(min_length=1, max_length=32)
    note: str | None = Field(None, max_length=2000)
    assignee: str | None = Field(None, max_length=128)


class RatingIn(InputModel):
    model_config = ConfigDict(extra="forbid")
    rating: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=2000)


def _tz(request: Request) -> str:
    """The community's time zone (its site manifest's)."""
    from services.communities import site_timezone

    return site_timezone(request.app.state.community)


@router.post("", status_code=201, dependencies=[deferred(ANY_USER)])
async def create(body: WorkOrderIn, request: Request, token: TokenDep,
                 community: CommunityDep) -> dict[str, Any]:
    """Report a work order; returns ``{"id", "category", "status", "assignee", "location", ...}``."""
    location = service.Location(**body.location.model_dump())
    timezone = _tz(request)
    get_database(request)  # 503 before any work when the database component is not started
    caller_name(request, token)  # 401 for a bad token before any work
    # classifying is pure computation on the text (under a millisecond): done here, it
    # stays out of the write transaction (on SQLite, out of the one-writer-at-a-time lock)
    text = body.description.strip()
    classification = classify(text) if body.category is None and text else None

    def work(session, actor) -> dict[str, Any]:
        wo = service.create_work_order(
            session, community, actor, description=body.description, location=location,
            source=body.source, category=body.category, priority=body.priority,
            contact_name=body.contact_name, contact_phone=body.contact_phone, timezone=timezone,
            classification=classification)
        session.flush()
        return service.to_public(session, wo, actor)

    # the busiest write: caller, assignment, audit and commit in one worker-thread call
    # (see run_write)
    return await run_write(request, work, token=token)


# an id: 1–128 characters, no control characters (NUL included)
Text = Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
Category = Annotated[Literal[CATEGORIES] | None, Query()]  # type: ignore[valid-type]
Source = Annotated[Literal[service.SOURCES] | None, Query()]  # type: ignore[valid-type]
Status = Annotated[Literal[STATUSES] | None, Query()]  # type: ignore[valid-type]
Sla = Annotated[Literal[SLA_STATES] | None, Query()]  # type: ignore[valid-type]
Sort = Annotated[Literal[service.SORTS], Query()]  # type: ignore[valid-type]


def _filters(status: Status = None, category: Category = None, building: Text = None, assignee: Text = None,
             source: Source = None, sla: Sla = None) -> service.Filters:
    return service.Filters(status=status, category=category, building=building, assignee=assignee,
                           source=source, sla=sla)


FiltersDep = Annotated[service.Filters, Depends(_filters)]


@router.get("", dependencies=[allow(ANY_USER)])
def list_(session: SessionDep, actor: ActorDep, filters: FiltersDep, limit: Limit = 100,
          offset: Offset = 0, mine: bool = False, sort: Sort = "-created") -> list[dict[str, Any]]:
    """Work orders the caller may see, newest first (``mine=true``: only the caller's own).

    Filters ``status``, ``category``, ``building``, ``assignee``, ``source``, ``sla``
    (``ok``/``due_soon``/``breached``); ``sort``: ``-created`` (default), ``created``,
    ``priority``, ``resolve_by``. A value outside its set answers 422.
    """
    return [service.to_public(session, wo, actor)
            for wo in service.list_work_orders(session, actor, limit=limit, offset=offset, mine=mine,
                                               filters=filters, sort=sort)]


@router.get("/summary", dependencies=[allow(STAFF)])
def summary(session: SessionDep, actor: ActorDep, filters: FiltersDep, mine: bool = False) -> dict[str, Any]:
    """Counts of the caller's visible orders (same filters as the list):
    ``{"total", "by_status", "by_sla", "as_of"}``; admin/operator/planner/staff."""
    return service.summarize_work_orders(session, actor, filters=filters, mine=mine)


@router.get("/{wo_id}", dependencies=[allow(ANY_USER)])
def read(wo_id: Id, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """One work order with its history (actor, time, from → to) and attachments."""
    return service.to_public(session, service.get_work_order(session, actor, wo_id), actor, history=True)


@router.post("/{wo_id}/transitions", dependencies=[allow(ANY_USER)])
def transition(wo_id: Id, body: TransitionIn, request: Request, session: SessionDep, actor: ActorDep,
               community: CommunityDep) -> dict[str, Any]:
    """Move to status ``to``; 409 when the lifecycle forbids it, 422 for an unknown status."""
    wo = service.transition_work_order(session, community, actor, wo_id, body.to, note=body.note,
                                       assignee=body.assignee, timezone=_tz(request))
    return service.to_public(session, wo, actor, history=True)


@router.post("/{wo_id}/rating", dependencies=[allow(ANY_USER)])
def rate(wo_id: Id, body: RatingIn, session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Revisit: rating 1–5 and comment on a completed order (→ ``revisited``)."""
    return service.to_public(session, service.rate_work_order(session, actor, wo_id, body.rating, body.comment), actor)


@router.post("/{wo_id}/attachments", status_code=201,
             dependencies=[deferred(ANY_USER.with_body(MAX_BYTES + 64 * KiB))])
async def attach(wo_id: Id, file: UploadFile, request: Request) -> dict[str, Any]:
    """Upload a photo (multipart field ``file``; JPEG/PNG/WebP by content, ≤ 5 MiB)."""
    data = await file.read(MAX_BYTES + 1)
    filename = file.filename or "photo"

    def work(session, actor) -> dict[str, Any]:
        att = service.add_attachment(session, actor, wo_id, filename, data)
        return {"id": att.id, "filename": att.filename, "content_type": att.content_type,
                "size_bytes": att.size_bytes, "sha256": att.sha256}

    return await run_write(request, work)


@router.get("/{wo_id}/attachments/{att_id}", dependencies=[allow(ANY_USER)])
def download(wo_id: Id, att_id: Id, session: SessionDep, actor: ActorDep) -> Response:
    """The stored photo bytes."""
    service.get_work_order(session, actor, wo_id)
    att = session.scalar(select(Attachment).where(Attachment.id == att_id, Attachment.work_order_id == wo_id))
    if att is None:
        raise UnknownEntity(f"attachment {att_id} of work order {wo_id} does not exist")
    # served as a download in a sandbox: whatever bytes follow the image header, a browser
    # never runs them as a page of this origin
    return Response(att.data, media_type=att.content_type, headers={
        "Content-Disposition": f'attachment; filename="photo-{att.id}{_EXT.get(att.content_type, "")}"',
        "Content-Security-Policy": "sandbox; default-src 'none'", "Cache-Control": "private, no-store"})


_EXT = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


@router.post("/escalations", dependencies=[allow(OPERATORS)])
def escalate(session: SessionDep, actor: ActorDep) -> dict[str, Any]:
    """Run one SLA pass now (the service also runs it every 30 s); admin/operator."""
    require_role(actor, "admin", "operator")
    return {"escalated": escalate_overdue(session)}
