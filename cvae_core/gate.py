"""A server-wide bound on work a visitor can make the web server do: at most `size` at once, the next one waits its
turn (after being told, so that its page can say "busy, a few seconds"). Used for reading uploaded data sets
(cvae_core.own_data) and for the pages' measurements (ui.heavy)."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Gate:
    """At most `size` holders at once, server-wide."""

    def __init__(self, size: int):
        self.size = size
        self._free = threading.BoundedSemaphore(size)

    @contextmanager
    def slot(self, waiting: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold a slot for the block; `waiting()` is called first when none is free, then the block waits for one."""
        if not self._free.acquire(blocking=False):
            if waiting is not None:
                waiting()
            self._free.acquire()
        try:
            yield
        finally:
            self._free.release()
