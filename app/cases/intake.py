"""Intake: a report from any channel is checked, located, assigned and filed into a case.

A new report joins an open case of the same category within `merge_m` metres and `merge_hours`
hours (the nearest, then the oldest) instead of opening a new one. Advisory locks make concurrent
intake exact: one per (user, Idempotency-Key) so a retry finds the first attempt, and one per
category and ~500 m tile so two reports of one problem cannot both open a case.
Everything happens in the caller's transaction; nothing is committed here.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from geoalchemy2 import Geography
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import cast, func, select
from sqlalchemy.orm import Session

from app import params, schemas
from app.accounts import audit
from app.accounts.models import User
from app.cases import machine, workflow
from app.cases.models import Attachment, Case, CaseEvent, Category, Channel, Report
from app.cases.workflow import start_intake_clock
from app.db import found
from app.errors import Conflict, InputError
from app.territory import boundaries
from app.territory import caches as territory_caches
from gis import crs as gcrs
from gis.crs import STORAGE_EPSG
from gis.geocode import Candidate
from gis.ownership import Owners
from gis.points import PointError, check_point

REPORTERS = ("intake", "shift_leader", "dispatcher", "patrol", "supervisor", "admin", "workstation")  # who may file
SPLITTERS = ("dispatcher", "shift_leader", "admin")
CLOSED_STATES = tuple(sorted(machine.FINAL))
URGENCIES = ("normal", "urgent", "emergency")
MAX_DESCRIPTION = 4000
MAX_ATTACHMENTS = 10
MIN_GEOCODE_SCORE = 0.5
FIELD_CHANNELS = ("patrol",)  # reports from the street: their point gets the nearest address (reverse geocoding)
FIELD_ADDRESS_M = 300.0
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_AGE_DAYS = 365.0  # reported_at may lie this far back (REPORTED_AT_MAX_AGE_DAYS): a backlog, not garbage
LOCK_TILE = 0.005  # degrees, about 500 m
IMAGE_TYPES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
FIELDS = {
    "channel": "one of the channel codes (GET /api/v1/channels)",
    "reference": "the channel's own reference: call id, camera id...",
    "reporter_name": "who reported it",
    "reporter_phone": "a phone number to call back",
    "category": "a 5-digit category code (GET /api/v1/categories)",
    "urgency": "normal, urgent or emergency (default: the category's)",
    "description": f"what is wrong, up to {MAX_DESCRIPTION} characters",
    "lon": "longitude", "lat": "latitude",
    "crs": "wgs84 (default), cgcs2000, gcj02 or bd09",
    "address": "an address or place in the town, when there is no point (or as well)",
    "reported_at": "ISO 8601 time the channel received it (default: now)",
    "attachments": "photo URLs: a list of strings or {\"url\": ...}",
}
_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{2,38}$")


@dataclass(frozen=True)
class ReportInput:
    """A report as the caller sent it, checked for shape and range (codes are checked against the database)."""

    channel: str
    category: str
    description: str
    reference: str | None = None
    reporter_name: str | None = None
    reporter_phone: str | None = None
    urgency: str | None = None
    lon: float | None = None
    lat: float | None = None
    crs: str = "wgs84"
    address: str | None = None
    reported_at: datetime | None = None
    attachment_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Upload:
    """An uploaded photo, already read and sniffed."""

    filename: str
    content_type: str
    data: bytes
    sha256: str


@dataclass(frozen=True)
class IntakeSettings:
    """The merge window: a report joins an open case of its category this near and this recent."""

    merge_m: float = 50.0
    merge_hours: float = 72.0
    max_age_days: float = MAX_AGE_DAYS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> IntakeSettings:
        """MERGE_DISTANCE_M, MERGE_HOURS and REPORTED_AT_MAX_AGE_DAYS of the app's configuration."""
        return cls(merge_m=float(config["MERGE_DISTANCE_M"]), merge_hours=float(config["MERGE_HOURS"]),
                   max_age_days=float(config["REPORTED_AT_MAX_AGE_DAYS"]))


@dataclass
class Submitted:
    """The stored report and whether this call created it (False: an Idempotency-Key replay)."""

    report: Report
    created: bool
    answer: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Checking the request
# --------------------------------------------------------------------------------------------


def parse_report(payload: object, now: datetime | None = None, max_age_days: float = MAX_AGE_DAYS) -> ReportInput:
    """Check a decoded JSON body; InputError names the first field that is wrong."""
    if not isinstance(payload, dict):
        raise InputError("body", "the body must be a JSON object", 400, error="invalid_body")
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise InputError(unknown[0], f"unknown field {unknown[0]!r}", 400, accepted=sorted(FIELDS))
    now = now or datetime.now(UTC)
    lon, lat = _location(payload)
    return ReportInput(
        channel=_text(payload, "channel", 20, required=True),
        category=_text(payload, "category", 5, required=True),
        description=_description(payload),
        reference=_text(payload, "reference", 120),
        reporter_name=_text(payload, "reporter_name", 80),
        reporter_phone=_phone(payload),
        urgency=_urgency(payload),
        lon=lon, lat=lat,
        crs=_crs(payload),
        address=_text(payload, "address", 200),
        reported_at=_time(payload, now, timedelta(days=max_age_days)),
        attachment_urls=_urls(payload),
    )


def _text(payload: dict, name: str, limit: int, required: bool = False) -> str | None:
    value = payload.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InputError(name, f"{name} is missing", 400, error="missing_field")
        return None
    if not isinstance(value, str):
        raise InputError(name, f"{name} must be a string, got {type(value).__name__}", 400)
    value = value.strip()
    if len(value) > limit:
        raise InputError(name, f"{name} is {len(value)} characters long; at most {limit} are allowed")
    return value


def _description(payload: dict) -> str:
    value = payload.get("description")
    if isinstance(value, str) and len(value) > MAX_DESCRIPTION:
        raise InputError(
            "description", f"description is {len(value)} characters long; at most {MAX_DESCRIPTION} are allowed"
        )
    return _text(payload, "description", MAX_DESCRIPTION, required=True)


def _phone(payload: dict) -> str | None:
    value = _text(payload, "reporter_phone", 40)
    if value is not None and not _PHONE.match(value):
        raise InputError("reporter_phone", f"reporter_phone {value!r} is not a phone number")
    return value


def _urgency(payload: dict) -> str | None:
    value = _text(payload, "urgency", 10)
    if value is not None and value not in URGENCIES:
        raise InputError("urgency", f"urgency must be one of {', '.join(URGENCIES)}, got {value!r}")
    return value


def _crs(payload: dict) -> str:
    raw = payload.get("crs", "wgs84")
    if not isinstance(raw, str):
        raise InputError("crs", "crs must be a string", 400)
    try:
        return gcrs.input_crs_name(raw)
    except gcrs.UnknownCRS as exc:
        raise InputError("crs", str(exc)) from None


def _location(payload: dict) -> tuple[float | None, float | None]:
    has_point = payload.get("lon") is not None or payload.get("lat") is not None
    has_address = isinstance(payload.get("address"), str) and payload["address"].strip()
    if not has_point and not has_address:
        if payload.get("channel") == "video" and payload.get("reference"):
            return None, None  # placed at the camera the reference names (app/connectors/cameras.py)
        raise InputError("location", "give lon and lat, or an address (or both)", 400, error="missing_field")
    if not has_point:
        return None, None
    try:
        return check_point(payload.get("lon"), payload.get("lat"))
    except PointError as exc:
        raise InputError(exc.field, exc.message, exc.status, error="invalid_coordinates") from None


def _time(payload: dict, now: datetime, max_age: timedelta) -> datetime | None:
    raw = payload.get("reported_at")
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise InputError("reported_at", "reported_at must be an ISO 8601 string", 400)
    value = params.instant("reported_at", raw)  # a time without zone is Beijing time
    if value > now + FUTURE_TOLERANCE:
        raise InputError("reported_at", f"reported_at {raw!r} is in the future")
    if value < now - max_age:
        raise InputError("reported_at", f"reported_at {raw!r} is more than {max_age.days} days ago; reports older "
                         "than that are not taken (REPORTED_AT_MAX_AGE_DAYS)")
    return value


def _urls(payload: dict) -> tuple[str, ...]:
    raw = payload.get("attachments")
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InputError("attachments", "attachments must be a list of URLs", 400)
    if len(raw) > MAX_ATTACHMENTS:
        raise InputError("attachments", f"at most {MAX_ATTACHMENTS} attachments per report, got {len(raw)}")
    urls = []
    for i, item in enumerate(raw):
        url = item.get("url") if isinstance(item, dict) else item
        if not isinstance(url, str) or not url.strip():
            raise InputError(f"attachments[{i}]", "each attachment needs a URL string", 400)
        url = url.strip()
        if not re.match(r"^https?://[^\s/]+", url) or len(url) > 2000:
            raise InputError(f"attachments[{i}]", f"{url[:80]!r} is not an http(s) URL of at most 2000 characters")
        urls.append(url)
    return tuple(urls)


def check_upload(filename: str, data: bytes, max_bytes: int) -> Upload:
    """An uploaded photo: not empty, not too large, and really an image (sniffed, not trusted)."""
    return checked_file("photos", filename or "photo", data, max_bytes, _sniff, "a JPEG, PNG, GIF or WebP image")


def checked_file(field: str, filename: str, data: bytes, max_bytes: int, sniff: Callable[[bytes], str | None],
                 kinds: str) -> Upload:
    """An uploaded file of `field`: not empty, not larger than `max_bytes`, and of a type `sniff` recognises
    in its bytes (the name the client gave is not trusted); `kinds` says in the refusal what it must be."""
    name = schemas.clean_string(field, filename[-200:])
    if not data:
        raise InputError(field, f"{name} is empty")
    if len(data) > max_bytes:
        raise InputError(field, f"{name} is {len(data)} bytes; at most {max_bytes} are allowed", 413,
                         error="too_large")
    content_type = sniff(data)
    if content_type is None:
        raise InputError(field, f"{name} is not {kinds}")
    return Upload(name, content_type, data, hashlib.sha256(data).hexdigest())


def _sniff(data: bytes) -> str | None:
    for magic, kind in IMAGE_TYPES:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def request_hash(inp: ReportInput, uploads: list[Upload]) -> str:
    """A digest of what was asked, to tell a genuine retry from a reused Idempotency-Key."""
    body = asdict(inp)
    body["reported_at"] = inp.reported_at.isoformat() if inp.reported_at else None
    body["uploads"] = [u.sha256 for u in uploads]
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Filing
# --------------------------------------------------------------------------------------------


def submit_report(
    session: Session, settings: IntakeSettings, user: User, inp: ReportInput,
    uploads: list[Upload] | None = None, idempotency_key: str | None = None, now: datetime | None = None,
) -> Submitted:
    """File one report: a new case or a merge into an open one. The caller commits.

    A replayed Idempotency-Key answers the stored report before anything is geocoded or located.
    """
    uploads = uploads or []
    digest = request_hash(inp, uploads)
    if idempotency_key is not None:
        _lock(session, [f"idem:{user.id}:{idempotency_key}"])  # always taken before the tile locks: no deadlock
        earlier = _replay(session, user, idempotency_key, digest)
        if earlier is not None:
            return earlier
    category = _known(session, inp)
    lon, lat, found = _place(session, inp)
    boundaries.lock_for_read(session)  # a boundary save committing now: locate under its new version
    owners = territory_caches.ownership(session).owner_at(lon, lat)
    reported_at = inp.reported_at or now or datetime.now(UTC)
    point = from_shape(Point(lon, lat), srid=STORAGE_EPSG)
    pad = settings.merge_m / 111_000.0 / max(math.cos(math.radians(lat)), 0.1) * 1.5
    _lock(session, _tile_keys(inp.category, lon, lat, pad))
    target, distance = _merge_target(session, settings, inp.category, point, pad, reported_at)
    urgency = inp.urgency or category.default_urgency
    if target is None:
        case = _open_case(session, inp, urgency, point, owners, reported_at, found)
    else:
        case = target
        _join_case(case, urgency, reported_at)
    geocoded = _field_address(session, inp, lon, lat)
    if geocoded and not case.address:
        case.address = geocoded
    report = Report(
        case_id=case.id, channel=inp.channel, reference=inp.reference, reporter_name=inp.reporter_name,
        reporter_phone=inp.reporter_phone, category_code=inp.category, urgency=urgency,
        description=inp.description, address_text=inp.address, geocoded_address=geocoded, geom=point,
        location_source=_source(inp),
        input_crs=inp.crs if inp.lon is not None else None, input_lon=inp.lon, input_lat=inp.lat,
        geocode_score=found.score if found else None, geocode_address_id=found.address_id if found else None,
        grid_code=owners.grid_code, station_code=owners.station["code"], boundary_version_id=owners.boundary_version,
        near_boundary=owners.near_boundary, owners=owners.as_dict(), merged=target is not None,
        merge_distance_m=None if distance is None else round(distance, 2), reported_at=reported_at,
        submitted_by=user.id, idempotency_key=idempotency_key, request_hash=digest,
    )
    session.add(report)
    session.flush()
    for url in inp.attachment_urls:
        session.add(Attachment(report_id=report.id, kind="url", url=url))
    for up in uploads:
        session.add(Attachment(report_id=report.id, kind="upload", filename=up.filename, content_type=up.content_type,
                               size_bytes=len(up.data), sha256=up.sha256, data=up.data))
    _event(session, case, user, "report_merged" if target is not None else "opened",
           {"report_id": report.id, "channel": inp.channel, "distance_m": report.merge_distance_m})
    audit.record(session, user.username, "report.create", "report", report.id,
                 after={"case_id": case.id, "channel": inp.channel, "category": inp.category,
                        "merged": report.merged, "station": report.station_code, "grid_code": report.grid_code})
    session.flush()
    return Submitted(report, created=True, answer=report_answer(report))


def _replay(session: Session, user: User, key: str, digest: str) -> Submitted | None:
    """The report an earlier call with this key stored, or None; Conflict when the key was used for another."""
    earlier = session.scalar(select(Report).where(Report.submitted_by == user.id, Report.idempotency_key == key))
    if earlier is None:
        return None
    if earlier.request_hash != digest:
        raise Conflict("idempotency_key_reused",
                       "this Idempotency-Key was used for a different report; use a new key for a new report",
                       report_id=earlier.id)
    return Submitted(earlier, created=False, answer=report_answer(earlier))


def _source(inp: ReportInput) -> str:
    if inp.lon is None:
        return "address" if inp.address else "camera"
    return "both" if inp.address else "point"


def _tile_keys(category: str, lon: float, lat: float, pad: float) -> list[str]:
    """Advisory lock names: the category in every tile the merge circle reaches.

    Tiles of LOCK_TILE degrees keep intake of one category parallel across the town while two
    reports that could merge always meet on a common lock.
    """
    xs = range(math.floor((lon - pad) / LOCK_TILE), math.floor((lon + pad) / LOCK_TILE) + 1)
    ys = range(math.floor((lat - pad) / LOCK_TILE), math.floor((lat + pad) / LOCK_TILE) + 1)
    return [f"intake:{category}:{x}:{y}" for x in xs for y in ys]


def _lock(session: Session, names: list[str]) -> None:
    """Transaction-scoped advisory locks, taken in one round trip in a fixed order (no deadlock)."""
    keys = sorted({int.from_bytes(hashlib.blake2b(n.encode(), digest_size=8).digest(), "big", signed=True)
                   for n in names})
    session.execute(select(*(func.pg_advisory_xact_lock(k) for k in keys)))


def _known(session: Session, inp: ReportInput) -> Category:
    channel_ok = select(Channel.code).where(Channel.code == inp.channel, Channel.active.is_(True)).exists()
    category, known_channel = session.execute(
        select(Category, channel_ok.label("channel_ok")).where(Category.code == inp.category)
    ).first() or (None, session.scalar(select(channel_ok)))
    if not known_channel:
        known = session.scalars(select(Channel.code).where(Channel.active.is_(True)).order_by(Channel.code)).all()
        raise InputError("channel", f"unknown channel {inp.channel!r}", known=list(known))
    if category is None or not category.active:
        raise InputError("category", f"unknown category {inp.category!r}; see GET /api/v1/categories")
    return category


def _place(session: Session, inp: ReportInput):
    """WGS84 lon/lat of the report and the geocoding candidate used (None when a point was given)."""
    if inp.lon is not None:
        lon, lat = gcrs.to_wgs84(inp.lon, inp.lat, inp.crs)
        return lon, lat, None
    if not inp.address:
        from app.connectors import cameras

        lon, lat = cameras.place_of(session, inp.reference or "")
        return lon, lat, None
    candidates = territory_caches.geocoder(session).geocode(inp.address, limit=5)
    if not candidates or candidates[0].score < MIN_GEOCODE_SCORE:
        raise InputError("address", f"no address in the town matches {inp.address!r}; give a point or a fuller address",
                         error="address_not_found")
    best = candidates[0]
    rivals = [c for c in candidates[1:] if best.score - c.score < 0.02 and _apart(best, c) > 100.0]
    if rivals:
        raise InputError(
            "address", f"{inp.address!r} matches several places; pick one and send its lon/lat",
            error="address_ambiguous",
            candidates=[{"address": c.address, "lon": c.lon, "lat": c.lat, "score": c.score} for c in [best, *rivals]],
        )
    return best.lon, best.lat, best


def _field_address(session: Session, inp: ReportInput, lon: float, lat: float) -> str | None:
    """The nearest address of a field report's point (within FIELD_ADDRESS_M), or None."""
    if inp.channel not in FIELD_CHANNELS or inp.lon is None:
        return None
    near = territory_caches.geocoder(session).reverse(lon, lat, max_distance_m=FIELD_ADDRESS_M)
    return near.address[:200] if near is not None else None


def _apart(a: Candidate, b: Candidate) -> float:
    return gcrs.distance_m(a.lon, a.lat, b.lon, b.lat)


def _merge_target(session: Session, settings: IntakeSettings, category: str, point: WKBElement, pad: float,
                  reported_at: datetime) -> tuple[Case | None, float | None]:
    """The open case of this category nearest to the point within the merge distance and window."""
    if settings.merge_m <= 0 or settings.merge_hours <= 0:
        return None, None
    window = timedelta(hours=settings.merge_hours)
    # A degree box first (uses the GiST index), then the exact distance on the spheroid.
    distance = func.ST_Distance(cast(Case.geom, Geography), cast(point, Geography))
    row = session.execute(
        select(Case, distance.label("d"))
        .where(
            Case.category_code == category,
            Case.state.not_in(CLOSED_STATES),
            Case.geom.intersects(func.ST_Expand(point, pad)),
            func.ST_DWithin(cast(Case.geom, Geography), cast(point, Geography), settings.merge_m),
            Case.last_reported_at >= reported_at - window,
            Case.first_reported_at <= reported_at + window,
        )
        .order_by(distance, Case.id)
        .limit(1)
        .with_for_update(of=Case)
    ).first()
    return (row[0], float(row[1])) if row else (None, None)


def _open_case(session: Session, inp: ReportInput, urgency: str, point: WKBElement, owners: Owners,
               reported_at: datetime, found: Candidate | None) -> Case:
    case = Case(
        state="reported", category_code=inp.category, urgency=urgency, description=inp.description,
        address=inp.address or (found.address if found else None), geom=point,
        **case_owners(owners), report_count=1, first_reported_at=reported_at, last_reported_at=reported_at,
        version=1,
    )
    start_intake_clock(case, _dispatch_limit(session))
    session.add(case)
    session.flush()
    return case


def _dispatch_limit(session: Session) -> dict:
    return workflow.settings_of(session, "dispatch_limit_hours", "near_due_share")


def case_owners(owners: Owners) -> dict:
    """The owner columns of a case from an ownership answer."""
    return {
        "grid_code": owners.grid_code,
        "workstation_code": owners.workstation["code"] if owners.workstation else None,
        "community_code": owners.community["code"] if owners.community else None,
        "station_code": owners.station["code"],
        "boundary_version_id": owners.boundary_version,
        "near_boundary": owners.near_boundary,
        "fallback": owners.fallback,
        "inside_town": owners.inside_town,
    }


def _join_case(case: Case, urgency: str, reported_at: datetime) -> None:
    case.report_count += 1
    case.first_reported_at = min(case.first_reported_at, reported_at)
    case.last_reported_at = max(case.last_reported_at, reported_at)
    if URGENCIES.index(urgency) > URGENCIES.index(case.urgency):
        case.urgency = urgency  # a later, more urgent report raises the case
    case.version += 1
    case.updated_at = func.now()


def _event(session: Session, case: Case, user: User, action: str, data: dict, note: str | None = None) -> None:
    session.add(CaseEvent(
        case_id=case.id, case_version=case.version, actor=user.username, role=user.role, action=action,
        from_state=case.state, to_state=case.state, note=note, data=data,
    ))


def report_answer(report: Report) -> dict:
    """What POST /api/v1/reports answers; the same for a replayed Idempotency-Key."""
    owners = report.owners or {}
    return {
        "report_id": report.id,
        "case_id": report.case_id,
        "merged": report.merged,
        "merge_distance_m": report.merge_distance_m,
        "grid_code": report.grid_code,
        "station": owners.get("station"),
        "workstation": owners.get("workstation"),
        "community": owners.get("community"),
        "boundary_version": report.boundary_version_id,
        "near_boundary": report.near_boundary,
        "fallback": owners.get("fallback"),
        "inside_town": owners.get("inside_town"),
        "location_source": report.location_source,
        "geocode_score": report.geocode_score,
        "geocoded_address": report.geocoded_address,
    }


# --------------------------------------------------------------------------------------------
# Splitting a report off its case
# --------------------------------------------------------------------------------------------


def split_report(
    session: Session, settings: IntakeSettings, user: User, report_id: int,
    expected_version: int | None = None, reason: str | None = None,
) -> Case:
    """Move a wrongly merged report into a case of its own (a dispatcher's correction)."""
    report = found(session, Report, report_id, "report")
    old = session.scalar(select(Case).where(Case.id == report.case_id).with_for_update())
    if expected_version is not None and old.version != expected_version:
        raise Conflict("stale_version", f"case {old.id} is at version {old.version}, not {expected_version}",
                       case_version=old.version)
    if old.state in CLOSED_STATES:
        raise Conflict("case_closed", f"case {old.id} is {old.state}; its reports can no longer be split off")
    if old.report_count <= 1:
        raise Conflict("only_report", f"report {report_id} is the only report of case {old.id}")
    lon, lat = session.execute(
        select(func.ST_X(Report.geom), func.ST_Y(Report.geom)).where(Report.id == report.id)
    ).one()
    boundaries.lock_for_read(session)
    owners = territory_caches.ownership(session).owner_at(lon, lat)
    new = Case(
        state="reported", category_code=report.category_code, urgency=report.urgency,
        description=report.description, address=report.address_text, geom=report.geom, **case_owners(owners),
        report_count=1, first_reported_at=report.reported_at, last_reported_at=report.reported_at,
        split_from_id=old.id, version=1,
    )
    start_intake_clock(new, _dispatch_limit(session))
    session.add(new)
    session.flush()
    report.case_id = new.id
    old.report_count -= 1
    old.version += 1
    old.updated_at = func.now()
    rest = session.execute(
        select(func.min(Report.reported_at), func.max(Report.reported_at))
        .where(Report.case_id == old.id, Report.id != report.id)
    ).one()
    old.first_reported_at, old.last_reported_at = rest
    _event(session, old, user, "report_split_off", {"report_id": report.id, "new_case_id": new.id}, reason)
    _event(session, new, user, "opened_by_split", {"report_id": report.id, "from_case_id": old.id}, reason)
    audit.record(session, user.username, "report.split", "report", report.id,
                 before={"case_id": old.id}, after={"case_id": new.id, "reason": reason})
    session.flush()
    return new
