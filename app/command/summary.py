"""What lies inside an affected area, computed in PostGIS: grid cells, communities, workstations, residential
compounds (with their illustrative population), named places, open cases, stations, on-duty staff and
resources. Each count is one indexed query (ST_Intersects on the GiST indexes of the layers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.cases.machine import FINAL
from app.cases.models import Case
from app.command import duty
from app.command.models import CompoundPopulation, Resource
from app.field.models import StaffPosition
from app.territory.boundaries import current_version_subquery, in_version
from app.territory.models import Address, AdminArea, GridCell, Station, StationCoverage
from gis.crs import METRIC_EPSG

TOP_CATEGORIES = 8
POSITION_STALE_S = 600  # a position older than 10 minutes is shown as stale (the console's staff layer too)


def inside(session: Session, area: Any, at: datetime | None = None) -> dict:
    """The summary of everything inside `area` (a stored geometry or SQL expression in EPSG:4326)."""
    at = at or datetime.now(UTC)
    # Each part is a small indexed lookup: a parallel plan (which PostgreSQL picks for the grouped count of
    # cases, ST_Intersects being costly) spends ~50 ms starting its workers for a 4 ms scan. For this
    # transaction only (set_config's is_local), as SET LOCAL does.
    session.execute(select(func.set_config("max_parallel_workers_per_gather", "0", True)))
    stations = _stations(session, area)
    return {
        "area_km2": round(session.scalar(select(func.ST_Area(func.ST_Transform(area, METRIC_EPSG)))) / 1e6, 3),
        "grid_cells": session.scalar(select(func.count()).select_from(GridCell)
                                     .where(in_version(GridCell), func.ST_Intersects(GridCell.geom, area))),
        "communities": _areas(session, area, "community"),
        "workstations": _areas(session, area, "workstation"),
        **_compounds(session, area),
        "places": [{"name": n, "type": t, "address": a} for n, t, a in session.execute(
            select(Address.name, Address.place_type, Address.address)
            .where(Address.kind == "place", func.ST_Intersects(Address.geom, area)).order_by(Address.name)).all()],
        **_cases(session, area),
        "stations": stations,
        "on_duty": on_duty_inside(session, area, at, {s["code"] for s in stations}),
        "live_positions": live_positions(session, area, at),
        "resources": [{"id": r.id, "code": r.code, "kind": r.kind, "name": r.name, "quantity": r.quantity,
                       "unit": r.unit} for r in session.scalars(
            select(Resource).where(func.ST_Intersects(Resource.geom, area)).order_by(Resource.code))],
    }


def _areas(session: Session, area: Any, level: str) -> list[dict]:
    rows = session.execute(select(AdminArea.code, AdminArea.name, AdminArea.name_en).where(
        AdminArea.level == level, in_version(AdminArea), func.ST_Intersects(AdminArea.geom, area))
        .order_by(AdminArea.code)).all()
    return [{"code": c, "name": n, "name_en": e} for c, n, e in rows]


def _compounds(session: Session, area: Any) -> dict:
    """Compounds with a building inside the area, and their residents (illustrative)."""
    buildings = (select(Address.compound, func.count().label("buildings"))
                 .where(Address.kind == "building", Address.compound.is_not(None),
                        func.ST_Intersects(Address.geom, area))
                 .group_by(Address.compound).subquery())
    rows = session.execute(select(buildings.c.compound, buildings.c.buildings, CompoundPopulation.population)
                           .outerjoin(CompoundPopulation, CompoundPopulation.compound == buildings.c.compound)
                           .order_by(buildings.c.compound)).all()
    compounds = [{"name": c, "buildings": b, "population": p} for c, b, p in rows]
    return {"compounds": compounds, "population": sum(c["population"] or 0 for c in compounds)}


def _cases(session: Session, area: Any) -> dict:
    rows = session.execute(select(Case.category_code, func.count()).where(
        func.ST_Intersects(Case.geom, area), Case.state.not_in(FINAL))
        .group_by(Case.category_code).order_by(func.count().desc())).all()
    return {"open_cases": sum(n for _, n in rows),
            "open_cases_by_category": [{"category": c, "count": n} for c, n in rows[:TOP_CATEGORIES]]}


def _stations(session: Session, area: Any) -> list[dict]:
    rows = session.execute(select(Station.code, Station.name, Station.tier).where(
        Station.active.is_(True), func.ST_Intersects(Station.location, area)).order_by(Station.code)).all()
    return [{"code": c, "name": n, "tier": t} for c, n, t in rows]


def stations_touching(session: Session, area: Any, inside: set[str] | None = None) -> set[str]:
    """Stations inside the area (`inside` when the caller has them) or whose current territory reaches into it."""
    covering = set(session.scalars(select(StationCoverage.station_code).where(
        StationCoverage.version_id == current_version_subquery(), func.ST_Intersects(StationCoverage.geom, area))))
    return covering | (inside if inside is not None else {s["code"] for s in _stations(session, area)})


def on_duty_inside(session: Session, area: Any, at: datetime, inside: set[str] | None = None) -> list[dict]:
    """The people on duty now at the positions of the stations inside (or reaching into) the area: their
    assignment tells where they are; live_positions() adds where the field app last saw each officer."""
    codes = stations_touching(session, area, inside)
    board = duty.now(session, at)["positions"]
    return [{"position": p["code"], "position_name": p["name"], "station_code": p["station_code"], **person}
            for p in board if p["station_code"] in codes for person in p["on_duty"]]


def live_positions(session: Session, area: Any, at: datetime) -> list[dict]:
    """Field staff whose latest position (the field app's `staff_positions`, sent in the hour before `at`) lies
    inside the area, newest first; `stale` when it is older than POSITION_STALE_S, as on the console's layer."""
    since = at - timedelta(hours=1)
    latest = (select(StaffPosition.user_id, StaffPosition.recorded_at, StaffPosition.geom)
              .where(StaffPosition.recorded_at <= at, StaffPosition.recorded_at > since)
              .ext(distinct_on(StaffPosition.user_id))
              .order_by(StaffPosition.user_id, StaffPosition.recorded_at.desc()).subquery())
    rows = session.execute(
        select(User.username, User.display_name, User.role, latest.c.recorded_at,
               func.ST_X(latest.c.geom), func.ST_Y(latest.c.geom))
        .join(latest, latest.c.user_id == User.id)
        .where(func.ST_Intersects(latest.c.geom, area))
        .order_by(latest.c.recorded_at.desc())).all()
    return [{"username": u, "name": name or u, "role": role, "recorded_at": t.isoformat(), "lon": lon, "lat": lat,
             "stale": (at - t).total_seconds() > POSITION_STALE_S} for u, name, role, t, lon, lat in rows]
