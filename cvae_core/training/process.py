"""The training service in a process of its own, and the server's handles on its runs.

Why a process: in one Python process the training threads and the page scripts share one GIL, and
training loses (beside a busy pure-Python thread a training thread kept 3 % of its speed, in a
process of its own 92-98 %: bench/README.md). A separate process trains at full speed however busy the
pages are, runs at a lower OS priority so that pages come first, and keeps torch's threads out of
the web server.

The server talks to it through a multiprocessing manager (our own objects, pickled between our own
two processes; nothing from a visitor is unpickled). A run is built in the training process from a
*recipe* (settings and data-set names), and the server holds a `RunHandle`: its snapshot (polled, at
most every `POLL_SECONDS`), and the weights as they are now, fetched once per version.

A training process that dies (killed for memory, `kill -9`, a lost Ray head) is noticed by the next call that fails
(TrainingLost) and the server starts a new one on its next use (ui.training.client). Its runs are then "lost": while
they trained, the training process kept each run's latest weights in a private folder of the server's (KEEP_SECONDS
apart, one file per run, removed with the run), so a lost run's weights stay downloadable and Resume trains on from
them in the new process (a new run from those weights: not bit-identical to the run that was lost).
"""

import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
import types
import uuid
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import replace
from multiprocessing import get_context
from multiprocessing.managers import BaseManager

import numpy as np
import torch

from .. import images
from ..errors import CVAEError
from ..memory import collect_everything, limit_malloc_arenas, release_memory
from ..storage import checkpoint
from ..text import N_
from .service import LOST, TrainingRun, TrainingService

SHARE_TOKEN_BYTES = 12  # 96 random bits: a shared run's link cannot be guessed
PUBLISH_SECONDS = 0.2  # how often the owner's training process publishes its shared runs' new versions

START_SECONDS = 120.0  # the training process's first answer (torch's import, a cluster's actors): a cluster slower than this is lost
KEEP_SECONDS = 2.0  # how often the training process writes its runs' newest weights where a new process finds them
MAX_KEPT = 512  # runs whose weights are kept at once (each a few MB at most): the folder's bound
MAX_FOLLOWED = 256  # shared runs one server reads for its followers at once
CALLERS = 4  # threads that talk to the training process for the server's sessions (calls take milliseconds)
BOARD_CALLERS = 2  # threads of their own for followers' reads of shared runs: made-up links cannot hold up heartbeats
UNKNOWN_SECONDS = 5.0  # a token the board does not know is answered from memory this long (made-up links cost nothing)
MAX_UNKNOWN = 4096
POLL_SECONDS = 0.2  # a page reading a snapshot more often than this gets the one it had
# How far the training process yields the CPU to the web server (CVAE_TRAINING_NICENESS, 0-19; Linux nice
# values are per thread and inherited, so its worker threads get it too): pages and the server's event
# loop come first when the cores are busy.
NICENESS = 10


class TrainingLost(CVAEError):
    """The training process is gone; the server starts a new one on its next use."""

    def __init__(self):
        super().__init__(N_("The training process stopped; the server is starting a new one. Your runs keep their last weights."))


def refusal(error: CVAEError) -> dict:
    """A sentence refusing a call, for the pipe: English, and its template and fields for the server to translate."""
    return {"error": str(error), "template": error.template, "fields": dict(error.fields)}


# ---- in the training process ------------------------------------------------------------------
class TrainingHost:
    """Builds runs from recipes and serves their snapshots (one per training process)."""

    def __init__(self, ray_address: str | None = None, keep_dir: str | None = None, **service_settings):
        """keep_dir: the server's private folder where each run's newest weights are kept (None: not kept)."""
        self.runs: dict[str, TrainingRun] = {}
        self._data: dict = {}
        self._data_lock = threading.Lock()
        self.pool = None  # a Ray cluster's actors (cvae_core/training/ray_backend.py), or None: this process's own threads
        if ray_address:
            from .ray_backend import RayPool

            self.pool = RayPool(ray_address)
            service_settings.update(max_concurrent=None, lanes=self.pool.grow())  # one lane per CPU of the cluster
        self.service = TrainingService(warm_up=None if self.pool else self.warm_up, **service_settings)
        # Shared runs: token -> run id here, published to a board every follower's server reads -- this process's own
        # (one server) or the cluster's (any replica: ray_backend.ShareBoard).
        self._shared: dict[str, str] = {}
        self._shared_lock = threading.Lock()
        if self.pool is None:
            from .ray_backend import ShareBoard

            self._board, self._board_call = ShareBoard(), lambda method, *args: getattr(self._board, method)(*args)
        else:
            self._board, self._board_call = self.pool.board(), self.pool.board_call
        threading.Thread(target=self._publish_shared, daemon=True, name="publish-shared").start()
        self.keep_dir = keep_dir
        if keep_dir:
            threading.Thread(target=self._keep_weights, daemon=True, name="keep-weights").start()
        if self.pool is not None:  # nodes that join serve visitors at once
            threading.Thread(
                target=self.pool.watch, args=(self.service.add_lanes, lambda: self.service.closed), daemon=True, name="watch-cluster"
            ).start()

    def warm_up(self) -> None:
        """Load the offline digits and take a few steps on the live default model (each worker thread, at
        start), so that a visitor's first slice does not pay for torch's first calls in that thread."""
        from .recipe import Recipe

        trainer = Recipe.from_settings(train={"epochs": 1.0, "seed": 0}).build(self._dataset)
        trainer.run(max_steps=5)
        trainer.model.label_grid(2, seed=0)

    def _dataset(self, name: str, split: str):
        from ..data import load_dataset

        with self._data_lock:  # loaded once, shared read-only by every run (a Dataset is immutable)
            if (name, split) not in self._data:
                self._data[(name, split)] = load_dataset(name, split)
            return self._data[(name, split)]

    def _kept_path(self, run_id: str) -> str:
        return os.path.join(self.keep_dir, f"{run_id}.safetensors")

    def _keep_weights(self) -> None:
        """Every KEEP_SECONDS: each run's newest published weights, written (atomically) where a new training process
        can start from them if this one dies. At most MAX_KEPT runs' files; a dropped run's file goes with it (drop)."""
        kept: dict[str, int] = {}
        while not self.service.closed:
            time.sleep(KEEP_SECONDS)
            for run_id, run in list(self.runs.items())[:MAX_KEPT]:
                snap = run.snapshot
                if snap.model is None or kept.get(run_id) == snap.version:
                    continue
                try:
                    partial = self._kept_path(run_id) + ".partial"
                    with open(partial, "wb") as f:
                        f.write(checkpoint.to_bytes(snap.model))
                    os.replace(partial, self._kept_path(run_id))
                    kept[run_id] = snap.version
                except OSError:  # a full disk: the run trains on; its weights are only not kept this time
                    pass
            for run_id in set(kept) - set(self.runs):
                kept.pop(run_id)

    def submit(self, recipe: dict, start_weights: bytes | None = None, owner: str = "") -> dict:
        """Build a run and queue it: {"id", "makes_images", "uses_label", "epochs"}, or {"error": sentence, "template",
        "fields"} (the sentence as a template and its fields, so that the server can translate it). start_weights: a
        checkpoint's bytes to start from (a lost run's kept weights: its Resume)."""
        from .recipe import Recipe

        try:
            run_recipe = Recipe.from_dict(recipe)
            train, validation = run_recipe.data(self._dataset)
            trainer = run_recipe.trainer(train, validation)
            if start_weights is not None:
                trainer.model.load_state_dict(checkpoint.from_bytes(start_weights).model.state_dict())
        except CVAEError as e:
            return refusal(e)
        model = trainer.model
        grid_seed = recipe["train"]["seed"]
        run_id = uuid.uuid4().hex

        def draw(model, seed=grid_seed):
            """The Train page's grid: one row per label, the same eight styles in every row (None for cvae3)."""
            return model.label_grid(8, seed=seed).numpy() if model.makes_images else None

        run = TrainingRun(trainer, draw=draw, id=run_id, owner=owner)
        if self.pool is not None:  # the named data sets go to the cluster once; derived ones (labels hidden, own) per run
            named = run_recipe.own is None and run_recipe.labels is None
            run.where = self.pool.remote_recipe(recipe, run_id, train, validation, shared=named)
        self.runs[run.id] = run
        self.service.start(run)
        return {
            "id": run.id, "variant": model.name, "makes_images": model.makes_images, "uses_label": model.uses_label,
            "epochs": trainer.config.epochs,
        }  # fmt: skip

    def submit_experiment(self, spec: dict, owner: str = "") -> dict:
        """Queue a live retrain of an experiment (experiments.live_plan): {"id", "variant", ...} as submit's, or an error."""
        from ..experiments import live_plan

        try:
            job = live_plan(spec, self._dataset)
        except CVAEError as e:
            return refusal(e)
        run = TrainingRun(job, owner=owner)  # no grid: an experiment's networks are shown by its page once they are trained
        self.runs[run.id] = run
        self.service.start(run)
        return {"id": run.id, "variant": f"experiment:{job.experiment}", "makes_images": False, "uses_label": False, "epochs": None}

    def showcase(self, run_id: str, image, seed: int) -> list | None:
        """A finished live quadrant run's completions of one digit (28 x 28, values in [0, 1]): what is shown, the truth,
        the NN's guess and six CVAE completions, as arrays; None for another run, one not finished, or a malformed image."""
        from ..experiments import QuadrantResult

        run = self.runs.get(run_id)
        result = getattr(run.trainer, "result", None) if run is not None else None
        image = np.asarray(image, dtype=np.float32)
        if not isinstance(result, QuadrantResult) or image.size != 28 * 28 or not np.isfinite(image).all():
            return None
        x = torch.from_numpy(image.reshape(28, 28).clip(0, 1))
        return [part.numpy() for part in result.showcase(x, n_samples=6, seed=int(seed) % 2**31)]

    def start(self, run_id: str) -> None:
        if run_id in self.runs:
            self.service.start(self.runs[run_id])

    def stop(self, run_id: str) -> None:
        if run_id in self.runs:
            self.service.stop(self.runs[run_id])

    def set_beta(self, run_id: str, beta: float) -> dict | None:
        """None, or {"error", "template", "fields"} for a β out of range."""
        if run_id in self.runs:
            try:
                self.service.set_beta(self.runs[run_id], beta)
            except CVAEError as e:
                return refusal(e)
        return None

    def heartbeat(self, run_id: str) -> None:
        if run_id in self.runs:
            self.service.heartbeat(self.runs[run_id])

    def drop(self, run_ids: list[str]) -> None:
        """Forget runs whose sessions are gone: stop them, end their shares and free their memory."""
        for run_id in run_ids:
            run = self.runs.pop(run_id, None)
            if run is not None:
                self.service.stop(run)
            if self.keep_dir:
                try:
                    os.remove(self._kept_path(run_id))
                except OSError:
                    pass
        with self._shared_lock:
            ended = [token for token, run_id in self._shared.items() if run_id not in self.runs]
        for token in ended:
            self.unshare(token)
        if run_ids:
            release_memory()

    def snapshot(self, run_id: str, have_history: int) -> dict | None:
        """The run's latest snapshot, without the weights, and only the history rows after the first have_history."""
        run = self.runs.get(run_id)
        if run is None:
            return None
        snap = run.snapshot
        return {"snapshot": replace(snap, model=None, history=()), "new_history": snap.history[have_history:]}

    def weights(self, run_id: str) -> tuple[int, bytes] | None:
        """(version, checkpoint bytes) of the run's latest published weights: the server reads them with the
        one checkpoint loader, as it reads any other model."""
        run = self.runs.get(run_id)
        if run is None or run.snapshot.model is None:
            return None
        snap = run.snapshot
        return snap.version, checkpoint.to_bytes(snap.model)

    def animation(self, run_id: str) -> bytes | None:
        """The run's sample grids so far as an animated GIF, the epoch in the corner of each frame (None before the first)."""
        run = self.runs.get(run_id)
        frames = run.filmstrip.all() if run is not None else []
        if not frames:
            return None
        return images.gif_bytes([(f"epoch {epoch:.1f}", grid) for epoch, grid in frames], ncol=8, scale=2)

    # ---- shared runs ----------------------------------------------------------------------------
    def share(self, run_id: str, info: dict, owner: str = "", host: bool = False) -> dict:
        """{"token": a new token for a run (its earlier link ends)}, or {"refused": why} (ShareBoard.share's reasons, or
        "gone" for a run this process does not hold)."""
        if run_id not in self.runs:
            return {"refused": "gone"}
        with self._shared_lock:
            earlier = [token for token, shared_id in self._shared.items() if shared_id == run_id]
        for token in earlier:  # one share per run: a new link replaces the old
            self.unshare(token)
        token = secrets.token_urlsafe(SHARE_TOKEN_BYTES)
        refused = self._board_call("share", token, info, owner, host)
        if refused is not None:
            return {"refused": refused}
        with self._shared_lock:
            self._shared[token] = run_id
        self._publish_one(token, run_id, {})
        return {"token": token}

    def unshare(self, token: str) -> None:
        with self._shared_lock:
            self._shared.pop(token, None)
        self._board_call("unshare", token)

    def follow(self, token: str, have_history: int, weights: bool = False) -> dict | None:
        """A shared run as the board has it (see ShareBoard.read); None for an unknown or ended token."""
        return self._board_call("read", token, have_history, weights)

    def _publish_shared(self) -> None:
        published: dict[str, tuple] = {}  # token -> (version, state, history rows) last published
        while True:
            time.sleep(PUBLISH_SECONDS)
            with self._shared_lock:
                shared = dict(self._shared)
            for token, run_id in shared.items():
                try:
                    self._publish_one(token, run_id, published)
                except Exception:  # noqa: BLE001 -- a board call that failed: the next round tries again
                    continue
            for token in set(published) - set(shared):
                published.pop(token)

    def _publish_one(self, token: str, run_id: str, published: dict) -> None:
        """Publish a shared run's snapshot if it changed; followers seen recently beat its heartbeat."""
        run = self.runs.get(run_id)
        if run is None:
            return
        snap = run.snapshot
        version, state, rows = published.get(token, (-1, "", 0))
        if (snap.version, snap.state, len(snap.history)) != (version, state, rows):
            weights = checkpoint.to_bytes(snap.model) if snap.version != version and snap.model is not None else None
            bare = replace(snap, model=None, history=())
            seen = self._board_call("publish", token, bare, min(rows, len(snap.history)), list(snap.history[rows:]), weights)
            published[token] = (snap.version, snap.state, len(snap.history))
        else:  # nothing new to publish: only ask whether followers are there
            seen = self._board_call("seen", token)
        if seen is not None and time.time() - seen < self.service.absent_after:
            self.service.heartbeat(run)  # followers count as presence: a presenter on their slides does not pause the hall

    def load(self) -> dict:
        where = {"backend": "local", "nodes": 1} if self.pool is None else {"backend": "ray", "nodes": self.pool.nodes_used()}
        return {**self.service.load(), "held": len(self.runs), **where}


_HOST: TrainingHost | None = None


def _host() -> TrainingHost:
    """The manager's one shared object (created in the training process on first use)."""
    global _HOST
    if _HOST is None:
        cores = os.environ.get("CVAE_TRAINING_CORES", "").strip()  # threads the runs share (default: every core)
        _HOST = TrainingHost(
            ray_address=_SETTINGS.get("ray_address"),
            keep_dir=_SETTINGS.get("keep_dir"),
            max_concurrent=_SETTINGS.get("max_concurrent"),
            cores=int(cores) if cores.isdigit() and int(cores) > 0 else None,
        )
    return _HOST


_SETTINGS: dict = {}


def _init_training_process(parent_pid: int, settings: dict) -> None:
    """Runs first in the training process: lower priority, settings, and exit when the server does."""
    _SETTINGS.update(settings)
    limit_malloc_arenas(2)  # not eight per core for the worker threads: memory a visitor can make us hold
    try:
        os.nice(min(19, max(0, int(os.environ.get("CVAE_TRAINING_NICENESS", NICENESS)))))
    except (OSError, ValueError):
        pass

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)  # the server is gone: so is its training

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


class _Manager(BaseManager):
    pass


_Manager.register("host", callable=_host)


# ---- in the server ----------------------------------------------------------------------------
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
        self._manager = _Manager(ctx=get_context("spawn"))  # spawn, not fork: the server has threads
        # A spawned process re-imports the parent's __main__ (here Streamlit's command line, or a test
        # runner); the training process needs none of it, so it is shown a blank one while it starts.
        server_main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            settings = {"max_concurrent": max_concurrent, "ray_address": ray_address, "keep_dir": self.keep_dir}
            self._manager.start(_init_training_process, (os.getpid(), settings))
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

    def submit(self, recipe: dict, start_weights: bytes | None = None, owner: str = "") -> "RunHandle":
        """Queue a run for `owner` (a browser's key: the scheduler shares time between owners), from a lost run's kept
        weights with start_weights; raises CVAEError with the training process's sentence if it cannot start,
        TrainingLost when the process is gone."""
        handle = self._handle(self.call("submit", recipe, start_weights, owner))
        handle.recipe = recipe
        return handle

    def submit_experiment(self, spec: dict, owner: str = "") -> "RunHandle":
        """Queue a live retrain of an experiment (cvae_core.experiments.LIVE_EXPERIMENTS); raises CVAEError as submit does."""
        return self._handle(self.call("submit_experiment", spec, owner))

    def _handle(self, answer: dict) -> "RunHandle":
        if "error" in answer:
            raise CVAEError(answer["template"], **answer["fields"])
        handle = RunHandle(self, answer)
        self._handles.add(handle)
        weakref.finalize(handle, self._dropped.append, handle.id)  # no IPC inside the garbage collector
        return handle

    def start(self, handle: "RunHandle") -> None:
        self.call("start", handle.id)
        handle.forget_snapshot()

    def stop(self, handle: "RunHandle") -> None:
        self.call("stop", handle.id)
        handle.forget_snapshot()

    def set_beta(self, handle: "RunHandle", beta: float) -> None:
        """Change a run's KL weight β from its next slice on; raises CVAEError with a sentence for a β out of range."""
        answer = self.call("set_beta", handle.id, float(beta))
        if answer is not None:
            raise CVAEError(answer["template"], **answer["fields"])

    def heartbeat(self, handle: "RunHandle | FollowedRun") -> None:
        if isinstance(handle, FollowedRun):
            handle.poll()  # a follower's read is its presence (ShareBoard.read)
        else:
            self.call("heartbeat", handle.id)

    # ---- shared runs ----------------------------------------------------------------------------
    def share(self, handle: "RunHandle", owner: str = "", host: bool = False) -> dict:
        """{"token": a token that lets anyone follow the run (on any replica, with Ray)} or {"refused": why}: "owner" (the
        owner, a browser's key, shares as many runs as one may), "full" (the board) or "gone". A host's share is never
        refused for room."""
        info = {"variant": handle.variant, "makes_images": handle.makes_images, "uses_label": handle.uses_label, "epochs": handle.epochs}
        return self.call("share", handle.id, info, owner, host)

    def unshare(self, token: str) -> None:
        self.call("unshare", token)

    def follow(self, token: str) -> "FollowedRun | None":
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


class RunHandle:
    """The server's view of a run in the training process: its latest snapshot and weights."""

    def __init__(self, client: TrainingClient, info: dict):
        self._client = client
        self.id: str = info["id"]
        self.variant: str = info["variant"]  # whose card (cvae_core.cards) writes the run's bound
        self.makes_images: bool = info["makes_images"]
        self.uses_label: bool = info["uses_label"]
        self.epochs: float | None = info["epochs"]
        self.recipe: dict | None = None  # what it was built from (a live experiment's spec is not a recipe: None)
        self._lock = threading.Lock()
        self._snapshot = None
        self._polled = 0.0
        self._history: tuple = ()
        self._model = None  # (version, module)

    @property
    def lost(self) -> bool:
        """Was the training process that held this run lost?"""
        return self._client.lost

    def kept_weights(self) -> bytes | None:
        """The newest weights the training process kept of this run (checkpoint bytes), or None."""
        try:
            with open(os.path.join(self._client.keep_dir, f"{self.id}.safetensors"), "rb") as f:
                return f.read()
        except OSError:
            return None

    def forget_snapshot(self) -> None:
        self._polled = 0.0

    def stop(self) -> None:
        """Pause the run (its weights so far stay usable); nothing to do for a lost one."""
        try:
            self._client.stop(self)
        except TrainingLost:
            pass

    @property
    def snapshot(self):
        """The latest snapshot (weights left out: see model())."""
        with self._lock:
            now = time.monotonic()
            if self._snapshot is not None and self._snapshot.state == LOST:
                return self._snapshot
            if self._snapshot is None or now - self._polled >= POLL_SECONDS:
                try:
                    answer = self._client.call("snapshot", self.id, len(self._history))
                except TrainingLost:
                    if self._snapshot is not None:  # as it was last seen, marked lost (its weights: kept_weights)
                        self._snapshot = replace(self._snapshot, state=LOST)
                    return self._snapshot
                if answer is not None:
                    self._history = self._history + tuple(answer["new_history"])
                    self._snapshot = replace(answer["snapshot"], history=self._history)
                self._polled = now
            return self._snapshot

    def summary(self) -> dict:
        return self.snapshot.summary

    def model(self):
        """The weights as they are now, as a frozen module (None before the first slice); fetched once per version."""
        snap = self.snapshot
        with self._lock:
            if snap is None or snap.version == 0:
                return None
            if snap.state == LOST:  # the training process's last kept weights, read once
                if self._model is None or self._model[0] != -1:
                    data = self.kept_weights()
                    if data is None:
                        return None if self._model is None else self._model[1]
                    self._model = (-1, checkpoint.from_bytes(data).model.eval().requires_grad_(False))
                return self._model[1]
            if self._model is None or self._model[0] != snap.version:
                answer = self._client.call("weights", self.id)
                if answer is None:
                    return None
                version, data = answer
                self._model = (version, checkpoint.from_bytes(data).model.eval().requires_grad_(False))
            return self._model[1]

    def showcase(self, image, seed: int = 0) -> list | None:
        """A finished live quadrant run's completions of one digit (TrainingHost.showcase)."""
        try:
            return self._client.call("showcase", self.id, np.asarray(image, dtype=np.float32), int(seed))
        except TrainingLost:
            return None

    def animation(self) -> bytes | None:
        """An animated GIF of the run's sample grids as training went (None before the first grid, or once lost)."""
        try:
            return self._client.call("animation", self.id)
        except TrainingLost:
            return None

    @property
    def model_version(self) -> int:
        return self._model[0] if self._model is not None else 0


class FollowedRun:
    """A shared run as a follower's server reads it, from the board its owner's training process publishes to: what a
    RunHandle offers a page, read only (nothing here stops, saves or changes it). Polled at most every POLL_SECONDS,
    whoever asks: every follower on this server shares one snapshot and one copy of the weights per version."""

    def __init__(self, client: TrainingClient, token: str):
        self._client, self.token = client, token
        self.id = f"shared-{token}"
        self._lock = threading.Lock()
        self._answer: dict | None = None
        self._polled = 0.0
        self._history: tuple = ()
        self._snapshot = None
        self._model = None  # (version, module)
        self.variant, self.makes_images, self.uses_label, self.epochs = "", False, False, None

    def poll(self):
        """The latest snapshot, or None once the share has ended."""
        with self._lock:
            now = time.monotonic()
            if self._polled == 0.0 or now - self._polled >= POLL_SECONDS:
                try:
                    answer = self._client.call_board("follow", self.token, len(self._history))
                except TrainingLost:  # the owner's process was this server's and is gone: the share ended with it
                    answer = None
                self._polled = now
                if answer is None:
                    self._snapshot = None
                else:
                    info = answer["info"]
                    self.variant, self.makes_images, self.uses_label, self.epochs = (
                        info["variant"],
                        info["makes_images"],
                        info["uses_label"],
                        info["epochs"],
                    )
                    self._history = self._history + tuple(answer["new_history"])
                    self._snapshot = replace(answer["snapshot"], history=self._history)
            return self._snapshot

    @property
    def snapshot(self):
        return self.poll()

    def summary(self) -> dict:
        snap = self.poll()
        return snap.summary if snap is not None else {}

    def model(self):
        """The weights of the latest version the board holds, as a frozen module; fetched once per version."""
        snap = self.poll()
        with self._lock:
            if snap is None or snap.version == 0:
                return None
            if self._model is None or self._model[0] != snap.version:
                answer = self._client.call_board("follow", self.token, len(self._history), True)
                if answer is None or answer.get("weights") is None:
                    return None
                self._model = (answer["snapshot"].version, checkpoint.from_bytes(answer["weights"]).model.eval().requires_grad_(False))
            return self._model[1]

    @property
    def model_version(self) -> int:
        return self._model[0] if self._model is not None else 0

    def animation(self) -> None:
        return None  # the owner's to download
