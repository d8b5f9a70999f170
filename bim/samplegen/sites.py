"""The two sample sites, declared as data: where each building stands, what the grounds hold.

Site-local coordinates are metres east/north of the site origin (``SiteSpec.origin``, in
EPSG:4547, CGCS2000 3-degree Gauss-Krüger zone with central meridian 114°E). The sample
community sits beside Wuhan's East Lake (about 114.36°E, 30.55°N).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from shapely.geometry import Polygon, box

from bim.samplegen.plans import BuildingPlan, clubhouse_plan, garage_plan, residential_plan

__all__ = ["GisBuilding", "IfcBuilding", "SITES", "SiteSpec", "lakeside", "tiny"]

#: SW corner of the sample communities in EPSG:4547 (m): near East Lake, Wuhan.
ORIGIN_EN = (534500.0, 3381100.0)


@dataclass(frozen=True)
class IfcBuilding:
    """A building written as IFC: its plan and where its local origin stands.

    ``x, y`` (m) are site-local coordinates of the IFC origin, ``rotation_deg`` the angle
    of its x axis from grid east (counter-clockwise). ``georef`` chooses how the file is
    placed: ``"map_conversion"`` (IfcMapConversion in the file) or ``"anchor"`` (no
    georeferencing in the file; the manifest's ``anchor`` carries it).
    """

    make: Callable[[], BuildingPlan]
    x: float
    y: float
    rotation_deg: float = 0.0
    georef: str = "map_conversion"


@dataclass(frozen=True)
class GisBuilding:
    """A building known only from GIS (no IFC): footprint, floors, core, flats."""

    id: str
    name: str
    footprint: Polygon
    floors: int
    storey_height_m: float
    units: int
    flats_per_floor: int
    stairs: int
    elevators: int
    stair_width_m: float


@dataclass
class SiteSpec:
    """Everything that defines one sample site (site-local metres unless stated)."""

    name: str
    title: str
    seed: int
    origin: tuple[float, float] = ORIGIN_EN
    crs: str = "EPSG:4547"
    timezone: str = "Asia/Shanghai"
    ifc_buildings: list[IfcBuilding] = field(default_factory=list)
    gis_buildings: list[GisBuilding] = field(default_factory=list)
    gates: list[tuple[str, str, float, float, str]] = field(default_factory=list)
    roads: list[tuple[str, str, list[tuple[float, float]], float]] = field(default_factory=list)
    footpath_spines: list[tuple[str, list[tuple[float, float]], float]] = field(default_factory=list)
    green: list[tuple[str, str, Polygon]] = field(default_factory=list)
    public_areas: list[tuple[str, str, str, Polygon]] = field(default_factory=list)
    ground_parking: list[tuple[str, Polygon]] = field(default_factory=list)
    garage: str | None = None
    office: tuple[str, str, str] | None = None   # (building, storey, space key) of staff base
    staff_size: int = 0
    occupancy: float = 0.92


def tiny() -> SiteSpec:
    """Return the ``tiny`` site: one 3-storey building, one gate, a road, a lawn."""
    return SiteSpec(
        name="tiny",
        title="Tiny test site: one 3-storey building",
        seed=7,
        ifc_buildings=[IfcBuilding(lambda: residential_plan("T1", "1号楼", 3, 1, "tiny"),
                                   20.0, 20.0)],
        gates=[("G1", "南门", 29.0, 0.0, "main")],
        roads=[("R1", "园区路", [(0.0, 8.0), (60.0, 8.0)], 5.0)],
        footpath_spines=[],
        green=[("GR1", "草坪", box(42.0, 14.0, 58.0, 40.0))],
        public_areas=[],
        office=None,
        staff_size=7,
    )


def _visitor_parking() -> list[tuple[str, Polygon]]:
    return [(f"V{i + 1:02d}", box(100 + 2.5 * i, 49.0, 102.5 + 2.5 * i, 54.3)) for i in range(20)]


def lakeside() -> SiteSpec:
    """Return the ``lakeside`` site: five towers, an old walk-up, a clubhouse, a garage."""
    return SiteSpec(
        name="lakeside",
        title="湖畔花园 Lakeside Gardens: a high-rise residential community",
        seed=20240611,
        ifc_buildings=[
            IfcBuilding(lambda: residential_plan("B1", "1号楼", 33, 2, 2), 20.0, 170.0),
            IfcBuilding(lambda: residential_plan("B2", "2号楼", 26, 2, 3), 90.0, 170.0),
            IfcBuilding(lambda: residential_plan("B3", "3号楼", 26, 2, 4), 172.0, 158.0,
                        rotation_deg=12.0, georef="anchor"),
            IfcBuilding(lambda: residential_plan("B4", "4号楼", 18, 2, 4), 20.0, 20.0),
            IfcBuilding(lambda: residential_plan("B5", "5号楼", 18, 1, 4), 100.0, 20.0),
            IfcBuilding(lambda: clubhouse_plan("C1", "会所及物业服务中心"), 140.0, 22.0),
            IfcBuilding(lambda: garage_plan("GAR", "地下车库"), 60.0, 75.0),
        ],
        gis_buildings=[
            GisBuilding("B6", "6号楼(老楼)", box(195.0, 25.0, 225.0, 36.0), 6, 3.0, 2, 2,
                        stairs=2, elevators=0, stair_width_m=1.1),
        ],
        gates=[("G1", "北门", 155.0, 210.0, "main"), ("G2", "南门", 90.0, 0.0, "main"),
               ("G3", "东门", 260.0, 100.0, "pedestrian")],
        roads=[
            ("R1", "环路", [(10.0, 45.0), (245.0, 45.0), (245.0, 150.0), (10.0, 150.0),
                          (10.0, 45.0)], 7.0),
            ("R2", "北门路", [(155.0, 210.0), (155.0, 150.0)], 7.0),
            ("R3", "南门路", [(90.0, 0.0), (90.0, 45.0)], 7.0),
            ("R4", "东门路", [(245.0, 100.0), (260.0, 100.0)], 5.0),
            ("R5", "车库入口", [(63.5, 75.0), (63.5, 45.0)], 6.0),
            ("R6", "车库出口", [(156.5, 135.0), (156.5, 150.0)], 6.0),
        ],
        footpath_spines=[
            ("FP1", [(5.0, 8.0), (255.0, 8.0)], 2.5),
            ("FP2", [(5.0, 198.0), (255.0, 198.0)], 2.5),
            ("FP3", [(5.0, 8.0), (5.0, 198.0)], 2.0),
            ("FP4", [(255.0, 8.0), (255.0, 198.0)], 2.0),
        ],
        green=[
            ("GR1", "西草坪", box(15.0, 50.0, 55.0, 140.0)),
            ("GR2", "东草坪", box(165.0, 50.0, 240.0, 140.0)),
            ("GR3", "中心花园", box(65.0, 56.0, 150.0, 90.0)),
        ],
        public_areas=[
            ("PA1", "plaza", "中心广场", box(80.0, 95.0, 120.0, 125.0)),
            ("PA2", "playground", "儿童游乐场", box(125.0, 95.0, 145.0, 120.0)),
            ("PA3", "fitness", "健身区", box(20.0, 141.0, 45.0, 146.0)),
        ],
        ground_parking=_visitor_parking(),
        garage="GAR",
        office=("C1", "F01", "OFFICE"),
        staff_size=42,
    )


#: Site name -> spec factory.
SITES: dict[str, Callable[[], SiteSpec]] = {"lakeside": lakeside, "tiny": tiny}
