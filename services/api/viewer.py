"""The web pages: the control-room viewer at ``/``, the owners' page at ``/owner``.

Static files come from the ``viewer/`` folder: ``/viewer/app/...`` (the app's ES modules and
CSS) and ``/viewer/three/...`` (three.js from ``viewer/node_modules/three``, installed by
``npm ci`` in ``viewer/``; nothing is loaded from a CDN).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from services.api.guard import allow
from services.policy import PUBLIC

__all__ = ["router", "VIEWER_DIR"]

VIEWER_DIR = Path(__file__).resolve().parents[2] / "viewer"
ROOTS = {"app": VIEWER_DIR / "src", "three": VIEWER_DIR / "node_modules" / "three"}
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
         ".json": "application/json", ".png": "image/png", ".svg": "image/svg+xml",
         ".html": "text/html", ".wasm": "application/wasm"}
MISSING_THREE = ("<!doctype html><meta charset=utf-8><title>viewer not installed</title>"
                 "<p>three.js is missing: run <code>npm ci</code> in <code>viewer/</code>.</p>")

router = APIRouter(tags=["viewer"])


def _page(name: str) -> FileResponse | HTMLResponse:
    if not (ROOTS["three"] / "build" / "three.module.js").is_file():
        return HTMLResponse(MISSING_THREE, status_code=503)
    return FileResponse(VIEWER_DIR / name, media_type="text/html",
                        headers={"Cache-Control": "no-cache"})


@router.get("/", include_in_schema=False, response_model=None, dependencies=[allow(PUBLIC)])
def control_room() -> FileResponse | HTMLResponse:
    """Serve the control-room 3D viewer."""
    return _page("index.html")


@router.get("/owner", include_in_schema=False, response_model=None, dependencies=[allow(PUBLIC)])
def owner_page() -> FileResponse | HTMLResponse:
    """Serve the owners' page (mobile-first, Chinese with English)."""
    return _page("owner.html")


@router.get("/viewer/{root}/{path:path}", include_in_schema=False, dependencies=[allow(PUBLIC)])
def static_file(root: str, path: str) -> FileResponse:
    """Serve a file of the viewer app or of three.js (never outside those folders)."""
    base = ROOTS.get(root)
    if base is None:
        raise HTTPException(404, f"unknown static root {root!r}")
    if "\x00" in path:  # no file name holds NUL (resolve() would raise)
        raise HTTPException(404, f"no file {path!r} under /viewer/{root}")
    target = (base / path).resolve()
    if not target.is_relative_to(base.resolve()) or not target.is_file():
        raise HTTPException(404, f"no file {path!r} under /viewer/{root}")
    return FileResponse(target, media_type=TYPES.get(target.suffix, "application/octet-stream"),
                        headers={"Cache-Control": "no-cache"})
