"""Draw digits from a trained model: a label, a style dial per latent dimension, a temperature."""

import numpy as np
import streamlit as st

import ui
from ui import links
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

c1, c2 = st.columns([2, 1])
if model.uses_label:
    label = c1.pills(  # pills wrap on a phone
        _("Label y"), list(range(len(names))), format_func=lambda k: names[k], key="gen_label", help=_("The class you ask for.")
    )
    label = min(3, len(names) - 1) if label is None else label
else:
    c1.info(
        _(
            "This is the unconditional VAE: it has no label, so you cannot choose which digit it draws. Move the sliders to travel through its latent space."
        )
    )
    label = None
temperature = c2.slider(
    _("Temperature"), 0.0, 2.0, step=0.05, key="gen_temperature",
    help=_("0: the most typical digit; 1: samples as trained; above 1: wilder."),
)  # fmt: skip

b1, b2, _spare = st.columns([1, 1, 4])
if b1.button(_("Randomise"), icon=":material/casino:", help=_("Draw a new random style.")):
    noise = np.random.default_rng().standard_normal(k).astype(np.float32)
    ui.state.set_style(key, noise)
    ui.state.set_widgets({f"dial{i}": float(np.clip(np.round(noise[i], 1), -3, 3)) for i in range(min(k, MAX_SLIDERS))})
if b2.button(_("Reset"), icon=":material/restart_alt:", help=_("All dials to 0: the prior's mean.")):
    ui.state.set_style(key, np.zeros(k, dtype=np.float32))
    ui.state.set_widgets({f"dial{i}": 0.0 for i in range(min(k, MAX_SLIDERS))})


def current_noise() -> np.ndarray:
    """The style: the dials set the first dimensions; the rest keep the last random draw."""
    noise = ui.state.style()[1].copy()
    noise[: min(k, MAX_SLIDERS)] = [ui.state.widget(f"dial{i}") for i in range(min(k, MAX_SLIDERS))]
    return noise


# A phone stacks the columns, so the dials would push the digit off the screen: there the digit floats in
# the bottom-right corner, in view while a dial moves.
PHONE_CSS = """<style>
@media (max-width: 640px) {
  .st-key-gen-digit { position: fixed; right: 0.5rem; bottom: 0.5rem; width: 9rem; z-index: 1000;
                      background: rgba(255, 255, 255, 0.95); border-radius: 0.5rem; padding: 0.3rem; box-shadow: 0 2px 8px rgba(0, 0, 0, 0.3); }
  .st-key-gen_label div { flex-wrap: wrap !important; }  /* ten label pills: two rows rather than a cut-off 9 */
  .st-key-gen-digit div, .st-key-gen-digit img { width: 100% !important; max-width: 100% !important; height: auto !important; }
}
</style>"""
st.html(PHONE_CSS)


@st.fragment
def dials_and_digit():
    """A dial move reruns this alone (the grids below stay as they are): the digit follows the dial at once.
    The digit comes first: on a phone the columns stack, and the digit stays in view above the dials."""
    digit_column, dials_column = st.columns([1, 2])
    # The digit is sent before the dials: the browser draws a rerun's changes in the order they arrive.
    with digit_column, st.container(key="gen-digit"):  # on a phone it floats in a corner while the dials scroll (PHONE_CSS)
        image = model.draw(label, current_noise(), temperature)
        caption = _("label {label}").format(label=names[label]) if label is not None else _("no label")
        scale = 15 if ui.presenter() else 10  # drawn at the size shown: a larger PNG would be scaled down (and blurred) by the server
        st.image(ui.digit_png(image, scale=scale), caption=caption, width=28 * scale, output_format="PNG")
    with dials_column:
        if k > MAX_SLIDERS:
            st.markdown(_("**Style dials** (first {shown} of {dimensions} dimensions)").format(shown=min(k, MAX_SLIDERS), dimensions=k))
        else:
            st.markdown(_("**Style dials**"))
        for i in range(min(k, MAX_SLIDERS)):
            if i % 2 == 0:
                dial_columns = st.columns(2)  # a row of two: on a phone they stack in order, z1, z2, z3, …
            dial_columns[i % 2].slider(
                f"z{i + 1}", -3.0, 3.0, step=0.1, key=f"dial{i}", help=_("Noise in this latent dimension, in prior standard deviations.")
            )
    links.publish(LINK)  # the address is a link to this digit


dials_and_digit()
noise = current_noise()

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
ui.show_digits(images, ncol=n_styles, scale=2, where=c2, download="samples.png", key="dl-grid")

st.divider()
st.subheader(_("Interpolate"))
frames = 10
c1, c2 = st.columns(2)
if model.uses_label:
    with c1:
        st.markdown(_("**Between two labels, same style**"))
        ends = ui.state.widget("interp_labels")
        if ends is not None and max(ends) >= len(names):
            ui.state.set_widget("interp_labels", (0, len(names) - 1))
        a, b = st.select_slider(
            _("From label … to label"), options=list(range(len(names))), value=(min(1, len(names) - 1), min(7, len(names) - 1)),
            format_func=lambda k: names[k], key="interp_labels",
        )  # fmt: skip
        images = model.interpolate_labels(a, b, noise, frames=frames, temperature=temperature)
        ui.show_digits(images, ncol=frames, scale=2, download="labels.png", key="dl-labels")
with c2:
    st.markdown(_("**Between two styles, same label**"))
    s = st.number_input(_("Styles seed"), 0, 10_000, 1, key="interp_seed")
    images = model.interpolate_styles(label, seed=s, frames=frames, temperature=temperature)
    ui.show_digits(images, ncol=frames, scale=2, download="styles.png", key="dl-styles")

if model.dials_note:
    st.info(_(model.dials_note))
