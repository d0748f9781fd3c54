"""Shared runs: an owner's "Share this run" makes a link that shows the run, live and read only, to anyone who opens it.

The register is the training process's (cvae_core/serving/): a token of 96 random bits names a run, whose new
versions the owner's training process publishes to a board -- its own on one server, the cluster's with Ray, so that a
link works on any replica. A follower's server reads it through one FollowedRun per token: a snapshot is fetched once
per version for all its followers, and their reads count as the run's presence, so a presenter who switches to slides
does not pause the hall's view. A share ends when its owner stops sharing or their session lets the run go. Nothing a
follower can reach changes the run: the follow page draws ui.run_view and has no control."""

import io

from . import host, training


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
