"""A small binary glTF 2.0 (GLB) writer for the scene's node tree.

Written here rather than with pyvista's ``export_gltf`` because the viewer needs what VTK's
exporter drops: node names and ``extras`` (element ids per triangle range, level of detail,
storey elevations). The output is plain glTF 2.0: one buffer, float32 positions and
normals, normalized uint8 RGBA vertex colours, uint32 indices, Y-up (x east, y up,
z south) relative to an origin stored in the scene's extras.

Examples
--------
>>> node = GlbNode("root", extras={"kind": "site"})
>>> data = write_glb([node], materials=[], scene_extras={"origin": [0, 0, 0]})
>>> data[:4]
b'glTF'
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bim.mesh.trimesh import TriMesh

__all__ = ["GlbNode", "write_glb", "read_glb", "site_to_gltf"]

FLOAT, UINT8, UINT32 = 5126, 5121, 5125
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963


@dataclass
class GlbNode:
    """A node: a name, optional mesh (with its material index), extras and children."""

    name: str
    mesh: TriMesh | None = None
    material: int = 0
    extras: dict[str, Any] = field(default_factory=dict)
    children: list["GlbNode"] = field(default_factory=list)


def site_to_gltf(positions: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """Return site coordinates (x east, y north, z up; m) as glTF Y-up coordinates
    relative to ``origin``: (east, up, -north)."""
    p = positions - origin
    return np.column_stack([p[:, 0], p[:, 2], -p[:, 1]])


class _Builder:
    def __init__(self) -> None:
        self.blob = bytearray()
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, array: np.ndarray, component: int, kind: str, target: int, *,
            normalized: bool = False, bounds: bool = False) -> int:
        while len(self.blob) % 4:
            self.blob.append(0)
        data = np.ascontiguousarray(array).tobytes()
        self.views.append({"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data),
                           "target": target})
        self.blob.extend(data)
        acc = {"bufferView": len(self.views) - 1, "componentType": component,
               "count": int(array.shape[0]) if kind != "SCALAR" else int(array.size), "type": kind}
        if normalized:
            acc["normalized"] = True
        if bounds:
            acc["min"] = [float(v) for v in array.min(axis=0)]
            acc["max"] = [float(v) for v in array.max(axis=0)]
        self.accessors.append(acc)
        return len(self.accessors) - 1


def write_glb(roots: list[GlbNode], *, materials: list[dict], scene_extras: dict,
              origin: np.ndarray | None = None) -> bytes:
    """Return the GLB bytes of the node trees ``roots`` (meshes in site coordinates)."""
    origin = np.zeros(3) if origin is None else np.asarray(origin, dtype=np.float64)
    b = _Builder()
    nodes: list[dict] = []
    meshes: list[dict] = []

    def visit(node: GlbNode) -> int:
        entry: dict[str, Any] = {"name": node.name}
        if node.extras:
            entry["extras"] = node.extras
        nodes.append(entry)
        index = len(nodes) - 1
        if node.mesh is not None and node.mesh.n_triangles:
            m = node.mesh
            attrs = {
                "POSITION": b.add(site_to_gltf(m.positions, origin).astype(np.float32), FLOAT, "VEC3",
                                  ARRAY_BUFFER, bounds=True),
                "NORMAL": b.add(site_to_gltf(m.normals.astype(np.float64), np.zeros(3)).astype(np.float32),
                                FLOAT, "VEC3", ARRAY_BUFFER),
                "COLOR_0": b.add(m.colors.astype(np.uint8), UINT8, "VEC4", ARRAY_BUFFER, normalized=True),
            }
            ind = b.add(m.indices.astype(np.uint32).reshape(-1), UINT32, "SCALAR", ELEMENT_ARRAY_BUFFER)
            meshes.append({"name": node.name, "primitives": [
                {"attributes": attrs, "indices": ind, "material": node.material, "mode": 4}]})
            entry["mesh"] = len(meshes) - 1
        kids = [visit(child) for child in node.children]
        if kids:
            entry["children"] = kids
        return index

    top = [visit(r) for r in roots]
    doc = {
        "asset": {"version": "2.0", "generator": "community-twin bim.mesh"},
        "scene": 0,
        "scenes": [{"name": "community", "nodes": top, "extras": scene_extras}],
        "nodes": nodes,
        "materials": materials,
        "buffers": [{"byteLength": len(b.blob)}],
        "bufferViews": b.views,
        "accessors": b.accessors,
    }
    if meshes:
        doc["meshes"] = meshes
    if not b.views:
        doc.pop("buffers"), doc.pop("bufferViews"), doc.pop("accessors")
    js = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    js += b" " * (-len(js) % 4)
    bin_chunk = bytes(b.blob) + b"\0" * (-len(b.blob) % 4)
    chunks = struct.pack("<II", len(js), 0x4E4F534A) + js
    if b.blob:
        chunks += struct.pack("<II", len(bin_chunk), 0x004E4942) + bin_chunk
    return struct.pack("<III", 0x46546C67, 2, 12 + len(chunks)) + chunks


def read_glb(data: bytes) -> tuple[dict, bytes]:
    """Return the JSON document and binary chunk of GLB bytes."""
    magic, version, length = struct.unpack_from("<III", data, 0)
    if magic != 0x46546C67 or version != 2:
        raise ValueError("not a glTF 2.0 binary")
    json_len, _ = struct.unpack_from("<II", data, 12)
    doc = json.loads(data[20:20 + json_len])
    rest = 20 + json_len
    blob = b""
    if rest < length:
        bin_len, _ = struct.unpack_from("<II", data, rest)
        blob = data[rest + 8: rest + 8 + bin_len]
    return doc, blob
