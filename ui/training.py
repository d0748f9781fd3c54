"""Training for the pages: the server's one TrainingService, this session's runs, and the heartbeat
that tells the service a session still has a tab open."""

import streamlit as st

from cvae_core.service import AWAY, QUEUED, TRAINING, TrainingRun, TrainingService

from . import state
from .server import track_trainer

HEARTBEAT_SECONDS = 2.0  # the service stops a run not heard from for 6 s, so within 10 s of its last tab closing
CURRENT_RUN = "current_run"  # this session's latest TrainingRun (the Train page shows it)


@st.cache_resource(show_spinner=False)
def service() -> TrainingService:
    """One per server: its limit on concurrent trainings is CVAE_MAX_TRAININGS (default: one per core)."""
    return TrainingService()


def current_run() -> TrainingRun | None:
    return st.session_state.get(CURRENT_RUN)


def start_run(name: str, trainer, draw, metadata: dict) -> TrainingRun:
    """Queue a new run for this session; it is on every page at once, marked still training."""
    from .models import add_session_model

    run = TrainingRun(trainer, draw=draw)
    track_trainer(trainer)
    add_session_model(name, run=run, metadata=metadata)
    st.session_state[CURRENT_RUN] = run
    service().start(run)
    return run


def session_runs() -> list[TrainingRun]:
    """This session's runs that still want to train (queued, training, or away for want of a heartbeat)."""
    runs = [entry.run for entry in state.session_models().values() if entry.run is not None]
    return [run for run in runs if run.snapshot.state in (QUEUED, TRAINING, AWAY)]


def heartbeat() -> None:
    """Put in every page's sidebar: while this session has a run, the open tab says so every 2 s.
    Streamlit has no hook for a closed tab; a run whose heartbeats stop stops within 10 s."""
    runs = session_runs()

    @st.fragment(run_every=HEARTBEAT_SECONDS if runs else None)
    def beat():
        for run in session_runs():
            service().heartbeat(run)

    beat()
