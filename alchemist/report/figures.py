"""The report's pictures: matplotlib figures (the object API, no pyplot, so no global backend and
no display) saved as SVG and embedded as data: URIs, plus one hand-drawn inline SVG.

An SVG inside <img> is a sealed document: its ids cannot clash with the page's, and any script a
hostile label might smuggle in never runs.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

from alchemist.report.markup import Markup, esc, tag

PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD",
           "#2F4B7C", "#A05195", "#F95D6A", "#FFA600", "#3B9AB2", "#78B7C5"]
OURS, REFERENCE = "#C44E52", "#B8C4D6"
RC = {"svg.fonttype": "none", "svg.hashsalt": "alchemist-report", "font.size": 9, "axes.titlesize": 10,
      "axes.titleweight": "bold", "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
      "grid.alpha": 0.25, "legend.frameon": False, "font.family": ["DejaVu Sans", "sans-serif"]}


def short(label, width: int = 26) -> str:
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "…"


def _figure(width: float, height: float, ncols: int = 1, widths: Sequence[float] | None = None):
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(width, height), dpi=100)
        axes = fig.subplots(1, ncols, squeeze=False, gridspec_kw={"width_ratios": widths} if widths else None)[0]
    return fig, list(axes)


def image(fig, alt: str) -> Markup:
    """The figure as an <img> with an SVG data: URI."""
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return tag("img", src=f"data:image/svg+xml;base64,{data}", alt=alt, class_="figure")


def png_image(data: bytes, alt: str) -> Markup:
    return tag("img", src=f"data:image/png;base64,{base64.b64encode(data).decode('ascii')}", alt=alt, class_="figure")


def _style(ax) -> None:
    import matplotlib

    with matplotlib.rc_context(RC):
        ax.grid(True, alpha=0.25)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)


def stacked_barh(ax, rows: Sequence[str], segments: dict[str, Sequence[float]], title: str, xlabel: str, legend: bool = True) -> None:
    """One horizontal bar per row, split into `segments` (name -> value per row); the first row on top."""
    _style(ax)
    left = [0.0] * len(rows)
    ys = list(range(len(rows)))[::-1]
    for i, (name, values) in enumerate(segments.items()):
        ax.barh(ys, values, left=left, color=PALETTE[i % len(PALETTE)], label=short(name), height=0.65)
        left = [a + b for a, b in zip(left, values)]
    for y, total in zip(ys, left):
        ax.text(total, y, f" {total:,.0f}", va="center", fontsize=8)
    ax.set_yticks(ys, [short(r) for r in rows])
    ax.set_xlim(0, max(left, default=1) * 1.15 or 1)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)
    if legend and len(segments) > 1:
        ax.legend(fontsize=7.5, loc="lower right", ncols=1 if len(segments) < 7 else 2)


def barh(ax, labels: Sequence[str], values: Sequence[float], title: str, xlabel: str, colors: Sequence[str] | None = None,
         fmt: str = "{:,.0f}", xmax: float | None = None, highlight: Sequence[bool] | None = None) -> None:
    """Horizontal bars, the first label on top; `highlight` marks labels to draw bold in OURS."""
    _style(ax)
    ys = list(range(len(labels)))[::-1]
    ax.barh(ys, values, color=colors or PALETTE[0], height=0.65 if len(labels) > 2 else 0.45)
    for y, v in zip(ys, values):
        ax.text(v, y, " " + fmt.format(v), va="center", fontsize=8)
    ax.set_yticks(ys, [short(lab, 30) for lab in labels])
    for tick, on in zip(ax.get_yticklabels(), highlight or []):
        if on:
            tick.set_color(OURS)
            tick.set_fontweight("bold")
    if len(labels) <= 2:
        ax.set_ylim(-0.8, len(labels) - 0.2)
    top = xmax if xmax is not None else max(values, default=1) * 1.18 or 1
    ax.set_xlim(0, top)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", visible=False)


def histogram(ax, series: dict[str, Sequence[int]], title: str, xlabel: str) -> None:
    """Overlaid step histograms on log-spaced bins (lengths are heavy-tailed), medians dashed."""
    import numpy as np

    _style(ax)
    values = [v for vs in series.values() for v in vs]
    if not values:
        return
    lo, hi = max(1, min(values)), max(2, max(values))
    bins = np.unique(np.geomspace(lo, hi * 1.0001, num=min(60, max(8, int(math.sqrt(len(values))) + 4))))
    for i, (name, vs) in enumerate(series.items()):
        if not len(vs):
            continue
        arr = np.maximum(np.asarray(vs), 1)
        color = PALETTE[i % len(PALETTE)]
        ax.hist(arr, bins=bins, histtype="stepfilled", alpha=0.25, color=color)
        ax.hist(arr, bins=bins, histtype="step", linewidth=1.4, color=color,
                label=f"{name}: {len(vs):,} rows, median {int(np.median(vs)):,}")
        ax.axvline(float(np.median(arr)), color=color, linestyle="--", linewidth=1)
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ax.set_xscale("log")
    ticks = [m * 10**e for e in range(0, 8) for m in (1, 2, 5) if lo / 1.5 <= m * 10**e <= hi * 1.5]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.set_xticks(ticks, [f"{t:,}" for t in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # headroom for the legend
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("rows")
    ax.legend(fontsize=8, loc="upper left")


def lines(ax, series: dict[str, Sequence[tuple[float, float]]], title: str, xlabel: str, ylabel: str, markers: bool = False) -> None:
    _style(ax)
    for i, (name, pts) in enumerate(series.items()):
        if not pts:
            continue
        xs, ys = zip(*pts)
        ax.plot(xs, ys, color=PALETTE[i % len(PALETTE)], linewidth=1.4, label=short(name, 30),
                marker="o" if markers or len(pts) < 3 else None, markersize=3)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(series) > 1 or markers:
        ax.legend(fontsize=8)


def timeline(stages: list[tuple[str, str, float | None]], width: int = 760) -> Markup:
    """Stage timings as an inline SVG: one bar per stage, its length the stage's seconds
    (`(name, status, seconds)`; seconds None: drawn as a label only)."""
    colors = {"done": "#55A868", "skipped": "#8C8C8C", "failed": "#C44E52", "running": "#DD8452", "disabled": "#D0D0D0"}
    row, label_w, right = 24, 110, 150
    longest = max((s for _, _, s in stages if s), default=0.0) or 1.0
    height = row * len(stages) + 8
    parts = []
    for i, (name, status, seconds) in enumerate(stages):
        y = 4 + i * row
        parts.append(tag("text", name, x=label_w - 8, y=y + 15, text_anchor="end", class_="tl-label"))
        w = 0.0 if not seconds else max(2.0, (width - label_w - right) * seconds / longest)
        parts.append(tag("rect", x=label_w, y=y + 3, width=f"{w:.1f}", height=row - 8, rx=3, fill=colors.get(status, "#8172B3")))
        what = status if seconds is None else f"{seconds:,.2f} s · {status}"
        parts.append(tag("text", what, x=f"{label_w + w + 6:.1f}", y=y + 15, class_="tl-value"))
    svg = tag("svg", *parts, width=width, height=height,
              viewBox=f"0 0 {width} {height}", role="img", aria_label="stage timings", class_="timeline")
    return Markup(svg)


def legend_swatch(color: str) -> Markup:
    return tag("span", "", class_="swatch", style=f"background:{esc(color)}")
