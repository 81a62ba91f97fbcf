"""Address geocoding for 南汇新城镇: normalise, parse, forward and reverse lookup over plain records.

Pure Python, no database: a service loads the rows and hands them to `Geocoder`.

- An address is a dict with ``id, kind, address, road, number, compound, building, name, place_type,
  lon, lat`` (kind "house", "building" or "place"; nullable fields as in addresses.geojson).
- A road is a dict with ``id, name, geom`` where ``geom`` is a shapely LineString (or MultiLineString)
  in lon/lat, as ``geoalchemy2.shape.to_shape`` returns it. Segments sharing a name form one road.

Scores (0..1): an exact normalised address or place name is 1.0; a component match (road + number,
road + lane + building, compound + building) 0.95; an interpolated house number 0.8 (0.6 when
extrapolated beyond the last number on one side); a nearby existing number instead of a missing one
0.4; a compound (the centroid of its buildings) 0.75-0.9; a road alone (its midpoint) 0.7; a fuzzy
place or compound name 0.9 x its similarity. A misspelt road scales its candidates by 0.5 + 0.5 x the
road-name similarity and unexplained extra text by 0.9. Ties are broken by address id. Metric work
uses EPSG:4550 through `gis.crs`.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import shapely
from shapely.geometry import LineString, Point

from gis.crs import METRIC_EPSG, STORAGE_EPSG, to_metric, transformer

PREFIXES = ("中国", "上海市", "上海", "浦东新区", "浦东", "南汇新城镇", "南汇新城", "临港新片区", "临港")
ROAD_SUFFIXES = ("环路", "大道", "公路", "路", "街", "巷", "道")
BUILDING_MARK = "栋"

EXACT, COMPONENT, INTERPOLATED, EXTRAPOLATED, NEAREST = 1.0, 0.95, 0.8, 0.6, 0.4
ROAD_ONLY, NAME, COMPOUND, COMPOUND_LANE, COMPOUND_NO_BUILDING = 0.7, 0.9, 0.9, 0.75, 0.6
EXTRA_TEXT, MISSING_LANE = 0.9, 0.8
MIN_NAME_SIMILARITY, MIN_ROAD_SIMILARITY = 0.5, 0.6
HOUSE_SNAP_M = 40.0  # a house lies 15 m off the centre line; farther means another part of the road

_PREFIXES_LONGEST = tuple(sorted(PREFIXES, key=len, reverse=True))
_PUNCT = re.compile(r"[\s，,。.、·・\-－–—_:：;；!！?？\"'“”‘’()\[\]{}<>（）【】《》〈〉「」『』〔〕]")
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百千]+(?=号|弄|栋|幢|座|室|楼|单元)")
_BUILDING = re.compile(r"(?<=[0-9A-Z])(?:号楼|幢|座|栋)")
_LANE_BUILDING = re.compile(r"(弄\d+)号")
_PART = re.compile(r"([0-9A-Z]+)(弄|栋|号|室|单元)")
_DIGITS = re.compile(r"\d+")
_HEAD = re.compile(r"\D+")
_ROAD_GUESS = re.compile(r"[^\d弄栋号室]+?(?:" + "|".join(ROAD_SUFFIXES) + ")")


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    """Components of a normalised address; every field is None when absent."""

    road: str | None = None
    number: int | None = None
    lane: int | None = None
    building: int | None = None
    room: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """One geocoding answer; distance_m only for reverse geocoding, name for places and compounds."""

    address: str
    lon: float
    lat: float
    score: float
    kind: str  # "exact", "fuzzy", "interpolated", "place" or "road"
    address_id: int | None
    distance_m: float | None = None
    name: str | None = None


# --------------------------------------------------------------------------------------------
# Normalisation and parsing
# --------------------------------------------------------------------------------------------


def normalise(text: str, *, keep: Iterable[str] = ()) -> str:
    """Canonical form of an address: half-width, no spaces or punctuation, Arabic numbers, 栋, no prefixes.

    Names in ``keep`` (e.g. 临港大道) are never cut by the prefix stripping.
    """
    return _strip_prefixes(_canonical(text), tuple(keep))


def parse(text: str, roads: Iterable[str] | None = None) -> ParsedAddress:
    """Split an address into road, number, lane, building, room and free-text name."""
    names = tuple(_canonical(r) for r in roads or ())
    return _parse(normalise(text, keep=names), _road_pattern(names))


def chinese_to_int(text: str) -> int:
    """一百零五 -> 105, 十二 -> 12, 三八八 -> 388."""
    if not any(c in _CN_UNITS for c in text):
        return int("".join(str(_CN_DIGITS[c]) for c in text))
    total, digit = 0, 0
    for c in text:
        if c in _CN_UNITS:
            total += (digit or 1) * _CN_UNITS[c]
            digit = 0
        else:
            digit = _CN_DIGITS[c]
    return total + digit


def _canonical(text: str) -> str:
    s = _PUNCT.sub("", unicodedata.normalize("NFKC", text)).upper()
    s = _CN_NUMBER.sub(lambda m: str(chinese_to_int(m.group())), s)
    s = _BUILDING.sub(BUILDING_MARK, s)
    return _LANE_BUILDING.sub(rf"\g<1>{BUILDING_MARK}", s)


def _strip_prefixes(text: str, keep: tuple[str, ...]) -> str:
    while not (keep and text.startswith(keep)):
        rest = _without_prefix(text)
        if rest == text:
            break
        text = rest
    return text


def _without_prefix(text: str) -> str:
    for prefix in _PREFIXES_LONGEST:
        rest = text[len(prefix) :]
        # 临港 + 大道 is a road name, not a prefix
        if text.startswith(prefix) and rest and not rest.startswith(ROAD_SUFFIXES):
            return rest
    return text


@lru_cache(maxsize=8)
def _road_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    if not names:
        return None
    return re.compile("|".join(re.escape(n) for n in sorted(set(names), key=lambda n: (-len(n), n))))


def _find_road(s: str, known: re.Pattern[str] | None) -> re.Match[str] | None:
    match = known.search(s) if known else None
    return match or _ROAD_GUESS.search(s)


def _parse(s: str, known: re.Pattern[str] | None) -> ParsedAddress:
    road = _find_road(s, known)
    head, tail = (s[: road.start()], s[road.end() :]) if road else ("", s)
    parts: dict[str, str] = {}
    for m in _PART.finditer(tail):
        parts.setdefault(m.group(2), m.group(1))
    left = head + _PART.sub(" ", tail)
    bare = _DIGITS.findall(left)
    name = _DIGITS.sub("", left).replace(" ", "") or None
    return _assemble(road.group() if road else None, parts, bare, name)


def _assemble(road: str | None, parts: dict[str, str], bare: list[str], name: str | None) -> ParsedAddress:
    lane = _int(parts.get("弄"))
    number = lane if lane is not None else _int(parts.get("号")) if road else None
    building = _int(parts.get("栋"))
    if building is None and road is None:
        building = _int(parts.get("号"))  # 临港家园12号: without a road, 号 numbers a building
    room = parts.get("室")
    if "单元" in parts:
        room = f"{parts['单元']}单元{room or ''}"
    if bare and road and number is None:
        number = int(bare.pop(0))
    if bare and building is not None and room is None:
        room = bare.pop(0)
    return ParsedAddress(road, number, lane, building, room, name)


def _int(token: str | None) -> int | None:
    return int(token) if token and token.isdigit() else None


# --------------------------------------------------------------------------------------------
# String similarity
# --------------------------------------------------------------------------------------------


def similarity(query: str, name: str) -> float:
    """1 for equal strings, 0.6-1 when one contains the other, else 1 - edit distance / longer length."""
    if query == name:
        return 1.0
    short, long_ = sorted((query, name), key=len)
    if short and short in long_:
        return 0.6 + 0.4 * len(short) / len(long_)
    return 1.0 - _levenshtein(query, name) / max(len(query), len(name), 1)


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _bigrams(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _deletions(text: str) -> set[str]:
    return {text} | {text[:i] + text[i + 1 :] for i in range(len(text))}


class _NameIndex:
    """Names found by shared bigrams or by one deleted character, so typos in short names are found too."""

    def __init__(self, names: Iterable[str]):
        self.names = sorted(set(names))
        self._keys: dict[str, set[int]] = defaultdict(set)
        for i, name in enumerate(self.names):
            for key in _bigrams(name) | _deletions(name):
                self._keys[key].add(i)

    def match(self, text: str, minimum: float) -> list[tuple[str, float]]:
        """Names similar to text, best first."""
        hits: set[int] = set()
        for key in _bigrams(text) | _deletions(text):
            hits |= self._keys.get(key, set())
        scored = [(self.names[i], similarity(text, self.names[i])) for i in hits]
        return sorted(((n, s) for n, s in scored if s >= minimum), key=lambda t: (-t[1], t[0]))


# --------------------------------------------------------------------------------------------
# Geocoder
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Record:
    id: int
    kind: str
    address: str
    road: str | None
    number: int | None
    compound: str | None
    building: int | None
    name: str | None
    lon: float
    lat: float
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class _Compound:
    name: str
    road: str
    lane: int
    lon: float
    lat: float
    buildings: dict[int, int]  # building number -> record index


@dataclass(frozen=True, slots=True)
class _Road:
    name: str
    parts: tuple[LineString, ...]  # EPSG:4550, merged
    lon: float
    lat: float


class Geocoder:
    """Forward and reverse geocoding over address dicts and road dicts ``{id, name, geom}`` (module docstring)."""

    def __init__(self, addresses: Sequence[dict], roads: Sequence[dict]):
        self._to_metric = transformer(STORAGE_EPSG, METRIC_EPSG).transform
        self._to_lonlat = transformer(METRIC_EPSG, STORAGE_EPSG).transform
        self._records = _records(addresses, self._to_metric)
        self._roads = _roads(roads, self._to_lonlat)
        self._index_records()
        self._compounds = self._build_compounds()
        self._index_names()
        self._tree = shapely.STRtree(shapely.points(np.array([(r.x, r.y) for r in self._records]).reshape(-1, 2)))

    # -- building ---------------------------------------------------------------------------

    def _index_records(self) -> None:
        self._by_address: dict[str, list[int]] = defaultdict(list)
        self._by_place: dict[str, list[int]] = defaultdict(list)
        self._by_number: dict[tuple[str, int], list[int]] = defaultdict(list)
        houses: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
        for i, r in enumerate(self._records):
            if r.kind == "place" and r.name:
                self._by_place[r.name].append(i)
            if r.kind != "building" and r.road and r.number is not None:
                self._by_number[(r.road, r.number)].append(i)
            if r.kind == "house" and r.road and r.number is not None:
                houses[(r.road, r.number % 2)].append((r.number, i))
        self._houses = {key: sorted(items) for key, items in houses.items()}
        self._house_numbers = {key: [n for n, _ in items] for key, items in self._houses.items()}

    def _build_compounds(self) -> dict[tuple[str, int], _Compound]:
        members: dict[tuple[str, int], list[int]] = defaultdict(list)
        for i, r in enumerate(self._records):
            if r.kind == "building" and r.road and r.number is not None:
                members[(r.road, r.number)].append(i)
        out = {}
        for (road, lane), idx in members.items():
            x = float(np.mean([self._records[i].x for i in idx]))
            y = float(np.mean([self._records[i].y for i in idx]))
            lon, lat = self._to_lonlat(x, y)
            name = self._records[idx[0]].compound or f"{road}{lane}弄"
            buildings = {b: i for i in idx if (b := self._records[i].building) is not None}
            out[(road, lane)] = _Compound(name, road, lane, *_lonlat(lon, lat), buildings)
        return out

    def _index_names(self) -> None:
        self._by_compound: dict[str, list[_Compound]] = defaultdict(list)
        for compound in sorted(self._compounds.values(), key=lambda c: (c.road, c.lane)):
            self._by_compound[compound.name].append(compound)
        road_names = set(self._roads) | {r.road for r in self._records if r.road}
        names = road_names | set(self._by_compound) | set(self._by_place)
        self._keep = tuple(sorted(n for n in names if n.startswith(PREFIXES)))
        self._road_re = _road_pattern(tuple(sorted(road_names)))
        self._known_roads = frozenset(road_names)
        self._road_names = _NameIndex(road_names)
        self._place_names = _NameIndex(set(self._by_compound) | set(self._by_place))
        for i, r in enumerate(self._records):
            self._by_address[normalise(r.address, keep=self._keep)].append(i)

    # -- forward ----------------------------------------------------------------------------

    def geocode(self, query: str, limit: int = 5) -> list[Candidate]:
        """Best candidates for an address, place or compound query, highest score first."""
        q = normalise(query, keep=self._keep)
        if not q or limit <= 0:
            return []
        parsed = _parse(q, self._road_re)
        found: dict[tuple, Candidate] = {}
        components = self._by_components(self._guess_road(query, parsed))
        for candidate in (*self._exact(q), *components, *self._by_names(q, parsed)):
            key = (candidate.address_id,) if candidate.address_id is not None else (candidate.kind, candidate.address)
            if key not in found or candidate.score > found[key].score:
                found[key] = candidate
        return sorted(found.values(), key=_rank)[:limit]

    def _exact(self, q: str) -> Iterator[Candidate]:
        for i in self._by_address.get(q, ()):
            yield self._candidate(i, EXACT, "exact")
        for i in self._by_place.get(q, ()):
            yield self._candidate(i, EXACT, "place")

    def _guess_road(self, query: str, p: ParsedAddress) -> ParsedAddress:
        """Take the text before the number as a road when no road was found (a typo in 大道 or 路)."""
        if p.road or not p.name or p.name in self._by_compound or p.name in self._by_place:
            return p
        head = _HEAD.match(_canonical(query))  # before prefix stripping: 临港大到 must keep its 临港
        if head is None or (p.building is None and p.lane is None):
            return p
        if p.lane is not None:
            return replace(p, road=head.group(), name=None)
        return replace(p, road=head.group(), number=p.building, building=None, name=None)

    def _by_components(self, p: ParsedAddress) -> Iterator[Candidate]:
        extra = EXTRA_TEXT if p.name and p.name not in self._by_compound and p.name not in self._by_place else 1.0
        for road, factor in self._resolve_road(p.road):
            yield from self._on_road(road, p, factor * extra)

    def _resolve_road(self, text: str | None) -> list[tuple[str, float]]:
        if not text:
            return []
        if text in self._known_roads:
            return [(text, 1.0)]
        best: dict[str, float] = {}
        for k in range(len(text), 2, -1):  # a guessed road may carry a compound name in front
            for name, sim in self._road_names.match(text[-k:], MIN_ROAD_SIMILARITY):
                best[name] = max(best.get(name, 0.0), sim)
        ranked = sorted(best.items(), key=lambda t: (-t[1], t[0]))[:3]
        return [(name, 0.5 + 0.5 * sim) for name, sim in ranked]

    def _on_road(self, road: str, p: ParsedAddress, factor: float) -> Iterator[Candidate]:
        lane = p.lane if p.lane is not None else p.number if p.building is not None else None
        if lane is not None and (road, lane) in self._compounds:
            yield from self._in_compound(self._compounds[(road, lane)], p.building, factor)
        elif p.number is not None:
            yield from self._at_number(road, p.number, factor * (MISSING_LANE if p.lane is not None else 1.0))
        else:
            yield from self._road_midpoint(road, ROAD_ONLY * factor)

    def _in_compound(self, compound: _Compound, building: int | None, factor: float) -> Iterator[Candidate]:
        if building in compound.buildings:
            yield self._candidate(compound.buildings[building], COMPONENT * factor, "fuzzy")
        else:
            score = COMPOUND_LANE if building is None else COMPOUND_NO_BUILDING
            yield _compound_candidate(compound, score * factor)

    def _at_number(self, road: str, number: int, factor: float) -> Iterator[Candidate]:
        hits = self._by_number.get((road, number))
        if hits:
            yield from (self._candidate(i, COMPONENT * factor, "fuzzy") for i in hits)
        else:
            yield from self._interpolate(road, number, factor)

    def _by_names(self, q: str, p: ParsedAddress) -> Iterator[Candidate]:
        texts = [p.name] if p.name else []
        if p.road and p.name:
            texts.append(q)  # the road may be part of a name, as in 临港大道站
        for text in texts:
            for name, sim in self._place_names.match(text, MIN_NAME_SIMILARITY):
                for i in self._by_place.get(name, ()):
                    yield self._candidate(i, NAME * sim, "place")
                for compound in self._by_compound.get(name, ()):
                    yield from self._compound_match(compound, p.building, sim)

    def _compound_match(self, compound: _Compound, building: int | None, sim: float) -> Iterator[Candidate]:
        if building in compound.buildings:
            yield self._candidate(compound.buildings[building], COMPONENT * sim, "fuzzy")
        else:
            yield _compound_candidate(compound, (COMPOUND if building is None else COMPOUND_NO_BUILDING) * sim)

    # -- interpolation ----------------------------------------------------------------------

    def _interpolate(self, road: str, number: int, factor: float) -> Iterator[Candidate]:
        side = self._houses.get((road, number % 2), [])
        i = bisect.bisect_left(self._house_numbers.get((road, number % 2), []), number)
        lower, upper = side[max(i - 2, 0) : i], side[i : i + 2]
        xy, score = None, 0.0
        if lower and upper:
            xy, score = self._between(road, lower[-1], upper[0], number), INTERPOLATED
        elif len(lower) == 2 or len(upper) == 2:
            pair = lower if lower else upper[::-1]
            xy, score = self._beyond(road, pair[0], pair[1], number), EXTRAPOLATED
        if xy is not None:
            lon, lat = self._to_lonlat(*xy)
            point = _lonlat(lon, lat)
            yield Candidate(f"{road}{number}号", *point, _round(score * factor), "interpolated", None)
        else:
            yield from self._nearest_number(road, number, factor)

    def _between(self, road: str, a: tuple[int, int], b: tuple[int, int], number: int) -> tuple[float, float]:
        f = (number - a[0]) / (b[0] - a[0])
        pa, pb = self._xy(a[1]), self._xy(b[1])
        part = self._part_near(road, pa, pb)
        if part is not None:
            ma, mb = part.project(Point(pa)), part.project(Point(pb))
            if abs(mb - ma) <= 2 * math.dist(pa, pb) + HOUSE_SNAP_M:  # not across the seam of a ring
                oa, ob = _offset(part, ma, pa), _offset(part, mb, pb)
                return _along(part, ma + f * (mb - ma), oa + f * (ob - oa))
        return (pa[0] + f * (pb[0] - pa[0]), pa[1] + f * (pb[1] - pa[1]))

    def _beyond(self, road: str, far: tuple[int, int], near: tuple[int, int], number: int) -> tuple | None:
        pf, pn = self._xy(far[1]), self._xy(near[1])
        part = self._part_near(road, pf, pn)
        if part is None:
            return None
        mf, mn = part.project(Point(pf)), part.project(Point(pn))
        m = mn + (number - near[0]) * (mn - mf) / (near[0] - far[0])
        if not -abs(mn - mf) <= m <= part.length + abs(mn - mf):
            return None
        # past the end of the road by less than one step: put it at the end
        return _along(part, min(max(m, 0.0), part.length), _offset(part, mn, pn))

    def _nearest_number(self, road: str, number: int, factor: float) -> Iterator[Candidate]:
        items = [*self._houses.get((road, 0), []), *self._houses.get((road, 1), [])]
        if not items:
            yield from self._road_midpoint(road, NEAREST * factor)
            return
        _, i = min(items, key=lambda t: (abs(t[0] - number), t[0]))
        yield self._candidate(i, NEAREST * factor, "fuzzy")

    def _part_near(self, road: str, pa: tuple[float, float], pb: tuple[float, float]) -> LineString | None:
        if road not in self._roads:
            return None
        a, b = Point(pa), Point(pb)
        part = min(self._roads[road].parts, key=lambda line: line.distance(a) + line.distance(b))
        return part if max(part.distance(a), part.distance(b)) <= HOUSE_SNAP_M else None

    def _road_midpoint(self, road: str, score: float) -> Iterator[Candidate]:
        if road in self._roads:
            r = self._roads[road]
            yield Candidate(road, r.lon, r.lat, _round(score), "road", None)

    # -- reverse ----------------------------------------------------------------------------

    def reverse(self, lon: float, lat: float, max_distance_m: float = 200.0) -> Candidate | None:
        """The nearest address point within max_distance_m metres, or None."""
        x, y = self._to_metric(lon, lat)
        idx, dist = self._tree.query_nearest(
            Point(x, y), max_distance=max(max_distance_m, 1e-9), return_distance=True, all_matches=True
        )
        if len(idx) == 0:
            return None
        d, i = min(zip(dist.tolist(), idx.tolist(), strict=True), key=lambda t: (t[0], self._records[t[1]].id))
        score = max(0.0, 1.0 - d / max_distance_m) if max_distance_m > 0 else 1.0
        kind = "place" if self._records[i].kind == "place" else "exact"
        return self._candidate(i, score, kind, distance_m=round(d, 3))

    # -- helpers ----------------------------------------------------------------------------

    def _xy(self, i: int) -> tuple[float, float]:
        return self._records[i].x, self._records[i].y

    def _candidate(self, i: int, score: float, kind: str, distance_m: float | None = None) -> Candidate:
        r = self._records[i]
        name = r.name if r.kind != "house" else None
        return Candidate(r.address, r.lon, r.lat, _round(score), kind, r.id, distance_m, name)


def _records(rows: Sequence[dict], project: Callable) -> list[_Record]:
    rows = sorted(rows, key=lambda row: row["id"])
    lons = np.array([float(row["lon"]) for row in rows])
    lats = np.array([float(row["lat"]) for row in rows])
    xs, ys = project(lons, lats) if rows else (lons, lats)
    return [_record(row, float(x), float(y)) for row, x, y in zip(rows, np.ravel(xs), np.ravel(ys), strict=True)]


def _record(row: dict, x: float, y: float) -> _Record:
    def text(key: str) -> str | None:
        value = row.get(key)
        return _canonical(value) if value else None

    def integer(key: str) -> int | None:
        value = row.get(key)
        return int(value) if value is not None else None

    return _Record(
        id=int(row["id"]),
        kind=row.get("kind") or "house",
        address=row["address"],
        road=text("road"),
        number=integer("number"),
        compound=text("compound"),
        building=integer("building"),
        name=text("name"),
        lon=float(row["lon"]),
        lat=float(row["lat"]),
        x=x,
        y=y,
    )


def _roads(rows: Sequence[dict], to_lonlat: Callable) -> dict[str, _Road]:
    pieces: dict[str, list[LineString]] = defaultdict(list)
    for row in sorted(rows, key=lambda row: row["id"]):
        if row.get("name") and row.get("geom") is not None and not row["geom"].is_empty:
            pieces[_canonical(row["name"])].extend(shapely.get_parts(row["geom"]).tolist())
    out = {}
    for name, lines in pieces.items():
        merged = shapely.line_merge(shapely.MultiLineString(lines))
        parts = tuple(sorted(shapely.get_parts(to_metric(merged)).tolist(), key=lambda line: -line.length))
        mid = parts[0].interpolate(0.5, normalized=True)
        lon, lat = to_lonlat(mid.x, mid.y)
        out[name] = _Road(name, parts, *_lonlat(lon, lat))
    return out


def _tangent(line: LineString, m: float) -> tuple[float, float]:
    a, b = line.interpolate(max(m - 1.0, 0.0)), line.interpolate(min(m + 1.0, line.length))
    dx, dy = b.x - a.x, b.y - a.y
    n = math.hypot(dx, dy) or 1.0
    return dx / n, dy / n


def _offset(line: LineString, m: float, p: tuple[float, float]) -> float:
    """Signed distance of p from the line at measure m, positive on the left."""
    base, (tx, ty) = line.interpolate(m), _tangent(line, m)
    return tx * (p[1] - base.y) - ty * (p[0] - base.x)


def _along(line: LineString, m: float, offset: float) -> tuple[float, float]:
    base, (tx, ty) = line.interpolate(m), _tangent(line, m)
    return base.x - ty * offset, base.y + tx * offset


def _compound_candidate(compound: _Compound, score: float) -> Candidate:
    address = f"{compound.road}{compound.lane}弄"
    return Candidate(address, compound.lon, compound.lat, _round(score), "place", None, name=compound.name)


def _lonlat(lon: float, lat: float) -> tuple[float, float]:
    return round(float(lon), 7), round(float(lat), 7)


def _round(score: float) -> float:
    return round(min(max(score, 0.0), 1.0), 4)


def _rank(c: Candidate) -> tuple:
    return (-c.score, c.address_id if c.address_id is not None else math.inf, c.kind, c.address)
