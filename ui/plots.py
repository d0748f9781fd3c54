"""Shapes for plots that the pages draw, and light charts for views that refresh every second."""

from html import escape

import numpy as np

from .palette import ACCENT, FAINT_OPACITY, MUTED_OPACITY

# Words drawn quieter than the text (ticks, axis titles), in the page's text colour: 4.5:1 or more in either theme.
MUTED = f'fill="currentColor" fill-opacity="{MUTED_OPACITY}"'


def ellipses(means: np.ndarray, sigmas: np.ndarray, n_sigma: float = 2.0, points: int = 60) -> list[tuple[np.ndarray, np.ndarray]]:
    """Axis-aligned ellipses at n_sigma standard deviations around each 2-D Gaussian: (x, y) outlines, one per row."""
    t = np.linspace(0, 2 * np.pi, points)
    return [(m[0] + n_sigma * s[0] * np.cos(t), m[1] + n_sigma * s[1] * np.sin(t)) for m, s in zip(means, sigmas, strict=True)]


def nice_ticks(low: float, high: float, about: int = 4) -> list[float]:
    """Round numbers (1, 2 or 5 times a power of ten apart) inside [low, high]: about `about` of them, and
    at least two (the step is at most half the range)."""
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        return [low] if np.isfinite(low) else []
    raw = (high - low) / about
    power = 10 ** np.floor(np.log10(raw))
    steps = [m * power for m in (0.5, 1, 2, 5, 10) if m * power <= (high - low) / 2]
    step = min(steps, key=lambda s: abs(np.log(s / raw)))
    first = np.ceil(low / step - 1e-9) * step
    return [float(first + i * step) for i in range(int(np.floor((high - first) / step + 1e-9)) + 1)]


def tick_label(value: float, step: float) -> str:
    """A tick's text with no more decimals than its spacing needs (-150, 0.5, 1,200)."""
    decimals = max(0, -int(np.floor(np.log10(step)))) if step > 0 else 0
    return f"{value:,.{decimals}f}".replace("-", "−")


def stacked_lines_svg(
    panels: list[str], lines: list[dict], x_title: str, label: str, width: int = 560, height: int = 500, max_points: int = 400
) -> str:
    """Line charts stacked on one x axis, as inline SVG markup for a live view (st.markdown with unsafe_allow_html; st.html strips SVG).

    A browser redraws this for almost nothing; a plotly chart cost Chromium about 0.3 s of a core per
    redraw (bench/README.md), which, on every open Train page, was the cores' largest user after training
    itself. The Train page shows the interactive plotly chart once training stops. Text and lines take
    the page's font and text colour (currentColor), so the chart follows the theme.

    panels: the panels' titles, top to bottom. lines: {"name", "colour", "dashed", "x": [...], "y": [values
    per panel]}; a line with no points is left out. Lines longer than max_points are thinned evenly.
    label: what the chart shows, for screen readers.
    """
    left, right, top, bottom, gap = 56, 10, 56, 46, 34
    panel_height = (height - top - bottom - gap * (len(panels) - 1)) / len(panels)
    drawn = [line for line in lines if len(line["x"])]
    xs = np.concatenate([np.asarray(line["x"], float) for line in drawn]) if drawn else np.array([0.0, 1.0])
    x_low, x_high = float(xs.min()), float(max(xs.max(), xs.min() + 1e-6))

    def x_at(v):
        return left + (v - x_low) / (x_high - x_low) * (width - left - right)

    def dash(line):
        return ' stroke-dasharray="4 3"' if line["dashed"] else ""

    middle = (left + width - right) / 2
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(label)}" '
        f'style="font-size:14px;max-width:{width * 1.4:.0f}px">'
    ]
    legend_x = left
    for line in lines:  # the legend, on a row above the panels
        out.append(f'<line x1="{legend_x}" y1="12" x2="{legend_x + 26}" y2="12" stroke="{line["colour"]}" stroke-width="2"{dash(line)}/>')
        out.append(f'<text x="{legend_x + 32}" y="17" fill="currentColor">{escape(line["name"])}</text>')
        legend_x += 48 + 9 * len(line["name"])
    for p, title in enumerate(panels):
        y0 = top + p * (panel_height + gap)  # the panel's top edge
        values = np.concatenate([np.asarray(line["y"][p], float) for line in drawn]) if drawn else np.array([])
        values = values[np.isfinite(values)]
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
        pad = (high - low) * 0.06 or max(abs(high) * 0.05, 0.5)
        low, high = low - pad, high + pad

        def y_at(v, low=low, high=high, y0=y0):
            return y0 + panel_height - (v - low) / (high - low) * panel_height

        out.append(f'<text x="{middle:.1f}" y="{y0 - 10:.1f}" text-anchor="middle" fill="currentColor">{escape(title)}</text>')
        ticks = nice_ticks(low, high, about=4)
        step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
        for t in ticks:
            y = y_at(t)
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="currentColor" stroke-opacity="0.12"/>')
            out.append(f'<text x="{left - 8}" y="{y + 5:.1f}" text-anchor="end" {MUTED}>{tick_label(t, step)}</text>')
        for line in drawn:
            x, y = np.asarray(line["x"], float), np.asarray(line["y"][p], float)
            keep = np.isfinite(y)
            x, y = x[keep], y[keep]
            if len(x) > max_points:
                pick = np.linspace(0, len(x) - 1, max_points).round().astype(int)
                x, y = x[pick], y[pick]
            points = " ".join(f"{x_at(a):.1f},{y_at(b):.1f}" for a, b in zip(x, y, strict=True))
            out.append(f'<polyline points="{points}" fill="none" stroke="{line["colour"]}" stroke-width="2"{dash(line)}/>')
    x_ticks = nice_ticks(x_low, x_high, about=6)
    x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1.0
    axis_y = height - bottom
    for t in x_ticks:
        out.append(f'<text x="{x_at(t):.1f}" y="{axis_y + 20}" text-anchor="middle" {MUTED}>{tick_label(t, x_step)}</text>')
    out.append(f'<text x="{middle:.1f}" y="{height - 4}" text-anchor="middle" {MUTED}>{escape(x_title)}</text>')
    out.append("</svg>")
    return "".join(out)


def bars_svg(
    values: list[float], highlighted: list[bool], names: list[str], y_title: str, label: str, width: int = 400, height: int = 210
) -> str:
    """A bar chart as inline SVG for a live view (like stacked_lines_svg): one bar per value, highlighted bars in
    colour and the others grey, each named under it. label: what the chart shows, for screen readers."""
    left, right, top, bottom = 56, 10, 14, 40
    high = max([*values, 1e-9]) * 1.08
    ticks = nice_ticks(0.0, high, about=4)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    slot = (width - left - right) / max(len(values), 1)

    def y_at(v):
        return top + (height - top - bottom) * (1 - v / high)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(label)}" '
        f'style="font-size:14px;max-width:{width * 1.4:.0f}px">'
    ]
    for t in ticks:
        y = y_at(t)
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="currentColor" stroke-opacity="0.12"/>')
        out.append(f'<text x="{left - 8}" y="{y + 5:.1f}" text-anchor="end" {MUTED}>{tick_label(t, step)}</text>')
    for i, (value, lit, name) in enumerate(zip(values, highlighted, names, strict=True)):
        x = left + i * slot + slot * 0.15
        y = y_at(max(value, 0.0))
        colour = f'fill="{ACCENT}"' if lit else f'fill="currentColor" fill-opacity="{FAINT_OPACITY}"'
        out.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{y_at(0) - y:.1f}" {colour}><title>{escape(name)}: {value:.2f}</title></rect>'
        )
        if len(values) <= 16 or i % 4 == 0:
            out.append(f'<text x="{x + slot * 0.35:.1f}" y="{height - bottom + 16}" text-anchor="middle" {MUTED}>{escape(name)}</text>')
    out.append(
        f'<text x="14" y="{(top + height - bottom) / 2:.1f}" transform="rotate(-90 14 {(top + height - bottom) / 2:.1f})" text-anchor="middle" {MUTED}>{escape(y_title)}</text>'
    )
    out.append("</svg>")
    return "".join(out)
