"""Where the test digits land in latent space, and what each region of it draws."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

import ui
from cvae_core.latent import project_codes
from ui import decoder_view, heavy, palette, pick
from ui.i18n import _
from ui.own_data import class_names, digits_for_model

ui.setup_page(
    _("Latent space"),
    _(
        "Each dot is a test digit, placed at the mean of q(z|x,y), its code in latent space, and coloured by its label. "
        "For a 2-D latent these are the coordinates themselves; larger latents are projected to 2-D (PCA keeps the directions of "
        "largest spread, t-SNE keeps neighbours together). Click a dot, or pick a test digit from the keyboard, to see the digit "
        "and how the model redraws it."
    ),
)
name, ckpt = ui.model_picker(keep=lambda m: m.makes_images)
if ckpt is None:
    st.stop()
model = ckpt.model
st.sidebar.markdown(ui.describe_model(ckpt))
data = digits_for_model(ckpt, ui.test_digits())  # a model of the visitor's own data: its held-out tenth
if data is None:
    st.info(_("This model knows other classes than these test digits, and its data set is not in this session."))
    st.stop()
c1, c2 = st.columns(2)
n = c1.select_slider(
    _("Test digits"), [500, 1000, 2000, 5000], value=2000, key="latent_n", help=_("More dots take longer to project with t-SNE.")
)
method = (
    "latent"
    if model.latent_dim == 2
    else c2.radio(_("Projection"), ["PCA", "t-SNE"], horizontal=True, key="latent_projection", help=_("Only for latents larger than 2."))
)


@st.cache_data(show_spinner=_("Encoding the test digits…"), max_entries=32)  # (defined on every run: in the visitor's language)
def embed(model_ref: str, n: int, method: str, _model, _data) -> np.ndarray:
    """2-D coordinates of the first n test digits, cached by the model's id and weights' version (a click
    does not recompute them; a model still training gets new ones as its weights change)."""
    return project_codes(_model, _data.subset(n), method)


if method == "t-SNE":  # seconds of the web server's CPU: bounded server-wide, redone at most every 30 s for a training model
    coords = heavy.throttled(ckpt.uid, n, lambda: embed(ckpt.ref, n, method, model, data))
else:
    coords = embed(ckpt.ref, n, method, model, data)
labels = data.labels[:n].numpy()
names = class_names(ckpt)
if model.uses_label:
    st.caption(
        _(
            "In a conditional model the label is given to the decoder, so z need not store it: colours that mix mean z holds the "
            "style (slant, width, thickness) and leaves the identity to y. The unconditional vae must put the identity in z, so its "
            "colours form clusters."
        )
    )
left, right = st.columns([3, 1])
if method == "latent":  # a 2-D model: the plane, the digit under the pointer and the decoded plane are drawn by the browser
    with left:
        st.caption(_("A grid over the latent plane, decoded below: how the model lays out handwriting (after Kingma & Welling, figure 4)."))
        buffer = decoder_view.model_buffer(ckpt.ref, model, tuple(names))
        start = {"label": min(4, len(names) - 1), "steps": 12, "span": 2.5}
        priors = model.label_priors()
        if priors is not None:  # the learned p(z|y), drawn as 2-sigma ellipses
            start["priors"] = {"mu": np.round(priors[0], 4).tolist(), "sigma": np.round(priors[1], 4).tolist()}
        picked = decoder_view.plane(buffer, coords, labels, start, mount=f"plane:{ckpt.uid}:{n}")
    if isinstance(picked, int) and not isinstance(picked, bool) and 0 <= picked < n:  # a browser can send anything
        ui.state.set_widget("latent_picked", int(picked))
    pointed = ui.state.widget("latent_picked")
    pointed = pointed if pointed is not None and pointed < n else None
else:
    axis = {"latent": ("z₁", "z₂"), "PCA": (_("PCA 1 of z"), _("PCA 2 of z")), "t-SNE": (_("t-SNE 1 of z"), _("t-SNE 2 of z"))}[method]
    fig = go.Figure()
    for c, class_name in enumerate(names):
        idx = np.flatnonzero(labels == c)
        colour, shape = palette.marker(c)  # beyond ten classes the shape tells them apart too
        fig.add_trace(
            go.Scattergl(
                x=coords[idx, 0], y=coords[idx, 1], mode="markers", name=class_name, customdata=idx,
                marker={"size": 6, "opacity": 0.8, "color": colour, "symbol": shape},
            )
        )  # fmt: skip
    priors = model.label_priors()
    if method == "latent" and priors is not None:  # the learned priors p(z|y) as 2-sigma ellipses
        for c, (x_line, y_line) in enumerate(ui.ellipses(*priors, n_sigma=2)):
            fig.add_trace(
                go.Scatter(
                    x=x_line,
                    y=y_line,
                    mode="lines",
                    line={"width": 1, "color": palette.NEUTRAL},
                    showlegend=c == 0,
                    name="p(z|y), 2σ",
                    hoverinfo="skip",
                )
            )
    fig.update_layout(height=560, xaxis_title=axis[0], yaxis_title=axis[1], legend_title=_("label"), margin={"t": 10}, dragmode="select")
    event = left.plotly_chart(fig, on_select="rerun", selection_mode=("points", "box", "lasso"), key="latent_plot", width="stretch")
    points = event.selection.points if event and event.selection else []
    pointed = None
    if points:  # the first dot clicked or boxed
        point = points[0]
        custom = point.get("customdata")
        if custom is not None:
            pointed = int(custom[0] if isinstance(custom, list) else custom)
        else:  # the index within its label's trace
            pointed = int(np.flatnonzero(labels == point["curve_number"])[point["point_index"]])

with right:
    shown = st.container()  # the digit, above the keyboard's way to one
    with st.expander(_("Pick a test digit from the keyboard")):  # plotly's dots need a pointer; the plane's, Enter
        keyed = pick.test_digit_picker(labels, names, key="latent_pick", side_by_side=False)
    sources = {"pointer": pointed, "keys": keyed}  # the dot pointed at, the digit picked: the one chosen last
    last = pick.newest("latent", sources)
    i = sources[last] if last is not None else None
with shown:
    if i is not None:
        x, y = data.images[i : i + 1], data.labels[i : i + 1]
        st.markdown(_("**Test digit #{index}**, label {label}").format(index=i, label=int(y)))
        ui.show_digits(
            [x, model.reconstruct(x, y if model.uses_label else None)], ncol=2, scale=4, caption=_("digit · reconstruction"),
            alt=_("Test digit #{index}, label {label}, and {model}'s reconstruction of it.").format(index=i, label=int(y), model=name),
        )  # fmt: skip
        if st.button(_("Open in Draw"), help=_("Classify and restyle this digit on the Draw page.")):
            ui.state.choose_digit(x)
            st.switch_page(ui.page("draw").file)
    else:
        st.info(_("Click a dot (or drag a box around some), or pick a test digit below, to see that digit and its reconstruction."))
