"""The host's key: presenter powers for whoever enters the key the host set when starting the server.

Powers (not presenter *mode*, the large type, which stays open to all): a share that is never refused for room (ShareBoard
keeps the host's shares beside the visitors'), and the rooms that a host opens. The key is read once from CVAE_HOST_KEY or
from the file CVAE_HOST_KEY_FILE names (so that it is not in the process's environment listing), never from a link; a
visitor types it once in the sidebar, and the session then holds only "this session is the host's", never the key. A
wrong key gets a sentence; a session may try MAX_TRIES times a minute. Without a key set, no one has the powers."""

import hmac
import os
import time
from functools import cache
from pathlib import Path

import streamlit as st

from . import state
from .i18n import _

ENTRY = "host_key_entry"
MAX_TRIES = 5  # wrong entries a minute, per session


@cache
def configured_key() -> str | None:
    """The host's key (at least 8 characters), or None when none is set or it is unreadable."""
    key = os.environ.get("CVAE_HOST_KEY", "")
    path = os.environ.get("CVAE_HOST_KEY_FILE", "")
    if not key and path:
        try:
            key = Path(path).read_text().strip()
        except OSError:
            key = ""
    return key if len(key) >= 8 else None


def is_host() -> bool:
    """Has this session entered the host's key?"""
    return state.is_host() and configured_key() is not None


def check(entered: str) -> str | None:
    """Enter a key for this session; None when it is the host's, else the sentence to show."""
    key = configured_key()
    if key is None:
        return _("No host key is set on this server.")
    now = time.monotonic()
    tries = [t for t in state.host_tries() if now - t < 60]
    if len(tries) >= MAX_TRIES:
        return _("Too many wrong keys; try again in a minute.")
    if hmac.compare_digest(entered.encode(), key.encode()):
        state.set_host(True)
        return None
    state.note_host_tries([*tries, now])
    return _("That is not this server's host key.")


def _entered() -> None:
    entered = state.widget(ENTRY) or ""
    state.forget_widget(ENTRY)  # the key is not kept in the session
    if entered:
        state.say_to_host(check(entered))


def host_panel() -> None:
    """In the sidebar: where the host enters their key (only when the server has one), or that this session is the host's."""
    if configured_key() is None:
        return
    if is_host():
        st.caption(_("Host: your shares are never refused for room, and you can open a room that phones join."))
        if st.button(_("Leave host mode"), key="host_leave"):
            state.set_host(False)
            st.rerun()
        return
    with st.expander(_("For the host")):
        st.text_input(
            _("Host key"), type="password", key=ENTRY, on_change=_entered,
            help=_("The key set when this server was started (CVAE_HOST_KEY). It gives this browser tab the presenter's powers."),
        )  # fmt: skip
        said = state.said_to_host()
        if said:
            st.error(said)
