"""A shared run, live and read only: what the link of a presenter's "Share this run" opens."""

from urllib.parse import unquote

import streamlit as st

import ui
from ui import run_view, sharing
from ui.i18n import _, translated

ui.setup_page(
    _("Follow a run"),
    _(
        "Someone shares a run they are training: its samples, curves and bound, live, as they see them. You can watch but "
        "not change it; to train your own, open the Train page."
    ),
    heartbeat=False,  # a follower's refresh beats the shared run's heartbeat instead
)
token = unquote(st.query_params.get("run", ""))
if sharing.shared_run(token) is None:
    st.info(_("This link finds no shared run: the link is mistyped, or its owner stopped sharing it or closed their tab."))
    st.stop()
run_view.style()
refresh = ui.training.live_refresh_seconds(ui.training.client().load())


@st.fragment(run_every=refresh)
def follow() -> None:
    """The shared run as its latest snapshot has it; each refresh tells the training process someone is watching."""
    run = sharing.shared_run(token)
    if run is None:
        st.info(_("Its owner stopped sharing this run."))
        return
    ui.training.client().heartbeat(run)  # followers count as presence: the hall's view does not pause
    snap = run.snapshot
    if snap.error:
        st.error(translated(snap.error_template, snap.error_fields, snap.error))
    run_view.show_run(run, snap, ui.training.client().load())


follow()
