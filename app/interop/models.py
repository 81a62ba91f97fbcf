"""What the open interfaces exchange, as plain data: an OGC API collection, a checked items query and a
page of features. (This package owns no tables: it speaks the standards over the other packages' data.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.accounts.models import User

DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class ItemQuery:
    """The checked query parameters of /collections/{id}/items."""

    user: User | None
    bbox: tuple[float, float, float, float] | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    start: datetime | None = None  # datetime interval, closed; None: open
    end: datetime | None = None
    version: int | None = None
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    equal: dict[str, object] = field(default_factory=dict)  # property filters: ?community_code=002
    sortby: tuple[tuple[str, bool], ...] = ()  # (property, descending)
    properties: tuple[str, ...] | None = None  # the properties to return (None: all)
    skip_geometry: bool = False
    crs: str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"  # the CRS of the answer's geometries (Part 2)
    filter: object | None = None  # a checked CQL2 AST (app/interop/cql.py), Part 3


@dataclass
class ItemPage:
    """Features of one page and how many match in all."""

    features: list[dict]
    matched: int


@dataclass(frozen=True)
class Collection:
    """One feature collection: what it is and how to read it."""

    id: str
    title: str  # English; the view translates it
    description: str
    geometry: str  # GeoJSON geometry type of every feature
    items: Callable[[Session, ItemQuery], ItemPage]
    item: Callable[[Session, ItemQuery, str], dict | None]
    temporal: str | None = None  # the property `datetime` filters on
    versioned: bool = False  # accepts ?version= (a boundary version id)
    id_type: str = "string"
    queryables: dict[str, str] = field(default_factory=dict)  # property -> JSON type: filters and sortby
