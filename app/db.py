"""Database engine and sessions, one engine per app; nothing is built at import time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import normalise_db_url


def make_engine(url: str, **kwargs) -> Engine:
    """An engine with pre-ping so that a restarted database is survived."""
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 10)
    return create_engine(normalise_db_url(url), **kwargs)


class AppDatabase:
    """The engine and session factory of one app (kept in app.extensions["db"])."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction, committed at the end unless an exception escapes."""
        with self.sessionmaker() as session, session.begin():
            yield session


class Database:
    """Flask extension: `db.session()`, `db.transaction()` and `db.engine` of the current app."""

    def init_app(self, app) -> None:
        """Create the app's engine and close request sessions at teardown."""
        app.extensions["db"] = AppDatabase(app.config["DATABASE_URL"])

        @app.teardown_appcontext
        def _close(_exc):  # noqa: ANN001
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

    def commit(self, work):
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

    def ping(self) -> str:
        """Return the database name, raising when it is unreachable."""
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT current_database()")).scalar_one()


db = Database()
