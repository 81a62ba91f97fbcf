"""The geocoder of this process, built from the addresses and roads in PostGIS.

Like the ownership index, it is checked on every use: when the address or road tables change
(count or newest id), the next call rebuilds it, so every worker sees an address import.
"""

from __future__ import annotations

import threading

from geoalchemy2.shape import to_shape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Address, Road
from gis.geocode import Geocoder


def _fingerprint(session: Session) -> tuple:
    addresses = session.execute(select(func.count(Address.id), func.max(Address.id))).one()
    roads = session.execute(select(func.count(Road.id), func.max(Road.id))).one()
    return tuple(addresses) + tuple(roads)


def build_geocoder(session: Session) -> Geocoder:
    """Read every address point and road centre-line into a Geocoder."""
    rows = session.execute(
        select(
            Address.id, Address.kind, Address.address, Address.road, Address.number, Address.compound,
            Address.building, Address.name, Address.place_type,
            func.ST_X(Address.geom).label("lon"), func.ST_Y(Address.geom).label("lat"),
        )
    ).mappings().all()
    roads = [
        {"id": r.id, "name": r.name, "geom": to_shape(r.geom)}
        for r in session.execute(select(Road.id, Road.name, Road.geom)).all()
    ]
    return Geocoder([dict(row) for row in rows], roads)


class GeocoderCache:
    """One geocoder per process, rebuilt when the address or road tables change."""

    def __init__(self) -> None:
        self._geocoder: Geocoder | None = None
        self._key: tuple | None = None
        self._lock = threading.Lock()

    def get(self, session: Session) -> Geocoder:
        """The geocoder over the current addresses and roads."""
        key = _fingerprint(session)
        if self._geocoder is not None and self._key == key:
            return self._geocoder
        with self._lock:
            if self._geocoder is None or self._key != key:
                self._geocoder = build_geocoder(session)
                self._key = key
            return self._geocoder
