"""Draw or upload a digit: see what the model sees, how every model reads it, and the same hand in every label."""

from collections import Counter

import numpy as np
import plotly.graph_objects as go
import streamlit as st

import ui
from cvae_core.errors import ImageError
from cvae_core.images import load_image, png_bytes, preprocessing_steps

ui.setup_page(
    "Draw",
    "Draw a digit with the mouse (or a finger), or upload a photo of one written on paper. It is prepared exactly as MNIST "
    "was: cropped to the ink, scaled to 20 pixels, placed in a 28×28 square and centred on its centre of mass. Then every "
    "model that can read digits says what it sees, and a generative model redraws your handwriting as every other digit.",
)
draw_tab, upload_tab = st.tabs(["Draw", "Upload a photo"])
picture, source = None, None

with draw_tab:
    try:
        from streamlit_drawable_canvas import st_canvas

        result = st_canvas(
            stroke_width=22,
            stroke_color="#FFFFFF",
            background_color="#000000",
            height=280,
            width=280,
            drawing_mode="freedraw",
            return_image_data=True,
            key="canvas",
        )
        data = getattr(result, "image_data", None)
        if data is not None and np.asarray(data)[..., :3].max() > 0:
            picture, source = np.asarray(data), "your drawing"
    except Exception as e:  # the component needs a browser; tests and odd set-ups fall back to uploads
        st.info(f"The drawing canvas is not available here ({type(e).__name__}); upload a picture instead.")
    st.caption("Draw one digit, large, in the middle. Use the bin icon above the canvas to start again.")

with upload_tab:
    upload = st.file_uploader(
        "A PNG or JPEG of one handwritten digit",
        type=["png", "jpg", "jpeg", "gif", "bmp", "webp"],
        help="Dark ink on light paper or light on dark: both work. Crop it roughly to the digit for the best result.",
    )
    if upload is not None:
        try:
            picture, source = load_image(upload.getvalue()), f"'{upload.name}'"
        except ImageError as e:
            st.error(f"Cannot use this file: {e}")

reading_slot = st.empty()  # the models' verdict, right under the canvas: in view on a phone, where the chart is far below

if picture is None and ui.state.chosen_digit() is not None:  # sent by the Latent space page
    picture, source = ui.state.chosen_digit(), "the chosen digit"
if picture is None:
    st.info("Draw a digit or upload a picture to begin.")
    st.stop()
STEP_CAPTIONS = {  # what each step of the preprocessing shows (cvae_core.images.preprocessing_steps)
    "picture": "the picture, in grey",
    "paper": "the paper's brightness around each point: light and shadow",
    "ink": "the ink: darker than the paper around it",
    "digit ink": "the digit: its largest piece(s), cropped",
    "strokes": "its strokes redrawn at MNIST's width",
    "digit": "28×28, centred: what the model sees",
}
try:
    steps = preprocessing_steps(picture)
except ImageError as e:
    st.warning(f"{e} Draw a digit, or upload a picture with a visible digit.")
    st.stop()
digit = steps["digit"]
with st.expander("How the picture became what the model sees", expanded=upload is not None):
    st.caption("If a photo is misread, the step where the digit got lost shows why: too little light, a shadow across the digit, or another mark on the paper.")
    for column, (name, image) in zip(st.columns(len(steps)), steps.items(), strict=True):
        column.image(png_bytes(image / max(float(image.max()), 1e-6) if name == "paper" else image), caption=STEP_CAPTIONS[name], width="stretch")

ui.state.set_last_digit(digit)  # the Experiments page can complete it
left, right = st.columns([1, 3])
with left:
    st.markdown(f"**What the model sees** (from {source})")
    st.image(ui.digit_png(digit, scale=8), width=224, caption="28×28, as in MNIST")

readers = {choice.label: choice.checkpoint for choice in ui.all_models().values() if choice.checkpoint.model.uses_label}
with right:
    if not readers:
        st.info("No model that reads digits is loaded.")
    else:
        fig = go.Figure()
        verdicts, readings = [], []
        for name, ckpt in readers.items():
            probs = ckpt.model.read_digit(digit)
            readings.append(int(probs.argmax()))
            fig.add_trace(go.Bar(name=name, x=[str(c) for c in range(len(probs))], y=probs))
            how = "its own classifier" if ckpt.model.classifies else "Bayes' rule, p(x|y) for each label"
            verdicts.append(f"**{name}** reads **{int(probs.argmax())}** ({probs.max():.0%}) using {how}")
        fig.update_layout(
            barmode="group",
            height=320,
            yaxis_title="probability",
            xaxis_title="digit",
            margin={"t": 10, "b": 10},
            legend={"orientation": "h", "y": -0.25},
            xaxis={"type": "category"},  # every digit labelled (numeric-looking names would make a linear axis, ticks 0, 2, 4…)
        )
        st.plotly_chart(fig, width="stretch")
        st.markdown("  \n".join(verdicts))
        votes = Counter(readings)
        digit_read, n = votes.most_common(1)[0]
        reading_slot.success(f"**Read as {digit_read}** by {n} of {len(readings)} models" + ("" if n == len(readings) else f" (others: {', '.join(str(d) for d in sorted(votes) if d != digit_read)})"))

st.subheader("Your handwriting, every digit")
st.caption(
    "The digit is encoded with q(z|x,y) under the label the model reads, and z, the style, is decoded with each of the ten labels. "
    "The first image is the reconstruction."
)
name, ckpt = ui.model_picker("Model that redraws", where=st, keep=lambda m: m.makes_images and m.uses_label, key="restyle_model")
if ckpt is not None:
    label, images = ckpt.model.redraw_as_every_label(digit)
    ui.show_digits(images, ncol=11, scale=3, caption=f"reconstruction (as {label}), then 0 … 9", download="restyled.png", key="dl-restyle")
