"""The Train page's own data set, uploaded (with a polarity switch and a preview of each class with its count) or drawn
on a canvas, a few examples a class.

The set lives in this visitor's session only (ui.state), is read by cvae_core.own_data (every bound checked before the
work), travels with a run to the training process and is dropped with it; nothing is written to disk."""

import numpy as np
import streamlit as st

from cvae_core.errors import CVAEError

from . import state
from .frame import show_digits
from .i18n import N_, _, error_text

UPLOAD_LIMIT_MB = 50  # cvae_core.own_data.MAX_ARCHIVE_BYTES, and the server's maxUploadSize


SOURCES = {"upload": N_("upload a zip or .npz"), "draw": N_("draw it here")}


def own_data_panel():
    """The visitor's own data set, uploaded or drawn; returns the session's OwnData, or None until there is one."""
    source = st.radio(
        _("Your data"), list(SOURCES), format_func=lambda s: _(SOURCES[s]), horizontal=True, key="train_own_source",
        help=_("Upload a set of images, or name a few classes and draw five or more examples of each."),
    )  # fmt: skip
    return upload_panel() if source == "upload" else drawing_panel()


def upload_panel():
    """Widgets for uploading a data set; returns the session's OwnData, or None until a good one is uploaded."""
    from cvae_core.own_data import MAX_ARCHIVE_BYTES, MAX_CLASSES, MAX_IMAGES, MIN_PER_CLASS, read_own_data

    upload = st.file_uploader(
        _("Your data set: a .zip of one folder per class, or an .npz"), type=["zip", "npz"], key="train_own_upload",
        max_upload_size=UPLOAD_LIMIT_MB,
        help=_(
            "A zip with one folder per class (the folder's name is the class's name; PNG, JPEG, BMP or WebP), or an .npz with "
            "images (N × H × W, uint8), labels and optionally classes. Up to {images:,} images, {classes} classes, {mb} MB; at "
            "least 2 classes with {minimum} images each."
        ).format(images=MAX_IMAGES, classes=MAX_CLASSES, mb=UPLOAD_LIMIT_MB, minimum=MIN_PER_CLASS),
    )  # fmt: skip
    if upload is None:
        state.forget_own_data()
        return None
    flip = st.toggle(
        _("Flip light and dark"), key="train_own_flip",
        help=_("The app decides from the images' borders whether strokes are dark on light paper; flip it if the preview shows the background as ink."),
    )  # fmt: skip
    held = state.own_data()
    if held is None or held[0][0] != upload.file_id:
        if upload.size > MAX_ARCHIVE_BYTES:  # checked on the server too: the widget's limit is the browser's
            st.error(
                _("{file} is {size_mb:.1f} MB; the limit is {limit_mb} MB.").format(
                    file=upload.name, size_mb=upload.size / 1e6, limit_mb=UPLOAD_LIMIT_MB
                )
            )
            return None
        busy = st.empty()
        try:
            with st.spinner(_("Reading {file}…").format(file=upload.name)):
                own = read_own_data(
                    upload.getvalue(), upload.name,
                    waiting=lambda: busy.info(_("The server is reading other visitors' files; yours starts in a few seconds.")),
                )  # fmt: skip
            held = ((upload.file_id, False), upload.name, own)
        except CVAEError as e:
            state.forget_own_data()
            st.error(_("Cannot use {file}: {reason}").format(file=upload.name, reason=error_text(e)))
            return None
        finally:
            busy.empty()
    if held[0][1] != flip:  # both polarities were made while the file was read: a flip reads nothing again
        try:
            held = ((upload.file_id, flip), held[1], held[2].flipped())
        except CVAEError as e:
            st.error(_("Cannot flip {file}: {reason}").format(file=upload.name, reason=error_text(e)))
            return None
    if held is not state.own_data():
        state.keep_own_data(*held)
    _key, name, own = held
    preview(name, own)
    return own


def preview(name: str, own) -> None:
    """Each class: its name, its count, and its first images as the model will see them."""
    counts = own.counts()
    st.markdown(
        _(
            "**{name}**: {images:,} images in {classes} classes. A tenth of each class is held out for testing and another for validation."
        ).format(name=name, images=sum(counts), classes=len(own.classes))
    )
    if own.skipped:
        shown = ", ".join(own.skipped[:5]) + (" …" if len(own.skipped) > 5 else "")
        st.caption(_("Skipped, not images: {files}").format(files=shown))
    for label, (cls, count) in enumerate(zip(own.classes, counts, strict=True)):
        first = own.images[own.labels == label][:12] / 255.0
        show_digits(
            first, ncol=12, scale=2, caption=_("{name}: {count} images").format(name=cls, count=count),
            alt=_("The first images of your class {name}, as the model will see them.").format(name=cls),
        )  # fmt: skip


def class_names(ckpt) -> list[str]:
    """The names of a model's labels: its data set's classes, or the digits."""
    n = getattr(ckpt.model.config, "n_classes", 10)
    names = ckpt.metadata.get("classes") if ckpt is not None else None
    return list(names) if names and len(names) == n else [str(k) for k in range(n)]


def digits_for_model(ckpt, default):
    """The digits to show a model with: the held-out tenth of this session's own data set for a model trained on it
    (the same classes), else `default` (the test digits), or None for a model of other classes whose data set this
    session does not hold (an uploaded checkpoint of someone's own data)."""
    from cvae_core.data import own_dataset

    held = state.own_data()
    if ckpt is not None and ckpt.metadata.get("own_data") and held is not None:
        _key, name, own = held
        if list(own.classes) == list(ckpt.metadata.get("classes", [])):
            return own_dataset(own, "test", name=name)
    n_classes = getattr(ckpt.model.config, "n_classes", 10) if ckpt is not None else 10
    if default is not None and getattr(ckpt.model, "uses_label", False) and n_classes != len(default.classes):
        return None  # a model of other classes (its data set is not in this session): nothing to show it with
    return default


def drawing_panel():
    """Name 2 to 10 classes, draw at least five examples of each on the canvas, and the drawings (each augmented into
    many) become the data set; returns it, or None until every class has enough."""
    from cvae_core.images import preprocess_digit
    from cvae_core.own_data import AUGMENTED_COPIES, MAX_DRAWINGS_PER_CLASS, MAX_DRAWN_CLASSES, from_drawings

    text = st.text_input(
        _("Class names, separated by commas"), "circle, cross", key="train_draw_classes", max_chars=200,
        help=_("From 2 to {n} classes: what you will draw, one name each.").format(n=MAX_DRAWN_CLASSES),
    )  # fmt: skip
    names = list(dict.fromkeys(n.strip()[:24] for n in text.split(",") if n.strip()))[:MAX_DRAWN_CLASSES]
    if len(names) < 2:
        st.info(_("Name at least two classes."))
        return None
    kept = state.drawings()
    canvas_column, preview_column = st.columns([1, 1])
    with canvas_column:
        current = st.radio(_("Now drawing"), names, horizontal=True, key="train_draw_current")  # one is always chosen
        try:
            from streamlit_drawable_canvas import st_canvas

            drawn = st_canvas(
                stroke_width=18, stroke_color="#FFFFFF", background_color="#000000", height=240, width=240, drawing_mode="freedraw",
                return_image_data=True, key=f"train_draw_canvas:{sum(len(v) for v in kept.values())}",  # a new canvas after each drawing kept
            )  # fmt: skip
            image = getattr(drawn, "image_data", None)
        except Exception as e:  # noqa: BLE001 -- the component needs a browser
            st.info(_("The drawing canvas is not available here ({error}); upload a picture instead.").format(error=type(e).__name__))
            image = None
        if st.button(_("Add this drawing to {name}").format(name=current), icon=":material/add:", key="train_draw_add"):
            if image is None or np.asarray(image)[..., :3].max() == 0:
                st.warning(_("Draw something first."))
            elif not state.add_drawing(current, preprocess_digit(np.asarray(image)), MAX_DRAWINGS_PER_CLASS, MAX_DRAWN_CLASSES):
                st.warning(_("{name} has {n} drawings, as many as a class may.").format(name=current, n=MAX_DRAWINGS_PER_CLASS))
            st.rerun()
        if kept and st.button(_("Start the drawings again"), icon=":material/delete:", key="train_draw_clear"):
            state.clear_drawings()
            state.forget_own_data()
            st.rerun()
    with preview_column:
        for name in names:
            count = len(kept.get(name, []))
            st.markdown(_("**{name}**: {count} of at least {minimum}").format(name=name, count=count, minimum=5))
            if count:
                show_digits(
                    np.stack(kept[name][-10:]), ncol=min(10, count), scale=2,
                    alt=_("Your last drawings of the class {name}.").format(name=name),
                )  # fmt: skip
    if any(len(kept.get(name, [])) < 5 for name in names):
        return None
    key = ("drawn", tuple(names), tuple(len(kept[n]) for n in names))
    held = state.own_data()
    if held is None or held[0] != key:
        try:
            own = from_drawings({name: kept[name] for name in names})
        except CVAEError as e:
            st.error(error_text(e))
            return None
        state.keep_own_data(key, _("your drawings"), own)
        held = state.own_data()
    st.success(_("Ready: {n} images from your drawings (each drawn once and varied {copies} times). Press Start.").format(
        n=len(held[2].labels), copies=AUGMENTED_COPIES))  # fmt: skip
    return held[2]


def own_reader() -> dict:
    """Label fidelity for this session's own data set: a small CNN trained on its training part (the digit classifiers
    know only digits), kept in the session with the set. {} without a set."""
    held = state.own_data()
    if held is None:
        return {}
    key, name, own = held
    kept = state.own_reader()
    if kept is None or kept[0] != key:
        from cvae_core.data import own_dataset
        from cvae_core.training.recipe import train_classifier

        from .heavy import job

        with job(), st.spinner(_("Training a classifier of your data set, to read the samples…")):
            kept = (key, train_classifier(own_dataset(own, "train", name=name), epochs=10, seed=0))
        state.keep_own_reader(*kept)
    return {"label_fidelity": kept[1]}
