"""The server process: thread counts and memory (training runs in a process of its own: ui.training)."""

import ctypes
import gc
import os
from pathlib import Path

import torch

torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))

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
