"""Redrawing station coverage: a planner's proposal checked, its impact measured, then saved as a new
boundary version (with new "X" stations when the proposal adds them).

A proposal is JSON: ``{"coverage": FeatureCollection (properties: station_code, and "carve": true on
the territories drawn over the others), "new_stations": [{"code", "name", "lon", "lat",
"parent_code"?}], "reason": ..., "reassign": "move" | "keep", "base_version": N,
"allow_multipart": false | true | [codes], "cells": {grid cell code: station code}}``. Every drawn geometry
passes gis.carving's sanity checks first; the drawn territories are carved into the others and clipped to
the town (gis.carving.carve), so a new station's territory can simply be drawn across any edge. Painted
cells (`cells`) apply last: a station's territory loses the cells painted to others and gains those painted
to it (gis.painting), and the result is carved the same way. The preview's problems carry their place on
the map (GeoJSON, lon/lat) and their area, and name the stations by name and code. A save names the version it was
drawn on (`base_version`) and holds the boundary lock: a save on a stale base answers 409 with the
versions saved since, and the chain of versions stays linear. `restore` writes a new version with an
earlier version's coverage (the planner's undo).
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import shapely
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point, shape
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.accounts import audit
from app.cases import machine
from app.cases.models import Case
from app.cases.reassign import reassign as reassign_cases
from app.db import found
from app.errors import Conflict, InputError
from app.territory import boundaries as bs
from app.territory import caches
from app.territory import diff as changes
from app.territory.models import BoundaryDraft, BoundaryVersion, Station, StationCoverage
from gis import carving, painting
from gis import validation as gb
from gis.crs import STORAGE_EPSG, metric_area, to_metric
from gis.ownership import Area, OwnershipIndex

STATION_CODE = re.compile(r"^[A-Z]{1,3}-[0-9A-Z]{1,6}$")
PAST_DAYS = 90
# A territory made of painted cells follows every cell edge: more vertices than a drawn one may have, and
# made by the server from stored cells, so the drawing limit does not apply (8,630 cells have ~50,000).
PAINTED_MAX_VERTICES = 200_000


@dataclass
class Proposal:
    """A checked proposal: the territories (carved), the new stations, and what carving found."""

    features: list[gb.Feature]
    new_stations: list[dict]
    problems: list[carving.Problem] = field(default_factory=list)
    drawn: list[str] = field(default_factory=list)


def parse(session: Session, payload: Mapping[str, Any]) -> Proposal:
    """The proposal's territories (the drawn ones carved into the others) and new stations; every drawn
    geometry passes the sanity checks (gis.carving) before any other geometry work. InputError names the
    first thing that is wrong; what carving finds (a neighbour cut in two...) is in `problems`."""
    town = caches.ownership(session).town
    limits = carving.proposal_limits(town)
    new_stations = _new_stations(session, payload.get("new_stations") or [], limits)
    known = set(session.scalars(select(Station.code).where(Station.active.is_(True)))) | {
        s["code"] for s in new_stations}
    drawn: dict[str, shapely.Geometry] = {}
    kept: dict[str, shapely.Geometry] = {}
    for i, f in enumerate(payload["coverage"].get("features") or []):
        props = f.get("properties") or {}
        code = props.get("station_code")
        if code not in known:
            raise InputError(f"coverage[{i}]", f"unknown station {code!r}", message_zh=f"没有编号为 {code} 的站点")
        _refuse(carving.check_proposal_geometry(f.get("geometry"), f"coverage[{i}]", limits))
        if code in drawn or code in kept:
            raise InputError("coverage", f"one territory per station: {code} appears more than once",
                             message_zh=f"每个站点只能有一个辖区：{code} 出现了不止一次")
        (drawn if props.get("carve") else kept)[code] = shape(f["geometry"])
    cells = payload.get("cells") or {}
    if not drawn and not cells:
        features = [gb.Feature(c, gb.as_multipolygon(g), {"station_code": c}) for c, g in kept.items()]
        return Proposal(features, new_stations)
    # Drawn territories carve into the current tiling: stations the proposal leaves out keep their territory.
    current = {a.code: a.geom for a in caches.ownership(session).coverage}
    territories: dict[str, shapely.Geometry] = {**current, **kept}
    multipart = _multipart(payload)
    problems: list[carving.Problem] = []
    if drawn:
        result = carving.carve(territories, drawn, town, allow_multipart=multipart, limits=limits)
        if not cells or not result.ok:
            return Proposal(result.features(), new_stations, result.problems, sorted(drawn))
        territories, problems = dict(result.territories), result.problems
    # Painted cells last: each changed station's territory is its own without the painted cells, plus its cells.
    painted = {c: g for c, g in _painted(session, territories, cells, known).items() if not g.is_empty}
    result = carving.carve(territories, painted, town, allow_multipart=multipart,
                           limits=dataclasses.replace(limits, max_vertices=PAINTED_MAX_VERTICES))
    problems = [p for p in problems if p.severity == "warning"] + result.problems
    problems += _pieces(result, territories, painted, multipart)
    return Proposal(result.features(), new_stations, problems, sorted(set(drawn) | set(painted)))


def _pieces(result: carving.Carved, before: Mapping[str, shapely.Geometry], painted: Mapping[str, shapely.Geometry],
            multipart: bool | list[str]) -> list[carving.Problem]:
    """Painted territories in more pieces than they had (cells given apart from the station's territory):
    carving compares with the painted shape itself, so the count before painting is checked here."""
    problems = []
    for code in painted:
        after = result.territories.get(code)
        had = before.get(code)
        n_before = int(shapely.get_num_geometries(had)) if had is not None and not had.is_empty else 1
        if after is None or int(shapely.get_num_geometries(after)) <= max(n_before, 1):
            continue
        if any(p.code == "multipart" and p.field == code for p in result.problems):
            continue
        allowed = multipart is True or (not isinstance(multipart, bool) and code in multipart)
        problems.append(carving.split_problem(code, to_metric(after), allowed))
    return problems


def _painted(session: Session, territories: Mapping[str, shapely.Geometry], cells: Mapping[str, str],
             known: set[str]) -> dict[str, shapely.Geometry]:
    """The territories the painted cells change (gis.painting); a cell or station that does not exist is a 422
    naming it."""
    geoms = {a.code: a.geom for a in caches.ownership(session).cells}
    for cell, station in cells.items():
        if cell not in geoms:
            raise InputError(f"cells.{cell}", f"unknown grid cell {cell[:40]!r}: not a cell of the current boundary "
                             "version", message_zh=f"当前边界版本中没有编号为 {cell[:40]} 的网格")
        if station not in known:
            raise InputError(f"cells.{cell}", f"cell {cell} is given to unknown station {station!r}",
                             message_zh=f"网格 {cell} 分配给了不存在的站点 {station}")
    return painting.paint(territories, {c: geoms[c] for c in cells}, cells)


def _refuse(problems: list[carving.Problem]) -> None:
    """The first error of the sanity checks as an InputError (422), in English and Chinese."""
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InputError(errors[0].field, errors[0].message_en, message_zh=errors[0].message_zh, code=errors[0].code)


def _multipart(payload: Mapping[str, Any]) -> bool | list[str]:
    allowed = payload.get("allow_multipart", False)
    return allowed if isinstance(allowed, bool) else [str(c) for c in allowed]


def _new_stations(session: Session, items: list, limits: carving.Limits) -> list[dict]:
    out: list[dict] = []
    existing = set(session.scalars(select(Station.code)))
    for i, s in enumerate(items):
        code, name = s["code"], s["name"].strip()
        if not STATION_CODE.match(code):
            raise InputError(f"new_stations[{i}].code", "code must look like JS-004 (letters, dash, digits)",
                             message_zh="站点编号应形如 JS-004（字母、短横线、数字）")
        if code in existing or code in {o["code"] for o in out}:
            raise InputError(f"new_stations[{i}].code", f"station {code} already exists",
                             message_zh=f"站点 {code} 已存在")
        lon, lat = float(s["lon"]), float(s["lat"])
        if not limits.covers(np.array([lon]), np.array([lat]))[0]:
            raise InputError(f"new_stations[{i}]", f"station {code} at {lon:.5f}, {lat:.5f} is far outside the town",
                             message_zh=f"站点 {code} 的位置远在本镇之外")
        out.append({"code": code, "name": name, "lon": lon, "lat": lat, "parent_code": s.get("parent_code") or "TC"})
    return out


def check(session: Session, payload: Mapping[str, Any], now: datetime | None = None) -> dict:
    """POST /api/v1/planning/coverage/preview: a proposal parsed, carved, validated and its impact measured."""
    return preview(session, parse(session, payload), now)


def preview(session: Session, proposal: Proposal, now: datetime | None = None) -> dict:
    """Validation and impact of a proposal, without writing anything.

    `errors` and `warnings` are English; `problems` carries each with its field or station, a code, the
    message in English and Chinese naming the stations, its area and its place as GeoJSON (the planner
    console draws them)."""
    now = now or datetime.now(UTC)
    index = caches.ownership(session)
    features, new_stations = proposal.features, proposal.new_stations
    carved = [p for p in proposal.problems if p.code != "gap"]  # gaps: judged on the result, below
    problems = carved + _tiling_problems(session, index.town, features, new_stations)
    problems += _station_problems(session, index, features, new_stations)
    names = dict(session.execute(select(Station.code, Station.name)).all()) | {
        s["code"]: s["name"] for s in new_stations}
    names_en = {code: en or names.get(code, code)
                for code, en in session.execute(select(Station.code, Station.name_en)).all()} | {
        s["code"]: s["name"] for s in new_stations}
    proposed = OwnershipIndex(
        version=-1, town=index.town, town_center=index.town_center, towns=index.towns, town_centers=index.town_centers,
        coverage=[Area(f.fid, names.get(f.fid, f.fid), f.geom) for f in features],
        communities=index.communities, workstations=index.workstations, cells=index.cells,
        near_m=index.near_m, pixel_m=None,
    )
    errors = [p for p in problems if p.severity == "error"]
    impact = _impact(session, index, proposed, features, names, now)
    moving = Counter({(f["from"], f["to"]): f["open"] for f in impact["flows"] if f["open"]})
    return {
        "valid": not errors, "errors": [p.message_en for p in errors],
        "warnings": [p.message_en for p in problems if p.severity == "warning"],
        "problems": [problem_json(p, names, names_en) for p in problems],
        **impact,
        # the map of what changes: cells (and open cases) that move from one station to another
        "changes": changes.moved_cells({a.code: a.geom for a in index.cells}, {a.code: a.geom for a in index.coverage},
                                       {f.fid: f.geom for f in features}, index.town_center["code"], names, moving),
        "coverage": {"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": shapely.geometry.mapping(f.geom),
             "properties": {"station_code": f.fid, "name": names.get(f.fid, f.fid),
                            "carve": f.fid in proposal.drawn}} for f in features]},
    }


STATION_TOKEN = re.compile(r"\b[A-Z]{1,3}-[0-9A-Z]{1,6}\b")


def problem_json(p: carving.Problem, names: Mapping[str, str], names_en: Mapping[str, str]) -> dict:
    """A problem for the API: the stations it names (by name and code in both messages), its area in m²
    and its place as GeoJSON (lon/lat), or null."""
    stations = sorted({m for m in STATION_TOKEN.findall(f"{p.field} {p.message_en}") if m in names})

    def named(text: str, by: Mapping[str, str], left: str, right: str) -> str:
        return STATION_TOKEN.sub(lambda m: f"{by[m[0]]}{left}{m[0]}{right}" if m[0] in by and by[m[0]] != m[0]
                                 else m[0], text)

    return {"field": p.field, "code": p.code, "severity": p.severity, "stations": stations,
            "message_en": named(p.message_en, names_en, " (", ")"),
            "message_zh": named(p.message_zh, names, "（", "）"),
            "area_m2": round(p.area_m2, 1) if p.area_m2 is not None else None,
            "geometry": shapely.geometry.mapping(p.geometry) if p.geometry is not None else None}


def _tiling_problems(session: Session, town: shapely.Geometry, features: list[gb.Feature],
                     new_stations: list[dict]) -> list[carving.Problem]:
    """Overlaps, parts outside the town and gaps of the whole coverage, with their places
    (gis.carving.tiling_problems); the validator of the writes (known stations...) judges it too, and any
    error it finds that those did not is reported as it says it."""
    problems = carving.tiling_problems({f.fid: f.geom for f in features}, town)
    layers = bs.current_layers(session)
    layers["stations"] = layers["stations"] + [
        gb.Feature(s["code"], Point(s["lon"], s["lat"]),
                   {"code": s["code"], "name": s["name"], "tier": "joint_station", "parent_code": s["parent_code"]})
        for s in new_stations]
    layers["station_coverage"] = features
    try:
        bs.validate(layers, {"station_coverage"})
    except gb.LayerError as exc:
        if not any(p.severity == "error" for p in problems):
            problems += [carving.Problem("coverage", "invalid_tiling", text, f"辖区划分不成立：{text}")
                         for text in exc.problems]
    return problems


def _station_problems(session: Session, index: OwnershipIndex, features: list[gb.Feature],
                      new_stations: list[dict]) -> list[carving.Problem]:
    """New stations in the town and inside their own territory; a joint-duty station left without one (each
    placed at the station's point)."""
    places = {code: to_shape(at) for code, at in session.execute(select(Station.code, Station.location)).all()
              if at is not None}
    places |= {s["code"]: Point(s["lon"], s["lat"]) for s in new_stations}

    def at(code: str) -> dict:
        return {"geometry": places.get(code)}

    problems = [carving.Problem(s["code"], "station_outside_town", f"station {s['code']} lies outside the town",
                                f"站点 {s['code']} 位于本镇之外", **at(s["code"]))
                for s in new_stations if not index.town.covers(Point(s["lon"], s["lat"]))]
    territories = {f.fid: f.geom for f in features}
    points = {s["code"]: Point(s["lon"], s["lat"]) for s in new_stations}
    problems += [p for p in carving.station_point_problems(points, territories)]
    joint = session.scalars(select(Station.code).where(Station.active.is_(True), Station.tier == "joint_station"))
    problems += [carving.Problem(code, "no_territory", f"station {code} is left without territory",
                                 f"站点 {code} 没有辖区", "warning", **at(code))
                 for code in joint if code not in territories]
    problems += [carving.Problem(s["code"], "no_territory", f"new station {s['code']} has no territory",
                                 f"新站点 {s['code']} 没有辖区", **at(s["code"]))
                 for s in new_stations if s["code"] not in territories]
    return problems


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


def save(session: Session, actor: str, payload: Mapping[str, Any], now: datetime | None = None) -> dict:
    """Write the proposal as a new boundary version on the version it was drawn on; move open cases when
    asked. 409 when another version was saved since. The caller commits."""
    reason = _reason(payload)
    _lock_base(session, payload)
    proposal = parse(session, payload)
    near_m = caches.ownership(session).near_m  # before the new version exists in this transaction
    checked = preview(session, proposal, now)
    if not checked["valid"]:
        errors = [p for p in checked["problems"] if p["severity"] == "error"]
        raise InputError("coverage", "the proposal is not valid: " + "; ".join(checked["errors"]),
                         errors=checked["errors"], problems=errors,
                         message_zh="方案不成立：" + "；".join(p["message_zh"] for p in errors))
    for s in proposal.new_stations:
        session.add(Station(code=s["code"], name=s["name"], tier="joint_station", parent_code=s["parent_code"],
                            active=True, location=from_shape(Point(s["lon"], s["lat"]), srid=STORAGE_EPSG)))
        audit.record(session, actor, "station.create", "station", s["code"], after=s)
    session.flush()
    summary = _write_coverage(session, proposal.features, actor, reason, "coverage_edit")
    audit.record(session, actor, "boundaries.coverage_edit", "boundary_version", summary.version_id,
                 after={"reason": reason, "stations": [f.fid for f in proposal.features],
                        "new_stations": [s["code"] for s in proposal.new_stations],
                        "reassign": payload.get("reassign") or "move"})
    moved = _reassign(session, summary.version_id, near_m, actor, payload)
    return {"boundary_version": summary.version_id, "reassigned": moved, "impact": {
        k: checked[k] for k in ("flows", "stations", "warnings")}}


def create_draft(session: Session, actor: str, payload: Mapping[str, Any]) -> BoundaryDraft:
    """POST /api/v1/planning/drafts: the planner's proposal kept as a draft, not published (no boundary version
    is written). The proposal passes the checks of a preview first; its base is the current version."""
    title = (payload.get("title") or "").strip()
    proposal = dict(payload["proposal"])
    try:
        parse(session, proposal)
    except InputError as exc:
        raise InputError(f"proposal.{exc.field}", exc.message, exc.status, error=exc.error, **exc.extra) from None
    draft = BoundaryDraft(kind="planner", status="draft", title=title[:200],
                          base_version_id=proposal.get("base_version") or bs.current_version_id(session),
                          proposal=proposal, stats={}, created_by=actor, updated_by=actor)
    session.add(draft)
    session.flush()
    audit.record(session, actor, "boundary_draft.create", "boundary_draft", draft.id,
                 after={"title": draft.title, "base_version_id": draft.base_version_id,
                        "cells": len(proposal.get("cells") or {}),
                        "new_stations": [s.get("code") for s in proposal.get("new_stations") or []]})
    return draft


def restore(session: Session, actor: str, version_id: int, payload: Mapping[str, Any]) -> dict:
    """A new version whose station coverage is that of an earlier version (roll back a bad edit); moves open
    cases when asked. The caller commits."""
    reason = _reason(payload)
    _lock_base(session, payload)
    found(session, BoundaryVersion, version_id, "boundary version")  # it exists
    features = [gb.Feature(c.station_code, to_shape(c.geom), {"station_code": c.station_code})
                for c in session.scalars(select(StationCoverage).where(StationCoverage.version_id == version_id))]
    near_m = caches.ownership(session).near_m
    summary = _write_coverage(session, features, actor, reason, "restore")
    restored = sorted(f.fid for f in features)
    session.execute(update(Station).where(Station.code.in_(restored)).values(active=True))
    audit.record(session, actor, "boundaries.restore", "boundary_version", summary.version_id,
                 after={"reason": reason, "restored_from": version_id, "stations": restored})
    joint = session.scalars(select(Station.code).where(Station.active.is_(True), Station.tier == "joint_station"))
    return {"boundary_version": summary.version_id, "restored_from": version_id,
            "reassigned": _reassign(session, summary.version_id, near_m, actor, payload),
            "without_territory": sorted(set(joint) - set(restored))}


def _reason(payload: Mapping[str, Any]) -> str:
    reason = (payload.get("reason") or "").strip()
    if not reason:
        raise InputError("reason", "a reason is required for a new boundary version (at most 500 characters)",
                         message_zh="请填写修改原因（最多500字）")
    if payload.get("reassign", "move") not in ("move", "keep"):
        raise InputError("reassign", "reassign must be move (open cases go to the new owners) or keep")
    return reason


def _lock_base(session: Session, payload: Mapping[str, Any]) -> None:
    """Hold the boundary lock, then the version the proposal was drawn on must still be the current one."""
    base = payload.get("base_version")
    if base is None:
        raise InputError("base_version", "base_version is missing: the boundary version the proposal was drawn on "
                         "(GET /api/v1/boundaries/versions)", 400, error="missing_field",
                         message_zh="缺少 base_version：方案所依据的边界版本号")
    bs.lock_for_write(session)
    current = bs.current_version_id(session)
    if base != current:
        since = bs.versions_since(session, base)
        raise Conflict("stale_base", f"the proposal was drawn on boundary version {base}, but version {current} has "
                       "been saved since: reload the coverage, redo the change and check again",
                       base_version=base, current_version=current, changes=since,
                       message_zh=f"方案基于边界版本 {base}，此后已保存了版本 {current}：请重新载入辖区后再修改")


def _write_coverage(session: Session, features: list[gb.Feature], actor: str, reason: str, kind: str):
    layers = bs.current_layers(session)
    layers["station_coverage"] = features
    summary = bs.write_version(session, layers, {"station_coverage"}, actor, reason, kind, None)
    session.flush()
    return summary


def _reassign(session: Session, version_id: int, near_m: float, actor: str, payload: Mapping[str, Any]) -> dict | None:
    if (payload.get("reassign") or "move") != "move":
        return None
    result = reassign_cases(session, caches.build_index(session, version_id, near_m), actor, open_only=True)
    return {"checked": result.checked, "moved": result.moved,
            "flows": [{"from": a, "to": b, "cases": n} for (a, b), n in sorted(result.flows.items())]}
