"""Scene routes: the community's GLB scene, its summary and the viewer's element index.

- ``GET /api/scene.glb``: binary glTF (``model/gltf-binary``) with an ``ETag`` (the content
  hash); ``If-None-Match`` gives 304.
- ``GET /api/scene/info``: ``{"key", "origin", "bytes", "overview_triangles",
  "total_triangles", "meshes", "cached", "version"}``.
- ``GET /api/scene/index``: ``{"origin", "buildings", "storeys", "spaces", "devices",
  "units"}`` (scene coordinates; no personal data).

The scene is built on first use (in a worker thread), cached on disk under
``<cache dir>/scene`` by content hash, and kept in memory for the app's life.
"""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response

from bim.mesh import Scene, SceneError, build_scene, scene_index

from services.api.guard import allow
from services.policy import PUBLIC

__all__ = ["SceneComponent", "get_scene", "router", "scene_for_app"]

router = APIRouter(tags=["scene"])
_lock = threading.Lock()


def _site_dir(app) -> Path | None:
    community = app.state.community
    for key in ("site_dir", "source_dir", "path"):
        value = (community.attributes or {}).get(key) if community is not None else None
        if value:
            return Path(value)
    return getattr(app.state, "site_dir", None) or app.state.settings.site


def scene_for_app(app) -> Scene:
    """Return the app's scene, building it on first use (404 without a community)."""
    state = app.state
    if getattr(state, "community", None) is None:
        raise HTTPException(404, "no community is loaded: start the service with --site DIR")
    scene = getattr(state, "scene", None)
    if scene is not None:
        return scene
    with _lock:
        scene = getattr(state, "scene", None)
        if scene is None:
            cache = state.settings.resolved_cache_dir / "scene"
            try:
                scene = build_scene(state.community, cache_dir=cache, base_dir=_site_dir(app))
            except SceneError as exc:
                raise HTTPException(422, str(exc)) from exc
            state.scene = scene
    return scene


def get_scene(request: Request) -> Scene:
    """Return the scene of the request's app (see :func:`scene_for_app`)."""
    return scene_for_app(request.app)


class SceneComponent:
    """Builds (or loads from the cache) the scene in the background when the service starts,
    so the first page load does not wait for meshing. Always ready: the scene routes build
    on demand if a request comes first."""

    name = "scene"

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    async def start(self, app) -> None:
        def work() -> None:
            try:
                scene_for_app(app)
            except HTTPException as exc:
                self.error = str(exc.detail)
        self._thread = threading.Thread(target=work, name="scene-build", daemon=True)
        self._thread.start()

    async def stop(self, app) -> None:
        return None

    def health(self) -> dict:
        building = self._thread is not None and self._thread.is_alive()
        return {"ready": True, "building": building, "error": self.error}


@router.get("/api/scene.glb", response_class=Response, dependencies=[allow(PUBLIC)],
            responses={200: {"content": {"model/gltf-binary": {}}}, 304: {"description": "unchanged"}})
def scene_glb(request: Request) -> Response:
    """Return the community scene as binary glTF (ETag = source content hash)."""
    scene = get_scene(request)
    etag = f'"{scene.key}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(scene.glb, media_type="model/gltf-binary", headers=headers)


@router.get("/api/scene/info", dependencies=[allow(PUBLIC)])
def scene_info(request: Request) -> dict:
    """Return the scene's size, triangle counts, origin and cache key."""
    return get_scene(request).info()


@router.get("/api/scene/index", dependencies=[allow(PUBLIC)])
def scene_elements(request: Request) -> dict:
    """Return the searchable, clickable elements in scene coordinates (no personal data)."""
    scene = get_scene(request)
    index = getattr(request.app.state, "scene_index", None)
    if index is None or index.get("key") != scene.key:
        index = {"key": scene.key, "origin": list(scene.origin),
                 **scene_index(request.app.state.community, scene.origin)}
        request.app.state.scene_index = index
    return index
