"""Meshes made from the twin's 2D geometry: GIS ground layers and extruded buildings.

Polygons are triangulated with shapely's constrained Delaunay triangulation (holes kept);
lines (roads, footpaths) are buffered by their ``width_m`` first. Everything is in site
coordinates (metres, x east, y north, z up).
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from bim.mesh.trimesh import TriMesh, concat
from twin.model import Building, Community, SiteFeature, Storey

__all__ = ["LAYER_STYLE", "UNDERGROUND_LEVELS", "flat_mesh", "prism_mesh", "feature_mesh", "ground_layers",
           "gis_building_shell", "storey_detail"]

#: Per feature kind: (layer name, RGBA, height above ground (m), default width (m) of lines).
#: Heights are ≥ 4 cm apart so that layers never z-fight at overview distances.
LAYER_STYLE: dict[str, tuple[str, tuple[int, int, int, int], float, float]] = {
    "road": ("roads", (96, 98, 104, 255), 0.12, 6.0),
    "footpath": ("footpaths", (196, 186, 160, 255), 0.16, 2.0),
    "green": ("green", (112, 168, 92, 255), 0.04, 1.0),
    "parking": ("parking", (140, 150, 170, 255), 0.10, 2.5),
    "gate": ("gates", (200, 60, 50, 255), 0.0, 1.0),
    "plaza": ("public_areas", (214, 200, 170, 255), 0.08, 2.0),
    "playground": ("public_areas", (230, 170, 90, 255), 0.08, 2.0),
}
DEFAULT_STYLE = ("public_areas", (200, 196, 180, 255), 0.08, 2.0)
GATE_HEIGHT_M = 3.0
#: Feature ``level`` values that lie underground (garage parking): drawn at the lowest
#: storey below ground (or GARAGE_DEFAULT_Z_M), in a ``<layer>_underground`` layer that the
#: overview hides.
UNDERGROUND_LEVELS = frozenset({"garage", "underground", "basement", "b1"})
GARAGE_DEFAULT_Z_M = -3.6
SPACE_RGBA = (90, 160, 230, 60)
APARTMENT_RGBA = (240, 210, 160, 70)
SLAB_RGBA = (175, 175, 170, 255)
SHELL_RGBA = (226, 222, 214, 255)


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in _polygons(g)]
    return []


def flat_mesh(element_id: str, geom: BaseGeometry, z_m: float, rgba, *, up: bool = True) -> TriMesh:
    """Return the triangulated polygon(s) of ``geom`` at height ``z_m`` facing up (or down)."""
    meshes = []
    for poly in _polygons(geom):
        poly = poly if poly.is_valid else poly.buffer(0)
        tris = shapely.constrained_delaunay_triangles(poly)
        coords = [np.asarray(t.exterior.coords)[:3] for t in tris.geoms if t.area > 1e-9]
        if not coords:
            continue
        xy = np.concatenate(coords)
        pos = np.column_stack([xy, np.full(xy.shape[0], z_m)])
        idx = np.arange(pos.shape[0], dtype=np.uint32).reshape(-1, 3)
        # orient each triangle counter-clockwise seen from above (or below)
        a, b, c = pos[idx[:, 0]], pos[idx[:, 1]], pos[idx[:, 2]]
        cross_z = (b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]
        flip = (cross_z < 0) if up else (cross_z > 0)
        idx[flip] = idx[flip][:, [0, 2, 1]]
        normal = np.array([0, 0, 1.0 if up else -1.0], np.float32)
        meshes.append(TriMesh.single(element_id, pos, idx, np.tile(normal, (pos.shape[0], 1)), rgba))
    return _one_range(concat(meshes), element_id)


def _one_range(mesh: TriMesh, element_id: str) -> TriMesh:
    mesh.ranges = [(element_id, 0, mesh.n_triangles)] if mesh.n_triangles else []
    return mesh


def prism_mesh(element_id: str, geom: BaseGeometry, z0_m: float, z1_m: float, rgba, *,
               bottom: bool = False) -> TriMesh:
    """Return the extrusion of polygon(s) ``geom`` from ``z0_m`` to ``z1_m``: walls, roof
    (and floor when ``bottom``), with flat normals."""
    parts = [flat_mesh(element_id, geom, z1_m, rgba)]
    if bottom:
        parts.append(flat_mesh(element_id, geom, z0_m, rgba, up=False))
    for poly in _polygons(geom):
        for k, ring in enumerate([poly.exterior, *poly.interiors]):
            ring_xy = np.asarray(ring.coords)[:, :2]
            ccw_out = ring.is_ccw if k == 0 else not ring.is_ccw  # outward: away from the solid
            parts.append(_walls(element_id, ring_xy, z0_m, z1_m, rgba, ccw_out))
    return _one_range(concat(parts), element_id)


def _walls(element_id: str, xy: np.ndarray, z0: float, z1: float, rgba, ccw: bool) -> TriMesh:
    a, b = xy[:-1], xy[1:]
    keep = np.linalg.norm(b - a, axis=1) > 1e-9
    a, b = a[keep], b[keep]
    n = a.shape[0]
    if n == 0:
        return TriMesh.empty()
    quad = np.stack([np.column_stack([a, np.full(n, z0)]), np.column_stack([b, np.full(n, z0)]),
                     np.column_stack([b, np.full(n, z1)]), np.column_stack([a, np.full(n, z1)])], axis=1)
    pos = quad.reshape(-1, 3)
    base = np.arange(n, dtype=np.uint32)[:, None] * 4
    order = np.array([[0, 1, 2], [0, 2, 3]], np.uint32) if ccw else np.array([[0, 2, 1], [0, 3, 2]], np.uint32)
    idx = (base[:, None, :] + order[None, :, :]).reshape(-1, 3)
    d = b - a
    outward = np.column_stack([d[:, 1], -d[:, 0]]) if ccw else np.column_stack([-d[:, 1], d[:, 0]])
    outward /= np.linalg.norm(outward, axis=1)[:, None]
    nrm = np.repeat(np.column_stack([outward, np.zeros(n)]), 4, axis=0).astype(np.float32)
    return TriMesh.single(element_id, pos, idx, nrm, rgba)


def feature_mesh(feature: SiteFeature, z_base_m: float = 0.0) -> TriMesh:
    """Return the ground mesh of one GIS feature (gates as small posts), ``z_base_m`` up."""
    layer, rgba, z, width = LAYER_STYLE.get(feature.kind, DEFAULT_STYLE)
    z += z_base_m
    geom = feature.geometry
    if geom is None or geom.is_empty:
        return TriMesh.empty()
    if geom.geom_type in ("LineString", "MultiLineString", "LinearRing"):
        geom = geom.buffer(float(feature.attributes.get("width_m") or width) / 2, cap_style="flat")
    elif geom.geom_type in ("Point", "MultiPoint"):
        geom = geom.buffer(max(width, 1.0), cap_style="square")
    if feature.kind == "gate":
        return prism_mesh(feature.id, geom, z_base_m, z_base_m + GATE_HEIGHT_M, rgba)
    return flat_mesh(feature.id, geom, z, rgba)


def ground_layers(community: Community) -> dict[str, TriMesh]:
    """Return one mesh per ground layer (``roads``, ``green``, ...) plus the ``ground`` plate."""
    layers: dict[str, list[TriMesh]] = {}
    below = [s.elevation_m for s in community.storeys if s.elevation_m < -0.5]
    garage_z = min(below) if below else GARAGE_DEFAULT_Z_M
    for feature in community.features:
        layer = LAYER_STYLE.get(feature.kind, DEFAULT_STYLE)[0]
        if str(feature.attributes.get("level") or "").lower() in UNDERGROUND_LEVELS:
            layers.setdefault(f"{layer}_underground", []).append(feature_mesh(feature, garage_z))
        else:
            layers.setdefault(layer, []).append(feature_mesh(feature))
    out = {name: concat(ms) for name, ms in layers.items()}
    bounds = _site_bounds(community)
    if bounds is not None:
        x0, y0, x1, y1 = bounds
        margin = max(20.0, 0.1 * max(x1 - x0, y1 - y0))
        plate = shapely.box(x0 - margin, y0 - margin, x1 + margin, y1 + margin)
        out["ground"] = flat_mesh("ground", plate, 0.0, (206, 214, 196, 255))
    return {k: v for k, v in out.items() if v.n_triangles}


def _site_bounds(community: Community):
    geoms = [f.geometry for f in community.features if f.geometry is not None]
    geoms += [b.footprint for b in community.buildings if b.footprint is not None]
    geoms += [s.footprint for s in community.spaces if s.footprint is not None]
    geoms = [g for g in geoms if not g.is_empty]
    if not geoms:
        return None
    return shapely.GeometryCollection(geoms).bounds


def _building_height(building: Building) -> float:
    if building.height_m:
        return float(building.height_m)
    if building.storeys:
        top = building.storeys[-1]
        return top.elevation_m + (top.height_m or 3.0)
    return 3.0 * (building.floors or 1)


def building_outline(building: Building, community: Community) -> BaseGeometry | None:
    """Return the building's plan outline: its footprint, else the union of its spaces."""
    if building.footprint is not None and not building.footprint.is_empty:
        return building.footprint
    polys = [s.footprint for s in community.spaces if s.building_id == building.id and s.footprint is not None]
    polys += [s.walkable for s in building.storeys if s.walkable is not None]
    return shapely.union_all(polys) if polys else None


def gis_building_shell(building: Building, community: Community) -> TriMesh:
    """Return the extruded outline of a building from ground to its height (overview)."""
    outline = building_outline(building, community)
    if outline is None:
        return TriMesh.empty()
    base = building.storeys[0].elevation_m if building.storeys else 0.0
    return prism_mesh(building.id, outline, base, base + _building_height(building), SHELL_RGBA)


def storey_detail(storey: Storey, community: Community, next_elevation_m: float | None) -> dict[str, TriMesh]:
    """Return a storey's detail made from the twin: floor slab and its spaces as volumes."""
    height = storey.height_m or ((next_elevation_m - storey.elevation_m) if next_elevation_m else 3.0)
    spaces = [s for s in community.spaces if s.storey_id == storey.id and s.footprint is not None]
    slab_geom = storey.walkable if storey.walkable is not None else (
        shapely.union_all([s.footprint for s in spaces]) if spaces else None)
    out: dict[str, TriMesh] = {}
    if slab_geom is not None and not slab_geom.is_empty:
        out["solid"] = prism_mesh(storey.id, slab_geom, storey.elevation_m - 0.2, storey.elevation_m,
                                  SLAB_RGBA, bottom=True)
    top = storey.elevation_m + max(0.5, (height or 3.0) - 0.3)
    vols = [prism_mesh(s.id, s.footprint, storey.elevation_m + 0.01, top,
                       SPACE_RGBA if s.is_public else APARTMENT_RGBA) for s in spaces]
    if vols:
        out["spaces"] = concat(vols)
    return out
