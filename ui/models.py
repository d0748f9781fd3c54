"""The models a session can use: the shipped ones (loaded once per server, shared read-only), the
session's own, and the model pickers (the sidebar's checkpoint uploader is ui.upload)."""

import threading
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from cvae_core.compare import Measurement, recorded
from cvae_core.storage import checkpoint
from cvae_core.storage.checkpoint import Checkpoint
from cvae_core.storage.checkpoint_header import catalogue, recorded_values
from cvae_core.storage.store import ModelStore, StoreSettings

from . import state
from .i18n import _
from .server import freeze_what_is_loaded

CHECKPOINTS = checkpoint.SHIPPED
MAX_SESSION_MODELS = 8  # trained or uploaded models one session keeps; the oldest goes first


_SHIPPED_LOADED = threading.Event()  # after the first load, pages skip the spinner (each costs an element and a timer)


def shipped_models() -> tuple[dict, dict]:
    """The checkpoints in checkpoints/, loaded once per server and shared read-only by every session."""
    if not _SHIPPED_LOADED.is_set():
        with st.spinner(_("Loading the pretrained models…")):  # in the visitor's language, so not the cache's own spinner
            preload_shipped_models()
    return _shipped_models()


def preload_shipped_models() -> None:
    """Load the shipped models (also outside a page run: a thread the home page starts, so that the next page need not)."""
    _shipped_models()
    _SHIPPED_LOADED.set()


@st.cache_resource(show_spinner=False)  # its spinner is shipped_models'
def _shipped_models() -> tuple[dict, dict]:
    models, refused = checkpoint.load_folder(CHECKPOINTS)
    for ckpt in models.values():
        ckpt.model.eval().requires_grad_(False)
    freeze_what_is_loaded()  # loaded once per server: later collections skip it (see there)
    return models, refused


@st.cache_resource(show_spinner=False)
def shipped_recorded() -> dict[str, tuple[dict, Measurement]]:
    """The shipped image models' test figures as recorded in their files (`evaluate --record`), read once per server (the
    files ship read-only): name -> (the recorded test's header entry, its Measurement with the per-digit values behind it,
    so that ties between two of them use paired errors)."""
    tests = {name: meta.get("metrics", {}).get("test", {}) for name, meta in catalogue(CHECKPOINTS).items()}
    return {
        name: (test, recorded(test, recorded_values(CHECKPOINTS / f"{name}{checkpoint.SUFFIX}")))
        for name, test in tests.items()
        if test.get("log_px") is not None
    }


@st.cache_resource(show_spinner=False)
def fidelity_classifiers() -> dict:
    """The independent classifiers behind label fidelity, by figure key (those that are shipped)."""
    return {key: checkpoint.load(path).model for key, path in checkpoint.FIDELITY_CLASSIFIERS.items() if path.exists()}


@st.cache_resource(show_spinner=False)
def training_digits():
    """The offline digits' training split (shared, read only): what the step-by-step view takes a minibatch from."""
    from cvae_core.data import OFFLINE, load_dataset

    return load_dataset(OFFLINE, "train")


@st.cache_resource(show_spinner=False)
def test_digits():
    """The digits pages score on (cvae_core.data.test_digits): the official test split when it is here."""
    from cvae_core.data import test_digits as official_or_held_out

    return official_or_held_out()


def model_store() -> ModelStore:
    """Where visitors save models (settings: cvae_core/storage/store.py; a public server switches saving off)."""
    s = StoreSettings.from_environment(CHECKPOINTS / "saved")
    return _store(str(s.folder), s.enabled, s.max_files, s.max_bytes)


@st.cache_resource(show_spinner=False)
def _store(folder: str, enabled: bool, max_files: int, max_bytes: int) -> ModelStore:
    """One store per setting for the whole server: its lock is shared by every session."""
    return ModelStore(StoreSettings(Path(folder), enabled, max_files, max_bytes), CHECKPOINTS)


@st.cache_resource(show_spinner=False, max_entries=2)
def _saved_models(listing: tuple) -> dict:
    models = model_store().load()[0]
    for ckpt in models.values():
        ckpt.model.eval().requires_grad_(False)
    return models


def saved_models() -> dict:
    """Models visitors saved to this server (loaded again whenever the folder's listing changes)."""
    folder = model_store().settings.folder
    if not folder.is_dir():
        return {}
    listing = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*" + checkpoint.SUFFIX)))
    return _saved_models(listing)


@dataclass(frozen=True)
class SessionModel:
    """A model of this session: fixed weights (uploaded, or made on the Experiments page), or a run in the
    training process, whose weights are its latest snapshot's."""

    name: str
    checkpoint: Checkpoint | None = None
    run: object | None = None  # a cvae_core.serving.RunHandle
    metadata: dict = field(default_factory=dict)

    @property
    def uid(self) -> str:
        return self.run.id if self.run is not None else self.checkpoint.uid

    @property
    def still_training(self) -> bool:
        return self.run is not None and self.run.snapshot is not None and self.run.snapshot.active

    def current(self) -> Checkpoint | None:
        """The weights as they are now (None for a run that has not finished a slice yet)."""
        if self.run is None:
            return self.checkpoint
        model = self.run.model()
        if model is None:
            return None
        return Checkpoint(model, {**self.metadata, "train": self.run.summary()}, uid=self.run.id, version=self.run.model_version)


@dataclass(frozen=True)
class ModelChoice:
    label: str  # what a visitor reads, in their language: "cvae1 (pretrained)", "cvae1-run1 (this session, still training)"
    checkpoint: Checkpoint
    still_training: bool = False


def session_models_limit() -> int:
    """How many models this session keeps: MAX_SESSION_MODELS; the host's, as many again as a room's sweep makes runs
    (a sweep of 16 values beside the room's run would otherwise stop its own first runs as it starts its last)."""
    from cvae_core.serving.rooms import MAX_SWEEP_RUNS

    from .host import is_host

    return MAX_SESSION_MODELS + (MAX_SWEEP_RUNS if is_host() else 0)


def add_session_model(name: str, ckpt: Checkpoint | None = None, prefer: bool = True, run=None, metadata=None) -> str:
    """Make a model (fixed weights, or a run still training) available on every page of this session;
    with prefer, pages open on it. Returns its id."""
    entry = SessionModel(name, ckpt, run, metadata or {})
    models = state.session_models()
    while len(models) >= session_models_limit():  # a bound on what one visitor keeps in the server's memory
        oldest = next(iter(models))
        if models[oldest].run is not None:
            models[oldest].run.stop()
        del models[oldest]
    models[entry.uid] = entry
    if prefer:
        state.prefer_model(entry.uid)
    return entry.uid


def all_models() -> dict[str, ModelChoice]:
    """Every model this session can use, by id: shipped first, then saved by visitors, then this session's.
    Labels are for reading only (made unique; two uploads may share a file name)."""
    out: dict[str, ModelChoice] = {}
    seen: set[str] = set()

    def add(label: str, ckpt, still_training=False):
        unique, n = label, 2
        while unique in seen:
            unique, n = f"{label} #{n}", n + 1
        seen.add(unique)
        out[ckpt.uid] = ModelChoice(unique, ckpt, still_training)

    for name, ckpt in shipped_models()[0].items():
        add(_("{name} (pretrained)").format(name=name), ckpt)
    for name, ckpt in saved_models().items():
        add(_("{name} (saved by a visitor)").format(name=name), ckpt)
    for entry in state.session_models().values():
        ckpt = entry.current()
        if ckpt is not None:
            if entry.still_training:
                label = _("{name} (this session, still training)").format(name=entry.name)
            else:
                label = _("{name} (this session)").format(name=entry.name)
            add(label, ckpt, entry.still_training)
    return out


def model_picker(label: str | None = None, where=None, keep=lambda model: True, key: str = "model", help: str | None = None):
    """A select box of the available models that pass `keep` (its value is a model id); returns
    (display label, Checkpoint) or (None, None). `label` and `help` come translated (default: "Model")."""
    options = {uid: choice for uid, choice in all_models().items() if keep(choice.checkpoint.model)}
    where = where or st.sidebar
    if not options:
        where.info(_("No model here can do this yet: train one on the Train page."))
        return None, None
    preferred = state.preferred_model()
    if preferred in options and state.picked(key) != preferred:
        state.set_widget(key, preferred)  # a model just trained or loaded: show it
        state.note_picked(key, preferred)
    if state.widget(key) not in options:
        if state.shown_model(key) in options:  # a page without this picker came between: the model the visitor had
            state.set_widget(key, state.shown_model(key))
        else:
            state.forget_widget(key)  # the model it held is gone (a run restarted): back to the first
    uid = where.selectbox(
        _("Model") if label is None else label,
        list(options),
        format_func=lambda u: options[u].label,
        key=key,
        placeholder=_("Choose an option"),
        help=help or _("Pretrained models ship with the app; models you train on the Train page appear here too."),
    )
    state.note_shown_model(key, uid)
    choice = options[uid]
    if choice.still_training:
        where.caption(":material/model_training: " + _("Still training: this page uses the weights as they are now."))
    return choice.label, choice.checkpoint


def describe_model(ckpt) -> str:
    """A line of markdown on a checkpoint, in the visitor's language: its variant, latent size, network and test ELBO."""
    meta, model = ckpt.metadata, ckpt.model
    fields = {"title": _(model.card.title), "latent_size": model.latent_dim, "architecture": model.config.arch.upper()}
    test = meta.get("metrics", {}).get("test", {})
    if "elbo" in test:
        return _("**{title}** · latent size {latent_size} · {architecture} · test ELBO {elbo:.1f} nats").format(**fields, elbo=test["elbo"])
    return _("**{title}** · latent size {latent_size} · {architecture}").format(**fields)
