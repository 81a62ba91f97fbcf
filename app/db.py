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


class Database:
    """Flask extension holding the engine and a session factory."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.sessionmaker: sessionmaker | None = None

    def init_app(self, app) -> None:
        """Create the engine from app.config and close sessions at the end of a request."""
        self.engine = make_engine(app.config["DATABASE_URL"])
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)
        app.extensions["db"] = self

        @app.teardown_appcontext
        def _close(_exc):  # noqa: ANN001
            from flask import g

            session = g.pop("db_session", None)
            if session is not None:
                session.close()

    def session(self) -> Session:
        """The request's session (created on first use)."""
        from flask import g

        if "db_session" not in g:
            g.db_session = self.sessionmaker()
        return g.db_session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction outside requests (CLI, scheduler)."""
        with self.sessionmaker() as session, session.begin():
            yield session

    def ping(self) -> str:
        """Return the database name, raising when it is unreachable."""
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT current_database()")).scalar_one()


db = Database()
