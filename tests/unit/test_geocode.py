"""Geocoding over the illustrative addresses and roads: normalisation, parsing, forward and reverse lookup."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import pytest
import shapely
from shapely.geometry import LineString, Point, shape

from gis.crs import to_metric, transformer
from gis.geocode import Candidate, Geocoder, ParsedAddress, chinese_to_int, normalise, parse

FOLDER = Path(__file__).resolve().parents[2] / "data" / "boundaries"
FIELDS = ("id", "kind", "address", "road", "number", "compound", "building", "name", "place_type")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
PREFIXED = ("上海市浦东新区南汇新城镇{}", "临港新片区{}", "上海市 浦东新区，{}")


def features(name: str) -> list[dict]:
    return json.loads((FOLDER / name).read_text(encoding="utf-8"))["features"]


def chinese(n: int) -> str:
    """123 -> 一百二十三, 12 -> 十二, 105 -> 一百零五 (0 < n < 10000)."""
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit:
            lead = "" if value == 10 and digit == 1 and not out else "零一二三四五六七八九"[digit]
            out, zero = out + ("零" if zero else "") + lead + unit, False
        elif out:
            zero = True
    return out


def metric(lon: float, lat: float) -> Point:
    return Point(transformer(4326, 4550).transform(lon, lat))


def assert_ranked(candidates: list[Candidate]) -> None:
    for a, b in zip(candidates, candidates[1:], strict=False):
        assert a.score >= b.score
        if a.score == b.score and a.address_id is not None and b.address_id is not None:
            assert a.address_id < b.address_id


@pytest.fixture(scope="module")
def addresses() -> list[dict]:
    rows = []
    for f in features("addresses.geojson"):
        lon, lat = f["geometry"]["coordinates"]
        rows.append({**{k: f["properties"][k] for k in FIELDS}, "lon": lon, "lat": lat})
    return rows


@pytest.fixture(scope="module")
def roads() -> list[dict]:
    return [
        {"id": f["properties"]["id"], "name": f["properties"]["name"], "geom": shape(f["geometry"])}
        for f in features("roads.geojson")
    ]


@pytest.fixture(scope="module")
def geocoder(addresses, roads) -> Geocoder:
    return Geocoder(addresses, roads)


@pytest.fixture(scope="module")
def road_lines(roads) -> dict[str, LineString]:
    """Each road's segments merged into one line in EPSG:4550."""
    pieces = defaultdict(list)
    for r in roads:
        pieces[r["name"]].append(r["geom"])
    return {name: to_metric(shapely.line_merge(shapely.MultiLineString(lines))) for name, lines in pieces.items()}


@pytest.fixture(scope="module")
def sides(addresses) -> dict[tuple[str, int], list[dict]]:
    """Houses of each road and side (number parity), by number."""
    out = defaultdict(list)
    for a in addresses:
        if a["kind"] == "house":
            out[(a["road"], a["number"] % 2)].append(a)
    return {key: sorted(rows, key=lambda a: a["number"]) for key, rows in out.items()}


# --------------------------------------------------------------------------------------------
# Normalisation and parsing (no data)
# --------------------------------------------------------------------------------------------


def test_full_width_spaces_and_punctuation_are_removed():
    assert normalise("临港大道１２３号") == "临港大道123号"
    assert normalise(" 临港 大道\u3000123 号 ") == "临港大道123号"
    assert normalise("水芸路388弄（12号）、301室。") == "水芸路388弄12栋301室"
    assert normalise("海事苑ａ座") == "海事苑A栋"


def test_prefixes_are_dropped_in_any_order_but_not_from_road_names():
    assert normalise("上海市浦东新区南汇新城镇临港大道123号") == "临港大道123号"
    assert normalise("中国上海浦东临港新片区水芸路1号") == "水芸路1号"
    assert normalise("临港新片区上海市南汇新城水芸路1号") == "水芸路1号"
    assert normalise("临港家园12号楼") == "家园12栋"
    assert normalise("临港家园12号楼", keep=["临港家园"]) == "临港家园12栋"


def test_chinese_numbers_before_markers_become_digits():
    assert normalise("水芸路一百二十三号") == "水芸路123号"
    assert normalise("水芸路三八八弄十二幢一二零一室") == "水芸路388弄12栋1201室"
    assert normalise("环湖一路一百零五号") == "环湖一路105号"  # 一 in the road name stays
    cases = {"十": 10, "十二": 12, "二十": 20, "一百零五": 105, "两百": 200, "一千零一": 1001, "三八八": 388}
    assert {text: chinese_to_int(text) for text in cases} == cases
    assert [chinese(n) for n in (12, 105, 110, 388)] == ["十二", "一百零五", "一百一十", "三百八十八"]


def test_building_markers_are_unified():
    variants = ["水芸路388弄12号", "水芸路388弄12栋", "水芸路388弄十二幢", "水芸路388弄12座", "水芸路388弄12号楼"]
    assert {normalise(v) for v in variants} == {"水芸路388弄12栋"}
    assert normalise("临港大道12号") == "临港大道12号"  # without a lane, 号 is a house number


def test_normalise_is_idempotent():
    for text in ("上海市临港大道１２３号", "水芸路三八八弄十二号楼301室", "临港新片区管委会"):
        assert normalise(normalise(text)) == normalise(text)


def test_parse_components():
    roads = ["水芸路", "临港大道", "沪城环路"]
    assert parse("水芸路388弄12号301室", roads) == ParsedAddress("水芸路", 388, 388, 12, "301", None)
    assert parse("上海市临港大道１２３号", roads) == ParsedAddress("临港大道", 123, None, None, None, None)
    assert parse("海事苑水芸路388弄", roads) == ParsedAddress("水芸路", 388, 388, None, None, "海事苑")
    assert parse("海事苑十二号楼") == ParsedAddress(None, None, None, 12, None, "海事苑")
    assert parse("滴水湖站") == ParsedAddress(name="滴水湖站")
    assert parse("火星路999号").road == "火星路"  # unknown roads are still recognised by their suffix
    assert parse("沪城环路7号", roads).road == "沪城环路"


# --------------------------------------------------------------------------------------------
# Forward geocoding on the illustrative data
# --------------------------------------------------------------------------------------------


def sample_houses(addresses: list[dict]) -> list[dict]:
    """The first house with a two-digit number on a road named like a prefix (临港...), and one with three digits."""
    houses = [a for a in addresses if a["kind"] == "house"]
    picks = [
        next((a for a in houses if a["road"].startswith("临港") and a["number"] >= 10), None),
        next(a for a in houses if a["number"] >= 100 and not a["road"].startswith("临港")),
    ]
    return [a for a in picks if a is not None]


def test_house_variants_give_the_same_exact_candidate(geocoder, addresses):
    for house in sample_houses(addresses):
        road, n = house["road"], house["number"]
        full = str(n).translate(FULL_WIDTH)
        variants = [house["address"], f"{road}{full}号", " ".join(house["address"]), f"{road}{chinese(n)}号"]
        variants += [p.format(f"{road}（{full}号）") for p in PREFIXED]
        for query in variants:
            top = geocoder.geocode(query)[0]
            assert (top.address_id, top.kind, top.score) == (house["id"], "exact", 1.0), query
            assert (top.lon, top.lat, top.address) == (house["lon"], house["lat"], house["address"])
            assert top.distance_m is None


def pick_building(addresses: list[dict]) -> dict:
    buildings = [a for a in addresses if a["kind"] == "building"]
    return next((a for a in buildings if a["building"] == 12), max(buildings, key=lambda a: (a["building"], -a["id"])))


def test_building_marker_variants_give_the_same_exact_candidate(geocoder, addresses):
    b = pick_building(addresses)
    lane, n = f"{b['road']}{b['number']}弄", b["building"]
    variants = [f"{lane}{n}号", f"{lane}{n}栋", f"{lane}{chinese(n)}幢", f"{lane}{n}座", f"{lane}{n}号楼"]
    variants += [p.format(f"{lane}{n}号") for p in PREFIXED]
    for query in variants:
        top = geocoder.geocode(query)[0]
        assert (top.address_id, top.kind, top.score, top.name) == (b["id"], "exact", 1.0, b["compound"]), query


def test_compound_name_and_building(geocoder, addresses):
    b = pick_building(addresses)
    n = b["building"]
    for query in (f"{b['compound']}{n}号楼", f"{b['compound']}{chinese(n)}栋", f"上海市{b['compound']}{n}幢"):
        top = geocoder.geocode(query)[0]
        assert (top.address_id, top.kind) == (b["id"], "fuzzy"), query
        assert 0.9 <= top.score < 1.0


def test_place_names(geocoder, addresses):
    metro = [a for a in addresses if a["place_type"] == "metro"]
    assert metro
    for place in metro:
        for query in (place["name"], f"上海市浦东新区{place['name']}"):
            top = geocoder.geocode(query)[0]
            assert (top.address_id, top.kind, top.score, top.name) == (place["id"], "place", 1.0, place["name"])
        top = geocoder.geocode(place["address"])[0]  # a place is found by its road address too
        assert (top.address_id, top.score) == (place["id"], 1.0)


def test_exact_scores_one_and_component_matches_less(geocoder, addresses):
    house = sample_houses(addresses)[-1]
    assert geocoder.geocode(house["address"])[0].score == 1.0
    top = geocoder.geocode(f"{house['address']}301室")[0]
    assert (top.address_id, top.kind) == (house["id"], "fuzzy")
    assert 0.5 < top.score < 1.0


def unambiguous_typo(name: str, names: set[str]) -> str | None:
    """name with one character replaced so that no other road is one substitution away."""
    for i in range(len(name) - 1):  # keep the road-type suffix
        typo = f"{name[:i]}某{name[i + 1 :]}"
        close = [o for o in names if len(o) == len(name) and sum(x != y for x, y in zip(o, typo, strict=True)) == 1]
        if close == [name] and not any(o in typo for o in names) and not typo.startswith(("上海", "临港", "浦东")):
            return typo
    return None


def test_one_wrong_character_in_the_road_name(geocoder, addresses):
    names = {a["road"] for a in addresses if a["road"]}
    tried = 0
    for house in (a for a in addresses if a["kind"] == "house" and a["number"] >= 5):
        typo = unambiguous_typo(house["road"], names)
        if typo is None or tried >= 5:
            continue
        tried += 1
        top = geocoder.geocode(f"{typo}{house['number']}号")[0]
        assert (top.address_id, top.kind) == (house["id"], "fuzzy"), typo
        assert 0.5 < top.score < 1.0
        names.discard(house["road"])  # next road
    assert tried == 5


def test_wrong_character_in_the_road_type(geocoder, addresses):
    house = next(a for a in addresses if a["kind"] == "house" and a["road"].endswith("大道") and a["number"] >= 10)
    for query in (f"{house['road'][:-1]}到{house['number']}号", f"上海市{house['road'][:-1]}到{house['number']}号"):
        top = geocoder.geocode(query)[0]
        assert (top.address_id, top.kind) == (house["id"], "fuzzy"), query
        assert 0.5 < top.score < 1.0


def off_chord(a: dict, m: dict, b: dict) -> float:
    """Metres from house m to the straight line joining houses a and b."""
    return LineString([metric(a["lon"], a["lat"]), metric(b["lon"], b["lat"])]).distance(metric(m["lon"], m["lat"]))


def triples(sides: dict, bent: bool, skip: set[str]) -> list[tuple[dict, dict, dict]]:
    """One (n-2, n, n+2) house triple per road, on a straight stretch (< 1 m off the chord) or a bend (> 2 m)."""
    out, seen = [], set(skip)
    for (road, _), houses in sorted(sides.items()):
        for a, m, b in zip(houses, houses[1:], houses[2:], strict=False):
            if road in seen or (a["number"], b["number"]) != (m["number"] - 2, m["number"] + 2):
                continue
            if (off_chord(a, m, b) > 2.0) if bent else (off_chord(a, m, b) < 1.0):
                out.append((a, m, b))
                seen.add(road)
    return out


def test_interpolation_between_neighbours(addresses, roads, sides, road_lines):
    straight = triples(sides, bent=False, skip=set())[:5]
    curved = triples(sides, bent=True, skip={m["road"] for _, m, _ in straight})[:5]
    assert len(straight) == 5 and curved
    dropped = {m["id"] for _, m, _ in straight + curved}
    geocoder = Geocoder([a for a in addresses if a["id"] not in dropped], roads)
    for a, m, b in straight + curved:
        query = f"{m['road']}{m['number']}号"
        top = geocoder.geocode(query)[0]
        assert (top.kind, top.address, top.address_id) == ("interpolated", query, None)
        assert 0.7 <= top.score < 1.0
        p, pa, pb = metric(top.lon, top.lat), metric(a["lon"], a["lat"]), metric(b["lon"], b["lat"])
        line = road_lines[m["road"]]
        measures = sorted((line.project(pa), line.project(pb)))
        assert measures[0] < line.project(p) < measures[1]
        on_chord = LineString([pa, pb]).distance(p) <= 1.0
        along_road = abs(line.distance(p) - (line.distance(pa) + line.distance(pb)) / 2) <= 1.0
        assert on_chord or along_road, query
        assert p.distance(metric(m["lon"], m["lat"])) < pa.distance(pb)


def test_missing_number_beyond_the_last_one(addresses, roads, sides):
    (road, _), houses = next((k, v) for k, v in sorted(sides.items()) if len(v) >= 4)
    last = houses[-1]
    geocoder = Geocoder([a for a in addresses if a["id"] != last["id"]], roads)
    top = geocoder.geocode(f"{road}{last['number']}号")[0]
    assert top.kind == "interpolated" and 0.4 < top.score < 0.8
    assert metric(top.lon, top.lat).distance(metric(last["lon"], last["lat"])) < 100.0
    far = geocoder.geocode(f"{road}{last['number'] + 1000}号")[0]
    assert far.kind == "fuzzy" and far.score <= 0.5
    assert far.address_id in {a["id"] for a in addresses if a["road"] == road}


def common_suffix(names: list[str]) -> str:
    suffix = names[0]
    for name in names[1:]:
        while not name.endswith(suffix):
            suffix = suffix[1:]
    return suffix


def test_ambiguous_place_query_returns_several_ranked(geocoder, addresses):
    by_type = defaultdict(list)
    for a in addresses:
        if a["kind"] == "place":
            by_type[a["place_type"]].append(a["name"])
    suffixes = [(len(names), common_suffix(names)) for names in by_type.values() if len(names) >= 2]
    count, suffix = max((c, s) for c, s in suffixes if len(s) >= 2)
    found = geocoder.geocode(suffix, limit=10)
    assert_ranked(found)
    matching = [c for c in found if c.name and c.name.endswith(suffix)]
    assert len(matching) >= min(count, 2)
    assert all(c.kind == "place" and c.score < 1.0 for c in matching)


def test_ambiguous_compound_query_returns_several_ranked(geocoder, addresses):
    compounds = sorted({a["compound"] for a in addresses if a["kind"] == "building"})
    bigrams = defaultdict(set)
    for name in compounds:
        for i in range(len(name) - 1):
            bigrams[name[i : i + 2]].add(name)
    shared, names = max(sorted(bigrams.items()), key=lambda t: len(t[1]))
    assert len(names) >= 2
    found = geocoder.geocode(shared, limit=10)
    assert_ranked(found)
    assert len({c.name for c in found if c.name in names}) >= 2


def test_road_without_number_is_its_midpoint(geocoder, road_lines):
    name = sorted(road_lines)[0]
    top = geocoder.geocode(name)[0]
    assert (top.kind, top.address, top.address_id) == ("road", name, None)
    assert top.score < 1.0
    assert road_lines[name].distance(metric(top.lon, top.lat)) < 1.0


def test_nothing_matches(geocoder):
    for query in ("火星路999号", "QXZWVKJ", "", "  ，。 "):
        assert geocoder.geocode(query) == []


def test_limit_and_determinism(geocoder, addresses, roads):
    assert len(geocoder.geocode("公园", limit=2)) == 2
    assert geocoder.geocode("公园", limit=0) == []
    again = Geocoder(list(reversed(addresses)), list(reversed(roads)))
    for query in ("公园", "花园", "滴水湖", sample_houses(addresses)[0]["address"]):
        assert geocoder.geocode(query) == again.geocode(query)


# --------------------------------------------------------------------------------------------
# Reverse geocoding
# --------------------------------------------------------------------------------------------


def test_reverse_finds_the_address_at_its_own_point(geocoder, addresses):
    for a in random.Random(20240617).sample(addresses, 50):
        found = geocoder.reverse(a["lon"], a["lat"])
        assert found is not None
        assert (found.address_id, found.address) == (a["id"], a["address"])
        assert found.distance_m < 0.01 and found.score > 0.99


def test_reverse_reports_the_distance(geocoder, addresses):
    house = sample_houses(addresses)[-1]
    p = metric(house["lon"], house["lat"])
    lon, lat = transformer(4550, 4326).transform(p.x, p.y + 5.0)
    found = geocoder.reverse(lon, lat)
    assert found.address_id == house["id"]
    assert found.distance_m == pytest.approx(5.0, abs=0.05)
    assert geocoder.reverse(lon, lat, max_distance_m=2.0) is None


def test_reverse_offshore_is_none(geocoder, addresses):
    east = max(addresses, key=lambda a: metric(a["lon"], a["lat"]).x)
    p = metric(east["lon"], east["lat"])
    lon, lat = transformer(4550, 4326).transform(p.x + 5000.0, p.y)
    assert geocoder.reverse(lon, lat) is None
