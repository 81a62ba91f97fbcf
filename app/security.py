"""Response headers that make the pages hard to abuse: a content security policy the map pages satisfy
without `unsafe-eval` (inline scripts carry a per-request nonce), no framing, no sniffing, HSTS over HTTPS."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlparse

from flask import g, request
from markupsafe import Markup

_SCRIPT_TAG = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*\bnonce=)", re.IGNORECASE)


def nonce() -> str:
    """This request's nonce for inline scripts."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(18)
    return g.csp_nonce


def with_nonce(html: str) -> Markup:
    """Add this request's nonce to the inline <script> tags of generated HTML (folium's header)."""
    return Markup(_SCRIPT_TAG.sub(f'<script nonce="{nonce()}"', html))


def init_app(app) -> None:
    """Install the headers on every response and the nonce helpers in templates."""
    tiles = urlparse(app.config.get("BASEMAP_URL") or "")
    tile_host = f" {tiles.scheme}://{tiles.netloc.replace('{s}', '*')}" if tiles.netloc else ""

    @app.context_processor
    def _nonce():
        return {"csp_nonce": nonce, "with_nonce": with_nonce}

    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(self), microphone=()")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", "; ".join((
                "default-src 'self'",
                f"script-src 'self' 'nonce-{nonce()}'",
                "style-src 'self' 'unsafe-inline'",  # Leaflet positions everything with inline styles
                f"img-src 'self' data: blob:{tile_host}",
                "connect-src 'self'",
                "font-src 'self' data:",
                "object-src 'none'",
                "base-uri 'self'",
                "form-action 'self'",
                "frame-ancestors 'none'",
            )))
        return response
