"""Readers of the community's sources: IFC building models (and GIS, see the site loader).

Public API::

    load_ifc(path, *, cache_dir=None, progress=None, building_id=None) -> IfcModel
    apply_anchor(model_or_community, easting, northing, rotation_deg)
    footprint_iou(a, b) -> float
"""

from bim.errors import BimError, GeoreferenceError, IfcError
from bim.georef import apply_anchor, footprint_iou
from bim.ifc import READER_VERSION, IfcModel, load_ifc

__all__ = [
    "BimError",
    "GeoreferenceError",
    "IfcError",
    "IfcModel",
    "READER_VERSION",
    "apply_anchor",
    "footprint_iou",
    "load_ifc",
]
