"""Open311 GeoReport v2 on top of intake and the case workflow. No Flask.

A service is a category; a service request is a case (service_request_id = case id), so reports
that intake merges into one case answer with the same id; the token of a POST is the report id.
Our states map to open/closed; expected_datetime is the case's deadline.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shapely.geometry import Point
from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from app import params
from app.accounts.models import Department, User
from app.cases import intake, machine, scope
from app.cases.models import Attachment, Case, Category, Report
from app.cases.worktime import BEIJING
from app.errors import DomainError, InputError
from app.territory import caches as territory_caches
from app.territory.models import Station
from gis.crs import to_metric

SPEC = "http://wiki.open311.org/GeoReport_v2"
JURISDICTION = "310115145"  # the town's administrative code
DEFAULT_DAYS = 90
MAX_REQUESTS = 1000  # a page of GET requests at most (page_size); page=2... for more
JURISDICTION_MARGIN_M = 1000.0  # a point this far outside the town is not ours to take
MAX_PAGE = 10**6
URGENCY_NAMES = {"normal": "一般 normal", "urgent": "紧急 urgent", "emergency": "突发 emergency"}
ATTRIBUTES = ("urgency", "reference")
XML_LISTS = {"services": "service", "service_requests": "request", "attributes": "attribute", "values": "value",
             "endpoints": "endpoint", "formats": "format", "errors": "error"}
_XML_BAD = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Open311Error(DomainError):
    """An error in the spec's format: 400 (bad request), 403 (api_key) or 404 (not found)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description, status=status, error="open311")
        self.description = description


@dataclass(frozen=True)
class Caller:
    """Who is calling through an api_key, and the channel their reports arrive through."""

    user: User
    channel: str


# --------------------------------------------------------------------------------------------
# Discovery and services
# --------------------------------------------------------------------------------------------


def discovery(endpoint_url: str, changeset: str) -> dict:
    """The discovery document."""
    return {
        "changeset": changeset, "contact": "南汇新城镇城运分中心 Nanhui New City Town urban-operations sub-center",
        "key_service": "API keys are the platform's API tokens, issued by an administrator "
                       "(flask --app app users token NAME).",
        "endpoints": [{"specification": SPEC, "url": endpoint_url, "changeset": changeset, "type": "production",
                       "formats": ["text/xml", "application/json"]}],
    }


def _service(c: Category) -> dict:
    return {
        "service_code": c.code, "service_name": c.name, "description": f"{c.name_en} ({c.major_name} / "
        f"{c.major_name_en})", "metadata": True, "type": "realtime",
        "keywords": ",".join((c.kind, c.major_name, c.name_en)), "group": c.major_name,
    }


def services(session: Session) -> list[dict]:
    """Every active category as a service."""
    rows = session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code)).all()
    return [_service(c) for c in rows]


def service_definition(session: Session, code: str) -> dict:
    """The attributes a request of this service may carry."""
    category = session.get(Category, code)
    if category is None or not category.active:
        raise Open311Error(404, f"service_code {code!r} was not found")
    urgency_values = [{"key": k, "name": v} for k, v in URGENCY_NAMES.items()]
    return {"service_code": code, "attributes": [
        {"variable": True, "code": "urgency", "datatype": "singlevaluelist", "required": False,
         "datatype_description": f"default: {category.default_urgency}", "order": 1,
         "description": "紧急程度 urgency", "values": urgency_values},
        {"variable": True, "code": "reference", "datatype": "string", "required": False,
         "datatype_description": "up to 120 characters", "order": 2,
         "description": "your system's own id for this request (来源编号)"},
    ]}


# --------------------------------------------------------------------------------------------
# Posting a request
# --------------------------------------------------------------------------------------------


def to_report(form: dict, attributes: dict, service_name: str | None = None) -> dict:
    """The intake body for a GeoReport v2 POST (form fields and attribute[...] values)."""
    if not form.get("service_code"):
        raise Open311Error(400, "service_code was not provided")
    has_point = bool(form.get("lat") or form.get("long"))
    if not has_point and not form.get("address_string"):
        raise Open311Error(400, "lat and long, or address_string, must be provided")
    unknown = sorted(set(attributes) - set(ATTRIBUTES))
    if unknown:
        raise Open311Error(400, f"unknown attribute {unknown[0]!r}; this service defines {', '.join(ATTRIBUTES)}")
    urgency = attributes.get("urgency") or None
    if urgency is not None and urgency not in URGENCY_NAMES:
        raise Open311Error(400, f"attribute[urgency] must be one of {', '.join(URGENCY_NAMES)}")
    name = " ".join(x for x in (form.get("first_name"), form.get("last_name")) if x) or None
    body = {
        "category": form["service_code"], "description": form.get("description") or service_name or "",
        "reporter_name": name, "reporter_phone": form.get("phone") or None, "urgency": urgency,
        "reference": attributes.get("reference") or None, "address": form.get("address_string") or None,
    }
    if has_point:
        body["lon"], body["lat"] = _number(form.get("long"), "long"), _number(form.get("lat"), "lat")
    if form.get("media_url"):
        body["attachments"] = [form["media_url"]]
    return {k: v for k, v in body.items() if v is not None}


def _number(raw: str | None, name: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise Open311Error(400, f"{name} must be a number in WGS84 decimal degrees") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise Open311Error(400, f"{name} must be a finite number")
    return value


def submit(session: Session, settings: intake.IntakeSettings, caller: Caller, form: dict, attributes: dict) -> dict:
    """File the request through intake (same checks, ownership and merging); the caller commits."""
    category = session.get(Category, form.get("service_code") or "")
    body = to_report(form, attributes, category.name if category is not None else None)
    if category is None or not category.active:
        raise Open311Error(404, f"service_code {form['service_code']!r} was not found (GET services lists them)")
    if "lon" in body:
        _in_jurisdiction(session, body["lon"], body["lat"])
    body["channel"] = caller.channel
    try:
        inp = intake.parse_report(body, max_age_days=settings.max_age_days)
        done = intake.submit_report(session, settings, caller.user, inp)
    except InputError as exc:
        field = {"lon": "long", "category": "service_code", "address": "address_string",
                 "attachments[0]": "media_url", "reporter_phone": "phone"}.get(exc.field, exc.field)
        raise Open311Error(400, f"{field}: {exc.message}") from None
    report = done.report
    notice = "已并入已有案件 merged into an existing request" if report.merged else "已受理 received"
    return {"service_request_id": str(report.case_id), "token": str(report.id), "service_notice": notice,
            "account_id": None}


def _in_jurisdiction(session: Session, lon: float, lat: float) -> None:
    """Refuse a point outside the town (by more than JURISDICTION_MARGIN_M, measured in EPSG:4550)."""
    index = territory_caches.ownership(session)
    if index.owner_at(lon, lat).inside_town:
        return
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise Open311Error(400, "lat and long must be WGS84 decimal degrees (lat -90..90, long -180..180)")
    away = to_metric(index.town).distance(to_metric(Point(lon, lat)))
    if away > JURISDICTION_MARGIN_M:
        raise Open311Error(400, f"the point lat={lat} long={lon} is {away / 1000:.1f} km outside jurisdiction "
                                f"{JURISDICTION} (南汇新城镇): this endpoint takes requests inside the town only")


# --------------------------------------------------------------------------------------------
# Reading requests
# --------------------------------------------------------------------------------------------


@dataclass
class RequestQuery:
    """The filters of GET requests."""

    ids: list[int] | None = None
    service_codes: list[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    statuses: list[str] | None = None
    page: int = 1
    page_size: int = MAX_REQUESTS


def parse_query(args: dict, now: datetime | None = None) -> RequestQuery:
    """Check the filters; by default the last 90 days, newest first, in pages of at most 1,000 (`page`,
    `page_size`: an extension of the spec, which stops at 1,000)."""
    q = RequestQuery(page=_whole(args, "page", 1, MAX_PAGE), page_size=_whole(args, "page_size", MAX_REQUESTS,
                                                                                MAX_REQUESTS))
    if args.get("service_request_id"):
        parts = [p.strip() for p in args["service_request_id"].split(",") if p.strip()]
        if not parts or not all(re.fullmatch(r"\d{1,18}", p) for p in parts):
            raise Open311Error(400, "service_request_id must be a comma-separated list of request ids")
        q.ids = [int(p) for p in parts][:MAX_REQUESTS]
        return q  # the spec: other filters are ignored when ids are given
    if args.get("service_code"):
        q.service_codes = [p.strip() for p in args["service_code"].split(",") if p.strip()]
    q.start = _datetime(args.get("start_date"), "start_date")
    q.end = _datetime(args.get("end_date"), "end_date")
    if q.start and q.end and q.start > q.end:
        raise Open311Error(400, "start_date is after end_date")
    if q.start is None:
        q.start = (q.end or now or datetime.now(UTC)) - timedelta(days=DEFAULT_DAYS)
    if args.get("status"):
        q.statuses = [p.strip() for p in args["status"].split(",") if p.strip()]
        if not set(q.statuses) <= {"open", "closed"}:
            raise Open311Error(400, "status must be open, closed or both (comma-separated)")
    return q


def _whole(args: dict, name: str, default: int, high: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    if not re.fullmatch(r"\d{1,9}", raw) or not 1 <= int(raw) <= high:
        raise Open311Error(400, f"{name} must be a whole number from 1 to {high:,}")
    return int(raw)


def _datetime(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        return params.instant(name, raw)
    except InputError as exc:
        raise Open311Error(400, f"{exc.message} (a W3C date-time, e.g. 2026-04-14T06:37:38+08:00)") from None


def _scope(user: User | None):
    """What the caller may see; anonymous readers (OPEN311_PUBLIC_READ) see every request."""
    return literal(True) if user is None else scope.visible_to(user)


def find(session: Session, user: User | None, q: RequestQuery) -> list[dict]:
    """The requests matching the query that the caller may see, newest first."""
    where = [_scope(user)]
    if q.ids is not None:
        where.append(Case.id.in_(q.ids))
    else:
        if q.service_codes:
            where.append(Case.category_code.in_(q.service_codes))
        if q.start:
            where.append(Case.first_reported_at >= q.start)
        if q.end:
            where.append(Case.first_reported_at <= q.end)
        if q.statuses and len(set(q.statuses)) == 1:
            closed = Case.state.in_(machine.FINAL)
            where.append(closed if q.statuses[0] == "closed" else ~closed)
    rows = session.execute(
        select(Case, func.ST_X(Case.geom), func.ST_Y(Case.geom)).where(*where)
        .order_by(Case.first_reported_at.desc(), Case.id.desc())
        .offset((q.page - 1) * q.page_size).limit(q.page_size)
    ).all()
    return _requests(session, rows)


def one(session: Session, user: User | None, request_id: str) -> list[dict]:
    """A single request, as a list of one (404 when missing or out of the caller's scope)."""
    if not re.fullmatch(r"\d{1,18}", request_id):
        raise Open311Error(404, f"service_request_id {request_id!r} was not found")
    found = find(session, user, RequestQuery(ids=[int(request_id)]))
    if not found:
        raise Open311Error(404, f"service_request_id {request_id!r} was not found")
    return found


def token(session: Session, user: User | None, token_id: str) -> list[dict]:
    """The request a POST's token became."""
    if not re.fullmatch(r"\d{1,18}", token_id):
        raise Open311Error(404, f"token {token_id!r} was not found")
    case_id = session.scalar(
        select(Report.case_id).join(Case, Case.id == Report.case_id)
        .where(Report.id == int(token_id), _scope(user))
    )
    if case_id is None:
        raise Open311Error(404, f"token {token_id!r} was not found")
    return [{"service_request_id": str(case_id), "token": token_id}]


def _requests(session: Session, rows: Iterable) -> list[dict]:
    ids = [r[0].id for r in rows]
    names = _names(session)
    media: dict[int, str] = {}
    if ids:
        for case_id, attachment_id, kind, url in session.execute(
            select(Report.case_id, Attachment.id, Attachment.kind, Attachment.url)
            .join(Attachment, Attachment.report_id == Report.id).where(Report.case_id.in_(ids)).order_by(Attachment.id)
        ):
            media.setdefault(case_id, url if kind == "url" else f"/api/v1/attachments/{attachment_id}")
    return [_request(c, lon, lat, names, media.get(c.id)) for c, lon, lat in rows]


def _names(session: Session) -> dict:
    names = {("department", d.code): d.name for d in session.scalars(select(Department))}
    names.update({("station", s.code): s.name for s in session.scalars(select(Station))})
    names.update({("category", c.code): c.name for c in session.scalars(select(Category))})
    return names


def _request(c: Case, lon: float, lat: float, names: dict, media: str | None) -> dict:
    closed = c.state in machine.FINAL
    zh, en = machine.STATES[c.state]
    if c.owner_code:
        agency = names.get((c.owner_kind, c.owner_code), c.owner_code)
    else:
        agency = names.get(("station", c.station_code), c.station_code)
    return {
        "service_request_id": str(c.id), "status": "closed" if closed else "open",
        "status_notes": f"{zh} ({en})", "service_name": names.get(("category", c.category_code), c.category_code),
        "service_code": c.category_code, "description": c.description, "agency_responsible": agency,
        "service_notice": None, "requested_datetime": _w3c(c.first_reported_at),
        "updated_datetime": _w3c(c.updated_at),
        "expected_datetime": None if closed else _w3c(c.deadline_at),
        "address": c.address, "address_id": None, "zipcode": None,
        "lat": round(lat, 7), "long": round(lon, 7), "media_url": media,
    }


def _w3c(value: datetime | None) -> str | None:
    return value.astimezone(BEIJING).isoformat(timespec="seconds") if value else None


# --------------------------------------------------------------------------------------------
# XML
# --------------------------------------------------------------------------------------------


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_BAD.sub("\ufffd", str(value))  # characters XML 1.0 cannot carry at all


def _fill(parent: ET.Element, tag: str, value: object) -> None:
    child = ET.SubElement(parent, tag)
    if isinstance(value, list):
        item = XML_LISTS.get(tag, "item")
        for v in value:
            _fill(child, item, v)
    elif isinstance(value, dict):
        for k, v in value.items():
            _fill(child, k, v)
    else:
        child.text = _text(value)


def to_xml(root: str, value: object) -> bytes:
    """A document in the spec's XML: lists are wrapped (<services><service>...), text is escaped."""
    element = ET.Element(root)
    if isinstance(value, list):
        for v in value:
            _fill(element, XML_LISTS.get(root, "item"), v)
    else:
        for k, v in value.items():
            _fill(element, k, v)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8", xml_declaration=False)
