"""Triangle meshes as plain arrays, with the element id of every triangle range.

A :class:`TriMesh` holds vertices in *site* coordinates (metres, the community CRS: x east,
y north, z up), per-vertex normals, RGBA vertex colours and triangle indices. ``ranges``
lists ``(element_id, first_triangle, triangle_count)`` so that a triangle picked in the
viewer resolves to the twin element it came from. Concatenation keeps triangle order, so
ranges stay valid after merging.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["TriMesh", "concat"]


@dataclass
class TriMesh:
    """Indexed triangles with normals, colours and per-element triangle ranges.

    Invariants: ``positions`` (n, 3) float64 metres; ``normals`` (n, 3) float32 unit;
    ``colors`` (n, 4) uint8 RGBA; ``indices`` (m, 3) uint32 into the vertices;
    ``ranges`` cover triangles in order without overlap.
    """

    positions: np.ndarray
    normals: np.ndarray
    colors: np.ndarray
    indices: np.ndarray
    ranges: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def n_triangles(self) -> int:
        """Number of triangles."""
        return int(self.indices.shape[0])

    @property
    def n_vertices(self) -> int:
        """Number of vertices."""
        return int(self.positions.shape[0])

    @classmethod
    def empty(cls) -> "TriMesh":
        """Return a mesh without triangles."""
        return cls(np.zeros((0, 3)), np.zeros((0, 3), np.float32), np.zeros((0, 4), np.uint8),
                   np.zeros((0, 3), np.uint32))

    @classmethod
    def single(cls, element_id: str, positions, indices, normals=None,
               rgba=(200, 200, 200, 255)) -> "TriMesh":
        """Return a mesh of one element with one colour (normals computed when absent)."""
        pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        idx = np.asarray(indices, dtype=np.uint32).reshape(-1, 3)
        nrm = (vertex_normals(pos, idx) if normals is None
               else np.asarray(normals, dtype=np.float32).reshape(-1, 3))
        col = np.tile(np.asarray(rgba, dtype=np.uint8), (pos.shape[0], 1))
        ranges = [(element_id, 0, int(idx.shape[0]))] if idx.shape[0] else []
        return cls(pos, nrm, col, idx, ranges)


def vertex_normals(positions: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Return area-weighted vertex normals (float32, unit; +z where undefined)."""
    normals = np.zeros_like(positions, dtype=np.float64)
    if indices.shape[0]:
        a, b, c = (positions[indices[:, k]] for k in range(3))
        face = np.cross(b - a, c - a)
        for k in range(3):
            np.add.at(normals, indices[:, k], face)
    length = np.linalg.norm(normals, axis=1)
    normals[length == 0] = (0.0, 0.0, 1.0)
    length[length == 0] = 1.0
    return (normals / length[:, None]).astype(np.float32)


def concat(meshes: list[TriMesh]) -> TriMesh:
    """Return one mesh holding every mesh's triangles in order (ranges shifted)."""
    meshes = [m for m in meshes if m.n_triangles]
    if not meshes:
        return TriMesh.empty()
    offsets_v = np.cumsum([0] + [m.n_vertices for m in meshes])
    offsets_t = np.cumsum([0] + [m.n_triangles for m in meshes])
    ranges = [(eid, int(start + offsets_t[i]), count)
              for i, m in enumerate(meshes) for eid, start, count in m.ranges]
    return TriMesh(
        np.concatenate([m.positions for m in meshes]),
        np.concatenate([m.normals for m in meshes]),
        np.concatenate([m.colors for m in meshes]),
        np.concatenate([m.indices + np.uint32(offsets_v[i]) for i, m in enumerate(meshes)]),
        ranges,
    )
