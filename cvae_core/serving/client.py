"""The server's side of the pipe: starts the training process (host.py) and hands out handles on its runs.

The server talks to the training process through a multiprocessing manager (our own objects, pickled between our own
two processes; nothing from a visitor is unpickled). A run is built in the training process from a Recipe (sent in its
wire form), and the server holds a RunHandle (handles.py), on which a page calls every control of the run.

A training process that dies (killed for memory, `kill -9`, a lost Ray head) is noticed by the next call that fails
(TrainingLost) and the server starts a new one on its next use (ui.training.client). Its runs are then lost: their
kept weights stay downloadable and Resume trains on from them in the new process (a new run from those weights: not
bit-identical to the run that was lost).
"""

import os
import shutil
import sys
import tempfile
import threading
import time
import types
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from multiprocessing import get_context

from ..memory import collect_everything
from ..training.recipe import Recipe
from .handles import FollowedRun, RunHandle
from .host import HostManager, init_training_process
from .pipe import TrainingLost, raise_refusal

START_SECONDS = 120.0  # the training process's first answer (torch's import, a cluster's actors): a cluster slower than this is lost
MAX_FOLLOWED = 256  # shared runs one server reads for its followers at once
CALLERS = 4  # threads that talk to the training process for the server's sessions (calls take milliseconds)
BOARD_CALLERS = 2  # threads of their own for followers' reads of shared runs: made-up links cannot hold up heartbeats
UNKNOWN_SECONDS = 5.0  # a token the board does not know is answered from memory this long (made-up links cost nothing)
MAX_UNKNOWN = 4096


class TrainingClient:
    """The server's side: starts the training process and hands out RunHandles."""

    def __init__(self, max_concurrent: int | None = None, ray_address: str | None = None):
        """ray_address: train on that Ray cluster (default: CVAE_RAY_ADDRESS; unset or "": this process's threads)."""
        ray_address = os.environ.get("CVAE_RAY_ADDRESS", "").strip() if ray_address is None else ray_address
        self.ray_address = ray_address
        self.lost = False  # set by the first call that finds the training process gone
        # The runs' newest weights, kept by the training process: a folder of this server's own (mode 700), removed with
        # this client; a lost run's handle reads its weights from here.
        self.keep_dir = tempfile.mkdtemp(prefix="cvae-kept-")
        weakref.finalize(self, shutil.rmtree, self.keep_dir, True)
        self._manager = HostManager(ctx=get_context("spawn"))  # spawn, not fork: the server has threads
        # A spawned process re-imports the parent's __main__ (here Streamlit's command line, or a test
        # runner); the training process needs none of it, so it is shown a blank one while it starts.
        server_main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            settings = {"max_concurrent": max_concurrent, "ray_address": ray_address, "keep_dir": self.keep_dir}
            self._manager.start(init_training_process, (os.getpid(), settings))
        finally:
            sys.modules["__main__"] = server_main
        self._local = threading.local()  # a proxy per caller thread: each has its own connection
        self._callers = ThreadPoolExecutor(max_workers=CALLERS, thread_name_prefix="training-call")
        self._board_callers = ThreadPoolExecutor(max_workers=BOARD_CALLERS, thread_name_prefix="share-board-call")
        self._unknown: dict[str, float] = {}  # token -> when the board last did not know it
        self._dropped: deque[str] = deque()
        self._dropping = threading.Lock()  # a count (held) waits for drops another thread has taken but not yet sent
        self._handles: weakref.WeakSet = weakref.WeakSet()
        self._followed: dict[str, FollowedRun] = {}  # token -> the shared run as this server reads it
        self._follow_lock = threading.Lock()
        try:  # the training process builds its service (and joins the cluster), whose workers warm up at once
            self._callers.submit(self._call_here, "load", ()).result(timeout=START_SECONDS)
        except FutureTimeout:  # a cluster that does not answer: Ray's driver retries for minutes
            self.lost = True
            self.close()
            raise TrainingLost from None
        threading.Thread(target=self._janitor, daemon=True, name="training-janitor").start()

    def call(self, method: str, *args):
        """Call the training process's host from one of a few long-lived threads, each keeping its connection.
        A manager proxy connects (and authenticates) once per thread, and Streamlit runs every script run,
        fragments included, in a new thread: called from there, each refresh of a page opened a connection
        (the largest part of the server's time per refresh, measured with py-spy)."""
        return self._callers.submit(self._call_here, method, args).result()

    def call_board(self, method: str, *args):
        """A call about shared runs, on threads of their own (see call)."""
        return self._board_callers.submit(self._call_here, method, args).result()

    def _call_here(self, method: str, args: tuple):
        if self.lost:
            raise TrainingLost
        try:
            proxy = getattr(self._local, "proxy", None)
            if proxy is None:
                proxy = self._local.proxy = self._manager.host()
            return getattr(proxy, method)(*args)
        except (OSError, EOFError) as e:  # the pipe broke, or the process is gone (ConnectionError is an OSError)
            self.lost = True  # a broken pipe is a lost process, dying or not: it is ended, and the next use starts anew
            process = getattr(self._manager, "_process", None)
            if process is not None and process.is_alive():
                process.kill()
            raise TrainingLost from e

    def alive(self) -> bool:
        """Is the training process there (no call has found it gone, and its process runs)?"""
        process = getattr(self._manager, "_process", None)
        return not self.lost and (process is None or process.is_alive())

    @property
    def pid(self) -> int | None:
        """The training process's pid (None before it has started)."""
        process = getattr(self._manager, "_process", None)
        return None if process is None else process.pid

    def submit(self, recipe: Recipe, start_weights: bytes | None = None, owner: str = "") -> RunHandle:
        """Queue a run for `owner` (a browser's key: the scheduler shares time between owners), from a lost run's kept
        weights with start_weights; raises CVAEError with the training process's sentence if it cannot start,
        TrainingLost when the process is gone."""
        handle = self._handle(self.call("submit", recipe.to_wire(), start_weights, owner), owner)
        handle.recipe = recipe
        return handle

    def submit_experiment(self, spec: dict, owner: str = "") -> RunHandle:
        """Queue a live retrain of an experiment (cvae_core.experiments.live.LIVE_EXPERIMENTS); raises CVAEError as submit does."""
        return self._handle(self.call("submit_experiment", spec, owner), owner)

    def _handle(self, answer: dict, owner: str) -> RunHandle:
        handle = RunHandle(self, raise_refusal(answer), owner)
        self._handles.add(handle)
        weakref.finalize(handle, self._dropped.append, handle.id)  # no IPC inside the garbage collector
        return handle

    # ---- shared runs ----------------------------------------------------------------------------
    def unshare(self, token: str) -> None:
        self.call("unshare", token)

    def follow(self, token: str) -> FollowedRun | None:
        """The shared run a token names, read only, or None for a made-up, ended or malformed token. One FollowedRun per token
        on this server: its followers share one snapshot per version."""
        if not isinstance(token, str) or not 8 <= len(token) <= 64:
            return None
        now = time.monotonic()
        with self._follow_lock:
            if now - self._unknown.get(token, -UNKNOWN_SECONDS) < UNKNOWN_SECONDS:
                return None  # asked for moments ago and unknown then: answered from memory
            followed = self._followed.get(token)
            if followed is None:
                followed = FollowedRun(self, token)
                if followed.poll() is None:
                    self._unknown[token] = now
                    while len(self._unknown) > MAX_UNKNOWN:
                        self._unknown.pop(next(iter(self._unknown)))
                    return None
                self._followed[token] = followed
                while len(self._followed) > MAX_FOLLOWED:
                    self._followed.pop(next(iter(self._followed)))
        return followed if followed.poll() is not None else None

    def room(self, method: str, *args):
        """A call to the board of rooms (serving/rooms.py's RoomBoard), on the shared runs' threads: its answer as it
        came (plain data, a refusal or None)."""
        return self.call_board("room", method, *args)

    def load(self) -> dict:
        return self.call("load")

    def held(self) -> int:
        """Runs the training process still holds, once the garbage of closed sessions is collected."""
        collect_everything()
        self._send_drops()
        return self.call("load")["held"]

    def _send_drops(self) -> None:
        with self._dropping:
            if self._dropped:
                ids = [self._dropped.popleft() for _ in range(len(self._dropped))]
                self.call("drop", ids)

    def _janitor(self) -> None:
        beats = 0
        while True:
            time.sleep(1.0)
            beats += 1
            # A dropped session's objects form cycles, frozen ones among them: every 10 s while runs are held (find
            # their handles), every 30 s anyway (a session without runs). Each costs the server ~0.2 s.
            if (beats % 10 == 0 and len(self._handles)) or beats % 30 == 0:
                collect_everything()
            try:
                self._send_drops()
            except (OSError, EOFError, RuntimeError, TrainingLost):  # the training process or the callers are gone
                return

    def close(self) -> None:
        self._callers.shutdown(wait=False, cancel_futures=True)
        self._board_callers.shutdown(wait=False, cancel_futures=True)
        try:
            self._manager.shutdown()
        except (OSError, EOFError):  # already gone
            pass
