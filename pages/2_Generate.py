"""Draw digits from a trained model: a label, a style dial per latent dimension, a temperature."""

import re

import numpy as np
import streamlit as st

import ui
from cvae_core.storage.export_onnx import decoder_onnx
from ui import decoder_view, links
from ui.i18n import _
from ui.own_data import class_names

MAX_SLIDERS = 8

ui.setup_page(
    _("Generate"),
    _(
        "A conditional VAE draws a digit from two things: the **label** y you ask for and a **latent code** z that holds "
        "everything else, the handwriting style. Each slider below moves one dimension of z (in units of the prior's spread); "
        "**temperature** scales how far random samples stray from the most typical style."
    ),
)
shipped = ui.shipped_models()[0]
shipped_names = {ckpt.uid: name for name, ckpt in shipped.items()}
LINK = [  # what a link to this page holds: a shipped model (a session's own cannot be shared), label, dials, temperature
    links.Setting("model", lambda text: {"model": shipped[text].uid}, lambda s: shipped_names.get(s.get("model"))),
    links.widget(
        "label", "gen_label", lambda text: links.whole(text, 0, 9), lambda v: None if v is None else str(v)
    ),  # links name shipped digit models
    links.Setting(
        "z",
        lambda text: {f"dial{i}": round(links.number(v, -3, 3), 1) for i, v in enumerate(text.split(",")[:MAX_SLIDERS])},
        lambda s: ",".join(f"{s[f'dial{i}']:g}" for i in range(MAX_SLIDERS) if f"dial{i}" in s) or None,
    ),
    links.widget("t", "gen_temperature", lambda text: links.number(text, 0, 2), lambda v: f"{v:g}"),
]
refused, from_link = links.follow(LINK, "generate")
links.warn_refused(refused)

name, ckpt = ui.model_picker(keep=lambda m: m.makes_images, help=_("Models that draw digits (cvae3 predicts labels instead; see Home)."))
if ckpt is None:
    st.stop()
model = ckpt.model
st.sidebar.markdown(ui.describe_model(ckpt))
k = model.latent_dim
key = f"gen-{ckpt.uid}"
if ui.state.style() is None or ui.state.style()[0] != key:  # a new model: fresh dials (but those a link just set)
    ui.state.set_style(key, np.zeros(k, dtype=np.float32))
    ui.state.set_widgets({f"dial{i}": 0.0 for i in range(min(k, MAX_SLIDERS)) if f"dial{i}" not in from_link})
for i in range(min(k, MAX_SLIDERS), MAX_SLIDERS):  # a smaller model: its dials only, in state and in links
    ui.state.forget_widget(f"dial{i}")
names = class_names(ckpt)  # the digits, or the classes of the visitor's own data set
if ui.state.widget("gen_label") is not None and ui.state.widget("gen_label") >= len(names):
    ui.state.set_widget("gen_label", None)  # a label the model does not have (a data set of fewer classes)
ui.state.seed_widget("gen_label", min(3, len(names) - 1))
ui.state.seed_widget("gen_temperature", 1.0)

label = ui.state.widget("gen_label") if model.uses_label else None
temperature = ui.state.widget("gen_temperature")


def current_noise() -> np.ndarray:
    """The style: the dials set the first dimensions; the rest keep the last random draw."""
    noise = ui.state.style()[1].copy()
    noise[: min(k, MAX_SLIDERS)] = [ui.state.widget(f"dial{i}") for i in range(min(k, MAX_SLIDERS))]
    return noise


def take(view) -> None:
    """The explorer's report, checked (a browser can send anything): its dials, label and temperature become the
    session's settings (links, the grid below)."""
    kept = decoder_view.checked_view(view, k, len(names) if model.uses_label else None)
    if "z" in kept:
        ui.state.set_style(key, kept["z"])
        ui.state.set_widgets({f"dial{i}": float(np.clip(round(float(kept["z"][i]), 1), -3, 3)) for i in range(min(k, MAX_SLIDERS))})
    if "label" in kept:
        ui.state.set_widget("gen_label", kept["label"])
    if "temperature" in kept:
        ui.state.set_widget("gen_temperature", kept["temperature"])


entry = ui.state.session_models().get(ckpt.uid)
buffer = decoder_view.pinned(ckpt, names, training=entry is not None and entry.still_training)  # its button: above the explorer


@st.fragment
def explore(start: dict, buffer: bytes):
    """The explorer decodes in the browser: a dial moving reruns nothing; its report (once the visitor pauses) reruns
    this fragment alone, which keeps the address a link to the digit, and the whole page when the grid below needs
    the new label or temperature. `start`: the settings at the page's last full run (a fragment rerun gets the same:
    the component's reports never travel back into its data)."""
    runs = ui.state.count_explorer_run()
    view = decoder_view.explorer(buffer, start, mount=f"explorer:{ckpt.uid}")
    st.html(f'<span class="explorer-runs" data-runs="{runs}" hidden></span>')  # the browser tests count reruns here
    if view:
        before = (ui.state.widget("gen_label"), ui.state.widget("gen_temperature"))
        take(view)
        links.publish(LINK)  # the address is a link to this digit
        if before != (ui.state.widget("gen_label"), ui.state.widget("gen_temperature")):
            st.rerun(scope="app")  # the grid below draws the new label or temperature
    else:
        links.publish(LINK)


explore({"z": [round(float(v), 3) for v in current_noise()], "label": label, "temperature": temperature}, buffer)
noise = current_noise()
file_stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", name.split(" (")[0]).strip("-.")  # the model's name, safe as a file name
st.download_button(
    _("Download for the web"), data=lambda: decoder_view.offline_page(buffer, name), file_name=f"{file_stem}.html",
    mime="text/html", icon=":material/download:", key="gen_offline",
    help=_("One .html file with this model and its dials: it opens in any browser, without a connection or this server."),
)  # fmt: skip
st.download_button(
    _("Download as ONNX"), data=lambda: decoder_onnx(model, names), file_name=f"{file_stem}.onnx",
    mime="application/octet-stream", icon=":material/deployed_code:", key="gen_onnx",
    help=_("The decoder as an ONNX graph (noise, label and temperature in; the digit's pixel means out), for ONNX Runtime or another tool."),
)  # fmt: skip

st.divider()
st.subheader(_("Every label, several styles"))
st.caption(
    _(
        "Each column keeps one random noise vector; each row is a label. In a model that separates style from identity, a column is one person's handwriting."
    )
)
c1, c2 = st.columns([1, 3])
# Keyed: an unkeyed widget's identity is its label, so switching the language would reset it.
n_styles = c1.slider(_("Styles per label"), 2, 12, 8, key="gen_styles", help=_("Columns in the grid."))
grid_seed = c1.number_input(_("Seed"), 0, 10_000, 0, key="gen_grid_seed", help=_("Change it for new styles."))
images = model.label_grid(n_styles, seed=grid_seed, temperature=temperature)
if model.uses_label:
    alt = _("Samples of {model} at temperature {t:g}: one row per label, one column per style.")
else:
    alt = _("Samples of {model} at temperature {t:g}, drawn without a label.")
ui.show_digits(images, ncol=n_styles, scale=2, where=c2, download="samples.png", key="dl-grid", alt=alt.format(model=name, t=temperature))

if model.dials_note:
    st.info(_(model.dials_note))
