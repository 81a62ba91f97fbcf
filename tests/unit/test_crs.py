"""Consumer-map coordinates (GCJ-02, BD-09) and the to_wgs84 / from_wgs84 entry points."""

from __future__ import annotations

import numpy as np
import pytest
from pyproj import Geod

from gis import crs

GEOD = Geod(ellps="WGS84")
DISHUI_LAKE = (121.93, 30.90)

# (WGS84 lon, lat) -> (GCJ-02 lon, lat)
WGS84_TO_GCJ02 = [
    # googollee/eviltransform, python/test.py and go/transform_test.go ("shanghai", "shenzhen", "beijing")
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
    # wandergis/coordtransform, README.md example output of wgs84togcj02(116.404, 39.915)
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164)),
    # hujiulong/gcoord, test/unit/crs/WGS84.spec.ts ("WGS84 to GCJ02", published to 8 decimals)
    ((123.0, 45.0), (123.00607541, 45.00197815)),
    # Dishui Lake: no published pair found; this is the value of the standard formula, computed once
    # with an independent plain-math (non-numpy) evaluation of it, so it guards against regressions only.
    (DISHUI_LAKE, (121.93408970920255, 30.897636017971276)),
]

# (GCJ-02 lon, lat) -> (BD-09 lon, lat)
GCJ02_TO_BD09 = [
    # wandergis/coordtransform, README.md example output of gcj02tobd09(116.404, 39.915)
    ((116.404, 39.915), (116.41036949371029, 39.92133699351021)),
    # hujiulong/gcoord, test/unit/crs/GCJ02.spec.ts ("GCJ02 to BD09", published to 8 decimals)
    ((123.0, 45.0), (123.00636499, 45.00636899)),
    # Dishui Lake (GCJ-02 image of DISHUI_LAKE above): no published pair; standard formula value,
    # computed as above.
    ((121.93408970920255, 30.897636017971276), (121.94052351032929, 30.903907315773555)),
]

OUTSIDE_CHINA = [(2.3522, 48.8566), (-74.006, 40.7128), (151.2093, -33.8688), (121.0, 60.0)]


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance(s) on WGS84 in metres."""
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@pytest.fixture(scope="module")
def shanghai() -> tuple[np.ndarray, np.ndarray]:
    """200 random WGS84 points over Shanghai, fixed seed."""
    rng = np.random.default_rng(20240611)
    return rng.uniform(120.8, 122.2, 200), rng.uniform(30.6, 31.9, 200)


@pytest.mark.parametrize(("wgs", "gcj"), WGS84_TO_GCJ02)
def test_wgs84_to_gcj02_matches_published_pairs(wgs, gcj):
    assert crs.wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-6)


@pytest.mark.parametrize(("wgs", "gcj"), WGS84_TO_GCJ02)
def test_gcj02_to_wgs84_inverts_published_pairs(wgs, gcj):
    assert metres(*crs.gcj02_to_wgs84(*gcj), *wgs) < 0.01


@pytest.mark.parametrize(("gcj", "bd"), GCJ02_TO_BD09)
def test_gcj02_to_bd09_matches_published_pairs(gcj, bd):
    assert crs.gcj02_to_bd09(*gcj) == pytest.approx(bd, abs=1e-6)


@pytest.mark.parametrize(("gcj", "bd"), GCJ02_TO_BD09)
def test_bd09_to_gcj02_inverts_published_pairs(gcj, bd):
    assert metres(*crs.bd09_to_gcj02(*bd), *gcj) < 0.01


def test_gcj02_offset_at_dishui_lake_is_a_few_hundred_metres():
    offset = metres(*DISHUI_LAKE, *crs.wgs84_to_gcj02(*DISHUI_LAKE))
    assert 100 < offset < 1000


def test_bd09_is_further_offset_than_gcj02_at_dishui_lake():
    gcj = metres(*DISHUI_LAKE, *crs.wgs84_to_gcj02(*DISHUI_LAKE))
    bd = metres(*DISHUI_LAKE, *crs.wgs84_to_bd09(*DISHUI_LAKE))
    assert bd > gcj


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [(crs.wgs84_to_gcj02, crs.gcj02_to_wgs84), (crs.wgs84_to_bd09, crs.bd09_to_wgs84)],
)
def test_round_trip_over_shanghai_vectorised(shanghai, forward, inverse):
    lon, lat = shanghai
    back_lon, back_lat = inverse(*forward(lon, lat))
    assert isinstance(back_lon, np.ndarray) and back_lon.shape == lon.shape
    assert metres(lon, lat, back_lon, back_lat).max() < 0.01


@pytest.mark.parametrize(
    ("forward", "inverse"),
    [(crs.wgs84_to_gcj02, crs.gcj02_to_wgs84), (crs.wgs84_to_bd09, crs.bd09_to_wgs84)],
)
def test_round_trip_over_shanghai_scalar_agrees_with_vectorised(shanghai, forward, inverse):
    lon, lat = shanghai
    vec_lon, vec_lat = inverse(*forward(lon, lat))
    for i in range(0, lon.size, 10):
        back = inverse(*forward(float(lon[i]), float(lat[i])))
        assert all(isinstance(v, float) for v in back)
        assert metres(lon[i], lat[i], *back) < 0.01
        # both stop within the 1e-9 degree tolerance, the array after the slowest point converges
        assert back == pytest.approx((vec_lon[i], vec_lat[i]), abs=2e-9)


def test_inverse_meets_its_tolerance_over_shanghai(shanghai):
    gcj_lon, gcj_lat = shanghai  # read as GCJ-02 this time
    lon, lat = crs.gcj02_to_wgs84(gcj_lon, gcj_lat)
    again_lon, again_lat = crs.wgs84_to_gcj02(lon, lat)
    assert np.abs(again_lon - gcj_lon).max() < 1e-9
    assert np.abs(again_lat - gcj_lat).max() < 1e-9


@pytest.mark.parametrize(
    "convert",
    [
        crs.wgs84_to_gcj02,
        crs.gcj02_to_wgs84,
        crs.gcj02_to_bd09,
        crs.bd09_to_gcj02,
        crs.wgs84_to_bd09,
        crs.bd09_to_wgs84,
    ],
)
def test_points_outside_china_are_unchanged(convert):
    for point in OUTSIDE_CHINA:
        assert convert(*point) == point
    lon, lat = (np.array(v) for v in zip(*OUTSIDE_CHINA, strict=True))
    out_lon, out_lat = convert(lon, lat)
    np.testing.assert_array_equal(out_lon, lon)
    np.testing.assert_array_equal(out_lat, lat)


def test_mixed_array_converts_only_the_points_in_china():
    lon, lat = np.array([DISHUI_LAKE[0], 2.3522]), np.array([DISHUI_LAKE[1], 48.8566])
    out_lon, out_lat = crs.wgs84_to_gcj02(lon, lat)
    assert (out_lon[0], out_lat[0]) == pytest.approx(WGS84_TO_GCJ02[-1][1], abs=1e-12)
    assert (out_lon[1], out_lat[1]) == (2.3522, 48.8566)


@pytest.mark.parametrize("name", ["wgs84", "WGS84", "epsg:4326", "EPSG:4326", " Wgs84 "])
def test_to_wgs84_from_wgs84_is_identity(name):
    assert crs.to_wgs84(*DISHUI_LAKE, name) == DISHUI_LAKE


@pytest.mark.parametrize("name", ["cgcs2000", "CGCS2000", "epsg:4490", "EPSG:4490"])
def test_to_wgs84_from_cgcs2000_moves_by_centimetres_at_most(name):
    lon, lat = crs.to_wgs84(*DISHUI_LAKE, name)
    assert isinstance(lon, float)
    assert metres(*DISHUI_LAKE, lon, lat) < 0.1


@pytest.mark.parametrize("name", ["gcj02", "GCJ02"])
def test_to_wgs84_from_gcj02(name):
    wgs, gcj = WGS84_TO_GCJ02[-1]
    assert metres(*crs.to_wgs84(*gcj, name), *wgs) < 0.01


@pytest.mark.parametrize("name", ["bd09", "BD09"])
def test_to_wgs84_from_bd09(name):
    bd = crs.wgs84_to_bd09(*DISHUI_LAKE)
    assert metres(*crs.to_wgs84(*bd, name), *DISHUI_LAKE) < 0.01


@pytest.mark.parametrize("name", crs.INPUT_CRS)
def test_from_wgs84_then_to_wgs84_round_trips_arrays(shanghai, name):
    lon, lat = shanghai
    back_lon, back_lat = crs.to_wgs84(*crs.from_wgs84(lon, lat, name), name)
    assert metres(lon, lat, back_lon, back_lat).max() < 0.01


def test_from_wgs84_to_gcj02_gives_amap_coordinates():
    assert crs.from_wgs84(*DISHUI_LAKE, "gcj02") == crs.wgs84_to_gcj02(*DISHUI_LAKE)


def test_input_crs_lists_the_accepted_names():
    assert crs.INPUT_CRS == ("wgs84", "cgcs2000", "gcj02", "bd09")


@pytest.mark.parametrize("convert", [crs.to_wgs84, crs.from_wgs84])
def test_unknown_crs_name_is_refused_with_the_accepted_names(convert):
    with pytest.raises(crs.UnknownCRS) as err:
        convert(*DISHUI_LAKE, "mars")
    message = str(err.value)
    assert "'mars'" in message
    assert all(name in message for name in crs.INPUT_CRS)
