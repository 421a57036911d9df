"""The efficient frontier as an SVG drawing (abatement against budget, exact and greedy).

Written by hand rather than with matplotlib, which is not a dependency of Nagar (checked: not
installed in the project's environment); the SVG is small, self-contained and has no script.
"""

from __future__ import annotations

from html import escape

import polars as pl


def _nice(x: float) -> str:
    for div, suffix in ((1e12, " T"), (1e9, " bn"), (1e6, " M"), (1e3, " k")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def frontier_svg(frame: pl.DataFrame, *, currency: str = "JPY", title: str = "Efficient frontier",
                 width: int = 720, height: int = 420) -> str:
    """SVG line chart of ``exact_abatement_t`` and ``greedy_abatement_t`` [tCO2e] against ``budget``."""
    left, right, top, bottom = 90, 20, 40, 60
    pw, ph = width - left - right, height - top - bottom
    b = frame["budget"].to_list() if frame.height else [0.0]
    ys = [y for y in (frame["exact_abatement_t"].to_list() + frame["greedy_abatement_t"].to_list())
          if y is not None] or [0.0]  # null: no portfolio at that budget (infeasible, or greedy misses a rule)
    xmax = max(max(b), 1e-9)
    ymax = max(max(ys), 1e-9) * 1.05

    def sx(v):
        return left + pw * v / xmax

    def sy(v):
        return top + ph * (1 - v / ymax)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<title>{escape(title)}</title>',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">{escape(title)}</text>',
           f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="black"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="black"/>']
    for k in range(6):
        xv, yv = xmax * k / 5, ymax * k / 5
        out.append(f'<line x1="{sx(xv):.1f}" y1="{top + ph}" x2="{sx(xv):.1f}" y2="{top + ph + 5}" stroke="black"/>')
        out.append(f'<text x="{sx(xv):.1f}" y="{top + ph + 18}" text-anchor="middle">{_nice(xv)}</text>')
        out.append(f'<line x1="{left - 5}" y1="{sy(yv):.1f}" x2="{left + pw}" y2="{sy(yv):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{sy(yv) + 4:.1f}" text-anchor="end">{_nice(yv)}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 15}" text-anchor="middle">budget [{escape(currency)}]</text>')
    out.append(f'<text x="18" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 18 {top + ph / 2})">'
               'lifetime abatement [tCO2e]</text>')
    for col, colour, label, dash in (("exact_abatement_t", "#1f77b4", "exact (MILP)", ""),
                                     ("greedy_abatement_t", "#d62728", "greedy by cost per tonne",
                                      ' stroke-dasharray="6 4"')):
        if not frame.height:
            continue
        xy = [(x, y) for x, y in zip(frame["budget"].to_list(), frame[col].to_list()) if y is not None]
        if not xy:
            continue
        pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in xy)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        for x, y in xy:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}"/>')
    lx, ly = left + 15, top + 10
    for k, (colour, label) in enumerate((("#1f77b4", "exact (MILP)"), ("#d62728", "greedy by cost per tonne"))):
        out.append(f'<line x1="{lx}" y1="{ly + 16 * k}" x2="{lx + 24}" y2="{ly + 16 * k}" stroke="{colour}" '
                   'stroke-width="2"/>')
        out.append(f'<text x="{lx + 30}" y="{ly + 16 * k + 4}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out)
