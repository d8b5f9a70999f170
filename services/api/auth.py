"""``/api/auth``: OAuth2 password flow (``POST /api/auth/token``) and ``GET /api/auth/me``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from services.api.deps import ActorDep, SessionDep
from services.api.guard import CLAIMS_KEY
from services.api.inputs import InputModel
from services.auth import authenticate, change_password, issue_token, revoke_token
from services.errors import NotAuthenticated
from services.throttle import LoginThrottle

from services.api.guard import allow
from services.policy import ANY_USER, PUBLIC, KiB

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


class PasswordIn(InputModel):
    old_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=128)


def _throttle(request: Request) -> LoginThrottle:
    throttle = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        s = request.app.state.settings
        throttle = request.app.state.login_throttle = LoginThrottle(
            max_failures_user=s.login_max_failures_user, max_failures_address=s.login_max_failures_address,
            window_s=s.login_window_s)
    return throttle


@router.post("/token", response_model=Token, dependencies=[allow(PUBLIC.with_body(4 * KiB))])
def login(request: Request, session: SessionDep,
          form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """Exchange username and password (form fields) for a bearer token (8 h).

    429 with ``Retry-After`` after too many failed logins for the username or from the
    client's address (``TWIN_LOGIN_*`` settings), even with the right password.
    """
    throttle = _throttle(request)
    address = request.client.host if request.client else None
    throttle.check(form.username, address)
    try:
        user = authenticate(session, form.username, form.password)
    except NotAuthenticated:
        throttle.failed(form.username, address)
        raise
    throttle.succeeded(form.username)
    return Token(access_token=issue_token(request.app.state.settings, user), role=user.role)


@router.post("/logout", status_code=204, dependencies=[allow(ANY_USER)])
def logout(request: Request, session: SessionDep, actor: ActorDep) -> None:
    """Revoke the token of this request (other sessions of the user stay logged in)."""
    revoke_token(session, actor, request.scope[CLAIMS_KEY])


@router.post("/password", status_code=204, dependencies=[allow(ANY_USER.with_body(4 * KiB))])
def password(body: PasswordIn, session: SessionDep, actor: ActorDep) -> None:
    """Change the caller's password (policy in docs/security.md); every token issued
    before the change, this one included, stops working."""
    change_password(session, actor, body.old_password, body.new_password)


@router.get("/me", response_model=Me, dependencies=[allow(ANY_USER)])
def me(actor: ActorDep) -> Me:
    """Return the caller's username, role, owned units and staff id."""
    return Me(username=actor.username, role=actor.role, units=sorted(actor.unit_ids),
              staff_id=actor.staff_id)
