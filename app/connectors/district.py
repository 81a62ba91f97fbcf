"""Orders of the district center (新区城运中心) coming in, and the rule that their cases are fed back.

An order arrives on POST /api/v1/district/orders with the district's order number; it is filed through
the ordinary intake on the `district` channel (so it merges, is located and assigned like any report)
and the order number is kept, unique: the same order sent again answers the first filing, a different
order under a number already used is refused. The district hears at once that the order was taken
(an outbox event) and then every state change (app/connectors/outbox.py).

A district case needs a written result for the district: its feedback step (处置反馈) must carry a
note, and it cannot be closed while no feedback with a note is on its history.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts import audit
from app.accounts.models import User
from app.cases import intake, machine
from app.cases.models import Case, CaseEvent
from app.connectors import outbox
from app.connectors.models import DistrictOrder
from app.errors import Conflict

ORDER_FIELDS = ("order_no", "category", "description", "urgency", "lon", "lat", "crs", "address",
                "reported_at", "reporter_name", "reporter_phone", "attachments")


@dataclass
class Received:
    """The order's case and report, and whether this call filed it (False: a repeat)."""

    order_no: str
    case_id: int
    report_id: int
    created: bool

    def answer(self) -> dict:
        """What the endpoint answers."""
        return {"order_no": self.order_no, "case_id": self.case_id, "report_id": self.report_id,
                "replayed": not self.created}


def _digest(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def receive(session: Session, settings: intake.IntakeSettings, user: User, body: dict) -> Received:
    """File a district order (or answer the earlier filing of the same order); the caller commits."""
    order_no = body["order_no"].strip()
    intake._lock(session, [f"district:{order_no}"])  # two deliveries of one order at once: one files it
    digest = _digest(body)
    earlier = session.get(DistrictOrder, order_no)
    if earlier is not None:
        if earlier.request_hash != digest:
            raise Conflict("order_no_reused", f"district order {order_no} was received with other content",
                           case_id=earlier.case_id)
        return Received(order_no, earlier.case_id, earlier.report_id, created=False)
    payload = {k: v for k, v in body.items() if k in ORDER_FIELDS and k != "order_no"}
    inp = intake.parse_report({**payload, "channel": "district", "reference": order_no},
                              max_age_days=settings.max_age_days)
    filed = intake.submit_report(session, settings, user, inp)
    order = DistrictOrder(order_no=order_no, case_id=filed.report.case_id, report_id=filed.report.id,
                          request_hash=digest)
    session.add(order)
    session.flush()
    case = session.get(Case, order.case_id)
    session.add(outbox.new_event(order.case_id, "order.received", {
        "type": "order.received", "order_no": order_no, "case_id": order.case_id, "report_id": order.report_id,
        "merged": filed.report.merged, "state": case.state if case else None,
        "grid_code": filed.report.grid_code, "station": filed.report.station_code,
        "at": filed.report.received_at.isoformat() if filed.report.received_at else None,
    }))
    audit.record(session, user.username, "district.order", "case", order.case_id,
                 after={"order_no": order_no, "report_id": order.report_id})
    session.flush()
    return Received(order_no, order.case_id, order.report_id, created=True)


def order_of(session: Session, case_id: int) -> str | None:
    """The district order number of a case, if it came from the district."""
    return session.scalar(select(DistrictOrder.order_no).where(DistrictOrder.case_id == case_id)
                          .order_by(DistrictOrder.received_at).limit(1))


def guard(session: Session, case: Case, step: machine.Step, fields: dict) -> None:
    """A district case's feedback needs a note for the district, and it closes only after such a feedback."""
    if step.action.name not in ("feedback", "close"):
        return
    if order_of(session, case.id) is None:
        return
    if step.action.name == "feedback":
        if not str(fields.get("note") or "").strip():
            raise machine.ActionRefused("missing_field", "a district order's feedback needs a note: the result "
                                        "sent back to the district center", "note")
        return
    fed_back = session.scalar(select(func.count()).select_from(CaseEvent).where(
        CaseEvent.case_id == case.id, CaseEvent.action == "feedback", func.length(func.trim(CaseEvent.note)) > 0))
    if not fed_back:
        raise machine.ActionRefused("illegal", f"case {case.id} is a district order: it cannot be closed without "
                                    "a feedback (处置反馈) with a note for the district center")
