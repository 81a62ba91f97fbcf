#!/usr/bin/env python3
"""Generate ILLUSTRATIVE (invented, not official) spatial data for 南汇新城镇 (Nanhui New City Town).

Every feature carries ``"illustrative": true``. The data is plausible, not real: it exists so the
platform can be developed and demonstrated before official boundaries are imported.

Construction (all geometry is built in EPSG:4550 metres and converted to EPSG:4326 at the end):

1. Lake and town. Dishui Lake is a circle of radius 1335 m around a centre near 30.90 N, 121.93 E,
   snapped so that the 500 m street mesh runs 250 m off the lake's axes. The town outline is a
   hand-drawn polygon (coast to the east and south, land boundary to the west and north),
   densified and pushed sideways by smooth seeded noise so that the coast looks irregular.
2. Territories. 13 seeds (one per 居村工作站) give a Voronoi tiling; its edges are bent by a smooth
   displacement field (a homeomorphism, so cells stay simple), noded with the town outline and
   polygonized. Faces go to the seed whose bent cell holds them; workstations are the coverage
   unions of their faces, communities the coverage unions of their workstations and the town the
   union of all, so shared edges are identical vertex by vertex.
3. Roads. Four ring roads, twelve radials, four arterials and a 500 m mesh of local streets
   (clipped to the built-up area) are noded together; short dangles are trimmed, only the
   largest connected component is kept and pieces of one road are re-merged between crossings,
   so every segment runs from intersection (or dead end) to intersection.
4. Grid cells. A 100 m lattice aligned to the EPSG:4550 axes, the workstation boundaries, the
   built-up outline, the lake shore and the road centre lines are noded and polygonized over the
   built-up area (lake excluded); faces under 2,000 m² are merged into their largest neighbour in
   the same workstation. Codes: 310115145 + workstation code + sequence (north to south by
   lattice row, west to east within a row).
5. Stations, station coverage (version 1 = community territories) and addresses (house numbers
   along roads, odd on the left and even on the right; residential compounds with 弄 numbers and
   buildings; named places).

District (scale option ``--towns N``, for benchmarks): towns k = 0..N-1, each built by the same
construction seeded SEED + k and moved by whole multiples of MESH_M (so the street mesh and the
lattice stay aligned): 4 towns a row going west from town 0, rows going north, spaced by the
outline's extent plus its wiggle and at least TOWN_GAP_M. Town 0 is 南汇新城镇 (310115145), town
k >= 1 an invented 示例一镇, 示例二镇 ... (code 3101159 + k in two digits). The towns do not tile
the district: the land between them belongs to no town. The same 9 files hold every town; every
feature but the towns' own carries ``town_code``, community and workstation codes are prefixed by
the town code (12 digits), station codes by the town code and a dash, ids run on over the
district, and addresses start with the town's name. ``--towns 1`` (the default) writes the
single-town files above, unchanged.

Run ``python data/boundaries/make_illustrative.py [--out DIR] [--towns N]`` to write the GeoJSON
files and ``--check`` to verify the written files (one town or a district). Output is deterministic
(fixed seeds, sorted keys, coordinates rounded to 7 decimals), so a rerun is byte-identical.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import shapely.affinity
import shapely.ops
from pyproj import Transformer
from shapely import STRtree
from shapely.geometry import LineString, MultiLineString, MultiPoint, Point, Polygon
from shapely.geometry.base import BaseGeometry

SEED = 20240617
TOWN_CODE = "310115145"
TOWN_NAME = ("南汇新城镇", "Nanhui New City Town")
LAKE_LONLAT = (121.93, 30.90)
LAKE_RADIUS_M = 1335.0
LATTICE_M = 100.0
MESH_M = 500.0
MIN_CELL_M2 = 2000.0
DANGLE_M = 60.0
HOUSE_OFFSET_M = 15.0
DISTRICT_COLUMNS = 4  # towns per row of a district, going west from town 0; rows go north
TOWN_GAP_M = 1000.0  # at least this much land of no town between neighbouring towns
WIGGLE_MAX_M = 300.0  # bound on the sideways push of the outline (sines 150 m + noise of std 40 m)
MAX_TOWNS = 100  # town codes 3101159{k:02d}
HERE = Path(__file__).resolve().parent

TO_METRIC = Transformer.from_crs(4326, 4550, always_xy=True)
TO_LONLAT = Transformer.from_crs(4550, 4326, always_xy=True)

FILES = (
    "town.geojson", "communities.geojson", "workstations.geojson", "grid_cells.geojson",
    "stations.geojson", "station_coverage.geojson", "roads.geojson", "addresses.geojson", "water.geojson",
)

# --------------------------------------------------------------------------------------------
# Invented geography, in metres east/north of the lake centre
# --------------------------------------------------------------------------------------------

COAST = [  # north-east corner -> east coast -> south coast -> 芦潮港 -> south-west corner
    (4300, 5500), (4900, 4000), (5300, 1800), (5250, -300), (4900, -2200), (4200, -3700),
    (3000, -4800), (1200, -5450), (-1500, -5750), (-4000, -6050), (-6200, -6500),
    (-7250, -6900), (-8100, -7000), (-8500, -6800),
]
LAND = [  # south-west corner -> west boundary -> north boundary -> north-east corner
    (-8500, -6800), (-8800, -6300), (-8900, -3000), (-8800, 500), (-8600, 3500),
    (-8500, 5000), (-6500, 5250), (-3500, 5450), (-500, 5600), (2000, 5650), (4300, 5500),
]

COMMUNITIES = [  # code, name, name_en
    ("001", "芦潮港社区", "Luchaogang Community"),
    ("002", "申港社区", "Shengang Community"),
    ("003", "临港综合社区", "Lingang Comprehensive Community"),
]

WORKSTATIONS = [  # code, community, name, name_en, kind, seed (dx, dy)
    ("001", "001", "芦潮港居委会工作站", "Luchaogang Residents' Committee Workstation", "residence", (-7300, -5600)),
    ("002", "001", "芦潮港村工作站", "Luchaogang Village Workstation", "village", (-7300, -2800)),
    ("003", "001", "新港居委会工作站", "Xingang Residents' Committee Workstation", "residence", (-2333, -2333)),
    ("004", "001", "海滨居委会工作站", "Haibin Residents' Committee Workstation", "residence", (0, -3300)),
    ("005", "002", "申港居委会工作站", "Shengang Residents' Committee Workstation", "residence", (0, 3300)),
    ("006", "002", "临港家园居委会工作站", "Lingang Jiayuan Residents' Committee Workstation", "residence",
     (-2333, 2333)),
    ("007", "002", "申江居委会工作站", "Shenjiang Residents' Committee Workstation", "residence", (-5600, 3200)),
    ("008", "002", "东滩村工作站", "Dongtan Village Workstation", "village", (-7200, 1500)),
    ("009", "003", "滴水湖居委会工作站", "Dishuihu Residents' Committee Workstation", "residence", (0, 0)),
    ("010", "003", "东岸居委会工作站", "Dong'an Residents' Committee Workstation", "residence", (3300, 0)),
    ("011", "003", "海港居委会工作站", "Haigang Residents' Committee Workstation", "residence", (2333, 2333)),
    ("012", "003", "港城居委会工作站", "Gangcheng Residents' Committee Workstation", "residence", (2333, -2333)),
    ("013", "003", "湖西居委会工作站", "Huxi Residents' Committee Workstation", "residence", (-3300, 0)),
]
WS_STATION_AT = {"009": (300, -1650)}  # the lake-centre seed is in the water: put the station ashore
TOWN_CENTER_AT = (-1800, 350)
JOINT_STATION_AT = {"001": (-6600, -5200), "002": (-4900, 3000), "003": (2700, -700)}

RINGS = [  # name, name_en, radius, speed
    ("环湖一路", "Huanhu 1st Road", 1500, 50),
    ("环湖二路", "Huanhu 2nd Road", 2100, 50),
    ("环湖三路", "Huanhu 3rd Road", 2900, 50),
    ("沪城环路", "Hucheng Ring Road", 3900, 60),
]
RADIALS = [  # angle (deg, from east, counter-clockwise), name, name_en, speed, runs to the town edge
    (90, "海港大道", "Haigang Avenue", 50, False),
    (60, "古棕路", "Guzong Road", 40, False),
    (30, "云鹃路", "Yunjuan Road", 40, False),
    (0, "橄榄路", "Ganlan Road", 40, False),
    (-30, "水芸路", "Shuiyun Road", 40, False),
    (-60, "夏涟路", "Xialian Road", 40, False),
    (-90, "南港大道", "Nangang Avenue", 50, False),
    (-120, "秋涟路", "Qiulian Road", 40, False),
    (-150, "芦潮港路", "Luchaogang Road", 50, False),
    (180, "临港大道", "Lingang Avenue", 50, True),
    (150, "申港大道", "Shengang Avenue", 50, False),
    (120, "春涟路", "Chunlian Road", 40, False),
]
RADIAL_BENDS = {"芦潮港路": [(-6700, -5600), (-6950, -7600)]}  # extra vertices after r = 6500
BINHAI = [
    (-10300, -6000), (-7250, -6300), (-4000, -5450), (-1500, -5150), (1200, -4850),
    (2700, -4250), (3800, -3300), (4450, -2000), (4700, 0), (4750, 1800), (4300, 4000), (3900, 5400),
]
ARTERIALS = [  # name, name_en, polyline, speed
    ("两港大道", "Lianggang Avenue", [(-11500, -1500), (-8000, 1000), (-4500, 3600), (-2500, 6500)], 60),
    ("南芦公路", "Nanlu Highway", [(-7250, 7000), (-7250, -8000)], 60),
    ("东海大道", "Donghai Avenue", [(-12000, 4750), (7000, 4750)], 60),
    ("滨海大道", "Binhai Avenue", BINHAI, 60),
]
STOP_ROADS = ("滨海大道", "东海大道")  # radials end where they first meet one of these

STREET_WORDS = [  # base names of local streets (zh, pinyin)
    ("新元", "Xinyuan"), ("竹柏", "Zhubai"), ("杞青", "Qiqing"), ("茉莉", "Moli"), ("紫荆", "Zijing"),
    ("银杏", "Yinxing"), ("香樟", "Xiangzhang"), ("丁香", "Dingxiang"), ("海桐", "Haitong"),
    ("木兰", "Mulan"), ("青桐", "Qingtong"), ("雪松", "Xuesong"), ("桂香", "Guixiang"),
    ("芙蓉", "Furong"), ("玉兰", "Yulan"), ("合欢", "Hehuan"), ("红枫", "Hongfeng"), ("翠柏", "Cuibai"),
    ("金桂", "Jingui"), ("海棠", "Haitang"), ("石楠", "Shinan"), ("紫薇", "Ziwei"), ("百合", "Baihe"),
    ("兰香", "Lanxiang"), ("芳草", "Fangcao"), ("秋菊", "Qiuju"), ("春晖", "Chunhui"),
    ("明珠", "Mingzhu"), ("临江", "Linjiang"), ("潮和", "Chaohe"), ("海阳", "Haiyang"),
    ("沧海", "Canghai"), ("浦航", "Puhang"), ("环港", "Huangang"), ("鸿音", "Hongyin"),
    ("方竹", "Fangzhu"), ("冬青", "Dongqing"), ("杉林", "Shanlin"), ("橡树", "Xiangshu"),
    ("桃园", "Taoyuan"), ("梅林", "Meilin"), ("杨柳", "Yangliu"), ("榕荫", "Rongyin"),
    ("松涛", "Songtao"), ("枫叶", "Fengye"), ("荷风", "Hefeng"), ("芦花", "Luhua"), ("鹤鸣", "Heming"),
    ("鸥鹭", "Oulu"), ("帆影", "Fanying"), ("潮音", "Chaoyin"), ("海霞", "Haixia"), ("云帆", "Yunfan"),
    ("远航", "Yuanhang"), ("启明", "Qiming"), ("东旭", "Dongxu"), ("曙光", "Shuguang"),
    ("晨光", "Chenguang"), ("星辰", "Xingchen"), ("银河", "Yinhe"), ("海帆", "Haifan"),
    ("蓝湾", "Lanwan"), ("碧波", "Bibo"), ("清波", "Qingbo"), ("澄江", "Chengjiang"),
    ("涟漪", "Lianyi"), ("浪花", "Langhua"), ("港泽", "Gangze"), ("临波", "Linbo"), ("汇贤", "Huixian"),
    ("博学", "Boxue"), ("明德", "Mingde"), ("致远", "Zhiyuan"), ("宁静", "Ningjing"),
]
PIECE_SUFFIX = {  # pieces of one mesh line, in order along it (west->east, north->south)
    "ew": [("西", "West"), ("中", "Middle"), ("东", "East"), ("东一", "East 1st"), ("东二", "East 2nd")],
    "ns": [("北", "North"), ("中", "Middle"), ("南", "South"), ("南一", "South 1st"), ("南二", "South 2nd")],
}
ONEWAY_STREETS = 6

COMPOUNDS = [
    "海事苑", "港城新天地", "宜浩佳园", "东岸涟城", "临港家园", "海尚明城", "滴水湖馨苑", "港城花园",
    "海湾佳苑", "东海岸花园", "馨月苑", "海韵苑", "云鹃苑", "水芸苑", "古棕苑", "橄榄苑", "春涟苑",
    "夏涟苑", "秋涟苑", "申港佳苑", "芦潮港新村", "渔港新苑", "海洋家园", "临港名邸", "湖畔华庭",
    "环湖雅苑", "海港公寓", "港湾新城", "星辰花园", "海帆苑", "蓝湾华府", "碧波苑", "清波苑",
    "涟漪苑", "浪花苑", "启明苑", "曙光苑", "晨光苑", "朝阳苑", "致远苑", "明德苑", "汇贤公寓",
    "鸥鹭苑", "鹤鸣苑", "松涛苑", "竹柏苑", "紫荆花园", "银杏苑", "香樟苑", "玉兰苑", "海棠苑",
    "芙蓉苑", "丁香苑", "金桂苑", "雪松苑", "合欢苑", "红枫苑", "翠柏苑", "临湖郡", "湖景名苑",
    "东滩家园", "新芦苑", "申江花园", "海天一色苑", "海晟苑", "临港人才公寓", "滨海雅居",
]
N_COMPOUNDS = 60

PLACES = [  # name, place_type, approximate (dx, dy)
    ("上海海事大学", "school", (-2600, 3000)), ("上海海洋大学", "school", (-1200, 3900)),
    ("上海电机学院", "school", (-3700, 1000)), ("上海建桥学院", "school", (-900, 4300)),
    ("临港滴水湖小学", "school", (2600, 600)), ("临港海港小学", "school", (1700, 3400)),
    ("临港港城中学", "school", (2800, -2400)), ("申港小学", "school", (-5600, 3300)),
    ("申港中学", "school", (-5000, 2400)), ("芦潮港小学", "school", (-7000, -5200)),
    ("芦潮港中学", "school", (-7700, -5800)), ("湖西幼儿园", "school", (-3000, -600)),
    ("东岸幼儿园", "school", (3500, 800)),
    ("滴水湖站", "metro", (-1700, -300)), ("临港大道站", "metro", (-4800, 2200)),
    ("滴水湖", "water", (0, 0)),
    ("上海市第六人民医院临港院区", "hospital", (-2900, -1900)),
    ("南汇新城镇社区卫生服务中心", "hospital", (2100, -2000)),
    ("芦潮港社区卫生服务站", "hospital", (-7100, -5500)), ("申港社区卫生服务站", "hospital", (-5300, 2900)),
    ("滴水湖公园", "park", (0, -1600)), ("临港中央公园", "park", (-2400, 500)),
    ("芦潮港海滨公园", "park", (-6500, -6100)), ("申港公园", "park", (-4400, 3300)),
    ("港城公园", "park", (3000, -1400)), ("云鹃公园", "park", (2200, 2600)),
    ("临港森林公园", "park", (-3500, -3500)), ("临港海洋公园", "park", (2600, -3400)),
    ("中国航海博物馆", "museum", (1400, -1700)), ("临港天文馆", "museum", (-2000, 1400)),
    ("南汇新城镇人民政府", "government", (-2100, -700)), ("临港新片区管委会", "government", (-1800, 700)),
    ("临港新片区政务服务中心", "government", (-1600, 1900)),
    ("芦潮港社区事务受理服务中心", "government", (-6900, -5100)),
    ("申港社区事务受理服务中心", "government", (-5300, 3600)),
    ("临港综合社区党群服务中心", "government", (2400, -600)),
    ("芦潮港渔港", "port", (-7600, -6400)), ("芦潮港客运码头", "port", (-8200, -6500)),
    ("临港港城广场", "market", (2500, -1000)), ("滴水湖综合菜市场", "market", (-2200, -2300)),
    ("申港农贸市场", "market", (-5900, 2700)), ("芦潮港农贸市场", "market", (-7300, -5100)),
    ("东岸购物中心", "market", (3600, -300)), ("海港便民超市", "market", (1500, 3800)),
    ("南汇新城派出所", "police", (-2600, -200)), ("芦潮港派出所", "police", (-6700, -5600)),
    ("申港派出所", "police", (-4800, 3400)), ("滴水湖派出所", "police", (2000, 1800)),
    ("临港消防救援站", "fire", (-3200, 2200)), ("芦潮港消防救援站", "fire", (-7900, -5200)),
    ("临港公交枢纽站", "transit", (-2200, 200)), ("芦潮港公交站", "transit", (-7200, -6000)),
    ("临港图书馆", "culture", (-1900, -1700)), ("临港文化艺术中心", "culture", (2300, -300)),
    ("临港体育公园", "sport", (-3100, -2700)), ("南汇新城邮政支局", "post", (-2400, -1100)),
]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def lake_centre() -> tuple[float, float]:
    """Lake centre in EPSG:4550, snapped so that mesh streets lie 250 m off its axes."""
    x, y = TO_METRIC.transform(*LAKE_LONLAT)
    return (math.floor(x / MESH_M) * MESH_M + MESH_M / 2, math.floor(y / MESH_M) * MESH_M + MESH_M / 2)


def lake_polygon(centre: tuple[float, float]) -> Polygon:
    """Dishui Lake as a 256-gon."""
    return Point(centre).buffer(LAKE_RADIUS_M, quad_segs=64)


class Local:
    """Converts metres east/north of the lake centre into EPSG:4550 coordinates."""

    def __init__(self, centre: tuple[float, float]):
        self.cx, self.cy = centre

    def pt(self, dx: float, dy: float) -> tuple[float, float]:
        """One point."""
        return (self.cx + dx, self.cy + dy)

    def pts(self, items: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
        """Several points."""
        return [self.pt(dx, dy) for dx, dy in items]

    def polar(self, r: float, deg: float) -> tuple[float, float]:
        """A point at radius r and angle deg (from east, counter-clockwise)."""
        a = math.radians(deg)
        return self.pt(r * math.cos(a), r * math.sin(a))


ZH_DIGITS = "零一二三四五六七八九"


def zh_number(n: int) -> str:
    """1..99 in Chinese numerals: 一, 九, 十, 十一, 二十, 二十一."""
    tens, ones = divmod(n, 10)
    head = "" if tens == 0 else "十" if tens == 1 else f"{ZH_DIGITS[tens]}十"
    return head + (ZH_DIGITS[ones] if ones else "")


def town_spacing() -> tuple[float, float]:
    """Distance between neighbouring lake centres: outline extent, its wiggle and the gap, in whole meshes."""
    xy = np.array(COAST + LAND)
    span = xy.max(axis=0) - xy.min(axis=0) + 2 * WIGGLE_MAX_M + TOWN_GAP_M
    return (math.ceil(span[0] / MESH_M) * MESH_M, math.ceil(span[1] / MESH_M) * MESH_M)


@dataclass(frozen=True)
class TownSpec:
    """Town k of a district: seed, position, codes and names. district=False is the single-town layout."""

    index: int = 0
    district: bool = False

    @property
    def code(self) -> str:
        """Town 0 is 南汇新城镇; the others get invented codes."""
        return TOWN_CODE if self.index == 0 else f"3101159{self.index:02d}"

    @property
    def name(self) -> str:
        """示例一镇, 示例二镇 ... (town 0: 南汇新城镇)."""
        return TOWN_NAME[0] if self.index == 0 else f"示例{zh_number(self.index)}镇"

    @property
    def name_en(self) -> str:
        """Example Town 1, Example Town 2 ... (town 0: Nanhui New City Town)."""
        return TOWN_NAME[1] if self.index == 0 else f"Example Town {self.index}"

    @property
    def seed(self) -> int:
        """Random seed of the town's construction."""
        return SEED + self.index

    def centre(self) -> tuple[float, float]:
        """Lake centre: town 0's, moved west along a row of DISTRICT_COLUMNS towns and north by rows."""
        cx, cy = lake_centre()
        sx, sy = town_spacing()
        row, col = divmod(self.index, DISTRICT_COLUMNS)
        return (cx - col * sx, cy + row * sy)

    def unit(self, code: str) -> str:
        """Community or workstation code as written: 3 digits alone, in a district prefixed by the town code."""
        return f"{self.code}{code}" if self.district else code

    def station(self, code: str) -> str:
        """Station code as written: "TC", "JS-001" ..., in a district prefixed by the town code and a dash."""
        return f"{self.code}-{code}" if self.district else code

    def label(self, name: str, name_en: str | None = None) -> tuple[str, str | None]:
        """A name (and English name) made unique in the district: prefixed by the town's name for k >= 1."""
        if self.index == 0:
            return name, name_en
        return f"{self.name}{name}", None if name_en is None else f"{self.name_en} {name_en}"

    def address(self, text: str) -> str:
        """An address string as written: in a district prefixed by the town's name."""
        return f"{self.name}{text}" if self.district else text

    def tag(self, props: dict) -> dict:
        """Properties with the town_code added in a district."""
        return dict(props, town_code=self.code) if self.district else props


def to_lonlat_rounded(geom: BaseGeometry) -> BaseGeometry:
    """EPSG:4550 -> EPSG:4326, coordinates rounded to 7 decimals, repeated points dropped."""

    def apply(xy: np.ndarray) -> np.ndarray:
        lon, lat = TO_LONLAT.transform(xy[:, 0], xy[:, 1])
        return np.round(np.column_stack([lon, lat]), 7)

    out = shapely.transform(geom, apply)
    return shapely.remove_repeated_points(out) if out.geom_type != "Point" else out


def to_metric(geom: BaseGeometry) -> BaseGeometry:
    """EPSG:4326 -> EPSG:4550."""

    def apply(xy: np.ndarray) -> np.ndarray:
        x, y = TO_METRIC.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, apply)


def largest_polygon(geom: BaseGeometry) -> Polygon:
    """The largest Polygon part of any geometry."""
    polys = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon"]
    return max(polys, key=lambda g: g.area)


def line_parts(geom: BaseGeometry) -> list[LineString]:
    """LineString parts of any geometry (points and empties dropped)."""
    out: list[LineString] = []
    for g in shapely.get_parts(geom):
        if g.geom_type == "LineString" and not g.is_empty:
            out.append(g)
        elif g.geom_type in ("MultiLineString", "GeometryCollection"):
            out.extend(line_parts(g))
    return out


def first_piece(geom: BaseGeometry, start: tuple[float, float]) -> LineString | None:
    """The LineString part of geom nearest to start."""
    parts = line_parts(geom)
    if not parts:
        return None
    p = Point(start)
    return min(parts, key=lambda g: g.distance(p))


def shared_lengths(geoms: np.ndarray, mask: np.ndarray | None = None) -> dict[int, dict[int, float]]:
    """Pairs of polygons sharing an edge -> shared length (only pairs touching a masked polygon)."""
    tree = STRtree(geoms)
    query = np.arange(len(geoms)) if mask is None else np.flatnonzero(mask)
    if len(query) == 0:
        return {}
    a, b = tree.query(geoms[query], predicate="intersects")
    a = query[a]
    keep = a != b
    a, b = a[keep], b[keep]
    lengths = shapely.length(shapely.intersection(shapely.boundary(geoms[a]), shapely.boundary(geoms[b])))
    adj: dict[int, dict[int, float]] = defaultdict(dict)
    for i, j, length in zip(a.tolist(), b.tolist(), lengths.tolist(), strict=True):
        if length > 1e-6:
            adj[i][j] = length
            adj[j][i] = length
    return adj


class UnionFind:
    """Plain union-find over hashable keys."""

    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, k: Any) -> Any:
        """Root of k."""
        self.parent.setdefault(k, k)
        root = k
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[k] != root:
            self.parent[k], k = root, self.parent[k]
        return root

    def union(self, a: Any, b: Any) -> None:
        """Join the sets of a and b."""
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


# --------------------------------------------------------------------------------------------
# Town, lake, built-up area
# --------------------------------------------------------------------------------------------


def smooth_noise(rng: np.random.Generator, n: int, sigma: float, std: float) -> np.ndarray:
    """n values of Gaussian-smoothed white noise with the given standard deviation."""
    half = int(3 * sigma) + 1
    raw = rng.normal(0.0, 1.0, n + 2 * half)
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    out = np.convolve(raw, kernel / kernel.sum(), mode="valid")[:n]
    return out / (out.std() or 1.0) * std


def wiggle(points: list[tuple[float, float]], step: float, sines: list[tuple[float, float, float]],
           noise_std: float, rng: np.random.Generator) -> np.ndarray:
    """Densify a polyline and push its vertices sideways by sines plus smooth noise (ends fixed)."""
    xy = shapely.get_coordinates(shapely.segmentize(LineString(points), step))
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    tangent = np.gradient(xy, axis=0)
    tangent /= np.hypot(tangent[:, 0], tangent[:, 1])[:, None]
    normal = np.column_stack([tangent[:, 1], -tangent[:, 0]])
    d = sum(a * np.sin(2 * np.pi * s / wl + ph) for a, wl, ph in sines)
    d = d + smooth_noise(rng, len(s), 4.0, noise_std)
    taper = np.clip(np.minimum(s, s[-1] - s) / 500.0, 0.0, 1.0)
    return xy + normal * (d * taper)[:, None]


def town_outline(loc: Local, rng: np.random.Generator) -> Polygon:
    """The town polygon: an irregular coast on the east and south, a gentler land boundary."""
    coast = wiggle(loc.pts(COAST), 80.0, [(90, 1900, 0.7), (45, 900, 2.1), (15, 300, 4.0)], 40.0, rng)
    land = wiggle(loc.pts(LAND), 150.0, [(35, 1300, 1.3), (15, 500, 0.2)], 15.0, rng)
    ring = np.vstack([coast, land[1:]])
    poly = Polygon(ring)
    if not poly.is_valid:
        poly = largest_polygon(shapely.make_valid(poly))
    return shapely.orient_polygons(poly)


def ellipse(centre: tuple[float, float], a: float, b: float, deg: float) -> Polygon:
    """An ellipse with semi-axes a, b rotated by deg."""
    circle = Point(0, 0).buffer(1.0, quad_segs=32)
    shape = shapely.affinity.scale(circle, a, b, origin=(0, 0))
    shape = shapely.affinity.rotate(shape, deg, origin=(0, 0))
    return shapely.affinity.translate(shape, *centre)


def built_up_area(loc: Local, town: Polygon) -> Polygon:
    """The built-up area: the ring city round the lake, 申港 in the north-west and 芦潮港 by the coast."""
    parts = [
        Point(loc.pt(0, 0)).buffer(4450, quad_segs=32),
        ellipse(loc.pt(-5700, 3000), 2100, 1350, 10),
        ellipse(loc.pt(-7200, -5500), 1700, 1100, -15),
        LineString(loc.pts([(-3500, 2000), (-5700, 3000)])).buffer(600),
        LineString(loc.pts([(-3000, -2600), (-6600, -5000)])).buffer(550),
    ]
    region = shapely.union_all(parts).buffer(300, quad_segs=8).buffer(-300, quad_segs=8)
    region = shapely.simplify(region, 2.0)
    return largest_polygon(region.intersection(town))


# --------------------------------------------------------------------------------------------
# Communities and workstations
# --------------------------------------------------------------------------------------------


def bend(xy: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
    """A smooth displacement field with Lipschitz constant below 1 (so it is a homeomorphism)."""
    x = xy[:, 0] - centre[0]
    y = xy[:, 1] - centre[1]
    dx = 170 * np.sin(x / 650 + 0.3) * np.cos(y / 830 + 1.1) + 50 * np.sin((x + y) / 260 + 2.0)
    dy = 170 * np.cos(x / 720 + 2.2) * np.sin(y / 610 + 0.4) + 50 * np.cos((x - y) / 240 + 0.9)
    return np.column_stack([xy[:, 0] + dx, xy[:, 1] + dy])


def territories(loc: Local, town: Polygon) -> list[Polygon]:
    """13 workstation territories tiling the town, built from a bent Voronoi diagram."""
    seeds = MultiPoint(loc.pts(w[5] for w in WORKSTATIONS))
    frame = town.envelope.buffer(6000)
    warp = lambda xy: bend(xy, (loc.cx, loc.cy))  # noqa: E731
    edges = shapely.voronoi_polygons(seeds, extend_to=frame, only_edges=True)
    edges = shapely.transform(shapely.segmentize(edges, 80.0), warp)
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=frame, ordered=True))
    cells = shapely.transform(shapely.segmentize(cells, 80.0), warp)
    noded = shapely.union_all([edges, town.exterior])
    faces = np.array([f for f in shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))])
    faces = faces[shapely.contains(town, shapely.point_on_surface(faces))]
    owner = np.array([_owner(f, cells) for f in faces])
    owner = _make_contiguous(faces, owner)
    out = []
    for k in range(len(WORKSTATIONS)):
        out.append(shapely.orient_polygons(shapely.coverage_union_all(faces[owner == k])))
    return out


def _owner(face: Polygon, cells: np.ndarray) -> int:
    """Index of the bent Voronoi cell that holds the face's interior point."""
    p = face.point_on_surface()
    hits = np.flatnonzero(shapely.contains(cells, p))
    return int(hits[0]) if len(hits) else int(np.argmin(shapely.distance(cells, p)))


def _make_contiguous(faces: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Give detached fragments of a territory to the neighbour they share most edge with."""
    adj = shared_lengths(faces)
    for _ in range(10):
        changed = False
        for k in range(len(WORKSTATIONS)):
            idx = np.flatnonzero(owner == k)
            merged = shapely.coverage_union_all(faces[idx])
            if merged.geom_type == "Polygon":
                continue
            main = max(shapely.get_parts(merged), key=lambda g: g.area)
            for i in idx:
                if not main.contains(faces[i].point_on_surface()):
                    others = {owner[j]: 0.0 for j in adj.get(i, {}) if owner[j] != k}
                    for j, length in adj.get(i, {}).items():
                        if owner[j] != k:
                            others[owner[j]] += length
                    if others:
                        owner[i] = max(sorted(others), key=lambda o: others[o])
                        changed = True
        if not changed:
            break
    return owner


# --------------------------------------------------------------------------------------------
# Roads
# --------------------------------------------------------------------------------------------


@dataclass
class RoadSource:
    """One named road before noding: its reference line (for house numbers) and its clipped geometry."""

    name: str
    name_en: str
    kind: str
    speed: int
    ref: LineString
    geom: BaseGeometry
    oneway: bool = False


@dataclass
class Segment:
    """One road segment between intersections."""

    src: int
    line: LineString
    s: float = 0.0


def ring_line(loc: Local, r: float) -> LineString:
    """A closed ring road starting at north and running clockwise."""
    t = np.linspace(0, 2 * np.pi, 361)[:-1]
    xy = np.column_stack([loc.cx + r * np.sin(t), loc.cy + r * np.cos(t)])
    return LineString(np.vstack([xy, xy[:1]]))


def major_roads(loc: Local, land: BaseGeometry, built: Polygon) -> list[RoadSource]:
    """Rings, radials and arterials clipped to the town without the lake."""
    roads: list[RoadSource] = []
    for name, en, r, speed in RINGS:
        line = ring_line(loc, r)
        roads.append(RoadSource(name, en, "ring", speed, line, line.intersection(land)))
    arterials = []
    for name, en, pts, speed in ARTERIALS:
        line = LineString(loc.pts(pts))
        arterials.append(RoadSource(name, en, "arterial", speed, line, line.intersection(land)))
    stops = shapely.union_all([a.geom for a in arterials if a.name in STOP_ROADS])
    for deg, name, en, speed, to_edge in RADIALS:
        pts = [loc.polar(1450, deg), loc.polar(6500, deg)] + loc.pts(RADIAL_BENDS.get(name, []))
        if name not in RADIAL_BENDS:
            pts.append(loc.polar(14000, deg))
        ref = LineString(pts)
        geom = first_piece(ref.intersection(land), pts[0])
        cut = geom.intersection(stops)
        if not to_edge and not cut.is_empty:
            d = min(geom.project(p) for p in shapely.get_parts(cut) if geom.project(p) > 2000)
            geom = shapely.ops.substring(geom, 0.0, d + 40.0)
        elif not to_edge:
            geom = first_piece(geom.intersection(built), pts[0])
        roads.append(RoadSource(name, en, "radial", speed, ref, geom))
    return roads + arterials


def local_streets(loc: Local, built: Polygon, majors: list[RoadSource],
                  rng: np.random.Generator) -> list[RoadSource]:
    """A 500 m mesh of named streets over the built-up area (not inside the first ring)."""
    area = built.difference(Point(loc.pt(0, 0)).buffer(1460, quad_segs=32))
    minx, miny, maxx, maxy = area.bounds
    taken = {(round(c[0], 3), "ns") for m in majors if m.kind == "arterial"
             for c in m.ref.coords} | {(round(c[1], 3), "ew") for m in majors if m.kind == "arterial"
                                      for c in m.ref.coords}
    words = list(STREET_WORDS)
    out: list[RoadSource] = []
    lines: list[tuple[str, float, LineString]] = []
    x = math.floor(minx / MESH_M) * MESH_M
    while x <= maxx:
        if (round(x, 3), "ns") not in taken:
            lines.append(("ns", x, LineString([(x, maxy + 10), (x, miny - 10)])))
        x += MESH_M
    y = math.ceil(maxy / MESH_M) * MESH_M
    while y >= miny:
        if (round(y, 3), "ew") not in taken:
            lines.append(("ew", y, LineString([(minx - 10, y), (maxx + 10, y)])))
        y -= MESH_M
    word_i = 0
    for axis, _, line in lines:
        pieces = [p for p in line_parts(line.intersection(area)) if p.length >= 200.0]
        if not pieces:
            continue
        zh, en = words[word_i % len(words)]
        word_i += 1
        pieces.sort(key=lambda p: line.project(Point(p.coords[0])))
        for k, piece in enumerate(pieces):
            if len(pieces) == 1:
                name, name_en = f"{zh}路", f"{en} Road"
            else:
                suffixes = PIECE_SUFFIX[axis]
                sz, se = suffixes[0 if k == 0 else 2] if len(pieces) == 2 else suffixes[k]
                name, name_en = f"{zh}{sz}路", f"{en} {se} Road"
            out.append(RoadSource(name, name_en, "local", 30, piece, piece))
    if word_i > len(words):
        raise RuntimeError(f"need {word_i} street names, have {len(words)}")
    for i in sorted(rng.choice(len(out), size=ONEWAY_STREETS, replace=False).tolist()):
        out[i].oneway = True
    return out


def node_network(sources: list[RoadSource]) -> list[Segment]:
    """Node all roads, trim short dangles, keep the largest component, re-merge between crossings."""
    geoms = [g for s in sources for g in line_parts(s.geom)]
    noded = np.array(line_parts(shapely.union_all(geoms)))
    src_geoms = np.array([shapely.union_all(line_parts(s.geom)) for s in sources])
    tree = STRtree(src_geoms)
    mids = shapely.line_interpolate_point(noded, 0.5, normalized=True)
    q, t = tree.query(mids, predicate="dwithin", distance=1e-6)
    owner = np.full(len(noded), -1)
    for i, j in zip(q.tolist(), t.tolist(), strict=True):
        if owner[i] < 0 or j < owner[i]:
            owner[i] = j
    segs = [Segment(int(o), g) for o, g in zip(owner, noded, strict=True) if o >= 0]
    for _ in range(3):
        deg = Counter(k for s in segs for k in _ends(s.line))
        segs = [s for s in segs if not (min(deg[k] for k in _ends(s.line)) == 1 and s.line.length < DANGLE_M)]
    segs = _largest_component(segs)
    return _merge_chains(segs)


def _ends(line: LineString) -> tuple[tuple[float, float], tuple[float, float]]:
    """Endpoint keys of a line."""
    c = line.coords
    return (round(c[0][0], 4), round(c[0][1], 4)), (round(c[-1][0], 4), round(c[-1][1], 4))


def _largest_component(segs: list[Segment]) -> list[Segment]:
    """Segments of the largest connected component."""
    uf = UnionFind()
    for s in segs:
        a, b = _ends(s.line)
        uf.union(a, b)
    size: Counter = Counter()
    for s in segs:
        size[uf.find(_ends(s.line)[0])] += s.line.length
    best = max(sorted(size), key=lambda k: size[k])
    return [s for s in segs if uf.find(_ends(s.line)[0]) == best]


def _merge_chains(segs: list[Segment]) -> list[Segment]:
    """Join pieces of one road that meet at a node no other road touches."""
    at: dict[tuple[float, float], list[int]] = defaultdict(list)
    for i, s in enumerate(segs):
        for k in _ends(s.line):
            at[k].append(i)
    uf = UnionFind()
    for i in range(len(segs)):
        uf.find(i)
    for ids in at.values():
        if len(ids) == 2 and ids[0] != ids[1] and segs[ids[0]].src == segs[ids[1]].src:
            uf.union(ids[0], ids[1])
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(segs)):
        groups[uf.find(i)].append(i)
    out = []
    for ids in groups.values():
        merged = shapely.line_merge(MultiLineString([segs[i].line for i in ids]))
        for part in line_parts(merged):
            out.append(Segment(segs[ids[0]].src, part))
    return out


def orient_segments(segs: list[Segment], sources: list[RoadSource]) -> list[Segment]:
    """Point every segment the way its road runs and sort by road then position along it."""
    for s in segs:
        ref = sources[s.src].ref
        a = ref.project(s.line.interpolate(0.4, normalized=True))
        b = ref.project(s.line.interpolate(0.6, normalized=True))
        if b < a:
            s.line = s.line.reverse()
        s.s = ref.project(s.line.interpolate(0.5, normalized=True))
    return sorted(segs, key=lambda s: (s.src, round(s.s, 3)))


def build_roads(loc: Local, town: Polygon, lake: Polygon, built: Polygon,
                rng: np.random.Generator) -> tuple[list[RoadSource], list[Segment]]:
    """All named roads and their segments."""
    land = town.difference(lake)
    majors = major_roads(loc, land, built)
    locals_ = local_streets(loc, built.intersection(land), majors, rng)
    sources = majors + locals_
    return sources, orient_segments(node_network(sources), sources)


# --------------------------------------------------------------------------------------------
# Grid cells
# --------------------------------------------------------------------------------------------


def grid_cells(region: Polygon, ws_polys: list[Polygon], segs: list[Segment]) -> list[tuple[int, Polygon]]:
    """Unit grid cells: a 100 m lattice cut by workstation boundaries and roads, small pieces merged."""
    minx, miny, maxx, maxy = region.bounds
    xs = np.arange(math.floor(minx / LATTICE_M), math.ceil(maxx / LATTICE_M) + 1) * LATTICE_M
    ys = np.arange(math.floor(miny / LATTICE_M), math.ceil(maxy / LATTICE_M) + 1) * LATTICE_M
    lattice = [LineString([(x, miny - 1), (x, maxy + 1)]) for x in xs]
    lattice += [LineString([(minx - 1, y), (maxx + 1, y)]) for y in ys]
    reach = region.buffer(50.0)  # lines cross the region's edge, so the edge is noded with them
    clip = shapely.intersection(np.array(lattice + [s.line for s in segs]), reach)
    bounds = shapely.intersection(np.array([w.boundary for w in ws_polys]), reach)
    lines = [g for g in list(clip) + list(bounds) + [region.boundary] if not g.is_empty]
    noded = shapely.union_all(lines)
    faces = np.array(list(shapely.get_parts(shapely.polygonize(line_parts(noded)))))
    faces = faces[shapely.contains(region, shapely.point_on_surface(faces)) & (shapely.area(faces) > 1e-3)]
    inside = shapely.point_on_surface(faces)
    ws_tree = STRtree(np.array(ws_polys))
    fi, wi = ws_tree.query(inside, predicate="within")
    owner = np.full(len(faces), -1)
    owner[fi] = wi
    if (owner < 0).any():
        raise RuntimeError("a grid face lies in no workstation")
    return _merge_small(faces, owner)


def _merge_small(faces: np.ndarray, owner: np.ndarray) -> list[tuple[int, Polygon]]:
    """Merge faces under MIN_CELL_M2 into their largest edge neighbour in the same workstation."""
    area = shapely.area(faces)
    adj = shared_lengths(faces, area < MIN_CELL_M2)
    uf = UnionFind()
    total = {i: float(a) for i, a in enumerate(area)}
    for i in np.argsort(area, kind="stable").tolist():
        if area[i] >= MIN_CELL_M2:
            break
        root = uf.find(i)
        if total[root] >= MIN_CELL_M2:
            continue
        cands = [j for j in adj.get(i, {}) if owner[j] == owner[i] and uf.find(j) != root]
        if not cands:
            continue
        j = max(sorted(cands), key=lambda c: (area[c], adj[i][c]))
        best = uf.find(j)
        uf.union(best, root)
        total[best] += total[root]
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(faces)):
        groups[uf.find(i)].append(i)
    cells = []
    for ids in groups.values():
        geom = faces[ids[0]] if len(ids) == 1 else shapely.coverage_union_all(faces[ids])
        if geom.geom_type != "Polygon":
            raise RuntimeError(f"merged cell is {geom.geom_type}")
        cells.append((int(owner[ids[0]]), shapely.orient_polygons(geom)))
    return cells


def cell_order_key(cell: Polygon) -> tuple[int, float]:
    """Sequence key: lattice row from north to south, then centroid x from west to east."""
    c = cell.centroid
    return (-math.floor(c.y / LATTICE_M), round(c.x, 3))


# --------------------------------------------------------------------------------------------
# Addresses
# --------------------------------------------------------------------------------------------


@dataclass
class Site:
    """A possible street-number site beside a road."""

    road: str
    src: int
    s: float
    side: int  # +1 left, -1 right
    x: float
    y: float
    nx: float  # unit normal pointing away from the road on this side
    ny: float
    tx: float  # unit tangent along the road
    ty: float
    number: int = 0
    used: str = ""


def house_sites(segs: list[Segment], sources: list[RoadSource], land: BaseGeometry,
                rng: np.random.Generator) -> list[Site]:
    """Numbered sites on both sides of every road: odd left, even right, rising along the road."""
    seg_tree = STRtree(np.array([s.line for s in segs]))
    shapely.prepare(land)
    raw: list[Site] = []
    for s in segs:
        line, length = s.line, s.line.length
        t = 25.0
        while t <= length - 25.0:
            p0, p1 = line.interpolate(max(t - 1, 0)), line.interpolate(min(t + 1, length))
            p = line.interpolate(t)
            dx, dy = p1.x - p0.x, p1.y - p0.y
            n = math.hypot(dx, dy) or 1.0
            dx, dy = dx / n, dy / n
            along = sources[s.src].ref.project(p)
            for side in (1, -1):
                nx, ny = -dy * side, dx * side
                raw.append(Site(sources[s.src].name, s.src, along, side, p.x + nx * HOUSE_OFFSET_M,
                                p.y + ny * HOUSE_OFFSET_M, nx, ny, dx, dy))
            t += float(rng.uniform(40.0, 80.0))
    pts = shapely.points([(r.x, r.y) for r in raw])
    ok = shapely.contains(land, pts)
    near = np.zeros(len(raw), dtype=bool)
    qi, _ = seg_tree.query(pts, predicate="dwithin", distance=10.0)
    near[qi] = True
    sites = [r for r, good, bad in zip(raw, ok, near, strict=True) if good and not bad]
    by_road: dict[str, list[Site]] = defaultdict(list)
    for r in sites:
        by_road[r.road].append(r)
    for road_sites in by_road.values():
        for side, first in ((1, 1), (-1, 2)):
            ordered = sorted((r for r in road_sites if r.side == side), key=lambda r: r.s)
            for k, r in enumerate(ordered):
                r.number = first + 2 * k
    return sites


@dataclass
class Address:
    """One address point."""

    kind: str
    address: str
    x: float
    y: float
    road: str | None = None
    number: int | None = None
    compound: str | None = None
    building: int | None = None
    name: str | None = None
    place_type: str | None = None


def compounds(sites: list[Site], sources: list[RoadSource], built: Polygon, land: BaseGeometry,
              seg_tree: STRtree, rng: np.random.Generator) -> list[Address]:
    """Residential compounds: a 弄 entrance on a road and a block of numbered buildings behind it."""
    shapely.prepare(built)
    cands = [i for i, s in enumerate(sites)
             if sources[s.src].kind in ("local", "radial") and built.contains(Point(s.x, s.y))]
    order = rng.permutation(len(cands))
    chosen: list[Site] = []
    out: list[Address] = []
    names = iter(COMPOUNDS)
    for k in order.tolist():
        if len(chosen) >= N_COMPOUNDS:
            break
        site = sites[cands[k]]
        if any(math.hypot(site.x - c.x, site.y - c.y) < 450.0 for c in chosen):
            continue
        rows, cols = int(rng.integers(2, 6)), int(rng.integers(2, 5))
        pts = []
        for i in range(rows):
            for j in range(cols):
                off_n = 35.0 + 32.0 * i
                off_t = 32.0 * (j - (cols - 1) / 2)
                pts.append((site.x + site.nx * off_n + site.tx * off_t, site.y + site.ny * off_n + site.ty * off_t))
        geoms = shapely.points(pts)
        good = shapely.contains(land, geoms)
        qi, _ = seg_tree.query(geoms, predicate="dwithin", distance=15.0)
        good[qi] = False
        keep = [p for p, g in zip(pts, good, strict=True) if g]
        if len(keep) < 3:
            continue
        name = next(names)
        site.used = name
        chosen.append(site)
        for b, (x, y) in enumerate(keep, start=1):
            out.append(Address("building", f"{site.road}{site.number}弄{b}号", x, y, site.road, site.number,
                               name, b, name))
    return out


def places(loc: Local, sites: list[Site], land: BaseGeometry, seg_tree: STRtree) -> list[Address]:
    """Named places, each at the nearest free street-number site, set back from the road."""
    free = [s for s in sites if not s.used]
    tree = STRtree(shapely.points([(s.x, s.y) for s in free]))
    out = []
    for name, ptype, (dx, dy) in PLACES:
        x, y = loc.pt(dx, dy)
        if ptype == "water":
            out.append(Address("place", name, x, y, name=name, place_type=ptype))
            continue
        for k in tree.query_nearest(Point(x, y), all_matches=True).tolist() + list(range(len(free))):
            if not free[k].used:
                break
        site = free[k]
        site.used = name
        px, py = site.x + site.nx * 30.0, site.y + site.ny * 30.0
        p = Point(px, py)
        if not land.contains(p) or len(seg_tree.query(p, predicate="dwithin", distance=10.0)):
            px, py = site.x, site.y
        out.append(Address("place", f"{site.road}{site.number}号", px, py, site.road, site.number,
                           name=name, place_type=ptype))
    return out


def addresses(loc: Local, segs: list[Segment], sources: list[RoadSource], land: BaseGeometry,
              built: Polygon, rng: np.random.Generator) -> list[Address]:
    """House numbers, compound buildings and named places."""
    sites = house_sites(segs, sources, land, rng)
    seg_tree = STRtree(np.array([s.line for s in segs]))
    blds = compounds(sites, sources, built, land, seg_tree, rng)
    plcs = places(loc, sites, land, seg_tree)
    rank = {s.name: i for i, s in enumerate(sources)}
    houses = [Address("house", f"{s.road}{s.number}号", s.x, s.y, s.road, s.number)
              for s in sorted(sites, key=lambda s: (rank[s.road], s.number)) if not s.used]
    return houses + blds + plcs


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------


def geojson_geometry(geom: BaseGeometry) -> dict:
    """GeoJSON geometry of a lon/lat geometry (coordinates already rounded)."""
    if geom.geom_type == "Point":
        return {"type": "Point", "coordinates": [geom.x, geom.y]}
    if geom.geom_type == "LineString":
        return {"type": "LineString", "coordinates": [list(c) for c in geom.coords]}
    if geom.geom_type == "Polygon":
        rings = [geom.exterior, *geom.interiors]
        return {"type": "Polygon", "coordinates": [[list(c) for c in r.coords] for r in rings]}
    raise ValueError(f"unexpected geometry {geom.geom_type}")


@dataclass
class Model:
    """Everything generated for one town, in EPSG:4550."""

    spec: TownSpec
    town: Polygon
    lake: Polygon
    built: Polygon
    ws: list[Polygon]
    communities: list[Polygon]
    sources: list[RoadSource]
    segs: list[Segment]
    cells: list[tuple[int, Polygon]]
    stations: list[tuple[Point, dict]] = field(default_factory=list)
    addresses: list[Address] = field(default_factory=list)


def build_stations(loc: Local, ws: list[Polygon], comms: list[Polygon], lake: Polygon,
                   spec: TownSpec) -> list[tuple[Point, dict]]:
    """Town center, three joint-duty stations and 13 workstation stations."""

    def inside(xy: tuple[float, float], area: Polygon) -> Point:
        p = Point(loc.pt(*xy))
        ok = area.difference(lake).buffer(-30)
        return p if ok.contains(p) else ok.point_on_surface()

    comm_of = {c[0]: i for i, c in enumerate(COMMUNITIES)}
    out = [(inside(TOWN_CENTER_AT, comms[comm_of["003"]]), {
        "code": spec.station("TC"), "name": f"{spec.name}城运分中心",
        "name_en": f"{spec.name_en} Urban Operation Sub-center", "tier": "town_center", "parent_code": None,
        "community_code": spec.unit("003"), "workstation_code": None})]
    for code, name, en in COMMUNITIES:
        name, en = spec.label(name, en)
        out.append((inside(JOINT_STATION_AT[code], comms[comm_of[code]]), {
            "code": spec.station(f"JS-{code}"), "name": f"{name}联勤联动站", "name_en": f"{en} Joint Duty Station",
            "tier": "joint_station", "parent_code": spec.station("TC"), "community_code": spec.unit(code),
            "workstation_code": None}))
    for k, (code, comm, name, en, _, seed) in enumerate(WORKSTATIONS):
        name, en = spec.label(name, en)
        out.append((inside(WS_STATION_AT.get(code, seed), ws[k]), {
            "code": spec.station(f"WS-{code}"), "name": name, "name_en": en, "tier": "workstation",
            "parent_code": spec.station(f"JS-{comm}"), "community_code": spec.unit(comm),
            "workstation_code": spec.unit(code)}))
    return [(p, spec.tag(props)) for p, props in out]


def build_model(spec: TownSpec = TownSpec()) -> Model:
    """Build every layer of one town in metres."""
    rng = np.random.default_rng(spec.seed)
    centre = spec.centre()
    loc = Local(centre)
    lake = lake_polygon(centre)
    town0 = town_outline(loc, rng)
    ws = territories(loc, town0)
    comms = [shapely.orient_polygons(shapely.coverage_union_all(
        [w for w, row in zip(ws, WORKSTATIONS, strict=True) if row[1] == code])) for code, _, _ in COMMUNITIES]
    town = shapely.orient_polygons(shapely.coverage_union_all(ws))
    built = built_up_area(loc, town)
    sources, segs = build_roads(loc, town, lake, built, rng)
    cells = grid_cells(built.difference(lake), ws, segs)
    model = Model(spec, town, lake, built, ws, comms, sources, segs, cells)
    model.stations = build_stations(loc, ws, comms, lake, spec)
    model.addresses = addresses(loc, segs, sources, town.difference(lake), built, rng)
    return model


class CollectionWriter:
    """Writes lon/lat features into a FeatureCollection file, one feature per line, as they come."""

    def __init__(self, path: Path):
        self.file = path.open("w", encoding="utf-8")
        self.file.write('{"type":"FeatureCollection","features":[\n')
        self.count = 0

    def add(self, geom: BaseGeometry, props: dict) -> None:
        """Append one feature (illustrative: true is added)."""
        feat = {"type": "Feature", "properties": dict(props, illustrative=True), "geometry": geojson_geometry(geom)}
        self.file.write((",\n" if self.count else "") + json.dumps(
            feat, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
        self.count += 1

    def close(self) -> None:
        """Finish the collection."""
        self.file.write("\n]}\n")
        self.file.close()


@dataclass
class Tally:
    """Summary numbers over every town written."""

    towns: int = 0
    town_m2: float = 0.0
    communities: int = 0
    workstations: int = 0
    cell_m2: list[float] = field(default_factory=list)
    road_segments: int = 0
    road_names: set[str] = field(default_factory=set)
    addresses: Counter = field(default_factory=Counter)
    stations: int = 0

    def summary(self) -> dict[str, Any]:
        """The numbers printed after generation (towns only for a district)."""
        areas = sorted(self.cell_m2)
        out: dict[str, Any] = {"towns": self.towns} if self.towns > 1 else {}
        return out | {
            "town_km2": round(self.town_m2 / 1e6, 2), "communities": self.communities,
            "workstations": self.workstations, "cells": len(areas),
            "cell_m2_min_median_max": (round(areas[0], 1), round(areas[len(areas) // 2], 1), round(areas[-1], 1)),
            "road_segments": self.road_segments, "road_names": len(self.road_names),
            "addresses": dict(self.addresses), "stations": self.stations,
        }


def write_all(out: Path, towns: int = 1) -> dict[str, Any]:
    """Build and write the towns one at a time (town 0 alone: the single-town layout); return summary numbers."""
    out.mkdir(parents=True, exist_ok=True)
    writers = {f.split(".")[0]: CollectionWriter(out / f) for f in FILES}
    tally = Tally()
    try:
        for k in range(towns):
            model = build_model(TownSpec(k, district=towns > 1))
            _write_areas(model, writers)
            _write_cells(model, writers["grid_cells"], tally)
            for p, props in model.stations:
                writers["stations"].add(to_lonlat_rounded(p), props)
            _write_roads(model, writers["roads"])
            _write_addresses(model, writers["addresses"])
            _tally_town(model, tally)
    finally:
        for w in writers.values():
            w.close()
    return tally.summary()


def _write_areas(model: Model, writers: dict[str, CollectionWriter]) -> None:
    """The town, its communities, their station coverage, its workstations and its lake."""
    ll, spec = to_lonlat_rounded, model.spec
    writers["town"].add(ll(model.town), {"code": spec.code, "name": spec.name, "name_en": spec.name_en})
    for g, (c, n, e) in zip(model.communities, COMMUNITIES, strict=True):
        n, e = spec.label(n, e)
        writers["communities"].add(ll(g), spec.tag({"code": spec.unit(c), "name": n, "name_en": e}))
    for g, (c, _, _) in zip(model.communities, COMMUNITIES, strict=True):
        writers["station_coverage"].add(ll(g), spec.tag({"station_code": spec.station(f"JS-{c}")}))
    for g, (c, m, n, e, k, _) in zip(model.ws, WORKSTATIONS, strict=True):
        n, e = spec.label(n, e)
        writers["workstations"].add(ll(g), spec.tag({
            "code": spec.unit(c), "community_code": spec.unit(m), "name": n, "name_en": e, "kind": k}))
    n, e = spec.label("滴水湖", "Dishui Lake")
    writers["water"].add(ll(model.lake), spec.tag({"kind": "lake", "name": n, "name_en": e}))


def _write_cells(model: Model, writer: CollectionWriter, tally: Tally) -> None:
    """Grid cells, numbered within each workstation."""
    spec = model.spec
    by_ws: dict[int, list[Polygon]] = defaultdict(list)
    for k, geom in model.cells:
        by_ws[k].append(geom)
    for k, (code, comm, *_rest) in enumerate(WORKSTATIONS):
        # order and measure the cells as written (lon/lat rounded, back in EPSG:4550), as a reader would
        written = [(ll, to_metric(ll)) for ll in map(to_lonlat_rounded, by_ws[k])]
        written.sort(key=lambda pair: cell_order_key(pair[1]))
        if len(written) >= 1000:
            raise RuntimeError(f"town {spec.code} workstation {code} has {len(written)} cells")
        for seq, (geom, metric) in enumerate(written, start=1):
            writer.add(geom, spec.tag({
                "code": f"{spec.code}{code}{seq:03d}", "workstation_code": spec.unit(code),
                "community_code": spec.unit(comm), "area_m2": round(float(metric.area), 1)}))
    tally.cell_m2.extend(float(g.area) for _, g in model.cells)


def _write_roads(model: Model, writer: CollectionWriter) -> None:
    """Road segments, numbered on from the towns before."""
    for s in model.segs:
        src = model.sources[s.src]
        writer.add(to_lonlat_rounded(s.line), model.spec.tag({
            "id": writer.count + 1, "name": src.name, "name_en": src.name_en, "kind": src.kind,
            "oneway": src.oneway, "speed_kph": src.speed, "length_m": round(float(s.line.length), 1)}))


def _write_addresses(model: Model, writer: CollectionWriter) -> None:
    """Addresses, numbered on from the towns before; in a district every address string names its town."""
    spec = model.spec
    for a in model.addresses:
        name = spec.label(a.name)[0] if a.kind == "place" else a.name
        writer.add(to_lonlat_rounded(Point(a.x, a.y)), spec.tag({
            "id": writer.count + 1, "kind": a.kind, "address": spec.address(a.address), "road": a.road,
            "number": a.number, "compound": a.compound, "building": a.building, "name": name,
            "place_type": a.place_type}))


def _tally_town(model: Model, tally: Tally) -> None:
    """Add one town's numbers to the summary."""
    tally.towns += 1
    tally.town_m2 += model.town.area
    tally.communities += len(model.communities)
    tally.workstations += len(model.ws)
    tally.road_segments += len(model.segs)
    tally.road_names.update(s.name for s in model.sources)
    tally.addresses.update(a.kind for a in model.addresses)
    tally.stations += len(model.stations)


# --------------------------------------------------------------------------------------------
# Check
# --------------------------------------------------------------------------------------------


class Checker:
    """Collects failed invariants and summary lines, each under the current prefix (a district's town)."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.prefix = ""

    def ok(self, cond: bool, what: str) -> bool:
        """Record a failure if cond is false."""
        if not cond:
            self.failures.append(self.prefix + what)
        return bool(cond)

    def note(self, text: str) -> None:
        """Record a summary line."""
        self.notes.append(self.prefix + text)


def read_collection(path: Path, ck: Checker) -> list[tuple[BaseGeometry, dict]]:
    """Read a FeatureCollection as (lon/lat geometry, properties), checking the common members."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    ck.ok(raw.get("type") == "FeatureCollection", f"{path.name}: not a FeatureCollection")
    ck.ok("crs" not in raw, f"{path.name}: has a crs member")
    out = []
    for f in raw["features"]:
        props = f.get("properties") or {}
        ck.ok(props.get("illustrative") is True, f"{path.name}: feature without illustrative=true")
        geom = shapely.geometry.shape(f["geometry"])
        out.append((geom, props))
    return out


def metric_layers(layers: dict[str, list[tuple[BaseGeometry, dict]]]) -> dict[str, list[tuple[BaseGeometry, dict]]]:
    """The layers in EPSG:4550, each converted in one call."""
    out = {}
    for name, feats in layers.items():
        geoms = np.empty(len(feats), dtype=object)
        geoms[:] = [g for g, _ in feats]
        out[name] = list(zip(to_metric(geoms).tolist() if len(feats) else [], [p for _, p in feats], strict=True))
    return out


def tiling_error(parts: list[BaseGeometry], whole: BaseGeometry) -> tuple[float, float]:
    """(sum of pairwise overlaps, area of gaps + spill) of parts against whole, m²."""
    arr = np.array(parts)
    a, b = STRtree(arr).query(arr, predicate="intersects")
    keep = a < b
    overlap = float(shapely.area(shapely.intersection(arr[a[keep]], arr[b[keep]])).sum())
    union = shapely.union_all(arr)
    return overlap, float(union.symmetric_difference(whole).area)


def check(folder: Path) -> int:
    """Re-read the files in folder and verify every invariant, per town and over the district; 0 if all hold."""
    ck = Checker()
    missing = [f for f in FILES if not (folder / f).exists()]
    if missing:
        print("missing files:", ", ".join(missing))
        return 1
    layers = {f.split(".")[0]: read_collection(folder / f, ck) for f in FILES}
    _check_valid(ck, layers)
    m = metric_layers(layers)
    del layers
    towns = _check_towns(ck, m)
    per_town = _split_by_town(ck, m, [spec for spec, _ in towns])
    for spec, town in towns:
        ck.prefix = f"[{spec.code}] " if spec.district else ""
        _check_one_town(ck, per_town[spec.code], spec, town)
    ck.prefix = ""
    _check_district(ck, m, towns)
    return _report(ck, folder, len(towns))


def _check_valid(ck: Checker, layers: dict) -> None:
    """Every feature a valid geometry of its layer's type."""

    def all_valid(name: str, gtype: str) -> None:
        bad = [p for g, p in layers[name] if g.geom_type != gtype or not g.is_valid]
        ck.ok(not bad, f"{name}: {len(bad)} features not valid {gtype}s")

    for name, gtype in (("town", "Polygon"), ("communities", "Polygon"), ("workstations", "Polygon"),
                        ("grid_cells", "Polygon"), ("station_coverage", "Polygon"), ("stations", "Point"),
                        ("roads", "LineString"), ("addresses", "Point"), ("water", "Polygon")):
        all_valid(name, gtype)


def _check_towns(ck: Checker, m: dict) -> list[tuple[TownSpec, BaseGeometry]]:
    """One town (南汇新城镇) or a district of towns 0..N-1, each of the right code and name."""
    n = len(m["town"])
    ck.ok(1 <= n <= MAX_TOWNS, f"town: {n} features, expected 1..{MAX_TOWNS}")
    specs = [TownSpec(k, district=n > 1) for k in range(min(n, MAX_TOWNS))]
    by_code = {p.get("code"): (g, p) for g, p in m["town"]}
    ck.ok(sorted(by_code) == sorted(s.code for s in specs), f"town: codes are not those of towns 0..{n - 1}")
    wrong = [s.code for s in specs if s.code in by_code
             and (by_code[s.code][1].get("name"), by_code[s.code][1].get("name_en")) != (s.name, s.name_en)]
    ck.ok(not wrong, f"town: wrong code/name {', '.join(wrong)}")
    return [(s, by_code.get(s.code, (Polygon(), {}))[0]) for s in specs]


def _split_by_town(ck: Checker, m: dict, specs: list[TownSpec]) -> dict[str, dict[str, list]]:
    """Every layer's features by town: by town_code in a district, all of them for a single town."""
    out: dict[str, dict[str, list]] = {s.code: defaultdict(list) for s in specs}
    district = len(specs) > 1
    for layer, feats in m.items():
        if layer == "town" or not specs:
            continue
        stray = 0
        for g, p in feats:
            code = p.get("town_code") if district else specs[0].code
            if code in out:
                out[code][layer].append((g, p))
            else:
                stray += 1
        ck.ok(stray == 0, f"{layer}: {stray} features without the town_code of a town")
    return out


def _check_one_town(ck: Checker, tm: dict, spec: TownSpec, town: BaseGeometry) -> None:
    """Every invariant of one town, on its own features."""
    centre = spec.centre()
    lake = Point(centre).buffer(LAKE_RADIUS_M - 0.5, quad_segs=64)
    _check_town(ck, town, lake)
    _check_water(ck, tm, spec, town, centre)
    comms, ws = _check_areas(ck, tm, town, spec)
    _check_grid(ck, tm, ws, centre, spec)
    _check_stations(ck, tm, comms, ws, lake, spec)
    _check_roads(ck, tm, town, lake)
    _check_addresses(ck, tm, town, lake, spec)


def _check_town(ck: Checker, town: BaseGeometry, lake: BaseGeometry) -> None:
    """The town's area, around its lake."""
    ck.ok(140e6 <= town.area <= 160e6, f"town: area {town.area / 1e6:.2f} km² not in 140-160")
    ck.ok(town.contains(lake), "town: does not contain the lake")
    ck.note(f"town area {town.area / 1e6:.3f} km²")


def _check_water(ck: Checker, tm: dict, spec: TownSpec, town: BaseGeometry, centre: tuple) -> None:
    """One lake, of the town's name, at the town's lake centre and inside the town."""
    water = tm["water"]
    name = spec.label("滴水湖")[0]
    lake, props = water[0] if len(water) == 1 else (Polygon(), {})
    ck.ok(props.get("name") == name and lake.contains(Point(centre)) and town.contains(lake)
          and abs(lake.area / (math.pi * LAKE_RADIUS_M**2) - 1) < 1e-3, f"water: not one lake {name} in the town")


def _check_areas(ck: Checker, m: dict, town: BaseGeometry, spec: TownSpec) -> tuple[dict, dict]:
    """Communities and workstations tile the town; coverage is the communities'."""
    comms = {p["code"]: g for g, p in m["communities"]}
    want = [spec.unit(c) for c, _, _ in COMMUNITIES]
    ck.ok(sorted(comms) == want, f"communities: codes are not {want[0]}-{want[-1]}")
    names = {spec.unit(c): spec.label(n, e) for c, n, e in COMMUNITIES}
    ck.ok(all((p.get("name"), p.get("name_en")) == names.get(p["code"]) for _, p in m["communities"]),
          "communities: wrong names")
    ov, gap = tiling_error(list(comms.values()), town)
    ck.ok(ov < 1.0 and gap < 1.0, f"communities: overlap {ov:.3f} m², gap/spill {gap:.3f} m²")
    ck.note(f"communities: 3 tile the town (overlap {ov:.4f} m², gap {gap:.4f} m²)")
    ws = _check_workstations(ck, m, town, comms, spec)
    cov = {p["station_code"]: g for g, p in m["station_coverage"]}
    want = [spec.station(f"JS-{c}") for c, _, _ in COMMUNITIES]
    ck.ok(sorted(cov) == want, f"coverage: station codes are not {want[0]}..{want[-1]}")
    for c, _, _ in COMMUNITIES:
        g = cov.get(spec.station(f"JS-{c}"), Polygon())
        ck.ok(g.symmetric_difference(comms.get(spec.unit(c), Polygon())).area < 1.0,
              f"coverage {spec.station(f'JS-{c}')}: not its community")
    return comms, ws


def _check_workstations(ck: Checker, m: dict, town: BaseGeometry, comms: dict, spec: TownSpec) -> dict:
    """Workstations tile the town, each inside its community."""
    ws = {p["code"]: (g, p) for g, p in m["workstations"]}
    want = [spec.unit(w[0]) for w in WORKSTATIONS]
    ck.ok(sorted(ws) == want, f"workstations: codes are not {want[0]}-{want[-1]}")
    names = {spec.unit(w[0]): spec.label(w[2], w[3]) for w in WORKSTATIONS}
    ck.ok(all((p.get("name"), p.get("name_en")) == names.get(p["code"]) for _, p in m["workstations"]),
          "workstations: wrong names")
    ov, gap = tiling_error([g for g, _ in ws.values()], town)
    ck.ok(ov < 1.0 and gap < 1.0, f"workstations: overlap {ov:.3f} m², gap/spill {gap:.3f} m²")
    ck.note(f"workstations: 13 tile the town (overlap {ov:.4f} m², gap {gap:.4f} m²)")
    for code, (g, p) in ws.items():
        ck.ok(p.get("kind") in ("residence", "village"), f"workstation {code}: bad kind")
        comm = comms.get(p.get("community_code"))
        ck.ok(comm is not None and g.difference(comm).area < 1.0, f"workstation {code}: not inside its community")
    return ws


def _check_grid(ck: Checker, m: dict, ws: dict, centre: tuple, spec: TownSpec) -> None:
    """Grid cells: codes, areas, no overlaps, inside their workstation, numbered in order."""
    cells = m["grid_cells"]
    n = len(cells)
    ck.ok(5000 <= n <= 12000, f"grid: {n} cells, expected 5000-12000")
    codes = [p["code"] for _, p in cells]
    ck.ok(len(set(codes)) == n, "grid: duplicate codes")
    pat = re.compile(rf"^{spec.code}\d{{6}}$")
    ck.ok(all(pat.match(c) for c in codes), "grid: malformed codes")
    ck.ok(all(spec.unit(p["code"][9:12]) == p["workstation_code"] for _, p in cells), "grid: code/workstation mismatch")
    ck.ok(all(ws.get(p["workstation_code"], (None, {}))[1].get("community_code") == p["community_code"]
              for _, p in cells), "grid: community_code mismatch")
    per_ws = Counter(p["workstation_code"] for _, p in cells)
    ck.ok(max(per_ws.values()) < 1000, "grid: a workstation has 1000+ cells")
    geoms = np.array([g for g, _ in cells])
    areas = shapely.area(geoms)
    ck.ok(all(abs(a - p["area_m2"]) < 0.06 for a, (_, p) in zip(areas, cells, strict=True)),
          "grid: area_m2 differs from geometry")
    a, b = STRtree(geoms).query(geoms, predicate="intersects")
    keep = a < b
    inter = shapely.area(shapely.intersection(geoms[a[keep]], geoms[b[keep]]))
    ck.ok(float(inter.max(initial=0.0)) < 0.01, f"grid: max pairwise overlap {inter.max(initial=0):.4f} m²")
    reach = {code: g.buffer(0.5) for code, (g, _) in ws.items()}
    inside = [reach.get(p["workstation_code"], Polygon()).covers(g) for g, p in cells]
    ck.ok(all(inside), f"grid: {inside.count(False)} cells outside their workstation")
    ck.ok(not shapely.intersects(geoms, Point(centre)).any(), "grid: a cell covers the lake centre")
    ck.ok(_cells_in_sequence(cells, spec), "grid: sequence is not north-to-south, west-to-east")
    med = float(np.median(areas))
    ck.note(f"grid: {n} cells, area min/median/max {areas.min():.1f}/{med:.1f}/{areas.max():.1f} m², "
            f"max overlap {inter.max(initial=0):.5f} m², "
            f"per workstation {min(per_ws.values())}-{max(per_ws.values())}, "
            f"total {areas.sum() / 1e6:.2f} km²")


def _cells_in_sequence(cells: list[tuple[BaseGeometry, dict]], spec: TownSpec) -> bool:
    """Cell codes are town code + workstation number + 1, 2, 3 ... in order within each workstation."""
    groups: dict[str, list[tuple[BaseGeometry, dict]]] = defaultdict(list)
    for g, p in cells:
        groups[p["workstation_code"]].append((g, p))
    seq_ok = True
    for wcode, items in groups.items():
        want = [p["code"] for _, p in sorted(items, key=lambda gp: cell_order_key(gp[0]))]
        seq_ok &= want == [f"{spec.code}{wcode[-3:]}{i:03d}" for i in range(1, len(items) + 1)]
    return seq_ok


def _check_stations(ck: Checker, m: dict, comms: dict, ws: dict, lake: BaseGeometry, spec: TownSpec) -> None:
    """The town center, three joint-duty stations, thirteen workstations, each where it belongs."""
    st = {p["code"]: (g, p) for g, p in m["stations"]}
    want = ([spec.station("TC")] + [spec.station(f"JS-{c}") for c, _, _ in COMMUNITIES]
            + [spec.station(f"WS-{w[0]}") for w in WORKSTATIONS])
    ck.ok(sorted(st) == sorted(want), f"stations: codes differ from {want[0]}, {want[1]}..{want[3]}, "
          f"{want[4]}..{want[-1]}")
    for code, (g, p) in st.items():
        local = code.removeprefix(spec.station(""))
        ck.ok(_station_ok(local, g, p, comms, ws, lake, spec), f"stations: {local} wrong")


def _station_ok(local: str, g: Point, p: dict, comms: dict, ws: dict, lake: BaseGeometry, spec: TownSpec) -> bool:
    """One station: tier, parent, community/workstation and position (local: its code without the town's)."""
    if local == "TC":
        return (p["tier"] == "town_center" and p["parent_code"] is None and p["name"] == f"{spec.name}城运分中心"
                and p["community_code"] == spec.unit("003") and comms[spec.unit("003")].contains(g)
                and not lake.contains(g))
    if local.startswith("JS-"):
        comm = comms.get(spec.unit(local[3:]), Polygon())
        return (p["tier"] == "joint_station" and p["parent_code"] == spec.station("TC")
                and p["community_code"] == spec.unit(local[3:]) and comm.contains(g))
    w = ws.get(spec.unit(local[3:]))
    return (p["tier"] == "workstation" and w is not None and w[0].contains(g) and not lake.contains(g)
            and p["workstation_code"] == spec.unit(local[3:])
            and p["parent_code"] == spec.station(f"JS-{w[1]['community_code'][-3:]}")
            and p["community_code"] == w[1]["community_code"])


def _check_roads(ck: Checker, m: dict, town: BaseGeometry, lake: BaseGeometry) -> None:
    """Roads: connected, noded, in the town and out of the lake, speeds and kinds plausible."""
    roads = m["roads"]
    ck.ok(len(roads) >= 300, f"roads: only {len(roads)} segments")
    uf = UnionFind()
    for g, _ in roads:
        c = g.coords
        uf.union((round(c[0][0] * 2), round(c[0][1] * 2)), (round(c[-1][0] * 2), round(c[-1][1] * 2)))
    comps = {uf.find((round(g.coords[0][0] * 2), round(g.coords[0][1] * 2))) for g, _ in roads}
    ck.ok(len(comps) == 1, f"roads: {len(comps)} connected components")
    lines = np.array([g for g, _ in roads])
    a, b = STRtree(lines).query(lines, predicate="crosses")
    ck.ok(len(a) == 0, f"roads: {len(a) // 2} crossings that are not shared endpoints")
    ends = Counter(k for g in lines for k in _ends(g))
    dead = [(k, i) for i, g in enumerate(lines) for k in _ends(g) if ends[k] == 1]
    line_tree = STRtree(lines)
    touching = sum(1 for k, i in dead
                   if any(j != i for j in line_tree.query(Point(k), predicate="dwithin", distance=0.5)))
    ck.ok(touching == 0, f"roads: {touching} dead ends touch another road without a shared node")
    ck.note(f"roads: {len(dead)} dead ends, none touching another road")
    ck.ok(not shapely.intersects(lines, lake).any(), "roads: a road enters the lake")
    speeds = {"ring": (50, 60), "arterial": (50, 60), "radial": (40, 50), "local": (30, 30)}
    ck.ok(all(speeds[p["kind"]][0] <= p["speed_kph"] <= speeds[p["kind"]][1] and isinstance(p["oneway"], bool)
              for _, p in roads), "roads: speed_kph or oneway out of range")
    reach = town.buffer(0.5)
    ck.ok(all(reach.covers(g) for g in lines), "roads: a road leaves the town")
    kinds = Counter(p["kind"] for _, p in roads)
    names_by_kind = {k: len({p["name"] for _, p in roads if p["kind"] == k}) for k in kinds}
    ck.ok(3 <= names_by_kind.get("ring", 0) <= 5, "roads: need 3-5 ring roads")
    ck.ok(8 <= names_by_kind.get("radial", 0) <= 16, "roads: need 8-16 radial roads")
    ck.ok(all(abs(g.length - p["length_m"]) < 0.5 for g, p in roads), "roads: length_m differs from geometry")
    ck.note(f"roads: {len(roads)} segments, connected, kinds {dict(kinds)}, names {names_by_kind}, "
            f"{sum(p['oneway'] for _, p in roads)} one-way segments")


def _check_addresses(ck: Checker, m: dict, town: BaseGeometry, lake: BaseGeometry, spec: TownSpec) -> None:
    """Addresses: well formed, in the town and out of the lake (but its own places)."""
    addrs = m["addresses"]
    ck.ok(len(addrs) >= 5000, f"addresses: only {len(addrs)}")
    pts = np.array([g for g, _ in addrs])
    in_town = shapely.contains(town, pts)
    in_lake = shapely.contains(lake, pts)
    water = np.array([p.get("place_type") == "water" for _, p in addrs])
    ck.ok(in_town.all(), f"addresses: {(~in_town).sum()} outside the town")
    ck.ok(not (in_lake & ~water).any(), f"addresses: {(in_lake & ~water).sum()} in the lake")
    place_names = [p["name"] for _, p in addrs if p["kind"] == "place"]
    ck.ok(len(set(place_names)) == len(place_names) >= 50, "addresses: places not unique or fewer than 50")
    for _, p in addrs:
        _check_address_form(ck, p, spec)
    ncomp = len({p["compound"] for _, p in addrs if p["kind"] == "building"})
    ck.ok(40 <= ncomp <= 80, f"addresses: {ncomp} compounds")
    ck.note(f"addresses: {len(addrs)} ({dict(Counter(p['kind'] for _, p in addrs))}), {ncomp} compounds")


def _check_address_form(ck: Checker, p: dict, spec: TownSpec) -> None:
    """One address: its string from road and numbers (in a district after the town's name)."""
    if p["kind"] == "house":
        ck.ok(p["address"] == spec.address(f"{p['road']}{p['number']}号"), f"address {p['id']}: malformed house")
    elif p["kind"] == "building":
        ck.ok(p["address"] == spec.address(f"{p['road']}{p['number']}弄{p['building']}号")
              and p["compound"] == p["name"], f"address {p['id']}: malformed building")
    else:
        ck.ok(p["kind"] == "place" and p["name"] and p["place_type"] and p["name"].startswith(spec.label("")[0])
              and p["address"].startswith(spec.address("")), f"address {p['id']}: malformed place")


def _check_district(ck: Checker, m: dict, towns: list[tuple[TownSpec, BaseGeometry]]) -> None:
    """Over all towns: ids, unique addresses and names, one town center each, towns apart."""
    for layer in ("roads", "addresses"):
        ids = sorted(p["id"] for _, p in m[layer])
        ck.ok(ids == list(range(1, len(ids) + 1)), f"{layer}: ids are not 1..N")
    non_place = [p["address"] for _, p in m["addresses"] if p["kind"] != "place"]
    ck.ok(len(set(non_place)) == len(non_place), "addresses: duplicate address strings")
    place_names = [p["name"] for _, p in m["addresses"] if p["kind"] == "place"]
    ck.ok(len(set(place_names)) == len(place_names), "addresses: duplicate place names")
    for layer in ("communities", "workstations", "stations"):
        names = [p.get("name") for _, p in m[layer]]
        ck.ok(len(set(names)) == len(names), f"{layer}: duplicate names")
    centres = sum(p.get("tier") == "town_center" for _, p in m["stations"])
    ck.ok(centres == len(towns), f"stations: {centres} town centers for {len(towns)} towns")
    if len(towns) > 1:
        gap = _check_layout(ck, [g for _, g in towns])
        ck.note(f"district: {len(towns)} towns, {centres} town centers, {len(m['addresses'])} unique addresses, "
                f"no two towns touching (smallest gap {gap:.0f} m)")


def _check_layout(ck: Checker, towns: list[BaseGeometry]) -> float:
    """Towns neither overlap nor touch: at least TOWN_GAP_M apart; the smallest gap."""
    geoms = np.array(towns)
    a, b = STRtree(geoms).query(geoms, predicate="intersects")
    touching = int((a < b).sum())
    ck.ok(touching == 0, f"district: {touching} pairs of towns overlap or touch")
    i, j = np.triu_indices(len(geoms), 1)
    gap = float(shapely.distance(geoms[i], geoms[j]).min())
    ck.ok(gap >= TOWN_GAP_M, f"district: towns only {gap:.0f} m apart, expected {TOWN_GAP_M:.0f} m")
    return gap


def _report(ck: Checker, folder: Path, towns: int) -> int:
    """The size of the files, the notes and the failures; 0 if all held."""
    size = sum((folder / f).stat().st_size for f in FILES)
    ck.ok(size < 25e6 * max(towns, 1), f"files total {size / 1e6:.1f} MB")
    ck.note(f"files: {size / 1e6:.2f} MB")
    for line in ck.notes:
        print(line)
    if ck.failures:
        print(f"FAILED ({len(ck.failures)}):")
        for f in ck.failures[:50]:
            print("  -", f)
        return 1
    print("all checks passed")
    return 0


def town_count(text: str) -> int:
    """The --towns argument: 1..MAX_TOWNS."""
    n = int(text) if text.isdigit() else 0
    if not 1 <= n <= MAX_TOWNS:
        raise argparse.ArgumentTypeError(f"expected a whole number 1..{MAX_TOWNS}, got {text!r}")
    return n


def main(argv: list[str] | None = None) -> int:
    """Command line: generate (default) or --check."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (default: this script's folder)")
    ap.add_argument("--check", action="store_true", help="verify the files in --out instead of writing them")
    ap.add_argument("--towns", type=town_count, default=1, metavar="N",
                    help="build a district of this many towns (default 1: 南汇新城镇 alone)")
    args = ap.parse_args(argv)
    if args.check:
        return check(args.out)
    t0 = time.perf_counter()
    summary = write_all(args.out, args.towns)
    for k, v in summary.items():
        print(f"{k}: {v}")
    print(f"written to {args.out} in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
