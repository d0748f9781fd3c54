"""The page frame every page shares: page set-up, the sidebar, and digits shown as crisp PNGs."""

import numpy as np
import streamlit as st

from cvae_core.images import as_array, grid, png_bytes

PAGES = [
    ("app.py", "Home", ":material/home:"),
    ("pages/1_Train.py", "Train", ":material/model_training:"),
    ("pages/2_Generate.py", "Generate", ":material/auto_awesome:"),
    ("pages/3_Draw.py", "Draw", ":material/draw:"),
    ("pages/4_Latent_space.py", "Latent space", ":material/scatter_plot:"),
    ("pages/5_Compare.py", "Compare", ":material/leaderboard:"),
    ("pages/6_Experiments.py", "Experiments", ":material/science:"),
]


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
    # Painted so far without torch. What follows imports it (seconds, the first time in a server).
    from .models import checkpoint_uploader, shipped_models
    from .training import heartbeat, warm_up

    with st.sidebar:
        _, refused = shipped_models()
        for name, why in refused.items():
            st.warning(f"Skipped checkpoint {name}: {why}")
        checkpoint_uploader()
        heartbeat()
    warm_up()  # the training process starts while the visitor reads


def stack_digits(images) -> np.ndarray:
    """One (N, 28, 28) array from a tensor or array of digits, or a list of them (each (28, 28) or (B, 28, 28))."""
    parts = images if isinstance(images, list | tuple) else [images]
    arrays = [as_array(p).reshape(-1, 28, 28) for p in parts]
    return np.concatenate(arrays)


def show_digits(images, ncol: int, scale: int = 3, caption: str | None = None, where=None, download: str | None = None, key=None):
    """A grid of digits (see stack_digits for what `images` may be) as one crisp PNG, with an optional download button."""
    data = digits_png(images, ncol, scale)
    (where or st).image(data, caption=caption)
    if download:
        (where or st).download_button(
            "Download PNG", data, file_name=download, mime="image/png", key=key, help="Save this grid as a PNG image."
        )
    return data


def digits_png(images, ncol: int, scale: int = 2) -> bytes:
    """A grid of digits as one PNG."""
    return png_bytes(grid(stack_digits(images), ncol), scale=scale)


def digit_png(image, scale: int = 8) -> bytes:
    """One digit as a PNG."""
    return png_bytes(stack_digits(image)[0], scale=scale)
