"""Train a variant live: settings, Start / Stop / Resume, progress, curves and samples as they improve."""

import time

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import ui
from cvae_core import checkpoint
from cvae_core.data import DATASETS, OFFLINE, hide_labels, load_dataset
from cvae_core.defaults import model_defaults, training_defaults
from cvae_core.engine import TrainConfig, Trainer
from cvae_core.errors import CVAEError, TrainingError
from cvae_core.models import VARIANTS, ModelConfig, build_model

SLICE_SECONDS = 0.6  # training per refresh; the rest of each refresh draws
REFRESH_SECONDS = 0.8
SAMPLES_EVERY = 2.0  # seconds between new sample grids

ui.setup_page(
    "Train",
    "Pick a variant and press **Start**. The model learns from handwritten digits a slice at a time: the curves show its "
    "evidence lower bound (ELBO, higher is better) split into *reconstruction* (how well it redraws a digit) and *KL* (how "
    "much information it keeps in its latent code z), and the grid below draws one row per label from the model as it is now.",
)
state = st.session_state

# ---- settings -----------------------------------------------------------------------------------
running = state.get("train_running", False)
with st.expander("Settings", expanded=not running and "trainer" not in state):
    c1, c2, c3, c4 = st.columns(4)
    variant = c1.selectbox(
        "Variant", list(VARIANTS), index=list(VARIANTS).index(model_defaults()["variant"]), format_func=lambda v: VARIANTS[v].title,
        help="Which graphical model to train; the Home page explains each one.",
    )  # fmt: skip
    model_default, train_default = model_defaults(variant), training_defaults(variant)  # the CLI's defaults too
    dataset = c2.selectbox(
        "Data set", [d for d in DATASETS if d != "auto"], index=0,
        help="mnist-5k: 5,000 real MNIST digits that ship with the app (works offline). The others are downloaded when the network allows.",
    )  # fmt: skip
    latent_dim = c3.select_slider(
        "Latent size", [2, 4, 8, 16, 32, 64], value=model_default["latent_dim"],
        help="Dimensions of z. 2 can be plotted directly; 16 draws sharper digits.",
    )  # fmt: skip
    arch = c4.radio("Network", ["mlp", "conv"], horizontal=True, help="MLP is fast on a laptop CPU; conv (convolutional) is slower.")
    c1, c2, c3, c4 = st.columns(4)
    budget_kind = c1.radio("Stop after", ["epochs", "seconds"], horizontal=True, help="A number of passes over the data, or a time budget.")
    if budget_kind == "epochs":
        epochs = c2.number_input("Epochs", 1, 500, int(train_default["epochs"]), help="Passes over the training digits.")
        seconds = None
    else:
        seconds = c2.number_input("Seconds", 5, 3600, 30, help="Training time, not counting drawing.")
        epochs = None
    lr = c3.select_slider(
        "Learning rate", [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2], value=train_default["lr"],
        help="Step size of Adam. Too high and training diverges (the app stops it and keeps the last good weights).",
    )  # fmt: skip
    seed = c4.number_input("Seed", 0, 2**31 - 1, train_default["seed"], help="Same seed and settings, same result.")
    c1, c2, c3, c4 = st.columns(4)
    beta = c1.slider(
        "β (KL weight)", 0.0, 4.0, model_default["beta"], 0.1,
        help="1 is the true ELBO. Above 1 the code z is squeezed (smoother samples, blurrier reconstructions).",
    )  # fmt: skip
    kl_start = c2.slider(
        "KL weight at the start", 0.0, 8.0, train_default["kl_start"], 0.5,
        help="The KL weight moves from this value to β during the warm-up. Above 1, z is squeezed early, so the decoder learns to "
        "rely on the label y and samples match their label more often. 0 is the classic warm-up against posterior collapse.",
    )  # fmt: skip
    warmup = c2.slider("Warm-up (epochs)", 0.0, 60.0, train_default["warmup_epochs"], 0.5, help="How long the KL weight takes to reach β.")
    labels = c3.select_slider(
        "Labelled digits (m2)", [100, 600, 1000, 3000, "all"], value=100, disabled=variant != "m2",
        help="m2 learns from a few labelled digits and the rest unlabelled.",
    )  # fmt: skip
    hidden = c4.select_slider("Hidden width", [128, 256, 512, 1024], value=model_default["hidden"], help="Units per hidden layer.")

# ---- buttons ------------------------------------------------------------------------------------
trainer: Trainer | None = state.get("trainer")
b1, b2, b3, _ = st.columns([1, 1, 1, 5])
start = b1.button("Start", type="primary", icon=":material/play_arrow:", disabled=running, help="Train a new model with these settings.")
stop = b2.button("Stop", icon=":material/stop:", disabled=not running, help="Pause training; the model so far is kept and usable.")
resume = b3.button(
    "Resume", icon=":material/resume:", disabled=running or trainer is None or trainer.done, help="Continue where you stopped."
)


def register(trainer: Trainer) -> None:
    """Make the model as it is now available on every page of this session (they open on it)."""
    meta = state["train_meta"]
    ui.add_session_model(meta["name"], checkpoint.Checkpoint(trainer.model.eval(), {**meta, "train": trainer.summary()}))
    ui.release_memory()


if start:
    try:
        train = load_dataset(dataset, "train")
        test = load_dataset(OFFLINE, "test") if dataset == OFFLINE else load_dataset(dataset, "test")
        if variant == "m2" and labels != "all":
            train = train.with_labels(hide_labels(train.labels, int(labels), seed=seed))
        chosen_model = {"variant": variant, "latent_dim": latent_dim, "arch": arch, "hidden": hidden, "beta": beta}
        model = build_model(ModelConfig(**{**model_default, **chosen_model}), seed=seed)
        chosen = {"epochs": epochs, "lr": lr, "seed": seed, "warmup_epochs": warmup, "kl_start": kl_start}
        config = TrainConfig(**{**train_default, **chosen}, max_seconds=seconds)
        state["trainer"] = Trainer(model, train, test, config)
        ui.track_trainer(state["trainer"])
        run_number = state.get("run_number", 0) + 1
        state["run_number"] = run_number
        state["train_meta"] = {
            "name": f"{variant}-run{run_number}",
            "dataset": train.name,
            "seed": seed,
            "labels": None if labels == "all" or variant != "m2" else int(labels),
        }
        state["train_samples"] = None
        state["train_error"] = None
        state["train_running"] = True
        st.rerun()
    except CVAEError as e:
        st.error(f"Cannot start: {e}")
if stop and trainer is not None:
    state["train_running"] = False
    register(trainer)
    st.rerun()
if resume and trainer is not None:
    state["train_running"] = True
    st.rerun()


# ---- live panel ---------------------------------------------------------------------------------
def curves(history: list[dict]) -> go.Figure:
    fig = make_subplots(rows=1, cols=3, subplot_titles=("ELBO ↑", "Reconstruction ↑", "KL"))
    for split, dash in (("train", "solid"), ("test", "dot")):
        rows = [h for h in history if h["split"] == split]
        for col, key in enumerate(("elbo", "recon", "kl"), start=1):
            fig.add_trace(
                go.Scatter(
                    x=[h["epoch"] for h in rows],
                    y=[h[key] for h in rows],
                    name=split,
                    legendgroup=split,
                    showlegend=col == 1,
                    line={"dash": dash, "color": "#1f77b4" if split == "train" else "#d62728"},
                ),
                row=1,
                col=col,
            )
            fig.update_xaxes(title_text="epoch", row=1, col=col)
    fig.update_yaxes(title_text="nats per digit", row=1, col=1)
    fig.update_layout(height=300, margin={"t": 40, "b": 10, "l": 10, "r": 10}, legend={"orientation": "h", "y": -0.3})
    return fig


def samples(trainer: Trainer):
    """The grid under the curves: one row per label, the same eight styles in every row (None for cvae3)."""
    model = trainer.model
    return model.label_grid(8, seed=state["train_meta"]["seed"]) if model.makes_images else None


@st.fragment(run_every=REFRESH_SECONDS if running else None)
def live_panel():
    trainer: Trainer | None = state.get("trainer")
    if trainer is None:
        st.info("Press **Start** to train with the settings above. The defaults draw recognisable digits within about 20 seconds.")
        return
    if state.get("train_running") and not trainer.done:
        try:
            trainer.run(max_seconds=SLICE_SECONDS)
        except TrainingError as e:
            state["train_error"] = str(e)
        if trainer.done:
            state["train_running"] = False
            register(trainer)
            st.rerun(scope="app")
    if state.get("train_error"):
        st.error(state["train_error"])
    p = trainer.progress
    total = f" of {trainer.config.epochs:g}" if trainer.config.epochs else ""
    eta = f" · about {p.eta:.0f} s left" if p.eta is not None and not p.done else ""
    status = "done" if p.done else ("training" if state.get("train_running") else "paused")
    st.progress(p.fraction, text=f"{status} · epoch {p.epoch:.1f}{total} · {p.samples_per_sec:,.0f} digits/s on {p.device}{eta}")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(
        "ELBO (train)", f"{p.terms.get('elbo', float('nan')):.1f}", help="Nats per digit, averaged over the last slice. Higher is better."
    )
    m2.metric("Reconstruction", f"{p.terms.get('recon', float('nan')):.1f}", help="log p(x|z,…): how well the decoder redraws the digit.")
    m3.metric("KL", f"{p.terms.get('kl', float('nan')):.1f}", help="KL(q(z|x,…) ‖ prior): nats the code z carries.")
    m4.metric("Training time", f"{trainer.elapsed:.1f} s", help="Seconds spent on training steps.")
    left, right = st.columns([3, 2])
    left.plotly_chart(curves(trainer.history), width="stretch", key="curves")
    now = time.monotonic()
    if state.get("train_samples") is None or now - state.get("train_samples_at", 0) >= SAMPLES_EVERY or not state.get("train_running"):
        state["train_samples"] = samples(trainer)
        state["train_samples_at"] = now
    if state["train_samples"] is not None:
        caption = "One row per label, the same noise in every row" if trainer.model.uses_label else "Samples from p(z) (no label)"
        ui.show_digits(state["train_samples"], ncol=8, scale=2, caption=caption, where=right)
    else:
        right.info("cvae3 predicts labels from images, so there is nothing to draw; watch its ELBO (log p(y|x)) rise instead.")


live_panel()

# ---- save and download --------------------------------------------------------------------------
trainer = state.get("trainer")
if trainer is not None and not state.get("train_running"):
    st.subheader("Keep this model")
    meta = state["train_meta"]
    st.caption(f"It is already available on every page of this session as **{meta['name']} (this session)**.")
    c1, c2 = st.columns([2, 1])
    name = c1.text_input("Name", meta["name"], help="Letters, digits, '-', '_' and '.'; saved as checkpoints/<name>.safetensors.")
    full_meta = {**meta, "train": trainer.summary(), "metrics": {"train": trainer.progress.terms}}
    if c1.button("Save to checkpoints/", icon=":material/save:"):
        try:
            path = checkpoint.save(trainer.model, ui.CHECKPOINTS / checkpoint.checkpoint_name(name), full_meta)
            st.success(f"Saved {path.name}. Other visitors see it as a pretrained model after the app restarts.")
        except CVAEError as e:
            st.error(f"Not saved: {e}. You can still download it.")
    c2.download_button(
        "Download checkpoint",
        checkpoint.to_bytes(trainer.model, full_meta),
        file_name=f"{meta['name']}.safetensors",
        mime="application/octet-stream",
        icon=":material/download:",
        help="A safetensors file you can load with `python -m cvae_core`.",
    )
