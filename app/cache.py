"""Per-process caches of what is built from the database: the ownership index, the geocoder, the grid
cells of the hot spot analyses, the road network.

Each cache is a `Cached` spec: a cheap key read from the database on every use (the boundary version,
a fingerprint of a table) and a function that builds the value for that key. The values live in one
`Caches` object per app, which the app's sessions carry in `session.info["caches"]`; so a service
handed a session finds them without Flask, every worker rebuilds when the key in PostGIS changes,
and two apps in one process (the tests) never share a value.

A value that cannot be built for a new key (a boundary version whose geometry is broken) does not
take the service down: the previous value keeps serving, the failure is logged and `status()` (read
by /healthz) says which cache is stale and why; the build is tried again after RETRY_S.

After every build the process's objects are frozen (`gc.freeze()`): an index is hundreds of thousands of
long-lived objects, and at district scale (10 towns) each full collection walking them took 200-260 ms,
which the request that happened to trigger it waited. Frozen objects are still freed when no longer
referenced; only reference cycles among them stay (an index has next to none).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shapely.errors import GEOSException
from sqlalchemy.orm import Session

from app.errors import DomainError

T = TypeVar("T")
RETRY_S = 60.0
# What a build raises when the data cannot make a value (a database error is not one of them: it is answered
# as the database being away, and the next request retries).
BUILD_ERRORS = (ValueError, TypeError, ArithmeticError, GEOSException, DomainError)
log = logging.getLogger(__name__)


@dataclass
class Failure:
    """A build that failed: for which key, why, and when."""

    key: Hashable
    error: str
    at: float


@dataclass(frozen=True)
class Cached(Generic[T]):
    """What one cache holds: `key(session)` names the current state, `build(session, key, settings)` makes it."""

    name: str
    key: Callable[[Session], Hashable]
    build: Callable[[Session, Any, Mapping[str, Any]], T]


class Kept:
    """The last `size` values put, by key (least recently used out first); thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class Caches:
    """The cached values of one app, each rebuilt (once, under a lock) when its key changes."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        self.settings = dict(settings or {})
        self._kept: dict[str, Kept] = {}
        self._values: dict[str, tuple[Hashable, Any]] = {}
        self._failures: dict[str, Failure] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, spec: Cached[T], session: Session) -> T:
        """The value for the current key, built first when the key changed (the previous one if that fails)."""
        key = spec.key(session)
        held = self._values.get(spec.name)
        if held is not None and (held[0] == key or self._failed_lately(spec.name, key)):
            return held[1]
        with self._lock(spec.name):  # one build at a time; the others wait and reuse it
            held = self._values.get(spec.name)
            if held is not None and (held[0] == key or self._failed_lately(spec.name, key)):
                return held[1]
            try:
                value = spec.build(session, key, self.settings)
            except BUILD_ERRORS as exc:
                if held is None:
                    raise
                self._failures[spec.name] = Failure(key, f"{exc.__class__.__name__}: {exc}", time.monotonic())
                log.error("cache %s: cannot build for %r (%s); still serving %r", spec.name, key, exc, held[0])
                return held[1]
            self._values[spec.name] = (key, value)
            self._failures.pop(spec.name, None)
            gc.freeze()
            return value

    def kept(self, name: str, size: int) -> Kept:
        """This app's store of the last `size` values by key (answers whose key says all they depend on)."""
        with self._guard:
            return self._kept.setdefault(name, Kept(size))

    def _failed_lately(self, name: str, key: Hashable) -> bool:
        failure = self._failures.get(name)
        return failure is not None and failure.key == key and time.monotonic() - failure.at < RETRY_S

    def status(self) -> dict[str, dict]:
        """Per cache: the key it serves, and whether it is stale (a newer key failed to build, and why)."""
        out = {}
        for name, (key, _) in self._values.items():
            failure = self._failures.get(name)
            out[name] = {"serving": _plain(key), "stale": failure is not None}
            if failure is not None:
                out[name].update(wanted=_plain(failure.key), error=failure.error)
        return out

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())


def _plain(key: Hashable) -> object:
    return list(key) if isinstance(key, tuple) else key


def caches(session: Session) -> Caches:
    """The caches of the app whose database made this session."""
    found = session.info.get("caches")
    if found is None:
        raise RuntimeError("this session was not made by an app's database: session.info has no 'caches'")
    return found


def get(spec: Cached[T], session: Session) -> T:
    """The current value of a cache, for the app that made this session."""
    return caches(session).get(spec, session)
