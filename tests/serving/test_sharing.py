"""Follow a run: a shared run's link shows it live and read only; a made-up link finds nothing; followers keep it alive."""

import time

from tests.app.test_app import images, no_exceptions, page
from tests.conftest import wait_until
from ui import sharing
from ui import state as keys

CONTROLS = {"Start", "Stop", "Resume", "Share this run", "Stop sharing", "Save on this server", "Next stage"}


def follower(token: str | None):
    at = page("follow")
    if token is not None:
        at.query_params["run"] = token
    return at.run()


def test_a_token_is_unguessable_and_a_share_ends_with_its_run():
    from cvae_core.training.recipe import Recipe
    from ui import training

    client = training.client()
    run = client.submit(Recipe.from_settings(model={"variant": "cvae2", "hidden": 64, "latent_dim": 4}, train={"epochs": 1.0}))
    earlier = [sharing.share(run) for _ in range(20)]
    assert len(set(earlier)) == 20 and all(len(t) >= 16 for t in earlier)  # 12 random bytes, URL-safe: 96 bits each
    assert all(sharing.shared_run(t) is None for t in earlier[:-1])  # one share per run: a new link ends the old
    token = sharing.share(run)
    followed = sharing.shared_run(token)
    assert followed is not None and followed.variant == "cvae2" and followed.snapshot.state in ("queued", "training", "paused")
    assert sharing.shared_run(token) is followed  # one reader per token on a server, whoever follows
    assert sharing.shared_run(token + "x") is None and sharing.shared_run("") is None and sharing.shared_run("x" * 500) is None
    sharing.unshare(token)
    wait_until(lambda: sharing.shared_run(token) is None, timeout=5)
    last = sharing.share(run)
    assert sharing.shared_run(last) is not None
    del run, followed
    # The owner's session lets the run go (held() collects the garbage and tells the training process): its link ends.
    wait_until(lambda: client.held() is not None and sharing.shared_run(last) is None, timeout=30, interval=0.3)


def test_a_follower_sees_the_shared_run_live_without_a_control_and_keeps_it_training():
    owner = page("train").run()
    next(b for b in owner.button if b.label == "Start").click().run()
    run = owner.session_state[keys.SESSION_MODELS][owner.session_state[keys.CURRENT_RUN]].run
    wait_until(lambda: run.snapshot.grid is not None)
    owner.run()
    next(b for b in owner.button if b.label == "Share this run").click().run()
    no_exceptions(owner)
    token = owner.session_state[keys.SHARED][run.id]
    link = next(c.value for c in owner.get("code"))
    assert link.endswith(f"/Follow?run={token}")
    assert len(images(owner)) >= 2  # the sample grid, and the QR code of the link

    watcher = follower(token)
    no_exceptions(watcher)
    assert "epoch" in watcher.get("progress")[0].proto.text and images(watcher)  # the grid, live
    assert not CONTROLS & {b.label for b in watcher.button} and not watcher.get("download_button")
    models = watcher.session_state[keys.SESSION_MODELS] if keys.SESSION_MODELS in watcher.session_state else {}
    assert not models  # the follower's session holds no model and trains nothing

    # The owner's tab goes quiet (slides); the follower's refreshes keep the run training past the 6 s absence limit.
    started = time.monotonic()
    while time.monotonic() - started < 9:
        watcher.run()
        time.sleep(1)
    assert run.snapshot.state == "training"

    # A follower who wants to explore asks for the decoder once; it is decoded in their browser, not sent each version.
    next(b for b in watcher.button if b.label == "Explore the weights of now").click().run()
    no_exceptions(watcher)
    from tests.app.test_app import explorer

    meta, start, _key = explorer(watcher)
    assert meta["variant"] == run.variant and len(start["z"]) == meta["latent_dim"]
    assert not CONTROLS & {b.label for b in watcher.button}  # exploring changes nothing of the run

    nobody = follower("made-up-token-that-names-nothing")
    assert any("finds no shared run" in i.value for i in nobody.info) and not images(nobody)

    next(b for b in owner.button if b.label == "Stop sharing").click().run()

    def ended() -> bool:  # at the follower's next refresh (a server reads a shared run at most every 0.2 s)
        watcher.run()
        return any("stopped sharing" in i.value or "finds no shared run" in i.value for i in watcher.info)

    wait_until(ended, timeout=5, interval=0.3)
    owner.session_state[keys.SESSION_MODELS][owner.session_state[keys.CURRENT_RUN]].run.stop()


def test_a_made_up_link_is_answered_from_memory_without_asking_the_board_again(monkeypatch):
    from ui import training

    client = training.client()
    asked = []
    real = client.call_board
    monkeypatch.setattr(client, "call_board", lambda *args: asked.append(args) or real(*args))
    token = "made-up-link-that-names-nothing"
    assert sharing.shared_run(token) is None and sharing.shared_run(token) is None and sharing.shared_run(token) is None
    assert len(asked) == 1  # the first asked the board; the next were answered from the short negative cache
