"""GeoJSON features of the map layers, one builder per layer: a row (a mapping of column values) and its
geometry in, a Feature out. The consoles' layers, the OGC collections and the file exports all use
these, so a layer has the same properties wherever it is read. Pure: no queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Row = Mapping[str, Any]


def feature(fid: object, geometry: dict | None, properties: dict) -> dict:
    """A GeoJSON Feature."""
    return {"type": "Feature", "id": fid, "geometry": geometry, "properties": properties}


def collection(features: Iterable[dict], **members: object) -> dict:
    """A GeoJSON FeatureCollection (with any extra members, e.g. numberMatched)."""
    return {"type": "FeatureCollection", "features": list(features), **members}


def _versions(r: Row) -> dict:
    return {"version_low": r["version_low"], "version_high": r["version_high"]}


def grid_cell(r: Row, geometry: dict) -> dict:
    """A unit grid cell (单元网格) with its 15-digit code."""
    return feature(r["code"], geometry, {
        "code": r["code"], "workstation_code": r["workstation_code"], "community_code": r["community_code"],
        "area_m2": round(r["area_m2"], 1), "illustrative": r["illustrative"], **_versions(r),
    })


def admin_area(r: Row, geometry: dict) -> dict:
    """The town, a community or a workstation territory."""
    props = {"code": r["code"], "name": r["name"], "name_en": r["name_en"], "parent_code": r["parent_code"]}
    if r["level"] == "workstation":
        props["community_code"] = r["parent_code"]  # the name the boundary importer reads
    return feature(r["code"], geometry, {
        **props, "kind": r["kind"], "area_m2": round(r["area_m2"], 1), "illustrative": r["illustrative"],
        **_versions(r),
    })


def station(r: Row, geometry: dict) -> dict:
    """The town center, a joint-duty station or a workstation, as a point."""
    return feature(r["code"], geometry, {
        "code": r["code"], "name": r["name"], "name_en": r["name_en"], "tier": r["tier"],
        "parent_code": r["parent_code"], "community_code": r["community_code"],
        "workstation_code": r["workstation_code"], "illustrative": r["illustrative"],
    })


def coverage(r: Row, geometry: dict) -> dict:
    """The territory one station covers in one boundary version."""
    return feature(r["station_code"], geometry, {
        "station_code": r["station_code"], "name": r["name"], "version": r["version_id"],
        "area_m2": round(r["area_m2"], 1), "illustrative": r["illustrative"],
    })


def road(r: Row, geometry: dict) -> dict:
    """A road centre-line segment."""
    return feature(r["id"], geometry, {
        "name": r["name"], "name_en": r["name_en"], "kind": r["kind"], "oneway": r["oneway"],
        "speed_kph": r["speed_kph"], "length_m": round(r["length_m"], 1), "illustrative": r["illustrative"],
    })


def address(r: Row, geometry: dict) -> dict:
    """An address point: a house number, a building in a compound, or a named place."""
    return feature(r["id"], geometry, {
        "kind": r["kind"], "address": r["address"], "road": r["road"], "number": r["number"],
        "compound": r["compound"], "building": r["building"], "name": r["name"], "place_type": r["place_type"],
        "illustrative": r["illustrative"],
    })


def cell_figures(cell: Row, geometry: dict, figures: dict) -> dict:
    """A grid cell with the figures of an analysis (counts, Gi* z and class, a trend, an alert)."""
    return feature(cell["code"], geometry, {**cell, **figures})
