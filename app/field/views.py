"""Routes and patrols over the JSON API: GET /api/v1/route, POST /api/v1/patrols/plan, the patrol layer,
stops visited, GPX and GeoJSON exports; and the `flask --app app routing import-roads` command."""

from __future__ import annotations

import json

import click
from flask import Blueprint, Response, jsonify, request

from app import inputs, params
from app.accounts.auth import current_user, login_required, roles_required
from app.db import db
from app.errors import InputError
from app.field import idempotency, network, patrols, positions
from gis.points import PointError, check_point
from routing.network import WEIGHTS

bp = Blueprint("field", __name__, url_prefix="/api/v1", cli_group="routing")
PLANNERS = ("shift_leader", "dispatcher", "supervisor", "admin")
VISITORS = ("patrol", "shift_leader", "dispatcher", "supervisor", "admin")


def _point(name: str) -> tuple[float, float]:
    raw = request.args.get(name)
    if not raw or raw.count(",") != 1:
        raise InputError(name, f"{name} must be lon,lat (WGS84)", 400)
    lon, lat = raw.split(",")
    try:
        return check_point(lon.strip(), lat.strip())
    except PointError as exc:  # name the parameter, not lon/lat
        raise InputError(name, f"{name}: {exc.message}", exc.status) from None


@bp.get("/route")
@login_required
def route():
    """The best path between two points: ?from=lon,lat&to=lon,lat&by=time|length (GeoJSON Feature)."""
    by = request.args.get("by", "time")
    if by not in WEIGHTS:
        raise InputError("by", "by must be time or length", 400)
    max_snap = params.number(request.args, "max_snap", 500.0, 10.0, 5000.0)
    return jsonify(network.route(db.session(), _point("from"), _point("to"), by, max_snap))


def _route_body(route) -> dict:
    body = patrols.detail_geojson(route, patrols.station_name(db.session(), route.station_code))
    checks = positions.visit_checks(db.session(), route.stops or [], route.day)
    for f in body["features"]:
        if f["properties"].get("feature") == "stop" and f["properties"].get("seq") in checks:
            f["properties"].update(checks[f["properties"]["seq"]])  # far_from_track: visited far from the track
    body["links"] = {"gpx": f"/api/v1/patrols/{route.id}.gpx", "geojson": f"/api/v1/patrols/{route.id}.geojson"}
    return body


@bp.post("/patrols/plan")
@roles_required(*PLANNERS)
def plan_patrol():
    """Plan the station's route of a day: {station, date, shift_hours|shift_minutes, speed_kph, ...}."""
    payload = inputs.json_body("PatrolPlanInput")
    route = db.write(lambda s: patrols.plan(s, current_user().username, payload))
    return jsonify(_route_body(route)), 201


@bp.get("/patrols")
@login_required
def list_patrols():
    """Patrol routes as GeoJSON (the patrol layer): ?date=&station=&assignee=&bbox=."""
    day = params.day("date", request.args["date"]) if request.args.get("date") else None
    assignee = request.args.get("assignee")
    if assignee == "me":
        assignee = current_user().username
    return jsonify(patrols.listing(db.session(), current_user(), day, request.args.get("station"), assignee,
                                   params.bbox(request.args.get("bbox"))))


@bp.get("/patrols/<int:route_id>")
@bp.get("/patrols/<int:route_id>.geojson")
@login_required
def patrol_geojson(route_id: int):
    """One route with its stops as GeoJSON."""
    body = _route_body(patrols.visible(db.session(), current_user(), route_id))
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/geo+json")


@bp.get("/patrols/<int:route_id>.gpx")
@login_required
def patrol_gpx(route_id: int):
    """One route as GPX 1.1 (track + waypoints) for a handheld or phone."""
    session = db.session()
    route = patrols.visible(session, current_user(), route_id)
    name = f"patrol_{route.station_code}_{route.day.isoformat()}.gpx"
    return Response(patrols.gpx(route, patrols.station_name(session, route.station_code)),
                    mimetype="application/gpx+xml", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.post("/patrols/<int:route_id>/assign")
@roles_required(*PLANNERS)
def assign_patrol(route_id: int):
    """Give the route to a patrol officer: {"assignee": username}."""
    payload = inputs.json_body("AssignInput")
    route = db.write(lambda s: patrols.assign(s, current_user().username, route_id, payload["assignee"]))
    return jsonify(patrols.summary(route))


@bp.post("/patrols/<int:route_id>/stops/<int:seq>/visited")
@roles_required(*VISITORS)
def stop_visited(route_id: int, seq: int):
    """A patrol officer marks a stop of the route as visited: {"at"?, "lon"?, "lat"?} (a visit queued offline says
    when and where); an Idempotency-Key makes the outbox's retries safe."""
    payload = inputs.json_body("StopVisit", optional=True)
    key = idempotency.check_key(request.headers.get("Idempotency-Key"))
    at = params.instant("at", payload["at"]) if payload.get("at") else None
    where = (payload["lon"], payload["lat"]) if payload.get("lon") is not None and payload.get("lat") is not None \
        else None
    user = current_user()
    digest = idempotency.digest(route_id, seq, payload)
    answer = db.write(lambda s: idempotency.once(
        s, user, key, "stop_visited", digest,
        lambda s2: (200, patrols.mark_visited(s2, user, route_id, seq, at=at, where=where))))
    response = jsonify(answer.body)
    if answer.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.cli.command("import-roads")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--crs", default=None, help="CRS of the file when it declares none (GeoPackage/Shapefile)")
@click.option("--reason", default=None, help="why (kept with the new boundary version)")
def import_roads(file: str, crs: str | None, reason: str | None) -> None:
    """Replace the road network from an OSM extract (.osm/.pbf), a GeoPackage or GeoJSON."""
    from pathlib import Path

    from app.cli import actor
    from app.territory import boundaries
    from gis.validation import LayerError

    try:
        with db.transaction() as session:
            reason = reason or f"import roads from {Path(file).name}"
            summary = boundaries.import_roads(session, file, crs, actor(), reason)
    except LayerError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"boundary version {summary.version_id}: {summary.counts.get('roads', 0)} road segments")
