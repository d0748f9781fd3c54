"""The host's key and the share board's bounds: shares are bounded per owner and in all, a full board lets the share
nobody follows go, and the host's share is never refused; only the session that entered the host's key has the powers
(presenter mode, the large type, stays open to all)."""

import pytest

from cvae_core.serving.shares import IDLE_SHARE_SECONDS, MAX_HOST_SHARES, MAX_SHARES, MAX_SHARES_PER_OWNER, ShareBoard
from tests.app.test_app import no_exceptions, page
from ui import state as keys
from ui.frame import PRESENTER

KEY = "a-long-host-key-for-tests"


def test_one_owner_shares_at_most_their_share_and_a_stranger_still_can():
    board = ShareBoard()
    made = [board.share(f"t{i}", {}, owner="me") for i in range(MAX_SHARES_PER_OWNER + 1)]
    assert made == [None] * MAX_SHARES_PER_OWNER + ["owner"]
    assert board.share("theirs", {}, owner="stranger") is None
    board.unshare("t0")
    assert board.share("again", {}, owner="me") is None  # a share ended makes room for the same owner


def test_a_full_board_refuses_a_visitor_lets_an_unfollowed_share_go_and_never_refuses_the_host(monkeypatch):
    import time

    now = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    board = ShareBoard()
    for i in range(MAX_SHARES):
        assert board.share(f"v{i}", {}, owner=f"visitor{i}") is None
    assert board.share("late", {}, owner="late visitor") == "full"  # every share is recent
    assert board.share("host-1", {}, owner="host", host=True) is None  # the host's share, with the board full
    board.publish("v0", {"x": 1}, 0, [], None)
    for i in range(1, MAX_SHARES):  # everyone but v0 is followed now
        board.publish(f"v{i}", {"x": 1}, 0, [], None)
    now[0] += IDLE_SHARE_SECONDS + 1
    for i in range(1, MAX_SHARES):
        board.read(f"v{i}", 0)
    assert board.share("late", {}, owner="late visitor") is None  # v0, followed by nobody for longest, went
    assert board.seen("v0") is None and board.seen("v1") is not None and board.seen("host-1") is not None


def test_the_hosts_oldest_share_makes_room_for_their_newest():
    board = ShareBoard()
    for i in range(MAX_HOST_SHARES + 2):
        assert board.share(f"h{i}", {}, host=True) is None
    assert board.seen("h0") is None and board.seen("h1") is None and board.seen(f"h{MAX_HOST_SHARES + 1}") is not None


@pytest.fixture
def host_key(monkeypatch):
    from ui import host

    monkeypatch.setenv("CVAE_HOST_KEY", KEY)
    host.configured_key.cache_clear()
    yield KEY
    host.configured_key.cache_clear()


def enter(at, key: str):
    at.sidebar.text_input(key="host_key_entry").set_value(key)
    return at.run()


def test_only_the_session_that_enters_the_hosts_key_has_the_powers(host_key):
    stranger, host = page("home").run(), page("home").run()
    no_exceptions(stranger)
    stranger.sidebar.toggle(key="presenter").set_value(True)
    stranger = stranger.run()
    assert stranger.session_state[PRESENTER] and keys.HOST not in stranger.session_state  # presenter mode is no credential
    stranger = enter(stranger, "a-guess")
    assert any("not this server's host key" in e.value for e in stranger.sidebar.error)
    assert keys.HOST not in stranger.session_state
    host = enter(host, host_key)
    no_exceptions(host)
    assert host.session_state[keys.HOST] is True and "host" not in stranger.run().session_state
    held = {k: host.session_state[k] for k in host.session_state}
    assert host_key not in str(host.query_params) and host_key not in str(held)  # the session keeps no copy of the key


def test_wrong_keys_are_limited_per_session(host_key):
    at = page("home").run()
    for _ in range(5):
        at = enter(at, "wrong key")
    at = enter(at, host_key)  # even the right key waits a minute after five wrong ones
    assert any("Too many wrong keys" in e.value for e in at.sidebar.error) and keys.HOST not in at.session_state


def test_without_a_host_key_set_the_sidebar_offers_none(monkeypatch):
    from ui import host

    monkeypatch.delenv("CVAE_HOST_KEY", raising=False)
    monkeypatch.delenv("CVAE_HOST_KEY_FILE", raising=False)
    host.configured_key.cache_clear()
    at = page("home").run()
    assert not [t for t in at.sidebar.text_input if t.key == "host_key_entry"]
