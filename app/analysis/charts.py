"""Charts and maps drawn on the server with matplotlib (Agg, no pyplot state: safe in threads), as PNG data: URIs
for the bulletin and the meeting packs. Text in the installed CJK font."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager
from matplotlib.collections import PolyCollection
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

FONTS = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans"]
PALETTE = ["#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"]
BLUE, GREY = "#2b6cb0", "#c8c8c8"


def _font() -> list[str]:
    found = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in FONTS if f in found] or ["sans-serif"]


def _figure(width: float, height: float) -> Figure:
    matplotlib.rcParams["font.family"] = _font()
    matplotlib.rcParams["axes.unicode_minus"] = False
    return Figure(figsize=(width, height), dpi=150)


def _uri(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def bars(labels: Sequence[str], values: Sequence[float | None], title: str, unit: str = "",
         marks: Sequence[float] = ()) -> str:
    """Horizontal bars (best on top) with their values; `marks`: vertical lines (grade bounds)."""
    fig = _figure(7.0, max(1.6, 0.32 * len(labels) + 0.8))
    ax = fig.add_subplot()
    shown = [0.0 if v is None else float(v) for v in values]
    y = range(len(labels))[::-1]
    ax.barh(list(y), shown, color=[BLUE if v is not None else GREY for v in values], height=0.65)
    for yi, v in zip(y, values, strict=True):
        ax.text((v or 0) + 0.5, yi, "–" if v is None else f"{v:.1f}{unit}", va="center", fontsize=7)
    for m in marks:
        ax.axvline(m, color="#999", lw=0.6, ls="--")
    ax.set_yticks(list(y), list(labels), fontsize=7)
    ax.set_ylim(-0.7, max(len(labels), 4) - 0.3)  # one or two bars stay bars, not blocks
    ax.set_title(title, fontsize=9)
    ax.set_xlim(0, max([100.0, *shown]) * 1.08)
    ax.spines[["top", "right"]].set_visible(False)
    return _uri(fig)


def trend(labels: Sequence[str], values: Sequence[int], title: str, previous: Sequence[int] = (),
          legend: tuple[str, str] = ("", "")) -> str:
    """Cases per day of the month (bars), the month before as a line where given."""
    fig = _figure(7.0, 2.2)
    ax = fig.add_subplot()
    x = list(range(len(values)))
    ax.bar(x, values, color=BLUE, width=0.8, label=legend[0] or None)
    if previous:
        ax.plot(list(range(len(previous))), previous, color="#e67e22", lw=1.2, label=legend[1] or None)
    step = max(1, len(labels) // 10)
    ax.set_xticks(x[::step], [labels[i] for i in x[::step]], fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(title, fontsize=9)
    if legend[0]:
        ax.legend(fontsize=7, frameon=False, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncols=2)
    ax.spines[["top", "right"]].set_visible(False)
    return _uri(fig)


def classes(counts: Sequence[int], k: int = len(PALETTE)) -> list[int]:
    """Upper bounds of up to k classes by quantiles of the non-zero counts."""
    values = sorted(c for c in counts if c > 0)
    if not values:
        return [1]
    tops: list[int] = []
    for i in range(1, k + 1):
        v = values[min(len(values) - 1, -(-i * len(values) // k) - 1)]
        if v not in tops:
            tops.append(v)
    return tops


def _class(n: int, tops: Sequence[int]) -> int:
    return next((i for i, t in enumerate(tops) if n <= t), len(tops) - 1)


def grid_map(polygons: Sequence, counts: Sequence[int], title: str, legend_title: str, none_label: str,
             hot: Sequence[bool] = (), hot_label: str = "", outline: object = None) -> str:
    """Grid cells coloured by their count in classes (zero: outline only), hot spots edged in black."""
    fig = _figure(7.0, 6.2)
    ax = fig.add_subplot()
    rings = [list(p.exterior.coords) for p in polygons]
    tops = classes(counts)
    colours = PALETTE[-len(tops):] if len(tops) < len(PALETTE) else PALETTE
    cmap = ListedColormap(colours)
    norm = BoundaryNorm([0.5, *[t + 0.5 for t in tops]], len(tops))
    empty = [r for r, c in zip(rings, counts, strict=True) if c <= 0]
    full = [(r, c) for r, c in zip(rings, counts, strict=True) if c > 0]
    ax.add_collection(PolyCollection(empty, facecolor="#f4f4f4", edgecolor="#d0d0d0", linewidth=0.15))
    if full:
        filled = PolyCollection([r for r, _ in full], array=[c for _, c in full], cmap=cmap, norm=norm,
                                edgecolor="#5a1a00", linewidth=0.2)
        ax.add_collection(filled)
        # a one-hectare cell is a speck on a page of the whole town: a dot of its class's colour marks it
        marked = [(p.centroid, c) for p, c in zip(polygons, counts, strict=True) if c > 0]
        ax.scatter([m.x for m, _ in marked], [m.y for m, _ in marked], c=[c for _, c in marked], cmap=cmap, norm=norm,
                   s=[14 + 10 * _class(c, tops) for _, c in marked], edgecolors="#5a1a00", linewidths=0.4, zorder=3)
    if hot:
        ax.add_collection(PolyCollection([r for r, h in zip(rings, hot, strict=True) if h], facecolor="#2b6cb022",
                                         edgecolor="#1a3f73", linewidth=0.5))
    if outline is not None:
        for ring in getattr(outline, "geoms", [outline]):
            xs, ys = ring.exterior.xy
            ax.plot(xs, ys, color="#333", lw=0.6)
    ax.autoscale_view()
    ax.set_aspect(1 / 0.857)  # about 1/cos(31°): degrees of longitude are shorter there
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    lo, handles = 1, []
    for t, colour in zip(tops, colours, strict=True):
        handles.append(Patch(facecolor=colour, edgecolor="#5a1a00", label=str(t) if lo == t else f"{lo}–{t}"))
        lo = t + 1
    handles.append(Patch(facecolor="#f4f4f4", edgecolor="#d0d0d0", label=none_label))
    if hot_label:
        handles.append(Patch(facecolor="none", edgecolor="black", label=hot_label))
    ax.legend(handles=handles, title=legend_title, fontsize=7, title_fontsize=7, loc="upper left",
              bbox_to_anchor=(1.0, 1.0), frameon=True)
    return _uri(fig)
