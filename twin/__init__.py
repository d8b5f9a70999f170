"""The community twin's core: the spatial model, its queries and its JSON forms.

Depends on shapely and numpy only; imports nothing else of this repository.

The names below load on first use (PEP 562), so that ``import twin.errors`` (the CLI's
start-up) does not pull in shapely and numpy.
"""

from importlib import import_module

from twin.errors import GeometryError, ModelError, NotFoundError, QueryError, TwinError

#: Public name -> the module that defines it; imported on first access.
_LAZY: dict[str, str] = {
    "SpatialIndex": "twin.index",
    **dict.fromkeys(["community_from_dict", "community_to_dict", "site_geojson", "storey_geojson"],
                    "twin.io"),
    **dict.fromkeys(["PUBLIC_USAGES", "BillingUnit", "Building", "Community", "Device", "Door",
                     "Elevator", "Household", "SiteFeature", "Space", "Staff", "Stair",
                     "StairFlight", "Storey"], "twin.model"),
    "SiteNames": "twin.naming",
    **dict.fromkeys(["OUTSIDE", "Route", "RouteGraph"], "twin.routes"),
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'twin' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "OUTSIDE", "PUBLIC_USAGES", "BillingUnit", "Building", "Community", "Device", "Door",
    "Elevator", "GeometryError", "Household", "ModelError", "NotFoundError", "QueryError",
    "Route", "RouteGraph", "SiteFeature", "SiteNames", "Space", "SpatialIndex", "Staff", "Stair",
    "StairFlight", "Storey", "TwinError", "community_from_dict", "community_to_dict",
    "site_geojson", "storey_geojson",
]
