"""Dependencies shared by the routers: the request's transaction, the caller, the twin.

``SessionDep`` is one transaction per request: committed after the endpoint returns,
rolled back on any error (so nothing of a failed request stays written). Project errors
(:class:`twin.errors.TwinError`) become an HTTP error with the message as ``detail``
(status from :func:`services.errors.http_status`).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, AsyncIterator

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from services.api.guard import CLAIMS_KEY, POLICY_KEY
from services.auth import Actor, decode_claims, load_actor
from services.db import Database
from services.errors import TooManyAttempts, http_status
from services.policy import Policy
from twin.errors import TwinError
from twin.model import Community

__all__ = ["ActorDep", "CommunityDep", "SessionDep", "TokenDep", "caller_name", "run_read", "run_write", "to_http"]

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/auth/token")


def to_http(exc: TwinError) -> HTTPException:
    """Return the HTTP error for a project error."""
    status = http_status(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after_s)}
    return HTTPException(status_code=status, detail=str(exc), headers=headers)


def get_database(request: Request) -> Database:
    db = getattr(request.app.state, "db", None)
    if db is None:
        raise HTTPException(503, "database is not started (add services.dbcomponent.DatabaseComponent)")
    return db


async def session_scope(request: Request, db: Annotated[Database, Depends(get_database)]) -> AsyncIterator[Session]:
    """Yield the request's session; commit on success, roll back on any error.

    Requests other than GET/HEAD start as writers. On SQLite, writers of this process
    queue on an asyncio lock first (holding no worker thread while they wait), then take
    the database write lock (``BEGIN IMMEDIATE``), so a writer never waits on SQLite while
    the lock holder waits for a thread.
    """
    write = request.method not in ("GET", "HEAD", "OPTIONS")
    lock = db.async_write_lock() if write and db.dialect == "sqlite" else None
    if lock is not None:
        await lock.acquire()
    session = db.session()
    try:
        if write:
            await run_in_threadpool(db.begin_write, session)
        yield session
        await run_in_threadpool(session.commit)
    except TwinError as exc:
        await run_in_threadpool(session.rollback)
        raise to_http(exc) from exc
    except IntegrityError as exc:
        await run_in_threadpool(session.rollback)
        raise HTTPException(409, f"conflicts with stored data: {str(exc.orig).splitlines()[0]}") from exc
    except DataError as exc:
        await run_in_threadpool(session.rollback)
        raise _data_error(exc) from exc
    except BaseException:
        await run_in_threadpool(session.rollback)
        raise
    finally:
        await run_in_threadpool(session.close)
        if lock is not None:
            lock.release()


SessionDep = Annotated[Session, Depends(session_scope, scope="function")]


def current_actor(request: Request, session: SessionDep,
                  token: Annotated[str, Depends(oauth2)]) -> Actor:
    """Return the caller from the bearer token (401 when missing, invalid or revoked) and
    enforce the route's policy on the role stored in the database (403)."""
    claims = request.scope.get(CLAIMS_KEY) or decode_claims(request.app.state.settings, token)
    actor = load_actor(session, str(claims["sub"]), claims)
    policy: Policy | None = request.scope.get(POLICY_KEY)
    if policy is not None:
        policy.check(actor)
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]


def get_community(request: Request) -> Community | None:
    return request.app.state.community


CommunityDep = Annotated[Community | None, Depends(get_community)]


TokenDep = Annotated[str, Depends(oauth2)]


async def run_write(request: Request, work, *, authenticated: bool = True, token: str | None = None):
    """Run ``work(session, actor)`` (or ``work(session)``) in one write transaction.

    For endpoints that read the raw body themselves (uploads, CSV, signed callbacks) and
    for the busiest ones: same locking, rollback and error mapping as :data:`SessionDep`,
    but the caller's lookup, the work and the commit run in *one* worker-thread call (the
    dependency chain of :data:`SessionDep` + :data:`ActorDep` + a sync endpoint takes
    four to six), and the token's signature is checked before any of it (a bad token
    costs no thread and no database). ``token`` is the bearer token when the endpoint
    already has it (:data:`TokenDep`, which also keeps the operation's security in the
    OpenAPI). The route's policy (from the guard) is enforced on the caller's stored role.
    """
    claims = None
    if authenticated:
        claims = _claims(request, token if token is not None else await oauth2(request))
    db = get_database(request)
    lock = db.async_write_lock() if db.dialect == "sqlite" else None
    run_it = partial(_unit_of_work, db, work, claims, True, request.scope.get(POLICY_KEY))
    if lock is None:
        return await run_in_threadpool(run_it)
    async with lock:
        return await run_in_threadpool(run_it)


async def run_read(request: Request, token: str, work):
    """Run ``work(session, actor)`` in one read transaction, in one worker-thread call."""
    claims = _claims(request, token)
    db = get_database(request)
    return await run_in_threadpool(_unit_of_work, db, work, claims, False, request.scope.get(POLICY_KEY))


def caller_name(request: Request, token: str) -> str:
    """The username of a valid bearer token (401 otherwise); no database access."""
    return str(_claims(request, token)["sub"])


def _claims(request: Request, token: str) -> dict:
    claims = request.scope.get(CLAIMS_KEY)
    if claims is not None:
        return claims
    try:
        claims = decode_claims(request.app.state.settings, token)
    except TwinError as exc:
        raise to_http(exc) from exc
    request.scope[CLAIMS_KEY] = claims
    return claims


def _unit_of_work(db: Database, work, claims: dict | None, write: bool, policy: Policy | None):
    try:
        with db.transaction(write=write) as session:
            if claims is not None:
                actor = load_actor(session, str(claims["sub"]), claims)
                if policy is not None:
                    policy.check(actor)
                return work(session, actor)
            return work(session)
    except TwinError as exc:
        raise to_http(exc) from exc
    except IntegrityError as exc:
        raise HTTPException(409, f"conflicts with stored data: {str(exc.orig).splitlines()[0]}") from exc
    except DataError as exc:
        raise _data_error(exc) from exc


def _data_error(exc: DataError) -> HTTPException:
    """A value the database refuses (NUL in text, a number beyond its column): 422, not 500.

    Request models refuse these first; this covers path and query values and form fields.
    """
    return HTTPException(422, f"a value cannot be stored: {str(exc.orig).splitlines()[0]}")
