"""Route policies on the wire: every route declares one, checked before its body is read.

A route declares its policy as a dependency, ``dependencies=[allow(OPERATORS)]``.
:func:`install_guards` (called by :func:`services.app.create_app` once the routers are in)
adds the :class:`PolicyGuard` middleware, which finds the request's route and, before
FastAPI reads or parses anything:

1. a body larger than the policy's ``max_body_bytes`` is refused (413; a declared
   ``Content-Length`` at once, a streamed body as soon as it passes the limit);
2. a policy that needs a login refuses a request without a valid bearer token (401; the
   signature and expiry are checked, no database is touched);
3. the policy and the token's claims are put in the request scope, where the caller's
   lookup (:func:`services.api.deps.current_actor`, ``run_read``/``run_write``) checks the
   role against the database and enforces the policy.

A route without a policy makes :func:`install_guards` raise: the app does not start.
"""

from __future__ import annotations

from typing import Any, Callable

import orjson
from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Match, Mount, Route

from services.auth import decode_claims
from services.errors import NotAuthenticated
from services.policy import PUBLIC, Policy

__all__ = ["POLICY_KEY", "CLAIMS_KEY", "PolicyGuard", "allow", "deferred", "install_guards", "policy_of", "route_policies"]

#: Scope keys where the guard leaves the route's policy and the token's claims.
POLICY_KEY = "twin.policy"
CLAIMS_KEY = "twin.claims"


def allow(policy: Policy) -> Any:
    """Return the dependency that declares ``policy`` for a route.

    For a policy with roles the dependency loads the caller (cached for the request, so an
    endpoint that also asks for :data:`~services.api.deps.ActorDep` loads it once) and the
    role check happens there; for ``public``/``signed`` it does nothing.
    """
    if policy.needs_login:
        from services.api.deps import current_actor

        def dep(actor=Depends(current_actor)):  # noqa: B008 - FastAPI's idiom
            return actor
    else:
        def dep() -> None:
            return None
    dep.__twin_policy__ = policy  # type: ignore[attr-defined]
    dep.__name__ = f"policy_{policy.name}"
    return Depends(dep)


def deferred(policy: Policy) -> Any:
    """Declare ``policy`` for a route whose endpoint loads the caller itself.

    For the busiest endpoints, which check the token and load the caller in one
    worker-thread call (``run_read`` / ``run_write``): the guard still refuses a missing
    or bad token before the body is read; the role is checked when the caller is loaded.
    """
    def dep() -> None:
        return None
    dep.__twin_policy__ = policy  # type: ignore[attr-defined]
    dep.__name__ = f"policy_{policy.name}_deferred"
    return Depends(dep)


def policy_of(route: Any) -> Policy | None:
    """The policy a route declares (None when it declares none)."""
    for dep in getattr(route, "dependencies", None) or ():
        policy = getattr(dep.dependency, "__twin_policy__", None)
        if policy is not None:
            return policy
    return getattr(route, "twin_policy", None)


def _leaf_routes(app: FastAPI, routers: list) -> list:
    """The routes as declared: the app's own plus each included router's."""
    own = [r for r in app.router.routes if isinstance(r, (Route, APIRoute, APIWebSocketRoute, Mount))]
    return own + [r for router in routers for r in router.routes]


def route_policies(app: FastAPI) -> list[tuple[str, str, Policy | None]]:
    """``(methods, path, policy)`` of every route of ``app`` (methods ``WS`` for sockets)."""
    rows = []
    for route in app.state.twin_routes:
        methods = "WS" if isinstance(route, APIWebSocketRoute) else ",".join(sorted(getattr(route, "methods", None) or ()))
        rows.append((methods, getattr(route, "path", str(route)), policy_of(route)))
    return rows


def install_guards(app: FastAPI, routers: list) -> None:
    """Check that every route has a policy and add the middleware that enforces them.

    FastAPI's own pages (``/openapi.json``, ``/docs``, ``/redoc``) are public. Raises
    :class:`RuntimeError` naming every route without a policy: the app does not start.
    """
    framework = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    routes = _leaf_routes(app, routers)
    missing = []
    for route in routes:
        policy = policy_of(route)
        if policy is None and isinstance(route, Route) and not isinstance(route, APIRoute) \
                and route.path in framework:
            route.twin_policy = PUBLIC  # type: ignore[attr-defined]
            continue
        if policy is None:
            methods = "WS" if isinstance(route, APIWebSocketRoute) else ",".join(sorted(getattr(route, "methods", None) or ()))
            missing.append(f"{methods} {getattr(route, 'path', route)}")
    if missing:
        raise RuntimeError("routes without an access policy (declare one with allow(...)): " + "; ".join(missing))
    app.state.twin_routes = routes
    app.add_middleware(PolicyGuard, routes=routes)


class PolicyGuard:
    """ASGI middleware: find the request's route, apply its policy's checks (see module)."""

    def __init__(self, app: Callable, routes: list) -> None:
        self.app = app
        self.routes = [(route, policy_of(route)) for route in routes]

    def _policy(self, scope: dict) -> Policy | None:
        partial = None
        for route, policy in self.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return policy
            if match is Match.PARTIAL and partial is None:
                partial = policy
        return partial

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        policy = self._policy(scope)
        if policy is None:  # no route: the router answers 404/405
            await self.app(scope, receive, send)
            return
        scope[POLICY_KEY] = policy
        if scope["type"] == "websocket":  # the socket authenticates in its first message
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > policy.max_body_bytes:
            await _refuse(send, 413, f"request body of {length} bytes exceeds this route's limit of "
                                     f"{policy.max_body_bytes} bytes")
            return
        if policy.needs_login:
            try:
                scope[CLAIMS_KEY] = decode_claims(scope["app"].state.settings, _bearer(scope))
            except NotAuthenticated as exc:
                await _refuse(send, 401, str(exc), {"www-authenticate": "Bearer"})
                return
        body = await _read_body(receive, policy.max_body_bytes)
        if body is None:
            await _refuse(send, 413, f"request body exceeds this route's limit of {policy.max_body_bytes} bytes")
            return
        await self.app(scope, _replay(body, receive), send)


def _content_length(scope: dict) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                return 1 << 62
            return int(text) if text.isascii() and text.isdigit() else 1 << 62
    return None


def _bearer(scope: dict) -> str:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            try:
                text = value.decode("ascii")
            except UnicodeDecodeError:
                raise NotAuthenticated("the Authorization header is not ASCII") from None
            scheme, _, token = text.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            raise NotAuthenticated("the Authorization header is not 'Bearer <token>'")
    raise NotAuthenticated("not authenticated: log in and send 'Authorization: Bearer <token>'")


async def _read_body(receive: Callable, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it passes ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Callable) -> Callable:
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay


async def _refuse(send: Callable, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = orjson.dumps({"detail": detail})
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
