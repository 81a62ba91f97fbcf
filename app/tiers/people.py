"""The staff registry of the station teams (统一编码): listing, XLSX export and import.

An import checks every row first (a unified staff code in the allowed form and not twice in the sheet, a
known station and department, a known user account not linked to another person, training records as
`date course; date course`, equipment as `item; item`) and writes nothing when any row is wrong: the
refusal lists each bad cell by row and column. Otherwise rows are created or updated by staff code, audited.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.accounts.models import Department, User
from app.errors import DomainError
from app.interop.exports import csv_safe
from app.territory.models import Station
from app.tiers.models import Person

COLUMNS = (("code", "统一编码"), ("name", "姓名"), ("station", "联勤站"), ("department", "部门"),
           ("position", "职务"), ("certificate_no", "证件号"), ("phone", "电话"), ("training", "培训记录"),
           ("equipment", "配发装备"), ("username", "账号"))
REQUIRED = ("code", "name", "station")
LIMITS = {"code": 20, "name": 80, "position": 60, "certificate_no": 40, "phone": 40, "username": 60}
CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{3,19}$")
MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024


class ImportRefused(DomainError):
    """The sheet has bad rows: nothing was imported; `errors` lists row, column and message."""

    status = 422
    error = "import_refused"


def listing(session: Session, station: str | None = None) -> list[dict]:
    """The registry, by station and staff code (`station`: one station's team)."""
    query = select(Person).order_by(Person.station_code, Person.code)
    if station:
        query = query.where(Person.station_code == station)
    return [summary(p) for p in session.scalars(query)]


def summary(p: Person) -> dict:
    """One person as the API shows them."""
    return {"code": p.code, "name": p.name, "station": p.station_code, "department": p.department_code,
            "position": p.position, "certificate_no": p.certificate_no, "phone": p.phone,
            "training": list(p.training or []), "equipment": list(p.equipment or []), "username": p.username,
            "active": p.active}


def _cell(key: str, person: dict) -> object:
    if key == "training":
        return "; ".join(f"{t['date']} {t['course']}" for t in person["training"])
    if key == "equipment":
        return "; ".join(person["equipment"])
    return csv_safe(person[key]) if person[key] is not None else None


def to_xlsx(people: list[dict]) -> bytes:
    """The registry as an XLSX workbook with Chinese headers (the sheet an import takes back)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "人员名册"
    sheet.append([zh for _, zh in COLUMNS])
    for person in people:
        sheet.append([_cell(key, person) for key, _ in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _rows(data: bytes) -> list[tuple]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    if not data:
        raise ImportRefused("send the XLSX workbook as the body", "body", errors=[])
    if len(data) > MAX_BYTES:
        raise ImportRefused(f"the workbook is larger than {MAX_BYTES} bytes", "body", status=413, errors=[])
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportRefused(f"not an XLSX workbook ({type(exc).__name__})", "body", errors=[]) from None
    rows = list(book.active.iter_rows(values_only=True))
    if len(rows) > MAX_ROWS + 1:
        raise ImportRefused(f"at most {MAX_ROWS} rows per import", "body", errors=[])
    return rows


def _header(row: tuple) -> dict[str, int]:
    names = {zh: key for key, zh in COLUMNS} | {key: key for key, _ in COLUMNS}
    found = {names[str(v).strip()]: i for i, v in enumerate(row or ()) if v is not None and str(v).strip() in names}
    missing = [zh for key, zh in COLUMNS if key in REQUIRED and key not in found]
    if missing:
        raise ImportRefused(f"the first row must name the columns; missing: {', '.join(missing)}", "header",
                            errors=[{"row": 1, "column": m, "message": "column missing"} for m in missing])
    return found


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    text = str(value).strip()
    return text or None


def _training(text: str | None) -> list[dict]:
    out = []
    for part in filter(None, (p.strip() for p in (text or "").split(";"))):
        day, _, course = part.partition(" ")
        date.fromisoformat(day)  # ValueError names a bad date
        if not course.strip():
            raise ValueError("a training record is `YYYY-MM-DD course`")
        out.append({"date": day, "course": course.strip()})
    return out


class _Checker:
    """Checks rows against the reference tables; collects every error."""

    def __init__(self, session: Session) -> None:
        self.stations = set(session.scalars(select(Station.code)))
        self.departments = set(session.scalars(select(Department.code)))
        self.users = set(session.scalars(select(User.username)))
        self.linked = dict(session.execute(select(Person.username, Person.code)
                                           .where(Person.username.is_not(None))).all())
        self.errors: list[dict] = []
        self.codes: dict[str, int] = {}
        self.accounts: dict[str, int] = {}

    def bad(self, row: int, key: str, message: str) -> None:
        self.errors.append({"row": row, "column": dict(COLUMNS)[key], "field": key, "message": message})

    def row(self, number: int, values: dict) -> dict | None:
        before = len(self.errors)
        for key in REQUIRED:
            if not values.get(key):
                self.bad(number, key, "required")
        for key, limit in LIMITS.items():
            if values.get(key) and len(values[key]) > limit:
                self.bad(number, key, f"at most {limit} characters")
        code = values.get("code")
        if code and not CODE.match(code):
            self.bad(number, "code", "4-20 capital letters, digits or dashes, e.g. JS001-GA-0001")
        elif code in self.codes:
            self.bad(number, "code", f"the same code as row {self.codes[code]}")
        elif code:
            self.codes[code] = number
        self._references(number, values)
        try:
            values["training"] = _training(values.get("training"))
        except ValueError as exc:
            self.bad(number, "training", str(exc))
        values["equipment"] = [p.strip() for p in (values.get("equipment") or "").split(";") if p.strip()]
        return values if len(self.errors) == before else None

    def _references(self, number: int, values: dict) -> None:
        if values.get("station") and values["station"] not in self.stations:
            self.bad(number, "station", f"unknown station {values['station']}")
        if values.get("department") and values["department"] not in self.departments:
            self.bad(number, "department", f"unknown department {values['department']}")
        account = values.get("username")
        if not account:
            return
        if account not in self.users:
            self.bad(number, "username", f"no user {account}")
        elif self.linked.get(account, values.get("code")) != values.get("code"):
            self.bad(number, "username", f"{account} is the account of {self.linked[account]}")
        elif account in self.accounts:
            self.bad(number, "username", f"the same account as row {self.accounts[account]}")
        else:
            self.accounts[account] = number


def import_xlsx(session: Session, data: bytes, actor: str) -> dict:
    """Create or update the people of a workbook by staff code; all or nothing (ImportRefused lists the bad
    cells by row and column)."""
    rows = _rows(data)
    header = _header(rows[0] if rows else ())
    checker = _Checker(session)
    good = []
    for number, row in enumerate(rows[1:], start=2):
        if row is None or all(v is None or str(v).strip() == "" for v in row):
            continue
        values = {key: _text(row[i]) if i < len(row) else None for key, i in header.items()}
        checked = checker.row(number, values)
        if checked is not None:
            good.append(checked)
    if checker.errors:
        first = checker.errors[0]
        raise ImportRefused(f"{len(checker.errors)} bad cell(s), nothing imported; first: row {first['row']}, "
                            f"{first['column']}: {first['message']}", "rows", errors=checker.errors,
                            message_zh=f"有 {len(checker.errors)} 处错误，未导入任何数据；第一处：第 {first['row']} 行"
                                       f"「{first['column']}」：{first['message']}")
    return _write(session, good, actor)


def _write(session: Session, rows: list[dict], actor: str) -> dict:
    existing = {p.code: p for p in session.scalars(select(Person).where(Person.code.in_([r["code"] for r in rows])))}
    created = updated = 0
    now = datetime.now(UTC)
    for r in rows:
        person = existing.get(r["code"])
        if person is None:
            person = Person(code=r["code"])
            session.add(person)
            created += 1
        else:
            updated += 1
        person.name, person.station_code, person.department_code = r["name"], r["station"], r.get("department")
        person.position, person.certificate_no = r.get("position"), r.get("certificate_no")
        person.phone = r.get("phone")
        person.training, person.equipment, person.username = r["training"], r["equipment"], r.get("username")
        person.updated_by, person.updated_at = actor, now
    session.flush()
    audit.record(session, actor, "people.import", "people", None, after={"created": created, "updated": updated})
    return {"created": created, "updated": updated}


def by_username(session: Session) -> dict[str, Person]:
    """The people linked to a user account, by user name (the KPI rows per person name them)."""
    return {p.username: p for p in session.scalars(select(Person).where(Person.username.is_not(None)))}
