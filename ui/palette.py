"""The app's colours, in one place, and the measures that check them (tests/app/test_palette.py).

Every categorical colour the app draws with comes from here: the ten label colours (the latent plots, the per-model
bars and lines of Draw, Compare and Experiments), the training curves' two colours, the accent of a highlighted bar.
Each must hold on the light and the dark theme's background alike (one palette for both: the charts need not know
which theme the visitor chose) and stay apart for visitors with a colour-vision deficiency:

- **contrast**: WCAG 2.x's ratio of relative luminances, at least 3:1 against the page's background (WCAG 1.4.11,
  graphical objects) in both themes;
- **distinguishable**: CIEDE2000 colour difference between every pair of a palette, at least DISTINCT, in normal
  vision and under simulated protanopia, deuteranopia and tritanopia (Machado, Oliveira & Fernandes 2009, severity
  1.0: a 3x3 matrix on linear RGB).

Where a plot needs more classes than the label colours (a data set of one's own reaches 26), colour is not the only
cue: each class also gets a marker shape (`marker`), and the legend and the hover name it.

Pure functions of numbers: no Streamlit here, so the checks run without a page.
"""

import numpy as np

# The page's background in each theme (.streamlit/config.toml, Streamlit 1.67's own): the colour every chart is drawn on.
BACKGROUNDS = {"light": "#ffffff", "dark": "#171614"}

# The text colour of each theme (as in .streamlit/config.toml), which the inline SVG charts draw their words and faint marks in.
TEXT = {"light": "#2f2d2b", "dark": "#edebe8"}

# Ten label colours, one per digit (class c draws in LABELS[c % 10]). Found by a maximin search over 2,500 random
# colours of relative luminance 0.135 to 0.28 (so that each reads at 3:1 or more on white and on the dark background)
# and chroma of at least 35, keeping the ten whose smallest CIEDE2000 difference in any of the four visions is largest.
# Okabe & Ito's palette before them: yellow at 1.3:1 on white, black at 1.1:1 on the dark background.
LABELS = (
    "#7088fc",  # periwinkle blue
    "#cd215b",  # crimson
    "#08755b",  # green
    "#8f950b",  # olive
    "#961ff2",  # violet
    "#eb5d81",  # pink
    "#1f9b80",  # teal
    "#7a680d",  # brown
    "#bc72af",  # orchid
    "#974c8d",  # plum
)
# The training curves: train solid, validation dashed (the dash is a second cue besides the colour).
CURVES = {"train": LABELS[0], "val": LABELS[1]}
ACCENT = LABELS[0]  # a highlighted bar (the active latent dimensions); the others are the text colour, faint
REFERENCE = LABELS[2]  # a reference line beside the curves (Compare's k = 5,000 estimate; the ELBO takes CURVES["val"])
NEUTRAL = "#808080"  # outlines drawn over the label colours (the learned priors' ellipses): 3.9:1 on white, 4.6:1 on dark
CURSOR = "#1c83e1"  # the latent plane's cursor, Streamlit's focus blue: 4.0:1 on white, 4.6:1 on dark
FOCUS = CURSOR  # the ring round what has keyboard focus, where Streamlit draws none (links, toolbar buttons)
FAINT_OPACITY = 0.6  # marks drawn in the text colour, faint (an inactive dimension's bar): still 3:1 on either background
MUTED_OPACITY = 0.85  # words drawn quieter than the text (an SVG chart's ticks and axis titles): 4.5:1 and more
# A table cell marked best (Compare): the reference green, translucent, so that the text on it keeps 4.5:1 in either theme.
TINTS = {"best": 0.22, "tied": 0.1}  # opacity of REFERENCE over the background

MIN_CONTRAST = 3.0  # WCAG 1.4.11: graphical objects against adjacent colours
# Smallest CIEDE2000 difference allowed between two colours of a palette, in any of the four visions. About 2.3 is
# the just-noticeable difference for large patches side by side; a small dot next to others needs several times that
# (Szafir 2018, "Modeling color difference for visualization design": the smaller the mark, the larger the difference
# needed). 10 is over four times the former.
DISTINCT = 10.0
SHAPES = ("circle", "square", "diamond")  # marker shapes, in order, for classes beyond the ten colours (plotly's names)


def marker(c: int) -> tuple[str, str]:
    """Class c's colour and marker shape: colours cycle through LABELS, and each round of ten takes the next shape, so
    that no two of up to 30 classes share both."""
    return LABELS[c % len(LABELS)], SHAPES[(c // len(LABELS)) % len(SHAPES)]


def blend(colour: str, background: str, opacity: float) -> str:
    """A colour drawn at an opacity over a background, as the eye gets it (sRGB compositing, as browsers do)."""
    return to_hex(opacity * rgb(colour) + (1 - opacity) * rgb(background))


def tint(which: str) -> str:
    """A marked cell's background as CSS (REFERENCE at TINTS[which] opacity)."""
    r, g, b = (round(v * 255) for v in rgb(REFERENCE))
    return f"rgba({r}, {g}, {b}, {TINTS[which]})"


def faint(theme: str) -> str:
    """The theme's text colour at FAINT_OPACITY on its background."""
    return blend(TEXT[theme], BACKGROUNDS[theme], FAINT_OPACITY)


def rgb(colour: str) -> np.ndarray:
    """'#rrggbb' as sRGB in [0, 1]."""
    h = colour.lstrip("#")
    return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)], float) / 255


def to_hex(values: np.ndarray) -> str:
    return "#" + "".join(f"{round(float(v) * 255):02x}" for v in np.clip(values, 0, 1))


def linear(srgb: np.ndarray) -> np.ndarray:
    """sRGB's transfer function undone (IEC 61966-2-1)."""
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def encoded(lin: np.ndarray) -> np.ndarray:
    """Linear RGB back to sRGB."""
    lin = np.clip(lin, 0, 1)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)


def luminance(colour: str) -> float:
    """WCAG 2.x relative luminance."""
    return float(linear(rgb(colour)) @ np.array([0.2126, 0.7152, 0.0722]))


def contrast(a: str, b: str) -> float:
    """WCAG 2.x contrast ratio, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# Machado, Oliveira & Fernandes 2009, "A physiologically-based model for simulation of color vision deficiency",
# severity 1.0 (dichromacy), applied to linear RGB.
SIMULATIONS = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]),
}
VISIONS = ("normal", *SIMULATIONS)


def seen(colour: str, vision: str) -> np.ndarray:
    """The sRGB colour a visitor with this vision sees ('normal': the colour itself)."""
    if vision == "normal":
        return rgb(colour)
    return encoded(SIMULATIONS[vision] @ linear(rgb(colour)))


def lab(srgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of an sRGB colour."""
    xyz = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]])
    x, y, z = (xyz @ linear(np.asarray(srgb, float))) / np.array([0.95047, 1.0, 1.08883])

    def f(t):
        return np.cbrt(t) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    return np.array([116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))])


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> float:
    """The CIEDE2000 colour difference (Sharma, Wu & Dalal 2005's formulation, kL = kC = kH = 1)."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360 if c2p else 0.0
    dl, dc = l2 - l1, c2p - c1p
    dh = 0.0
    if c1p * c2p:
        dh = h2p - h1p
        dh = dh - 360 if dh > 180 else dh + 360 if dh < -180 else dh
    dhh = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2))
    l_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_mean = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_mean = (h1p + h2p) / 2
    else:
        h_mean = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (
        1
        - 0.17 * np.cos(np.radians(h_mean - 30))
        + 0.24 * np.cos(np.radians(2 * h_mean))
        + 0.32 * np.cos(np.radians(3 * h_mean + 6))
        - 0.20 * np.cos(np.radians(4 * h_mean - 63))
    )
    sl = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    sc, sh = 1 + 0.045 * cp_mean, 1 + 0.015 * cp_mean * t
    rt = -2 * np.sqrt(cp_mean**7 / (cp_mean**7 + 25**7)) * np.sin(np.radians(60 * np.exp(-(((h_mean - 275) / 25) ** 2))))
    return float(np.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dhh / sh) ** 2 + rt * (dc / sc) * (dhh / sh)))


def difference(a: str, b: str, vision: str = "normal") -> float:
    """CIEDE2000 between two colours as a visitor with this vision sees them."""
    return ciede2000(lab(seen(a, vision)), lab(seen(b, vision)))


def closest_pair(colours, vision: str = "normal") -> tuple[float, str, str]:
    """The smallest difference between two colours of a palette under a vision, and the pair."""
    pairs = [(difference(a, b, vision), a, b) for i, a in enumerate(colours) for b in colours[i + 1 :]]
    return min(pairs)


def faults(colours, themes=tuple(BACKGROUNDS)) -> list[str]:
    """What is wrong with a palette, as sentences (none: it passes): a colour under 3:1 on the background of a theme
    it is drawn on, or a pair closer than DISTINCT in some vision."""
    found = [
        f"{c} on the {theme} background ({BACKGROUNDS[theme]}): {contrast(c, BACKGROUNDS[theme]):.2f}:1"
        for c in colours
        for theme in themes
        if contrast(c, BACKGROUNDS[theme]) < MIN_CONTRAST
    ]
    for vision in VISIONS:
        gap, a, b = closest_pair(colours, vision)
        if gap < DISTINCT:
            found.append(f"{a} and {b} under {vision}: ΔE00 {gap:.1f}")
    return found


# Every categorical scale the app draws, by where, with the themes it is drawn on: each must pass `faults`
# (tests/app/test_palette.py). The faint bars take the theme's text colour, so each theme has its own pair.
PALETTES = {
    "labels": (LABELS, tuple(BACKGROUNDS)),
    "curves": (tuple(CURVES.values()), tuple(BACKGROUNDS)),
    "reference lines": ((CURVES["val"], REFERENCE), tuple(BACKGROUNDS)),
    **{f"bars, {theme} theme": ((ACCENT, faint(theme)), (theme,)) for theme in BACKGROUNDS},
}
