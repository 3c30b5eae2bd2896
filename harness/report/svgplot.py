"""A line chart of one figure over runs as inline SVG: self-contained (no script, no image file), readable
in any browser and in an archived page; the newest run is marked, a failing run's point is red."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from harness.report.html import format_value

WIDTH, HEIGHT = 520, 190
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 28, 46


def line_chart(title: str, unit: str, labels: Sequence[str], values: Sequence[float | None],
               bad: Sequence[bool] = ()) -> str:
    """An <svg> plotting values (None: the run has no figure) against the runs named by labels."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    head = (f'<svg class="dw-trend-plot" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
            f'<text x="{_LEFT}" y="16" font-size="13" font-weight="bold">{escape(title)} ({escape(unit)})</text>')
    if not pts:
        return head + f'<text x="{_LEFT}" y="{HEIGHT // 2}" font-size="12">no figure in these runs</text></svg>'
    lo, hi = min(0.0, min(v for _, v in pts)), max(v for _, v in pts)
    hi = hi if hi > lo else lo + 1.0
    n = max(len(values) - 1, 1)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM

    def x(i: int) -> float:
        return _LEFT + plot_w * (i / n if len(values) > 1 else 0.5)

    def y(v: float) -> float:
        return _TOP + plot_h * (1 - (v - lo) / (hi - lo))

    parts = [head,
             f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{WIDTH - _RIGHT}" y2="{_TOP + plot_h}" stroke="#888"/>',
             f'<line x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}" stroke="#888"/>',
             f'<text x="{_LEFT - 6}" y="{y(hi) + 4:.1f}" font-size="11" text-anchor="end">{format_value(hi)}</text>',
             f'<text x="{_LEFT - 6}" y="{y(lo) + 4:.1f}" font-size="11" text-anchor="end">{format_value(lo)}</text>']
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in pts)
    parts.append(f'<polyline points="{line}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    for i, v in pts:
        newest = i == len(values) - 1
        color = "#c62828" if i < len(bad) and bad[i] else "#1565c0"
        parts.append(f'<circle class="dw-point{" dw-newest" if newest else ""}" cx="{x(i):.1f}" cy="{y(v):.1f}" '
                     f'r="{6 if newest else 4}" fill="{color}"><title>{escape(labels[i])}: {format_value(v)} '
                     f"{escape(unit)}</title></circle>")
    for i, label in enumerate(labels):
        anchor = "end" if i == len(labels) - 1 and len(labels) > 1 else "start" if i == 0 else "middle"
        parts.append(f'<text x="{x(i):.1f}" y="{HEIGHT - _BOTTOM + 16}" font-size="10" text-anchor="{anchor}">'
                     f"{escape(label[:18])}</text>")
    parts.append("</svg>")
    return "".join(parts)
