"""Roll-call and notification (点名, 通知): an instruction goes to chosen people or to everyone on duty inside
an incident's area, through every configured channel of the notifier interface (the in-app inbox is always
one; a webhook for an SMS gateway when NOTIFY_WEBHOOK_URL is set). Each recipient acknowledges in the console
or the field app (the same API); the incident shows who has and chases the rest."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.command import incidents, summary
from app.command.models import Incident, Instruction, InstructionRecipient
from app.db import found
from app.errors import Conflict, Forbidden, InputError


@dataclass(frozen=True)
class Message:
    """What one recipient is told."""

    recipient_id: int
    username: str
    display_name: str
    text: str
    incident_id: int | None
    incident_title: str | None
    chase: bool = False


class Notifier(Protocol):
    """A delivery channel: `deliver` answers a short status ("delivered", "sent", "failed: why")."""

    name: str

    def deliver(self, message: Message) -> str:
        """Deliver one message."""


class InApp:
    """The console's and field app's inbox: the recipient row is the delivery."""

    name = "in_app"

    def deliver(self, message: Message) -> str:
        """Nothing to send: the inbox reads the unacknowledged rows."""
        return "delivered"


class Webhook:
    """POST the message as JSON to a gateway (an SMS gateway maps the user name to a phone number)."""

    name = "webhook"

    def __init__(self, url: str, timeout_s: float = 3.0) -> None:
        self.url, self.timeout_s = url, timeout_s

    def deliver(self, message: Message) -> str:
        """One POST; any failure is a status, never an exception (the in-app copy stands)."""
        body = json.dumps({"to": message.username, "name": message.display_name, "text": message.text,
                           "incident_id": message.incident_id, "incident": message.incident_title,
                           "recipient_id": message.recipient_id, "chase": message.chase},
                          ensure_ascii=False).encode()
        request = urllib.request.Request(self.url, data=body, method="POST",
                                         headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                return "sent" if 200 <= answer.status < 300 else f"failed: HTTP {answer.status}"
        except urllib.error.HTTPError as exc:
            return f"failed: HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return f"failed: {type(exc).__name__}"


def notifiers(webhook_url: str | None) -> list[Notifier]:
    """The channels in use: in-app always, the webhook when configured."""
    channels: list[Notifier] = [InApp()]
    if webhook_url:
        channels.append(Webhook(webhook_url))
    return channels


def _deliver(channels: list[Notifier], row: InstructionRecipient, message: Message) -> None:
    at = datetime.now(UTC).isoformat()
    row.deliveries = [*(row.deliveries or []), *({"channel": c.name, "status": c.deliver(message), "at": at}
                                                 for c in channels)]


def roll_call(session: Session, actor: str, incident_id: int, text: str, usernames: list[str],
              on_duty_inside: bool, channels: list[Notifier]) -> Instruction:
    """Send an instruction to the named people and/or everyone on duty inside the area; logged."""
    incident = incidents.get(session, incident_id, lock=True)
    if incident.status == "closed":
        raise Conflict("incident_closed", f"incident {incident_id} is closed", message_zh="事件已结束")
    names = list(dict.fromkeys(usernames))
    if on_duty_inside:
        names += [p["username"] for p in summary.on_duty_inside(session, incident.area, datetime.now(UTC))
                  if p["username"] not in names]
    if not names:
        raise InputError("usernames", "nobody to call: name people or call those on duty inside the area",
                         message_zh="没有点名对象：请选择人员，或点名区域内在岗人员")
    people = {u.username: u for u in session.scalars(select(User).where(User.username.in_(names),
                                                                        User.active.is_(True)))}
    unknown = [n for n in names if n not in people]
    if unknown:
        raise InputError("usernames", f"no active user {', '.join(unknown)}")
    instruction = Instruction(incident_id=incident.id, text=text, sent_by=actor)
    session.add(instruction)
    session.flush()
    for name in names:
        row = InstructionRecipient(instruction_id=instruction.id, username=name, deliveries=[], chased=0)
        session.add(row)
        session.flush()
        _deliver(channels, row, _message(row, people[name], instruction, incident))
    incidents.log(session, incident.id, actor, "roll_call", text, {"instruction_id": instruction.id,
                                                                   "to": names})
    return instruction


def _message(row: InstructionRecipient, user: User, instruction: Instruction, incident: Incident | None,
             chase: bool = False) -> Message:
    return Message(row.id, user.username, user.display_name, instruction.text, instruction.incident_id,
                   incident.title if incident else None, chase)


def acknowledge(session: Session, user: User, recipient_id: int) -> InstructionRecipient:
    """The recipient acknowledges (once; a repeat answers the first acknowledgement)."""
    row = found(session, InstructionRecipient, recipient_id, "instruction", lock=True)
    if row.username != user.username:
        raise Forbidden("only its recipient acknowledges an instruction")
    if row.acknowledged_at is None:
        row.acknowledged_at = datetime.now(UTC)
        instruction = session.get(Instruction, row.instruction_id)
        if instruction.incident_id is not None:
            incidents.log(session, instruction.incident_id, user.username, "acknowledged", user.display_name,
                          {"instruction_id": instruction.id, "recipient_id": row.id})
    return row


def chase(session: Session, actor: str, instruction_id: int, channels: list[Notifier]) -> int:
    """Send the instruction again to everyone who has not acknowledged; how many were chased."""
    instruction = found(session, Instruction, instruction_id, "instruction")
    incident = session.get(Incident, instruction.incident_id) if instruction.incident_id else None
    rows = list(session.scalars(select(InstructionRecipient).where(
        InstructionRecipient.instruction_id == instruction_id, InstructionRecipient.acknowledged_at.is_(None))
        .with_for_update()))
    people = {u.username: u for u in session.scalars(select(User).where(User.username.in_([r.username for r in rows])))}
    for row in rows:
        row.chased += 1
        _deliver(channels, row, _message(row, people[row.username], instruction, incident, chase=True))
    if incident is not None:
        incidents.log(session, incident.id, actor, "chased", "", {"instruction_id": instruction_id,
                                                                  "to": [r.username for r in rows]})
    return len(rows)


def status(session: Session, incident_id: int) -> list[dict]:
    """Every roll-call of the incident with each recipient's acknowledgement."""
    out = []
    for instruction in session.scalars(select(Instruction).where(Instruction.incident_id == incident_id)
                                       .order_by(Instruction.id)):
        rows = session.execute(select(InstructionRecipient, User.display_name)
                               .join(User, User.username == InstructionRecipient.username)
                               .where(InstructionRecipient.instruction_id == instruction.id)
                               .order_by(InstructionRecipient.id)).all()
        recipients = [{"id": r.id, "username": r.username, "display_name": name,
                       "acknowledged_at": r.acknowledged_at.isoformat() if r.acknowledged_at else None,
                       "chased": r.chased, "deliveries": r.deliveries} for r, name in rows]
        out.append({"id": instruction.id, "text": instruction.text, "sent_by": instruction.sent_by,
                    "sent_at": instruction.sent_at.isoformat(), "recipients": recipients,
                    "acknowledged": sum(1 for r in recipients if r["acknowledged_at"]), "total": len(recipients)})
    return out


def inbox(session: Session, username: str) -> list[dict]:
    """The user's instructions not yet acknowledged, newest first."""
    rows = session.execute(select(InstructionRecipient, Instruction, Incident.title)
                           .join(Instruction, Instruction.id == InstructionRecipient.instruction_id)
                           .outerjoin(Incident, Incident.id == Instruction.incident_id)
                           .where(InstructionRecipient.username == username,
                                  InstructionRecipient.acknowledged_at.is_(None))
                           .order_by(InstructionRecipient.id.desc()).limit(50)).all()
    return [{"id": r.id, "instruction_id": i.id, "text": i.text, "sent_by": i.sent_by, "sent_at": i.sent_at.isoformat(),
             "incident_id": i.incident_id, "incident": title, "chased": r.chased} for r, i, title in rows]
