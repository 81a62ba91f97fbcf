"""QGIS itself (Debian's qgis 3.22, headless) as the client of OGC API - Features: Basic authentication
with an API token, the whole grid, the caller's cases, a map extent and an attribute filter.

QGIS 3.22's OAPIF provider filters on the client: it pages through the whole collection (100 a page)
and applies the extent and the subset string itself; server-side filters (queryables, CQL2) came with
QGIS 3.28 and 3.32. The tests show what QGIS 3.22 gets is exactly what PostGIS holds."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from app.cases.models import Case
from app.territory.models import GridCell

SCRIPT = Path(__file__).resolve().parents[1] / "clients" / "qgis_oapif.py"


def qgis(url: str, user: str, token: str, layer: str, subset: str = "", rect: str = "") -> dict:
    runtime = tempfile.mkdtemp(prefix="qgis-runtime-")  # Qt wants it private (0700)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=runtime)
    args = [subset, rect] if rect else [subset]
    done = subprocess.run(["/usr/bin/python3", str(SCRIPT), url, user, token, layer, *args],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_qgis_loads_the_grid_and_the_cases_with_basic_auth(live_server, make_user, session):
    name, _, token = make_user("dispatcher")
    grid = qgis(f"{live_server}/ogc", name, token, "grid_cells")
    current = session.scalars(select(GridCell.code).where(GridCell.version_high.is_(None))).all()
    assert grid["valid"], grid
    assert grid["count"] == len(current) and grid["codes"] == sorted(current) and grid["crs"] == "EPSG:4326"
    cases = qgis(f"{live_server}/ogc", name, token, "cases")
    assert cases["valid"] and cases["count"] == session.scalar(select(func.count()).select_from(Case))


def test_qgis_gets_an_extent_and_an_attribute_filter_right(live_server, make_user, session):
    name, _, token = make_user("dispatcher")
    box = (121.90, 30.88, 121.92, 30.90)
    current = [GridCell.version_high.is_(None)]
    in_box = session.scalars(select(GridCell.code).where(
        *current, GridCell.geom.intersects(func.ST_MakeEnvelope(*box, 4326)))).all()
    panned = qgis(f"{live_server}/ogc", name, token, "grid_cells", "", ",".join(map(str, box)))
    # QGIS keeps what touches the extent's envelope: every cell PostGIS finds is there
    assert panned["valid"] and set(in_box) <= set(panned["codes"]) and in_box
    community = session.scalar(select(GridCell.community_code).where(*current).limit(1))
    one_community = session.scalars(select(GridCell.code).where(*current, GridCell.community_code == community)).all()
    filtered = qgis(f"{live_server}/ogc", name, token, "grid_cells", f"\"community_code\" = '{community}'")
    assert filtered["subset_accepted"] and filtered["codes"] == sorted(one_community)
