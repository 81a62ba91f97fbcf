"""Database engine and sessions, one engine per app; the declarative base every package's models use.

Nothing is built at import time. Each package keeps its tables in its own `models.py`;
`load_models()` imports them all so that the metadata (and Alembic) sees every table.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from geoalchemy2 import Geometry
from sqlalchemy import MetaData, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from app.cache import Caches
from app.config import normalise_db_url
from app.errors import NotFound
from gis.crs import STORAGE_EPSG

MODEL_MODULES = ("app.accounts.models", "app.territory.models", "app.cases.models", "app.field.models",
                 "app.analysis.models", "app.connectors.models", "app.tiers.models", "app.live.models",
                 "app.command.models")


T = TypeVar("T")


class Base(DeclarativeBase):
    """Declarative base for every table."""


def geom(kind: str) -> Geometry:
    """A geometry column in the storage CRS (indexes are made by the migrations)."""
    return Geometry(kind, srid=STORAGE_EPSG, spatial_index=False)


def load_models() -> MetaData:
    """Import every package's models; the metadata then holds every table."""
    for name in MODEL_MODULES:
        importlib.import_module(name)
    return Base.metadata


def found(session: Session, model: type[T], key: object, what: str, lock: bool = False) -> T:
    """The row of `model` with primary key `key` (locked FOR UPDATE when `lock`), or NotFound naming `what`."""
    row = session.get(model, key, with_for_update=lock or None)
    if row is None:
        raise NotFound(what, key)
    return row


def make_engine(url: str, **kwargs) -> Engine:
    """An engine with pre-ping so that a restarted database is survived."""
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 10)
    return create_engine(normalise_db_url(url), **kwargs)


class AppDatabase:
    """The engine and session factory of one app (kept in app.extensions["db"]); its sessions carry the
    app's per-process caches (app/cache.py) in `session.info["caches"]`."""

    def __init__(self, url: str, caches: Caches | None = None) -> None:
        self.engine = make_engine(url)
        self.caches = caches or Caches()
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False, info={"caches": self.caches})

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction, committed at the end unless an exception escapes."""
        with self.sessionmaker() as session, session.begin():
            yield session


class Database:
    """Flask extension: `db.session()`, `db.transaction()` and `db.engine` of the current app."""

    def init_app(self, app) -> None:
        """Create the app's engine and caches, and close request sessions at teardown."""
        state = AppDatabase(app.config["DATABASE_URL"], Caches({"NEAR_BOUNDARY_M": app.config["NEAR_BOUNDARY_M"]}))
        app.extensions["db"] = state
        app.extensions["caches"] = state.caches

        @app.teardown_appcontext
        def _close(_exc):
            from flask import g

            session = g.pop("db_session", None)
            if session is not None:
                session.close()

    @staticmethod
    def _state() -> AppDatabase:
        from flask import current_app

        return current_app.extensions["db"]

    @property
    def engine(self) -> Engine:
        """The current app's engine."""
        return self._state().engine

    def session(self) -> Session:
        """The request's session (created on first use, closed at teardown)."""
        from flask import g

        if "db_session" not in g:
            g.db_session = self._state().sessionmaker()
        return g.db_session

    def write(self, work):
        """Run `work(session)` on the request's session and commit; on any error roll back and re-raise."""
        session = self.session()
        try:
            result = work(session)
            session.commit()
        except Exception:
            session.rollback()
            raise
        return result

    def transaction(self):
        """A session in one transaction outside requests (CLI, scheduler)."""
        return self._state().transaction()



db = Database()
