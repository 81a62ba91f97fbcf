"""Sensors: readings checked, stored as a time series, and breaches turned into reports once per episode.

A sensor publishes JSON on `sensors/<id>/reading`: {"value": 23.5, "at": "2026-12-01T08:00:00+08:00"}
(`at` optional, default the arrival; other keys are kept). A reading at or above its type's threshold
opens an episode and files a report on the `sensor` channel at the sensor's point, in the type's
category; while the episode is open no other report is filed. A reading back under the type's
`normal_below` is logged on the case; the case's closing closes the episode (app/connectors/outbox.py
listens for it), and the next breach opens a new one.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point
from sqlalchemy import DateTime, Float, String, column, func, or_, select, update, values
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app import params
from app.accounts import audit, users
from app.accounts.models import User
from app.cases import intake
from app.cases.models import Case, CaseEvent
from app.connectors.models import Sensor, SensorEpisode, SensorReading, SensorReject, SensorType
from app.errors import DomainError, InputError
from gis.crs import STORAGE_EPSG

TOPIC = re.compile(r"^sensors/([A-Za-z0-9_.\-]{1,40})/reading$")
SUBSCRIPTION = "sensors/+/reading"
GATEWAY_USER = "sensor-gateway"  # the system user sensor reports are filed by
MAX_PAYLOAD = 4096
MAX_FUTURE = timedelta(minutes=5)
log = logging.getLogger(__name__)


class Malformed(ValueError):
    """A message that is not a reading; the reason is counted and logged."""


@dataclass(frozen=True)
class Reading:
    """One checked reading."""

    sensor_id: str
    value: float
    at: datetime
    data: dict = field(default_factory=dict)


@dataclass
class Stored:
    """What one batch did."""

    readings: int = 0
    rejected: int = 0
    opened: list[int] = field(default_factory=list)  # case ids of the reports filed
    normal: int = 0


def parse(topic: str, payload: bytes, now: datetime | None = None) -> Reading:
    """A message as a reading; Malformed says why not."""
    now = now or datetime.now(UTC)
    match = TOPIC.match(topic)
    if match is None:
        raise Malformed("topic is not sensors/<id>/reading")
    if len(payload) > MAX_PAYLOAD:
        raise Malformed(f"payload over {MAX_PAYLOAD} bytes")
    try:
        body = json.loads(payload.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed(f"not JSON: {exc.__class__.__name__}") from None
    if not isinstance(body, dict):
        raise Malformed("payload is not a JSON object")
    value = body.pop("value", None)
    try:
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    except OverflowError:  # an integer too large for a float
        number = math.nan
    if not math.isfinite(number):
        raise Malformed("value is missing or not a finite number")
    if "\\u0000" in json.dumps(body):
        raise Malformed("text with a NUL character")
    return Reading(match.group(1), number, _at(body.pop("at", None), now), body)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _at(raw: object, now: datetime) -> datetime:
    if raw is None:
        return now
    if not isinstance(raw, str):
        raise Malformed("at must be an ISO 8601 string")
    try:
        at = params.instant("at", raw)
    except InputError:
        raise Malformed("at is not an ISO 8601 time") from None
    if at > now + MAX_FUTURE:
        raise Malformed("at is in the future")
    return at


def reject(session: Session, topic: str, reason: str, payload: bytes) -> None:
    """Keep a malformed message (the first 500 characters) for the count and the log."""
    log.warning("sensor message refused on %s: %s", topic[:200], reason)
    session.add(SensorReject(topic=topic[:200], reason=reason[:200],
                             payload=payload[:500].decode("utf-8", "replace").replace("\x00", "")))


def gateway_user(session: Session) -> User:
    """The system user that files sensor reports (made on first use)."""
    user = session.scalar(select(User).where(User.username == GATEWAY_USER))
    if user is None:
        import secrets

        user = users.add_user(session, GATEWAY_USER, "intake", secrets.token_urlsafe(24), "物联感知网关",
                              actor="system")
    return user


def store(session: Session, readings: list[Reading], settings: intake.IntakeSettings,
          received_at: datetime | None = None) -> Stored:
    """Store a batch of readings and act on breaches and returns to normal; the caller commits."""
    result = Stored()
    if not readings:
        return result
    ids = sorted({r.sensor_id for r in readings})
    sensors = {s.id: (s, t) for s, t in session.execute(
        select(Sensor, SensorType).join(SensorType, SensorType.code == Sensor.type_code)
        .where(Sensor.id.in_(ids), Sensor.active.is_(True))
    ).all()}
    known = [r for r in readings if r.sensor_id in sensors]
    for r in readings:
        if r.sensor_id not in sensors:
            reject(session, f"sensors/{r.sensor_id}/reading", "unknown or inactive sensor", b"")
            result.rejected += 1
    if not known:
        return result
    received_at = received_at or datetime.now(UTC)
    # a reading the broker delivers twice (after a reconnect) has the same sensor and time: kept once
    session.execute(pg_insert(SensorReading).on_conflict_do_nothing(index_elements=["sensor_id", "at"]), [
        {"sensor_id": r.sensor_id, "at": r.at, "received_at": received_at, "value": r.value, "data": r.data or None}
        for r in known
    ])
    result.readings = len(known)
    by_sensor: dict[str, list[Reading]] = defaultdict(list)
    for r in sorted(known, key=lambda r: r.at):  # stable: readings of one instant keep their arrival order
        by_sensor[r.sensor_id].append(r)
    episodes = {e.sensor_id: e for e in session.scalars(
        select(SensorEpisode).where(SensorEpisode.sensor_id.in_(list(by_sensor)), SensorEpisode.closed_at.is_(None))
        .with_for_update()
    )}
    _latest(session, [series[-1] for series in by_sensor.values()])
    for sensor_id, series in by_sensor.items():
        sensor, kind = sensors[sensor_id]
        _follow(session, settings, sensor, kind, episodes.get(sensor_id), series, result)
    session.flush()
    return result


def _latest(session: Session, latest: list[Reading]) -> None:
    """Each sensor's latest value in one statement (unless a later one is stored already)."""
    rows = values(column("id", String), column("value", Float), column("at", DateTime(timezone=True)),
                  name="latest").data([(r.sensor_id, r.value, r.at) for r in latest])
    session.execute(
        update(Sensor).where(Sensor.id == rows.c.id, or_(Sensor.last_at.is_(None), Sensor.last_at <= rows.c.at))
        .values(last_value=rows.c.value, last_at=rows.c.at).execution_options(synchronize_session=False))


def _follow(session: Session, settings: intake.IntakeSettings, sensor: Sensor, kind: SensorType,
            episode: SensorEpisode | None, series: list[Reading], result: Stored) -> None:
    """Walk one sensor's readings in time order: open an episode on a breach, log the return to normal."""
    for r in series:
        if episode is None:
            if r.value >= kind.threshold:
                episode = _open(session, settings, sensor, kind, r, result)
            continue
        episode.peak_value = max(episode.peak_value, r.value)
        if r.value >= kind.threshold and episode.normal_at is not None:
            episode.normal_at = None
            _log(session, episode, "sensor_breach_again", r, kind)
        elif r.value < kind.normal_below and episode.normal_at is None:
            episode.normal_at = r.at
            _log(session, episode, "sensor_normal", r, kind)
            result.normal += 1


def _open(session: Session, settings: intake.IntakeSettings, sensor: Sensor, kind: SensorType, r: Reading,
          result: Stored) -> SensorEpisode | None:
    point = to_shape(sensor.geom)
    inp = intake.ReportInput(
        channel="sensor", category=kind.category_code, reference=sensor.id, urgency=kind.urgency,
        description=(f"{kind.name}超限：{sensor.name}读数 {r.value:g}{kind.unit}，阈值 {kind.threshold:g}{kind.unit}"
                     f"（{kind.name_en} over its threshold）"),
        lon=point.x, lat=point.y, reported_at=min(r.at, datetime.now(UTC)),
    )
    try:
        with session.begin_nested():  # a refused report (unknown category, outside the town) keeps the readings
            filed = intake.submit_report(session, settings, gateway_user(session), inp)
    except DomainError as exc:
        reject(session, f"sensors/{sensor.id}/reading", f"breach not filed: {exc}", b"")
        result.rejected += 1
        return None
    episode = SensorEpisode(sensor_id=sensor.id, case_id=filed.report.case_id, report_id=filed.report.id,
                            opened_at=r.at, peak_value=r.value)
    session.add(episode)
    session.flush()
    result.opened.append(filed.report.case_id)
    return episode


def _log(session: Session, episode: SensorEpisode, action: str, r: Reading, kind: SensorType) -> None:
    """An entry on the case's history (the state does not change)."""
    case = session.get(Case, episode.case_id)
    if case is None:
        return
    session.add(CaseEvent(case_id=case.id, case_version=case.version, actor=GATEWAY_USER, role="system",
                          action=action, from_state=case.state, to_state=case.state,
                          note=f"{kind.name} {r.value:g}{kind.unit}",
                          data={"sensor": episode.sensor_id, "value": r.value, "at": r.at.isoformat()}))


# --------------------------------------------------------------------------------------------
# The registry and the page
# --------------------------------------------------------------------------------------------


def add_sensor(session: Session, sensor_id: str, type_code: str, name: str, lon: float, lat: float,
               station_code: str | None = None, actor: str = "system") -> Sensor:
    """Register a sensor (or move and rename it); its station defaults to the owner of its point."""
    if session.get(SensorType, type_code) is None:
        raise InputError("type", f"unknown sensor type {type_code!r}")
    if not TOPIC.match(f"sensors/{sensor_id}/reading"):
        raise InputError("id", "a sensor id has 1 to 40 letters, digits, '.', '_' or '-'")
    from app.territory import caches as territory_caches

    sensor = session.get(Sensor, sensor_id) or Sensor(id=sensor_id)
    sensor.type_code, sensor.name = type_code, name
    sensor.geom = from_shape(Point(lon, lat), srid=STORAGE_EPSG)
    sensor.station_code = station_code or territory_caches.ownership(session).owner_at(lon, lat).station["code"]
    session.add(sensor)
    session.flush()
    audit.record(session, actor, "sensor.add", "sensor", sensor_id,
                 after={"type": type_code, "lon": lon, "lat": lat, "station": sensor.station_code})
    return sensor


def overview(session: Session, points: int = 60) -> list[dict]:
    """Every sensor with its type, latest reading, open episode and its last `points` readings (oldest first)."""
    rows = session.execute(
        select(Sensor, SensorType, func.ST_X(Sensor.geom), func.ST_Y(Sensor.geom))
        .join(SensorType, SensorType.code == Sensor.type_code).order_by(Sensor.type_code, Sensor.id)
    ).all()
    open_episodes = {e.sensor_id: e for e in session.scalars(
        select(SensorEpisode).where(SensorEpisode.closed_at.is_(None)))}
    out = []
    for sensor, kind, lon, lat in rows:
        recent = session.execute(
            select(SensorReading.at, SensorReading.value).where(SensorReading.sensor_id == sensor.id)
            .order_by(SensorReading.at.desc(), SensorReading.id.desc()).limit(points)
        ).all()
        episode = open_episodes.get(sensor.id)
        out.append({
            "id": sensor.id, "name": sensor.name, "type": kind.code, "type_name": kind.name,
            "type_name_en": kind.name_en, "unit": kind.unit, "threshold": kind.threshold,
            "normal_below": kind.normal_below, "category": kind.category_code, "station": sensor.station_code,
            "lon": lon, "lat": lat, "last_value": sensor.last_value,
            "last_at": sensor.last_at.isoformat() if sensor.last_at else None,
            "episode": None if episode is None else {
                "case_id": episode.case_id, "opened_at": episode.opened_at.isoformat(), "peak": episode.peak_value,
                "normal": episode.normal_at is not None},
            "readings": [{"at": at.isoformat(), "value": v} for at, v in reversed(recent)],
        })
    return out


def rejected_count(session: Session) -> int:
    """How many sensor messages were refused since the database was made."""
    return session.scalar(select(func.count()).select_from(SensorReject)) or 0
