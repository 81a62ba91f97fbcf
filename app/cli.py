"""Command line: `flask --app app db|boundaries|reference|users|demo|cases|setup ...`."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from app.accounts import users
from app.cases import reference
from app.cases.models import Case
from app.db import db
from app.demo import DEMO_PASSWORD
from app.errors import DomainError
from app.territory import boundaries
from gis.validation import LOAD_ORDER, LayerError

ROOT = Path(__file__).resolve().parents[1]
BOUNDARIES = ROOT / "data" / "boundaries"
def actor() -> str:
    """Who runs the command, for the audit trail."""
    return f"cli:{getpass.getuser()}"


def alembic_config() -> Config:
    """Alembic configured with the app's DATABASE_URL."""
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", current_app.config["DATABASE_URL"].replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def _progress(stage: str, done: int, total: int) -> None:
    click.echo(f"\r  {stage}: {done}/{total}".ljust(60), nl=done >= total, err=True)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _run(work):
    """`work(session)` in one transaction; a refusal ends the command with its reason (nothing is written)."""
    try:
        with db.transaction() as session:
            return work(session)
    except DomainError as exc:
        _fail(str(exc))
    except LayerError as exc:
        _fail(f"nothing was written. {exc}")


db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate up to REVISION (default head)."""
    command.upgrade(alembic_config(), revision)
    click.echo(f"database at {revision}")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate down to REVISION ('base' removes everything)."""
    command.downgrade(alembic_config(), revision)
    click.echo(f"database at {revision}")


boundaries_cli = AppGroup("boundaries", help="Load, import and inspect boundary layers.")


@boundaries_cli.command("load")
@click.argument("folder", type=click.Path(exists=True, file_okay=False), default=str(BOUNDARIES))
@click.option("--reason", default="initial load", help="Why (kept with the boundary version).")
def boundaries_load(folder: str, reason: str) -> None:
    """Load every layer of FOLDER as one new boundary version (one transaction)."""
    _report(_run(lambda s: boundaries.load_folder(s, folder, actor(), reason, progress=_progress)))


@boundaries_cli.command("import")
@click.argument("layer", type=click.Choice(LOAD_ORDER))
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--crs", default=None, help="CRS of the file when it declares none or declares it wrongly.")
@click.option("--reason", default=None, help="Why (kept with the boundary version).")
def boundaries_import(layer: str, file: str, crs: str | None, reason: str | None) -> None:
    """Replace LAYER from FILE (GeoJSON, GeoPackage or Shapefile) as a new boundary version."""
    _report(_run(lambda s: boundaries.import_layer(s, layer, file, actor(), crs, reason, progress=_progress)))


def _report(summary: boundaries.LoadSummary) -> None:
    click.echo(f"boundary version {summary.version_id}: " + ", ".join(f"{k} {v}" for k, v in summary.counts.items()))
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)


@boundaries_cli.command("status")
def boundaries_status() -> None:
    """The current version and the counts per layer."""
    with db.transaction() as session:
        version = boundaries.current_version(session)
        if version is None:
            click.echo("no boundaries loaded")
            return
        click.echo(f"boundary version {version.id} ({version.kind}, {version.reason}, by {version.created_by})")
        for layer, count in boundaries.layer_counts(session).items():
            click.echo(f"  {layer}: {count}")


reference_cli = AppGroup("reference", help="Departments, categories and the working calendar.")


@reference_cli.command("load")
def reference_load() -> None:
    """Insert or update the reference tables from data/reference/*.csv."""
    with db.transaction() as session:
        counts = reference.load_reference(session, actor=actor())
    click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))


users_cli = AppGroup("users", help="Users and API tokens.")


@users_cli.command("add")
@click.argument("name")
@click.option(
    "--role", required=True,
    help="intake, shift_leader, dispatcher, handler, patrol, supervisor, planner, admin, leader, station_chief, "
         "workstation, evaluator",
)
@click.option("--password", default=None, help="Prompted when not given.")
@click.option("--display-name", default=None)
@click.option("--department", default=None, help="Department code (handlers).")
@click.option("--station", default=None, help="Station code (patrol staff, station chiefs, seated handlers).")
@click.option("--workstation", default=None, help="Workstation code (workstation staff), e.g. WS-001.")
def users_add(name, role, password, display_name, department, station, workstation) -> None:
    """Create a user."""
    if workstation and station:
        raise click.UsageError("give --station or --workstation, not both")
    station = station or workstation
    if password is None:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    _run(lambda s: users.add_user(s, name, role, password, display_name, department, station, actor=actor()))
    click.echo(f"user {name} ({role}) created")


@users_cli.command("token")
@click.argument("name")
def users_token(name: str) -> None:
    """Print a new API token for NAME (shown once; only its hash is stored)."""
    token = _run(lambda s: users.issue_token(s, name, actor=actor()))
    click.echo(token)


@users_cli.command("revoke")
@click.argument("name")
def users_revoke(name: str) -> None:
    """Revoke every API token of NAME."""
    count = _run(lambda s: users.revoke_tokens(s, name, actor=actor()))
    click.echo(f"{count} token(s) revoked")


@users_cli.command("set-role")
@click.argument("name")
@click.argument("role")
@click.option("--station", default=None, help="Station code (patrol staff need one).")
@click.option("--department", default=None, help="Department code (handlers need one).")
def users_set_role(name: str, role: str, station: str | None, department: str | None) -> None:
    """Give NAME the role ROLE (audited); their sessions end."""
    _run(lambda s: users.set_role(s, name, role, actor=actor(), station_code=station, department_code=department))
    click.echo(f"{name} is now {role}")


@users_cli.command("password")
@click.argument("name")
@click.option("--password", default=None, help="Prompted when not given.")
def users_password(name: str, password: str | None) -> None:
    """Give NAME a new password (audited); their sessions end."""
    if password is None:
        password = click.prompt("new password", hide_input=True, confirmation_prompt=True)
    _run(lambda s: users.set_password(s, name, password, actor=actor()))
    click.echo(f"{name} has a new password; their sessions ended")


@users_cli.command("disable")
@click.argument("name")
def users_disable(name: str) -> None:
    """Disable NAME: sign-in, sessions and tokens stop working (audited)."""
    _run(lambda s: users.set_active(s, name, False, actor=actor()))
    click.echo(f"{name} disabled")


demo_cli = AppGroup("demo", help="Demo data (never on a real deployment).")


@demo_cli.command("users")
def demo_users() -> None:
    """One demo account per role, password demo-pass-2026; pages then show a demo banner."""
    with db.transaction() as session:
        created = _add_demo_users(session)
    click.echo(f"{created} demo user(s) created; password {DEMO_PASSWORD}")


@demo_cli.command("seed")
@click.option("--days", default=90, show_default=True, help="How many days of history.")
@click.option("--per-day", default=20.0, show_default=True, help="Mean reports per day.")
@click.option("--seed", "seed_value", default=7, show_default=True, help="Random seed.")
def demo_seed(days: int, per_day: float, seed_value: int) -> None:
    """About DAYS days of cases through the real intake and state machine (demo databases only)."""
    summary = _seed(days, per_day, seed_value)
    click.echo(f"{summary['reports']} reports, {summary['cases']} cases ({summary['merged']} merged reports), "
               f"{summary['steps']} workflow steps")


@demo_cli.command("bulk-cases")
@click.argument("count", type=int)
@click.option("--days", default=365, show_default=True, help="Spread over this many past days.")
def demo_bulk_cases(count: int, days: int) -> None:
    """COUNT synthetic cases inserted in bulk (for load tests of the map; not walked through the workflow)."""
    from app import demo

    with db.transaction() as session:
        made = demo.bulk_cases(session, count, days)
    click.echo(f"{made} synthetic cases inserted")


def _seed(days: int, per_day: float, seed_value: int) -> dict:
    from app import demo
    from app.cases.intake import IntakeSettings

    state = current_app.extensions["db"]
    settings = IntakeSettings.from_config(current_app.config)
    return demo.seed(state.sessionmaker, settings, days, per_day, seed_value, progress=_progress)


def _seed_connectors() -> None:
    from app.connectors import demo as connectors_demo

    with db.transaction() as session:
        made = connectors_demo.seed(session)
    if made["sensors"] or made["cameras"]:
        click.echo(f"  {made['sensors']} illustrative sensors, {made['cameras']} illustrative cameras")


def _add_demo_users(session) -> int:
    from app import demo

    return demo.add_users(session, actor())


cases_cli = AppGroup("cases", help="Cases: re-assignment after a boundary edit.")


@cases_cli.command("reassign")
@click.option("--open-only", is_flag=True, help="Only cases that are still open.")
def cases_reassign(open_only: bool) -> None:
    """Re-run ownership for cases under an older boundary version; history records every change."""
    from app.cases.reassign import reassign as reassign_cases
    from app.territory import caches

    result = _run(lambda s: reassign_cases(s, caches.ownership(s), actor(), open_only=open_only))
    click.echo(
        f"boundary version {result.boundary_version}: {result.checked} case(s) checked, "
        f"{result.changed} with new owners, {result.moved} moved to another station"
    )
    for (old, new), count in sorted(result.flows.items()):
        click.echo(f"  {old} -> {new}: {count}")


scheduler_cli = AppGroup("scheduler", help="Supervision and fallback jobs.")


@scheduler_cli.command("run")
@click.option("--now", default=None, help="ISO 8601 time to run the jobs at (default: now).")
def scheduler_run(now: str | None) -> None:
    """One round of the jobs (skipped when another runner holds the lock)."""
    from datetime import datetime

    from app import scheduler

    clock = datetime.fromisoformat(now) if now else None
    with db.transaction() as session:
        result = scheduler.run_once(session, clock, float(current_app.config["POSITION_RETENTION_DAYS"]))
    click.echo("another runner holds the lock; skipped" if result is None else json.dumps(result))


@click.command("setup")
@with_appcontext
@click.option("--demo/--no-demo", default=False, help="Also create the demo accounts.")
@click.option("--boundaries", "folder", type=click.Path(exists=True, file_okay=False), default=str(BOUNDARIES),
              help="The boundary folder loaded when none are loaded (default: the illustrative town).")
def setup(demo: bool, folder: str) -> None:
    """Migrate to head, load reference data, load the boundaries of FOLDER when none are loaded."""
    command.upgrade(alembic_config(), "head")
    with db.transaction() as session:
        reference.load_reference(session, actor=actor())
    with db.transaction() as session:
        loaded = boundaries.is_loaded(session)
    if not loaded:
        click.echo(f"loading the boundaries of {folder} ...")
        _report(_run(lambda s: boundaries.load_folder(s, folder, actor(), progress=_progress)))
    if demo:
        with db.transaction() as session:
            created = _add_demo_users(session)
            has_cases = session.scalar(select(func.count()).select_from(Case)) > 0
        if created:
            click.echo(f"{created} demo user(s) created; password {DEMO_PASSWORD}")
        if not has_cases:
            click.echo("creating 90 days of demo history (once) ...")
            summary = _seed(90, 20.0, 7)
            click.echo(f"  {summary['reports']} reports, {summary['cases']} cases, {summary['steps']} steps")
        _seed_connectors()
    click.echo("setup done")


def init_app(app) -> None:
    """Register the command groups."""
    for group in (db_cli, boundaries_cli, reference_cli, users_cli, demo_cli, cases_cli, scheduler_cli, setup):
        app.cli.add_command(group)
