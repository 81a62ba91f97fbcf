"""The loader and importer: bad files are refused with clear messages and nothing is written; a good one makes
a new version (on a database of its own, so that the shared territory never changes)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import shape
from sqlalchemy import func, select

from app.accounts.models import AuditEntry
from app.territory.models import BoundaryVersion, StationCoverage

DATA = Path(__file__).resolve().parents[2] / "data" / "boundaries"


def snapshot(app):
    with app.extensions["db"].transaction() as s:
        return (
            s.scalar(select(func.count()).select_from(BoundaryVersion)),
            s.scalar(select(func.count()).select_from(AuditEntry)),
            s.scalar(select(func.count()).select_from(StationCoverage)),
        )


def run(app, *args):
    return app.test_cli_runner().invoke(args=["boundaries", *args])


def communities():
    return json.loads((DATA / "communities.geojson").read_text(encoding="utf-8"))


def write(path: Path, doc) -> str:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return str(path)


def refused(app, args, *expected):
    before = snapshot(app)
    result = run(app, *args)
    assert result.exit_code == 1, result.output
    assert "nothing was written" in result.output
    for text in expected:
        assert text in result.output, result.output
    assert snapshot(app) == before


def test_self_intersecting_community_is_refused(app, tmp_path):
    doc = communities()
    ring = doc["features"][0]["geometry"]["coordinates"][0]
    if doc["features"][0]["geometry"]["type"] == "MultiPolygon":
        ring = ring[0]
    ring[1], ring[2] = ring[2], ring[1]  # swap two vertices: the ring crosses itself
    refused(app, ["import", "communities", write(tmp_path / "c.geojson", doc)],
            f"feature {doc['features'][0]['properties']['code']}", "invalid geometry")


def test_overlapping_communities_are_refused(app, tmp_path):
    doc = communities()
    grown = shape(doc["features"][0]["geometry"]).buffer(0.003)
    doc["features"][0]["geometry"] = json.loads(json.dumps(grown.__geo_interface__))
    refused(app, ["import", "communities", write(tmp_path / "c.geojson", doc)], "overlap")


def test_unknown_crs_is_refused(app, tmp_path):
    refused(app, ["import", "communities", str(DATA / "communities.geojson"), "--crs", "EPSG:999999"], "unknown CRS")


def test_broken_json_is_refused(app, tmp_path):
    broken = write(tmp_path / "c.geojson", '{"type": "FeatureCollection", "features": [{')
    refused(app, ["import", "communities", broken], "not valid JSON")


def test_cells_outside_their_workstation_are_refused(app, tmp_path):
    doc = json.loads((DATA / "grid_cells.geojson").read_text(encoding="utf-8"))
    first = doc["features"][0]["properties"]
    other = next(f for f in doc["features"] if f["properties"]["workstation_code"] != first["workstation_code"])
    first["workstation_code"] = other["properties"]["workstation_code"]
    refused(app, ["import", "grid_cells", write(tmp_path / "g.geojson", doc)], "does not carry its workstation code")


@pytest.fixture
def coverage_gpkg(tmp_path):
    """Station coverage as a GeoPackage in EPSG:4550 (as a planner's QGIS might save it)."""
    frame = gpd.read_file(DATA / "station_coverage.geojson").to_crs(4550)
    path = tmp_path / "coverage.gpkg"
    frame.to_file(path, driver="GPKG")
    return str(path)


def test_geopackage_import_in_another_crs_makes_a_new_version(own_app, coverage_gpkg):
    """On a database of the module's own, where the initial load is the only other version."""
    versions, audits, coverage = snapshot(own_app)
    result = run(own_app, "import", "station_coverage", coverage_gpkg, "--reason", "re-survey")
    assert result.exit_code == 0, result.output
    assert snapshot(own_app) == (versions + 1, audits + 1, coverage + 3)
    with own_app.extensions["db"].transaction() as s:
        newest = s.scalars(select(BoundaryVersion).order_by(BoundaryVersion.id.desc())).first()
        assert newest.reason == "re-survey" and newest.layers == ["station_coverage"]
        areas = s.execute(
            select(StationCoverage.version_id, func.sum(StationCoverage.area_m2)).group_by(StationCoverage.version_id)
        ).all()
    totals = [a for _, a in areas]
    assert max(totals) - min(totals) < 50  # the same territory after a round trip through EPSG:4550
