"""Train a variant live: settings, Start / Stop / Resume, progress, curves and samples as they improve."""

import streamlit as st

import ui
from cvae_core.data import DATASETS
from cvae_core.errors import CVAEError
from cvae_core.models import VARIANTS, model_config
from cvae_core.stepper import STAGES, one_step
from cvae_core.training.defaults import model_defaults, training_defaults
from cvae_core.training.recipe import capabilities
from cvae_core.training.service import RunState
from ui import keep, links, run_view, settings, sharing, step_view
from ui.i18n import N_, _, error_text, translated
from ui.own_data import own_data_panel
from ui.settings import Spec

ui.setup_page(
    _("Train"),
    _(
        "Pick a variant and press **Start**. The model learns from handwritten digits a slice at a time: the curves show its "
        "evidence lower bound (ELBO, higher is better) split into *reconstruction* (how well it redraws a digit) and *KL* (how "
        "much information it keeps in its latent code z), and the grid below draws one row per label from the model as it is now."
    ),
    heartbeat=False,  # the live view below beats at each refresh
)

# ---- settings -----------------------------------------------------------------------------------
# Every setting is a keyed widget whose value lives in the session state, so that a link can set it
# (ui.links) and the address always holds a link to the settings shown. Those that depend on the variant
# take its defaults (cvae_core/training/defaults.py, the CLI's too) whenever the variant changes.
OWN = "own"  # the visitor's own data set, uploaded below the settings
ARCHS = {"mlp": N_("mlp"), "conv": N_("conv")}  # option value -> what the visitor reads (translated where shown)
BUDGETS = {"epochs": N_("epochs"), "seconds": N_("seconds")}
# The live dial moves by doubling: β is a scale, and a phone's thumb reaches 1 again as surely as 32. Up to 32, far
# enough to watch the code collapse: at 8 the two or three dimensions that buy most of the reconstruction stay (each
# repays about four times its KL), at 32 the KL falls to almost nothing (RESULTS.md).
LIVE_BETAS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
BETA_MAX = LIVE_BETAS[-1]  # the Start-time slider's too
# Every setting once: its widget, its name in the address, its range or choices (ui/settings.py).
S = {spec.link: spec for spec in [
    Spec("train_variant", "variant", N_("Variant"), N_("Which graphical model to train; the Home page explains each one. Its recommended settings fill in below."),
         "selectbox", tuple(VARIANTS), show=lambda v: _(VARIANTS[v].card.title), field="model.variant"),
    Spec("train_dataset", "data", N_("Data set"), N_(
        "mnist-5k: 5,000 real MNIST digits that ship with the app (works offline). The others are downloaded when the network "
        "allows. Your own: a zip of one folder per class, or an .npz, uploaded below."),
        "selectbox", (*[d for d in DATASETS if d != "auto"], OWN), show=lambda d: _("your own (upload)") if d == OWN else d),
    Spec("train_latent", "latent", N_("Latent size"), N_("Dimensions of z. 2 can be plotted directly; 16 draws sharper digits."),
         "select_slider", (2, 4, 8, 16, 32, 64), field="model.latent_dim", follows_variant=True),
    Spec("train_arch", "net", N_("Network"), N_("MLP is fast on a laptop CPU; conv (convolutional) is slower."), "radio", tuple(ARCHS),
         show=lambda v: _(ARCHS[v]), field="model.arch"),
    Spec("train_budget", "stop", N_("Stop after"), N_("A number of passes over the data, or a time budget."), "radio", tuple(BUDGETS),
         show=lambda v: _(BUDGETS[v])),
    Spec("train_epochs", "epochs", N_("Epochs"), N_("Passes over the training digits."), "number_input", low=1, high=500, field="train.epochs", follows_variant=True),
    Spec("train_seconds", "seconds", N_("Seconds"), N_("Training time, not counting any wait for a free slot on the server."),
         "number_input", low=5, high=3600, field="train.max_seconds"),
    Spec("train_lr", "lr", N_("Learning rate"), N_("Step size of Adam. Too high and training diverges (the app stops it and keeps the last good weights)."),
         "select_slider", (1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2), write=lambda v: f"{v:g}", field="train.lr", follows_variant=True),
    Spec("train_seed", "seed", N_("Seed"), N_("Same seed and settings, same result when this is the only model training on the server."),
         "number_input", low=0, high=2**31 - 1, field="train.seed", follows_variant=True),
    Spec("train_beta", "beta", N_("β (KL weight)"), N_(
        "1 is the true ELBO. Above 1 the code z is squeezed (smoother samples, blurrier reconstructions). It can be changed while the run trains."),
        "slider", low=0.0, high=BETA_MAX, step=0.1, write=lambda v: f"{v:g}", field="model.beta", follows_variant=True),
    Spec("train_kl_start", "kl_start", N_("KL weight at the start"), N_(
        "The KL weight moves from this value to β during the warm-up. Above 1, z is squeezed early, so the decoder learns to "
        "rely on the label y and samples match their label more often. 0 is the classic warm-up against posterior collapse."),
        "slider", low=0.0, high=8.0, step=0.5, write=lambda v: f"{v:g}", field="train.kl_start", follows_variant=True),
    Spec("train_warmup", "warmup", N_("Warm-up (epochs)"), N_("How long the KL weight takes to reach β."), "slider", low=0.0, high=60.0, step=0.5,
         write=lambda v: f"{v:g}", field="train.warmup_epochs", follows_variant=True),
    Spec("train_labels", "labels", N_("Labelled digits (m2)"), N_("m2 learns from a few labelled digits and the rest unlabelled."),
         "select_slider", (100, 600, 1000, 3000, "all"), show=lambda v: _("all") if v == "all" else str(v)),
    Spec("train_hidden", "hidden", N_("Hidden width"), N_("Units per hidden layer."), "select_slider", (128, 256, 512, 1024), field="model.hidden", follows_variant=True),
]}  # fmt: skip
STEP_MODE = "train_step_mode"  # the "One training step, slowly" switch below
LINK = [
    *settings.address_settings(list(S.values())),
    # a stage of "One training step, slowly" (1 to 9) opens the view there: a talk's scene steps through it
    links.Setting(
        "step",
        lambda text: {STEP_MODE: True, ui.state.STEP_STAGE: links.whole(text, 1, len(STAGES))},
        lambda s: str(s.get(ui.state.STEP_STAGE, 1)) if s.get(STEP_MODE) else None,
    ),
]


def variant_values(variant: str) -> dict:
    """The settings that follow the variant: its defaults (cvae_core.training.defaults), given again whenever it changes."""
    return settings.variant_defaults(list(S.values()), model_defaults(variant), training_defaults(variant))


# the settings the page opens on whatever the variant, kept when the variant changes
PAGE_VALUES = {
    "train_dataset": S["data"].options[0],
    "train_arch": "mlp",
    "train_budget": "epochs",
    "train_seconds": 30,
    "train_labels": 100,
}


refused, from_link = links.follow(LINK, "train")
links.warn_refused(refused)
ui.state.seed_widget("train_variant", model_defaults()["variant"])
chosen_variant = ui.state.widget("train_variant")
new_variant = ui.state.defaults_given_for() != chosen_variant  # a new variant (or a first visit): its defaults, but what a link set
ui.state.note_defaults_given_for(chosen_variant)
settings.open_on(list(S.values()), variant_values(chosen_variant), from_link, reset=new_variant)
settings.open_on(list(S.values()), PAGE_VALUES, from_link, reset=False)

drawn: dict = {}  # widget key -> the value drawn


def draw(link: str, where):
    drawn[S[link].key] = value = S[link].draw(where, disabled=ui.frame.locked("train", link))  # a talk's scene or a link may lock it
    return value


with st.expander(_("Settings"), expanded=ui.training.current_run() is None):
    c1, c2, c3, c4 = st.columns(4)
    variant = draw("variant", c1)
    semi_supervised = capabilities(model_config(variant)).learns_from_unlabelled  # may it train on a few labels?
    dataset = draw("data", c2)
    draw("latent", c3)
    draw("net", c4)
    c1, c2, c3, c4 = st.columns(4)
    budget_kind = draw("stop", c1)
    draw("epochs" if budget_kind == "epochs" else "seconds", c2)  # the other budget is not given: None
    draw("lr", c3)
    draw("seed", c4)
    c1, c2, c3, c4 = st.columns(4)
    beta = draw("beta", c1)
    draw("kl_start", c2)
    draw("warmup", c2)
    # Only a variant that learns from unlabelled digits shows it: a disabled slider's greyed label read under 4.5:1 (axe's
    # color-contrast) and offered nothing to the visitor.
    labels = draw("labels", c3) if semi_supervised else None
    draw("hidden", c4)
own = own_data_panel() if dataset == OWN else None  # the visitor's own data set: this session only
links.publish(LINK)  # the address is a link to these settings

# ---- buttons ------------------------------------------------------------------------------------
# Handled in the script, not in callbacks: a click carries every widget's value as the visitor last set
# it, whereas a callback's arguments are those of the last completed run (a quick visitor could start
# the variant they had just switched away from).
model_settings, train_settings = settings.recipe_parts(list(S.values()), drawn)
train_settings = {"epochs": None, "max_seconds": None, **train_settings}  # the budget not drawn is none
chosen_labels = None if labels == "all" or not semi_supervised else int(labels)

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
        ui.training.start_training(model_settings, train_settings, None if dataset == OWN else dataset, chosen_labels, own)
        st.rerun()  # draw the page in its new state (a rerun costs tens of milliseconds)
    except CVAEError as e:
        st.error(_("Cannot start: {reason}").format(reason=error_text(e)))
if stop and run is not None:
    run.stop()
    st.rerun()
if resume and run is not None and snap.state == RunState.LOST:  # a new run from its kept weights, in the new training process
    try:
        meta = ui.state.session_models().get(run.id)
        ui.training.resume_lost(run, f"{meta.name if meta else 'run'}-resumed", meta.metadata if meta else {})
        st.rerun()
    except CVAEError as e:
        st.error(_("Cannot resume: {reason}").format(reason=error_text(e)))
elif resume and run is not None:
    run.start()
    st.rerun()
if snap is not None and snap.state == RunState.LOST:
    st.warning(_(run_view.LOST_NOTE).format(step=snap.progress.step))


# ---- live view: reads the run's latest snapshot; the training itself runs in the background -----
wanting = bool(ui.training.session_runs())
refresh = ui.training.live_refresh_seconds(ui.training.client().load()) if wanting else None  # None: no refresh


# The buttons take the width their words need (fixed columns cut "Resume" short, and longer words in other
# languages). A phone stacks columns: the buttons and the four figures would stand one above the other and push the
# sample grid, which is what a visitor watches, a screen down; there the figures go two to a row, in smaller type.
PAGE_CSS = """<style>
.st-key-train-buttons [data-testid="stHorizontalBlock"] { flex-wrap: nowrap; gap: 0.5rem; }
.st-key-train-buttons [data-testid="stColumn"] { min-width: 0 !important; width: auto !important; flex: 0 0 auto !important; }
</style>"""
st.html(PAGE_CSS)
run_view.style()


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
    if not snap.active and ui.state.shown_state("train") in (RunState.QUEUED, RunState.TRAINING):
        ui.state.note_shown_state("train", snap.state)
        st.rerun(scope="app")  # training ended: the buttons, the save panel and the interactive curves change
    ui.state.note_shown_state("train", snap.state)
    if snap.error:  # a sentence of the training service, kept as a template and its fields where it has them
        st.error(translated(snap.error_template, snap.error_fields, snap.error))
    run_view.show_run(run, snap, load)


live_view()

if run is not None and not snap.progress.done and not snap.error and snap.state != RunState.LOST:
    # β while the run trains, under the KL bars it moves (posterior collapse within seconds, and back)
    shown_beta = ui.state.sent_beta(run.id)
    if shown_beta is None:
        shown_beta = snap.summary.get("beta", beta)
        ui.state.note_sent_beta(run.id, shown_beta)
    live_beta = st.select_slider(
        _("β now (this run's KL weight, 0 to 32 by doubling)"), options=sorted({*LIVE_BETAS, float(shown_beta)}), value=float(shown_beta),
        format_func=lambda v: f"{v:g}", key=f"train_live_beta:{run.id}",
        help=_("Changes the running model's KL weight from its next slice on. Try 8: within a few epochs most KL bars fall to almost zero; then back to 1."),
    )  # fmt: skip
    if not ui.presenter():
        st.caption(
            _(
                "Try it: watch the KL bars above at β = 1, then move β to 8. Within a few epochs the KL falls to a fifth and bar "
                "after bar drops to almost zero; the note under them says the code is collapsing, and on Generate most dials then "
                "barely change the digit. The two or three bars left buy more reconstruction than β times their KL costs; at β = 32 "
                "even they fall to almost nothing. Move β back to 1 and the bars grow again."
            )
        )
    if live_beta != shown_beta:
        try:
            run.set_beta(live_beta)
            ui.state.note_sent_beta(run.id, live_beta)
        except CVAEError as e:
            st.error(error_text(e))

# ---- share: a link that shows the run, live and read only; keep the model ---------------------------
if run is not None and snap.state != RunState.LOST:
    sharing.share_panel(run)
trained = run.model() if run is not None and not active else None  # the weights as they are now, fetched once
if trained is not None:
    keep.keep_panel(run, snap, trained)

# ---- one step, slowly ------------------------------------------------------------------------------
st.divider()
if st.toggle(_("One training step, slowly"), key=STEP_MODE, help=_("Opens a step-by-step view of one training step.")):
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
        links.publish(LINK)  # the address holds the stage shown
        shown_in_a_talk = ui.frame.scene_sets("train", "step")
        for stage in STAGES[:shown]:
            if stage == STAGES[shown - 1] and shown_in_a_talk:
                ui.frame.scroll_here()  # a talk's scene shows this stage: at the top of the screen
            step_view.show(step, stage)
