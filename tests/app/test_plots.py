"""The live curves' SVG and its ticks (ui/plots.py): well-formed, inside its box, escaped, bounded."""

import math
import xml.etree.ElementTree as ET

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ui.plots import nice_ticks, stacked_lines_svg, tick_label

SVG = "{http://www.w3.org/2000/svg}"
finite = st.floats(-1e6, 1e6, allow_nan=False)


@given(finite, st.floats(1e-3, 1e6))
def test_nice_ticks_are_round_even_and_inside_the_range(low, span):
    high = low + span
    ticks = nice_ticks(low, high)
    assert 2 <= len(ticks) <= 9
    assert all(low - 1e-6 * span <= t <= high + 1e-6 * span for t in ticks)
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0], rtol=1e-6)
    mantissa = steps[0] / 10 ** math.floor(math.log10(steps[0]))
    assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-6  # 1, 2 or 5 times a power of ten


def test_tick_labels_have_the_decimals_their_spacing_needs():
    assert tick_label(-150.0, 50.0) == "−150"
    assert tick_label(0.5, 0.5) == "0.5"
    assert tick_label(1200.0, 200.0) == "1,200"


def lines_of(n_points: int, panels: int = 3, name: str = "train") -> dict:
    x = np.linspace(0, 5, n_points)
    return {"name": name, "colour": "#1f77b4", "dashed": False, "x": list(x), "y": [list(-100 + 10 * x * (p + 1)) for p in range(panels)]}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_one_polyline_per_line_and_panel_all_inside_the_box():
    svg = parse(stacked_lines_svg(["ELBO", "Recon", "KL"], [lines_of(50), lines_of(7, name="test")], x_title="epoch", label="curves"))
    width, height = (float(v) for v in svg.get("viewBox").split()[2:])
    polylines = svg.findall(f"{SVG}polyline")
    assert len(polylines) == 6
    for line in polylines:
        points = np.array([[float(v) for v in p.split(",")] for p in line.get("points").split()])
        assert (points[:, 0] >= 0).all() and (points[:, 0] <= width).all()
        assert (points[:, 1] >= 0).all() and (points[:, 1] <= height).all()
    assert svg.get("aria-label") == "curves"


def test_long_lines_are_thinned_and_missing_values_skipped():
    long = lines_of(5000)
    long["y"][0][10] = float("nan")
    svg = parse(stacked_lines_svg(["a", "b", "c"], [long], x_title="epoch", label="curves", max_points=300))
    points = [p.get("points") for p in svg.findall(f"{SVG}polyline")]
    counts = [len(p.split()) for p in points]
    assert max(counts) <= 300 and min(counts) >= 290
    assert not any("nan" in p for p in points)  # the missing value is left out, not drawn at NaN


def test_text_is_escaped_and_an_empty_history_draws_axes_only():
    hostile = lines_of(3, name='<script>alert(1)</script>" onload="x')
    svg = parse(
        stacked_lines_svg(["<b>KL</b>"], [{**hostile, "y": hostile["y"][:1]}], x_title="&", label='"')
    )  # well-formed: nothing a name holds opens an element or an attribute
    assert not svg.findall(f".//{SVG}script")
    assert all(not attribute.startswith("on") for element in svg.iter() for attribute in element.attrib)
    texts = {t.text for t in svg.iter(f"{SVG}text")}
    assert {"<b>KL</b>", hostile["name"], "&"} <= texts
    empty = parse(
        stacked_lines_svg(["a", "b"], [{"name": "train", "colour": "#000", "dashed": True, "x": [], "y": [[], []]}], "epoch", "c")
    )
    assert not empty.findall(f"{SVG}polyline")
