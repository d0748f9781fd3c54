"""The server process: thread counts and garbage collection (training runs in a process of its own: ui.training)."""

import gc
import os

import torch

from cvae_core.memory import release_memory  # noqa: F401 -- the pages' name for it (ui.release_memory)

torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))


def freeze_what_is_loaded() -> None:
    """Leave what the server loads once (torch, Streamlit, the shipped models) out of every later garbage collection:
    Streamlit collects after every script run, and over all of torch that held the GIL long enough to delay a dial's
    digit visibly (bench/README.md). Called once per server, after the shipped models load (ui.models)."""
    gc.freeze()
