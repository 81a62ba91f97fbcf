"""The input layer: one JSON Schema per request body, the same dicts the OpenAPI document publishes, and a
small validator for the part of JSON Schema they use. Every refusal is an InputError naming the field
(`helpers[2]`, `coverage.features[0].geometry`) before any domain code runs.

Beyond the schemas, every text anywhere in a body, a query or a form is refused when it holds a NUL
or a lone surrogate (PostgreSQL cannot store the first, UTF-8 cannot encode the second), and a JSON
body is refused before parsing when it nests deeper than MAX_DEPTH.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from app.errors import InputError

MAX_DEPTH = 32
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "array": (list,),
    "object": (dict,), "null": (type(None),),
}
_NAMES = {"string": "a string", "integer": "a whole number", "number": "a number", "boolean": "true or false",
          "array": "a list", "object": "an object", "null": "null"}


# --------------------------------------------------------------------------------------------
# Text and JSON before anything else
# --------------------------------------------------------------------------------------------


def clean_string(field: str, value: str) -> str:
    """A text without NUL or lone surrogates."""
    found = _BAD_TEXT.search(value)
    if found:
        what = "a NUL character" if found.group() == "\x00" else "a lone surrogate (not valid Unicode)"
        raise InputError(field, f"{field} contains {what} at position {found.start()}", 400, error="invalid_text")
    return value


def check_pairs(where: str, pairs: Mapping[str, Any]) -> None:
    """Every key and value of a query string or form (MultiDict-like or a plain mapping)."""
    items = pairs.items(multi=True) if hasattr(pairs, "getlist") else pairs.items()
    for key, value in items:
        clean_string(f"{where} parameter", key)
        if isinstance(value, str):
            clean_string(key, value)


def _depth(raw: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (strings skipped), without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_DEPTH:
                    return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_json(raw: bytes | str, field: str = "body") -> Any:
    """Decode a JSON body: refused (400) when nested deeper than MAX_DEPTH, not UTF-8, not JSON, or holding a
    NUL or a lone surrogate in any key or text. NaN and Infinity (which some clients send) decode as floats
    for the schema to refuse with the field named."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if _depth(data) > MAX_DEPTH:
        raise InputError(field, f"the JSON nests deeper than {MAX_DEPTH} levels", 400, error="invalid_body")
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(field, f"the body is not valid JSON: {exc}", 400, error="invalid_body") from None
    _walk_text(value, field)
    return value


def _walk_text(value: Any, path: str) -> None:
    if isinstance(value, str):
        clean_string(path, value)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk_text(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            clean_string(f"{path} key", key)
            _walk_text(item, _join(path, key))


def _join(path: str, key: str) -> str:
    return key if path in ("", "body") else f"{path}.{key}"


# --------------------------------------------------------------------------------------------
# The validator
# --------------------------------------------------------------------------------------------


def validate(schema: dict, value: Any, path: str = "body") -> Any:
    """`value` checked against `schema` (the subset of JSON Schema below); returns it unchanged."""
    if value is None and schema.get("nullable"):
        return value
    if "anyOf" in schema:
        return _any_of(schema["anyOf"], value, path)
    kinds = schema.get("type")
    if kinds is not None:
        _type(kinds if isinstance(kinds, list) else [kinds], value, path)
    if "enum" in schema and value not in schema["enum"]:
        shown = ", ".join(str(v) for v in schema["enum"][:12])
        raise InputError(path, f"{path} must be one of {shown}; got {_short(value)}")
    if isinstance(value, str):
        _string(schema, value, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        _number(schema, value, path)
    elif isinstance(value, list):
        _array(schema, value, path)
    elif isinstance(value, dict):
        _object(schema, value, path)
    return value


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type(kinds: list[str], value: Any, path: str) -> None:
    for kind in kinds:
        if isinstance(value, _TYPES[kind]) and not (kind in ("integer", "number") and isinstance(value, bool)):
            return
    wanted = " or ".join(_NAMES[k] for k in kinds)
    raise InputError(path, f"{path} must be {wanted}, got {type(value).__name__} {_short(value)}", 400)


def _any_of(options: list[dict], value: Any, path: str) -> Any:
    errors = []
    for option in options:
        try:
            return validate(option, value, path)
        except InputError as exc:
            errors.append(exc)
    deepest = max(errors, key=lambda e: len(e.field or ""))
    raise deepest


def _string(schema: dict, value: str, path: str) -> None:
    clean_string(path, value)
    if "minLength" in schema and len(value.strip()) < schema["minLength"]:
        if not value.strip():
            raise InputError(path, f"{path} is missing", 400, error="missing_field")
        raise InputError(path, f"{path} needs at least {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        raise InputError(path, f"{path} is {len(value)} characters long; at most {schema['maxLength']} are allowed")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        raise InputError(path, f"{path} {_short(value)} does not have the expected form ({schema['pattern']})")
    if schema.get("format") in FORMATS and not FORMATS[schema["format"]](value):
        what = "an ISO 8601 date-time" if schema["format"] == "date-time" else "a date YYYY-MM-DD"
        raise InputError(path, f"{path} {_short(value)} is not {what}", 400)


def _number(schema: dict, value: float, path: str) -> None:
    if not math.isfinite(value):
        raise InputError(path, f"{path} must be a finite number", 400)
    low, high = schema.get("minimum"), schema.get("maximum")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InputError(path, f"{path} must be between {low} and {high}, got {value:g}")
    if schema.get("exclusiveMinimum") is not None and value <= schema["exclusiveMinimum"]:
        raise InputError(path, f"{path} must be more than {schema['exclusiveMinimum']}, got {value:g}")


def _array(schema: dict, value: list, path: str) -> None:
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        raise InputError(path, f"{path} has {len(value)} items; at most {schema['maxItems']} are allowed")
    if "minItems" in schema and len(value) < schema["minItems"]:
        raise InputError(path, f"{path} needs at least {schema['minItems']} items")
    items = schema.get("items")
    if items is not None:
        for i, item in enumerate(value):
            validate(items, item, f"{path}[{i}]")


def _object(schema: dict, value: dict, path: str) -> None:
    properties = schema.get("properties", {})
    for name in schema.get("required", ()):
        if value.get(name) is None:
            field = _join(path, name)
            raise InputError(field, f"{field} is missing", 400, error="missing_field")
    if schema.get("additionalProperties") is False:
        unknown = sorted(set(value) - set(properties))
        if unknown:
            field = _join(path, unknown[0])
            raise InputError(field, f"unknown field {field!r}; accepted: {', '.join(sorted(properties))}", 400)
    extra = schema.get("additionalProperties")
    for name, item in value.items():
        sub = properties.get(name, extra if isinstance(extra, dict) else None)
        if sub is not None:
            validate(sub, item, _join(path, name))


def _datetime(text: str) -> bool:
    from datetime import datetime

    try:
        datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _date(text: str) -> bool:
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", text))


FORMATS = {"date-time": _datetime, "date": _date}


# --------------------------------------------------------------------------------------------
# The bodies (published in the OpenAPI document under components/schemas)
# --------------------------------------------------------------------------------------------


def text(max_length: int, required: bool = False, **more: Any) -> dict:
    """A string schema: up to `max_length` characters; `required`: not blank."""
    schema: dict = {"type": "string", "maxLength": max_length, **more}
    if required:
        schema["minLength"] = 1
    else:
        schema["nullable"] = True
    return schema


def number(low: float | None = None, high: float | None = None, integer: bool = False, **more: Any) -> dict:
    """A finite number (or a whole number) within [low, high]."""
    schema: dict = {"type": "integer" if integer else "number", "nullable": True, **more}
    if low is not None:
        schema["minimum"] = low
    if high is not None:
        schema["maximum"] = high
    return schema


def obj(required: tuple[str, ...] = (), closed: bool = True, **props: dict) -> dict:
    """An object with these properties (closed: no others)."""
    schema: dict = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def array(items: dict, max_items: int, min_items: int = 0) -> dict:
    """A list of at most `max_items` items."""
    schema = {"type": "array", "items": items, "maxItems": max_items, "nullable": True}
    if min_items:
        schema["minItems"] = min_items
    return schema


CODE = text(20, pattern=r"^[A-Za-z0-9_\-]{1,20}$")
URGENCY = {"type": "string", "enum": ["normal", "urgent", "emergency"], "nullable": True}
DATE = text(10, format="date")
DATETIME = text(40, format="date-time")
# The geometry itself is checked by gis.carving.check_proposal_geometry (cheapest first, named coverage[i]).
COVERAGE_FEATURE = obj(closed=False, type={"type": "string", "enum": ["Feature"]},
                       geometry={"type": "object", "nullable": True},
                       properties=obj(closed=False, station_code=text(20),
                                      carve={"type": "boolean", "nullable": True}, name=text(80)))
NEW_STATION = obj(("code", "name", "lon", "lat"), code=CODE, name=text(80, required=True),
                  lon=number(-180, 180), lat=number(-90, 90), parent_code=CODE)
PROPOSAL = obj(
    ("coverage",),
    coverage=obj(("features",), closed=False, type={"type": "string", "enum": ["FeatureCollection"]},
                 features=array(COVERAGE_FEATURE, 200)),
    new_stations=array(NEW_STATION, 20), reason=text(500), reassign={"type": "string", "enum": ["move", "keep"]},
    base_version=number(1, 2**31 - 1, integer=True),
    allow_multipart={"anyOf": [{"type": "boolean"}, array(CODE, 50)], "nullable": True},
    # painted grid cells: {cell code: station code}; unknown cells are named by app/territory/planning.py
    cells={"type": "object", "nullable": True,
           "additionalProperties": text(20, required=True, pattern=r"^[A-Z]{1,3}-[0-9A-Z]{1,6}$")},
)

BODIES: dict[str, dict] = {
    "ReportInput": obj(
        ("channel", "category", "description"), channel=text(20, required=True),
        category=text(5, required=True, pattern=r"^[0-9]{5}$"), description=text(4000, required=True),
        reference=text(120), reporter_name=text(80), reporter_phone=text(40), urgency=URGENCY,
        lon=number(), lat=number(), crs=text(10), address=text(200), reported_at=DATETIME,
        attachments=array({"anyOf": [text(2000, required=True), obj(("url",), closed=False, url=text(2000))]}, 10)),
    "Split": obj(case_version=number(1, 2**31 - 1, integer=True), reason=text(1000)),
    "Action": obj(
        ("action", "version"), action=text(40, required=True), version=number(1, 2**31 - 1, integer=True),
        note=text(2000), reason=text(2000), urgency=URGENCY, category=text(5, pattern=r"^[0-9]{5}$"),
        owner=obj(("kind", "code"), kind={"type": "string", "enum": ["department", "station"]}, code=CODE),
        helpers=array(CODE, 20), photos=array(text(2000, required=True), 10), hours=number(0, 720),
        level=number(1, 4, integer=True), satisfaction=number(1, 5, integer=True),
        satisfaction_source={"type": "string", "enum": ["hotline_callback", "reporter"], "nullable": True},
        assignee=text(60)),
    "BulkAction": obj(
        ("items", "action"),
        items=array(obj(("id", "version"), id=number(1, 2**63 - 1, integer=True),
                        version=number(1, 2**31 - 1, integer=True)), 200, 1),
        action=text(40, required=True), note=text(2000), reason=text(2000), urgency=URGENCY,
        category=text(5, pattern=r"^[0-9]{5}$"),
        owner=obj(("kind", "code"), kind={"type": "string", "enum": ["department", "station"]}, code=CODE),
        helpers=array(CODE, 20), hours=number(0, 720), level=number(1, 4, integer=True),
        satisfaction=number(1, 5, integer=True),
        satisfaction_source={"type": "string", "enum": ["hotline_callback", "reporter"], "nullable": True},
        assignee=text(60)),
    "ReviewInput": obj(("rating",), rating=number(1, 5, integer=True), review=text(2000)),
    "OrderInput": obj(("method", "reason"),
                      method={"type": "string", "enum": ["phone", "written", "on_site", "meeting", "interview"]},
                      reason=text(2000, required=True), due_at=DATETIME),
    "OrderAction": obj(("action",), action={"type": "string", "enum": ["answer", "remind", "close"]}, note=text(2000)),
    "RuleInput": obj(
        priority=number(-100_000, 100_000, integer=True), name=text(120), category_prefix=text(5),
        urgency=URGENCY, channel=CODE, station_code=CODE, target=text(40), helpers=array(CODE, 20), note=text(2000),
        active={"type": "boolean", "nullable": True}),
    "SettingInput": obj(("value",), closed=True, value={}),
    "AlertModuleInput": obj(
        rule={"type": "string", "enum": ["surge", "new_hotspot"], "nullable": True},
        params={"type": "object", "nullable": True, "additionalProperties": {"type": "number"}},
        category_prefixes=array(text(5, required=True, pattern=r"^\d{2}(\d{3})?$"), 40, 1),
        name=text(60), name_en=text(120), active={"type": "boolean", "nullable": True}),
    "ChronicControl": obj(("version",), version=number(1, 2**31 - 1, integer=True), owner=text(120),
                          plan=text(4000), review_on=DATE, note=text(2000),
                          status={"type": "string", "enum": ["open", "controlled", "resolved"], "nullable": True},
                          action={"type": "string", "enum": ["control", "review"], "nullable": True}),
    "Proposal": PROPOSAL,
    "DraftInput": obj(proposal={**PROPOSAL, "nullable": True}, title=text(200),
                      status={"type": "string", "enum": ["draft", "saved", "discarded"], "nullable": True},
                      saved_version_id=number(1, 2**31 - 1, integer=True)),
    "DraftCreate": obj(("title", "proposal"), title=text(200, required=True), proposal=PROPOSAL),
    "SitesInput": obj(k=number(1, 10, integer=True), service_m=number(100, 20000),
                      method=text(20), candidates=text(20), max_candidates=number(10, 1000, integer=True),
                      time_limit_s=number(1, 120), category=text(200), **{"from": DATE, "to": DATE}),
    "TerritoriesInput": obj(
        ("sites",), sites=array(obj(("lon", "lat"), lon=number(-180, 180), lat=number(-90, 90), name=text(80),
                                    code=CODE), 10, 1),
        balance={"type": "boolean", "nullable": True}, tolerance=number(0.01, 1.0), category=text(200),
        title=text(200), reason=text(500), **{"from": DATE, "to": DATE}),
    "PatrolPlanInput": obj(
        ("station",), station=CODE, date=DATE, shift_hours=number(0.25, 12), shift_minutes=number(10, 720),
        speed_kph=number(2, 80), stop_minutes=number(0, 120), max_stops=number(1, 150, integer=True),
        hotspot_days=number(7, 365, integer=True), time_limit_s=number(0.2, 30), assignee=text(60)),
    "AssignInput": obj(("assignee",), assignee=text(60, required=True)),
    "DistrictOrder": obj(
        ("order_no", "category", "description"), order_no=text(60, required=True, pattern=r"^[A-Za-z0-9_\-./]{1,60}$"),
        category=text(5, required=True, pattern=r"^[0-9]{5}$"), description=text(4000, required=True), urgency=URGENCY,
        lon=number(), lat=number(), crs=text(10), address=text(200), reported_at=DATETIME, reporter_name=text(80),
        reporter_phone=text(40), attachments=array(text(2000, required=True), 10)),
    # the field app (app/field): positions in batches, a stop visited, a case action from the phone
    "PositionsInput": obj(("positions",), positions=array(obj(
        ("lon", "lat", "recorded_at"), lon={"type": "number", "minimum": -180, "maximum": 180},
        lat={"type": "number", "minimum": -90, "maximum": 90}, recorded_at=text(40, required=True, format="date-time"),
        accuracy_m=number(0, 100_000)), 500, 1)),
    "StopVisit": obj(at=DATETIME, lon=number(-180, 180), lat=number(-90, 90)),
    "FieldAction": obj(("action", "version"),
                       action={"type": "string", "enum": ["accept", "feedback", "check", "rework", "return"]},
                       version=number(1, 2**31 - 1, integer=True), note=text(2000), reason=text(2000),
                       photos=array(text(2000, required=True), 10)),
    "RestoreInput": obj(("reason", "base_version"), reason=text(500, required=True),
                        base_version=number(1, 2**31 - 1, integer=True),
                        reassign={"type": "string", "enum": ["move", "keep"], "nullable": True}),
    # emergency command and the duty roster (app/command)
    "DutyAssignmentInput": obj(("position", "username", "day", "shift"), position=CODE,
                               username=text(60, required=True),
                               day=DATE, shift=CODE),
    "RosterPlanInput": obj(("position", "month", "usernames"), position=CODE,
                           month=text(7, required=True, pattern=r"^[0-9]{4}-[0-9]{2}$"),
                           usernames=array(text(60, required=True), 60, 1),
                           replace={"type": "boolean", "nullable": True}),
    "SwapInput": obj(("assignment_id", "to_username"), assignment_id=number(1, 2**63 - 1, integer=True),
                     to_username=text(60, required=True), reason=text(1000)),
    "SwapDecision": obj(("approve",), approve={"type": "boolean"}),
    "HandoverInput": obj(("position", "to_username", "open_items"), position=CODE, to_username=text(60, required=True),
                         open_items=text(4000, required=True), watch=text(4000)),
    "IncidentInput": obj(
        ("title", "type", "level", "commander"), title=text(200, required=True), type=CODE,
        level={"anyOf": [text(4, required=True), number(1, 4, integer=True)]}, commander=text(60, required=True),
        case_id=number(1, 2**63 - 1, integer=True), grid_code=text(15, pattern=r"^[0-9]{15}$"),
        lon=number(-180, 180), lat=number(-90, 90), area={"type": "object", "nullable": True},
        buffer_m=number(1, 20000), geometry={"type": "object", "nullable": True}),
    "IncidentStatusInput": obj(("status",), status={"type": "string", "enum": ["declared", "responding", "stabilised",
                                                                               "closed"]},
                               version=number(1, 2**31 - 1, integer=True), note=text(2000)),
    "IncidentAreaInput": obj(area={"type": "object", "nullable": True}, buffer_m=number(1, 20000),
                             geometry={"type": "object", "nullable": True}, version=number(1, 2**31 - 1, integer=True)),
    "LinkCasesInput": obj(("case_ids",), case_ids=array(number(1, 2**63 - 1, integer=True), 500, 1)),
    "NoteInput": obj(("text",), text=text(4000, required=True)),
    "DispatchInput": obj(("resource_id", "quantity"), resource_id=number(1, 2**63 - 1, integer=True),
                         quantity=number(1, 1_000_000, integer=True), note=text(1000)),
    "RollCallInput": obj(("text",), text=text(2000, required=True), usernames=array(text(60, required=True), 500),
                         on_duty_inside={"type": "boolean", "nullable": True}),
    "ReportFileInput": obj(("kind",), kind={"type": "string", "enum": ["first", "followup", "final"]}, note=text(4000)),
    "ResourceInput": obj(("code", "kind", "name", "quantity"),
                         code=text(30, required=True, pattern=r"^[A-Za-z0-9_\-]{1,30}$"),
                         kind=CODE, name=text(120, required=True), quantity=number(0, 1_000_000, integer=True),
                         unit=text(20), station_code=CODE, depot=text(120), lon=number(-180, 180), lat=number(-90, 90)),
}


def body(name: str, value: Any) -> dict:
    """A decoded JSON body checked against the schema `name` (a JSON object is always required)."""
    if not isinstance(value, dict):
        raise InputError("body", "send a JSON object", 400, error="invalid_body")
    return validate(BODIES[name], value)
