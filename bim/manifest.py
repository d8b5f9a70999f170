"""The site manifest ``site.json``: parsing and validation (see docs/site-format.md)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bim.errors import SiteError

__all__ = [
    "LAYER_KINDS", "REGISTER_KINDS", "Anchor", "BuildingSpec", "CoreSpec", "LayerRef",
    "SiteManifest", "read_manifest",
]

#: Layer kinds with a meaning of their own; other kinds become plain site features.
LAYER_KINDS = ("buildings", "roads", "footpaths", "green", "parking", "gates", "public_areas")
#: Register kinds read from ``registers`` (see :mod:`bim.registers`).
REGISTER_KINDS = ("households", "billing_units", "devices", "staff")


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Anchor(_Model):
    """Where an IFC file's origin lies on the site (used without IfcMapConversion).

    ``easting``/``northing`` are site CRS coordinates (m) of the IFC origin;
    ``rotation_deg`` turns the IFC x axis from east, counter-clockwise; ``elevation_m``
    is added to every IFC height.
    """

    easting: float
    northing: float
    rotation_deg: float = 0.0
    elevation_m: float = 0.0


class CoreSpec(_Model):
    """Core of a GIS-only building; ``None`` fields take the defaults of :mod:`bim.extrude`."""

    stairs: int | None = Field(None, ge=0, le=8)
    elevators: int | None = Field(None, ge=0, le=12)
    stair_width_m: float | None = Field(None, gt=0, le=5)
    corridor_width_m: float | None = Field(None, gt=0, le=10)
    apartments_per_floor: int | None = Field(None, ge=1, le=64)
    storey_height_m: float | None = Field(None, gt=1.5, le=10)


class LayerRef(_Model):
    """A GIS layer: a file relative to the site folder and, for GeoPackages, a layer name."""

    path: str
    layer: str | None = None


class BuildingSpec(_Model):
    """Per-building settings of the manifest, keyed by the GIS footprint ``id``."""

    id: str
    name: str | None = None
    ifc: str | None = None
    anchor: Anchor | None = None
    core: CoreSpec | None = None
    floors: int | None = Field(None, ge=1, le=200)
    height_m: float | None = Field(None, gt=0, le=1000)


class SiteManifest(_Model):
    """The whole manifest of a site folder."""

    name: str = Field(min_length=1)
    crs: str | None = None
    timezone: str | None = None
    layers: dict[str, LayerRef] = Field(default_factory=dict)
    buildings: list[BuildingSpec] = Field(default_factory=list)
    registers: dict[str, str] = Field(default_factory=dict)

    @field_validator("layers", mode="before")
    @classmethod
    def _layer_strings(cls, value):
        if isinstance(value, dict):
            return {k: {"path": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("registers")
    @classmethod
    def _known_registers(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(REGISTER_KINDS))
        if unknown:
            raise ValueError(f"unknown register {unknown[0]!r} (expected one of {', '.join(REGISTER_KINDS)})")
        return value

    @field_validator("buildings")
    @classmethod
    def _unique_ids(cls, value: list[BuildingSpec]) -> list[BuildingSpec]:
        seen: set[str] = set()
        for spec in value:
            if spec.id in seen:
                raise ValueError(f"building id {spec.id!r} is listed twice")
            seen.add(spec.id)
        return value

    def building_spec(self, building_id: str) -> BuildingSpec | None:
        """Return the manifest entry of a building, or ``None``."""
        return next((b for b in self.buildings if b.id == building_id), None)


def _one_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "manifest"
    value = err.get("input")
    shown = "" if isinstance(value, (dict, list)) else f" (got {value!r})"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {err['msg']}{shown}{more}"


def read_manifest(site_dir: Path) -> SiteManifest:
    """Read and validate ``site_dir/site.json``.

    Raises
    ------
    SiteError
        When the file is missing, not JSON, or a field is invalid (the message names it).
    """
    path = Path(site_dir) / "site.json"
    if not path.is_file():
        raise SiteError(f"{site_dir}: not a site folder (no site.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SiteError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SiteError(f"{path}: must hold a JSON object, got {type(data).__name__}")
    data.setdefault("name", Path(site_dir).resolve().name)
    try:
        return SiteManifest.model_validate(data)
    except ValidationError as exc:
        raise SiteError(f"{path}: {_one_line(exc)}") from None
