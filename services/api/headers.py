"""Security headers on every HTTP response (an ASGI middleware).

- ``X-Content-Type-Options: nosniff`` — a browser never guesses a type (an uploaded "PNG"
  with HTML inside stays an image);
- ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'`` — no page can be framed
  (click-jacking of the acknowledge button);
- ``Referrer-Policy: no-referrer``;
- ``Content-Security-Policy`` — scripts only from this origin plus the pages' one inline
  import map (allowed by its SHA-256), no plugins, no base-URI change; connections to this
  origin (HTTP and WebSocket). FastAPI's ``/docs`` and ``/redoc`` pages load Swagger UI /
  ReDoc from their CDN and get a policy that allows exactly that.

A route may set its own ``Content-Security-Policy`` (attachment downloads use ``sandbox``):
the middleware keeps it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Callable

__all__ = ["SecurityHeaders", "content_security_policy"]

_VIEWER = Path(__file__).resolve().parents[2] / "viewer"
_INLINE = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)
_DOCS_CDN = "https://cdn.jsdelivr.net"


def _inline_script_hashes() -> list[str]:
    hashes = []
    for page in ("index.html", "owner.html"):
        path = _VIEWER / page
        if path.is_file():
            for body in _INLINE.findall(path.read_bytes()):
                hashes.append("'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'")
    return sorted(set(hashes))


def content_security_policy(*, docs: bool = False) -> str:
    """The CSP header value for the app's pages (``docs``: FastAPI's API pages)."""
    if docs:
        return (f"default-src 'self'; script-src 'self' 'unsafe-inline' {_DOCS_CDN}; "
                f"style-src 'self' 'unsafe-inline' {_DOCS_CDN}; img-src 'self' data: https://fastapi.tiangolo.com; "
                "worker-src 'self' blob:; frame-ancestors 'none'; object-src 'none'; base-uri 'none'")
    scripts = " ".join(["'self'", *_inline_script_hashes()])
    return (f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; connect-src 'self' ws: wss:; font-src 'self' data:; "
            "worker-src 'self' blob:; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'")


class SecurityHeaders:
    """ASGI middleware adding the security headers to every HTTP response."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        common = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                  (b"referrer-policy", b"no-referrer")]
        self.headers = common + [(b"content-security-policy", content_security_policy().encode())]
        self.docs_headers = common + [(b"content-security-policy", content_security_policy(docs=True).encode())]

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        extra = self.docs_headers if path.startswith(("/docs", "/redoc")) else self.headers

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", ())}
                message["headers"] = list(message.get("headers", ())) + [
                    (k, v) for k, v in extra if k not in present]
            await send(message)

        await self.app(scope, receive, send_with_headers)
