"""Early warning (巡查预警模块化): one module per category group, each with its own rule.

- `surge`: a grid cell whose count in the week ending on the day exceeds `factor` times its
  weekly mean over the `baseline_weeks` weeks before, and is at least `min_count`;
- `new_hotspot`: a cell that is a new or consecutive hot spot in the emerging hot spot analysis
  of the module's categories over the last `weeks` weeks, with at least `min_count` cases this week.

Alerts are computed from the cases on demand (they are a view of the data, never stale), for the
map layer, the list and the morning digest. Modules are data, edited by an administrator (audited).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.analysis import hotspots as hs
from app.analysis.models import WarningModule
from app.db import found
from app.errors import InputError
from app.params import BBox

RULES = ("surge", "new_hotspot")
PARAMS = {  # name: (type, low, high, default)
    "surge": {"factor": (float, 1.0, 50.0, 2.0), "min_count": (int, 1, 10000, 3),
              "baseline_weeks": (int, 1, 52, 8)},
    "new_hotspot": {"weeks": (int, 4, 52, 8), "min_count": (int, 1, 10000, 2)},
}
NEW_PATTERNS = ("new_hot", "consecutive_hot")


def modules(session: Session, active_only: bool = False) -> list[WarningModule]:
    """The modules, by code."""
    q = select(WarningModule).order_by(WarningModule.code)
    if active_only:
        q = q.where(WarningModule.active.is_(True))
    return list(session.scalars(q))


def listing(session: Session) -> dict:
    """GET /api/v1/alerts/modules: the modules and the parameters each rule takes."""
    return {"modules": [as_dict(m) for m in modules(session)],
            "rules": {k: {n: {"low": v[1], "high": v[2], "default": v[3]} for n, v in spec.items()}
                      for k, spec in PARAMS.items()}}


def as_dict(m: WarningModule) -> dict:
    """JSON of a module."""
    return {"code": m.code, "name": m.name, "name_en": m.name_en, "category_prefixes": list(m.category_prefixes),
            "rule": m.rule, "params": dict(m.params), "active": m.active, "updated_by": m.updated_by,
            "updated_at": m.updated_at.isoformat() if m.updated_at else None}


def update(session: Session, actor: str, code: str, payload: object) -> dict:
    """Change a module (rule, params, categories, name, active); checked and audited."""
    m = found(session, WarningModule, code, "warning module")
    if not isinstance(payload, dict):
        raise InputError("body", "send a JSON object", 400, error="invalid_body")
    before = as_dict(m)
    rule = payload.get("rule", m.rule)
    if rule not in RULES:
        raise InputError("rule", f"rule must be one of {', '.join(RULES)}")
    params = check_params(rule, {**(m.params if rule == m.rule else {}), **(payload.get("params") or {})})
    prefixes = payload.get("category_prefixes", m.category_prefixes)
    if not isinstance(prefixes, list) or not prefixes:
        raise InputError("category_prefixes", "category_prefixes must be a non-empty list")
    hs.categories(",".join(str(p) for p in prefixes))
    for key in ("name", "name_en"):
        if key in payload and (not isinstance(payload[key], str) or not payload[key].strip()):
            raise InputError(key, f"{key} must be a non-empty string")
    if "active" in payload and not isinstance(payload["active"], bool):
        raise InputError("active", "active must be true or false")
    m.rule, m.params, m.category_prefixes = rule, params, [str(p) for p in prefixes]
    m.name = payload.get("name", m.name).strip()
    m.name_en = payload.get("name_en", m.name_en).strip()
    m.active = payload.get("active", m.active)
    m.updated_by = actor
    session.flush()
    audit.record(session, actor, "warning_module.update", "warning_module", code, before=before, after=as_dict(m))
    return as_dict(m)


def check_params(rule: str, params: dict) -> dict:
    """The rule's parameters with defaults filled in; InputError names a bad one."""
    spec = PARAMS[rule]
    unknown = set(params) - set(spec)
    if unknown:
        raise InputError(f"params.{sorted(unknown)[0]}", f"rule {rule} takes {', '.join(spec)}")
    out = {}
    for name, (kind, low, high, default) in spec.items():
        value = params.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and value != int(value)):
            raise InputError(f"params.{name}", f"{name} must be a {'whole ' if kind is int else ''}number")
        if not low <= value <= high:
            raise InputError(f"params.{name}", f"{name} must be between {low} and {high}")
        out[name] = kind(value)
    return out


def evaluate(session: Session, day: date, only: list[str] | None = None) -> tuple[hs.CellSet, list[dict]]:
    """Alerts of the active modules for the week ending on `day` (Beijing date)."""
    cells = hs.cell_set(session)
    end = day + timedelta(days=1)
    alerts: list[dict] = []
    for m in modules(session, active_only=True):
        if only and m.code not in only:
            continue
        params = check_params(m.rule, dict(m.params))
        if m.rule == "surge":
            alerts += _surge(session, cells, m, end, params)
        else:
            alerts += _new_hotspots(session, cells, m, end, params)
    alerts.sort(key=lambda a: (a["module"], -a["count"], a["cell"]))
    return cells, alerts


def _base(m: WarningModule, cells: hs.CellSet, i: int, day: date) -> dict:
    return {"module": m.code, "module_name": m.name, "module_name_en": m.name_en, "rule": m.rule,
            "cell": cells.codes[i], "station_code": cells.station[i], "workstation_code": cells.workstation[i],
            "week_ending": day.isoformat(), "_i": int(i)}


def _surge(session: Session, cells: hs.CellSet, m: WarningModule, end: date, p: dict) -> list[dict]:
    n = p["baseline_weeks"]
    y = hs.weekly_counts(session, cells, end, n + 1, list(m.category_prefixes))
    now, baseline = y[:, -1], y[:, :-1].mean(axis=1)
    hit = (now >= p["min_count"]) & (now > p["factor"] * baseline)
    out = []
    for i in np.flatnonzero(hit):
        a = _base(m, cells, i, end - timedelta(days=1))
        a.update(count=int(now[i]), baseline=round(float(baseline[i]), 2), factor=p["factor"],
                 message=f"{m.name}：网格{cells.codes[i]}本周{int(now[i])}件，前{n}周周均{baseline[i]:.1f}件，"
                         f"超过{p['factor']:g}倍",
                 message_en=f"{m.name_en}: cell {cells.codes[i]} had {int(now[i])} cases this week against a "
                            f"weekly mean of {baseline[i]:.1f} over the {n} weeks before (over {p['factor']:g}x)")
        out.append(a)
    return out


def _new_hotspots(session: Session, cells: hs.CellSet, m: WarningModule, end: date, p: dict) -> list[dict]:
    y = hs.weekly_counts(session, cells, end, p["weeks"], list(m.category_prefixes))
    from gis import spatial_stats as gh

    result = gh.emerging(y, cells.weights(hs.DEFAULT_DISTANCE_M))
    out = []
    for i, pattern in enumerate(result.patterns):
        if pattern not in NEW_PATTERNS or y[i, -1] < p["min_count"]:
            continue
        label = "新增热点" if pattern == "new_hot" else "连续热点"
        a = _base(m, cells, i, end - timedelta(days=1))
        a.update(count=int(y[i, -1]), pattern=pattern, z=round(float(result.z[i, -1]), 3),
                 message=f"{m.name}：网格{cells.codes[i]}成为{label}（本周{int(y[i, -1])}件）",
                 message_en=f"{m.name_en}: cell {cells.codes[i]} is a {pattern.replace('_hot', '')} hot spot "
                            f"({int(y[i, -1])} cases this week)")
        out.append(a)
    return out


def geojson(session: Session, day: date, box: BBox | None =None, only: list[str] | None = None) -> dict:
    """GET /api/v1/alerts: one Feature per alert (the cell's polygon), bbox-filterable."""
    cells, alerts = evaluate(session, day, only)
    mask = cells.in_bbox(box)
    features = []
    for a in alerts:
        if mask[a["_i"]]:
            props = {k: v for k, v in a.items() if k != "_i"}
            f = cells.feature(a["_i"], props)
            f["id"] = f"{a['module']}:{a['cell']}"
            features.append(f)
    return {"type": "FeatureCollection", "features": features, "numberReturned": len(features),
            "week_ending": day.isoformat(),
            "modules": [as_dict(m) for m in modules(session, active_only=True) if not only or m.code in only]}


def for_digest(session: Session, day: date, lang: str = "zh") -> list[dict]:
    """Alerts grouped by module for the morning digest (names and messages in `lang`); empty when no boundaries are
    loaded."""
    try:
        _, alerts = evaluate(session, day)
    except InputError:
        return []
    grouped: dict[str, dict] = {}
    for a in alerts:
        name = a["module_name_en"] if lang == "en" else a["module_name"]
        g = grouped.setdefault(a["module"], {"module": a["module"], "name": name, "rule": a["rule"], "cells": []})
        g["cells"].append({**{k: a[k] for k in ("cell", "count", "station_code") if k in a},
                           "message": a["message_en"] if lang == "en" else a["message"]})
    for g in grouped.values():
        g["count"] = len(g["cells"])
        g["cells"] = g["cells"][:10]
    return list(grouped.values())
