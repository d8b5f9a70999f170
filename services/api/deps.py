"""Dependencies shared by the routers: the request's transaction, the caller, the twin.

``SessionDep`` is one transaction per request: committed after the endpoint returns,
rolled back on any error (so nothing of a failed request stays written). Project errors
(:class:`twin.errors.TwinError`) become an HTTP error with the message as ``detail``
(status from :func:`services.errors.http_status`).
"""

from __future__ import annotations

from typing import Annotated, Iterator

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.auth import Actor, decode_token, load_actor
from services.db import Database
from services.errors import http_status
from twin.errors import TwinError
from twin.model import Community

__all__ = ["ActorDep", "CommunityDep", "SessionDep", "to_http"]

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token")


def to_http(exc: TwinError) -> HTTPException:
    """Return the HTTP error for a project error."""
    status = http_status(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status_code=status, detail=str(exc), headers=headers)


def get_database(request: Request) -> Database:
    db = getattr(request.app.state, "db", None)
    if db is None:
        raise HTTPException(503, "database is not started (add services.dbcomponent.DatabaseComponent)")
    return db


def session_scope(db: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    """Yield the request's session; commit on success, roll back on any error."""
    session = db.session()
    try:
        yield session
        session.commit()
    except TwinError as exc:
        session.rollback()
        raise to_http(exc) from exc
    except IntegrityError as exc:
        session.rollback()
        raise HTTPException(409, f"conflicts with stored data: {str(exc.orig).splitlines()[0]}") from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(session_scope, scope="function")]


def current_actor(request: Request, session: SessionDep,
                  token: Annotated[str, Depends(oauth2)]) -> Actor:
    """Return the caller from the bearer token (401 when missing or invalid)."""
    username = decode_token(request.app.state.settings, token)
    return load_actor(session, username)


ActorDep = Annotated[Actor, Depends(current_actor)]


def get_community(request: Request) -> Community | None:
    return request.app.state.community


CommunityDep = Annotated[Community | None, Depends(get_community)]
