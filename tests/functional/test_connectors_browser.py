"""The connectors in headless Chromium: the dispatcher's case panel links the camera of a video report and shows
it and its view on the map, the camera layer draws, and the sensor page shows a chart per sensor in Chinese."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Polygon
from sqlalchemy import insert

from app.connectors import cameras, sensors
from app.connectors.models import Sensor, SensorReading
from gis.crs import STORAGE_EPSG
from tests import factories
from tests.browser import centre_on, check_clean, open_page, sign_in, wait_data

pytestmark = pytest.mark.browser


def test_case_panel_shows_the_camera_and_the_sensor_page_draws_charts(browser, live_server, make_user, spots, app,
                                                                      artifacts):
    p = spots()
    camera_id = f"CAM-B{uuid.uuid4().hex[:5]}"
    view = Polygon([(p.x, p.y), (p.x + 0.0008, p.y + 0.0004), (p.x + 0.0004, p.y + 0.0008)])
    with app.extensions["db"].transaction() as s:
        row = cameras.CameraRow(camera_id, "滴水湖环路测试摄像机", p.x, p.y, 45.0, None, "online", view)
        cameras.load(s, [row], "test")
    centre = view.centroid
    case_id = factories.report(app, centre, channel="video", reference=camera_id, category="06010",
                               description="视频发现暴露垃圾").report.case_id
    username, password, _ = make_user("dispatcher")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    centre_on(page, centre.y, centre.x)
    wait_data(page, "casesDrawn", lambda v: int(v) >= 1, timeout=20)
    page.evaluate("id => window.nhConsole.openCase(id)", case_id)
    link = page.locator(f".case[data-case='{case_id}'] a.camera-link[data-camera='{camera_id}']")
    link.wait_for(timeout=20_000)
    assert "在地图上显示摄像机" in link.inner_text()
    link.click()
    tip = page.locator(".leaflet-tooltip", has_text=camera_id)
    tip.wait_for(timeout=20_000)
    assert "滴水湖环路测试摄像机" in tip.inner_text() and "在线" in tip.inner_text()
    page.locator(".leaflet-control-layers label", has_text="视频监控").locator("input").check()
    wait_data(page, "layer_cameras", lambda v: int(v) >= 1, timeout=20)
    page.screenshot(path=str(artifacts / "console_camera.png"))
    check_clean(page)

    sensor_id = f"WL-B{uuid.uuid4().hex[:5]}"
    q = spots()
    now = datetime.now(UTC)
    with app.extensions["db"].transaction() as s:
        sensors.add_sensor(s, sensor_id, "water_level", "临港大道积水测试点", q.x, q.y)
        values = [2, 3, 5, 9, 14, 18, 12, 7, 4, 3]
        s.execute(insert(SensorReading), [{"sensor_id": sensor_id, "at": now - timedelta(minutes=10 * (10 - i)),
                                           "received_at": now, "value": v} for i, v in enumerate(values)])
        sensor = s.get(Sensor, sensor_id)
        sensor.last_value, sensor.last_at = 3, now - timedelta(minutes=10)
        sensor.geom = from_shape(q, srid=STORAGE_EPSG)
    page.goto(f"{live_server}/sensors")
    card = page.locator(f"section[data-sensor='{sensor_id}']")
    card.wait_for(timeout=20_000)
    text = card.inner_text()
    assert "临港大道积水测试点" in text and "积水水位" in text and "阈值 15 cm" in text and "最新读数" in text
    assert card.locator("svg.sensor-chart polyline").count() == 1
    card.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "sensors_page.png"), full_page=False)
    check_clean(page)
    context.close()
