"""The server process: thread counts and garbage collection (training runs in a process of its own: ui.training)."""

import gc
import os

import torch

from cvae_core.memory import release_memory  # noqa: F401 -- the pages' name for it (ui.release_memory)

torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))


def freeze_what_is_loaded() -> None:
    """Leave what the server loads once (torch, Streamlit, the shipped models) out of every later garbage collection.

    Streamlit runs a full collection after every script run, fragments included (runner.postScriptGC). Over
    everything a torch server holds it took about 200 ms, with the GIL held, so the server sent nothing
    meanwhile: a dial's new digit reached the browser 200 ms late, and every refresh of a training page cost
    0.2 s of a core. gc.freeze moves the objects alive now into a permanent generation that collections skip;
    they are long-lived by nature. Called once per server, after the shipped models load (ui.models). No
    collection first: it would cost the first visitor those 200 ms, and it finds nothing to free there (a
    collection after importing torch and Streamlit and loading the models found 0 unreachable objects)."""
    gc.freeze()
