"""Server-side 3D render of the towers, each storey coloured by its queueing time.

pyvista with ``off_screen=True``: VTK's wheels open an EGL context (Debian: libegl1,
libegl-mesa0, libgl1-mesa-dri, libgl1 — installed by ``dev.sh``) or OSMesa when built so;
no X server is needed. Each storey is its walkable footprint (simplified to 0.3 m)
extruded from its elevation to 85 % of the storey height, drawn unlit in the flat colour of
:func:`services.drill_report.data.queue_colour`, so a pixel's colour is the storey's
colour exactly; outlines are dark grey.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from services.drill_report.data import queue_colour
from twin.errors import TwinError

__all__ = ["RenderError", "Slab", "render_towers", "slabs_of"]

#: Share of the storey height a slab fills (the rest is a gap, so storeys read apart).
SLAB_FRACTION = 0.85
#: Outline simplification (m).
SIMPLIFY_M = 0.3
#: Camera direction (from the focal point towards the camera): south-east, from above.
VIEW_VECTOR = (0.45, -1.0, 0.55)
_LOCK = threading.Lock()  # one VTK render at a time in a process


class RenderError(TwinError):
    """Off-screen rendering is not available (no EGL/OSMesa) or failed."""


@dataclass(frozen=True)
class Slab:
    """One storey to draw: floor id, footprint (shapely, metres), bottom z and height (m)."""

    floor: str
    footprint: object
    z_m: float
    height_m: float


def slabs_of(scenario: dict) -> list[Slab]:
    """Return a slab per scenario floor; the height is the gap to the next floor of its building.

    Floors ``<building>/<storey>`` group by building; a floor with no floor above takes the
    building's typical storey height (3 m when unknown), clipped to 2–6 m.
    """
    from shapely.geometry import shape

    by_b: dict[str, list[dict]] = {}
    for f in scenario.get("floors", []):
        by_b.setdefault(f["id"].split("/", 1)[0] if "/" in f["id"] else "", []).append(f)
    out = []
    for floors in by_b.values():
        floors = sorted(floors, key=lambda f: float(f.get("elevation_m", 0.0)))
        zs = [float(f.get("elevation_m", 0.0)) for f in floors]
        gaps = [b - a for a, b in zip(zs, zs[1:]) if b - a > 0.5]
        typical = float(np.median(gaps)) if gaps else 3.0
        for k, f in enumerate(floors):
            h = zs[k + 1] - zs[k] if k + 1 < len(zs) and zs[k + 1] - zs[k] > 0.5 else typical
            out.append(Slab(f["id"], shape(f["walkable"]), zs[k], min(max(h, 2.0), 6.0)))
    return out


def _prism(poly, z0: float, z1: float):
    """Return (points, faces, outline lines) of one polygon's prism (exterior only)."""
    ring = np.asarray(poly.exterior.coords)[:-1, :2]
    if len(ring) < 3:
        return None
    from shapely.geometry import LinearRing

    if not LinearRing(ring).is_ccw:
        ring = ring[::-1]
    m = len(ring)
    pts = np.vstack([np.c_[ring, np.full(m, z0)], np.c_[ring, np.full(m, z1)]])
    faces = [m, *range(m - 1, -1, -1), m, *range(m, 2 * m)]  # bottom (facing down), top
    for j in range(m):
        k = (j + 1) % m
        faces += [4, j, k, m + k, m + j]
    lines = [m + 1, *range(m), 0, m + 1, *range(m, 2 * m), m]
    return pts, faces, lines


def _mesh(slabs: list[Slab], colours: list[tuple[float, float, float]]):
    import pyvista as pv

    pts, faces, lines, rgb, off = [], [], [], [], 0
    for s, c in zip(slabs, colours):
        geom = s.footprint.simplify(SIMPLIFY_M, preserve_topology=True)
        for poly in getattr(geom, "geoms", [geom]):
            if poly.geom_type != "Polygon" or poly.is_empty:
                continue
            pr = _prism(poly, s.z_m, s.z_m + SLAB_FRACTION * s.height_m)
            if pr is None:
                continue
            p, f, ln = pr
            n_cells = 2 + (len(p) // 2)
            pts.append(p)
            faces += _shift(f, off)
            lines += _shift(ln, off)
            rgb += [np.round(np.asarray(c) * 255).astype(np.uint8)] * n_cells
            off += len(p)
    if not pts:
        raise RenderError("nothing to draw: no storey has a polygonal footprint")
    P = np.vstack(pts)
    solid = pv.PolyData(P, faces=np.asarray(faces))
    solid.cell_data["rgb"] = np.vstack(rgb)
    return solid, pv.PolyData(P, lines=np.asarray(lines))


def _shift(cells: list[int], off: int) -> list[int]:
    out, k = [], 0
    while k < len(cells):
        n = cells[k]
        out += [n] + [c + off for c in cells[k + 1:k + 1 + n]]
        k += n + 1
    return out


def render_towers(slabs: list[Slab], values: dict[str, float | None], *, vmax: float,
                  size: tuple[int, int] = (1400, 1000),
                  probes: list[tuple[float, float, float]] = ()) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Render the slabs off-screen; return the RGB image (H×W×3 uint8) and probe pixels.

    ``values`` maps a floor id to its queueing time (s; ``None`` = no people), coloured by
    :func:`queue_colour` on 0..``vmax``. ``probes`` are world points (m) whose pixel
    ``(column, row)`` in the image is returned (row 0 at the top), e.g. to place labels.
    Raises :class:`RenderError` when no off-screen OpenGL context can be made.
    """
    import pyvista as pv

    colours = [queue_colour(values.get(s.floor), vmax) for s in slabs]
    solid, outline = _mesh(slabs, colours)
    from vtkmodules.vtkCommonCore import vtkLogger

    with _LOCK:
        # VTK tries an X window before EGL and logs "bad X server connection" on a server:
        # errors only while this render opens its window (restored after)
        cutoff = vtkLogger.GetCurrentVerbosityCutoff()
        vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_ERROR)
        try:
            return _draw(pv, solid, outline, size, probes)
        finally:
            vtkLogger.SetStderrVerbosity(cutoff)


def _draw(pv, solid, outline, size, probes) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Open the off-screen plotter, draw, screenshot, project the probes; always close it."""
    try:
        pl = pv.Plotter(off_screen=True, window_size=list(size))
    except Exception as exc:  # noqa: BLE001 - VTK raises many kinds here
        raise RenderError(f"cannot open an off-screen render window: {exc}") from exc
    try:
        pl.set_background("white")
        pl.add_mesh(solid, scalars="rgb", rgb=True, lighting=False, show_scalar_bar=False)
        pl.add_mesh(outline, color=(0.25, 0.25, 0.25), line_width=1, lighting=False)
        pl.view_vector(VIEW_VECTOR, viewup=(0, 0, 1))
        pl.reset_camera()
        pl.camera.zoom(1.15)
        img = pl.screenshot(return_img=True)
        if img is None or img.ndim != 3 or img.std() == 0:
            raise RenderError(f"off-screen rendering gave a blank image ({pl.ren_win.GetClassName()}): "
                              "install EGL or OSMesa (Debian: libegl1 libegl-mesa0 libgl1-mesa-dri)")
        h = img.shape[0]
        px = []
        for x, y, z in probes:
            pl.renderer.SetWorldPoint(float(x), float(y), float(z), 1.0)
            pl.renderer.WorldToDisplay()
            dx, dy, _dz = pl.renderer.GetDisplayPoint()
            px.append((int(round(dx)), int(round(h - 1 - dy))))
        return np.ascontiguousarray(img[..., :3]), px
    finally:
        pl.close()
