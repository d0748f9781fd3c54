"""The app's colours (ui/palette.py): every categorical scale reads at 3:1 on both themes' backgrounds and stays apart
under simulated protanopia, deuteranopia and tritanopia; the measures themselves checked against published values;
and the palette is the one source of the colours the app draws with."""

import json
import re

import numpy as np
import pytest

from tests.conftest import ROOT
from ui import palette


@pytest.mark.parametrize("name", list(palette.PALETTES))
def test_every_palette_reads_on_its_background_and_stays_apart_in_colour_blind_vision(name):
    colours, themes = palette.PALETTES[name]
    assert not palette.faults(colours, themes)


def test_a_bad_palette_fails():
    """Red beside green is one colour to a deuteranope; yellow is faint on white; black vanishes on the dark theme."""
    found = palette.faults(("#d62728", "#2ca02c", "#f0e442", "#000000"))
    assert any("deuteranopia" in f for f in found) and any("#f0e442 on the light" in f for f in found)
    assert any("#000000 on the dark" in f for f in found)
    assert palette.faults(("#1f77b4", "#4c78a8"))  # two blues: too close in normal vision too


def test_contrast_is_wcags():
    assert palette.contrast("#ffffff", "#000000") == pytest.approx(21.0)
    assert palette.contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the usual borderline grey
    assert palette.contrast("#b91c1c", "#ffffff") == palette.contrast("#ffffff", "#b91c1c")


@pytest.mark.parametrize(
    "lab1, lab2, expected",
    [  # Sharma, Wu & Dalal 2005, table 1: pairs 1, 2, 7, 17 and 25
        ((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
        ((50, 3.1571, -77.2803), (50, 0, -82.7485), 2.8615),
        ((50, 0, 0), (50, -1, 2), 2.3669),
        ((50, 2.5, 0), (73, 25, -18), 27.1492),
        ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ],
)
def test_ciede2000_matches_sharmas_test_data(lab1, lab2, expected):
    assert palette.ciede2000(np.array(lab1), np.array(lab2)) == pytest.approx(expected, abs=1e-4)


def test_the_simulations_keep_greys_and_merge_what_each_deficiency_merges():
    """Machado et al.'s matrices leave white, black and greys alone (rows sum to 1); a protanope or deuteranope
    loses red against green, a tritanope blue against green far more than the others do."""
    for vision in palette.SIMULATIONS:
        for grey in ("#ffffff", "#000000", "#808080"):
            assert np.allclose(palette.seen(grey, vision), palette.rgb(grey), atol=2e-3), (vision, grey)
    assert palette.lab(palette.rgb("#ffffff")) == pytest.approx([100, 0, 0], abs=1e-3)
    red_green = {v: palette.difference("#d62728", "#2ca02c", v) for v in palette.VISIONS}
    assert red_green["protanopia"] < red_green["normal"] / 2 and red_green["deuteranopia"] < red_green["normal"] / 10
    blue_green = {v: palette.difference("#0072b2", "#009e73", v) for v in palette.VISIONS}
    assert blue_green["tritanopia"] == min(blue_green.values())


def test_beyond_ten_classes_the_shape_tells_them_apart():
    """A data set of one's own reaches 26 classes: no two share both colour and shape."""
    markers = [palette.marker(c) for c in range(26)]
    assert len(set(markers)) == 26
    assert {colour for colour, _shape in markers} == set(palette.LABELS)


def test_words_and_marks_drawn_faint_keep_their_contrast_in_both_themes():
    """The SVG charts' ticks (text: 4.5:1), the faint bars (3:1), and the text on a marked table cell (4.5:1)."""
    for theme, background in palette.BACKGROUNDS.items():
        text = palette.TEXT[theme]
        assert min(palette.contrast(c, background) for c in (palette.NEUTRAL, palette.CURSOR)) >= palette.MIN_CONTRAST
        assert palette.contrast(palette.blend(text, background, palette.MUTED_OPACITY), background) >= 4.5, theme
        assert palette.contrast(palette.faint(theme), background) >= palette.MIN_CONTRAST, theme
        for which, opacity in palette.TINTS.items():
            cell = palette.blend(palette.REFERENCE, background, opacity)
            assert palette.contrast(text, cell) >= 4.5, (theme, which)


def test_the_palette_is_the_one_source_of_the_apps_colours():
    """Streamlit's chart colours and each theme's background and text (.streamlit/config.toml) are the palette's, and no module of the app writes a
    colour of its own (a hex literal in Python or JavaScript) but ui/palette.py; the Draw canvas's white ink on black,
    the digit, excepted. (The components' CSS names Streamlit's theme variables, with fallbacks.)"""
    config = (ROOT / ".streamlit" / "config.toml").read_text()  # (tomllib needs Python 3.11; a TOML list of strings is JSON)
    lists = re.findall(r"^chartCategoricalColors = (\[.*\])$", config, re.MULTILINE)
    assert lists and all(tuple(json.loads(found)) == palette.LABELS for found in lists)
    for theme in palette.BACKGROUNDS:  # each theme's background and text, as the palette was checked against
        section = config.split(f"[theme.{theme}]")[1].split("\n[")[0]
        assert f'backgroundColor = "{palette.BACKGROUNDS[theme]}"' in section and f'textColor = "{palette.TEXT[theme]}"' in section
    hex_colour = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")
    sources = [ROOT / "app.py", *(ROOT / "ui").glob("*.py"), *(ROOT / "pages").glob("*.py"), *(ROOT / "ui" / "web").glob("*.js")]
    found = {
        f"{path.relative_to(ROOT)}: {colour}"
        for path in sources
        if path.name != "palette.py"
        for colour in hex_colour.findall(path.read_text())
        if colour.lower() not in ("#ffffff", "#000000", "#fff", "#000")
    }
    assert not found, found
