"""Shared runs: an owner's "Share this run" makes a link that shows the run, live and read only, to anyone who opens it.

The register is the training process's (cvae_core/serving/): a token of 96 random bits names a run, whose new
versions the owner's training process publishes to a board -- its own on one server, the cluster's with Ray, so that a
link works on any replica. A follower's server reads it through one FollowedRun per token: a snapshot is fetched once
per version for all its followers, and their reads count as the run's presence, so a presenter who switches to slides
does not pause the hall's view. A share ends when its owner stops sharing or their session lets the run go. Nothing a
follower can reach changes the run: the follow page draws ui.run_view and has no control."""

import io
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from . import host, state, training
from .frame import page, presenter
from .i18n import _


class TooManyShares(Exception):
    """No share: `why` is "owner" (this browser shares as many runs as one may) or "full" (the board)."""

    def __init__(self, why: str):
        super().__init__(why)
        self.why = why


def share(run) -> str:
    """A new token for `run` (a RunHandle), owned by this browser; the host's is never refused for room. Raises
    TooManyShares."""
    made = run.share(host=host.is_host())
    if "token" not in made:
        raise TooManyShares(made["refused"])
    return made["token"]


def unshare(token: str) -> None:
    training.client().unshare(token)


def shared_run(token: str | None):
    """The run a token names (a FollowedRun), or None for a made-up, ended or malformed one."""
    return training.client().follow(token) if token else None


def qr_png(text: str) -> bytes:
    """A QR code of `text` as a PNG large enough to be read from the back of a room."""
    import qrcode

    picture = qrcode.make(text, box_size=12, border=2)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def share_panel(run) -> None:
    """The Train page's "Share this run": a button, then the link (to the Follow page), its QR code and "Stop sharing"."""
    token = state.share_token(run.id)
    if token is not None and shared_run(token) is None:
        token = None  # the server let it go (a restart)
    share_column, link_column = st.columns([1, 2])
    if token is None:
        if share_column.button(
            _("Share this run"), icon=":material/share:", key="train_share",
            help=_("A link and a QR code that show this run live, read only: for a room following your screen on their phones."),
        ):  # fmt: skip
            try:
                state.note_share(run.id, share(run))
                st.rerun()
            except TooManyShares as e:
                if e.why == "owner":
                    st.error(_("You share as many runs as one visitor may; stop sharing one of them first."))
                else:
                    st.error(_("This server shares as many runs as it can; try again later."))
        return
    address = urlsplit(st.context.url or "")
    link = urlunsplit((address.scheme or "http", address.netloc, page("follow").address, urlencode({"run": token}), ""))
    if share_column.button(_("Stop sharing"), icon=":material/link_off:", key="train_unshare", help=_("The link then shows nothing.")):
        unshare(token)
        state.note_share(run.id, None)
        st.rerun()
    link_column.code(link, language=None)
    link_column.image(
        qr_png(link), width=420 if presenter() else 280, caption=_("The same link as a QR code"), alt=_("A QR code of the link above.")
    )
