"""Re-running ownership for cases after a boundary edit; the history records every change."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.cases.intake import CLOSED_STATES
from app.cases.models import Case, CaseEvent
from gis.ownership import OwnershipIndex

OWNER_FIELDS = ("station_code", "community_code", "workstation_code", "grid_code")


@dataclass
class Reassignment:
    """What a re-run of ownership changed."""

    boundary_version: int
    checked: int = 0
    changed: int = 0
    moved: int = 0  # the station changed
    flows: Counter = field(default_factory=Counter)  # (old station, new station) -> cases


def reassign(session: Session, index: OwnershipIndex, actor: str, open_only: bool = False,
             batch: int = 5000) -> Reassignment:
    """Re-run ownership for every case not yet under `index.version`; history records each change."""
    result = Reassignment(boundary_version=index.version)
    query = select(Case.id).where(Case.boundary_version_id != index.version).order_by(Case.id)
    if open_only:
        query = query.where(Case.state.not_in(CLOSED_STATES))
    ids = session.scalars(query).all()
    for start in range(0, len(ids), batch):
        _reassign_batch(session, index, actor, ids[start : start + batch], result)
    if result.checked:
        audit.record(session, actor, "cases.reassign", "boundary_version", index.version,
                     after={"checked": result.checked, "changed": result.changed, "moved": result.moved,
                            "open_only": open_only})
    return result


def _reassign_batch(session: Session, index: OwnershipIndex, actor: str, ids: list[int], result: Reassignment) -> None:
    rows = session.execute(
        select(Case, func.ST_X(Case.geom), func.ST_Y(Case.geom)).where(Case.id.in_(ids)).order_by(Case.id)
        .with_for_update(of=Case)
    ).all()
    if not rows:
        return
    bulk = index.owners_bulk(np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))
    for i, (case, _, _) in enumerate(rows):
        new = {
            "station_code": bulk["station"][i], "community_code": bulk["community"][i],
            "workstation_code": bulk["workstation"][i], "grid_code": bulk["grid_code"][i],
        }
        old = {k: getattr(case, k) for k in OWNER_FIELDS}
        result.checked += 1
        before_version = case.boundary_version_id
        case.boundary_version_id = index.version
        case.near_boundary = bool(bulk["near_boundary"][i])
        case.fallback = bool(bulk["fallback"][i])
        case.inside_town = bool(bulk["inside_town"][i])
        if new == old:
            continue
        for k, v in new.items():
            setattr(case, k, v)
        case.version += 1
        case.updated_at = func.now()
        result.changed += 1
        if old["station_code"] != new["station_code"]:
            result.moved += 1
            result.flows[(old["station_code"], new["station_code"])] += 1
        session.add(CaseEvent(
            case_id=case.id, case_version=case.version, actor=actor, role="system", action="reassigned",
            from_state=case.state, to_state=case.state,
            note=f"boundary version {before_version} -> {index.version}",
            data={"before": old, "after": new, "boundary_version": [before_version, index.version]},
        ))
    session.flush()
