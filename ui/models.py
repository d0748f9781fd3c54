"""The models a session can use: the shipped ones (loaded once per server, shared read-only), the
session's own, the sidebar's checkpoint uploader and the model pickers."""

from pathlib import Path

import streamlit as st

from cvae_core import checkpoint
from cvae_core.errors import CVAEError
from cvae_core.models import VARIANTS

from . import state

CHECKPOINTS = checkpoint.SHIPPED


@st.cache_resource(show_spinner="Loading the pretrained models…")
def shipped_models() -> tuple[dict, dict]:
    """The checkpoints in checkpoints/, loaded once per server and shared read-only by every session."""
    models, refused = checkpoint.load_folder(CHECKPOINTS)
    for ckpt in models.values():
        ckpt.model.eval().requires_grad_(False)
    return models, refused


@st.cache_resource(show_spinner=False)
def fidelity_classifiers() -> dict:
    """The independent classifiers behind label fidelity, by figure key (those that are shipped)."""
    return {key: checkpoint.load(path).model for key, path in checkpoint.FIDELITY_CLASSIFIERS.items() if path.exists()}


@st.cache_resource(show_spinner=False)
def test_digits():
    """The official MNIST test split when it is in the data root, else the offline held-out digits."""
    from cvae_core.data import OFFLINE, load_dataset
    from cvae_core.errors import DatasetError

    try:
        return load_dataset("mnist", "test", download=False)
    except DatasetError:
        return load_dataset(OFFLINE, "test")


def add_session_model(name: str, ckpt: checkpoint.Checkpoint, prefer: bool = True) -> None:
    """Make a model available on every page of this session (and, with prefer, open pages on it)."""
    state.session_models()[name] = ckpt
    if prefer:
        state.prefer_model(name)


def all_models() -> dict:
    """Shipped models first, then this session's; the label says which is which."""
    shipped, _ = shipped_models()
    out = {f"{name} (pretrained)": ckpt for name, ckpt in shipped.items()}
    out.update({f"{name} (this session)": ckpt for name, ckpt in state.session_models().items()})
    return out


def checkpoint_uploader() -> None:
    """Load a checkpoint file into this session, through the one checkpoint loader (nothing is unpickled)."""
    with st.expander("Load a checkpoint"):
        upload = st.file_uploader(
            "A .safetensors file from CVAE Lab",
            type=["safetensors"],
            key="checkpoint_upload",
            help="Checkpoints downloaded from the Train page or made with `python -m cvae_core train`.",
        )
        if upload is None:
            return
        loaded = st.session_state.setdefault("uploaded_checkpoints", set())  # upload ids: two files may share a name
        if upload.file_id in loaded:
            st.caption(f"{upload.name} is loaded.")
            return
        try:
            ckpt = checkpoint.from_bytes(upload.getvalue())
        except CVAEError as e:
            st.error(f"Cannot load {upload.name}: {e}")
            return
        if not ckpt.is_generative_model:
            st.error(f"{upload.name} is not a CVAE model.")
            return
        name = Path(upload.name).stem[:60] or "uploaded"
        add_session_model(name, ckpt)
        loaded.add(upload.file_id)
        st.success(f"Loaded {name} ({ckpt.model.name}); it is now in the model lists.")


def model_picker(label: str = "Model", where=None, keep=lambda model: True, key: str = "model", help: str | None = None):
    """A select box of the available models that pass `keep`; returns (label, Checkpoint) or (None, None)."""
    options = {name: ckpt for name, ckpt in all_models().items() if keep(ckpt.model)}
    where = where or st.sidebar
    if not options:
        where.info("No model here can do this yet: train one on the Train page.")
        return None, None
    preferred = state.preferred_model()
    default = next((i for i, name in enumerate(options) if preferred and name == f"{preferred} (this session)"), 0)
    if preferred and st.session_state.get(f"picked-{key}") != preferred and options.get(f"{preferred} (this session)"):
        st.session_state[key] = f"{preferred} (this session)"  # a model just trained or loaded: show it
        st.session_state[f"picked-{key}"] = preferred
    name = where.selectbox(
        label,
        list(options),
        index=default,
        key=key,
        help=help or "Pretrained models ship with the app; models you train on the Train page appear here too.",
    )
    return name, options[name]


def describe_model(ckpt) -> str:
    meta, model = ckpt.metadata, ckpt.model
    cls = VARIANTS[model.name]
    test = meta.get("metrics", {}).get("test", {})
    figures = f" · test ELBO {test['elbo']:.1f} nats" if "elbo" in test else ""
    return f"**{cls.title}** · latent size {model.latent_dim} · {model.config.arch.upper()}{figures}"
