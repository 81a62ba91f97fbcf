"""Reference data kept as editable CSV files: departments, categories, the working calendar."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.accounts.models import Department
from app.cases.models import CalendarDay, Category, Channel

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "data" / "reference"


def channels(session: Session) -> list[dict]:
    """The active channels reports arrive through."""
    rows = session.scalars(select(Channel).where(Channel.active.is_(True)).order_by(Channel.code))
    return [{"code": c.code, "name": c.name, "name_en": c.name_en, "reference_label": c.reference_label} for c in rows]


def categories(session: Session) -> list[dict]:
    """The active case categories (部件 components and 事件 matters)."""
    rows = session.scalars(select(Category).where(Category.active.is_(True)).order_by(Category.code))
    return [{"code": c.code, "kind": c.kind, "name": c.name, "name_en": c.name_en, "major": c.major_name,
             "major_en": c.major_name_en, "default_urgency": c.default_urgency, "time_limit": c.time_limit,
             "time_unit": c.time_unit, "department": c.department_code} for c in rows]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _bool(text: str) -> bool:
    return text.strip().lower() in ("true", "1", "yes")


def load_reference(session: Session, folder: Path = REFERENCE_DIR, actor: str = "system") -> dict[str, int]:
    """Insert or update departments, categories and calendar days from the CSV files."""
    counts = {
        "departments": _upsert(session, Department, "code", [
            {"code": r["code"], "name": r["name"], "name_en": r["name_en"], "kind": r["kind"]}
            for r in _rows(folder / "departments.csv")
        ]),
        "categories": _upsert(session, Category, "code", [
            {
                "code": r["code"], "kind": r["kind"], "major_code": r["code"][:2], "minor_code": r["code"][2:],
                "major_name": r["major_name"], "major_name_en": r["major_name_en"], "name": r["name"],
                "name_en": r["name_en"], "default_urgency": r["default_urgency"],
                "time_limit": float(r["time_limit"]), "time_unit": r["time_unit"],
                "department_code": r["department_code"] or None,
            }
            for r in _rows(folder / "categories.csv")
        ]),
        "calendar_days": _upsert(session, CalendarDay, "day", [
            {"day": date.fromisoformat(r["day"]), "is_working": _bool(r["is_working"]), "name": r["name"]}
            for r in _rows(folder / "calendar.csv")
        ]),
    }
    audit.record(session, actor, "reference.load", "reference", str(folder), after=counts)
    return counts


def _upsert(session: Session, model: type, key: str, rows: list[dict]) -> int:
    existing = {getattr(o, key): o for o in session.scalars(select(model))}
    for row in rows:
        obj = existing.get(row[key])
        if obj is None:
            session.add(model(**row))
        else:
            for name, value in row.items():
                setattr(obj, name, value)
    session.flush()
    return len(rows)
