"""Meshes of the community for the 3D viewer: IFC geometry and GIS layers → one GLB scene.

See :mod:`bim.mesh.build` for the node layout and level of detail, and docs/viewer.md.
"""

from bim.mesh.build import OVERVIEW_BUDGET, SCENE_VERSION, Scene, build_scene, scene_key
from bim.mesh.errors import SceneError
from bim.mesh.glb import read_glb
from bim.mesh.index import scene_index

__all__ = ["OVERVIEW_BUDGET", "SCENE_VERSION", "Scene", "SceneError", "build_scene", "read_glb",
           "scene_index", "scene_key"]
