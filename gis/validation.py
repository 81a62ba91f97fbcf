"""Boundary layers: reading them from files and validating them before anything is written.

A layer is read into a list of `Feature`s in the storage CRS. Validation returns a list of
problems in plain language (feature id and reason); an empty list means the layer is sound.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import MultiPolygon, Polygon
from shapely.validation import explain_validity

from gis.crs import STORAGE_EPSG, UnknownCRS, parse_crs, to_metric, to_storage

TOWN_CODE = re.compile(r"^\d{9}$")
GRID_CODE = re.compile(r"^\d{15}$")  # the town's code, the workstation's number, a sequence
AREA_CODE = re.compile(r"^(\d{9})?\d{3}$")  # a number unique in the town, or the town's code and that number
OVERLAP_TOLERANCE_M2 = 1.0
GAP_TOLERANCE_M2 = 100.0
CELL_EDGE_TOLERANCE_M = 0.5


@dataclass(frozen=True)
class LayerSpec:
    """What a layer must look like."""

    name: str
    file: str
    geometry: tuple[str, ...]
    required: tuple[str, ...]
    key: str | None


LAYERS: dict[str, LayerSpec] = {
    s.name: s
    for s in (
        LayerSpec("town", "town.geojson", ("Polygon", "MultiPolygon"), ("code", "name"), "code"),
        LayerSpec("communities", "communities.geojson", ("Polygon", "MultiPolygon"), ("code", "name"), "code"),
        LayerSpec(
            "workstations", "workstations.geojson", ("Polygon", "MultiPolygon"),
            ("code", "name", "community_code"), "code",
        ),
        LayerSpec("grid_cells", "grid_cells.geojson", ("Polygon",), ("code", "workstation_code"), "code"),
        LayerSpec("stations", "stations.geojson", ("Point",), ("code", "name", "tier"), "code"),
        LayerSpec(
            "station_coverage", "station_coverage.geojson", ("Polygon", "MultiPolygon"),
            ("station_code",), "station_code",
        ),
        LayerSpec("roads", "roads.geojson", ("LineString",), ("name",), None),
        LayerSpec("addresses", "addresses.geojson", ("Point",), ("address",), None),
    )
}
LOAD_ORDER = (
    "town", "communities", "workstations", "grid_cells", "stations", "station_coverage", "roads", "addresses",
)
TIERS = ("town_center", "joint_station", "workstation")
# Shapefile field names have at most 10 characters: the short names our exports write, read back.
SHAPEFILE_NAMES = {"ws_code": "workstation_code", "comm_code": "community_code", "stn_code": "station_code",
                   "parent": "parent_code", "illustr": "illustrative"}


class LayerError(ValueError):
    """A layer could not be read or is not sound; `problems` lists every reason."""

    def __init__(self, layer: str, problems: list[str]):
        self.layer = layer
        self.problems = problems
        shown = "; ".join(problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(f"{layer}: {shown}{more}")


@dataclass
class Feature:
    """One feature in the storage CRS."""

    fid: str
    geom: shapely.Geometry
    props: dict[str, Any] = field(default_factory=dict)


def read_layer(layer: str, path: str | Path, crs: str | int | None = None) -> list[Feature]:
    """Read GeoJSON, GeoPackage or a Shapefile into storage-CRS features.

    The CRS is the one given, else the one the file declares, else (GeoJSON) WGS84 lon/lat.
    """
    spec = _spec(layer)
    path = Path(path)
    if not path.exists():
        raise LayerError(layer, [f"file {path} does not exist"])
    try:
        declared = parse_crs(crs) if crs is not None else None
    except UnknownCRS as exc:
        raise LayerError(layer, [str(exc)]) from None
    if path.suffix.lower() in (".geojson", ".json"):
        raw = _read_geojson(layer, path)
        source_crs = declared or _geojson_crs(layer, raw)
        features = _features_from_geojson(layer, raw)
    else:
        features, file_crs = _read_with_gdal(layer, path)
        source_crs = declared or file_crs
        if source_crs is None:
            raise LayerError(layer, [f"{path.name} declares no CRS: give one with --crs EPSG:NNNN"])
    if source_crs is not None and source_crs.to_epsg() != STORAGE_EPSG:
        for f in features:
            f.geom = to_storage(f.geom, source_crs)
    problems = check_shapes(spec, features)
    if problems:
        raise LayerError(layer, problems)
    return features


def _spec(layer: str) -> LayerSpec:
    try:
        return LAYERS[layer]
    except KeyError:
        raise LayerError(layer, [f"unknown layer; choose one of {', '.join(LOAD_ORDER)}"]) from None


def _read_geojson(layer: str, path: Path) -> dict:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise LayerError(layer, [f"{path.name} is not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    except json.JSONDecodeError as exc:
        raise LayerError(
            layer, [f"{path.name} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]
        ) from None
    if not isinstance(raw, dict) or raw.get("type") != "FeatureCollection" or not isinstance(
        raw.get("features"), list
    ):
        raise LayerError(layer, [f"{path.name} is not a GeoJSON FeatureCollection"])
    return raw


def _geojson_crs(layer: str, raw: dict):
    """The legacy `crs` member if present (RFC 7946 says WGS84 otherwise)."""
    member = raw.get("crs")
    if not member:
        return None
    name = (member.get("properties") or {}).get("name", "") if isinstance(member, dict) else ""
    match = re.search(r"EPSG:+(\d+)", str(name))
    if "CRS84" in str(name):
        return parse_crs(4326)
    if not match:
        raise LayerError(layer, [f"unknown CRS {name!r} in the file's crs member"])
    try:
        return parse_crs(match.group(1))
    except UnknownCRS as exc:
        raise LayerError(layer, [str(exc)]) from None


def _features_from_geojson(layer: str, raw: dict) -> list[Feature]:
    features, problems = [], []
    key = _spec(layer).key
    for i, item in enumerate(raw["features"]):
        if not isinstance(item, dict):
            problems.append(f"feature #{i + 1}: not a GeoJSON Feature")
            continue
        props = item.get("properties") or {}
        fid = props.get(key) if key else None
        fid = str(fid if fid not in (None, "") else item.get("id") or f"#{i + 1}")
        try:
            geom = shapely.geometry.shape(item["geometry"])
        except Exception as exc:  # noqa: BLE001 - any malformed geometry is reported, not raised
            problems.append(f"feature {fid}: unreadable geometry ({exc.__class__.__name__}: {exc})")
            continue
        features.append(Feature(fid, geom, dict(props)))
    if problems:
        raise LayerError(layer, problems)
    return features


def _read_with_gdal(layer: str, path: Path):
    import pyogrio

    try:
        gdf = pyogrio.read_dataframe(path)
    except Exception as exc:  # noqa: BLE001 - GDAL's own message is the clearest one
        raise LayerError(layer, [f"{path.name} could not be read: {exc}"]) from None
    key = _spec(layer).key
    features = []
    for i, row in enumerate(gdf.itertuples(index=False)):
        props = {k: _plain(v) for k, v in row._asdict().items() if k != "geometry"}
        for short, full in SHAPEFILE_NAMES.items():
            if short in props and full not in props:
                props[full] = props.pop(short)
        fid = str(props.get(key) if key else f"#{i + 1}")
        features.append(Feature(fid, row.geometry, props))
    file_crs = parse_crs(gdf.crs.to_string()) if gdf.crs is not None else None
    return features, file_crs


def _plain(value: object) -> object:
    """numpy/pandas scalars to Python; NaN to None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def check_shapes(spec: LayerSpec, features: Iterable[Feature]) -> list[str]:
    """Geometry type, emptiness, validity, required properties and unique keys."""
    problems, seen = [], set()
    for f in features:
        if f.geom is None or f.geom.is_empty:
            problems.append(f"feature {f.fid}: empty geometry")
            continue
        if f.geom.geom_type not in spec.geometry:
            problems.append(f"feature {f.fid}: geometry is {f.geom.geom_type}, expected {' or '.join(spec.geometry)}")
            continue
        if not f.geom.is_valid:
            problems.append(f"feature {f.fid}: invalid geometry ({explain_validity(f.geom)})")
        if shapely.has_z(f.geom):
            f.geom = shapely.force_2d(f.geom)
        missing = [p for p in spec.required if f.props.get(p) in (None, "")]
        if missing:
            problems.append(f"feature {f.fid}: missing {', '.join(missing)}")
        if spec.key:
            key = f.props.get(spec.key)
            if key in seen:
                problems.append(f"feature {f.fid}: duplicate {spec.key} {key!r}")
            seen.add(key)
    return problems


def as_multipolygon(geom: shapely.Geometry) -> MultiPolygon:
    """Polygon -> MultiPolygon of one part."""
    return MultiPolygon([geom]) if isinstance(geom, Polygon) else geom


def check_tiling(
    parts: list[Feature], whole: shapely.Geometry, what: str, gap_is_error: bool = True
) -> tuple[list[str], list[str]]:
    """Do `parts` tile `whole`? Returns (errors, warnings), measured in EPSG:4550."""
    errors: list[str] = []
    warnings: list[str] = []
    if not parts:
        return [f"there are no {what}: nothing covers the whole"], warnings
    metric = [to_metric(p.geom) for p in parts]
    tree = STRtree(metric)
    for i, j in zip(*tree.query(metric, predicate="intersects"), strict=True):
        if i >= j:
            continue
        area = metric[i].intersection(metric[j]).area
        if area > OVERLAP_TOLERANCE_M2:
            errors.append(f"{what} {parts[i].fid} and {parts[j].fid} overlap by {area:,.0f} m²")
    whole_m = to_metric(whole)
    union = shapely.union_all(metric)
    outside = union.difference(whole_m.buffer(CELL_EDGE_TOLERANCE_M))
    if outside.area > GAP_TOLERANCE_M2:
        errors.append(f"{what} reach {outside.area:,.0f} m² outside the town")
    gaps = whole_m.difference(union)
    for gap in getattr(gaps, "geoms", [gaps]):
        if gap.area > GAP_TOLERANCE_M2:
            at = to_storage(gap.representative_point())
            message = f"gap of {gap.area:,.0f} m² between {what} near lon {at.x:.5f}, lat {at.y:.5f}"
            (errors if gap_is_error else warnings).append(message)
    return errors, warnings


def check_codes(features: list[Feature], pattern: re.Pattern, what: str) -> list[str]:
    """Codes match their pattern."""
    return [
        f"{what} {f.fid}: code {f.props.get('code')!r} is not of the form {pattern.pattern}"
        for f in features
        if not pattern.match(str(f.props.get("code", "")))
    ]


def check_nested(children: list[Feature], parents: list[Feature], link: str, what: str) -> list[str]:
    """Each child lies in the parent its `link` property names (within the edge tolerance)."""
    by_code = {str(p.props["code"]): to_metric(p.geom).buffer(CELL_EDGE_TOLERANCE_M) for p in parents}
    problems = []
    for c in children:
        parent = by_code.get(str(c.props.get(link)))
        if parent is None:
            problems.append(f"{what} {c.fid}: {link} {c.props.get(link)!r} does not exist")
        elif not parent.covers(to_metric(c.geom)):
            problems.append(f"{what} {c.fid} is not inside {link} {c.props.get(link)}")
    return problems


def check_grid(cells: list[Feature], workstations: list[Feature], town_codes: Iterable[str] = ()) -> list[str]:
    """Cell codes well formed and unique, starting with a town's code and their workstation's number (its whole
    code when the workstation code carries the town's), inside their workstation, no overlaps."""
    problems = check_codes(cells, GRID_CODE, "grid cell")
    towns = set(town_codes)
    for c in cells:
        code, ws = str(c.props.get("code", "")), str(c.props.get("workstation_code", ""))
        if not GRID_CODE.match(code):
            continue
        if code[9:12] != ws[-3:] or (len(ws) == 12 and code[:12] != ws):
            problems.append(f"grid cell {c.fid}: code does not carry its workstation code {ws}")
        elif towns and code[:9] not in towns:
            problems.append(f"grid cell {c.fid}: code does not start with a town's code ({', '.join(sorted(towns))})")
    problems += check_nested(cells, workstations, "workstation_code", "grid cell")
    return problems + overlapping(cells, "grid cells", ",.1f")


def overlapping(features: list[Feature], what: str, fmt: str = ",.0f") -> list[str]:
    """Pairs of features sharing more than OVERLAP_TOLERANCE_M2 (EPSG:4550), identical ones included; neighbours
    that only touch are let through without computing an intersection."""
    metric = np.array([to_metric(f.geom) for f in features], dtype=object)
    i, j = STRtree(metric).query(metric, predicate="intersects")
    i, j = i[i < j], j[i < j]
    inner = ~shapely.touches(metric[i], metric[j])
    i, j = i[inner], j[inner]
    areas = shapely.area(shapely.intersection(metric[i], metric[j]))
    return [f"{what} {features[a].fid} and {features[b].fid} overlap by {area:{fmt}} m²"
            for a, b, area in zip(i.tolist(), j.tolist(), areas.tolist(), strict=True) if area > OVERLAP_TOLERANCE_M2]


def jurisdiction(towns: list[shapely.Geometry]) -> shapely.Geometry:
    """The area the platform serves: the one town as it is, or a district's towns together."""
    return towns[0] if len(towns) == 1 else shapely.union_all(towns)


def check_towns(towns: list[Feature]) -> list[str]:
    """At least one town, nine-digit codes, no two overlapping (a district's towns may leave gaps between them)."""
    if not towns:
        return ["the town layer holds no polygon"]
    return check_codes(towns, TOWN_CODE, "town") + overlapping(towns, "towns")


def check_in_towns(communities: list[Feature], towns: list[Feature]) -> list[str]:
    """With several towns each community names its town (`town_code`) and lies in it; with one, it may say none."""
    named = [c for c in communities if c.props.get("town_code") not in (None, "")]
    missing = [] if len(towns) == 1 else [
        f"community {c.fid}: town_code is missing (the town layer holds {len(towns)} towns)"
        for c in communities if c.props.get("town_code") in (None, "")]
    return missing + check_nested(named, towns, "town_code", "community")


def check_stations(stations: list[Feature], towns: list[Feature]) -> list[str]:
    """Tiers known, one town center in every town, parents exist, points inside a town."""
    problems = []
    codes = {str(s.props["code"]) for s in stations}
    centers = [s for s in stations if s.props.get("tier") == "town_center"]
    for town in towns:
        inside = [s for s in centers if town.geom.covers(s.geom)]
        if len(inside) != 1:
            where = "" if len(towns) == 1 else f" in town {town.fid}"
            problems.append(f"there must be exactly one town_center station{where}, found {len(inside)}")
    whole = jurisdiction([t.geom for t in towns])
    for s in stations:
        if s.props.get("tier") not in TIERS:
            problems.append(f"station {s.fid}: tier {s.props.get('tier')!r} is not one of {', '.join(TIERS)}")
        parent = s.props.get("parent_code")
        if parent and str(parent) not in codes:
            problems.append(f"station {s.fid}: parent {parent!r} does not exist")
        if not whole.covers(s.geom):
            problems.append(f"station {s.fid} lies outside the town")
    return problems


def check_coverage(
    coverage: list[Feature], stations: list[Feature] | set[str], town: shapely.Geometry
) -> tuple[list[str], list[str]]:
    """Coverage polygons: known stations, no overlaps; gaps are warnings (兜底 to the town center)."""
    codes = stations if isinstance(stations, set) else {str(s.props["code"]) for s in stations}
    errors = [
        f"coverage {c.fid}: station {c.props.get('station_code')!r} does not exist"
        for c in coverage
        if str(c.props.get("station_code")) not in codes
    ]
    tiling_errors, warnings = check_tiling(coverage, town, "coverage polygons", gap_is_error=False)
    return errors + tiling_errors, warnings
