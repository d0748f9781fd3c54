"""Faults: a save killed at any moment never leaves a broken checkpoint; what it leaves behind is swept."""

import os
import signal
import subprocess
import sys
import time

import pytest

from cvae_core.errors import CheckpointError
from cvae_core.storage import checkpoint
from tests.conftest import ROOT

# The writer checkpoint.save ends in, in a process of its own that imports no torch (so that eight of them start at
# once): it writes the checkpoints it is given (two rounds of a 16 MB model, made by the test) over one file, forever.
SAVER = """
import sys
from cvae_core.storage.atomic import write_bytes
rounds = [open(path, "rb").read() for path in sys.argv[2:]]
print("ready", flush=True)
i = 0
while True:
    write_bytes(rounds[i % 2], sys.argv[1])
    i += 1
"""


def test_a_save_killed_at_any_moment_never_leaves_a_broken_checkpoint(tmp_path):
    from cvae_core.models import build_model, model_config

    target, made = tmp_path / "model.safetensors", tmp_path.parent / f"{tmp_path.name}-rounds"
    made.mkdir()
    model = build_model(model_config(variant="cvae2", hidden=1024, latent_dim=64))
    rounds = [made / f"{i}.bin" for i in (1, 2)]
    for i, path in enumerate(rounds, start=1):
        path.write_bytes(checkpoint.to_bytes(model, {"round": i}))
    for attempt in range(8):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(target), *map(str, rounds)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.05 + 0.11 * attempt)  # land at different points of a write
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if target.exists():  # whatever survived is a whole, loadable checkpoint
            assert checkpoint.load(target).metadata["round"] >= 1
    leftovers = [p for p in tmp_path.iterdir() if p.name != target.name]
    for path in leftovers:  # partial files are hidden temporaries, never *.safetensors
        assert path.name.startswith(".") and path.name.endswith(".tmp")
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    models, refused = checkpoint.load_folder(tmp_path)
    assert not refused and list(tmp_path.iterdir()) == ([target] if target.exists() else [])


def test_load_folder_reports_broken_files_and_keeps_the_good_ones(tmp_path):
    from cvae_core.models import build_model, model_config

    checkpoint.save(build_model(model_config(variant="vae", hidden=32, latent_dim=2)), tmp_path / "good.safetensors")
    (tmp_path / "broken.safetensors").write_bytes(b"\x00" * 100)
    models, refused = checkpoint.load_folder(tmp_path)
    assert list(models) == ["good"] and list(refused) == ["broken.safetensors"]
    with pytest.raises(CheckpointError):
        checkpoint.load(tmp_path / "broken.safetensors")


def test_a_full_collection_frees_a_frozen_cycle_that_became_garbage_and_keeps_the_rest_frozen():
    """The web server freezes what it has loaded (ui.server.freeze_what_is_loaded); a session alive then can be
    dropped later, and its cycles must still be found."""
    import gc
    import weakref

    from cvae_core.memory import collect_everything

    class Node:
        pass

    session = Node()
    session.myself = session  # a cycle, as a dropped session's objects are
    gone = weakref.ref(session)
    kept = Node()
    gc.freeze()
    try:
        del session
        gc.collect()
        assert gone() is not None  # frozen: an ordinary collection does not look at it
        collect_everything()
        assert gone() is None  # found and freed
        assert gc.get_freeze_count() > 0 and not any(o is kept for o in gc.get_objects())  # the living are frozen again
    finally:
        gc.unfreeze()
