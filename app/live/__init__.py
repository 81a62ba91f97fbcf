"""Live push: the `events` feed of case changes, its per-process listener and GET /api/v1/events."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import event


def init_app(app: Flask) -> None:
    """Publish the case changes of the app's sessions; one (lazily started) listener for this process."""
    from app.live import services
    from app.live.hub import Hub

    event.listen(app.extensions["db"].sessionmaker, "before_flush", services.announce)
    app.extensions["live"] = Hub(app.config["DATABASE_URL"])
