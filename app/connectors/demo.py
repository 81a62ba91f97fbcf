"""Illustrative sensors and cameras for the demo (at address points of the illustrative data), with six
hours of ordinary readings; labelled illustrative in their names."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from geoalchemy2.shape import to_shape
from shapely.geometry import Polygon
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.connectors import cameras, sensors
from app.connectors.models import Sensor, SensorReading, SensorType
from app.territory.models import Address

# type, how many, the ordinary level and its spread
SENSORS = (("water_level", 3, 2.0, 1.5), ("cover_tilt", 3, 1.0, 0.5), ("smoke", 2, 0.3, 0.2), ("noise", 2, 55.0, 6.0))
CAMERAS = 8


def _view(lon: float, lat: float, direction: float, reach_m: float = 120.0) -> Polygon:
    """A 60-degree wedge looking `direction` degrees clockwise from north."""
    metres = 111_000.0
    points = [(lon, lat)]
    for a in range(-30, 31, 10):
        bearing = math.radians(direction + a)
        points.append((lon + reach_m * math.sin(bearing) / (metres * math.cos(math.radians(lat))),
                       lat + reach_m * math.cos(bearing) / metres))
    return Polygon(points)


def seed(session: Session, now: datetime | None = None, seed_value: int = 11) -> dict:
    """Register the demo sensors and cameras once; returns what was made."""
    if session.scalar(select(func.count()).select_from(Sensor)):
        return {"sensors": 0, "cameras": 0}
    now = now or datetime.now(UTC)
    rng = random.Random(seed_value)
    needed = sum(n for _, n, _, _ in SENSORS) + CAMERAS
    places = session.scalars(select(Address.geom).order_by(Address.id)).all()
    if len(places) < needed:
        return {"sensors": 0, "cameras": 0}
    picks = [to_shape(g) for g in rng.sample(list(places), needed)]
    made, rows = 0, []
    for code, count, level, spread in SENSORS:
        kind = session.get(SensorType, code)
        for n in range(1, count + 1):
            p = picks.pop()
            sensor_id = f"{code.upper().replace('_', '-')}-{n:03d}"
            sensors.add_sensor(session, sensor_id, code, f"{kind.name}{n}号（示意）", p.x, p.y)
            made += 1
            for k in range(36):  # every ten minutes for six hours
                value = max(level + rng.gauss(0, spread), 0.0)
                rows.append({"sensor_id": sensor_id, "at": now - timedelta(minutes=10 * (36 - k)),
                             "received_at": now - timedelta(minutes=10 * (36 - k)), "value": round(value, 2)})
            last = rows[-1]
            sensor = session.get(Sensor, sensor_id)
            sensor.last_value, sensor.last_at = last["value"], last["at"]
    session.execute(insert(SensorReading), rows)
    cams = []
    for n in range(1, CAMERAS + 1):
        p, direction = picks.pop(), float(rng.randrange(0, 360, 15))
        cams.append(cameras.CameraRow(f"CAM-{n:03d}", f"视频监控{n}号（示意）", p.x, p.y, direction, None,
                                      "online" if n % 5 else "offline", _view(p.x, p.y, direction)))
    cameras.load(session, cams, "demo-seed")
    return {"sensors": made, "cameras": len(cams)}
