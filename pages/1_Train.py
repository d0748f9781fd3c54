"""Train a variant live: settings, Start / Stop / Resume, progress, curves and samples as they improve."""

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

import ui
from cvae_core import checkpoint
from cvae_core.cards import CARDS
from cvae_core.data import DATASETS, OFFLINE
from cvae_core.defaults import model_defaults, training_defaults
from cvae_core.errors import CVAEError
from cvae_core.models import VARIANTS, ModelConfig
from cvae_core.recipe import Recipe, capabilities
from cvae_core.stepper import STAGES, one_step
from ui import links, step_view
from ui.i18n import N_, _, error_text, translated
from ui.own_data import own_data_panel

ui.setup_page(
    _("Train"),
    _(
        "Pick a variant and press **Start**. The model learns from handwritten digits a slice at a time: the curves show its "
        "evidence lower bound (ELBO, higher is better) split into *reconstruction* (how well it redraws a digit) and *KL* (how "
        "much information it keeps in its latent code z), and the grid below draws one row per label from the model as it is now."
    ),
    heartbeat=False,  # the live view below beats at each refresh
)
state = st.session_state

# ---- settings -----------------------------------------------------------------------------------
# Every setting is a keyed widget whose value lives in the session state, so that a link can set it
# (ui.links) and the address always holds a link to the settings shown. Those that depend on the variant
# take its defaults (cvae_core/defaults.py, the CLI's too) whenever the variant changes.
LATENTS, LRS, HIDDENS, LABELS = [2, 4, 8, 16, 32, 64], [1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2], [128, 256, 512, 1024], [100, 600, 1000, 3000, "all"]
OWN = "own"  # the visitor's own data set, uploaded below the settings
DATASET_CHOICES = [d for d in DATASETS if d != "auto"] + [OWN]
ARCHS = {"mlp": N_("mlp"), "conv": N_("conv")}  # option value -> what the visitor reads (translated where shown)
BUDGETS = {"epochs": N_("epochs"), "seconds": N_("seconds")}
BETA_MAX = 10.0  # far enough past 1 to watch the latent dimensions collapse (at 8 nearly all of them do)


def variant_defaults(variant: str) -> dict:
    """The settings' widget values for a variant's defaults."""
    model, training = model_defaults(variant), training_defaults(variant)
    return {
        "train_latent": model["latent_dim"], "train_hidden": model["hidden"], "train_beta": model["beta"], "train_lr": training["lr"],
        "train_epochs": int(training["epochs"]), "train_seed": training["seed"], "train_kl_start": training["kl_start"],
        "train_warmup": training["warmup_epochs"],
    }  # fmt: skip


def choice_of(options):
    return lambda text: links.one_of(text, options)


LINK = [
    links.widget("variant", "train_variant", choice_of(list(VARIANTS))),
    links.widget("data", "train_dataset", choice_of(DATASET_CHOICES)),
    links.widget("latent", "train_latent", choice_of(LATENTS)),
    links.widget("net", "train_arch", choice_of(["mlp", "conv"])),
    links.widget("stop", "train_budget", choice_of(["epochs", "seconds"])),
    links.widget("epochs", "train_epochs", lambda text: links.whole(text, 1, 500)),
    links.widget("seconds", "train_seconds", lambda text: links.whole(text, 5, 3600)),
    links.widget("lr", "train_lr", choice_of(LRS), lambda v: f"{v:g}"),
    links.widget("seed", "train_seed", lambda text: links.whole(text, 0, 2**31 - 1)),
    links.widget("beta", "train_beta", lambda text: round(links.number(text, 0, BETA_MAX), 1), lambda v: f"{v:g}"),
    links.widget("kl_start", "train_kl_start", lambda text: round(2 * links.number(text, 0, 8)) / 2, lambda v: f"{v:g}"),
    links.widget("warmup", "train_warmup", lambda text: round(2 * links.number(text, 0, 60)) / 2, lambda v: f"{v:g}"),
    links.widget("labels", "train_labels", choice_of(LABELS)),
    links.widget("hidden", "train_hidden", choice_of(HIDDENS)),
]
refused, from_link = links.follow(LINK, "train")
links.warn_refused(refused)
state.setdefault("train_variant", model_defaults()["variant"])
if state.get("train_defaults_of") != state["train_variant"]:  # a new variant (or a first visit): its defaults, but what a link set
    state["train_defaults_of"] = state["train_variant"]
    state.update({k: v for k, v in variant_defaults(state["train_variant"]).items() if k not in from_link})
others = {"train_dataset": DATASET_CHOICES[0], "train_arch": "mlp", "train_budget": "epochs", "train_seconds": 30, "train_labels": 100}
for key, value in {**variant_defaults(state["train_variant"]), **others}.items():
    state.setdefault(key, value)  # Streamlit forgets a widget's value while the page is not shown

with st.expander(_("Settings"), expanded=ui.training.current_run() is None):
    c1, c2, c3, c4 = st.columns(4)
    variant = c1.selectbox(
        _("Variant"), list(VARIANTS), format_func=lambda v: _(VARIANTS[v].card.title), key="train_variant", placeholder=_("Choose an option"),
        help=_("Which graphical model to train; the Home page explains each one. Its recommended settings fill in below."),
    )  # fmt: skip
    semi_supervised = capabilities(ModelConfig(**model_defaults(variant))).learns_from_unlabelled  # may it train on a few labels?
    dataset = c2.selectbox(
        _("Data set"), DATASET_CHOICES, key="train_dataset", placeholder=_("Choose an option"),
        format_func=lambda d: _("your own (upload)") if d == OWN else d,
        help=_(
            "mnist-5k: 5,000 real MNIST digits that ship with the app (works offline). The others are downloaded when the network "
            "allows. Your own: a zip of one folder per class, or an .npz, uploaded below."
        ),
    )  # fmt: skip
    latent_dim = c3.select_slider(
        _("Latent size"), LATENTS, key="train_latent", help=_("Dimensions of z. 2 can be plotted directly; 16 draws sharper digits.")
    )
    arch = c4.radio(
        _("Network"), list(ARCHS), format_func=lambda v: _(ARCHS[v]), horizontal=True, key="train_arch",
        help=_("MLP is fast on a laptop CPU; conv (convolutional) is slower."),
    )  # fmt: skip
    c1, c2, c3, c4 = st.columns(4)
    budget_kind = c1.radio(
        _("Stop after"), list(BUDGETS), format_func=lambda v: _(BUDGETS[v]), horizontal=True, key="train_budget",
        help=_("A number of passes over the data, or a time budget."),
    )  # fmt: skip
    if budget_kind == "epochs":
        epochs = c2.number_input(_("Epochs"), 1, 500, key="train_epochs", help=_("Passes over the training digits."))
        seconds = None
    else:
        seconds = c2.number_input(
            _("Seconds"), 5, 3600, key="train_seconds", help=_("Training time, not counting any wait for a free slot on the server.")
        )
        epochs = None
    lr = c3.select_slider(
        _("Learning rate"), LRS, key="train_lr",
        help=_("Step size of Adam. Too high and training diverges (the app stops it and keeps the last good weights)."),
    )  # fmt: skip
    seed = c4.number_input(
        _("Seed"),
        0,
        2**31 - 1,
        key="train_seed",
        help=_("Same seed and settings, same result when this is the only model training on the server."),
    )
    c1, c2, c3, c4 = st.columns(4)
    beta = c1.slider(
        _("β (KL weight)"), 0.0, BETA_MAX, step=0.1, key="train_beta",
        help=_("1 is the true ELBO. Above 1 the code z is squeezed (smoother samples, blurrier reconstructions). It can be changed while the run trains."),
    )  # fmt: skip
    kl_start = c2.slider(
        _("KL weight at the start"), 0.0, 8.0, step=0.5, key="train_kl_start",
        help=_(
            "The KL weight moves from this value to β during the warm-up. Above 1, z is squeezed early, so the decoder learns to "
            "rely on the label y and samples match their label more often. 0 is the classic warm-up against posterior collapse."
        ),
    )  # fmt: skip
    warmup = c2.slider(_("Warm-up (epochs)"), 0.0, 60.0, step=0.5, key="train_warmup", help=_("How long the KL weight takes to reach β."))
    labels = c3.select_slider(
        _("Labelled digits (m2)"), LABELS, format_func=lambda v: _("all") if v == "all" else str(v), disabled=not semi_supervised,
        key="train_labels", help=_("m2 learns from a few labelled digits and the rest unlabelled."),
    )  # fmt: skip
    hidden = c4.select_slider(_("Hidden width"), HIDDENS, key="train_hidden", help=_("Units per hidden layer."))
own = own_data_panel() if dataset == OWN else None  # the visitor's own data set: this session only
links.publish(LINK)  # the address is a link to these settings

# ---- buttons ------------------------------------------------------------------------------------
# Handled in the script, not in callbacks: a click carries every widget's value as the visitor last set
# it, whereas a callback's arguments are those of the last completed run (a quick visitor could start
# the variant they had just switched away from).
chosen = {
    "model": {"variant": variant, "latent_dim": latent_dim, "arch": arch, "hidden": hidden, "beta": beta},
    "training": {"epochs": epochs, "lr": lr, "seed": seed, "warmup_epochs": warmup, "kl_start": kl_start, "max_seconds": seconds},
    "dataset": dataset,
    "labels": None if labels == "all" or not semi_supervised else int(labels),
    "own": own,
}


def start_training(chosen: dict) -> None:
    """Queue a run with these settings; raises CVAEError with a sentence."""
    own, dataset = chosen["own"], chosen["dataset"]
    if dataset == OWN and own is None:
        raise CVAEError(N_("upload a data set first (a .zip of one folder per class, or an .npz)"))
    if dataset not in (OFFLINE, OWN):  # one that must be downloaded is fetched here, or refused with its sentence
        ui.training.check_dataset(dataset)
    dataset_name = ui.state.own_data()[1] if own is not None else dataset
    run_recipe = Recipe.from_settings(chosen["model"], chosen["training"], dataset_name, chosen["labels"], own=own)
    run_number = state.get("run_number", 0) + 1
    name = f"{run_recipe.model.variant}-run{run_number}"
    meta = {"name": name, "dataset": dataset_name, "seed": run_recipe.train.seed, "labels": chosen["labels"]}
    if own is not None:  # label k's name; and a model of a visitor's own data is theirs alone: download only
        meta.update({"classes": list(own.classes), "own_data": True})
    ui.training.start_run(name, run_recipe, meta)
    state["run_number"] = run_number


run = ui.training.current_run()
snap = run.snapshot if run is not None else None
active = snap is not None and snap.active
b1, b2, b3, _spare = st.container(key="train-buttons").columns([1, 1, 1, 5])  # key: PAGE_CSS
start = b1.button(
    _("Start"), type="primary", icon=":material/play_arrow:", disabled=active, help=_("Train a new model with these settings.")
)
stop = b2.button(_("Stop"), icon=":material/stop:", disabled=not active, help=_("Pause training; the model so far is kept and usable."))
resume = b3.button(
    _("Resume"), icon=":material/resume:", disabled=active or run is None or snap.progress.done, help=_("Continue where you stopped.")
)
if start:
    try:
        start_training(chosen)
        st.rerun()  # draw the page in its new state (a rerun costs tens of milliseconds)
    except CVAEError as e:
        st.error(_("Cannot start: {reason}").format(reason=error_text(e)))
if stop and run is not None:
    ui.training.client().stop(run)
    st.rerun()
if resume and run is not None:
    ui.training.client().start(run)
    st.rerun()


# ---- live view: reads the run's latest snapshot; the training itself runs in the background -----
CURVE_KEYS = ("elbo", "recon", "kl")  # the history's terms, one panel each, top to bottom


def curve_lines(history) -> list[dict]:
    """The history as the charts' lines, train then validation: {"name", "colour", "dashed", "x": epochs, "y": values per panel}.
    Validation: held-out digits of the same data set, never trained on, binarised once for image models."""
    lines = []
    for split, dashed, name in (("train", False, _("train")), ("val", True, _("validation"))):
        rows = [h for h in history if h["split"] == split]
        lines.append({
            "name": name, "colour": "#1f77b4" if split == "train" else "#d62728", "dashed": dashed,
            "x": [h["epoch"] for h in rows], "y": [[h[key] for h in rows] for key in CURVE_KEYS],
        })  # fmt: skip
    return lines


def curve_titles() -> list[str]:
    return ["ELBO ↑", _("Reconstruction ↑"), "KL"]


def curves(history) -> go.Figure:
    """ELBO, reconstruction and KL against epochs, stacked (they share the epoch axis), train and validation; interactive."""
    fig = make_subplots(rows=len(CURVE_KEYS), cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=curve_titles())
    for line in curve_lines(history):
        for row, values in enumerate(line["y"], start=1):
            fig.add_trace(
                go.Scatter(
                    x=line["x"],
                    y=values,
                    name=line["name"],
                    legendgroup=line["name"],
                    showlegend=row == 1,
                    line={"dash": "dot" if line["dashed"] else "solid", "color": line["colour"]},
                ),
                row=row,
                col=1,
            )
    fig.update_xaxes(title_text=_("epoch"), row=len(CURVE_KEYS), col=1)
    fig.update_yaxes(title_text=_("nats"), row=2, col=1)
    fig.update_layout(height=520, margin={"t": 30, "b": 10, "l": 10, "r": 10}, legend={"orientation": "h", "y": 1.1})
    return fig


def live_curves(history) -> str:
    """The same curves as a light SVG, redrawn at every refresh while training runs (see ui.plots)."""
    return ui.stacked_lines_svg(
        curve_titles(),
        curve_lines(history),
        x_title=_("epoch"),
        label=_("Training curves: ELBO, reconstruction and KL by epoch, train and validation"),
        height=440 if ui.presenter() else 500,  # on a projector the grid and the curves share one 1080-pixel screen, with room to spare
    )


STATUS = {  # a run's state -> what the visitor reads (translated where shown)
    "training": N_("training"),
    "paused": N_("paused"),
    "away": N_("paused: no open tab was heard from (it resumes by itself)"),
    "done": N_("done"),
    "failed": N_("stopped"),
}


def status_line(run, snap, load: dict) -> str:
    """State, place in the queue or progress, speed and time left, each part a whole sentence joined by " · ".
    load: the training service's load (runs training, waiting, the limit)."""
    p = snap.progress
    epoch = _("epoch {epoch:.1f} of {epochs:g}").format(epoch=p.epoch, epochs=run.epochs) if run.epochs else _("epoch {epoch:.1f}").format(epoch=p.epoch)
    if snap.state == "queued":  # where it waits, and how far it got before (time-slicing: a run waits between its turns)
        if snap.ahead:
            status = _("waiting for a free slot: {ahead} ahead of you ({training} training now, at most {limit} at once)")
        elif load["training"] < load["limit"]:  # a slot is free: a worker takes the run within moments (on a fresh server, once warm)
            status = _("starting")
        else:
            status = _("waiting for a free slot: next in line ({training} training now, at most {limit} at once)")
        status = status.format(ahead=snap.ahead, training=load["training"], limit=load["limit"])
        return f"{status} · {epoch}" if p.step else status
    parts = [_(STATUS[snap.state]), epoch, _("{speed:,.0f} digits/s").format(speed=p.samples_per_sec)]
    if p.eta is not None and snap.active and p.step:
        parts.append(_("about {duration} left").format(duration=ui.readable.duration(p.eta)))
    return " · ".join(parts)


@st.cache_data(max_entries=16, show_spinner=False)
def grid_png(run_id: str, version: int, _grid) -> bytes:
    """A grid's PNG, encoded once per version of the weights (the view refreshes more often than that)."""
    return ui.digits_png(_grid, ncol=8, scale=2)


def number(value: float) -> str:
    return f"{value:.1f}"


def bound_identity(card, terms: dict) -> str:
    """The bound's numbers as an equation in LaTeX: the ELBO = each term's value, with the term it is under each."""
    parts = []
    for i, (_key, latex, sign, value) in enumerate(card.bound_terms(terms)):
        operator = ("" if sign > 0 else "-") if i == 0 else (r"\;+\;" if sign > 0 else r"\;-\;")
        shown = number(value) if value >= 0 or i == 0 and sign > 0 else f"({number(value)})"
        parts.append(rf"{operator}\underbrace{{{shown}}}_{{{latex}}}")
    return rf"\text{{ELBO}} = {number(terms['elbo'])} = " + "".join(parts)


def collapse_note(active: int, dims: int, beta: float) -> str:
    """What the active-unit count means for what the visitor sees, from the measured count and the run's β."""
    if active == 0:
        return _(
            "**Posterior collapse** (β = {beta:g}): no dimension carries anything about the digit beyond its label. Samples of one "
            "label all look alike (Generate's dials do nothing) and reconstructions blur toward the label's average."
        ).format(beta=beta)
    if 4 * active <= dims or (beta > 1 and 2 * active <= dims):  # few left, or half gone under a squeezing beta
        return _(
            "**Collapsing** (β = {beta:g}): only {active} of {dims} dimensions still carry the digit's style. Fewer of Generate's dials "
            "change anything, and reconstructions lose detail."
        ).format(beta=beta, active=active, dims=dims)
    return _(
        "**In use** (β = {beta:g}): {active} of {dims} dimensions carry the digit's style, so Generate's dials change the digit. "
        "A larger β squeezes them toward the prior."
    ).format(beta=beta, active=active, dims=dims)


def bound_view(run, snap) -> None:
    """The run's bound as its paper writes it, each term's value of the last slice under it, and the KL split over
    the latent dimensions with the active units counted (the snapshot's latent figures)."""
    card, terms = CARDS[run.variant], snap.progress.terms
    if not card.bound_terms(terms):
        return
    formula, bars = st.columns([3, 2]) if snap.latent else (st.container(), None)
    with formula:
        st.markdown("**" + _("The bound, term by term") + "**")
        st.latex(card.elbo_latex)
        st.latex(bound_identity(card, terms))
        for key, latex in card.extra_terms:
            st.latex(rf"{latex} = {number(terms[key])}")
        st.caption(
            _(
                "Nats per digit, averaged over the last slice of training digits. The terms under the braces add up to the ELBO, "
                "the lower bound on the log-likelihood that training raises: the reconstruction says how well the decoder redraws "
                "a digit from its code, the KL how much the code says about the digit."
            )
            + (" " + _("The classification term is trained beside the bound, weighted by α, and is not part of it.") if card.extra_terms else "")
        )
    if bars is None:
        return
    latent = snap.latent
    kl = latent["kl_per_dim"]
    active = [v > 0.01 for v in latent["variance"]]  # Burda et al.'s criterion, as counted in the snapshot
    with bars:
        st.metric(
            _("Active units"), f"{latent['active_units']} / {len(kl)}",
            help=_("Dimensions whose code varies from digit to digit (Burda et al. 2016: Cov over digits of E[z_d] > 0.01)."),
        )  # fmt: skip
        names = [f"z{d + 1}" for d in range(len(kl))]
        label = _("KL per latent dimension, nats per digit")
        st.markdown(ui.bars_svg(kl, active, names, _("nats"), label), unsafe_allow_html=True)
        st.markdown(collapse_note(latent["active_units"], len(kl), snap.summary.get("beta", 1.0)))
        st.caption(
            _(
                "Each bar is the KL one latent dimension carries, on {n} validation digits; together they make the KL. "
                "Blue dimensions are active: their code changes with the digit. Grey ones have collapsed to the prior and carry nothing."
            ).format(n=latent["digits"])
        )


# One fragment draws the whole live view, and while this session has runs that want to train it also
# says that the tab is open (the sidebar's heartbeat is off on this page): one rerun per refresh, not
# three, because every rerun costs the browser its own round of drawing.
wanting = bool(ui.training.session_runs())
refresh = ui.training.live_refresh_seconds(ui.training.client().load()) if wanting else None  # None: no refresh


# The buttons take the width their words need (fixed columns cut "Resume" short, and longer words in other
# languages). A phone stacks columns: the buttons and the four figures would stand one above the other and push the
# sample grid, which is what a visitor watches, a screen down; there the figures go two to a row, in smaller type.
PAGE_CSS = """<style>
.st-key-train-buttons [data-testid="stHorizontalBlock"] { flex-wrap: nowrap; gap: 0.5rem; }
.st-key-train-buttons [data-testid="stColumn"] { min-width: 0 !important; width: auto !important; flex: 0 0 auto !important; }
.st-key-train-bound .katex-display { overflow-x: auto; overflow-y: hidden; }
@media (max-width: 640px) {
  .st-key-train-bound .katex { font-size: 0.78em; }
  .st-key-train-figures [data-testid="stColumn"] { min-width: calc(50% - 0.5rem) !important; flex: 1 1 calc(50% - 0.5rem) !important; }
  .st-key-train-figures [data-testid="stMetricValue"] { font-size: 1.5rem; }
}
</style>"""
st.html(PAGE_CSS)


@st.fragment(run_every=refresh)
def live_view():
    """Where the run stands (state, place in the queue, progress, the latest loss terms), its latest
    sample grid and its curves. Reads the run's latest snapshot; the training runs in the background."""
    ui.training.beat()
    run = ui.training.current_run()
    if run is None:  # nothing to ask the training process (on a fresh server it may still be starting: seconds)
        st.info(_("Press **Start** to train with the settings above. The defaults draw recognisable digits within a few seconds."))
        return
    load = ui.training.client().load()
    if refresh is not None and ui.training.refresh_drifted(refresh, ui.training.live_refresh_seconds(load)):
        st.rerun(scope="app")  # visitors came or left: refresh at the period the server's load asks for now
    snap = run.snapshot
    if not snap.active and state.get("shown_state") in ("queued", "training"):
        state["shown_state"] = snap.state
        st.rerun(scope="app")  # training ended: the buttons, the save panel and the interactive curves change
    state["shown_state"] = snap.state
    if snap.error:  # a sentence of the training service, kept as a template and its fields where it has them
        st.error(translated(snap.error_template, snap.error_fields, snap.error))
    p = snap.progress
    st.progress(p.fraction, text=status_line(run, snap, load))
    if not ui.presenter():  # on a projector the curves say it: the grid and the curves fit on one screen without these
        m1, m2, m3, m4 = st.container(key="train-figures").columns(4)  # key: PAGE_CSS
        m1.metric(
            _("ELBO (train)"),
            f"{p.terms.get('elbo', float('nan')):.1f}",
            help=_("Nats per digit, averaged over the last slice. Higher is better."),
        )
        m2.metric(
            _("Reconstruction"),
            f"{p.terms.get('recon', float('nan')):.1f}",
            help=_("log p(x|z,…): how well the decoder redraws the digit."),
        )
        m3.metric("KL", f"{p.terms.get('kl', float('nan')):.1f}", help=_("KL(q(z|x,…) ‖ prior): nats the code z carries."))
        m4.metric(
            _("Training time"), ui.readable.duration(p.elapsed), help=_("Time spent on training steps (waiting in the queue not counted).")
        )
    grid_column, curves_column = st.columns([2, 3])
    with grid_column:
        if snap.grid is not None:
            what = _("One row per label, the same noise in every row") if run.uses_label else _("Samples from p(z) (no label)")
            when = _("weights of step {step:,} ({duration} of training)").format(
                step=snap.drawn_at[0], duration=ui.readable.duration(snap.drawn_at[1])
            )
            st.image(
                grid_png(run.id, snap.version, snap.grid), caption=f"{what} · {when}", width=480 if ui.presenter() else "content", output_format="PNG"
            )
        elif not run.makes_images:
            st.info(_("cvae3 predicts labels from images, so there is nothing to draw; watch its ELBO (log p(y|x)) rise instead."))
        else:
            st.caption(_("The first samples appear after the first fraction of a second of training."))
    with curves_column:
        if snap.history and snap.active:
            st.markdown(live_curves(snap.history), unsafe_allow_html=True)  # inline SVG: the page's font and colours
        elif snap.history:  # stopped: the same curves, interactive (hover for values, zoom)
            st.plotly_chart(curves(snap.history), width="stretch", key="curves")
    with st.container(key="train-bound"):
        bound_view(run, snap)


live_view()

if run is not None and not snap.progress.done and not snap.error:
    # β while the run trains, under the KL bars it moves (posterior collapse within seconds, and back)
    shown_beta = ui.state.sent_beta(run.id)
    if shown_beta is None:
        shown_beta = snap.summary.get("beta", beta)
        ui.state.note_sent_beta(run.id, shown_beta)
    live_beta = st.slider(
        _("β now (KL weight of this run)"), 0.0, BETA_MAX, value=float(shown_beta), step=0.1, key=f"train_live_beta:{run.id}",
        help=_("Changes the running model's KL weight from its next slice on. Try 8: the KL bars fall to zero within a few epochs; then back to 1."),
    )  # fmt: skip
    if not ui.presenter():
        st.caption(
            _(
                "Try it: watch the KL bars above at β = 1, then move β to 8. Within a few epochs most bars fall to zero and the note "
                "under them says the code is collapsing; on Generate the dials then barely change the digit. Move β back to 1 and "
                "the bars grow again."
            )
        )
    if live_beta != shown_beta:
        try:
            ui.training.client().set_beta(run, live_beta)
            ui.state.note_sent_beta(run.id, live_beta)
        except CVAEError as e:
            st.error(error_text(e))

# ---- save and download --------------------------------------------------------------------------
trained = run.model() if run is not None and not active else None  # the weights as they are now, fetched once
if trained is not None:
    st.subheader(_("Keep this model"))
    meta = ui.state.session_models().get(run.id)
    name_now = meta.name if meta is not None else "model"
    st.caption(_("It is already available on every page of this session as **{name} (this session)**.").format(name=name_now))
    full_meta = {**(meta.metadata if meta else {}), "train": run.summary(), "metrics": {"train": snap.progress.terms}}
    store = ui.model_store()
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

# ---- one step, slowly ------------------------------------------------------------------------------
st.divider()
if st.toggle(_("One training step, slowly"), key="train_step_mode", help=_("Opens a step-by-step view of one training step.")):
    st.caption(
        _(
            "What one step of training does to one minibatch of 8 digits, a stage per click, on a copy of a model (the model itself "
            "does not change): the recognition network, the noise, the code, the decoder, the loss, the gradients, the update."
        )
    )
    label, picked = ui.model_picker(_("Model"), where=st, keep=lambda m: m.makes_images, key="step_model")
    if picked is not None:
        c1, c2 = st.columns(2)
        step_lr = c1.select_slider(
            _("Learning rate of the step"), [1e-5, 1e-4, 1e-3, 1e-2], value=1e-4, format_func=lambda v: f"{v:g}",
            help=_("Plain gradient descent. A trained model needs small steps: at 0.01 the step overshoots and the loss rises."),
        )  # fmt: skip
        step_seed = c2.number_input(_("Minibatch"), 0, 10_000, value=0, help=_("Which 8 training digits, and which noise ε."))
        step = one_step(picked.model, ui.training_digits(), lr=step_lr, seed=int(step_seed))
        shown = min(ui.state.step_stage(), len(STAGES))
        b1, b2, b3 = st.columns([1, 1, 4], gap="small")
        if b1.button(_("Next stage"), icon=":material/skip_next:", disabled=shown >= len(STAGES), key="step_next"):
            shown += 1
        if b2.button(_("From the start"), icon=":material/replay:", disabled=shown <= 1, key="step_reset"):
            shown = 1
        ui.state.set_step_stage(shown)
        st.progress(shown / len(STAGES), text=_("stage {shown} of {total}").format(shown=shown, total=len(STAGES)))
        for stage in STAGES[:shown]:
            step_view.show(step, stage)
