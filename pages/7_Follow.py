"""A shared run, live and read only: what the link of a presenter's "Share this run" opens."""

from urllib.parse import unquote

import streamlit as st

import ui
from ui import decoder_view, run_view, sharing
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
    run.beat()  # followers count as presence: the hall's view does not pause
    snap = run.snapshot
    if snap.error:
        st.error(translated(snap.error_template, snap.error_fields, snap.error))
    run_view.show_run(run, snap, ui.training.client().load())


follow()

# ---- explore: the run's decoder, asked for once, decoded in this browser (not sent with every version) --------------
followed = sharing.shared_run(token)
if followed is not None and followed.makes_images:
    st.subheader(_("Explore this model"))
    pinned = ui.state.explorer_pin(followed.id)
    if pinned is None:
        if st.button(
            _("Explore the weights of now"), icon=":material/tune:", key="follow_explore",
            help=_("Fetch this run's decoder once and move its dials in your browser; the run trains on, and a later click takes newer weights."),
        ):  # fmt: skip
            model = followed.model()
            if model is not None:
                ui.state.pin_explorer(
                    followed.id, (followed.model_version, decoder_view.model_buffer(f"{followed.id}:{followed.model_version}", model, ()))
                )
                st.rerun()
    else:
        if st.button(_("Take the newest weights"), icon=":material/refresh:", key="follow_newest"):
            ui.state.forget_explorer_pin(followed.id)
            st.rerun()
        st.caption(_("The weights of version {version}, decoded in your browser.").format(version=pinned[0]))
        decoder_view.explorer(pinned[1], decoder_view.opening(pinned[1]), mount=f"explorer:{followed.id}")
