"""Live positions of field staff (staff_positions): batches from the field app, the dispatcher's layer of the
latest position per officer (stale after STALE_MINUTES), an officer's track of a day (GeoJSON and GPX), the
retention job, and the check of patrol visits against the track.

A batch is refused whole (422 naming the item, `positions[3].recorded_at`) when a point lies outside the town or
was recorded in the future or longer ago than the accepted age: a phone that kept points offline for a day still
gets them in, a garbage clock does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import gpxpy
import gpxpy.gpx
from geoalchemy2 import Geography
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import cast, delete, func, select
from sqlalchemy.orm import Session

from app import params
from app.accounts.models import User
from app.cases.worktime import BEIJING
from app.errors import Forbidden, InputError, NotFound
from app.field.models import StaffPosition
from app.territory import caches
from gis.crs import STORAGE_EPSG

SENDERS = ("patrol", "handler")  # the field roles whose phones send positions
WATCHERS = ("shift_leader", "dispatcher", "supervisor", "admin", "leader", "commander", "duty_officer")  # see everyone
STALE_MINUTES = 10
FUTURE_TOLERANCE = timedelta(minutes=2)
VISIT_TRACK_M = 150.0  # a visit farther than this from every track point of the officer that day is flagged


@dataclass(frozen=True)
class PositionSettings:
    """How old a position may be when it arrives, and how long positions are kept."""

    max_age_hours: float = 48.0
    retention_days: float = 30.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PositionSettings:
        """POSITION_MAX_AGE_HOURS and POSITION_RETENTION_DAYS of the app's configuration."""
        return cls(float(config["POSITION_MAX_AGE_HOURS"]), float(config["POSITION_RETENTION_DAYS"]))


def record(session: Session, user: User, items: list[dict], settings: PositionSettings,
           now: datetime | None = None) -> dict:
    """Store a batch of positions of `user` (already schema-checked); all or nothing."""
    if user.role not in SENDERS:
        raise Forbidden(f"only field staff ({', '.join(SENDERS)}) send positions")
    now = now or datetime.now(UTC)
    oldest = now - timedelta(hours=settings.max_age_hours)
    town = caches.ownership(session).town
    rows = []
    for i, item in enumerate(items):
        at = params.instant(f"positions[{i}].recorded_at", item["recorded_at"])
        if at > now + FUTURE_TOLERANCE:
            raise InputError(f"positions[{i}].recorded_at",
                             f"positions[{i}] was recorded in the future ({at.isoformat()})", error="future")
        if at < oldest:
            raise InputError(f"positions[{i}].recorded_at",
                             f"positions[{i}] is older than {settings.max_age_hours:g} hours", error="too_old")
        lon, lat = float(item["lon"]), float(item["lat"])
        if not town.covers(Point(lon, lat)):
            raise InputError(f"positions[{i}]", f"positions[{i}] ({lon}, {lat}) lies outside the town",
                             error="outside_town")
        rows.append(StaffPosition(user_id=user.id, recorded_at=at, received_at=now, accuracy_m=item.get("accuracy_m"),
                                  geom=from_shape(Point(lon, lat), srid=STORAGE_EPSG)))
    session.add_all(rows)
    session.flush()
    return {"stored": len(rows), "latest": max(r.recorded_at for r in rows).isoformat()}


def latest(session: Session, viewer: User, now: datetime | None = None) -> dict:
    """GeoJSON: each officer's newest position within the retention, `stale` after STALE_MINUTES."""
    now = now or datetime.now(UTC)
    newest = (select(StaffPosition.user_id, func.max(StaffPosition.recorded_at).label("at"))
              .group_by(StaffPosition.user_id).subquery())
    q = (select(StaffPosition, User, func.ST_X(StaffPosition.geom), func.ST_Y(StaffPosition.geom))
         .join(newest, (newest.c.user_id == StaffPosition.user_id) & (newest.c.at == StaffPosition.recorded_at))
         .join(User, User.id == StaffPosition.user_id)
         .where(StaffPosition.recorded_at >= now - timedelta(days=1)).order_by(User.username, StaffPosition.id))
    if viewer.role not in WATCHERS:
        q = q.where(User.id == viewer.id)
    features, seen = [], set()
    for pos, user, lon, lat in session.execute(q):
        if user.id in seen:
            continue
        seen.add(user.id)
        age = (now - pos.recorded_at).total_seconds() / 60.0
        features.append({"type": "Feature", "id": user.username,
                         "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]},
                         "properties": {"username": user.username, "name": user.display_name, "role": user.role,
                                        "station": user.station_code, "recorded_at": pos.recorded_at.isoformat(),
                                        "age_minutes": round(age, 1), "stale": age > STALE_MINUTES,
                                        "accuracy_m": pos.accuracy_m}})
    return {"type": "FeatureCollection", "features": features, "stale_after_minutes": STALE_MINUTES}


def _officer(session: Session, viewer: User, username: str | None) -> User:
    if not username or username == "me" or username == viewer.username:
        return viewer
    if viewer.role not in WATCHERS:
        raise Forbidden("you may read your own track only")
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("user", username)
    return user


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The town's day (Beijing) as UTC instants."""
    start = datetime.combine(day, datetime.min.time(), BEIJING)
    return start, start + timedelta(days=1)


def track_points(session: Session, user_id: int, day: date) -> list[tuple[datetime, float, float, float | None]]:
    """(recorded_at, lon, lat, accuracy) of an officer's day, oldest first."""
    start, end = day_bounds(day)
    return [(at, lon, lat, acc) for at, lon, lat, acc in session.execute(
        select(StaffPosition.recorded_at, func.ST_X(StaffPosition.geom), func.ST_Y(StaffPosition.geom),
               StaffPosition.accuracy_m)
        .where(StaffPosition.user_id == user_id, StaffPosition.recorded_at >= start, StaffPosition.recorded_at < end)
        .order_by(StaffPosition.recorded_at, StaffPosition.id))]


def track(session: Session, viewer: User, username: str | None, day: date) -> tuple[User, dict]:
    """An officer's track of a day as GeoJSON: the line and its points."""
    officer = _officer(session, viewer, username)
    points = track_points(session, officer.id, day)
    features = []
    if len(points) >= 2:
        features.append({"type": "Feature", "id": "track",
                         "geometry": {"type": "LineString", "coordinates": [[lon, lat] for _, lon, lat, _ in points]},
                         "properties": {"feature": "track", "username": officer.username, "points": len(points)}})
    features += [{"type": "Feature", "id": f"p{i}", "geometry": {"type": "Point", "coordinates": [lon, lat]},
                  "properties": {"feature": "position", "recorded_at": at.isoformat(), "accuracy_m": acc}}
                 for i, (at, lon, lat, acc) in enumerate(points)]
    return officer, {"type": "FeatureCollection", "username": officer.username, "name": officer.display_name,
                     "day": day.isoformat(), "features": features}


def gpx(officer: User, day: date, points: list) -> str:
    """A track of a day as GPX 1.1 (one track, one segment, times in UTC)."""
    doc = gpxpy.gpx.GPX()
    doc.name = f"{officer.display_name} {day.isoformat()} 轨迹"
    doc.creator = "nanhui-grid"
    track_ = gpxpy.gpx.GPXTrack(name=doc.name)
    segment = gpxpy.gpx.GPXTrackSegment()
    for at, lon, lat, _ in points:
        segment.points.append(gpxpy.gpx.GPXTrackPoint(latitude=lat, longitude=lon, time=at.astimezone(UTC)))
    track_.segments.append(segment)
    doc.tracks.append(track_)
    return doc.to_xml(version="1.1")


def purge(session: Session, now: datetime, retention_days: float) -> dict:
    """Delete positions recorded before the retention period (the scheduler's job)."""
    cutoff = now - timedelta(days=retention_days)
    gone = session.execute(delete(StaffPosition).where(StaffPosition.recorded_at < cutoff)).rowcount
    return {"deleted": int(gone or 0), "before": cutoff.isoformat()}


def visit_checks(session: Session, stops: list[dict], day: date) -> dict[int, dict]:
    """For each visited stop (by seq): the distance to the nearest track point of its visitor that day and a flag
    when it is farther than VISIT_TRACK_M (or the visitor sent no position at all)."""
    visitors = {s.get("visited_by") for s in stops if s.get("visited_at") and s.get("visited_by")}
    if not visitors:
        return {}
    users = dict(session.execute(select(User.username, User.id).where(User.username.in_(visitors))).all())
    start, end = day_bounds(day)
    out = {}
    for s in stops:
        uid = users.get(s.get("visited_by")) if s.get("visited_at") else None
        if uid is None:
            continue
        point = from_shape(Point(s["lon"], s["lat"]), srid=STORAGE_EPSG)
        nearest = session.scalar(
            select(func.min(func.ST_Distance(cast(StaffPosition.geom, Geography), cast(point, Geography))))
            .where(StaffPosition.user_id == uid, StaffPosition.recorded_at >= start, StaffPosition.recorded_at < end))
        far = nearest is None or nearest > VISIT_TRACK_M
        out[s["seq"]] = {"track_distance_m": None if nearest is None else round(float(nearest), 1),
                         "far_from_track": far, "no_track": nearest is None}
    return out

