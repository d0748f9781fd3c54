"""The server process: thread counts, memory, and the training runs it holds for its sessions."""

import ctypes
import gc
import os
import weakref
from pathlib import Path

import torch

torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))

_LIVE_TRAINERS: weakref.WeakSet = weakref.WeakSet()


def track_trainer(trainer) -> None:
    """Count a training run until its session lets go of it (see live_trainers)."""
    _LIVE_TRAINERS.add(trainer)


def live_trainers() -> int:
    """How many training runs (each a model, its optimiser and a snapshot) this process still holds.

    Shows that a closed browser session's training runs are released."""
    gc.collect()  # a session's objects form reference cycles; count only what is really reachable
    return len(_LIVE_TRAINERS)


def release_memory() -> None:
    """Hand freed memory back to the system after heavy work (glibc keeps it otherwise), so that many
    sessions on one server stay within bounds."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def server_memory_mb() -> float | None:
    """Resident memory of this server process in MB (Linux /proc; None elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None
