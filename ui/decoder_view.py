"""The Generate page's explorer, decoded in the visitor's browser: a Streamlit component (st.components.v2, no
iframe) holding the digit, the dials, the label pills, temperature, Randomise, Reset and the two interpolations, over
ui/web/decoder.js and the model's decoder as one float16 buffer (cvae_core.storage.webmodel).

A dial moving reruns nothing: the browser decodes and draws the digit in the same event. About 400 ms after the last
change (or when a dial is released) the component reports its state once (`view`), and the page writes it into the
session's settings, so that links, the grid below and other pages follow. The page opens the component at the settings
a link names (seeded into the buffer's header when it mounts), never from the component's own reports. A model still
training is pinned at the version the visitor started from, with a button to take the newest."""

import json
from functools import cache
from pathlib import Path

import streamlit as st

from cvae_core.storage.webmodel import decoder_bytes, header, with_start

from . import palette, state
from .i18n import _, language

WEB = Path(__file__).with_name("web")


def texts() -> dict:
    """The explorer's words, in the visitor's language."""
    return {
        "label": _("Label y"),
        "no_label": _("This is the unconditional VAE: it has no label, so you cannot choose which digit it draws. Move the dials to travel through its latent space."),
        "temperature": _("Temperature"), "temperature_help": _("0: the most typical digit; 1: samples as trained; above 1: wilder."),
        "randomise": _("Randomise"), "randomise_help": _("Draw a new random style."),
        "reset": _("Reset"), "reset_help": _("All dials to 0: the prior's mean."),
        "dials": _("Style dials"), "dials_some": _("Style dials (first {shown} of {dimensions} dimensions)"),
        "dial_help": _("Noise in this latent dimension, in prior standard deviations."),
        "between_labels": _("Between two labels, same style"), "from_label": _("From label"), "to_label": _("to label"),
        "between_styles": _("Between two styles, same label"), "styles_seed": _("Styles seed"),
        "caption_label": _("label {label}"), "caption_no_label": _("no label"),
        "alt_label": _("A digit drawn by the model for label {label}."), "alt_no_label": _("A digit drawn by the unconditional model."),
        "alt_style": _("Style dials begin {z}; temperature {temperature}."),
        "strip_labels": _("Ten digits of one style, its label moving from {from} to {to}."),
        "strip_styles": _("Ten digits of one label, the style moving between two random styles."),
        "failed": _("This browser could not run the decoder"),
    }  # fmt: skip


@cache
def _component(lang: str, words: str):
    """The component for one language (its words are part of its code: its data is the model's bytes alone)."""
    js = (WEB / "decoder.js").read_text() + "\n" + (WEB / "explorer.js").read_text().replace("__TEXTS__", words)
    return st.components.v2.component(f"cvae_explorer_{lang}", css=(WEB / "explorer.css").read_text(), js=js, isolate_styles=True)


@st.cache_data(max_entries=32, show_spinner=False)
def model_buffer(ref: str, _model, classes: tuple[str, ...]) -> bytes:
    """The decoder's buffer for a model's weights as of `ref` (its id and version), made once for every visitor."""
    return decoder_bytes(_model, list(classes))


def pinned(ckpt, classes: list[str], training: bool) -> bytes:
    """The buffer this session explores for a model: the version it started from while the model trains (a button
    takes the newest), the current one otherwise."""
    kept = state.explorer_pin(ckpt.uid)
    if kept is None or (not training and kept[0] != ckpt.ref):
        kept = (ckpt.ref, model_buffer(ckpt.ref, ckpt.model, tuple(classes)))
        state.pin_explorer(ckpt.uid, kept)
    elif kept[0] != ckpt.ref and st.button(
        _("Take the newest weights"), icon=":material/refresh:", key="explorer_newest",
        help=_("The model is still training: the explorer keeps the weights you started from until you ask for newer ones."),
    ):  # fmt: skip
        kept = (ckpt.ref, model_buffer(ckpt.ref, ckpt.model, tuple(classes)))
        state.pin_explorer(ckpt.uid, kept)
    return kept[1]


# Each class's colour and marker shape (ui.palette: colour cycles over ten, the shape tells classes beyond them apart),
# for up to 26 classes (the priors' outlines and the cursor take palette.NEUTRAL and palette.CURSOR).
MARKERS = [palette.marker(c) for c in range(len(palette.LABELS) * len(palette.SHAPES))]


def plane_texts() -> dict:
    return {
        "label": _("Label"), "grid_size": _("Grid size"), "extent": _("Extent (prior σ)"),
        "scatter": _("The test digits' codes in the latent plane, coloured by label. Move the pointer, or focus it and use the arrow keys, to decode a point; click or press Enter to open the nearest digit."),
        "keys": _("Point, or use the arrow keys, to decode a place; click or Enter opens the nearest test digit."),
        "at": _("The digit the model draws at z = ({z1}, {z2})."), "legend": _("Label colours"),
        "grid": _("The latent plane decoded on a {n} by {n} grid for label {label}."),
        "failed": _("This browser could not run the decoder"),
    }  # fmt: skip


@cache
def _plane_component(lang: str, words: str):
    js = (
        (WEB / "decoder.js").read_text()
        + "\n"
        + (WEB / "plane.js")
        .read_text()
        .replace("__TEXTS__", words)
        .replace("__MARKERS__", json.dumps(MARKERS))
        .replace("__COLOURS__", json.dumps({"neutral": palette.NEUTRAL, "cursor": palette.CURSOR}))
    )
    return st.components.v2.component(f"cvae_plane_{lang}", css=(WEB / "plane.css").read_text(), js=js, isolate_styles=True)


def plane(buffer: bytes, coords, labels, start: dict, mount: str) -> int | None:
    """A 2-D model's latent plane, decoded in the browser: the test digits at `coords` (N, 2) coloured by `labels`, the
    digit at the pointer, the decoded plane (start: {"label", "steps", "span"}). Returns the index of a test digit the
    visitor clicked in this run (None otherwise)."""
    points = {
        "x": [round(float(v), 4) for v in coords[:, 0]],
        "y": [round(float(v), 4) for v in coords[:, 1]],
        "labels": [int(v) for v in labels],
    }
    component = _plane_component(language(), json.dumps(plane_texts(), ensure_ascii=False))
    result = component(data=with_start(buffer, {**start, "points": points}), key=mount, on_picked_change=lambda: None)
    return result.picked


def offline_page(buffer: bytes, title: str) -> bytes:
    """One self-contained .html file: the model, the decoder and the explorer, nothing fetched from the network; opened
    from a disk (file://) in a browser without a connection, it draws and redraws digits."""
    import base64
    import html

    words = json.dumps(texts(), ensure_ascii=False)
    explorer_js = (
        (WEB / "explorer.js")
        .read_text()
        .replace("__TEXTS__", words)
        .replace("export default function (component)", "function mountExplorer(component)")
    )
    page = (WEB / "offline.html").read_text()
    about = _(
        "A model trained in CVAE Lab, decoded by your browser: move the dials, pick a label, change the temperature. This file needs no connection."
    )
    for placeholder, value in (
        ("__LANG__", language().split("_")[0].lower()), ("__TITLE__", html.escape(title)), ("__ABOUT__", html.escape(about)),
        ("__CSS__", (WEB / "explorer.css").read_text()), ("__DECODER__", (WEB / "decoder.js").read_text()),
        ("__EXPLORER__", explorer_js), ("__MODEL__", base64.b64encode(buffer).decode()),
    ):  # fmt: skip
        page = page.replace(placeholder, value)
    return page.encode()


def opening(buffer: bytes) -> dict:
    """Where the explorer opens for a model with no settings of the visitor's: every dial at 0, label 3, temperature 1."""
    meta = json.loads(header(buffer)["__metadata__"]["cvae_web"])
    return {"z": [0.0] * meta["latent_dim"], "label": min(3, meta["n_classes"] - 1) if meta["uses_label"] else None, "temperature": 1.0}


def explorer(buffer: bytes, start: dict, mount: str) -> dict | None:
    """Mount the explorer on `buffer`, opening at `start` ({"z", "label", "temperature"}) for this mount; returns the
    state it last reported (None before its first report)."""
    words = json.dumps(texts(), ensure_ascii=False)
    component = _component(language(), words)
    result = component(data=with_start(buffer, start), key=mount, default={"view": None}, on_view_change=lambda: None)
    return result.view


def checked_view(view, latent_dim: int, n_labels: int | None) -> dict:
    """What may be kept of a report from the browser (a visitor's browser can send anything): {"z": noise (latent_dim,),
    "label", "temperature"}, each present only when valid -- z finite numbers, label a whole number of the model's
    labels (n_labels None: a model without labels), temperature from 0 to 2."""
    import math

    import numpy as np

    out = {}
    if not isinstance(view, dict):
        return out
    z = view.get("z")
    if isinstance(z, list) and len(z) == latent_dim and all(isinstance(v, int | float) and not isinstance(v, bool) for v in z):
        noise = np.asarray(z, dtype=np.float32)
        if np.isfinite(noise).all():
            out["z"] = np.clip(noise, -10, 10)
    label = view.get("label")
    if n_labels is not None and isinstance(label, int) and not isinstance(label, bool) and 0 <= label < n_labels:
        out["label"] = label
    t = view.get("temperature")
    if isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t) and 0 <= t <= 2:
        out["temperature"] = float(t)
    return out
