"""Idempotent field writes: the phone's outbox sends each queued write with an Idempotency-Key and may send it
again (the answer was lost with the signal). The first answer is stored with a digest of the request; a replay
with the same key and the same request gets that answer again without doing the work twice, a replay with the
same key for another request is a Conflict."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import schemas
from app.accounts.models import User
from app.errors import Conflict, InputError
from app.field.models import FieldRequest

MAX_KEY = 200


@dataclass(frozen=True)
class Answer:
    """What a field write answered and whether it was a replay."""

    status: int
    body: dict
    replayed: bool


def check_key(raw: str | None) -> str | None:
    """The Idempotency-Key header, checked (1 to 200 characters, no control characters), or None."""
    if raw is None:
        return None
    key = raw.strip()
    if not 1 <= len(key) <= MAX_KEY:
        raise InputError("Idempotency-Key", f"Idempotency-Key must be 1 to {MAX_KEY} characters", 400)
    schemas.clean_string("Idempotency-Key", key)
    return key


def digest(*parts: object) -> str:
    """A digest of what was asked (JSON-able parts and bytes)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, ensure_ascii=False,
                                                                  default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()


def once(session: Session, user: User, key: str | None, endpoint: str, request_hash: str,
         work: Callable[[Session], tuple[int, dict]]) -> Answer:
    """Run `work(session)` once per (user, key); without a key, every time. The caller commits."""
    if key is None:
        status, body = work(session)
        return Answer(status, body, False)
    lock = int.from_bytes(hashlib.blake2b(f"field:{user.id}:{key}".encode(), digest_size=8).digest(), "big",
                          signed=True)
    session.execute(select(func.pg_advisory_xact_lock(lock)))
    earlier = session.scalar(select(FieldRequest).where(FieldRequest.user_id == user.id, FieldRequest.key == key))
    if earlier is not None:
        if earlier.endpoint != endpoint or earlier.request_hash != request_hash:
            raise Conflict("idempotency_key_reused",
                           "this Idempotency-Key was used for a different request; use a new key for a new request")
        return Answer(earlier.status, earlier.answer, True)
    status, body = work(session)
    session.add(FieldRequest(user_id=user.id, key=key, endpoint=endpoint, request_hash=request_hash, status=status,
                             answer=body))
    session.flush()
    return Answer(status, body, False)
