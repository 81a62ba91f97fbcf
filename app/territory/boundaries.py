"""Boundary storage: versions, the loader and the single-layer importer.

Everything is validated (gis.validation) before anything is written, and a load or import is
written in the caller's single transaction, so a failure leaves the database as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import ColumnElement, ScalarSelect, and_, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from app.accounts import audit
from app.territory.models import Address, AdminArea, BoundaryVersion, GridCell, Road, Station, StationCoverage
from gis import validation as gb
from gis.crs import STORAGE_EPSG, metric_area, to_metric

Progress = Callable[[str, int, int], None]
# One advisory lock orders boundary writes against the intake: a writer holds it exclusively until it
# commits, an intake shares it while it locates a report, so no case is filed under a version that a
# committing save has just replaced (the save's reassignment could not see it).
BOUNDARY_LOCK = 7_310_115_146
MAX_VERSION_ID = 2**31 - 1  # boundary_versions.id is an integer
ADMIN_LEVELS = {"town": "town", "communities": "community", "workstations": "workstation"}
BATCH = 1000


@dataclass
class LoadSummary:
    """What a load or import wrote."""

    version_id: int
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)


def _newest_in_effect(what: Any):
    """SELECT `what` of the newest boundary version whose effective_from has passed. The clock is the
    statement's, not the transaction's (`now()`): a transaction that waited on the boundary lock must see
    the version committed while it waited, whose effective_from is later than this transaction's start."""
    return (
        select(what)
        .where(BoundaryVersion.effective_from <= func.statement_timestamp())
        .order_by(BoundaryVersion.id.desc())
        .limit(1)
    )


def lock_for_write(session: Session) -> None:
    """Wait for the intakes in flight, and hold off new ones, until this transaction ends."""
    session.execute(select(func.pg_advisory_xact_lock(BOUNDARY_LOCK)))


def lock_for_read(session: Session) -> None:
    """Wait for a boundary write in flight to commit; then this transaction sees its version."""
    session.execute(select(func.pg_advisory_xact_lock_shared(BOUNDARY_LOCK)))


def versions_since(session: Session, version_id: int) -> list[dict]:
    """The versions written after `version_id`, oldest first (what a stale proposal missed)."""
    rows = session.scalars(select(BoundaryVersion).where(BoundaryVersion.id > version_id)
                           .order_by(BoundaryVersion.id))
    return [_version_json(v) for v in rows]


def current_version(session: Session) -> BoundaryVersion | None:
    """The newest version already in effect."""
    return session.scalars(_newest_in_effect(BoundaryVersion)).first()


def current_version_id(session: Session) -> int | None:
    """Id of the newest version in effect, cheaply (checked on every ownership lookup)."""
    return session.scalar(_newest_in_effect(BoundaryVersion.id))


def current_version_subquery() -> ScalarSelect[int]:
    """The id of the version in effect, as SQL (for a WHERE that must not cost a round trip)."""
    return _newest_in_effect(BoundaryVersion.id).scalar_subquery()


def in_version(model: type, version: int | None = None) -> ColumnElement[bool]:
    """Rows of a versioned layer valid in `version` (rows carry version_low..version_high, NULL while
    still valid); None: the version in effect now. The one definition of "current" boundaries."""
    v = current_version_subquery() if version is None else version
    return and_(model.version_low <= v, or_(model.version_high.is_(None), model.version_high >= v))


def town_bbox(session: Session) -> list[float]:
    """The extent of the current town boundary in CRS84 (a box around Lingang when none is loaded)."""
    extent = func.ST_Extent(AdminArea.geom)
    box = session.execute(
        select(func.ST_XMin(extent), func.ST_YMin(extent), func.ST_XMax(extent), func.ST_YMax(extent))
        .where(AdminArea.level == "town", in_version(AdminArea))
    ).one()
    if box[0] is None:
        return [121.75, 30.80, 122.05, 31.00]
    return [round(v, 6) for v in box]


def versions(session: Session) -> list[dict]:
    """Every boundary version, newest first."""
    rows = session.scalars(select(BoundaryVersion).order_by(BoundaryVersion.id.desc()))
    return [_version_json(v) for v in rows]


def _version_json(v: BoundaryVersion) -> dict:
    return {"id": v.id, "kind": v.kind, "reason": v.reason, "created_by": v.created_by,
            "created_at": v.created_at.isoformat(), "effective_from": v.effective_from.isoformat(),
            "layers": v.layers, "parent_id": v.parent_id}


def is_loaded(session: Session) -> bool:
    """True when some boundary version exists."""
    return session.scalar(select(func.count()).select_from(BoundaryVersion)) > 0


def layer_counts(session: Session) -> dict[str, int]:
    """Current feature counts per layer."""
    counts = {
        layer: session.scalar(select(func.count()).where(AdminArea.level == level, in_version(AdminArea)))
        for layer, level in ADMIN_LEVELS.items()
    }
    counts["grid_cells"] = session.scalar(select(func.count()).where(in_version(GridCell)))
    counts["stations"] = session.scalar(select(func.count()).where(Station.active.is_(True)))
    version = current_version_id(session)
    counts["station_coverage"] = session.scalar(
        select(func.count()).where(StationCoverage.version_id == version)
    )
    counts["roads"] = session.scalar(select(func.count()).select_from(Road))
    counts["addresses"] = session.scalar(select(func.count()).select_from(Address))
    return counts


def read_folder(folder: str | Path, progress: Progress | None = None) -> dict[str, list[gb.Feature]]:
    """Read every layer file of a folder (all must be present)."""
    folder = Path(folder)
    layers = {}
    for i, name in enumerate(gb.LOAD_ORDER):
        if progress:
            progress(f"reading {name}", i, len(gb.LOAD_ORDER))
        layers[name] = gb.read_layer(name, folder / gb.LAYERS[name].file)
    return layers


def validate(layers: dict[str, list[gb.Feature]], changed: set[str]) -> list[str]:
    """Cross-layer checks touching a changed layer; raises LayerError, returns warnings."""
    towns = layers["town"]
    problems = gb.check_towns(towns)
    if problems:
        raise gb.LayerError("town", problems)
    town = gb.jurisdiction([t.geom for t in towns])

    def needs(*names: str) -> bool:
        return bool(changed.intersection(names))

    checks: list[tuple[str, list[str]]] = []
    warnings: list[str] = []
    if needs("town", "communities"):
        errors, _ = gb.check_tiling(layers["communities"], town, "communities")
        checks.append(("communities", gb.check_codes(layers["communities"], gb.AREA_CODE, "community") + errors
                       + gb.check_in_towns(layers["communities"], towns)))
    if needs("town", "communities", "workstations"):
        errors, _ = gb.check_tiling(layers["workstations"], town, "workstations")
        nested = gb.check_nested(layers["workstations"], layers["communities"], "community_code", "workstation")
        checks.append(
            ("workstations", gb.check_codes(layers["workstations"], gb.AREA_CODE, "workstation") + errors + nested)
        )
    if needs("workstations", "grid_cells"):
        checks.append(("grid_cells", gb.check_grid(layers["grid_cells"], layers["workstations"],
                                                  [str(t.props["code"]) for t in towns])))
    if needs("town", "stations"):
        checks.append(("stations", gb.check_stations(layers["stations"], towns)))
    if needs("town", "stations", "station_coverage"):
        errors, warnings = gb.check_coverage(layers["station_coverage"], layers["stations"], town)
        checks.append(("station_coverage", errors))
    for layer, problems in checks:
        if problems:
            raise gb.LayerError(layer, problems)
    return warnings


def load_folder(
    session: Session, folder: str | Path, actor: str, reason: str = "initial load",
    progress: Progress | None = None,
) -> LoadSummary:
    """Validate and write every layer of a folder as one new boundary version."""
    layers = read_folder(folder, progress)
    warnings = validate(layers, set(gb.LOAD_ORDER))
    kind = "import" if is_loaded(session) else "initial"
    summary = write_version(session, layers, set(gb.LOAD_ORDER), actor, reason, kind, progress)
    summary.warnings = warnings
    audit.record(
        session, actor, "boundaries.load", "boundary_version", summary.version_id,
        after={"folder": str(folder), "counts": summary.counts, "checksums": _checksums(folder)},
    )
    return summary


def import_layer(
    session: Session, layer: str, path: str | Path, actor: str, crs: str | None = None,
    reason: str | None = None, progress: Progress | None = None,
) -> LoadSummary:
    """Replace one layer from a file, validated against the current other layers."""
    new = gb.read_layer(layer, path, crs)
    return _replace_layer(session, layer, new, actor, reason or f"import {layer} from {Path(path).name}",
                          {"file": str(path), "crs": crs}, progress)


def import_roads(session: Session, path: str | Path, crs: str | None, actor: str, reason: str) -> LoadSummary:
    """Replace the road network from an OSM extract (.osm/.pbf), a GeoPackage or GeoJSON."""
    from routing.importers import read_roads_file

    roads = read_roads_file(path, crs)
    if not roads:
        raise gb.LayerError("roads", [f"{path}: no roads found"])
    problems = gb.check_shapes(gb.LAYERS["roads"], roads)
    if problems:
        raise gb.LayerError("roads", problems)
    return _replace_layer(session, "roads", roads, actor, reason, {"file": str(path), "crs": crs}, None)


def _replace_layer(session: Session, layer: str, new: list[gb.Feature], actor: str, reason: str, source: dict,
                   progress: Progress | None) -> LoadSummary:
    if not is_loaded(session):
        raise gb.LayerError(layer, ["no boundaries are loaded yet: run `boundaries load` first"])
    layers = current_layers(session)
    before = {layer: len(layers[layer])}
    layers[layer] = new
    warnings = validate(layers, {layer})
    summary = write_version(session, layers, {layer}, actor, reason, "import", progress)
    summary.warnings = warnings
    audit.record(session, actor, "boundaries.import", "boundary_version", summary.version_id,
                 before=before, after={"layer": layer, **source, "count": len(new)})
    return summary


def current_layers(session: Session) -> dict[str, list[gb.Feature]]:
    """The current boundaries as features, for validating an import against them."""
    version = current_version_id(session)
    layers: dict[str, list[gb.Feature]] = {}
    for layer, level in ADMIN_LEVELS.items():
        rows = session.scalars(select(AdminArea).where(AdminArea.level == level, in_version(AdminArea, version)))
        parent = "town_code" if level == "community" else "community_code"
        layers[layer] = [
            gb.Feature(r.code, to_shape(r.geom), {"code": r.code, "name": r.name, parent: r.parent_code})
            for r in rows
        ]
    cells = session.scalars(select(GridCell).where(in_version(GridCell, version)))
    layers["grid_cells"] = [
        gb.Feature(c.code, to_shape(c.geom), {"code": c.code, "workstation_code": c.workstation_code})
        for c in cells
    ]
    stations = session.scalars(select(Station).where(Station.active.is_(True)))
    layers["stations"] = [
        gb.Feature(
            s.code, to_shape(s.location),
            {"code": s.code, "name": s.name, "tier": s.tier, "parent_code": s.parent_code},
        )
        for s in stations
    ]
    coverage = session.scalars(select(StationCoverage).where(StationCoverage.version_id == version))
    layers["station_coverage"] = [
        gb.Feature(c.station_code, to_shape(c.geom), {"station_code": c.station_code}) for c in coverage
    ]
    layers["roads"] = []
    layers["addresses"] = []
    return layers


def write_version(
    session: Session, layers: dict[str, list[gb.Feature]], changed: set[str], actor: str, reason: str,
    kind: str, progress: Progress | None,
) -> LoadSummary:
    """Write a new boundary version: the `changed` layers from `layers`, the others carried over."""
    lock_for_write(session)
    previous = current_version_id(session)
    version = BoundaryVersion(
        kind=kind, reason=reason, created_by=actor, parent_id=previous, layers=sorted(changed)
    )
    session.add(version)
    session.flush()
    counts: dict[str, int] = {}
    workstation_community = {str(f.props["code"]): str(f.props["community_code"]) for f in layers["workstations"]}
    towns = [str(f.props["code"]) for f in layers["town"]]
    for layer, level in ADMIN_LEVELS.items():
        if layer in changed:
            _close(session, AdminArea, previous, AdminArea.level == level)
            rows = [_admin_row(f, level, version.id, towns) for f in layers[layer]]
            counts[layer] = _insert(session, AdminArea, rows, layer, progress)
    if "grid_cells" in changed:
        _close(session, GridCell, previous)
        rows = [_cell_row(f, version.id, workstation_community) for f in layers["grid_cells"]]
        counts["grid_cells"] = _insert(session, GridCell, rows, "grid_cells", progress)
    if "stations" in changed:
        counts["stations"] = _upsert_stations(session, layers["stations"])
    if "station_coverage" in changed:
        rows = [_coverage_row(f, version.id) for f in layers["station_coverage"]]
        counts["station_coverage"] = _insert(session, StationCoverage, rows, "station_coverage", progress)
    elif previous is not None:
        counts["station_coverage"] = _copy_coverage(session, previous, version.id)
    for layer, model, make in (("roads", Road, _road_row), ("addresses", Address, _address_row)):
        if layer in changed:
            session.query(model).delete()
            counts[layer] = _insert(session, model, [make(f) for f in layers[layer]], layer, progress)
    return LoadSummary(version.id, counts)


def _close(session: Session, model: type, previous: int | None, *where: ColumnElement[bool]) -> None:
    """End the current rows of a versioned layer at the previous version."""
    if previous is None:
        return
    session.execute(
        update(model).where(model.version_high.is_(None), *where).values(version_high=previous)
    )


def _insert(session: Session, model: type, rows: list[dict], layer: str, progress: Progress | None) -> int:
    for start in range(0, len(rows), BATCH):
        session.execute(insert(model), rows[start : start + BATCH])
        if progress:
            progress(f"writing {layer}", min(start + BATCH, len(rows)), len(rows))
    return len(rows)


def _g(geom: shapely.Geometry) -> object:
    return from_shape(geom, srid=STORAGE_EPSG)


def _illustrative(f: gb.Feature) -> bool:
    return bool(f.props.get("illustrative", False))


def _admin_row(f: gb.Feature, level: str, version: int, towns: list[str]) -> dict:
    """A town (no parent), a community (parent: its `town_code`, else the one town) or a workstation (its
    community)."""
    if level == "town":
        parent = None
    elif level == "community":
        parent = str(f.props.get("town_code") or towns[0])
    else:
        parent = str(f.props["community_code"])
    return {
        "level": level,
        "code": str(f.props["code"]),
        "name": f.props["name"],
        "name_en": f.props.get("name_en"),
        "parent_code": parent,
        "kind": f.props.get("kind"),
        "area_m2": round(metric_area(f.geom), 1),
        "illustrative": _illustrative(f),
        "geom": _g(gb.as_multipolygon(f.geom)),
        "version_low": version,
    }


def _cell_row(f: gb.Feature, version: int, workstation_community: dict[str, str]) -> dict:
    ws = str(f.props["workstation_code"])
    return {
        "code": str(f.props["code"]),
        "workstation_code": ws,
        "community_code": str(f.props.get("community_code") or workstation_community[ws]),
        "area_m2": round(metric_area(f.geom), 1),
        "illustrative": _illustrative(f),
        "geom": _g(f.geom),
        "version_low": version,
    }


def _coverage_row(f: gb.Feature, version: int) -> dict:
    return {
        "version_id": version,
        "station_code": str(f.props["station_code"]),
        "area_m2": round(metric_area(f.geom), 1),
        "illustrative": _illustrative(f),
        "geom": _g(gb.as_multipolygon(f.geom)),
    }


def _road_row(f: gb.Feature) -> dict:
    return {
        "name": f.props["name"],
        "name_en": f.props.get("name_en"),
        "kind": f.props.get("kind") or "local",
        "oneway": bool(f.props.get("oneway") or False),
        "speed_kph": float(f.props.get("speed_kph") or 30),
        "length_m": round(float(f.props.get("length_m") or 0) or _length(f.geom), 1),
        "illustrative": _illustrative(f),
        "geom": _g(f.geom),
    }


def _length(geom: shapely.Geometry) -> float:
    return float(to_metric(geom).length)


def _address_row(f: gb.Feature) -> dict:
    p = f.props
    return {
        "kind": p.get("kind") or "house",
        "address": p["address"],
        "road": p.get("road"),
        "number": p.get("number"),
        "compound": p.get("compound"),
        "building": p.get("building"),
        "name": p.get("name"),
        "place_type": p.get("place_type"),
        "illustrative": _illustrative(f),
        "geom": _g(f.geom),
    }


def _upsert_stations(session: Session, features: list[gb.Feature]) -> int:
    """Insert or update stations by code (parents first); stations not in the file become inactive."""
    existing = {s.code: s for s in session.scalars(select(Station))}
    order = sorted(features, key=lambda f: gb.TIERS.index(f.props["tier"]))
    for f in order:
        code = str(f.props["code"])
        values = {
            "name": f.props["name"],
            "name_en": f.props.get("name_en"),
            "tier": f.props["tier"],
            "parent_code": f.props.get("parent_code") or None,
            "community_code": f.props.get("community_code"),
            "workstation_code": f.props.get("workstation_code"),
            "illustrative": _illustrative(f),
            "active": True,
            "location": _g(f.geom),
        }
        station = existing.get(code)
        if station is None:
            session.add(Station(code=code, **values))
        else:
            for key, value in values.items():
                setattr(station, key, value)
        session.flush()
    listed = {str(f.props["code"]) for f in features}
    for code, station in existing.items():
        if code not in listed:
            station.active = False
    return len(features)


def _copy_coverage(session: Session, previous: int, new: int) -> int:
    """Carry the previous version's coverage over to a new version unchanged."""
    columns = ("station_code", "area_m2", "illustrative", "geom")
    source = select(literal(new), *(getattr(StationCoverage, c) for c in columns))
    result = session.execute(
        insert(StationCoverage).from_select(
            ("version_id", *columns), source.where(StationCoverage.version_id == previous)
        )
    )
    return result.rowcount


def _checksums(folder: str | Path) -> dict[str, str]:
    folder = Path(folder)
    return {
        spec.file: hashlib.sha256((folder / spec.file).read_bytes()).hexdigest()[:16]
        for spec in gb.LAYERS.values()
        if (folder / spec.file).exists()
    }
