"""Long-running connector processes: one runner at a time by a session advisory lock, and the outbox sender."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from app.connectors import outbox
from app.db import AppDatabase
from app.scheduler import LOCK_KEY

SENDER_LOCK = LOCK_KEY + 21  # one outbox sender across every host
log = logging.getLogger(__name__)


@contextmanager
def holding(database: AppDatabase, key: int, stop: threading.Event, what: str) -> Iterator[Connection | None]:
    """A connection holding advisory lock `key` for the block (None when stopped while waiting for it)."""
    conn = None
    while not stop.is_set():
        conn = database.engine.connect()
        if conn.scalar(select(func.pg_try_advisory_lock(key))):
            conn.commit()
            break
        conn.rollback()
        conn.close()
        conn = None
        log.info("another %s holds the lock; waiting", what)
        stop.wait(5.0)
    try:
        yield conn
    finally:
        if conn is not None:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            except SQLAlchemyError:
                log.warning("could not release the %s lock (the connection is gone, and the lock with it)", what)
            conn.close()


def send_forever(database: AppDatabase, target: outbox.Target, stop: threading.Event,
                 idle_s: float = 1.0) -> None:
    """Post due outbox events until `stop` is set, as the only sender."""
    with holding(database, SENDER_LOCK, stop, "outbox sender") as lock:
        if lock is None:
            return
        log.info("sending outbox events to %s", target.url)
        while not stop.is_set():
            try:
                with database.transaction() as session:
                    done = outbox.send_round(session, target)
            except SQLAlchemyError:
                log.warning("outbox round failed (database); retrying", exc_info=True)
                stop.wait(idle_s)
                continue
            if not done["delivered"]:
                stop.wait(idle_s)
