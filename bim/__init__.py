"""Source readers of the community twin: GIS layers, site folders, registers, IFC models.

:func:`load` turns a site folder, an IFC file or a GIS buildings file into one
:class:`twin.model.Community`.
"""

from bim.errors import BimError, GisError, RegisterError, SiteError
from bim.site import load, load_site

__all__ = ["BimError", "GisError", "RegisterError", "SiteError", "load", "load_site"]
