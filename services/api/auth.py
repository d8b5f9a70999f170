"""``/api/auth``: OAuth2 password flow (``POST /api/auth/token``) and ``GET /api/auth/me``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from services.api.deps import ActorDep, SessionDep
from services.auth import authenticate, issue_token

__all__ = ["router"]

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    role: str


class Me(BaseModel):
    username: str
    role: str
    units: list[str]
    staff_id: str | None


@router.post("/token", response_model=Token)
def login(request: Request, session: SessionDep,
          form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """Exchange username and password (form fields) for a bearer token (8 h)."""
    user = authenticate(session, form.username, form.password)
    return Token(access_token=issue_token(request.app.state.settings, user), role=user.role)


@router.get("/me", response_model=Me)
def me(actor: ActorDep) -> Me:
    """Return the caller's username, role, owned units and staff id."""
    return Me(username=actor.username, role=actor.role, units=sorted(actor.unit_ids),
              staff_id=actor.staff_id)
