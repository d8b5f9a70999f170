"""Communities: one deployment serves several sites; each request, row and role belongs to one.

A *community* is one site; its id is the ``name`` of the site manifest (``site.json``),
ASCII ``[a-z0-9][a-z0-9_-]*`` up to 64 characters. The sites come from repeated ``--site``
options, ``TWIN_SITES`` (comma-separated site folders, or one folder whose sub-folders
are sites) or ``TWIN_SITE`` (one site, the default).

- **Paths.** Every API route exists twice: ``/api/X`` (the deployment's default
  community, today's paths) and ``/api/communities/{cid}/X``; WebSockets likewise
  ``/ws/X`` and ``/ws/communities/{cid}/X``. :class:`CommunityScope` (a middleware of
  every app) checks a prefixed request against the caller's membership *before* the route's
  policy guard reads the body, then rewrites the path; a caller who is not a member of
  ``cid`` (or a ``cid`` that is not served) gets **404** — the answer does not tell
  whether the community exists.
- **Roles.** ``memberships`` (user, community, role) give a user a role in each
  community; a user without any membership keeps their global role in the default
  community only (single-site deployments need no membership rows).
- **Rows.** Tables with one community's data carry a ``community`` column
  (:class:`services.db.CommunityScoped`): every session of a community's app stamps
  inserts with it and filters reads by it; on PostgreSQL row-level security policies
  (``community = current_setting('twin.community')``) apply the same rule below the API.
- **Live data.** Each community has its own live ingestion (topics
  ``twin/{cid}/...``) and, when several communities are served, its own live tables
  (:func:`live_db_url`).

:func:`serve_communities` composes several community apps behind one ASGI app
(:class:`CommunityHub`).
"""

from __future__ import annotations

import json
import re
from contextlib import AsyncExitStack
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from services.errors import InvalidInput

__all__ = ["COMMUNITY_ID", "DEFAULT_TIMEZONE", "CommunityHub", "CommunityScope", "community_id_of",
           "community_role", "default_community_id", "live_db_url", "member_communities", "site_dirs",
           "site_timezone", "site_title", "split_community_path"]

#: A community id: the site manifest's ``name``.
COMMUNITY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

#: Time zone of a site whose manifest names none (documented in docs/deploy.md).
DEFAULT_TIMEZONE = "Asia/Shanghai"

_PREFIXED = re.compile(r"^/(api|ws)/communities/([^/]+)(/.*)?$")


def community_id_of(site: Path | str) -> str:
    """Return the community id of a site folder: its manifest's ``name`` (else the folder name)."""
    site = Path(site)
    name = None
    manifest = site / "site.json" if site.is_dir() else None
    if manifest is not None and manifest.is_file():
        try:
            name = json.loads(manifest.read_text(encoding="utf-8")).get("name")
        except (OSError, ValueError):
            name = None
    name = str(name or site.stem).strip().lower()
    if not COMMUNITY_ID.match(name):
        raise InvalidInput(f"site {str(site)!r}: community id {name!r} must be ASCII letters, digits, "
                           "'-' or '_' (at most 64)")
    return name


def site_title(site: Path | str) -> str | None:
    """The manifest's ``title`` of a site folder (the name people use), None without one."""
    manifest = Path(site) / "site.json"
    try:
        title = json.loads(manifest.read_text(encoding="utf-8")).get("title")
    except (OSError, ValueError, AttributeError):
        return None
    return str(title) if title else None


def site_timezone(community: Any, default: str = DEFAULT_TIMEZONE) -> str:
    """The time zone of a community (its site manifest's ``timezone``, else ``default``)."""
    attrs = getattr(community, "attributes", None) or {}
    return str(attrs.get("timezone") or default)


def site_dirs(settings, sites: list[Path] | None = None) -> list[Path]:
    """The site folders this deployment serves, in order (the first is the default community).

    ``sites`` (repeated ``--site``) wins, then ``TWIN_SITES``, then ``TWIN_SITE``. Raises
    :class:`~services.errors.InvalidInput` for a missing folder or two sites with one id.
    """
    if sites:
        dirs = [Path(s) for s in sites]
    elif getattr(settings, "sites", None):
        dirs = []
        for part in str(settings.sites).split(","):
            part = part.strip()
            if not part:
                continue
            path = Path(part)
            if path.is_dir() and not (path / "site.json").is_file():
                dirs += sorted(p for p in path.iterdir() if (p / "site.json").is_file())
            else:
                dirs.append(path)
        if not dirs:
            raise InvalidInput(f"TWIN_SITES={settings.sites!r} names no site folder")
    else:
        dirs = [Path(settings.site)]
    seen: dict[str, Path] = {}
    for d in dirs:
        if not d.exists():
            raise InvalidInput(f"site {str(d)!r} does not exist")
        cid = community_id_of(d)
        if cid in seen:
            raise InvalidInput(f"sites {str(seen[cid])!r} and {str(d)!r} are both community {cid!r}")
        seen[cid] = d
    return dirs


@lru_cache(maxsize=1)
def _default_id(site: str, sites: str) -> str:
    from services.settings import Settings

    try:
        return community_id_of(site_dirs(Settings(site=Path(site), sites=sites or None))[0])
    except InvalidInput:
        return community_id_of(Path(site).name or "default") if Path(site).name else "default"


def default_community_id() -> str:
    """The default community of this deployment's settings (rows written without one get it)."""
    from services.settings import get_settings

    s = get_settings()
    return _default_id(str(s.site), s.sites or "")


def live_db_url(settings, community: str) -> str:
    """The live-history database of ``community`` when several communities are served.

    SQLite: ``live-<cid>.sqlite`` beside the main database file; PostgreSQL: the same
    database with the schema ``live_<cid>`` first on the search path (created on demand).
    """
    from sqlalchemy.engine import make_url

    url = make_url(settings.resolved_db_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "twin.sqlite")
        return str(url.set(database=str(path.with_name(f"live-{community}.sqlite"))))
    schema = "live_" + community.replace("-", "_")
    _create_schema(settings.resolved_db_url, schema)
    return url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def _create_schema(url: str, schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        engine.dispose()


# -- memberships ------------------------------------------------------------------------
def community_role(session, user_id: int, global_role: str, community: str, *, primary: bool) -> str | None:
    """The role of a user in ``community``; None when they are not a member.

    A membership row gives the role; a user with no membership row at all keeps
    ``global_role`` in the primary (default) community only.
    """
    from sqlalchemy import select

    from services.models import Membership

    rows = dict(session.execute(select(Membership.community, Membership.role)
                                .where(Membership.user_id == user_id)).all())
    if community in rows:
        return rows[community]
    if not rows and primary:
        return global_role
    return None


def member_communities(session, username: str, served: list[str]) -> dict[str, str]:
    """``{community id: role}`` of the served communities ``username`` belongs to."""
    from sqlalchemy import select

    from services.models import Membership, User

    user = session.execute(select(User.id, User.role).where(User.username == username)).first()
    if user is None:
        return {}
    out = {}
    for i, cid in enumerate(served):
        role = community_role(session, user.id, user.role, cid, primary=(i == 0))
        if role is not None:
            out[cid] = role
    return out


# -- the HTTP side ----------------------------------------------------------------------
def split_community_path(path: str) -> tuple[str | None, str]:
    """``("/api/communities/lakeside/x")`` → ``("lakeside", "/api/x")``; unprefixed → ``(None, path)``."""
    m = _PREFIXED.match(path)
    if m is None:
        return None, path
    return m.group(2), f"/{m.group(1)}{m.group(3) or '/'}"


class CommunityScope:
    """ASGI middleware of a community's app: check and strip the community prefix.

    A request to ``/api/communities/{cid}/X`` reaches the route ``/api/X`` only when
    ``cid`` is this app's community and the bearer token's user is a member (any role;
    the route's policy then checks the role). Otherwise **404**, before the body is read
    and whatever the route's policy (public routes too). WebSockets authenticate in their
    first message (subprotocol ``bearer.<token>``: checked here, closed before the
    handshake; a first ``auth`` message: the socket's role lookup refuses a non-member).
    """

    def __init__(self, app: Callable, community: str) -> None:
        self.app = app
        self.community = community

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        cid, rest = split_community_path(scope["path"])
        if cid is None:
            await self.app(scope, receive, send)
            return
        if cid != self.community:
            await _not_found(scope, receive, send, cid)
            return
        if (scope["type"] == "http" or _ws_bearer(scope)) and not await self._member(scope):
            await _not_found(scope, receive, send, cid)
            return
        scope = dict(scope, path=rest, raw_path=rest.encode("utf-8"))
        await self.app(scope, receive, send)

    async def _member(self, scope: dict) -> bool:
        from starlette.concurrency import run_in_threadpool

        from services.api.guard import _bearer
        from services.auth import decode_claims, load_actor
        from services.errors import TwinError

        app = scope["app"]
        try:
            claims = decode_claims(app.state.settings, _ws_bearer(scope) or _bearer(scope))
        except TwinError:
            return False
        db = getattr(app.state, "db", None)
        if db is None:
            return False

        def lookup() -> bool:
            try:
                with db.transaction(write=False) as session:
                    load_actor(session, str(claims["sub"]), claims)
                return True
            except TwinError:
                return False
        return await run_in_threadpool(lookup)


def _ws_bearer(scope: dict) -> str | None:
    """The token of a WebSocket that logs in with the subprotocol ``bearer.<token>``."""
    if scope["type"] != "websocket":
        return None
    for proto in scope.get("subprotocols") or ():
        if proto.startswith("bearer."):
            return proto[len("bearer."):]
    return None


async def _not_found(scope: dict, receive: Callable, send: Callable, cid: str) -> None:
    import orjson

    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4404})
        return
    body = orjson.dumps({"detail": f"no community {cid!r}"})
    await send({"type": "http.response.start", "status": 404,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class CommunityHub:
    """One ASGI app serving several community apps (one :func:`services.app.create_app` each).

    ``/api/communities/{cid}/...`` and ``/ws/communities/{cid}/...`` go to ``cid``'s app
    (an unknown ``cid`` to the default app, which answers 404); everything else to the
    default (first) community's app. Its lifespan starts every app's components in order
    and stops them in reverse.
    """

    def __init__(self, apps: dict[str, Any]) -> None:
        if not apps:
            raise ValueError("a hub needs at least one community app")
        self.apps = dict(apps)
        self.default = next(iter(self.apps))

    @property
    def state(self):
        """The default community's app state (settings, database...)."""
        return self.apps[self.default].state

    def app_for(self, path: str):
        cid, _ = split_community_path(path)
        return self.apps.get(cid or self.default) or self.apps[self.default]

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.app_for(scope.get("path", "/"))(scope, receive, send)

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        stack = AsyncExitStack()
        message = await receive()
        assert message["type"] == "lifespan.startup"
        try:
            for app in self.apps.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
        except BaseException as exc:
            await stack.aclose()
            await send({"type": "lifespan.startup.failed", "message": str(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        message = await receive()
        try:
            await stack.aclose()
        finally:
            await send({"type": "lifespan.shutdown.complete"})
