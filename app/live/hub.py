"""One listener per worker process: a thread (a greenlet under gevent) holding one PostgreSQL connection that
LISTENs on `nanhui_events`. Each notification carries the id of a committed row of `events` (in commit order);
the listener reads those rows in one query per burst and hands them to every open stream of the process. After
a lost connection it reads what it may have missed (recent ids it has not delivered). No Flask here.

Each stream is a `Subscriber`, a bounded queue of batches; a stream that falls too far behind is told to end (its
client reconnects with Last-Event-ID and catches up from the table).
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import psycopg
from psycopg.rows import dict_row
from sqlalchemy.engine import make_url

from app.live.services import COLUMNS

CHANNEL = "nanhui_events"
SELECT = f"SELECT {', '.join(COLUMNS)} FROM events"  # constants only
BY_IDS = SELECT + " WHERE id = ANY(%s) ORDER BY id"
MISSED = SELECT + " WHERE id > %s ORDER BY id LIMIT 5000"
LOOKBACK = 1000  # after a reconnect: ids this far below the newest delivered one are read again (never resent)
BURST_S = 0.02  # notifications arriving this soon after the first are read in the same query
log = logging.getLogger(__name__)


class Subscriber:
    """One open stream's inbox: batches of event rows, or OVERFLOW when it fell behind."""

    OVERFLOW = None
    MAX_BATCHES = 500

    def __init__(self) -> None:
        self.inbox: queue.Queue = queue.Queue(maxsize=self.MAX_BATCHES)

    def put(self, batch: list[dict]) -> bool:
        """Queue a batch; False (and the stream is told to end) when the inbox is full."""
        try:
            self.inbox.put_nowait(batch)
            return True
        except queue.Full:
            return False

    def get(self, timeout: float) -> list[dict] | None:
        """The next batch, [] after `timeout` seconds without one, None when the stream must end."""
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            return []


def conninfo(database_url: str) -> str:
    """A libpq URI from the app's SQLAlchemy URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Hub:
    """The process's listener and its subscribers; the listener starts with the first subscriber."""

    def __init__(self, database_url: str, poll_s: float = 5.0) -> None:
        self.dsn = conninfo(database_url)
        self.poll_s = poll_s
        self.newest: int | None = None  # the highest id delivered (None before the first connection)
        self.delivered: dict[int, None] = {}  # the ids delivered lately, oldest first (bounded)
        self.ready = threading.Event()  # set once the listener is listening
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def subscribe(self) -> Subscriber:
        """A new inbox that receives every event committed from now on."""
        sub = Subscriber()
        with self._lock:
            self._subscribers.add(sub)
            if self._thread is None or not self._thread.is_alive():  # none yet, or it ended (no streams left)
                self._thread = threading.Thread(target=self._run, name="live-listener", daemon=True)
                self._thread.start()
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget an inbox (its stream ended)."""
        with self._lock:
            self._subscribers.discard(sub)

    @property
    def subscribers(self) -> int:
        """How many streams are open in this process."""
        return len(self._subscribers)

    def stop(self) -> None:
        """End the listener (tests and shutdown)."""
        self._stop.set()

    def _run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.dsn, autocommit=True, row_factory=dict_row) as conn:
                    if self._listen(conn):
                        return
            except psycopg.Error:
                if self._idle():  # nobody listens (the database may be gone for good): the next stream starts anew
                    return
                log.warning("event listener lost its connection; retrying in %.1f s", delay, exc_info=True)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)

    def _listen(self, conn: psycopg.Connection) -> bool:
        """Listen until no stream is left (True: the thread ends) or the connection fails."""
        conn.execute(f"LISTEN {CHANNEL}")
        if self.newest is None:  # first start: from now on (a resuming stream reads its backlog from the table)
            self.newest = conn.execute("SELECT coalesce(max(id), 0) AS id FROM events").fetchone()["id"]
        else:  # back after a lost connection: what was committed meanwhile
            self._fan_out(conn.execute(MISSED, (max(self.newest - LOOKBACK, 0),)).fetchall())
        self.ready.set()
        while not self._stop.is_set():
            ids = [int(n.payload) for n in conn.notifies(timeout=self.poll_s, stop_after=1)]
            if not ids:
                if self._idle():
                    return True
                continue
            ids += [int(n.payload) for n in conn.notifies(timeout=BURST_S)]
            self._fan_out(conn.execute(BY_IDS, (ids,)).fetchall())
        return True

    def _idle(self) -> bool:
        """No stream left: forget the position (nobody is owed anything) and let the next subscriber start anew."""
        with self._lock:
            if self._subscribers:
                return False
            self._thread, self.newest = None, None
            self.delivered.clear()
            self.ready.clear()
            return True

    def _fan_out(self, rows: list[dict]) -> None:
        rows = [r for r in rows if r["id"] not in self.delivered]
        if not rows:
            return
        for row in rows:
            self.delivered[row["id"]] = None
        while len(self.delivered) > 4 * LOOKBACK:
            del self.delivered[next(iter(self.delivered))]
        self.newest = max(self.newest or 0, rows[-1]["id"])
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            if not sub.put(rows):
                self._drop(sub)

    def _drop(self, sub: Subscriber) -> None:
        self.unsubscribe(sub)
        try:
            sub.inbox.get_nowait()  # room for the end mark
        except queue.Empty:
            pass
        sub.inbox.put_nowait(Subscriber.OVERFLOW)


def wait_ready(hub: Hub, timeout: float = 5.0) -> bool:
    """Wait until the listener has started (streams opened before then still get every event later on)."""
    end = time.monotonic() + timeout
    return hub.ready.wait(max(end - time.monotonic(), 0))
