"""Draw, upload or pick a digit: see what the model sees, how every model reads it, and the same hand in every label."""

from collections import Counter

import numpy as np
import plotly.graph_objects as go
import streamlit as st

import ui
from cvae_core.errors import ImageError
from cvae_core.images import load_image, png_bytes, preprocessing_steps
from ui import pick
from ui.i18n import _, error_text
from ui.own_data import class_names

ui.setup_page(
    _("Draw"),
    _(
        "Draw a digit with the mouse (or a finger), upload a photo of one written on paper, or pick one of the test digits. "
        "It is prepared exactly as MNIST was: cropped to the ink, scaled to 20 pixels, placed in a 28×28 square and centred "
        "on its centre of mass. Then every model that can read digits says what it sees, and a generative model redraws "
        "your handwriting as every other digit."
    ),
)
draw_tab, upload_tab, pick_tab = st.tabs([_("Draw"), _("Upload a photo"), _("Pick a test digit")])
pictures, headings = {}, {}  # where a digit came from -> the digit, and the heading that says so

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
            pictures["draw"], headings["draw"] = np.asarray(data), _("**What the model sees** (from your drawing)")
    except Exception as e:  # the component needs a browser; tests and odd set-ups fall back to uploads
        st.info(_("The drawing canvas is not available here ({error}); upload a picture instead.").format(error=type(e).__name__))
    st.caption(_("Draw one digit, large, in the middle. Use the bin icon above the canvas to start again."))

with upload_tab:
    upload = st.file_uploader(
        _("A PNG or JPEG of one handwritten digit"),
        type=["png", "jpg", "jpeg", "gif", "bmp", "webp"],
        key="draw_upload",  # (a key, not the label, names it: the picture stays when the language changes)
        max_upload_size=10,  # MB; the reader refuses more before decoding (cvae_core.images.MAX_UPLOAD_BYTES)
        help=_("Dark ink on light paper or light on dark: both work. Crop it roughly to the digit for the best result."),
    )
    if upload is not None:
        try:
            pictures["upload"] = load_image(upload.getvalue())
            headings["upload"] = _("**What the model sees** (from '{file}')").format(file=upload.name)
        except ImageError as e:
            st.error(_("Cannot use this file: {reason}").format(reason=error_text(e)))

with pick_tab:  # the way in from the keyboard alone: a digit of the test set, by its class and its number
    tests = ui.test_digits()
    st.caption(
        _("A handwritten digit the models never trained on, from MNIST's 10,000 test digits: choose its class, then which one.")
        if pick.official(tests)
        else _(
            "MNIST's official test digits are not on this server, so these are the 500 offline digits held out from training "
            "(the shipped models never saw them either)."
        )
    )
    index = pick.test_digit_picker(tests.labels, list(tests.classes), key="draw_pick")
    if index is not None:
        label = tests.classes[int(tests.labels[index])]
        pick.show_test_digit(tests.images[index], index, label)
        pictures["pick"] = tests.images[index].view(28, 28).numpy()
        headings["pick"] = _("**What the model sees** (from test digit #{index}, labelled {label})").format(index=index, label=label)

reading_slot = st.empty()  # the models' verdict, right under the canvas: in view on a phone, where the chart is far below

# sent by the Latent space page, or drawn, uploaded, picked: the one the visitor gave last
pictures, headings["chosen"] = {"chosen": ui.state.chosen_digit(), **pictures}, _("**What the model sees** (from the chosen digit)")
source = pick.newest("draw", pictures)
if source is None:
    st.info(_("Draw a digit, upload a picture or pick a test digit to begin."))
    st.stop()
picture, seen_heading = pictures[source], headings[source]
STEP_CAPTIONS = {  # what each step of the preprocessing shows, by its name in cvae_core.images.preprocessing_steps
    "picture": _("the picture, in grey"),
    "paper": _("the paper's brightness around each point: light and shadow"),
    "ink": _("the ink: darker than the paper around it"),
    "digit ink": _("the digit: its largest piece(s), cropped"),
    "strokes": _("its strokes redrawn at MNIST's width"),
    "digit": _("28×28, centred: what the model sees"),
}
try:
    steps = preprocessing_steps(picture)
except ImageError as e:
    st.warning(_("{reason} Draw a digit, or upload a picture with a visible digit.").format(reason=error_text(e)))
    st.stop()
digit = steps["digit"]
with st.expander(_("How the picture became what the model sees"), expanded=source == "upload"):
    st.caption(
        _(
            "If a photo is misread, the step where the digit got lost shows why: too little light, a shadow across the digit, "
            "or another mark on the paper."
        )
    )
    for column, (name, image) in zip(st.columns(len(steps)), steps.items(), strict=True):
        column.image(
            png_bytes(image / max(float(image.max()), 1e-6) if name == "paper" else image),
            caption=STEP_CAPTIONS[name],
            width="stretch",
            output_format="PNG",
            alt=_("The picture's preprocessing, step: {step}.").format(step=STEP_CAPTIONS[name]),
        )

ui.state.set_last_digit(digit)  # the Experiments page can complete it
left, right = st.columns([1, 3])
with left:
    st.markdown(seen_heading)
    st.image(
        ui.digit_png(digit, scale=8), width=224, caption=_("28×28, as in MNIST"), output_format="PNG",
        alt=_("The digit as the models see it: 28 by 28 pixels, light ink on black."),
    )  # fmt: skip

readers = {choice.label: choice.checkpoint for choice in ui.all_models().values() if choice.checkpoint.model.uses_label}
with right:
    if not readers:
        st.info(_("No model that reads digits is loaded."))
    else:
        fig = go.Figure()
        verdicts, readings = [], []
        for name, ckpt in readers.items():
            probs = ckpt.model.read_digit(digit)
            classes = class_names(ckpt)  # the digits, or the classes of a model of the visitor's own data
            readings.append(classes[int(probs.argmax())])
            fig.add_trace(go.Bar(name=name, x=classes, y=probs))
            if ckpt.model.classifies:
                verdict = _("**{model}** reads **{digit}** ({probability:.0%}) using its own classifier")
            else:
                verdict = _("**{model}** reads **{digit}** ({probability:.0%}) using Bayes' rule, p(x|y) for each label")
            verdicts.append(verdict.format(model=name, digit=classes[int(probs.argmax())], probability=probs.max()))
        fig.update_layout(
            barmode="group",
            height=320,
            yaxis_title=_("probability"),
            xaxis_title=_("digit"),
            margin={"t": 10, "b": 10},
            legend={"orientation": "h", "y": -0.25},
            xaxis={"type": "category"},  # every digit labelled (numeric-looking names would make a linear axis, ticks 0, 2, 4…)
        )
        st.plotly_chart(fig, width="stretch")
        st.markdown("  \n".join(verdicts))
        votes = Counter(readings)
        digit_read, n = votes.most_common(1)[0]
        if n == len(readings):
            reading_slot.success(
                _("**Read as {digit}** by {votes} of {models} models").format(digit=digit_read, votes=n, models=len(readings))
            )
        else:
            others = ", ".join(str(d) for d in sorted(votes) if d != digit_read)
            reading_slot.success(
                _("**Read as {digit}** by {votes} of {models} models (others: {other_digits})").format(
                    digit=digit_read, votes=n, models=len(readings), other_digits=others
                )
            )

st.subheader(_("Your handwriting, every digit"))
st.caption(
    _(
        "The digit is encoded with q(z|x,y) under the label the model reads, and z, the style, is decoded with each of the ten labels. "
        "The first image is the reconstruction."
    )
)
name, ckpt = ui.model_picker(_("Model that redraws"), where=st, keep=lambda m: m.makes_images and m.uses_label, key="restyle_model")
if ckpt is not None:
    label, images = ckpt.model.redraw_as_every_label(digit)
    classes = class_names(ckpt)
    ui.show_digits(
        images,
        ncol=1 + len(classes),
        scale=3,
        caption=_("reconstruction (as {digit}), then {first} … {last}").format(
            digit=classes[int(label)], first=classes[0], last=classes[-1]
        ),
        download="restyled.png",
        key="dl-restyle",
        alt=_("Your digit redrawn by {model}: its reconstruction as {digit}, then as each of {first} to {last}.").format(
            model=name, digit=classes[int(label)], first=classes[0], last=classes[-1]
        ),
    )
