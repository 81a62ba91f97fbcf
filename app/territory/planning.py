"""Redrawing station coverage: a planner's proposal checked, its impact measured, then saved as a new
boundary version (with new "X" stations when the proposal adds them).

A proposal is JSON: ``{"coverage": FeatureCollection (properties: station_code, and "carve": true on
the territories that take precedence), "new_stations": [{"code", "name", "lon", "lat",
"parent_code"?}], "reason": ..., "reassign": "move" | "keep"}``. Carving subtracts the carved
territories from every other one, so a new station's territory can simply be drawn over the old ones.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import Point, shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.cases import machine
from app.cases.models import Case
from app.cases.reassign import reassign as reassign_cases
from app.errors import InputError
from app.territory import boundaries as bs
from app.territory import caches
from app.territory.models import Station
from gis import validation as gb
from gis.crs import STORAGE_EPSG, metric_area
from gis.ownership import Area, OwnershipIndex

STATION_CODE = re.compile(r"^[A-Z]{1,3}-[0-9A-Z]{1,6}$")
PAST_DAYS = 90


def parse(session: Session, payload: object) -> tuple[list[gb.Feature], list[dict]]:
    """The proposal's coverage features (carving applied) and new stations; InputError names what is wrong."""
    if not isinstance(payload, dict):
        raise InputError("body", "send a JSON object", 400, error="invalid_body")
    new_stations = _new_stations(session, payload.get("new_stations") or [])
    collection = payload.get("coverage")
    if not isinstance(collection, dict) or not isinstance(collection.get("features"), list):
        raise InputError("coverage", "coverage must be a GeoJSON FeatureCollection", 400)
    known = set(session.scalars(select(Station.code).where(Station.active.is_(True)))) | {
        s["code"] for s in new_stations}
    features, carve = [], []
    for i, f in enumerate(collection["features"]):
        props = (f or {}).get("properties") or {}
        code = props.get("station_code")
        if code not in known:
            raise InputError(f"coverage[{i}]", f"unknown station {code!r}")
        try:
            geom = shape(f["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"coverage[{i}]", f"not a GeoJSON geometry: {exc}") from None
        if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
            raise InputError(f"coverage[{i}]", f"station {code}: a territory must be a polygon")
        if not geom.is_valid:
            raise InputError(f"coverage[{i}]", f"station {code}: invalid polygon ({shapely.is_valid_reason(geom)})")
        features.append(gb.Feature(code, geom, {"station_code": code}))
        carve.append(bool(props.get("carve")))
    codes = [f.fid for f in features]
    if len(set(codes)) != len(codes):
        twice = sorted(c for c, n in Counter(codes).items() if n > 1)
        raise InputError("coverage", f"one territory per station: {', '.join(twice)} appear more than once")
    return _carve(features, carve), new_stations


def _new_stations(session: Session, items: object) -> list[dict]:
    if not isinstance(items, list):
        raise InputError("new_stations", "new_stations must be a list", 400)
    out = []
    existing = set(session.scalars(select(Station.code)))
    for i, s in enumerate(items):
        if not isinstance(s, dict):
            raise InputError(f"new_stations[{i}]", "each new station is an object", 400)
        code, name = s.get("code"), s.get("name")
        if not isinstance(code, str) or not STATION_CODE.match(code):
            raise InputError(f"new_stations[{i}].code", "code must look like JS-004 (letters, dash, digits)")
        if code in existing or code in {o["code"] for o in out}:
            raise InputError(f"new_stations[{i}].code", f"station {code} already exists")
        if not isinstance(name, str) or not name.strip() or len(name) > 80:
            raise InputError(f"new_stations[{i}].name", "name is required (at most 80 characters)")
        try:
            lon, lat = float(s["lon"]), float(s["lat"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"new_stations[{i}].lon", "lon and lat of the station are required", 400) from None
        parent = s.get("parent_code") or "TC"
        out.append({"code": code, "name": name.strip(), "lon": lon, "lat": lat, "parent_code": parent})
    return out


def _carve(features: list[gb.Feature], carve: list[bool]) -> list[gb.Feature]:
    carved = [f.geom for f, c in zip(features, carve, strict=True) if c]
    if not carved:
        return features
    cutter = shapely.union_all(carved)
    out = []
    for f, c in zip(features, carve, strict=True):
        geom = f.geom if c else shapely.make_valid(f.geom.difference(cutter))
        polys = [g for g in shapely.get_parts(geom) if g.geom_type == "Polygon" and g.area > 0]
        if polys:
            out.append(gb.Feature(f.fid, gb.as_multipolygon(shapely.MultiPolygon(polys)), f.props))
    return out


def check(session: Session, payload: object, now: datetime | None = None) -> dict:
    """POST /api/v1/planning/coverage/preview: a proposal parsed, validated and its impact measured."""
    features, new_stations = parse(session, payload)
    return preview(session, features, new_stations, now)


def preview(session: Session, features: list[gb.Feature], new_stations: list[dict],
            now: datetime | None = None) -> dict:
    """Validation and impact of a proposal, without writing anything."""
    now = now or datetime.now(UTC)
    index = caches.ownership(session)
    layers = bs.current_layers(session)
    layers["stations"] = layers["stations"] + [
        gb.Feature(s["code"], Point(s["lon"], s["lat"]),
                   {"code": s["code"], "name": s["name"], "tier": "joint_station", "parent_code": s["parent_code"]})
        for s in new_stations]
    layers["station_coverage"] = features
    errors, warnings = [], []
    try:
        warnings = bs.validate(layers, {"station_coverage"})
    except gb.LayerError as exc:
        errors = list(exc.problems)
    for s in new_stations:
        if not index.town.covers(Point(s["lon"], s["lat"])):
            errors.append(f"station {s['code']} lies outside the town")
    names = dict(session.execute(select(Station.code, Station.name)).all()) | {
        s["code"]: s["name"] for s in new_stations}
    proposed = OwnershipIndex(
        version=-1, town=index.town, town_center=index.town_center,
        coverage=[Area(f.fid, names.get(f.fid, f.fid), f.geom) for f in features],
        communities=index.communities, workstations=index.workstations, cells=index.cells,
        near_m=index.near_m, pixel_m=None,
    )
    return {
        "valid": not errors, "errors": errors, "warnings": warnings,
        **_impact(session, index, proposed, features, names, now),
        "coverage": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": shapely.geometry.mapping(f.geom),
             "properties": {"station_code": f.fid, "name": names.get(f.fid, f.fid)}} for f in features]},
    }


def _impact(session: Session, current: OwnershipIndex, proposed: OwnershipIndex, features: list[gb.Feature],
            names: dict[str, str], now: datetime) -> dict:
    since = now - timedelta(days=PAST_DAYS)
    rows = session.execute(
        select(Case.station_code, Case.state, func.ST_X(Case.geom), func.ST_Y(Case.geom))
        .where((Case.state.not_in(machine.FINAL)) | (Case.first_reported_at >= since))
    ).all()
    flows: Counter = Counter()
    load_before: Counter = Counter()
    load_after: Counter = Counter()
    if rows:
        after = proposed.owners_bulk(np.array([r[2] for r in rows]), np.array([r[3] for r in rows]))["station"]
        for (before, state, _, _), new in zip(rows, after, strict=True):
            kind = "open" if state not in machine.FINAL else "past"
            load_before[(before, kind)] += 1
            load_after[(new, kind)] += 1
            if new != before:
                flows[(before, new, kind)] += 1
    area_before = {a.code: metric_area(a.geom) for a in current.coverage}
    area_after = {f.fid: metric_area(f.geom) for f in features}
    codes = sorted(set(area_before) | set(area_after) | {k[0] for k in load_before} | {k[0] for k in load_after})
    pairs = sorted({(a, b) for a, b, _ in flows})
    return {
        "flows": [{"from": a, "to": b, "open": flows[(a, b, "open")],
                   "past_90_days": flows[(a, b, "open")] + flows[(a, b, "past")]} for a, b in pairs],
        "stations": [{
            "code": c, "name": names.get(c, c),
            "area_km2_before": round(area_before.get(c, 0.0) / 1e6, 3),
            "area_km2_after": round(area_after.get(c, 0.0) / 1e6, 3),
            "open_before": load_before[(c, "open")], "open_after": load_after[(c, "open")],
            "past_90_days_before": load_before[(c, "open")] + load_before[(c, "past")],
            "past_90_days_after": load_after[(c, "open")] + load_after[(c, "past")],
        } for c in codes],
    }


def save(session: Session, actor: str, payload: dict, now: datetime | None = None) -> dict:
    """Write the proposal as a new boundary version; move open cases when asked. The caller commits."""
    reason = payload.get("reason") if isinstance(payload, dict) else None
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise InputError("reason", "a reason is required for a new boundary version (at most 500 characters)")
    reassign = payload.get("reassign", "move")
    if reassign not in ("move", "keep"):
        raise InputError("reassign", "reassign must be move (open cases go to the new owners) or keep")
    features, new_stations = parse(session, payload)
    near_m = caches.ownership(session).near_m  # before the new version exists in this transaction
    checked = preview(session, features, new_stations, now)
    if not checked["valid"]:
        raise InputError("coverage", "the proposal is not valid: " + "; ".join(checked["errors"]),
                         errors=checked["errors"])
    for s in new_stations:
        session.add(Station(code=s["code"], name=s["name"], tier="joint_station", parent_code=s["parent_code"],
                            active=True, location=from_shape(Point(s["lon"], s["lat"]), srid=STORAGE_EPSG)))
        audit.record(session, actor, "station.create", "station", s["code"], after=s)
    session.flush()
    layers = bs.current_layers(session)
    layers["station_coverage"] = features
    summary = bs.write_version(session, layers, {"station_coverage"}, actor, reason.strip(), "coverage_edit", None)
    audit.record(session, actor, "boundaries.coverage_edit", "boundary_version", summary.version_id,
                 after={"reason": reason.strip(), "stations": [f.fid for f in features],
                        "new_stations": [s["code"] for s in new_stations], "reassign": reassign})
    session.flush()
    moved = None
    if reassign == "move":
        new_index = caches.build_index(session, summary.version_id, near_m)
        result = reassign_cases(session, new_index, actor, open_only=True)
        moved = {"checked": result.checked, "moved": result.moved,
                 "flows": [{"from": a, "to": b, "cases": n} for (a, b), n in sorted(result.flows.items())]}
    return {"boundary_version": summary.version_id, "reassigned": moved, "impact": {
        k: checked[k] for k in ("flows", "stations", "warnings")}}
