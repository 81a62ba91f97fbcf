"""The Prometheus text format of app.interop.metrics and which database errors answer 503."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from app.errorhandlers import unavailable
from app.interop.metrics import Metric, render


def test_render_escapes_labels_and_writes_integers_plainly():
    text = render([
        Metric("nanhui_cases_open", "gauge", "Open cases\nby light.",
               [({"light": "red"}, 3), ({"light": 'a"b\\'}, 0.5)]),
        Metric("nanhui_reports_total", "counter", "Reports.", [({}, 12)]),
    ])
    assert text.splitlines() == [
        "# HELP nanhui_cases_open Open cases\\nby light.",
        "# TYPE nanhui_cases_open gauge",
        'nanhui_cases_open{light="red"} 3',
        'nanhui_cases_open{light="a\\"b\\\\"} 0.5',
        "# HELP nanhui_reports_total Reports.",
        "# TYPE nanhui_reports_total counter",
        "nanhui_reports_total 12",
    ]


def test_only_errors_a_retry_can_cure_are_unavailable():
    assert unavailable(OperationalError("SELECT 1", {}, Exception("connection refused")))
    closed = Exception("server closed the connection unexpectedly")
    assert unavailable(DBAPIError("SELECT 1", {}, closed, connection_invalidated=True))
    assert not unavailable(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not unavailable(DBAPIError("SELECT 1", {}, Exception("syntax error")))
