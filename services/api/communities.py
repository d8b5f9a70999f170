"""``GET /api/communities``: the communities this deployment serves that the caller belongs to."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from services.api.deps import SessionDep, TokenDep, caller_name
from services.api.guard import deferred
from services.communities import member_communities, site_timezone
from services.policy import ANY_USER

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["communities"])


class CommunityOut(BaseModel):
    id: str
    title: str
    timezone: str
    role: str
    default: bool
    api: str


@router.get("/communities", dependencies=[deferred(ANY_USER)], response_model=list[CommunityOut])
def list_communities(request: Request, session: SessionDep, token: TokenDep) -> list[CommunityOut]:
    """The caller's communities (id, the title people use, time zone, the caller's role there,
    the API prefix); the first served community is the default one (unprefixed paths)."""
    served = request.app.state.served  # {id: Community or None}, the default first
    roles = member_communities(session, caller_name(request, token), list(served))
    out = []
    for i, (cid, community) in enumerate(served.items()):
        if cid in roles:
            title = (community.attributes.get("title") if community is not None else None) or cid
            out.append(CommunityOut(id=cid, title=str(title), timezone=site_timezone(community), role=roles[cid],
                                    default=i == 0, api=f"/api/communities/{cid}"))
    return out
