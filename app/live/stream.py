"""One open event stream: the backlog a resuming client missed, then what the process's listener hands over,
filtered by the user's scope, in the SSE text format, with heartbeat comments. No Flask here."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from sqlalchemy.orm import Session

from app.accounts.models import User
from app.live import services
from app.live.hub import Hub, Subscriber, wait_ready

HEARTBEAT_S = 15.0
LIFETIME_S = 600.0  # then the client reconnects (EventSource does, with Last-Event-ID): signed-out users drop off
RETRY_MS = 3000


def frame(event: str, data: dict, event_id: int | None = None) -> str:
    """One SSE message."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def open_stream(session: Session, hub: Hub, user: User, after: int | None,
                heartbeat_s: float = HEARTBEAT_S, lifetime_s: float = LIFETIME_S) -> Iterator[str]:
    """Subscribe, then read the backlog (so that nothing committed in between is lost) and return the stream."""
    sub = hub.subscribe()
    wait_ready(hub)
    if after is None:
        backlog, reset, newest = [], False, services.head(session)
    else:
        backlog, reset, newest = services.since(session, user, after)
    return _messages(hub, sub, user, backlog, reset, newest, after or 0, heartbeat_s, lifetime_s)


def _messages(hub: Hub, sub: Subscriber, user: User, backlog: list[dict], reset: bool, newest: int, floor: int,
              heartbeat_s: float, lifetime_s: float) -> Iterator[str]:
    sent = {r["id"] for r in backlog}
    try:
        yield f"retry: {RETRY_MS}\n" + frame("ready", {"last_id": newest, "reset": reset}, newest)
        for row in backlog:
            yield frame("case", services.message(row), row["id"])
        end = time.monotonic() + lifetime_s
        while time.monotonic() < end:
            batch = sub.get(timeout=heartbeat_s)
            if batch is None:  # fell behind: the client reconnects and catches up from the table
                return
            if not batch:
                yield ": heartbeat\n\n"
                continue
            for row in batch:
                if row["id"] in sent or row["id"] <= floor or not services.visible(user, row):
                    continue
                sent.add(row["id"])
                newest = max(newest, row["id"])
                yield frame("case", services.message(row), newest)
    finally:
        hub.unsubscribe(sub)
