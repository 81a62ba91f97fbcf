"""Connectors: cameras, sensors over MQTT, and the link with the district center (orders in, events out)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The outbox listener and the district rule on every session, the CLI groups, DISTRICT_OUTBOX_ALL."""
    from app.cases import workflow
    from app.connectors import cli, district, outbox

    outbox.install()
    if district.guard not in workflow.STEP_GUARDS:
        workflow.STEP_GUARDS.append(district.guard)
    if app.config.get("DISTRICT_OUTBOX_ALL"):
        app.extensions["db"].sessionmaker.kw["info"][outbox.ALL_CASES_KEY] = True
    for group in cli.COMMANDS:
        app.cli.add_command(group)
