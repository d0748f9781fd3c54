"""The sidebar's checkpoint uploader. It draws without torch: torch and the checkpoint loader load when a file comes."""

from pathlib import Path

import streamlit as st

from cvae_core.errors import CVAEError

from . import state
from .i18n import _, error_text

UPLOAD_LIMIT_MB = 10  # a checkpoint of the largest variant the Train page makes weighs a few MB


def checkpoint_uploader() -> None:
    """Load a checkpoint file into this session, through the one checkpoint loader (nothing is unpickled)."""
    with st.expander(_("Load a checkpoint")):
        upload = st.file_uploader(
            _("A .safetensors file from CVAE Lab"),
            type=["safetensors"],
            key="checkpoint_upload",
            max_upload_size=UPLOAD_LIMIT_MB,
            help=_("Checkpoints downloaded from the Train page or made with `python -m cvae_core train`."),
        )
        if upload is None:
            return
        if upload.size > UPLOAD_LIMIT_MB * 1024 * 1024:  # the server takes data sets of 50 MB; checkpoints stay at 10
            st.error(
                _("{file} is {size_mb:.1f} MB; the limit is {limit_mb} MB.").format(
                    file=upload.name, size_mb=upload.size / 1e6, limit_mb=UPLOAD_LIMIT_MB
                )
            )
            return
        loaded = state.uploaded_checkpoints()
        if upload.file_id in loaded:
            st.caption(_("{file} is loaded.").format(file=upload.name))
            return
        from cvae_core.storage import checkpoint  # here, not above: these import torch

        from .models import add_session_model

        try:
            ckpt = checkpoint.from_bytes(upload.getvalue())
        except CVAEError as e:
            st.error(_("Cannot load {file}: {reason}").format(file=upload.name, reason=error_text(e)))
            return
        if not ckpt.is_generative_model:
            st.error(_("{file} is not a CVAE model.").format(file=upload.name))
            return
        name = Path(upload.name).stem[:60] or "uploaded"
        add_session_model(name, ckpt)
        loaded.add(upload.file_id)
        st.success(_("Loaded {name} ({variant}); it is now in the model lists.").format(name=name, variant=ckpt.model.name))
