"""Sensor messages: what is a reading and what is refused (and why), without a broker or a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.connectors import charts, outbox, sensors

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_a_reading_keeps_its_time_and_extra_fields():
    r = sensors.parse("sensors/WL-001/reading", b'{"value": 23.5, "at": "2026-12-01T15:59:00+08:00", "battery": 87}',
                      NOW)
    assert (r.sensor_id, r.value, r.at, r.data) == ("WL-001", 23.5, datetime(2026, 12, 1, 7, 59, tzinfo=UTC),
                                                   {"battery": 87})
    assert sensors.parse("sensors/WL-001/reading", b'{"value": 3}', NOW).at == NOW


@pytest.mark.parametrize(("topic", "payload", "reason"), [
    ("sensors/WL 1/reading", b'{"value": 1}', "topic"),
    ("sensors/WL-1/status", b'{"value": 1}', "topic"),
    ("sensors/WL-1/reading", b"not json", "not JSON"),
    ("sensors/WL-1/reading", b"\xff\xfe", "not JSON"),
    ("sensors/WL-1/reading", b"[1, 2]", "not a JSON object"),
    ("sensors/WL-1/reading", b'{"value": "high"}', "finite number"),
    ("sensors/WL-1/reading", b'{"value": true}', "finite number"),
    ("sensors/WL-1/reading", b'{"value": NaN}', "not JSON"),
    ("sensors/WL-1/reading", b'{"value": 1e999}', "finite number"),
    ("sensors/WL-1/reading", b'{"value": ' + b"9" * 400 + b"}", "finite number"),
    ("sensors/WL-1/reading", b'{"value": 1, "at": "yesterday"}', "ISO 8601"),
    ("sensors/WL-1/reading", b'{"value": 1, "at": "2026-12-02T08:00:00Z"}', "future"),
    ("sensors/WL-1/reading", b'{"value": 1, "note": "a\\u0000b"}', "NUL"),
    ("sensors/WL-1/reading", b'{"value": 1, "pad": "' + b"x" * 5000 + b'"}', "over 4096"),
])
def test_what_is_refused_and_why(topic, payload, reason):
    with pytest.raises(sensors.Malformed, match=reason):
        sensors.parse(topic, payload, NOW)


def test_the_signature_is_hmac_sha256_of_timestamp_and_body():
    import hashlib
    import hmac

    body = b'{"event_id": "e1"}'
    expected = hmac.new(b"secret-of-sixteen!", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert outbox.sign("secret-of-sixteen!", "1700000000", body) == f"sha256={expected}"


def test_the_chart_draws_every_reading_and_the_threshold():
    svg = charts.line_chart([1, 5, 20, 3], 15, "水位 <测试>")
    assert svg.count(",") == 4 and 'stroke-dasharray="4 3"' in svg and "&lt;测试&gt;" in svg
    assert charts.line_chart([], 15, "x") == ""
