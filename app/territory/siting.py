"""Siting the X stations (新增联勤联动站) and proposing their territories as a draft boundary version.

Demand is the cases per grid cell over a period (at the cell centres, snapped to the road
network); distances are network metres from a station to the demand. `propose_sites` runs MCLP or
p-median (spopt) with the existing joint-duty stations kept open; `propose_territories` gives
every grid cell to its nearest station over the network (optionally balanced by workload),
dissolves the cells' Voronoi regions inside the town into one territory per station, and stores
the result as a draft (`boundary_drafts`) in the shape the planner console saves.
"""

from __future__ import annotations

import re
import time
from datetime import date

import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import params
from app.accounts import audit
from app.analysis import hotspots as hs
from app.db import found
from app.errors import InputError
from app.field import network as ns
from app.territory import planning
from app.territory.boundaries import current_version_id
from app.territory.models import AdminArea, BoundaryDraft, BoundaryVersion, Station
from gis import allocation as gs
from gis.crs import to_metric, to_storage
from routing.network import RoadNetwork, Snap

CANDIDATE_KINDS = ("intersections", "cells")
DRAFT_STATUSES = ("draft", "saved", "discarded")
MAX_SNAP_M = 1000.0
_JS_CODE = re.compile(r"^JS-(\d+)$")


def _body(payload: object) -> dict:
    if not isinstance(payload, dict):
        raise InputError("body", "send a JSON object", 400, error="invalid_body")
    return payload


def _period(payload: dict) -> tuple[date, date]:
    return hs.period(payload.get("from"), payload.get("to"), default_days=365)


def existing_stations(session: Session) -> list[Station]:
    """The active joint-duty stations (the ones with territories and patrol staff)."""
    return list(session.scalars(select(Station).where(Station.active.is_(True), Station.tier == "joint_station")
                                .order_by(Station.code)))


def _station_snaps(net: RoadNetwork, stations: list[Station]) -> list[Snap]:
    out = []
    for s in stations:
        p = to_shape(s.location)
        out.append(ns.snap(net, p.x, p.y, f"station {s.code}", MAX_SNAP_M))
    return out


def _demand(session: Session, net: RoadNetwork, cells: hs.CellSet, start: date, end: date, prefixes: list[str]):
    y = hs.counts(session, cells, start, end, prefixes)
    idx = np.flatnonzero(y > 0)
    snaps = net.snap_many(cells.xy[idx], MAX_SNAP_M) if len(idx) else []
    keep = [k for k, s in enumerate(snaps) if s is not None]
    return idx[keep], y[idx[keep]], [snaps[k] for k in keep], float(y.sum() - y[idx[keep]].sum())


def _lonlat(x: float, y: float) -> tuple[float, float]:
    p = to_storage(shapely.Point(x, y))
    return round(p.x, 7), round(p.y, 7)


def propose_sites(session: Session, payload: object) -> dict:
    """POST /api/v1/planning/sites: k new sites by MCLP or p-median, with coverage before and after."""
    payload = _body(payload)
    k = params.body_number(payload, "k", 1, 1, 10, int)
    service = params.body_number(payload, "service_m", 1500.0, 100.0, 20000.0)
    method = payload.get("method", "mclp")
    if method not in gs.METHODS:
        raise InputError("method", f"method must be one of {', '.join(gs.METHODS)}")
    kind = payload.get("candidates", "intersections")
    if kind not in CANDIDATE_KINDS:
        raise InputError("candidates", f"candidates must be one of {', '.join(CANDIDATE_KINDS)}")
    # p-median has a variable per demand cell and candidate: fewer candidates keep it within a request
    limit = params.body_number(payload, "max_candidates", 150 if method == "mclp" else 50, 10, 1000, int)
    time_limit = params.body_number(payload, "time_limit_s", 10.0, 1.0, 120.0)
    prefixes = hs.categories(payload.get("category"))
    start, end = _period(payload)

    net, cells = ns.get(session), hs.cell_set(session)
    stations = existing_stations(session)
    idx, weights, demand_snaps, unreachable = _demand(session, net, cells, start, end, prefixes)
    if not len(idx):
        raise InputError("from", "no cases in this period and category to site stations for")
    if kind == "intersections":
        nodes = net.intersections()
        cand_snaps = [net.node_snap(n) for n in nodes]
        cand_refs = [f"node:{n}" for n in nodes]
    else:
        cand_snaps, cand_refs = demand_snaps, [cells.codes[i] for i in idx]
    facilities = _station_snaps(net, stations) + cand_snaps
    cost = net.costs(facilities, demand_snaps, "length").T  # demand x facilities
    n_exist = len(stations)
    shortlist = gs.candidate_shortlist(cost[:, n_exist:], weights, service, limit) + n_exist
    columns = list(range(n_exist)) + [int(c) for c in shortlist]
    sub = cost[:, columns]
    predefined = np.array([True] * n_exist + [False] * len(shortlist))
    if k > len(shortlist):
        raise InputError("k", f"only {len(shortlist)} candidate sites for {k} new stations")
    t0 = time.perf_counter()
    result = gs.solve(sub, weights, k, method, service, predefined, time_limit)
    seconds = time.perf_counter() - t0
    chosen_new = [c for c in result.chosen if c >= n_exist]
    before = gs.coverage(sub, weights, list(range(n_exist)), service)
    after = gs.coverage(sub, weights, result.chosen, service)
    features = []
    for rank, c in enumerate(chosen_new, start=1):
        snap = facilities[columns[c]]
        lon, lat = _lonlat(snap.x, snap.y)
        own = sub[:, c] <= service
        point = {"type": "Point", "coordinates": [lon, lat]}
        features.append({"type": "Feature", "id": f"site-{rank}", "geometry": point,
                         "properties": {"rank": rank, "candidate": cand_refs[columns[c] - n_exist],
                                        "demand_within_service": float(weights[own].sum()),
                                        "lon": lon, "lat": lat}})
    return {
        "method": method, "k": k, "service_m": service, "from": start.isoformat(), "to": end.isoformat(),
        "category": prefixes,
        "demand": {"cells": int(len(idx)), "cases": float(weights.sum()), "cases_off_network": unreachable},
        "candidates": {"kind": kind, "considered": len(cand_snaps), "shortlisted": len(shortlist)},
        "existing": [_station_json(s) for s in stations],
        "sites": {"type": "FeatureCollection", "features": features},
        "coverage": {"before": before, "after": after,
                     "gain_share": round(after["covered_share"] - before["covered_share"], 4)},
        "solver": {"status": result.status, "seconds": round(seconds, 2), "time_limit_s": time_limit},
    }


def _station_json(s: Station) -> dict:
    p = to_shape(s.location)
    return {"code": s.code, "name": s.name, "lon": round(p.x, 7), "lat": round(p.y, 7)}


# --- territories -----------------------------------------------------------------------------------

def _new_sites(session: Session, items: object) -> list[dict]:
    if not isinstance(items, list) or not items:
        raise InputError("sites", "sites must be a non-empty list of {lon, lat, name?}")
    taken = set(session.scalars(select(Station.code)))
    numbers = [int(m.group(1)) for c in taken if (m := _JS_CODE.match(c))]
    next_no = max(numbers, default=0) + 1
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(f"sites[{i}]", "each site is an object {lon, lat, name?}")
        lon, lat = item.get("lon"), item.get("lat")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lon, lat)):
            raise InputError(f"sites[{i}]", "lon and lat must be numbers (WGS84)")
        code = item.get("code") or f"JS-{next_no:03d}"
        if code in taken or any(code == s["code"] for s in out):
            raise InputError(f"sites[{i}].code", f"station code {code} is already taken")
        if not item.get("code"):
            next_no += 1
        name = item.get("name") or f"新增联勤联动站{len(out) + 1}（规划）"
        out.append({"code": code, "name": name, "lon": float(lon), "lat": float(lat), "parent_code": "TC"})
    return out


def propose_territories(session: Session, actor: str, payload: object) -> BoundaryDraft:
    """POST /api/v1/planning/territories: a draft with a territory for every joint-duty station, old and new."""
    payload = _body(payload)
    balance = payload.get("balance", False)
    if not isinstance(balance, bool):
        raise InputError("balance", "balance must be true or false")
    tolerance = params.body_number(payload, "tolerance", 0.2, 0.01, 1.0)
    prefixes = hs.categories(payload.get("category"))
    start, end = _period(payload)
    new_sites = _new_sites(session, payload.get("sites"))
    version = current_version_id(session)
    net, cells = ns.get(session), hs.cell_set(session)
    stations = existing_stations(session)
    codes = [s.code for s in stations] + [s["code"] for s in new_sites]
    names = [s.name for s in stations] + [s["name"] for s in new_sites]
    snaps = _station_snaps(net, stations)
    for i, s in enumerate(new_sites):
        snaps.append(ns.snap(net, s["lon"], s["lat"], f"sites[{i}]", MAX_SNAP_M))
    cell_snaps = net.snap_many(cells.xy, MAX_SNAP_M)
    cost = _cell_costs(net, snaps, cell_snaps, cells.xy)
    workload = hs.counts(session, cells, start, end, prefixes)
    choice = gs.assign(cost, workload, balance=balance, tolerance=tolerance)
    town = _town(session)
    polygons = territories(cells.xy, choice, len(codes), to_metric(town))
    features = [{"type": "Feature", "geometry": mapping(to_storage(poly)),
                 "properties": {"station_code": code, "carve": False}}
                for code, poly in zip(codes, polygons, strict=True) if poly is not None and not poly.is_empty]
    before = _workload_before(cells, workload, codes)
    stats = {
        "from": start.isoformat(), "to": end.isoformat(), "category": prefixes, "balance": balance,
        "tolerance": tolerance, "stations": [
            {"code": c, "name": n, "new": c in {s["code"] for s in new_sites},
             "cells": int((choice == j).sum()), "workload": float(workload[choice == j].sum()),
             "workload_before": before.get(c, 0.0),
             "area_km2": round(polygons[j].area / 1e6, 3) if polygons[j] is not None else 0.0}
            for j, (c, n) in enumerate(zip(codes, names, strict=True))],
    }
    title = payload.get("title") or f"新增{len(new_sites)}个联勤联动站的辖区方案"
    reason = payload.get("reason") or title
    draft = BoundaryDraft(kind="territories", status="draft", title=str(title)[:200], base_version_id=version,
                          proposal={"coverage": {"type": "FeatureCollection", "features": features},
                                    "new_stations": new_sites, "reason": str(reason), "reassign": "move"},
                          stats=stats, created_by=actor, updated_by=actor)
    session.add(draft)
    session.flush()
    audit.record(session, actor, "boundary_draft.create", "boundary_draft", draft.id,
                 after={"title": draft.title, "stations": codes, "base_version_id": version})
    return draft


def _cell_costs(net: RoadNetwork, stations: list[Snap], cell_snaps: list[Snap | None], xy: np.ndarray) -> np.ndarray:
    """cells x stations network metres; straight-line metres (x 1.5) for cells far from every road."""
    ok = [i for i, s in enumerate(cell_snaps) if s is not None]
    cost = np.full((len(cell_snaps), len(stations)), np.inf)
    if ok:
        cost[ok] = net.costs(stations, [cell_snaps[i] for i in ok], "length").T
    station_xy = np.array([[s.x, s.y] for s in stations])
    straight = np.hypot(xy[:, None, 0] - station_xy[None, :, 0], xy[:, None, 1] - station_xy[None, :, 1]) * 1.5
    return np.where(np.isfinite(cost), cost, straight)


def territories(xy: np.ndarray, choice: np.ndarray, m: int, town: shapely.Geometry) -> list:
    """One polygon per station: the union of its cells' Voronoi regions, inside the town (metric)."""
    regions = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=town, ordered=True)
    parts = np.array(list(regions.geoms), dtype=object)
    out = []
    for j in range(m):
        mine = parts[choice == j]
        if not len(mine):
            out.append(None)
            continue
        out.append(shapely.intersection(shapely.coverage_union_all(mine), town))
    return out


def _town(session: Session):
    row = session.scalar(select(func.ST_Union(AdminArea.geom))  # a district: its towns together
                        .where(AdminArea.level == "town", AdminArea.version_high.is_(None)))
    if row is None:
        raise InputError("boundaries", "no town boundary is loaded", 409, error="no_boundaries")
    return to_shape(row)


def _workload_before(cells: hs.CellSet, workload: np.ndarray, codes: list[str]) -> dict:
    out: dict[str, float] = {c: 0.0 for c in codes}
    for i, s in enumerate(cells.station):
        if s in out:
            out[s] += float(workload[i])
    return out


# --- drafts ----------------------------------------------------------------------------------------

def draft_json(d: BoundaryDraft, full: bool = True) -> dict:
    """JSON of a draft; the list leaves out the proposal."""
    body = {"id": d.id, "kind": d.kind, "status": d.status, "title": d.title, "base_version_id": d.base_version_id,
            "saved_version_id": d.saved_version_id, "created_by": d.created_by,
            "created_at": d.created_at.isoformat() if d.created_at else None, "updated_by": d.updated_by,
            "updated_at": d.updated_at.isoformat() if d.updated_at else None, "stats": d.stats}
    if full:
        body["proposal"] = d.proposal
    return body


def get_draft(session: Session, draft_id: int) -> BoundaryDraft:
    """A draft or NotFound."""
    d = found(session, BoundaryDraft, draft_id, "boundary draft")
    return d


def list_drafts(session: Session, status: str | None = None) -> list[dict]:
    """Drafts, newest first."""
    q = select(BoundaryDraft).order_by(BoundaryDraft.id.desc()).limit(200)
    if status:
        if status not in DRAFT_STATUSES:
            raise InputError("status", f"status must be one of {', '.join(DRAFT_STATUSES)}")
        q = q.where(BoundaryDraft.status == status)
    return [draft_json(d, full=False) for d in session.scalars(q)]


def _checked_proposal(session: Session, proposal: dict) -> dict:
    """A draft's proposal passes the same checks as a proposal sent to preview (its fields named proposal.*)."""
    try:
        planning.parse(session, proposal)
    except InputError as exc:
        raise InputError(f"proposal.{exc.field}", exc.message, exc.status, error=exc.error, **exc.extra) from None
    return proposal


def update_draft(session: Session, actor: str, draft_id: int, payload: object) -> BoundaryDraft:
    """PUT a draft: a new proposal (the planner's edits), a title, or its status after saving/discarding."""
    from datetime import UTC, datetime

    payload = _body(payload)
    d = get_draft(session, draft_id)
    before = {"status": d.status, "title": d.title, "saved_version_id": d.saved_version_id}
    if payload.get("proposal") is not None:
        d.proposal = _checked_proposal(session, payload["proposal"])
    if "title" in payload:
        if not isinstance(payload["title"], str) or not payload["title"].strip():
            raise InputError("title", "title must be a non-empty string")
        d.title = payload["title"].strip()[:200]
    if "status" in payload:
        if payload["status"] not in DRAFT_STATUSES:
            raise InputError("status", f"status must be one of {', '.join(DRAFT_STATUSES)}")
        d.status = payload["status"]
    if "saved_version_id" in payload:
        value = payload["saved_version_id"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or session.get(BoundaryVersion, value) is None):
            raise InputError("saved_version_id", "saved_version_id must be the id of a boundary version")
        d.saved_version_id = value
    d.updated_by, d.updated_at = actor, datetime.now(UTC)
    session.flush()
    audit.record(session, actor, "boundary_draft.update", "boundary_draft", d.id, before=before,
                 after={"status": d.status, "title": d.title, "saved_version_id": d.saved_version_id,
                        "proposal_changed": "proposal" in payload})
    return d
