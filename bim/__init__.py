"""Readers of the community's sources: IFC building models, GIS layers, site folders,
registers.

Public API::

    load(path, *, cache_dir=None, progress=None) -> Community   # site folder, .ifc or GIS file
    load_site(path, *, cache_dir=None, progress=None) -> Community
    load_ifc(path, *, cache_dir=None, progress=None, building_id=None) -> IfcModel
    apply_anchor(model_or_community, easting, northing, rotation_deg)
    footprint_iou(a, b) -> float
"""

from bim.errors import BimError, GeoreferenceError, GisError, IfcError, RegisterError, SiteError
from bim.georef import apply_anchor, footprint_iou
from bim.ifc import READER_VERSION, IfcModel, load_ifc
from bim.site import load, load_site

__all__ = [
    "BimError",
    "GeoreferenceError",
    "GisError",
    "IfcError",
    "IfcModel",
    "READER_VERSION",
    "RegisterError",
    "SiteError",
    "apply_anchor",
    "footprint_iou",
    "load",
    "load_ifc",
    "load_site",
]
