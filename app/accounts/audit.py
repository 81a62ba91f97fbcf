"""The audit trail: who changed what, when, before and after."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.accounts.models import AuditEntry


def record(
    session: Session, actor: str, action: str, entity: str, entity_id: Any = None,
    before: Any = None, after: Any = None,
) -> None:
    """Append one entry in the caller's transaction."""
    session.add(
        AuditEntry(
            actor=actor, action=action, entity=entity,
            entity_id=None if entity_id is None else str(entity_id), before=before, after=after,
        )
    )
