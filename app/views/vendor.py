"""Browser assets installed from the npm registry (package.json), served by the app itself."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, abort, send_from_directory

ROOT = Path(__file__).resolve().parents[2]
bp = Blueprint("vendor", __name__)


@lru_cache(maxsize=1)
def allowed_packages() -> frozenset[str]:
    """Only the packages package.json names (not their whole dependency tree) are served."""
    manifest = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))
    return frozenset(manifest.get("dependencies", {}))


@bp.get("/vendor/<path:path>")
def asset(path: str):
    """Serve node_modules/<package>/<file> for an allowed package."""
    parts = path.split("/")
    package = "/".join(parts[:2]) if parts[0].startswith("@") else parts[0]
    if package not in allowed_packages():
        abort(404)
    return send_from_directory(ROOT / "node_modules", path, max_age=86400)


def vendor_url(path: str) -> str:
    """The URL of an asset under /vendor/ (for folium's asset lists)."""
    return f"/vendor/{path}"
