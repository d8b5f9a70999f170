"""Element meshes of an IFC file (ifcopenshell.geom), placed in site coordinates.

The geometry iterator runs once per file, single-threaded, with the faster
``hybrid-cgal-simple-opencascade`` kernel (falling back to the default kernel when that
library is not built in). Every element keeps its GlobalId as the id of its triangle range.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from bim.mesh.errors import SceneError
from bim.mesh.trimesh import TriMesh, concat
from twin.model import Building

__all__ = ["IfcMeshes", "read_ifc_meshes", "placement_matrix"]

log = logging.getLogger(__name__)

FAST_KERNEL = "hybrid-cgal-simple-opencascade"
#: Classes never drawn (voids and annotations).
SKIPPED = frozenset({"IfcOpeningElement", "IfcOpeningStandardCase", "IfcAnnotation", "IfcGrid",
                     "IfcVirtualElement", "IfcSite"})
#: Classes that form a building's outside (overview level of detail).
SHELL_CLASSES = frozenset({"IfcWall", "IfcWallStandardCase", "IfcWallElementedCase",
                           "IfcCurtainWall", "IfcRoof", "IfcSlab", "IfcWindow", "IfcPlate",
                           "IfcColumn", "IfcMember", "IfcCovering", "IfcRailing", "IfcBeam"})
#: Fallback colours by class when the file has no surface style (RGBA 0-255).
CLASS_RGBA = {
    "IfcWall": (222, 218, 210, 255), "IfcWallStandardCase": (222, 218, 210, 255),
    "IfcSlab": (180, 180, 176, 255), "IfcRoof": (160, 82, 60, 255),
    "IfcWindow": (120, 170, 210, 110), "IfcDoor": (150, 110, 70, 255),
    "IfcStair": (190, 190, 190, 255), "IfcStairFlight": (190, 190, 190, 255),
    "IfcSpace": (90, 160, 230, 40), "IfcTransportElement": (230, 170, 40, 255),
}
DEFAULT_RGBA = (205, 205, 200, 255)


@dataclass
class IfcMeshes:
    """The meshes of one IFC file, grouped for the scene.

    ``by_storey`` maps a storey GlobalId to its element meshes split into ``solid``,
    ``glass`` (transparent) and ``spaces``; ``shell`` holds the elements that form the
    building's outside; ``unplaced`` the elements contained in no storey.
    """

    by_storey: dict[str, dict[str, TriMesh]] = field(default_factory=dict)
    shell: TriMesh = field(default_factory=TriMesh.empty)
    element_triangles: dict[str, int] = field(default_factory=dict)
    element_class: dict[str, str] = field(default_factory=dict)
    storey_elevation_m: dict[str, float] = field(default_factory=dict)


def _settings():
    import ifcopenshell.geom

    s = ifcopenshell.geom.settings()
    s.set("use-world-coords", True)
    return s


def _iterator(ifc, settings):
    import ifcopenshell.geom

    try:
        it = ifcopenshell.geom.iterator(settings, ifc, 1, geometry_library=FAST_KERNEL)
        ok = it.initialize()
    except Exception:  # kernel not built in: the default one
        log.info("geometry kernel %s unavailable, using the default", FAST_KERNEL)
        it = ifcopenshell.geom.iterator(settings, ifc, 1)
        ok = it.initialize()
    return it if ok else None


def _storey_of(element) -> str | None:
    import ifcopenshell.util.element as ue

    seen = 0
    node = ue.get_container(element) or ue.get_aggregate(element)
    while node is not None and seen < 16:
        if node.is_a("IfcBuildingStorey"):
            return node.GlobalId
        node = ue.get_container(node) or ue.get_aggregate(node)
        seen += 1
    return None


def _is_external(element) -> bool | None:
    import ifcopenshell.util.element as ue

    for props in ue.get_psets(element).values():
        if "IsExternal" in props and props["IsExternal"] is not None:
            return bool(props["IsExternal"])
    return None


def _element_mesh(shape, matrix: np.ndarray, rgba_default) -> TriMesh:
    geom = shape.geometry
    verts = np.asarray(geom.verts, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(geom.faces, dtype=np.uint32).reshape(-1, 3)
    normals = np.asarray(geom.normals, dtype=np.float64).reshape(-1, 3)
    verts = verts @ matrix[:3, :3].T + matrix[:3, 3]
    if normals.shape[0] == verts.shape[0]:
        normals = normals @ matrix[:3, :3].T
    else:
        normals = None
    colors = np.tile(np.asarray(rgba_default, np.uint8), (verts.shape[0], 1))
    mats, mat_ids = list(geom.materials), np.asarray(geom.material_ids, dtype=np.int64)
    if mats and mat_ids.shape[0] == faces.shape[0]:
        table = np.array([_material_rgba(m, rgba_default) for m in mats], dtype=np.uint8)
        face_rgba = table[np.clip(mat_ids, 0, len(mats) - 1)]
        for k in range(3):
            colors[faces[:, k]] = face_rgba
    mesh = TriMesh.single(shape.guid, verts, faces, normals)
    mesh.colors = colors
    return mesh


def _material_rgba(material, fallback) -> tuple[int, int, int, int]:
    try:
        r, g, b = material.diffuse.components
        alpha = 1.0 - float(material.transparency or 0.0)
        if math.isnan(alpha):
            alpha = 1.0
        return (int(r * 255), int(g * 255), int(b * 255), int(max(0.1, alpha) * 255))
    except Exception:
        return tuple(fallback)


def placement_matrix(building: Building, ifc, unit_scale: float,
                     fit: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Return the 4×4 matrix taking IFC world coordinates (m) to site coordinates (m).

    Order of preference: ``building.attributes["ifc_to_site"]`` (16 numbers, row-major);
    a rigid 2D fit of the IFC space centroids ``fit=(ifc_xy, site_xy)`` onto the twin's
    space footprints (the loader's own placement, whatever it was); the file's
    IfcMapConversion; the manifest anchor in ``building.attributes["anchor"]``; identity.
    """
    explicit = building.attributes.get("ifc_to_site")
    if explicit is not None:
        return np.asarray(explicit, dtype=np.float64).reshape(4, 4)
    if fit is not None and fit[0].shape[0] >= 2:
        matrix = _rigid_fit(*fit)
        if matrix is not None:
            return matrix
    conv = _map_conversion(ifc, unit_scale)
    if conv is not None:
        return conv
    anchor = building.attributes.get("anchor")
    if anchor:
        return _rotation_translation(float(anchor.get("rotation_deg", 0.0)),
                                     float(anchor["easting"]), float(anchor["northing"]))
    return np.eye(4)


def _rotation_translation(angle_deg: float, dx: float, dy: float, scale: float = 1.0) -> np.ndarray:
    a = math.radians(angle_deg)
    m = np.eye(4)
    m[:2, :2] = scale * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    m[0, 3], m[1, 3] = dx, dy
    return m


def _kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    cs, cd = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - cs, dst - cd
    if np.linalg.norm(a) < 1e-6:
        return None
    u, _, vt = np.linalg.svd(a.T @ b)
    rot = (u @ vt).T
    if np.linalg.det(rot) < 0:
        return None
    m = np.eye(4)
    m[:2, :2] = rot
    m[:2, 3] = cd - rot @ cs
    return m


def _rigid_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """Rotation + translation taking src points onto dst (Kabsch in 2D), robust to the few
    spaces whose mesh centre differs from the twin's footprint centroid (L-shapes, stairs):
    refit on the points that agree. None when degenerate or when nothing agrees (< 2 m)."""
    keep = np.ones(src.shape[0], dtype=bool)
    m = None
    for _ in range(4):
        if keep.sum() < 2:
            return None
        m = _kabsch(src[keep], dst[keep])
        if m is None:
            return None
        residual = np.linalg.norm(src @ m[:2, :2].T + m[:2, 3] - dst, axis=1)
        new_keep = residual <= max(0.02, 3.0 * float(np.median(residual)))
        if (new_keep == keep).all():
            break
        keep = new_keep
    if float(np.median(residual)) > 2.0:  # the loader's spaces do not match this file's
        return None
    return m


def _map_conversion(ifc, unit_scale: float) -> np.ndarray | None:
    """IfcMapConversion as a matrix on IFC world metres (project units already converted)."""
    try:
        convs = ifc.by_type("IfcMapConversion")
    except RuntimeError:  # IFC2X3 has no such entity
        return None
    if not convs:
        return None
    c = convs[0]
    scale = float(c.Scale) if c.Scale else 1.0
    map_unit = _unit_metres(getattr(c.TargetCRS, "MapUnit", None))
    # Scale maps project lengths to map lengths; our coordinates are metres already, so
    # Scale applies as written, except when it only encodes the unit conversion itself.
    factor = scale
    if unit_scale != 1.0 and abs(scale * map_unit - unit_scale) < 1e-12:
        factor = 1.0
    xa = float(c.XAxisAbscissa) if c.XAxisAbscissa is not None else 1.0
    xo = float(c.XAxisOrdinate) if c.XAxisOrdinate is not None else 0.0
    angle = math.degrees(math.atan2(xo, xa))
    m = _rotation_translation(angle, float(c.Eastings) * map_unit,
                              float(c.Northings) * map_unit, factor)
    m[2, 3] = float(c.OrthogonalHeight or 0.0) * map_unit
    return m


def _unit_metres(unit) -> float:
    """Metres per map unit (1 when absent or not an SI length unit)."""
    if unit is None or not unit.is_a("IfcSIUnit"):
        return 1.0
    import ifcopenshell.util.unit as uu

    return float(uu.get_prefix_multiplier(unit.Prefix)) if unit.Prefix else 1.0


def read_ifc_meshes(building: Building, ifc_path: str, *, space_centroids: dict[str, tuple] | None = None,
                    storey_elevations: dict[str, float] | None = None,
                    progress: Callable[[int, int, str], None] | None = None) -> IfcMeshes:
    """Return the element meshes of ``ifc_path`` placed in site coordinates.

    Parameters
    ----------
    building : Building
        The twin building this file models (placement attributes are read from it).
    ifc_path : str
        Path of the IFC file.
    space_centroids : dict, optional
        Twin space id → (x, y) footprint centroid in site metres; used to fit the placement.
    storey_elevations : dict, optional
        Twin storey id → elevation (m); used to fit the vertical offset.
    progress : callable, optional
        ``progress(done, total, message)`` while meshing.

    Raises
    ------
    SceneError
        When the file cannot be opened.
    """
    import ifcopenshell
    import ifcopenshell.util.unit as uu

    try:
        ifc = ifcopenshell.open(ifc_path)
    except Exception as exc:
        raise SceneError(f"cannot open IFC file {ifc_path!r}: {exc}") from exc
    unit_scale = float(uu.calculate_unit_scale(ifc))
    shapes = _all_shapes(ifc, progress)
    matrix = _placement(building, ifc, unit_scale, shapes, space_centroids or {},
                        storey_elevations or {})
    return _group(ifc, shapes, matrix, unit_scale)


def _all_shapes(ifc, progress) -> list:
    it = _iterator(ifc, _settings())
    shapes = []
    if it is None:
        return shapes
    total = max(1, len(ifc.by_type("IfcProduct")))
    while True:
        shape = it.get()
        if shape.type not in SKIPPED:
            shapes.append(shape)
        if progress is not None and len(shapes) % 200 == 0:
            progress(len(shapes), total, "meshing IFC elements")
        if not it.next():
            break
    return shapes


def _placement(building, ifc, unit_scale, shapes, space_centroids, storey_elevations) -> np.ndarray:
    src, dst = [], []
    for shape in shapes:
        if shape.type == "IfcSpace" and shape.guid in space_centroids:
            verts = np.asarray(shape.geometry.verts, dtype=np.float64).reshape(-1, 3)
            if verts.shape[0]:
                src.append(verts[:, :2].min(axis=0) / 2 + verts[:, :2].max(axis=0) / 2)
                dst.append(space_centroids[shape.guid])
    fit = (np.asarray(src), np.asarray(dst)) if len(src) >= 2 else None
    matrix = placement_matrix(building, ifc, unit_scale, fit)
    if "ifc_to_site" not in building.attributes:
        dz = [storey_elevations[s.GlobalId] - float(s.Elevation or 0.0) * unit_scale
              for s in ifc.by_type("IfcBuildingStorey") if s.GlobalId in storey_elevations]
        if dz:
            matrix[2, 3] = float(np.median(dz))
    return matrix


def _group(ifc, shapes, matrix, unit_scale) -> IfcMeshes:
    out = IfcMeshes()
    for storey in ifc.by_type("IfcBuildingStorey"):
        out.storey_elevation_m[storey.GlobalId] = float(storey.Elevation or 0.0) * unit_scale + matrix[2, 3]
    parts: dict[str, dict[str, list[TriMesh]]] = {}
    shell: list[TriMesh] = []
    for shape in shapes:
        element = ifc.by_id(shape.id)
        mesh = _element_mesh(shape, matrix, CLASS_RGBA.get(shape.type, DEFAULT_RGBA))
        if not mesh.n_triangles:
            continue
        out.element_triangles[shape.guid] = mesh.n_triangles
        out.element_class[shape.guid] = shape.type
        storey = _storey_of(element) or "_unplaced"
        group = ("spaces" if shape.type == "IfcSpace"
                 else "glass" if (mesh.colors[:, 3] < 200).mean() > 0.5 else "solid")
        parts.setdefault(storey, {}).setdefault(group, []).append(mesh)
        if shape.type in SHELL_CLASSES and _is_external(element) is not False:
            shell.append(mesh)
    out.by_storey = {sid: {g: concat(ms) for g, ms in groups.items()} for sid, groups in parts.items()}
    out.shell = concat(shell)
    return out
