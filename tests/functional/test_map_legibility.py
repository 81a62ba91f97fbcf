"""The dispatcher's map reads without tiles and without the mouse: road and place names from our own data at
street zoom (none at town zoom), a layer switch that folds away (folded from the start on a phone), a legend
for each colouring, and a skip link as the first Tab stop."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.territory.models import Address, Road
from tests.browser import centre_on, check_clean, open_page, sign_in, wait_data

pytestmark = pytest.mark.browser


def _longest_road(app) -> tuple[str, float, float]:
    """A named road's longest segment: its name and its middle (lat, lon)."""
    with app.extensions["db"].transaction() as s:
        name, lat, lon = s.execute(
            select(Road.name, func.ST_Y(func.ST_LineInterpolatePoint(Road.geom, 0.5)),
                   func.ST_X(func.ST_LineInterpolatePoint(Road.geom, 0.5)))
            .where(Road.name.is_not(None)).order_by(func.ST_Length(Road.geom).desc()).limit(1)).one()
    return name, lat, lon


def test_names_layers_legend_and_skip_link_on_the_dispatchers_map(browser, app, live_server, make_user, artifacts):
    username, password, _ = make_user("dispatcher")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    wait_data(page, "layer_roads", timeout=30)
    wait_data(page, "mapLabels")
    centre_on(page, 30.90, 121.93, 12)
    wait_data(page, "mapLabels", lambda v: v == "0")  # the whole town: no names over the map

    name, lat, lon = _longest_road(app)
    centre_on(page, lat, lon, 17)
    wait_data(page, "mapLabels", lambda v: int(v) > 0)
    roads = page.locator(".nh-label-road").all_inner_texts()
    assert name in roads and len(roads) == len(set(roads))  # each road named once in the view
    page.screenshot(path=str(artifacts / "map_road_labels.png"))
    with app.extensions["db"].transaction() as s:
        place, plat, plon = s.execute(select(Address.name, func.ST_Y(Address.geom), func.ST_X(Address.geom))
                                      .where(Address.kind == "place", Address.name.is_not(None)).limit(1)).one()
    centre_on(page, plat, plon, 15)
    wait_data(page, "mapLabels", lambda v: place in page.locator(".nh-label-place").all_inner_texts(), timeout=10)
    page.screenshot(path=str(artifacts / "map_labels.png"))

    switch = [n.strip() for n in page.locator(".leaflet-control-layers-overlays label").all_inner_texts()]
    legend_rows = [n.strip() for n in page.locator(".map-legend div").all_inner_texts()]
    assert legend_rows == switch and "视频监控" in legend_rows  # a legend line for every layer, in the same order
    fold = page.locator(".leaflet-control-layers .nh-fold")
    assert fold.inner_text() == "图层 ▴" and page.locator(".leaflet-control-layers-list").is_visible()
    fold.click()
    assert page.get_attribute("body", "data-layers-folded") == "1"
    assert not page.locator(".leaflet-control-layers-list").is_visible() and fold.inner_text() == "图层 ▾"
    fold.click()
    assert page.locator(".leaflet-control-layers-list").is_visible()

    assert page.get_attribute("body", "data-legend") == "light"
    page.select_option("#filters select[name=colour_by]", "state")
    page.click("#filters button[type=submit]")
    wait_data(page, "legend", lambda v: v == "state")
    legend = page.locator("#case-legend").inner_text()
    assert "状态" in legend
    assert "已派遣" in legend and "已结案" in legend and "绿灯" not in legend

    page.goto(f"{live_server}/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className + '|' + document.activeElement.textContent")
    assert focused == "skip-link|跳到主要内容"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    check_clean(page)
    context.close()


def test_the_layer_switch_starts_folded_on_a_phone(browser, live_server, make_user):
    username, password, _ = make_user("supervisor")
    context, page = open_page(browser, live_server, viewport={"width": 390, "height": 844}, is_mobile=True,
                              has_touch=True)
    sign_in(page, live_server, username, password)
    page.goto(f"{live_server}/")
    wait_data(page, "layersFolded", lambda v: v == "1", timeout=30)
    assert not page.locator(".leaflet-control-layers-list").is_visible()
    assert page.evaluate("document.querySelector('details.map-legend').open") is False  # the map stays visible
    check_clean(page)
    context.close()
