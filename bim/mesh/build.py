"""The community scene: one GLB with level of detail, cached by source content hash.

Node tree (names are stable; every node's ``extras`` says what it is)::

    site                      kind=site
      layer:<name>            kind=layer, lod=overview   roads, green, parking, gates, ...
      layer:<name>_underground  kind=layer, lod=detail   garage parking (shown with the garage)
    building:<id>             kind=building, id, name, source
      shell:<id>              kind=shell, lod=overview   the outside, merged
      hull:<id>               kind=hull, lod=far         outline extruded (IFC buildings), beyond distance_m
      storey:<storey id>      kind=storey, lod=detail, elevation_m (hidden until opened)
        storey:<id>:solid     kind=part  walls, slabs, doors, stairs... (vertex colours)
        storey:<id>:glass     kind=part  windows and other transparent elements
        storey:<id>:spaces    kind=part  rooms as translucent volumes (click → room)
      misc:<id>               kind=part, lod=detail      elements in no storey

Every mesh node carries ``extras.elements = {"ids": [...], "first": [...], "count": [...]}``:
triangle ``t`` of that mesh belongs to ``ids[i]`` where ``first[i] <= t < first[i] +
count[i]``. The overview (site layers + shells) is kept under ``overview_budget``
triangles by decimating shells (pyvista) when needed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bim.mesh.errors import SceneError
from bim.mesh.glb import GlbNode, write_glb
from bim.mesh.ground import (building_outline, gis_building_shell, ground_layers, storey_detail,
                             _site_bounds, SHELL_RGBA)
from bim.mesh.ifcmesh import read_ifc_meshes
from bim.mesh.trimesh import TriMesh, concat, vertex_normals
from twin.model import Building, Community

__all__ = ["SCENE_VERSION", "OVERVIEW_BUDGET", "Scene", "build_scene", "scene_key"]

log = logging.getLogger(__name__)

#: Bumped whenever the scene layout or meshing changes (part of the cache key).
SCENE_VERSION = "4"
#: Triangle budget of the whole-community overview (site layers + building shells).
OVERVIEW_BUDGET = 300_000
#: Camera distance (m) beyond which the viewer draws an IFC building's hull (its outline
#: extruded) instead of its shell: software WebGL pays ~1 µs per triangle.
HULL_DISTANCE_M = 250.0

SOLID, GLASS, SPACES, GROUND = 0, 1, 2, 3
MATERIALS = [
    {"name": "solid", "doubleSided": True,
     "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0.0, "roughnessFactor": 0.9}},
    {"name": "glass", "doubleSided": True, "alphaMode": "BLEND",
     "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0.0, "roughnessFactor": 0.2}},
    {"name": "spaces", "doubleSided": True, "alphaMode": "BLEND",
     "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0.0, "roughnessFactor": 1.0}},
    {"name": "ground", "doubleSided": False,
     "pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0.0, "roughnessFactor": 1.0}},
]
PART_MATERIAL = {"solid": SOLID, "glass": GLASS, "spaces": SPACES}

Progress = Callable[[int, int, str], None]


@dataclass
class Scene:
    """A built scene: GLB bytes and what they hold.

    ``key`` is the content hash it is cached under; ``cached`` whether it came from the
    cache; ``origin`` the site coordinates (m) of the glTF origin.
    """

    glb: bytes
    key: str
    origin: tuple[float, float, float]
    overview_triangles: int
    total_triangles: int
    meshes: int
    cached: bool = False
    path: Path | None = None
    element_triangles: dict[str, int] = field(default_factory=dict)
    far_triangles: int | None = None

    def info(self) -> dict:
        """Return the JSON-able summary (no bytes)."""
        return {"key": self.key, "origin": list(self.origin), "bytes": len(self.glb),
                "overview_triangles": self.overview_triangles, "far_triangles": self.far_triangles,
                "total_triangles": self.total_triangles, "meshes": self.meshes,
                "cached": self.cached, "version": SCENE_VERSION}


# -- cache key ----------------------------------------------------------------------------
def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _wkb(geom) -> str | None:
    return None if geom is None else geom.wkb_hex


def resolve_ifc(building: Building, base_dir: Path | None) -> Path | None:
    """Return the path of the building's IFC file (absolute, or relative to ``base_dir``)."""
    if not building.ifc_file:
        return None
    path = Path(building.ifc_file)
    if not path.is_absolute() and base_dir is not None and not path.exists():
        path = Path(base_dir) / path
    if not path.is_file():
        raise SceneError(f"building {building.id!r}: IFC file {str(building.ifc_file)!r} not found")
    return path


def scene_key(community: Community, *, base_dir: Path | None = None,
              overview_budget: int = OVERVIEW_BUDGET) -> str:
    """Return the sha256 content hash of everything the scene is made from."""
    h = hashlib.sha256(f"scene:{SCENE_VERSION}:{overview_budget}".encode())
    for b in community.buildings:
        ifc = resolve_ifc(b, base_dir)
        h.update(json.dumps([b.id, b.name, b.source, b.height_m, b.floors, _wkb(b.footprint),
                             _file_digest(ifc) if ifc else None,
                             b.attributes.get("ifc_to_site"), b.attributes.get("anchor"),
                             [[s.id, s.name, s.elevation_m, s.height_m, _wkb(s.walkable)] for s in b.storeys]],
                            default=str).encode())
    for s in community.spaces:
        h.update(json.dumps([s.id, s.storey_id, s.public, s.usage, _wkb(s.footprint)]).encode())
    for f in community.features:
        h.update(json.dumps([f.id, f.kind, _wkb(f.geometry), f.attributes.get("width_m")], default=str).encode())
    return h.hexdigest()


# -- build --------------------------------------------------------------------------------
def build_scene(community: Community, *, cache_dir: Path | str | None = None,
                base_dir: Path | str | None = None, overview_budget: int = OVERVIEW_BUDGET,
                progress: Progress | None = None) -> Scene:
    """Return the GLB scene of ``community``, from the cache when its sources are unchanged.

    Parameters
    ----------
    community : Community
        The twin; IFC buildings are meshed from ``Building.ifc_file``.
    cache_dir : path, optional
        Folder of the scene cache (``<key>.glb`` + ``<key>.json``); no caching when None.
    base_dir : path, optional
        Folder relative IFC paths are resolved against (the site folder).
    overview_budget : int
        Maximum triangles of the overview (site layers + building shells).
    progress : callable, optional
        ``progress(done, total, message)`` per building.

    Raises
    ------
    SceneError
        When an IFC file is missing or unreadable, or the budget is not positive.
    """
    if overview_budget <= 0:
        raise SceneError(f"overview_budget={overview_budget} must be > 0")
    base = Path(base_dir) if base_dir is not None else None
    key = scene_key(community, base_dir=base, overview_budget=overview_budget)
    cached = _cache_get(cache_dir, key)
    if cached is not None:
        return cached
    t0 = time.perf_counter()
    scene = _build(community, key, base, overview_budget, progress)
    log.info("scene %s built in %.1f s (%d overview / %d total triangles)", key[:12],
             time.perf_counter() - t0, scene.overview_triangles, scene.total_triangles)
    _cache_put(cache_dir, scene)
    return scene


def _origin(community: Community, meshes: list[TriMesh]) -> np.ndarray:
    """Centre of the site (whole metres), so float32 vertices keep millimetres."""
    bounds = _site_bounds(community)
    if bounds is None:
        pts = [m.positions for m in meshes if m.n_vertices]
        if not pts:
            return np.zeros(3)
        allp = np.concatenate(pts)
        lo, hi = allp.min(axis=0), allp.max(axis=0)
        return np.array([round((lo[0] + hi[0]) / 2), round((lo[1] + hi[1]) / 2), 0.0])
    return np.array([round((bounds[0] + bounds[2]) / 2), round((bounds[1] + bounds[3]) / 2), 0.0])


def _elements(mesh: TriMesh) -> dict:
    return {"ids": [r[0] for r in mesh.ranges], "first": [r[1] for r in mesh.ranges],
            "count": [r[2] for r in mesh.ranges]}


def _mesh_node(name: str, mesh: TriMesh, material: int, **extras) -> GlbNode:
    return GlbNode(name, mesh, material, {**extras, "elements": _elements(mesh),
                                          "triangles": mesh.n_triangles})


def _build(community: Community, key: str, base: Path | None, budget: int,
           progress: Progress | None) -> Scene:
    layers = ground_layers(community)
    site = GlbNode("site", extras={"kind": "site"}, children=[
        _mesh_node(f"layer:{name}", mesh, GROUND if name == "ground" else SOLID, kind="layer", layer=name,
                   lod="detail" if name.endswith("_underground") else "overview")
        for name, mesh in sorted(layers.items())])
    element_triangles: dict[str, int] = {}
    shells: dict[str, TriMesh] = {}
    details: dict[str, list[GlbNode]] = {}
    for i, b in enumerate(community.buildings):
        if progress is not None:
            progress(i, len(community.buildings), f"meshing building {b.id}")
        shells[b.id], details[b.id] = _building_parts(community, b, base, element_triangles)
    origin = _origin(community, [*shells.values(), *layers.values()])
    layer_tris = sum(m.n_triangles for n, m in layers.items() if not n.endswith("_underground"))
    shells = _fit_budget(shells, budget - layer_tris)
    roots = [site]
    hulls = {}
    for b in community.buildings:
        kids = [_mesh_node(f"shell:{b.id}", shells[b.id], SOLID, kind="shell", lod="overview",
                           building=b.id)] if shells[b.id].n_triangles else []
        hull = _hull(b, community, shells[b.id]) if resolve_ifc(b, base) is not None else None
        if hull is not None and hull.n_triangles < shells[b.id].n_triangles:
            hulls[b.id] = hull
            kids.append(_mesh_node(f"hull:{b.id}", hull, SOLID, kind="hull", lod="far", building=b.id,
                                   distance_m=HULL_DISTANCE_M))
        roots.append(GlbNode(f"building:{b.id}", extras={"kind": "building", "id": b.id, "name": b.name,
                                                          "source": b.source}, children=kids + details[b.id]))
    if progress is not None:
        progress(len(community.buildings), len(community.buildings), "writing GLB")
    overview = layer_tris + sum(m.n_triangles for m in shells.values())
    far = layer_tris + sum(hulls[b].n_triangles if b in hulls else m.n_triangles for b, m in shells.items())
    total = overview + sum(h.n_triangles for h in hulls.values()) + sum(
        _node_tris(n) for nodes in details.values() for n in nodes) + sum(
        m.n_triangles for n, m in layers.items() if n.endswith("_underground"))
    meshes = sum(_node_meshes(r) for r in roots)
    extras = {"twin": {"version": SCENE_VERSION, "key": key, "community": community.name,
                       "crs": community.crs, "origin": origin.tolist(),
                       "axes": "x=east, y=up, z=-north (metres from origin)",
                       "overview_triangles": overview, "far_triangles": far,
                       "hull_distance_m": HULL_DISTANCE_M, "total_triangles": total}}
    glb = write_glb(roots, materials=MATERIALS, scene_extras=extras, origin=origin)
    return Scene(glb, key, tuple(origin.tolist()), overview, total, meshes,
                 element_triangles=element_triangles, far_triangles=far)


def _node_tris(node: GlbNode) -> int:
    own = node.mesh.n_triangles if node.mesh is not None else 0
    return own + sum(_node_tris(c) for c in node.children)


def _node_meshes(node: GlbNode) -> int:
    own = 1 if node.mesh is not None and node.mesh.n_triangles else 0
    return own + sum(_node_meshes(c) for c in node.children)


def _building_parts(community: Community, b: Building, base: Path | None,
                    element_triangles: dict[str, int]) -> tuple[TriMesh, list[GlbNode]]:
    """Return (shell mesh, detail nodes) of one building."""
    ifc_path = resolve_ifc(b, base)
    storeys = sorted(b.storeys, key=lambda s: s.elevation_m)
    if ifc_path is None:
        nodes = []
        for k, st in enumerate(storeys):
            nxt = storeys[k + 1].elevation_m if k + 1 < len(storeys) else None
            nodes.append(_storey_node(st.id, st.name, st.elevation_m, b.id, storey_detail(st, community, nxt)))
        return gis_building_shell(b, community), nodes
    spaces = {s.id: (s.footprint.centroid.x, s.footprint.centroid.y) for s in community.spaces
              if s.building_id == b.id and s.footprint is not None and not s.footprint.is_empty}
    meshes = read_ifc_meshes(b, str(ifc_path), space_centroids=spaces,
                             storey_elevations={s.id: s.elevation_m for s in storeys})
    element_triangles.update(meshes.element_triangles)
    names = {s.id: s.name for s in storeys}
    order = sorted(meshes.by_storey, key=lambda sid: meshes.storey_elevation_m.get(sid, 1e9))
    nodes = []
    for sid in order:
        parts = meshes.by_storey[sid]
        if sid == "_unplaced":
            nodes.append(GlbNode(f"misc:{b.id}", extras={"kind": "misc", "lod": "detail", "building": b.id},
                                 children=_part_nodes(f"misc:{b.id}", parts)))
        else:
            nodes.append(_storey_node(sid, names.get(sid, sid), meshes.storey_elevation_m.get(sid, 0.0),
                                      b.id, parts))
    shell = meshes.shell
    if not shell.n_triangles:
        shell = gis_building_shell(b, community)
    return shell, nodes


def _part_nodes(prefix: str, parts: dict[str, TriMesh]) -> list[GlbNode]:
    return [_mesh_node(f"{prefix}:{part}", mesh, PART_MATERIAL[part], kind="part", part=part)
            for part, mesh in sorted(parts.items()) if mesh.n_triangles]


def _storey_node(sid: str, name: str, elevation: float, building: str,
                 parts: dict[str, TriMesh]) -> GlbNode:
    return GlbNode(f"storey:{sid}", extras={"kind": "storey", "id": sid, "name": name,
                                            "elevation_m": elevation, "lod": "detail",
                                            "building": building},
                   children=_part_nodes(f"storey:{sid}", parts))


# -- level of detail ----------------------------------------------------------------------
def _hull(b: Building, community: Community, shell: TriMesh) -> TriMesh | None:
    """The building's outline extruded over the shell's height: the far level of detail."""
    outline = building_outline(b, community)
    if outline is None or not shell.n_triangles:
        return None
    z0, z1 = float(shell.positions[:, 2].min()), float(shell.positions[:, 2].max())
    from bim.mesh.ground import prism_mesh

    return prism_mesh(b.id, outline, z0, z1, SHELL_RGBA)



def _fit_budget(shells: dict[str, TriMesh], budget: int) -> dict[str, TriMesh]:
    """Decimate shells (pyvista quadric decimation) so that together they fit ``budget``."""
    total = sum(m.n_triangles for m in shells.values())
    if total <= budget:
        return shells
    ratio = max(budget, 0) / max(total, 1)
    log.info("overview over budget (%d > %d triangles): decimating shells to %.0f%%",
             total, budget, 100 * ratio)
    return {bid: _decimate(bid, m, ratio) for bid, m in shells.items()}


def _decimate(building_id: str, mesh: TriMesh, keep_ratio: float) -> TriMesh:
    import pyvista as pv

    if mesh.n_triangles < 50:
        return mesh
    faces = np.column_stack([np.full(mesh.n_triangles, 3), mesh.indices]).ravel()
    poly = pv.PolyData(mesh.positions - mesh.positions.mean(axis=0), faces).clean()
    out = poly.decimate(min(0.99, 1.0 - keep_ratio * 0.95))
    tri = out.faces.reshape(-1, 4)[:, 1:].astype(np.uint32)
    pos = np.asarray(out.points, dtype=np.float64) + mesh.positions.mean(axis=0)
    small = TriMesh.single(building_id, pos, tri, vertex_normals(pos, tri), SHELL_RGBA)
    return small


# -- cache --------------------------------------------------------------------------------
def _cache_get(cache_dir, key: str) -> Scene | None:
    if cache_dir is None:
        return None
    glb_path = Path(cache_dir) / f"{key}.glb"
    meta_path = Path(cache_dir) / f"{key}.json"
    try:
        meta = json.loads(meta_path.read_text())
        data = glb_path.read_bytes()
        if len(data) != meta["bytes"] or hashlib.sha256(data).hexdigest() != meta["sha256"]:
            raise ValueError("size or digest mismatch")
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, OSError) as exc:  # corrupt entry: rebuild
        log.warning("scene cache entry %s ignored: %s", key[:12], exc)
        return None
    return Scene(data, key, tuple(meta["origin"]), meta["overview_triangles"], meta["total_triangles"],
                 meta["meshes"], cached=True, path=glb_path,
                 element_triangles=meta.get("element_triangles", {}), far_triangles=meta.get("far_triangles"))


def _cache_put(cache_dir, scene: Scene) -> None:
    if cache_dir is None:
        return
    folder = Path(cache_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SceneError(f"cache_dir={str(cache_dir)!r} cannot be created: {exc}") from exc
    meta = {**scene.info(), "sha256": hashlib.sha256(scene.glb).hexdigest(),
            "element_triangles": scene.element_triangles}
    meta["cached"] = False
    for name, payload in ((f"{scene.key}.glb", scene.glb),
                          (f"{scene.key}.json", json.dumps(meta).encode())):
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, folder / name)
    scene.path = folder / f"{scene.key}.glb"
