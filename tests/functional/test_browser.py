"""The map page in a real headless Chromium (Debian's package, driven by Playwright)."""

from __future__ import annotations

import pytest

from tests.browser import check_clean, open_page, sign_in, wait_data

pytestmark = pytest.mark.browser

ROLES = ["intake", "shift_leader", "dispatcher", "handler", "patrol", "supervisor", "planner", "admin", "leader"]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_signs_in_and_sees_the_map(browser, live_server, make_user, artifacts, role):
    username, password, _ = make_user(role)
    context, page = open_page(browser, live_server)
    landed = sign_in(page, live_server, username, password)
    assert landed == ("/field" if role in ("patrol", "handler") else "/")  # field staff land on the field app
    if landed == "/field":
        page.goto(f"{live_server}/")  # and may still open the consoles
    page.wait_for_selector(".leaflet-container")
    wait_data(page, "layer_communities", lambda v: v == "3", timeout=20)
    wait_data(page, "layer_stations", lambda v: int(v) == 17, timeout=20)
    assert page.locator(".leaflet-control-layers").is_visible()
    assert "单元网格" in page.locator(".leaflet-control-layers").inner_text()
    if role == "dispatcher":
        page.screenshot(path=str(artifacts / "map_zh.png"))
        page.goto(f"{live_server}/?lang=en")
        wait_data(page, "layer_communities", lambda v: v == "3", timeout=20)
        assert "Unit grid cells" in page.locator(".leaflet-control-layers").inner_text()
        page.screenshot(path=str(artifacts / "map_en.png"))
    check_clean(page)
    context.close()


def test_grid_layer_switches_on(browser, live_server, make_user, artifacts):
    username, password, _ = make_user("planner")
    context, page = open_page(browser, live_server)
    sign_in(page, live_server, username, password)
    wait_data(page, "layer_communities", lambda v: v == "3", timeout=20)
    page.locator(".leaflet-control-layers label", has_text="单元网格").locator("input").check()
    wait_data(page, "layer_grid_cells", lambda v: int(v) >= 5000, timeout=30)
    page.screenshot(path=str(artifacts / "map_grid.png"))
    check_clean(page)
    context.close()


def test_english_chosen_on_the_sign_in_page_stays_after_signing_in(browser, live_server, make_user):
    username, password, _ = make_user("dispatcher")
    context, page = open_page(browser, live_server)
    try:
        page.goto(f"{live_server}/login?lang=en")
        assert "Sign in" in page.content() or "sign in" in page.content().lower()
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server}/")
        page.wait_for_selector(".leaflet-container")
        assert page.locator("html").get_attribute("lang") == "en"
        assert "English" not in page.locator("header").inner_text()  # the switch offers 中文 now
    finally:
        context.close()
