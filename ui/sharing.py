"""Shared runs: an owner's "Share this run" makes a link that shows the run, live and read only, to anyone who opens it.

The registry is the server's (this process): a token of 96 random bits names a run's handle. Followers read the same
RunHandle, so a snapshot is fetched once per version for all of them on this server; each follower's refresh beats the
run's heartbeat, so a presenter who switches to slides does not pause the hall's view. A share ends when its owner
stops sharing or their session lets the run go (the registry holds the handle weakly). Nothing a follower can reach
changes the run: the follow page draws ui.run_view and has no control."""

import io
import secrets
import threading
import weakref

MAX_SHARES = 256  # shared runs on one server at once: a bound on what strangers can make it hold
TOKEN_BYTES = 12  # 96 random bits: a link cannot be guessed

_shares: "weakref.WeakValueDictionary[str, object]" = weakref.WeakValueDictionary()
_lock = threading.Lock()


class TooManyShares(Exception):
    """The server holds MAX_SHARES shared runs already."""


def share(run) -> str:
    """A new token for `run` (a RunHandle); raises TooManyShares when the server holds as many as it may."""
    with _lock:
        if len(_shares) >= MAX_SHARES:
            raise TooManyShares
        token = secrets.token_urlsafe(TOKEN_BYTES)
        _shares[token] = run
        return token


def unshare(token: str) -> None:
    with _lock:
        _shares.pop(token, None)


def shared_run(token: str | None):
    """The run a token names, or None for a made-up, ended or malformed one."""
    if not token or not isinstance(token, str) or len(token) > 64:
        return None
    with _lock:
        return _shares.get(token)


def qr_png(text: str) -> bytes:
    """A QR code of `text` as a PNG large enough to be read from the back of a room."""
    import qrcode

    picture = qrcode.make(text, box_size=12, border=2)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
