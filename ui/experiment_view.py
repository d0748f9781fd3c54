"""A live retrain of an experiment, as the Experiments page shows it: the job runs in the training service
(cvae_core/training/stages.py), queued fairly beside everyone's runs, and goes on while its visitor reads another page; this view
reads its snapshot: which network trains, how far the experiment is, and the figures of each network as it ends."""

from collections.abc import Callable

import streamlit as st

from cvae_core.errors import CVAEError
from cvae_core.training.service import AWAY

from . import state, training
from .i18n import N_, _, error_text, translated
from .run_view import STATUS, queue_line


def status_line(snap, load: dict) -> str:
    """Where the retrain stands, in the visitor's words."""
    summary = snap.summary
    if snap.state == "queued":
        return queue_line(snap, load)
    if snap.state == "training" and summary.get("stage"):
        return _("training {network} · {fraction:.0%} of the experiment").format(network=_(summary["stage"]), fraction=summary["fraction"])
    if snap.state == "lost":  # a retrain's stages cannot be rebuilt from one network's weights
        return _("lost: the server's training process stopped; start the retrain again")
    return _(STATUS.get(snap.state, N_("paused")))


def findings(experiment: str, snap, key: Callable[[dict], object]) -> tuple[dict | None, dict]:
    """The figures of the retrain the snapshot shows, so far (None before its first network ends), and those of this
    session's finished retrains by key(figures), the latest of each (this one too, once done)."""
    now = snap.summary.get("findings", {}).get(experiment)
    finished = state.live_findings(experiment)
    if now is not None and snap.state == "done":
        finished[key(now)] = now
    return now, finished


def controls(experiment: str, start_label: str, spec: dict) -> None:
    """Start (a new retrain with `spec`), Stop and Resume; a click is handled in the script run, so it carries the
    settings as the visitor last set them."""
    run = state.experiment_run(experiment)
    snap = run.snapshot if run is not None else None
    active = snap is not None and snap.active
    b1, b2, b3 = st.columns(3)
    start = b1.button(start_label, type="primary", disabled=active, key=f"{experiment}-start")
    stop = b2.button(_("Stop"), icon=":material/stop:", disabled=not active, key=f"{experiment}-stop", help=_("Pause; Resume continues."))
    resume = b3.button(
        _("Resume"), icon=":material/resume:", disabled=active or snap is None or snap.state in ("done", "failed", "lost"),
        key=f"{experiment}-resume", help=_("Continue where you stopped."),
    )  # fmt: skip
    if start:
        try:
            training.start_experiment(spec)
        except CVAEError as e:
            st.error(_("Cannot start: {reason}").format(reason=error_text(e)))
            return
        st.rerun()
    if stop and run is not None:
        training.client().stop(run)
        st.rerun()
    if resume and run is not None:
        training.client().start(run)
        st.rerun()


def live_experiment(experiment: str, show: Callable) -> None:
    """The session's latest retrain of an experiment, refreshed while it trains: status and progress, then show(run,
    snap), which draws the findings so far (and, once done, what the trained networks make)."""
    run = state.experiment_run(experiment)
    if run is None or run.snapshot is None:
        return
    wanting = run.snapshot.active or run.snapshot.state == AWAY  # away: the sidebar's heartbeat brings it back
    refresh = training.live_refresh_seconds(training.client().load()) if wanting else None

    @st.fragment(run_every=refresh)
    def view():
        training.beat()
        snap = run.snapshot
        if not snap.active and state.shown_state(experiment) in ("queued", "training"):
            state.note_shown_state(experiment, snap.state)
            st.rerun(scope="app")  # it ended: the buttons change, and the page stops refreshing
        state.note_shown_state(experiment, snap.state)
        st.progress(snap.summary.get("fraction", 0.0), text=status_line(snap, training.client().load()))
        if snap.error:
            st.error(translated(snap.error_template, snap.error_fields, snap.error))
        show(run, snap)

    view()
