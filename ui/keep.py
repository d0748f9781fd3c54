"""The Train page's "Keep this model": a trained run's weights saved on the server (when saving is on and the data are
not the visitor's own) and downloaded as a checkpoint, a GIF of its training and a page that decodes in a browser."""

import streamlit as st

from cvae_core.errors import CVAEError
from cvae_core.storage import checkpoint

from . import state
from .i18n import _, error_text
from .models import model_store


def keep_panel(run, snap, trained) -> None:
    """The panel for `run` (a RunHandle) whose weights as they are now are `trained` (a frozen module)."""
    st.subheader(_("Keep this model"))
    meta = state.session_models().get(run.id)
    name_now = meta.name if meta is not None else "model"
    st.caption(_("It is already available on every page of this session as **{name} (this session)**.").format(name=name_now))
    full_meta = {**(meta.metadata if meta else {}), "train": run.summary(), "metrics": {"train": snap.progress.terms}}
    store = model_store()
    c1, c2 = st.columns([2, 1])
    if (meta.metadata if meta else {}).get("own_data"):
        c1.caption(_("A model of your own data is yours alone: it is never saved on this server. Download the checkpoint to keep it."))
    elif store.settings.enabled:
        name = c1.text_input(
            _("Name"), name_now, key=f"train_save_name:{run.id}",  # keyed by run: a language switch keeps what was typed
            help=_(
                "Letters, digits, '-', '_' and '.'. The model is saved on this server; other visitors see it, marked as saved by a visitor."
            ),
        )  # fmt: skip
        if c1.button(_("Save on this server"), icon=":material/save:"):
            try:
                path = store.save(trained, name, full_meta)
                st.success(_("Saved as {name}. Every visitor can now pick it, marked “saved by a visitor”.").format(name=path.stem))
            except CVAEError as e:
                st.error(_("Not saved: {reason} The download button works in any case.").format(reason=error_text(e)))
    else:
        c1.caption(_("Saving on the server is switched off here; download the checkpoint to keep it."))
    animation = run.animation() if run.makes_images else None
    if animation is not None:
        c2.download_button(
            _("Download the training as a GIF"), animation, file_name=f"{name_now}-training.gif", mime="image/gif", icon=":material/movie:",
            help=_("The sample grid sharpening as training went, the epoch in the corner of each frame: ready for a slide."),
        )  # fmt: skip
    c2.download_button(
        _("Download checkpoint"),
        checkpoint.to_bytes(trained, full_meta),
        file_name=f"{name_now}.safetensors",
        mime="application/octet-stream",
        icon=":material/download:",
        help=_("A safetensors file you can load here again (sidebar) or with `python -m cvae_core`."),
    )
    if trained.makes_images:
        from cvae_core.storage.webmodel import decoder_bytes

        from .decoder_view import offline_page

        classes = (meta.metadata if meta else {}).get("classes")
        c2.download_button(
            _("Download for the web"), data=lambda: offline_page(decoder_bytes(trained, classes), name_now),
            file_name=f"{name_now}.html", mime="text/html", icon=":material/public:",
            help=_("One .html file with this model and its dials: it opens in any browser, without a connection or this server."),
        )  # fmt: skip
