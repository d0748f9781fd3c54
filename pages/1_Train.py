"""Train a variant live: settings, Start / Stop / Resume, progress, curves and samples as they improve."""

from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

import ui
from cvae_core import checkpoint
from cvae_core.data import DATASETS, OFFLINE
from cvae_core.defaults import model_defaults, training_defaults
from cvae_core.errors import CVAEError
from cvae_core.models import VARIANTS, ModelConfig
from cvae_core.recipe import Recipe, capabilities
from cvae_core.stepper import STAGES, one_step
from ui import links, run_view, sharing, step_view
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
ui.state.seed_widget("train_variant", model_defaults()["variant"])
chosen_variant = ui.state.widget("train_variant")
if ui.state.defaults_given_for() != chosen_variant:  # a new variant (or a first visit): its defaults, but what a link set
    ui.state.note_defaults_given_for(chosen_variant)
    ui.state.set_widgets({k: v for k, v in variant_defaults(chosen_variant).items() if k not in from_link})
others = {"train_dataset": DATASET_CHOICES[0], "train_arch": "mlp", "train_budget": "epochs", "train_seconds": 30, "train_labels": 100}
for key, value in {**variant_defaults(chosen_variant), **others}.items():
    ui.state.seed_widget(key, value)  # Streamlit forgets a widget's value while the page is not shown

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
    run_number = ui.state.next_run_number()
    name = f"{run_recipe.model.variant}-run{run_number}"
    meta = {"name": name, "dataset": dataset_name, "seed": run_recipe.train.seed, "labels": chosen["labels"]}
    if own is not None:  # label k's name; and a model of a visitor's own data is theirs alone: download only
        meta.update({"classes": list(own.classes), "own_data": True})
    ui.training.start_run(name, run_recipe, meta)


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
    if not snap.active and ui.state.shown_state("train") in ("queued", "training"):
        ui.state.note_shown_state("train", snap.state)
        st.rerun(scope="app")  # training ended: the buttons, the save panel and the interactive curves change
    ui.state.note_shown_state("train", snap.state)
    if snap.error:  # a sentence of the training service, kept as a template and its fields where it has them
        st.error(translated(snap.error_template, snap.error_fields, snap.error))
    run_view.show_run(run, snap, load)


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

# ---- share: a link that shows the run, live and read only (pages/7_Follow.py) -------------------------
if run is not None:
    token = ui.state.share_token(run.id)
    if token is not None and sharing.shared_run(token) is None:
        token = None  # the server let it go (a restart)
    share_column, link_column = st.columns([1, 2])
    if token is None:
        if share_column.button(
            _("Share this run"), icon=":material/share:", key="train_share",
            help=_("A link and a QR code that show this run live, read only: for a room following your screen on their phones."),
        ):  # fmt: skip
            try:
                ui.state.note_share(run.id, sharing.share(run))
                st.rerun()
            except sharing.TooManyShares:
                st.error(_("This server shares as many runs as it can; try again later."))
    else:
        address = urlsplit(st.context.url or "")
        link = urlunsplit((address.scheme or "http", address.netloc, "/Follow", urlencode({"run": token}), ""))
        if share_column.button(_("Stop sharing"), icon=":material/link_off:", key="train_unshare", help=_("The link then shows nothing.")):
            sharing.unshare(token)
            ui.state.note_share(run.id, None)
            st.rerun()
        link_column.code(link, language=None)
        link_column.image(sharing.qr_png(link), width=420 if ui.presenter() else 280, caption=_("The same link as a QR code"))

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
