"""Command line: `flask --app app sensors subscribe|add|types`, `cameras import`, `district send`."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.cases import intake
from app.cli import _fail, _run, actor
from app.connectors import cameras, outbox, runner, sensors
from app.connectors.subscriber import Subscriber
from app.errors import DomainError

sensors_cli = AppGroup("sensors", help="Sensors over MQTT.")
cameras_cli = AppGroup("cameras", help="The camera registry.")
district_cli = AppGroup("district", help="The link with the district center.")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


@sensors_cli.command("subscribe")
@click.option("--client-id", default="nanhui-sensors", show_default=True, help="the broker session's client id")
def subscribe(client_id: str) -> None:
    """Take readings off MQTT_URL until stopped (one subscriber at a time: the others wait for the lock)."""
    url = current_app.config["MQTT_URL"]
    if not url:
        _fail("MQTT_URL is not set (make run starts the embedded broker: scripts/mqtt.sh)")
    subscriber = Subscriber(current_app.extensions["db"], url, intake.IntakeSettings.from_config(current_app.config),
                            client_id=client_id)
    click.echo(f"sensor subscriber on {subscriber.broker.host}:{subscriber.broker.port}", err=True)
    subscriber.run(_stop_on_signals())
    click.echo(f"stopped: {subscriber.totals}", err=True)


@sensors_cli.command("add")
@click.argument("sensor_id")
@click.argument("type_code")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option("--name", default=None)
def add(sensor_id: str, type_code: str, lon: float, lat: float, name: str | None) -> None:
    """Register a sensor (or move it)."""
    _run(lambda s: sensors.add_sensor(s, sensor_id, type_code, name or sensor_id, lon, lat, actor=actor()))
    click.echo(f"sensor {sensor_id} registered")


@cameras_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--layer", default=None, help="the GeoPackage layer (default: the first)")
def import_cameras(path: Path, layer: str | None) -> None:
    """Load cameras from a CSV file (id,name,lon,lat,direction_deg,station_code,status,view_wkt) or a GeoPackage."""
    try:
        if path.suffix.lower() == ".gpkg":
            rows = cameras.read_geopackage(path, layer)
        else:
            rows = cameras.read_csv(path.read_text(encoding="utf-8-sig"))
    except DomainError as exc:
        _fail(f"nothing was loaded. {exc.field}: {exc}")
        return
    done = _run(lambda s: cameras.load(s, rows, actor()))
    click.echo(f"cameras: {done['created']} new, {done['updated']} updated")


@district_cli.command("send")
@click.option("--once", is_flag=True, help="post what is due now and stop")
def send(once: bool) -> None:
    """Post outbox events to DISTRICT_WEBHOOK_URL until stopped (one sender at a time)."""
    config = current_app.config
    if not config["DISTRICT_WEBHOOK_URL"]:
        _fail("DISTRICT_WEBHOOK_URL is not set: events wait in the outbox")
    target = outbox.Target(config["DISTRICT_WEBHOOK_URL"], config["DISTRICT_WEBHOOK_SECRET"],
                           int(config["DISTRICT_MAX_ATTEMPTS"]))
    if once:
        click.echo(_run(lambda s: outbox.send_round(s, target)))
        return
    runner.send_forever(current_app.extensions["db"], target, _stop_on_signals())


COMMANDS = (sensors_cli, cameras_cli, district_cli)
