"""Small inline SVG charts: no script, no external asset, nothing but numbers inside.

The charts are drawn from counts and times only, never from a district's text,
so they need no escaping; presentation attributes (not style) keep them within
the pages' Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

from roster_pipeline.web.models import Point

_RED, _BLUE, _GREY = "#c0392b", "#4a6fa5", "#d6dae1"


def _rate(p: Point) -> float:
    rows, rejects = p
    return rejects / rows if rows else (1.0 if rejects else 0.0)


def reject_rate_chart(points: Sequence[Point], width: int = 120, height: int = 24) -> Markup:
    """One bar per batch: the share of its rows rejected (full height: all of them)."""
    if not points:
        return Markup(f'<svg class="spark" width="{width}" height="{height}" role="img"'
                      ' aria-label="no batches"></svg>')  # fmt: skip
    step = width / max(len(points), 1)
    bars = []
    for i, p in enumerate(points):
        h = max(1.0, _rate(p) * height)
        colour = _RED if p[1] else _GREY
        bars.append(f'<rect x="{i * step:.1f}" y="{height - h:.1f}" width="{max(step - 1, 1):.1f}"'
                    f' height="{h:.1f}" fill="{colour}"/>')  # fmt: skip
    worst = max(_rate(p) for p in points)
    label = f"reject rate of the last {len(points)} batches, worst {worst:.1%}"
    return Markup(f'<svg class="spark" width="{width}" height="{height}" role="img"'
                  f' aria-label="{label}">{"".join(bars)}</svg>')  # fmt: skip


def history_chart(points: Sequence[Point], width: int = 720, height: int = 120) -> Markup:
    """Rows received (blue) and rows rejected (red) per batch, oldest on the left."""
    if not points:
        return Markup("")
    top = max(max(p) for p in points) or 1
    step = width / len(points)
    parts = []
    for i, p in enumerate(points):
        x = i * step
        for value, colour, shift in ((p[0], _BLUE, 0.0), (p[1], _RED, step / 2)):
            h = value / top * (height - 14)
            bar = max(step / 2 - 1, 1)
            parts.append(f'<rect x="{x + shift:.1f}" y="{height - h:.1f}"'
                         f' width="{bar:.1f}" height="{h:.1f}" fill="{colour}"/>')  # fmt: skip
    label = f"rows (blue) and rejects (red) of the last {len(points)} batches; top {top:,} rows"
    return Markup(f'<svg class="chart" width="{width}" height="{height}" role="img"'
                  f' aria-label="{label}"><text x="2" y="11" font-size="11">{top:,}</text>'
                  f'{"".join(parts)}</svg>')  # fmt: skip
