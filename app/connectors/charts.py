"""A sensor's recent readings as an inline SVG line chart with its threshold (no scripts, no CDN)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 320.0, 90.0, 6.0


def line_chart(values: Sequence[float], threshold: float, label: str) -> str:
    """SVG markup: the readings as a polyline, the threshold as a dashed red line, the last point marked."""
    if not values:
        return ""
    low, high = min(*values, threshold), max(*values, threshold)
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)

    def y(v: float) -> float:
        return round(HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD), 1)

    points = " ".join(f"{round(PAD + i * step, 1)},{y(v)}" for i, v in enumerate(values))
    last_x, last_y = round(PAD + (len(values) - 1) * step, 1), y(values[-1])
    over = values[-1] >= threshold
    return (
        f'<svg class="sensor-chart" viewBox="0 0 {WIDTH:g} {HEIGHT:g}" width="{WIDTH:g}" height="{HEIGHT:g}" '
        f'role="img" aria-label="{escape(label)}">'
        f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(threshold)}" y2="{y(threshold)}" stroke="#c62828" '
        f'stroke-dasharray="4 3" stroke-width="1"/>'
        f'<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="{points}"/>'
        f'<circle cx="{last_x}" cy="{last_y}" r="3" fill="{"#c62828" if over else "#1565c0"}"/>'
        f'<text x="{PAD}" y="12" font-size="10" fill="#555">{high:g}</text>'
        f'<text x="{PAD}" y="{HEIGHT - 1:g}" font-size="10" fill="#555">{low:g}</text>'
        "</svg>"
    )
