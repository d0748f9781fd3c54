"""Memory handed back to the system: a server shared by many visitors must not keep what they freed.

glibc keeps freed memory in its arenas (one or more per thread) rather than returning it, so a
process that once held several models stays that large. Both the web server and the training
process use these (other C libraries: nothing to do)."""

import ctypes
import gc
from pathlib import Path

M_ARENA_MAX = -8  # glibc's mallopt parameter


def _glibc():
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def collect_everything() -> int:
    """A full garbage collection that looks at frozen objects too (the web server freezes what it has loaded,
    ui.server.freeze_what_is_loaded, and a session alive then may since have been dropped: its objects form
    cycles that only a collection over the frozen ones finds). What survives is frozen again. Returns the
    number of unreachable objects found."""
    frozen = gc.get_freeze_count() > 0
    if frozen:
        gc.unfreeze()
    found = gc.collect()
    if frozen:
        gc.freeze()
    return found


def release_memory() -> None:
    """Collect garbage (a dropped session's objects form cycles) and return freed memory to the system."""
    collect_everything()
    libc = _glibc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def limit_malloc_arenas(arenas: int) -> None:
    """At most this many malloc arenas, however many threads (call before the threads start)."""
    libc = _glibc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_ARENA_MAX, arenas)


def resident_mb() -> float | None:
    """Resident memory of this process in MB (Linux /proc; None elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None
