"""CQL2 filters (OGC API - Features Part 3) for the items of a collection. No Flask.

pygeofilter parses CQL2 text or JSON into an AST; this module checks it against the collection's
queryables (every property named must be one, every literal must have the property's type, geometry
literals must be finite lon/lat without a `crs` member of their own, only the functions and
predicates below are offered), and only then lets pygeofilter's SQLAlchemy backend turn it into a
SQLAlchemy expression over the layer's columns. No SQL is ever written from the filter's text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any

import shapely.geometry
from lark.exceptions import LarkError, UnexpectedInput
from pygeofilter import ast, values
from pygeofilter.backends.sqlalchemy import to_filter
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parse as parse_text
from sqlalchemy import ColumnElement

from app.errors import InputError

LANGUAGES = ("cql2-text", "cql2-json")
MAX_LENGTH = 20_000  # characters of a filter
MAX_VERTICES = 5_000  # of the geometry literals of one filter
FUNCTIONS = frozenset({"lower"})
GEOMETRY = "geometry"
_REFUSED = (ast.SpatialDistancePredicate, ast.Relate, ast.ArrayPredicate, ast.Exists)
_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "datetime": (date,)}
INSTANT_OPS = frozenset({"AFTER", "BEFORE", "TEQUALS"})  # against an instant
INTERVAL_OPS = frozenset({"TOVERLAPS", "DURING"})  # an instant property against a closed interval


def parse(raw: str, lang: str | None, queryables: Mapping[str, str]) -> ast.Node:
    """The checked AST of a filter; InputError (400) says what is wrong and where."""
    lang = lang or "cql2-text"
    if lang not in LANGUAGES:
        raise InputError("filter-lang", f"filter-lang must be one of {', '.join(LANGUAGES)}", 400)
    if len(raw) > MAX_LENGTH:
        raise InputError("filter", f"filter is longer than {MAX_LENGTH:,} characters", 400)
    try:
        tree = parse_text(raw) if lang == "cql2-text" else parse_json(json.loads(raw))
    except UnexpectedInput as exc:
        raise InputError("filter", f"filter is not valid CQL2 text at line {exc.line}, column {exc.column}: "
                         f"{_context(raw, exc)}", 400) from None
    except (LarkError, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise InputError("filter", f"filter is not valid {lang}: {exc.__class__.__name__}: {exc}"[:300], 400) from None
    if not isinstance(tree, ast.Node):
        raise InputError("filter", "filter must be a condition (a comparison, a spatial predicate, AND/OR/NOT...)", 400)
    _check(tree, queryables)
    return tree


def to_where(tree: ast.Node, columns: Mapping[str, Any]) -> ColumnElement[bool]:
    """The SQLAlchemy condition of a checked filter over `columns` (property name -> column, and `geometry`)."""
    return to_filter(tree, dict(columns), undefined_as_null=False)


def _context(raw: str, exc: UnexpectedInput) -> str:
    line = raw.splitlines()[exc.line - 1] if 0 < exc.line <= len(raw.splitlines()) else raw
    column = max(exc.column - 1, 0)
    return f"...{line[max(column - 20, 0):column]}>>>{line[column:column + 20]}..."


def _walk(node: object) -> Iterator[object]:
    yield node
    if isinstance(node, ast.Node):
        for sub in node.get_sub_nodes():
            yield from _walk(sub)
    elif isinstance(node, list | tuple):
        for sub in node:
            yield from _walk(sub)


def _check(tree: ast.Node, queryables: Mapping[str, str]) -> None:
    vertices = 0
    for node in _walk(tree):
        if isinstance(node, _REFUSED):
            raise InputError("filter", f"{type(node).__name__} is not offered here; use comparisons, LIKE, IN, "
                             "BETWEEN, IS NULL, AND/OR/NOT, S_INTERSECTS, S_WITHIN, S_CONTAINS... and T_AFTER, "
                             "T_BEFORE, T_INTERSECTS, T_DURING on date-times", 400)
        if isinstance(node, ast.Function) and node.name not in FUNCTIONS:
            raise InputError("filter", f"function {node.name!r} is not offered; offered: {', '.join(FUNCTIONS)}", 400)
        if isinstance(node, ast.Attribute) and node.name not in queryables and node.name != GEOMETRY:
            known = ", ".join([*queryables, GEOMETRY])
            raise InputError("filter", f"{node.name!r} is not a queryable of this collection; queryables: {known}", 400)
        if isinstance(node, values.Geometry):
            vertices += _geometry(node.geometry)
        if isinstance(node, ast.Comparison | ast.Between | ast.In | ast.Like):
            _types(node, queryables)
        if isinstance(node, ast.TemporalPredicate):
            _temporal(node, queryables)
    if vertices > MAX_VERTICES:
        raise InputError("filter", f"the geometries of the filter have more than {MAX_VERTICES:,} vertices", 400)


def _geometry(geometry: dict) -> int:
    if "crs" in geometry:
        raise InputError("filter", "geometry literals are lon/lat (CRS84); a crs member is not accepted", 400)
    try:
        shape = shapely.geometry.shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise InputError("filter", f"a geometry of the filter is not valid: {exc}", 400) from None
    coords = shapely.get_coordinates(shape)
    if not all(math.isfinite(v) for v in coords.ravel()) or (
        len(coords) and not ((abs(coords[:, 0]) <= 180).all() and (abs(coords[:, 1]) <= 90).all())
    ):
        raise InputError("filter", "a geometry of the filter is not in lon/lat degrees (CRS84)", 400)
    return len(coords)


def _temporal(node: ast.TemporalPredicate, queryables: Mapping[str, str]) -> None:
    """T_AFTER, T_BEFORE, T_EQUALS against an instant; T_INTERSECTS (T_OVERLAPS) and T_DURING against a
    closed interval; on a date-time property only."""
    lhs, rhs, op = node.lhs, node.rhs, node.op.name
    if not isinstance(lhs, ast.Attribute) or queryables.get(lhs.name) != "datetime":
        dated = ", ".join(n for n, k in queryables.items() if k == "datetime") or "none here"
        raise InputError("filter", f"temporal predicates take a date-time property ({dated}) first", 400)
    if isinstance(rhs, values.Interval):
        closed = isinstance(rhs.start, date) and isinstance(rhs.end, date)
        if not closed or op not in INTERVAL_OPS:
            raise InputError("filter", "an interval must have both ends (dates or timestamps), with T_INTERSECTS or "
                             "T_DURING", 400)
    elif isinstance(rhs, date):
        if op not in INSTANT_OPS:
            raise InputError("filter", "against an instant use T_AFTER, T_BEFORE or T_EQUALS", 400)
    else:
        raise InputError("filter", "a temporal predicate compares with a DATE, a TIMESTAMP or an INTERVAL", 400)


def _types(node: ast.Node, queryables: Mapping[str, str]) -> None:
    """Literals compared with a property must have its type (a number for area_m2, a text for code...)."""
    lhs = getattr(node, "lhs", None)
    if not isinstance(lhs, ast.Attribute) or lhs.name == GEOMETRY:
        return
    kind = queryables.get(lhs.name)
    if kind is None:
        return  # not a queryable: the walk refuses it when it reaches the attribute
    if isinstance(node, ast.Like):
        literals: list[object] = [node.pattern]
        if kind != "string":
            raise InputError("filter", f"LIKE needs a text property; {lhs.name} is {kind}", 400)
    elif isinstance(node, ast.Between):
        literals = [node.low, node.high]
    elif isinstance(node, ast.In):
        literals = list(node.sub_nodes)
    else:
        literals = [node.rhs]
    for value in literals:
        if isinstance(value, ast.Node):
            continue  # an expression (another property, arithmetic): typed by the database
        ok = isinstance(value, _TYPES[kind]) and not (kind != "boolean" and isinstance(value, bool))
        if not ok:
            raise InputError("filter", f"{lhs.name} is {kind}; {value!r} cannot be compared with it", 400)
