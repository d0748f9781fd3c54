"""A training process that dies comes back: killed by its pid while two sessions train, the server starts a new one on
its next use; both runs show where they were lost, their last kept weights download, Resume trains on from them and a
new Start trains. No page shows a traceback."""

import os
import signal
from pathlib import Path

import pytest

import ui.training
from cvae_core.storage import checkpoint
from tests.app.test_app import no_exceptions, page
from tests.conftest import wait_until
from ui import state as keys

pytestmark = pytest.mark.slow


def started() -> object:
    at = page("train").run()
    at.selectbox[0].set_value("cvae2").run()
    next(b for b in at.button if b.label == "Start").click().run()
    no_exceptions(at)
    return at


def current(at):
    return at.session_state[keys.SESSION_MODELS][at.session_state[keys.CURRENT_RUN]].run


def test_a_killed_training_process_comes_back_and_its_runs_keep_their_last_weights(monkeypatch):
    # A training process of this test's own: runs other tests left in the shared one (queued, or away) do not delay it.
    earlier = ui.training._client
    monkeypatch.setattr(ui.training, "_client", None)
    try:
        _killed_and_back()
    finally:
        if ui.training._client is not None:
            ui.training._client.close()
        monkeypatch.setattr(ui.training, "_client", earlier)


def _killed_and_back():
    mine, theirs = started(), started()
    runs = [current(mine), current(theirs)]
    client = ui.training.client()
    kept = [Path(client.keep_dir) / f"{run.id}.safetensors" for run in runs]
    wait_until(lambda: all(path.exists() for path in kept) and all(r.snapshot.progress.step > 0 for r in runs), timeout=180)
    os.kill(client.pid, signal.SIGKILL)  # as the kernel's OOM killer would
    wait_until(lambda: not client.alive(), timeout=30)

    for at in (mine, theirs):
        at.run()
        no_exceptions(at)
        assert any("Lost at step" in w.value for w in at.warning), [w.value for w in at.warning]
        assert "Download checkpoint" in [d.proto.label for d in at.get("download_button")]
    assert all(run.snapshot.state == "lost" for run in runs)
    weights = runs[0].model()
    assert weights is not None  # the last kept weights, read from the server's own folder
    kept_model = checkpoint.from_bytes(runs[0].kept_weights()).model
    assert all((a == b).all() for a, b in zip(weights.state_dict().values(), kept_model.state_dict().values(), strict=True))

    # Resume: a new run from the kept weights, in a new training process.
    next(b for b in mine.button if b.label == "Resume").click().run()
    no_exceptions(mine)
    resumed = current(mine)
    assert resumed.id != runs[0].id and ui.training.client() is not client and ui.training.client().alive()
    wait_until(lambda: resumed.snapshot is not None and resumed.snapshot.progress.step > 0, timeout=180)
    # The other visitor's new Start trains in the new process too.
    next(b for b in theirs.button if b.label == "Start").click().run()
    no_exceptions(theirs)
    fresh = current(theirs)
    wait_until(lambda: fresh.snapshot is not None and fresh.snapshot.progress.step > 0, timeout=180)
    for run in (resumed, fresh):
        run.stop()


def test_a_ray_cluster_that_cannot_be_reached_gives_way_to_the_servers_own_process_and_home_says_so(monkeypatch):
    """A lost Ray head (its port refuses: measured by hand, a driver whose head dies ends within about 60 s, and this is
    the restart that follows): the next use trains in the server's own process, and Home says so."""
    import socket

    with socket.socket() as s:  # a port nothing listens on: a head that is gone
        s.bind(("127.0.0.1", 0))
        gone = f"127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("CVAE_RAY_ADDRESS", gone)
    before = ui.training._client
    monkeypatch.setattr(ui.training, "_client", None)
    try:
        client = ui.training.client()
        assert ui.training.fell_back() and client.alive() and client.load()["backend"] == "local"
        home = page("home").run()
        no_exceptions(home)
        assert any("cannot be reached" in w.value for w in home.warning)
    finally:
        ui.training._client.close()
        monkeypatch.setattr(ui.training, "_client", before)
        ui.training._fell_back = False
