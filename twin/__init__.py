"""The community twin's core: the spatial model, its queries and its JSON forms.

Depends on shapely and numpy only; imports nothing else of this repository.
"""

from twin.errors import GeometryError, ModelError, NotFoundError, QueryError, TwinError
from twin.index import SpatialIndex
from twin.io import community_from_dict, community_to_dict, site_geojson, storey_geojson
from twin.model import (
    PUBLIC_USAGES, BillingUnit, Building, Community, Device, Door, Elevator, Household,
    SiteFeature, Space, Staff, Stair, StairFlight, Storey,
)
from twin.naming import SiteNames
from twin.routes import OUTSIDE, Route, RouteGraph

__all__ = [
    "OUTSIDE", "PUBLIC_USAGES", "BillingUnit", "Building", "Community", "Device", "Door",
    "Elevator", "GeometryError", "Household", "ModelError", "NotFoundError", "QueryError",
    "Route", "RouteGraph", "SiteFeature", "SiteNames", "Space", "SpatialIndex", "Staff", "Stair",
    "StairFlight", "Storey", "TwinError", "community_from_dict", "community_to_dict",
    "site_geojson", "storey_geojson",
]
