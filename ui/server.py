"""The server process: thread counts and memory (training runs in a process of its own: ui.training)."""

import os
from pathlib import Path

import torch

from cvae_core.memory import release_memory  # noqa: F401 -- the pages' name for it (ui.release_memory)

torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))


def server_memory_mb() -> float | None:
    """Resident memory of this server process in MB (Linux /proc; None elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None
