"""Composing ONE twin :class:`~twin.model.Community` from a site folder, an IFC file or a
GIS file (see docs/site-format.md).

:func:`load` dispatches on the path; :func:`load_site` reads a site folder: GIS layers
reprojected to the site CRS, IFC buildings georeferenced onto the site (IfcMapConversion,
else the manifest anchor) and compared with their GIS footprint, GIS-only buildings
extruded (:mod:`bim.extrude`), registers bound (:mod:`bim.registers`). The composed site is
cached by the content hash of all its inputs (:mod:`bim.cache`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import shapely

from bim import sitecache as _cache
from bim.errors import GisError, SiteError
from bim.manifest import REGISTER_KINDS, BuildingSpec, SiteManifest, read_manifest
from bim.georef import apply_anchor, footprint_iou
from bim.transform import crs_transform, map_xy, shift_z
from twin.errors import ModelError
from twin.model import Community

__all__ = ["IOU_WARNING", "Progress", "load", "load_gis_file", "load_ifc_file",
           "load_site"]

#: Below this IoU of placed IFC footprint and GIS footprint, a warning is recorded.
IOU_WARNING = 0.9

#: ``progress(done, total, message)``: called as work advances (``total`` 0 = unknown);
#: the same convention as :func:`bim.ifc.load_ifc`.
Progress = Callable[[int, int, str], None]


def _say(progress: Progress | None, message: str, done: int = 0, total: int = 0) -> None:
    if progress is not None:
        progress(done, total, message)


def load(path: str | Path, *, cache_dir: str | Path | None = None,
         progress: Progress | None = None) -> Community:
    """Load a site folder, an ``.ifc`` file or a GIS buildings file as one community.

    Parameters
    ----------
    path : str or Path
        A site folder (with ``site.json``), an IFC file, or a GIS file (GeoJSON, GeoPackage,
        Shapefile) whose features are building footprints (a site of GIS-only buildings).
    cache_dir : str or Path, optional
        Folder of the derived-model cache; ``None`` disables caching.
    progress : callable, optional
        ``progress(done, total, message)`` for long work.

    Raises
    ------
    twin.errors.TwinError
        Any bad input: missing path, unknown file type, unreadable file, empty model.
    """
    path = Path(path)
    if path.is_dir():
        return load_site(path, cache_dir=cache_dir, progress=progress)
    if not path.exists():
        raise SiteError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".ifc":
        return load_ifc_file(path, cache_dir=cache_dir, progress=progress)
    from bim.gis import GIS_SUFFIXES

    if suffix in GIS_SUFFIXES:
        return load_gis_file(path, cache_dir=cache_dir, progress=progress)
    raise SiteError(f"{path}: unsupported input (expected a site folder, .ifc, "
                    f"or {', '.join(GIS_SUFFIXES)})")


def load_site(path: str | Path, *, cache_dir: str | Path | None = None,
              progress: Progress | None = None) -> Community:
    """Compose the community of a site folder (see module docs); cached when ``cache_dir``.

    Raises
    ------
    SiteError, GisError, RegisterError, twin.errors.ModelError
        Bad manifest, layer, IFC file or register row; dangling reference; empty site.
    """
    site_dir = Path(path)
    manifest = read_manifest(site_dir)
    files = _cache.site_inputs(site_dir, _manifest_paths(manifest))
    return _cache.cached(cache_dir, "site", files, lambda: _compose(site_dir, manifest, cache_dir, progress),
                         progress=progress, base=site_dir)


def load_gis_file(path: str | Path, *, cache_dir: str | Path | None = None,
                  progress: Progress | None = None) -> Community:
    """A lone GIS buildings layer as a site of GIS-only buildings (CRS: :func:`bim.gis.choose_crs`)."""
    path = Path(path)
    files = _cache.file_inputs(path)
    manifest = SiteManifest(name=path.stem, layers={"buildings": {"path": path.name}})
    return _cache.cached(cache_dir, "gis", files,
                         lambda: _compose(path.parent, manifest, cache_dir, progress, lone=True),
                         progress=progress)


def load_ifc_file(path: str | Path, *, cache_dir: str | Path | None = None,
                  progress: Progress | None = None) -> Community:
    """A lone IFC file as a community, in its map CRS when it has an IfcMapConversion."""
    from bim.ifc import load_ifc

    path = Path(path)
    model = load_ifc(path, cache_dir=cache_dir, progress=progress)
    c = model.community
    c.name = c.name or path.stem
    c.crs = model.crs
    for b in c.buildings:
        b.source = "ifc"
        b.ifc_file = b.ifc_file or path.name
    c.warnings = list(dict.fromkeys([*c.warnings, *model.warnings]))
    _finish(c, str(path))
    return c


# -- composition ---------------------------------------------------------------------------
def _manifest_paths(manifest: SiteManifest) -> list[str]:
    paths = [ref.path for ref in manifest.layers.values()]
    paths += [b.ifc for b in manifest.buildings if b.ifc]
    paths += list(manifest.registers.values())
    return paths


def _site_file(site_dir: Path, rel: str, what: str) -> Path:
    path = site_dir / rel
    if not path.is_file():
        raise SiteError(f"{site_dir / 'site.json'}: {what} {rel!r} not found")
    return path


def _compose(site_dir: Path, manifest: SiteManifest, cache_dir, progress, *,
             lone: bool = False) -> Community:
    from bim import gis

    warnings: list[str] = []
    layers = {}
    for n, (kind, ref) in enumerate(manifest.layers.items()):
        _say(progress, f"reading layer {kind}", n, len(manifest.layers))
        layers[kind] = (ref, gis.read_layer(_site_file(site_dir, ref.path, f"layer {kind}"),
                                            layer=ref.layer))
        if lone and layers[kind][1].empty:
            raise ModelError(f"{site_dir / ref.path}: empty model (the layer has no features)")
    crs = gis.choose_crs(manifest.crs, [g for _, g in layers.values()])
    c = Community(name=manifest.name, crs=crs,
                  attributes={"timezone": manifest.timezone} if manifest.timezone else {})
    footprints = {}
    for kind, (ref, gdf) in layers.items():
        gdf = gis.reproject(gdf, crs)
        if kind == "buildings":
            for fp in gis.footprints_from_layer(gdf, ref.path, warnings):
                footprints[fp.id] = fp
        else:
            c.features.extend(gis.features_from_layer(gdf, kind, ref.path))
    ids = list(footprints) + [b.id for b in manifest.buildings if b.id not in footprints]
    for n, bid in enumerate(ids):
        _say(progress, f"building {bid}", n, len(ids))
        spec = manifest.building_spec(bid) or BuildingSpec(id=bid)
        fp = footprints.get(bid)
        ifc = spec.ifc or (fp.ifc if fp else None)
        if ifc:
            _add_ifc_building(c, site_dir, bid, spec, fp, ifc, cache_dir, progress, warnings)
        else:
            _add_gis_building(c, bid, spec, fp, warnings)
    regs = {k: (_site_file(site_dir, rel, f"register {k}"), rel) for k, rel in manifest.registers.items()}
    if regs:
        _say(progress, "registers", 0, 0)
        from bim.registers import apply_registers

        apply_registers(c, {k: regs[k] for k in REGISTER_KINDS if k in regs})
    c.warnings = list(dict.fromkeys([*warnings, *c.warnings]))
    _finish(c, str(site_dir))
    return c


def _finish(c: Community, where: str) -> None:
    if not c.buildings or not c.storeys:
        raise ModelError(f"{where}: empty model (no building with storeys)")
    c.validate()


def _add_gis_building(c: Community, bid: str, spec: BuildingSpec, fp, warnings: list[str]) -> None:
    from bim.extrude import Core, default_core, extrude_building

    if fp is None:
        raise SiteError(f"building {bid!r} of site.json has neither a GIS footprint nor an IFC file")
    floors = spec.floors or fp.floors
    height = spec.height_m or fp.height_m
    core_spec = spec.core
    storey_h = core_spec.storey_height_m if core_spec else None
    if floors is None and height is None:
        raise GisError(f"building {bid!r}: needs floors or height_m (GIS property or site.json)")
    base = default_core(floors or max(1, round(height / 2.9)), height or floors * 2.9)
    core = base
    if core_spec is not None:
        core = Core(
            stairs=base.stairs if core_spec.stairs is None else core_spec.stairs,
            elevators=base.elevators if core_spec.elevators is None else core_spec.elevators,
            stair_width_m=core_spec.stair_width_m or base.stair_width_m,
            corridor_width_m=core_spec.corridor_width_m or base.corridor_width_m,
            apartments_per_floor=core_spec.apartments_per_floor,
        )
    if core.stair_width_m < 1.1 and core.stairs:
        warnings.append(f"building {bid!r}: stair_width_m={core.stair_width_m} is below the "
                        "1.1 m minimum of GB 50016")
    parts = extrude_building(bid, spec.name or fp.name, fp.geometry, floors=floors,
                             height_m=height, core=core, storey_height_m=storey_h)
    parts.building.attributes.update(fp.attributes)
    c.buildings.append(parts.building)
    c.spaces.extend(parts.spaces)
    c.doors.extend(parts.doors)
    c.stairs.extend(parts.stairs)
    c.elevators.extend(parts.elevators)
    warnings.extend(parts.warnings)


def _placed_outline(frag: Community):
    walk = [s.walkable for s in frag.storeys if s.walkable is not None and not s.walkable.is_empty]
    if not walk:
        walk = [sp.footprint for sp in frag.spaces if sp.footprint is not None]
    return shapely.union_all(walk) if walk else None


def _add_ifc_building(c: Community, site_dir: Path, bid: str, spec: BuildingSpec, fp, ifc: str,
                      cache_dir, progress, warnings: list[str]) -> None:
    from bim.ifc import load_ifc

    path = _site_file(site_dir, ifc, f"IFC file of building {bid!r}")
    model = load_ifc(path, cache_dir=cache_dir, progress=progress, building_id=bid)
    frag = model.community
    if model.crs:
        if model.crs != c.crs:
            map_xy(frag, crs_transform(model.crs, c.crs))
        how = f"IfcMapConversion ({model.crs})"
    elif model.georeferenced:
        warnings.append(f"building {bid!r}: {ifc} has an IfcMapConversion without a named CRS; "
                        f"taken to be the site CRS {c.crs}")
        how = "IfcMapConversion (no CRS named)"
    elif spec.anchor is not None:
        a = spec.anchor
        apply_anchor(frag, a.easting, a.northing, a.rotation_deg)
        shift_z(frag, a.elevation_m)
        how = f"anchor ({a.easting}, {a.northing}, {a.rotation_deg}°)"
    else:
        raise SiteError(f"building {bid!r}: {ifc} has no IfcMapConversion; give an 'anchor' "
                        "in site.json")
    if not frag.buildings:
        raise ModelError(f"building {bid!r}: {ifc} holds no building")
    outline = _placed_outline(frag)
    frag.crs = c.crs
    for b in frag.buildings:
        if len(frag.buildings) == 1 and b.id != bid:
            b.attributes.setdefault("ifc_guid", b.id)
            b.id = bid
        b.source = "ifc"
        b.ifc_file = ifc
        b.name = spec.name or (fp.name if fp else None) or b.name
        b.attributes["georeference"] = how
        for s in b.storeys:
            s.building_id = b.id
    for group in (frag.spaces, frag.doors, frag.stairs, frag.elevators, frag.devices):
        for item in group:
            if getattr(item, "building_id", None) is not None and len(frag.buildings) == 1:
                item.building_id = bid
    b0 = frag.buildings[0]
    if fp is not None:
        b0.footprint = fp.geometry
        b0.floors = b0.floors or fp.floors
        b0.height_m = b0.height_m or fp.height_m
        if outline is None:
            warnings.append(f"building {bid!r}: {ifc} has no storey outline to compare with its GIS footprint")
        else:
            iou = footprint_iou(outline, fp.geometry)
            b0.attributes["footprint_iou"] = round(iou, 4)
            if iou < IOU_WARNING:
                warnings.append(f"building {bid!r}: placed IFC footprint overlaps its GIS footprint "
                                f"with IoU {iou:.2f} < {IOU_WARNING} (check the georeference)")
    elif outline is not None:
        b0.footprint = outline
    c.buildings.extend(frag.buildings)
    c.spaces.extend(frag.spaces)
    c.doors.extend(frag.doors)
    c.stairs.extend(frag.stairs)
    c.elevators.extend(frag.elevators)
    c.devices.extend(frag.devices)
    c.billing_units.extend(frag.billing_units)
    c.features.extend(frag.features)
    warnings.extend(f"building {bid!r}: {w}" for w in [*model.warnings, *frag.warnings])
