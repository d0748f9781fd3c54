"""What every page shares: page set-up, the sidebar model picker, and image display.

Pages import this module and stay short scripts of widgets and plots; the maths is in cvae_core.
"""

import os
from pathlib import Path

import streamlit as st
import torch

from cvae_core import checkpoint
from cvae_core.errors import CVAEError
from cvae_core.images import grid, png_bytes
from cvae_core.models import VARIANTS

ROOT = Path(__file__).resolve().parent
CHECKPOINTS = ROOT / "checkpoints"
PAGES = [
    ("app.py", "Home", ":material/home:"),
    ("pages/1_Train.py", "Train", ":material/model_training:"),
    ("pages/2_Generate.py", "Generate", ":material/auto_awesome:"),
    ("pages/3_Draw.py", "Draw", ":material/draw:"),
    ("pages/4_Latent_space.py", "Latent space", ":material/scatter_plot:"),
    ("pages/5_Compare.py", "Compare", ":material/leaderboard:"),
    ("pages/6_Experiments.py", "Experiments", ":material/science:"),
]

torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))


def setup_page(title: str, intro: str | None = None) -> None:
    """Page config, title, a one-paragraph explanation, and the shared sidebar."""
    st.set_page_config(page_title=f"{title} · CVAE Lab", page_icon=":material/blur_on:", layout="wide")
    st.title(title)
    if intro:
        st.markdown(intro)
    with st.sidebar:
        st.markdown("### CVAE Lab")
        st.caption("Conditional variational autoencoders on handwritten digits, trained live on a CPU.")
        # Our own links: Streamlit's list would name the home page after its file ("app").
        for path, label, icon in PAGES:
            st.page_link(path, label=label, icon=icon)
        _, refused = shipped_models()
        for name, why in refused.items():
            st.warning(f"Skipped checkpoint {name}: {why}")
        checkpoint_uploader()


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
        loaded = st.session_state.setdefault("uploaded_checkpoints", set())
        if (upload.name, upload.size) in loaded:
            st.caption(f"{upload.name} is loaded.")
            return
        try:
            ckpt = checkpoint.from_bytes(upload.getvalue())
        except CVAEError as e:
            st.error(f"Cannot load {upload.name}: {e}")
            return
        if ckpt.metadata.get("variant") not in VARIANTS:
            st.error(f"{upload.name} is not a CVAE model.")
            return
        name = Path(upload.name).stem[:60] or "uploaded"
        session_models()[name] = ckpt
        loaded.add((upload.name, upload.size))
        st.session_state["preferred_model"] = name
        st.success(f"Loaded {name} ({ckpt.model.name}); it is now in the model lists.")


@st.cache_resource(show_spinner="Loading the pretrained models…")
def shipped_models() -> tuple[dict, dict]:
    """The checkpoints in checkpoints/, loaded once per server and shared read-only by every session."""
    models, refused = checkpoint.load_folder(CHECKPOINTS)
    for ckpt in models.values():
        ckpt.model.eval().requires_grad_(False)
    return models, refused


def release_memory() -> None:
    """Hand freed memory back to the system after heavy work (glibc keeps it otherwise), so that many
    sessions on one server stay within bounds."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def server_memory_mb() -> float | None:
    """Resident memory of this server process in MB (Linux /proc; None elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def session_models() -> dict:
    """Models trained (or uploaded) in this browser session, by name."""
    return st.session_state.setdefault("session_models", {})


def all_models() -> dict:
    """Shipped models first, then this session's; the label says which is which."""
    shipped, _ = shipped_models()
    out = {f"{name} (pretrained)": ckpt for name, ckpt in shipped.items()}
    out.update({f"{name} (this session)": ckpt for name, ckpt in session_models().items()})
    return out


def model_picker(label: str = "Model", where=None, keep=lambda model: True, key: str = "model", help: str | None = None):
    """A select box of the available models that pass `keep`; returns (label, Checkpoint) or (None, None)."""
    options = {name: ckpt for name, ckpt in all_models().items() if keep(ckpt.model)}
    where = where or st.sidebar
    if not options:
        where.info("No model here can do this yet: train one on the Train page.")
        return None, None
    preferred = st.session_state.get("preferred_model")
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


def show_digits(images, ncol: int, scale: int = 3, caption: str | None = None, where=None, download: str | None = None, key=None):
    """A grid of digits as one crisp PNG, with an optional download button."""
    data = png_bytes(grid(images, ncol), scale=scale)
    (where or st).image(data, caption=caption)
    if download:
        (where or st).download_button(
            "Download PNG", data, file_name=download, mime="image/png", key=key, help="Save this grid as a PNG image."
        )
    return data


@st.cache_resource(show_spinner=False)
def test_digits():
    """The official MNIST test split when it is in the data root, else the offline held-out digits."""
    from cvae_core.data import OFFLINE, load_dataset
    from cvae_core.errors import DatasetError

    try:
        return load_dataset("mnist", "test", download=False)
    except DatasetError:
        return load_dataset(OFFLINE, "test")
