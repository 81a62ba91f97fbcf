"""Routes and patrols over the JSON API: GET /api/v1/route, POST /api/v1/patrols/plan, the patrol layer,
GPX and GeoJSON exports; and the `flask --app app routing import-roads` command."""

from __future__ import annotations

from datetime import date

import click
from flask import Blueprint, Response, jsonify, request

from app.auth import current_user, login_required, roles_required
from app.db import db
from app.models import Station
from app.services import hotspots, network, patrols
from app.services.errors import InputError
from app.views.errors import json_errors
from gis.points import check_point
from routing.network import WEIGHTS, Unreachable

bp = Blueprint("routing", __name__, url_prefix="/api/v1", cli_group="routing")
json_errors(bp)
PLANNERS = ("shift_leader", "dispatcher", "supervisor", "admin")


@bp.errorhandler(Unreachable)
def _unreachable(exc: Unreachable):
    return jsonify(error="unreachable", field=exc.field, message=exc.message), 422


def _point(name: str) -> tuple[float, float]:
    raw = request.args.get(name)
    if not raw or raw.count(",") != 1:
        raise InputError(name, f"{name} must be lon,lat (WGS84)", 400)
    lon, lat = raw.split(",")
    try:
        return check_point(lon.strip(), lat.strip())
    except Exception as exc:  # PointError: name the parameter, not lon/lat
        raise InputError(name, f"{name}: {getattr(exc, 'message', exc)}", getattr(exc, "status", 400)) from None


@bp.get("/route")
@login_required
def route():
    """The best path between two points: ?from=lon,lat&to=lon,lat&by=time|length (GeoJSON Feature)."""
    by = request.args.get("by", "time")
    if by not in WEIGHTS:
        raise InputError("by", "by must be time or length", 400)
    max_snap = hotspots.number(request.args, "max_snap", 500.0, 10.0, 5000.0)
    return jsonify(network.route(db.session(), _point("from"), _point("to"), by, max_snap))


def _station_name(code: str) -> str | None:
    return db.session().scalar(Station.__table__.select().with_only_columns(Station.name)
                               .where(Station.code == code))


def _route_body(route) -> dict:
    body = patrols.detail_geojson(route, _station_name(route.station_code))
    body["links"] = {"gpx": f"/api/v1/patrols/{route.id}.gpx", "geojson": f"/api/v1/patrols/{route.id}.geojson"}
    return body


@bp.post("/patrols/plan")
@roles_required(*PLANNERS)
def plan_patrol():
    """Plan the station's route of a day: {station, date, shift_hours|shift_minutes, speed_kph, ...}."""
    route = db.commit(lambda s: patrols.plan(s, current_user().username, request.get_json(silent=True)))
    return jsonify(_route_body(route)), 201


@bp.get("/patrols")
@login_required
def list_patrols():
    """Patrol routes as GeoJSON (the patrol layer): ?date=&station=&assignee=&bbox=."""
    raw = request.args.get("date")
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError:
        raise InputError("date", f"date must be YYYY-MM-DD, got {raw!r}", 400) from None
    assignee = request.args.get("assignee")
    if assignee == "me":
        assignee = current_user().username
    return jsonify(patrols.listing(db.session(), current_user(), day, request.args.get("station"), assignee,
                                   hotspots.bbox(request.args.get("bbox"))))


def _visible(route_id: int):
    route = patrols.get(db.session(), route_id)
    if not patrols.may_see(current_user(), route):
        raise InputError("id", "this route belongs to another station", 403, error="forbidden")
    return route


@bp.get("/patrols/<int:route_id>")
@bp.get("/patrols/<int:route_id>.geojson")
@login_required
def patrol_geojson(route_id: int):
    """One route with its stops as GeoJSON."""
    return Response(_json(_route_body(_visible(route_id))), mimetype="application/geo+json")


def _json(body) -> str:
    import json

    return json.dumps(body, ensure_ascii=False)


@bp.get("/patrols/<int:route_id>.gpx")
@login_required
def patrol_gpx(route_id: int):
    """One route as GPX 1.1 (track + waypoints) for a handheld or phone."""
    route = _visible(route_id)
    name = f"patrol_{route.station_code}_{route.day.isoformat()}.gpx"
    return Response(patrols.gpx(route, _station_name(route.station_code)), mimetype="application/gpx+xml",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/patrols/<int:route_id>/assign")
@roles_required(*PLANNERS)
def assign_patrol(route_id: int):
    """Give the route to a patrol officer: {"assignee": username}."""
    payload = request.get_json(silent=True) or {}
    route = db.commit(lambda s: patrols.assign(s, current_user().username, route_id, payload.get("assignee")))
    return jsonify(patrols.summary(route))


@bp.cli.command("import-roads")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--crs", default=None, help="CRS of the file when it declares none (GeoPackage/Shapefile)")
@click.option("--reason", default=None, help="why (kept with the new boundary version)")
def import_roads(file: str, crs: str | None, reason: str | None) -> None:
    """Replace the road network from an OSM extract (.osm/.pbf), a GeoPackage or GeoJSON."""
    import json
    import tempfile
    from pathlib import Path

    from shapely.geometry import mapping

    from app.cli import actor
    from app.services import boundaries
    from gis.validation import LayerError
    from routing.importers import read_roads_file

    try:
        features = read_roads_file(file, crs)
    except LayerError as exc:
        raise click.ClickException(str(exc)) from None
    if not features:
        raise click.ClickException(f"{file}: no roads found")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "roads.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": mapping(f.geom), "properties": f.props} for f in features]},
            ensure_ascii=False), encoding="utf-8")
        from app.db import db as database

        try:
            with database.transaction() as session:
                summary = boundaries.import_layer(session, "roads", path, actor(),
                                                  reason=reason or f"import roads from {Path(file).name}")
        except LayerError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"boundary version {summary.version_id}: {summary.counts.get('roads', 0)} road segments")
