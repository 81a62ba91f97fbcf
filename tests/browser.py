"""Helpers for the browser tests (the `browser` fixture is in tests/functional/conftest.py): a page that records
foreign requests and console errors, signing in, waiting for the pages' data attributes, moving the map."""

from __future__ import annotations

import time
from urllib.parse import urlparse


def open_page(browser, live_server, **options):
    """A page that records every foreign request and every console error (`options` for the browser context)."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 800}, "locale": "zh-CN", **options})
    page = context.new_page()
    page.foreign, page.errors = [], []
    own = urlparse(live_server).netloc
    page.on(
        "request",
        lambda r: urlparse(r.url).netloc != own and r.url.startswith("http") and page.foreign.append(r.url),
    )
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return context, page


def sign_in(page, live_server, username, password) -> str:
    """Sign in on the login page and wait for the map; the path landed on ("/", or "/field" for field staff)."""
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: url in (f"{live_server}/", f"{live_server}/field"))
    page.wait_for_selector(".leaflet-container", state="attached")  # the field app's map waits in its own tab
    return urlparse(page.url).path


def _attribute(key: str) -> str:
    """document.body.dataset[key] as an attribute name: casesLoaded -> data-cases-loaded."""
    return "data-" + "".join("-" + c.lower() if c.isupper() else c for c in key)


def wait_data(page, key: str, ok=lambda value: True, timeout: float = 20.0) -> str:
    """Wait until document.body.dataset[key] is set and `ok(value)`; return the value.

    Polled from Python: Playwright's wait_for_function evaluates strings, which the pages' content
    security policy (no 'unsafe-eval') rightly refuses.
    """
    deadline = time.monotonic() + timeout
    name = _attribute(key)
    while True:
        value = page.get_attribute("body", name)
        if value is not None and ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"body {name} is {value!r} after {timeout} s")
        page.wait_for_timeout(100)


def check_clean(page) -> None:
    """No request left the app's host and no JavaScript error was logged."""
    assert page.foreign == [], f"requests left the app's host: {page.foreign}"
    assert page.errors == [], f"JavaScript errors: {page.errors}"


def centre_on(page, lat: float, lon: float, zoom: int = 17) -> None:
    """Move the console's map (nhMap) to a point."""
    page.evaluate(f"nhMap.setView([{lat}, {lon}], {zoom}) && null")


def pixel(page, lat: float, lon: float) -> tuple[float, float]:
    """Where a point of the console's map is on the page."""
    box = page.locator(".folium-map").bounding_box()
    x, y = page.evaluate(f"(() => {{ const p = nhMap.latLngToContainerPoint([{lat}, {lon}]); return [p.x, p.y]; }})()")
    return box["x"] + x, box["y"] + y
