"""Browser fixtures: Debian's chromium driven by Playwright, recording foreign requests and console errors."""

from __future__ import annotations

import shutil
from urllib.parse import urlparse

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield b
        b.close()


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


def sign_in(page, live_server, username, password):
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    page.wait_for_selector(".leaflet-container")


def _attribute(key: str) -> str:
    """document.body.dataset[key] as an attribute name: casesLoaded -> data-cases-loaded."""
    return "data-" + "".join("-" + c.lower() if c.isupper() else c for c in key)


def wait_data(page, key: str, ok=lambda value: True, timeout: float = 20.0) -> str:
    """Wait until document.body.dataset[key] is set and `ok(value)`; return the value.

    Polled from Python: Playwright's wait_for_function evaluates strings, which the pages' content
    security policy (no 'unsafe-eval') rightly refuses.
    """
    import time

    deadline = time.monotonic() + timeout
    name = _attribute(key)
    while True:
        value = page.get_attribute("body", name)
        if value is not None and ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"body {name} is {value!r} after {timeout} s")
        page.wait_for_timeout(100)
