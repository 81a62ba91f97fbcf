"""Per-process caches of what is built from the database: the ownership index, the geocoder, the grid
cells of the hot spot analyses, the road network.

Each cache is a `Cached` spec: a cheap key read from the database on every use (the boundary version,
a fingerprint of a table) and a function that builds the value for that key. The values live in one
`Caches` object per app, which the app's sessions carry in `session.info["caches"]`; so a service
handed a session finds them without Flask, every worker rebuilds when the key in PostGIS changes,
and two apps in one process (the tests) never share a value.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


@dataclass(frozen=True)
class Cached(Generic[T]):
    """What one cache holds: `key(session)` names the current state, `build(session, key, settings)` makes it."""

    name: str
    key: Callable[[Session], Hashable]
    build: Callable[[Session, Any, Mapping[str, Any]], T]


class Caches:
    """The cached values of one app, each rebuilt (once, under a lock) when its key changes."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        self.settings = dict(settings or {})
        self._values: dict[str, tuple[Hashable, Any]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, spec: Cached[T], session: Session) -> T:
        """The value for the current key, built first when the key changed."""
        key = spec.key(session)
        held = self._values.get(spec.name)
        if held is not None and held[0] == key:
            return held[1]
        with self._lock(spec.name):  # one build at a time; the others wait and reuse it
            held = self._values.get(spec.name)
            if held is None or held[0] != key:
                held = (key, spec.build(session, key, self.settings))
                self._values[spec.name] = held
            return held[1]

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())


def caches(session: Session) -> Caches:
    """The caches of the app whose database made this session."""
    found = session.info.get("caches")
    if found is None:
        raise RuntimeError("this session was not made by an app's database: session.info has no 'caches'")
    return found


def get(spec: Cached[T], session: Session) -> T:
    """The current value of a cache, for the app that made this session."""
    return caches(session).get(spec, session)
