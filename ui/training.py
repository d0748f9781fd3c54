"""Training for the pages: the server's training process (cvae_core/serving/), this
session's runs, and the heartbeat that tells it a session still has a tab open."""

import contextlib
import os
import threading

import streamlit as st

from cvae_core.errors import CVAEError
from cvae_core.serving import RunHandle, TrainingClient
from cvae_core.training.ray_backend import reachable
from cvae_core.training.recipe import Recipe
from cvae_core.training.service import RunState

from . import reload, state
from .i18n import N_, _
from .models import add_session_model

HEARTBEAT_SECONDS = 2.0  # the service stops a run not heard from for 6 s, so within 10 s of its last tab closing
# How often a live view reads its run's snapshot: once a second, slower when many runs share the server so that all
# pages together refresh about 1.5 times a second (a refresh costs the server and the browser CPU that training could
# use: bench/README.md), and never slower than 3.5 s, since the refresh is also the session's heartbeat.
REFRESH_SECONDS = 1.0
RUNS_PER_REFRESH = 1.5
MAX_SLOWDOWN = 3.5
# A page keeps the period it was drawn with (Streamlit fixes a fragment's period when the page runs); it is
# drawn again when the server's load asks for a period this far off (rarely: when visitors start or leave).
REFRESH_DRIFT = 1.25

_client: TrainingClient | None = None
_client_lock = threading.Lock()

__all__ = [
    "beat", "check_dataset", "client", "current_run", "heartbeat", "held_runs", "live_refresh_seconds", "refresh_drifted",
    "session_runs", "start_experiment", "start_run", "start_training", "training_now", "warm_up",
]  # fmt: skip


def client() -> TrainingClient:
    """The server's one training process, started on first use (CVAE_MAX_TRAININGS: trainings at once), and again on
    the next use after it was lost (its runs are then lost: RunHandle.lost). With CVAE_RAY_ADDRESS, a cluster that
    cannot be reached (its head lost) gives way to the server's own process (on_cluster says which)."""
    global _client, _fell_back
    with _client_lock:
        if _client is None or not _client.alive():
            address = os.environ.get("CVAE_RAY_ADDRESS", "").strip()
            try:
                if address and not reachable(address):
                    raise ConnectionError(address)
                _client, _fell_back = TrainingClient(), False
            except Exception:  # noqa: BLE001 -- the cluster cannot be reached: train here rather than nowhere
                if not address:
                    raise
                _client, _fell_back = TrainingClient(ray_address=""), True
        return _client


_fell_back = False


def fell_back() -> bool:
    """Did this server fall back to its own training process because its Ray cluster could not be reached?"""
    return _fell_back


def resume_lost(run: RunHandle, name: str, metadata: dict) -> RunHandle:
    """A lost run's Resume: a new run of the same recipe from its kept weights, in place of it on every page. Raises
    CVAEError with a sentence (no recipe or no weights kept)."""
    from cvae_core.errors import TrainingError

    weights = run.kept_weights()
    if run.recipe is None or weights is None:
        raise TrainingError(N_("this run kept no weights before it was lost; press Start for a new one"))
    return start_run(name, run.recipe, metadata, start_weights=weights)


def warm_up() -> None:
    """Start the training process in the background (it imports torch: seconds), so Start does not wait."""

    def start() -> None:
        try:
            client()
        except Exception:  # noqa: BLE001 -- only a head start: Start calls client() again and reports a failure there
            pass

    if _client is None:
        threading.Thread(target=start, daemon=True, name="start-training-process").start()


@st.cache_resource(show_spinner=False, max_entries=8)  # its spinner is check_dataset's, in the visitor's language
def _dataset_size(name: str) -> int:
    from cvae_core.data import load_dataset

    return len(load_dataset(name, "train"))


def check_dataset(name: str) -> None:
    """Make sure a data set is here (downloading it, with a progress bar, if allowed) before a run asks for it; raises
    DatasetError. A set already read by this server answers at once."""
    from cvae_core.data import load_dataset

    bar = None

    def progress(file_name: str, done: int, total: int | None) -> None:
        nonlocal bar
        bar = bar or st.progress(0.0)
        megabytes = _("{file} · {done:,.1f} of {total:,.1f} MB") if total else _("{file} · {done:,.1f} MB")
        bar.progress(
            min(1.0, done / total) if total else 0.0, text=megabytes.format(file=file_name, done=done / 1e6, total=(total or 0) / 1e6)
        )

    with st.spinner(_("Fetching the data set…")):  # shown only if it takes a moment (a download), not for one already here
        for split in ("train", "val"):
            load_dataset(name, split, progress=progress)
        _dataset_size(name)
    if bar is not None:
        bar.empty()


def held_runs() -> int:
    """Training runs the training process holds for sessions (0 before it has started)."""
    return 0 if _client is None else client().held()


def training_now() -> int:
    """Runs training at this moment, every session's (0 before the training process has started)."""
    return 0 if _client is None else client().load()["training"]


def current_run() -> RunHandle | None:
    return state.current_run()


def start_run(name: str, run_recipe: Recipe, metadata: dict, start_weights: bytes | None = None) -> RunHandle:
    """Queue a new run for this session (from a lost run's kept weights with start_weights: its Resume); it is on every
    page at once, marked still training. Raises CVAEError (with a sentence) when it cannot start."""
    starting = _client is None  # a fresh server's training process is still starting: it imports torch (seconds, once)
    with st.spinner(_("Starting the training process: a few seconds, once per server…")) if starting else contextlib.nullcontext():
        run = client().submit(run_recipe, start_weights=start_weights, owner=reload.owner_id())
    add_session_model(name, run=run, metadata=metadata)
    state.set_current_run(run)
    reload.keep_across_reload()  # a reload from now on finds it
    return run


def start_training(model: dict, train: dict, dataset: str | None, labels: int | None, own=None) -> RunHandle:
    """The Train page's Start: a run of these settings (Recipe.from_settings' model and train), on a named data set, or
    on the visitor's own (dataset None, `own` their OwnData), with `labels` labelled digits for a variant that learns
    from unlabelled ones. Raises CVAEError with a sentence."""
    from cvae_core.data import OFFLINE

    if dataset is None and own is None:
        raise CVAEError(N_("upload a data set first (a .zip of one folder per class, or an .npz)"))
    if dataset is not None and dataset != OFFLINE:  # one that must be downloaded is fetched here, or refused with its sentence
        check_dataset(dataset)
    dataset_name = state.own_data()[1] if own is not None else dataset
    run_recipe = Recipe.from_settings(model, train, dataset_name, labels, own=own)
    name = f"{run_recipe.model.variant}-run{state.next_run_number()}"
    meta = {"name": name, "dataset": dataset_name, "seed": run_recipe.train.seed, "labels": labels}
    if own is not None:  # label k's name; and a model of a visitor's own data is theirs alone: download only
        meta.update({"classes": list(own.classes), "own_data": True})
    return start_run(name, run_recipe, meta)


def start_experiment(spec: dict) -> RunHandle:
    """Queue a live retrain of an experiment (cvae_core.experiments.live.LIVE_EXPERIMENTS) for this session, in place of its
    last one of that experiment (stopped if it still trains). Raises CVAEError (with a sentence) when it cannot start."""
    starting = _client is None
    with st.spinner(_("Starting the training process: a few seconds, once per server…")) if starting else contextlib.nullcontext():
        run = client().submit_experiment(spec, owner=reload.owner_id())
    earlier = state.experiment_run(spec["experiment"])
    if earlier is not None and earlier.snapshot is not None and earlier.snapshot.active:
        earlier.stop()
    state.set_experiment_run(spec["experiment"], run)
    reload.keep_across_reload()
    return run


def session_runs() -> list[RunHandle]:
    """This session's runs that still want to train (queued, training, or away for want of a heartbeat): its models'
    runs and its live experiments."""
    runs = [entry.run for entry in state.session_models().values() if entry.run is not None] + state.experiment_runs()
    return [run for run in runs if run.snapshot is not None and run.snapshot.state in (RunState.QUEUED, RunState.TRAINING, RunState.AWAY)]


def live_refresh_seconds(load: dict) -> float:
    """Seconds between refreshes of a live view, given the service's load ({"training", "waiting", ...}): every
    REFRESH_SECONDS while few runs share the server, slower as more do (the pages together about 1.5 times a
    second), never slower than MAX_SLOWDOWN times that (the refresh is the session's heartbeat)."""
    busy = load.get("training", 0) + load.get("waiting", 0)  # runs of every session, this one's included
    return REFRESH_SECONDS * min(MAX_SLOWDOWN, max(1.0, busy / RUNS_PER_REFRESH))


def refresh_drifted(period: float, wanted: float) -> bool:
    """Is a page refreshing every `period` s far enough from the `wanted` period to be drawn again? Without this,
    the first visitors' pages kept the fast period of an empty server while others joined: with five runs, two
    pages refreshed every 1-1.3 s and the rest every 3 s: 2.75 refreshes a second in all, not 1.5."""
    return not (1 / REFRESH_DRIFT <= wanted / period <= REFRESH_DRIFT)


def heartbeat() -> None:
    """Put in every page's sidebar: while this session has a run, the open tab says so every 2 s.
    Streamlit has no hook for a closed tab; a run whose heartbeats stop stops within 10 s."""
    runs = session_runs()

    @st.fragment(run_every=HEARTBEAT_SECONDS if runs else None)
    def beating():
        beat()

    beating()


def beat() -> None:
    """Tell the training process that this session's runs still have an open tab."""
    for run in session_runs():
        run.beat()
