"""A reload keeps the visitor's runs: the reload register, and who owns what a session starts.

A reload opens a new Streamlit session. A browser that carries a secret cookie -- the proxy's random route cookie
(deploy/), or Streamlit's own XSRF cookie -- gets back the runs and models of its previous session, which the server
keeps for a while after its tab went (server.disconnectedSessionTTL). The register holds each session's kept values
weakly: they leave it with the last session that holds them, so it costs the server nothing a session does not.
"""

import hashlib
import secrets
import threading
import weakref

import streamlit as st

from . import state

VISITOR_COOKIES = ("cvae_route", "_streamlit_xsrf")  # secret to the browser that holds it, random, kept across reloads

class _Kept:
    __slots__ = ("values", "__weakref__")

    def __init__(self):
        self.values: dict = {}


_visitors: "weakref.WeakValueDictionary[str, _Kept]" = weakref.WeakValueDictionary()
_visitors_lock = threading.Lock()


def visitor_key() -> str | None:
    """This browser's key: a hash of its secret cookie (never the cookie itself), or None without one."""
    try:
        cookies = st.context.cookies
    except Exception:  # noqa: BLE001 -- no browser behind this run (a script, a test)
        return None
    for name in VISITOR_COOKIES:
        value = cookies.get(name)
        secret = xsrf_token(value) if name == "_streamlit_xsrf" and value else value
        if secret:
            return hashlib.sha256(f"{name}={secret}".encode()).hexdigest()
    return None



def owner_id() -> str:
    """Who owns what this session starts (shares now): the browser's key, or, without a cookie, an id of this session."""
    key = visitor_key()
    return key if key is not None else state.session_owner(lambda: "session:" + secrets.token_hex(16))


def xsrf_token(cookie: str) -> str | None:
    """The secret inside Streamlit's XSRF cookie. Tornado writes it as "2|mask|masked token|time" and masks the token
    afresh at each page load (a new random mask XORed over it), so the cookie's text changes on every reload while the
    token stays; None for a cookie of another form."""
    parts = cookie.split("|")
    if len(parts) != 4 or parts[0] != "2":
        return None
    try:
        mask, masked = bytes.fromhex(parts[1]), bytes.fromhex(parts[2])
    except ValueError:
        return None
    if len(mask) != 4 or not masked:
        return None
    return bytes(b ^ mask[i % 4] for i, b in enumerate(masked)).hex()


def keep_across_reload() -> None:
    """Called at the top of every page: a new session of a browser the server knows takes its runs back, and this
    session's values are noted for a reload to come."""
    key = visitor_key()
    if key is None:
        return
    kept = state.kept_entry()
    if kept is None:
        with _visitors_lock:
            previous = _visitors.get(key)
            kept = _Kept()
            state.set_kept_entry(kept)
            _visitors[key] = kept
        if previous is not None:
            state.take_back(previous.values)
    kept.values = state.kept_values()
