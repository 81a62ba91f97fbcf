"""Test data made through the real services: users, reports, cases walked to a state, boundary versions, a PNG.

Each function takes the app (and commits, so the live server and other connections see the data) or, where
noted, a test's session (and only flushes, so the data goes with the test's rollback).
"""

from __future__ import annotations

import json
import struct
import tempfile
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from flask import Flask
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point, mapping
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import users
from app.accounts.models import User
from app.cases import intake, workflow
from app.cases.models import Case
from app.territory import boundaries
from app.territory.models import StationCoverage

PASSWORD = "correct horse battery"
CATEGORY = "01004"  # storm-drain grate: 2 working days, dispatched to the Lingang Group (LGJT) by the category rule


def bearer(token: str) -> dict:
    """The Authorization header for an API token."""
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def _writing(target: Flask | Session) -> Iterator[Session]:
    """The test's own session (flushed only) or a new committed transaction of the app."""
    if isinstance(target, Session):
        yield target
        target.flush()
    else:
        with target.extensions["db"].transaction() as s:
            yield s


# ------------------------------------------------------------------------------------------------
# Users
# ------------------------------------------------------------------------------------------------


# Roles whose scope is a station or a department get one unless the test names another (they cannot exist
# without: app.accounts.users.NEEDS).
SCOPE = {"patrol": {"station_code": "JS-001"}, "handler": {"department_code": "CGZF"}}
SCOPE.update({"station_chief": {"station_code": "JS-001"}, "workstation": {"station_code": "WS-001"}})


def workstation_of(app: Flask, point: Point) -> str:
    """The code of the workstation (居村工作站, e.g. WS-003) whose territory holds the point."""
    from app.territory import caches
    from app.territory.models import Station

    with app.extensions["db"].transaction() as s:
        code = caches.ownership(s).owner_at(point.x, point.y).workstation["code"]
        return s.scalar(select(Station.code).where(Station.tier == "workstation", Station.workstation_code == code))


def user(app: Flask, role: str, **kwargs) -> tuple[str, str, str]:
    """A new committed user of `role` (kwargs: display_name, department_code, station_code): name, password, token."""
    kwargs = {**SCOPE.get(role, {}), **kwargs}
    username = f"t_{role}_{uuid.uuid4().hex[:6]}"
    with app.extensions["db"].transaction() as s:
        users.add_user(s, username, role, PASSWORD, **kwargs)
        token = users.issue_token(s, username)
    return username, PASSWORD, token


_cast: dict[tuple, str] = {}


def actor(target: Flask | Session, role: str, department_code: str | None = None,
          station_code: str | None = None) -> str:
    """The username of a user with this role (and department or station), made once per database (per test
    session when `target` is a session, so that it goes with the rollback)."""
    if department_code is None and station_code is None:
        department_code = SCOPE.get(role, {}).get("department_code")
        station_code = SCOPE.get(role, {}).get("station_code")
    if isinstance(target, Session):
        cast, key = target.info.setdefault("test_cast", {}), (role, department_code, station_code)
        if key not in cast:
            cast[key] = f"t_{role}_{uuid.uuid4().hex[:6]}"
            users.add_user(target, cast[key], role, PASSWORD, department_code=department_code,
                           station_code=station_code)
        return cast[key]
    key = (target.config["DATABASE_URL"], role, department_code, station_code)
    if key not in _cast:
        _cast[key] = user(target, role, department_code=department_code, station_code=station_code)[0]
    return _cast[key]


def _user(session: Session, username: str) -> User:
    return session.scalars(select(User).where(User.username == username)).one()


# ------------------------------------------------------------------------------------------------
# Reports and cases
# ------------------------------------------------------------------------------------------------


def report(target: Flask | Session, point: Point, *, by: str | None = None, at: datetime | None = None,
           category: str = CATEGORY, channel: str = "hotline", description: str = "测试",
           **fields) -> intake.Submitted:
    """A report filed through intake.submit_report at `point`, by `by` (a username; an intake user when None),
    reported and filed at `at` (now when None); `fields` are the other ReportInput fields. `target`: the app or
    a test's session."""
    by = by or actor(target, "intake")
    settings = intake.IntakeSettings() if isinstance(target, Session) else \
        intake.IntakeSettings.from_config(target.config)
    inp = intake.ReportInput(channel=channel, category=category, description=description, lon=point.x, lat=point.y,
                             reported_at=at, **fields)
    with _writing(target) as s:
        return intake.submit_report(s, settings, _user(s, by), inp, now=at)


def act(target: Flask | Session, case_id: int, by: str, action: str, at: datetime | None = None, **fields) -> Case:
    """One step of the state machine through workflow.act, by the user `by`, at the case's current version."""
    with _writing(target) as s:
        version = s.get(Case, case_id).version
        return workflow.act(s, _user(s, by), case_id, action, version, fields, now=at)


OWNER = "owner"  # the handler of the owning department, or patrol staff of the owning station
PATHS: dict[str, list[tuple[str, str, dict]]] = {
    "reported": [],
    "verified": [("verify", "intake", {})],
    "not_filed": [("verify", "intake", {}), ("reject", "dispatcher", {"reason": "不属于城市管理范围"})],
    "filed": [("verify", "intake", {}), ("file", "dispatcher", {})],
    "void": [("verify", "intake", {}), ("file", "dispatcher", {}), ("void", "shift_leader", {"reason": "重复上报"})],
}
PATHS["dispatched"] = [*PATHS["filed"], ("dispatch", "dispatcher", {})]
PATHS["in_progress"] = [*PATHS["dispatched"], ("accept", OWNER, {})]
PATHS["handled"] = [*PATHS["in_progress"], ("feedback", OWNER, {"note": "已处理"})]
PATHS["checked"] = [*PATHS["handled"], ("check", "shift_leader", {})]
PATHS["closed"] = [*PATHS["checked"], ("close", "shift_leader", {})]
PATHS["archived"] = [*PATHS["closed"], ("archive", "shift_leader", {})]
PATHS["suspended"] = [*PATHS["in_progress"], ("request_suspension", OWNER, {"reason": "需等待"}),
                      ("approve_suspension", "shift_leader", {})]


def walk(target: Flask | Session, case_id: int, state: str, at: datetime | None = None) -> Case:
    """Take a reported case along the main path (PATHS) to `state`, every step at `at` (now when None), by users
    of the right roles (the owner's handler or patrol staff for the owner's steps). `target`: the app or a
    test's session."""
    for action, role, fields in PATHS[state]:
        if role == OWNER:
            with _writing(target) as s:
                owner = s.get(Case, case_id)
                kind, code = owner.owner_kind, owner.owner_code
            by = actor(target, "handler", department_code=code) if kind == "department" else \
                actor(target, "patrol", station_code=code)
        else:
            by = actor(target, role)
        act(target, case_id, by, action, at, **fields)
    with _writing(target) as s:
        case = s.get(Case, case_id)
    assert case.state == state, (case_id, case.state, state)
    return case


def case_in_state(target: Flask | Session, state: str, point: Point, at: datetime | None = None,
                  **report_fields) -> Case:
    """A new case at `point` (report_fields: category, channel, description, reference...) walked to `state`."""
    case_id = report(target, point, at=at, **report_fields).report.case_id
    return walk(target, case_id, state, at)


def stored_case(session: Session, lon: float, lat: float, when: datetime, *, state: str = "filed",
                category: str = "06010", urgency: str = "normal", description: str = "test", **columns) -> Case:
    """A Case row written straight into the test's session (no report, no events, no clock): for the analyses,
    which need many cases at chosen places, states and times quickly. `columns`: grid_code, station_code..."""
    case = Case(state=state, category_code=category, urgency=urgency, description=description,
                geom=from_shape(Point(lon, lat), srid=4326), boundary_version_id=boundaries.current_version_id(session),
                first_reported_at=when, last_reported_at=when, **columns)
    session.add(case)
    return case


# ------------------------------------------------------------------------------------------------
# Boundary versions
# ------------------------------------------------------------------------------------------------


def coverage(app: Flask, drop: str | None = None) -> dict:
    """The current station coverage as a GeoJSON FeatureCollection, without the territory of `drop`."""
    with app.extensions["db"].transaction() as s:
        version = boundaries.current_version_id(s)
        rows = s.scalars(select(StationCoverage).where(StationCoverage.version_id == version)).all()
        features = [
            {"type": "Feature", "properties": {"station_code": r.station_code}, "geometry": mapping(to_shape(r.geom))}
            for r in rows if r.station_code != drop
        ]
    return {"type": "FeatureCollection", "features": features}


def boundary_version(app: Flask, station_coverage: dict, reason: str, actor_name: str = "test") -> int:
    """A new boundary version with this station coverage (through boundaries.import_layer); its id."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "station_coverage.geojson"
        path.write_text(json.dumps(station_coverage), encoding="utf-8")
        with app.extensions["db"].transaction() as s:
            return boundaries.import_layer(s, "station_coverage", path, actor_name, reason=reason).version_id


# ------------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------------


def wav(seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A playable WAV clip of silence (16-bit mono)."""
    import io
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(rate)
        clip.writeframes(b"\x00\x00" * int(seconds * rate))
    return out.getvalue()


def png(width: int = 2, height: int = 2) -> bytes:
    """A valid red PNG image of the given size."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
