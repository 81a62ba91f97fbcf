"""Road segments from an OpenStreetMap extract (.osm, .osm.pbf) or a GeoPackage, as road-layer features.

The result is what the `roads` boundary layer holds (properties name, kind, oneway, speed_kph,
in WGS84 lon/lat), so an import goes through the same validation and versioning as every layer.
OSM ways are split at every node they share with another way (the network must be noded);
`oneway=-1` ways are reversed so that one-way always runs along the geometry.
"""

from __future__ import annotations

import re
from pathlib import Path

from shapely.geometry import LineString

from gis import validation as gb

# OSM highway -> our kind and a default speed (km/h) when the way has no maxspeed.
HIGHWAYS = {
    "motorway": ("arterial", 80), "trunk": ("arterial", 60), "primary": ("arterial", 60),
    "secondary": ("radial", 50), "tertiary": ("radial", 40), "motorway_link": ("arterial", 40),
    "trunk_link": ("arterial", 40), "primary_link": ("arterial", 40), "secondary_link": ("radial", 30),
    "tertiary_link": ("radial", 30), "unclassified": ("local", 30), "residential": ("local", 30),
    "living_street": ("local", 15), "service": ("local", 20), "road": ("local", 30),
}
ONEWAY_YES = {"yes", "true", "1"}
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph)?")


def speed_from(maxspeed: object, default: float) -> float:
    """km/h from an OSM-style maxspeed ('50', '30 mph', 'CN:urban'...); the default when unreadable."""
    if maxspeed is None:
        return float(default)
    if isinstance(maxspeed, int | float):
        return float(maxspeed) if maxspeed > 0 else float(default)
    m = _NUMBER.match(str(maxspeed))
    if not m:
        return float(default)
    value = float(m.group(1))
    return value * 1.609344 if m.group(2) else value


def read_osm(path: str | Path) -> list[gb.Feature]:
    """Road segments of an .osm or .osm.pbf file (ways tagged highway=... of the kinds in HIGHWAYS)."""
    import osmium

    ways: list[tuple[int, list[int], dict]] = []
    locations: dict[int, tuple[float, float]] = {}
    for way in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations():
        if not isinstance(way, osmium.osm.Way) or way.tags.get("highway") not in HIGHWAYS or len(way.nodes) < 2:
            continue
        refs: list[int] = []
        for n in way.nodes:
            if n.location.valid():
                locations[n.ref] = (n.location.lon, n.location.lat)
                refs.append(n.ref)
        ways.append((way.id, refs, dict(way.tags)))
    uses: dict[int, int] = {}
    for _, refs, _ in ways:
        for i, ref in enumerate(refs):
            uses[ref] = uses.get(ref, 0) + (2 if i in (0, len(refs) - 1) else 1)
    features: list[gb.Feature] = []
    for way_id, refs, tags in ways:
        oneway = str(tags.get("oneway", "")).lower()
        if oneway == "-1":
            refs = refs[::-1]
        kind, default_speed = HIGHWAYS[tags["highway"]]
        props = {
            "name": tags.get("name") or tags.get("name:zh") or tags.get("ref") or f"OSM {way_id}",
            "name_en": tags.get("name:en"), "kind": kind,
            "oneway": oneway in ONEWAY_YES or oneway == "-1" or tags.get("junction") == "roundabout",
            "speed_kph": round(speed_from(tags.get("maxspeed"), default_speed), 1),
            "osm_way": way_id,
        }
        start = 0
        for i in range(1, len(refs)):
            if i == len(refs) - 1 or uses.get(refs[i], 0) > 1:
                coords = [locations[r] for r in refs[start:i + 1]]
                if len(coords) > 2 or (len(coords) == 2 and coords[0] != coords[1]):
                    features.append(gb.Feature(f"w{way_id}.{len(features)}", LineString(coords), dict(props)))
                start = i
    return features


def read_roads_file(path: str | Path, crs: str | None = None) -> list[gb.Feature]:
    """Road features from .osm/.pbf (OSM tags) or any file the layer reader takes (GeoPackage...),
    with OSM-style columns (highway, maxspeed, oneway as 'yes'/'-1') normalised when present."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".osm", ".pbf", ".osm.bz2", ".osm.gz")):
        return read_osm(path)
    features = gb.read_layer("roads", path, crs) if name.endswith((".geojson", ".json")) else _read_table(path, crs)
    for f in features:
        normalise(f)
    return features


def _read_table(path: Path, crs: str | None) -> list[gb.Feature]:
    """A GeoPackage or Shapefile: roads with `name` (or OSM columns), lines or multilines exploded."""
    import pyogrio

    from gis.crs import STORAGE_EPSG, parse_crs, to_storage

    frame = pyogrio.read_dataframe(path)
    source = parse_crs(crs) if crs else frame.crs
    if source is None:
        raise gb.LayerError("roads", [f"{path.name} declares no CRS: give one with --crs EPSG:NNNN"])
    features = []
    for i, row in enumerate(frame.itertuples(index=False)):
        geom = row.geometry
        if geom is None or geom.is_empty:
            continue
        if source.to_epsg() != STORAGE_EPSG:
            geom = to_storage(geom, source)
        props = {k: _plain(v) for k, v in row._asdict().items() if k != "geometry"}
        parts = list(geom.geoms) if geom.geom_type == "MultiLineString" else [geom]
        for j, part in enumerate(parts):
            if part.geom_type != "LineString":
                raise gb.LayerError("roads", [f"feature {i}: a road must be a line, not {part.geom_type}"])
            features.append(gb.Feature(f"{i}.{j}", part, dict(props)))
    return features


def _plain(v: object) -> object:
    """numpy/pandas scalars to Python; NaN, NaT and NA to None."""
    try:
        import pandas as pd

        if v is None or (not isinstance(v, str | bytes) and pd.isna(v)):
            return None
    except (TypeError, ValueError):
        pass
    return v.item() if hasattr(v, "item") else v


def normalise(f: gb.Feature) -> None:
    """Fill name, kind, oneway and speed_kph from OSM-style columns where ours are missing."""
    p = f.props
    highway = p.get("highway")
    kind, default = HIGHWAYS.get(str(highway), (p.get("kind") or "local", 30))
    if not p.get("name"):
        p["name"] = p.get("ref") or (f"{highway} {f.fid}" if highway else f"road {f.fid}")
    p["kind"] = p.get("kind") or kind
    oneway = p.get("oneway")
    if isinstance(oneway, str):
        if oneway.strip() == "-1":
            f.geom = LineString(list(f.geom.coords)[::-1])
        p["oneway"] = oneway.strip().lower() in ONEWAY_YES or oneway.strip() == "-1"
    else:
        p["oneway"] = bool(oneway) if oneway is not None else False
    if p.get("speed_kph") in (None, ""):
        p["speed_kph"] = round(speed_from(p.get("maxspeed"), default), 1)
    else:
        p["speed_kph"] = float(p["speed_kph"])
