"""The training process's side of the pipe: the host that builds runs from recipes, trains them in the training
service (cvae_core/training/service.py) and serves their snapshots, weights and shares; and the process's bootstrap.

Why a process: in one Python process the training threads and the page scripts share one GIL, and training loses
(beside a busy pure-Python thread a training thread kept 3 % of its speed, in a process of its own 92-98 %:
bench/README.md). A separate process trains at full speed however busy the pages are, runs at a lower OS priority so
that pages come first, and keeps torch's threads out of the web server. The server's side is client.py.

While runs train, the host keeps each run's latest weights in a private folder of the server's (KEEP_SECONDS apart, one
file per run, removed with the run), so that a lost process's runs stay downloadable and can be resumed.
"""

import os
import secrets
import threading
import time
import uuid
from dataclasses import replace
from multiprocessing.managers import BaseManager

import numpy as np
import torch

from .. import images
from ..errors import CVAEError
from ..memory import limit_malloc_arenas, release_memory
from ..storage import checkpoint
from ..training.recipe import Recipe
from ..training.service import GRID_STYLES, TrainingRun, TrainingService
from .pipe import refusal
from .rooms import RoomBoard
from .shares import SHARE_TOKEN_BYTES, ShareBoard, cluster_board

PUBLISH_SECONDS = 0.2  # how often the owner's training process publishes its shared runs' new versions
KEEP_SECONDS = 2.0  # how often the training process writes its runs' newest weights where a new process finds them
MAX_KEPT = 512  # runs whose weights are kept at once (each a few MB at most): the folder's bound
# How far the training process yields the CPU to the web server (CVAE_TRAINING_NICENESS, 0-19; Linux nice
# values are per thread and inherited, so its lane threads get it too): pages and the server's event
# loop come first when the cores are busy.
NICENESS = 10


class TrainingHost:
    """Builds runs from recipes and serves their snapshots (one per training process)."""

    def __init__(self, ray_address: str | None = None, keep_dir: str | None = None, **service_settings):
        """keep_dir: the server's private folder where each run's newest weights are kept (None: not kept)."""
        self.runs: dict[str, TrainingRun] = {}
        self._data: dict = {}
        self._data_lock = threading.Lock()
        self.pool = None  # a Ray cluster's actors (cvae_core/training/ray_backend.py), or None: this process's own threads
        if ray_address:
            from ..training.ray_backend import RayPool

            self.pool = RayPool(ray_address)
            service_settings.update(max_concurrent=None, lanes=self.pool.grow())  # one lane per CPU of the cluster
        self.service = TrainingService(warm_up=None if self.pool else self.warm_up, **service_settings)
        # Shared runs: token -> run id here, published to a board every follower's server reads -- this process's own
        # (one server) or the cluster's (any replica: shares.cluster_board).
        self._shared: dict[str, str] = {}
        self._shared_lock = threading.Lock()
        if self.pool is None:
            self._board = ShareBoard()
            self._board_call = lambda method, *args: getattr(self._board, method)(*args)
        else:
            self._board, self._board_call = cluster_board(self.pool)
        # Rooms live where shared runs live (serving/rooms.py): a phone reaching any replica finds its room.
        if self.pool is None:
            self._rooms = RoomBoard()
            self._rooms_call = lambda method, *args: getattr(self._rooms, method)(*args)
        else:
            self._rooms, self._rooms_call = cluster_board(self.pool, RoomBoard, "room-board")
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
        try:
            run_recipe = Recipe.from_wire(recipe)
            train, validation = run_recipe.data(self._dataset)
            trainer = run_recipe.trainer(train, validation)
            if start_weights is not None:
                trainer.model.load_state_dict(checkpoint.from_bytes(start_weights).model.state_dict())
        except CVAEError as e:
            return refusal(e)
        model = trainer.model
        grid_seed = run_recipe.train.seed
        run_id = uuid.uuid4().hex

        def draw(model, seed=grid_seed):
            """The Train page's grid: one row per label, the same GRID_STYLES styles in every row (None for cvae3)."""
            return model.label_grid(GRID_STYLES, seed=seed).numpy() if model.makes_images else None

        run = TrainingRun(trainer, draw=draw, id=run_id, owner=owner)
        if self.pool is not None:  # the named data sets go to the cluster once; derived ones (labels hidden, own) per run
            named = run_recipe.own is None and run_recipe.labels is None
            run.where = self.pool.remote_recipe(run_recipe, run_id, train, validation, shared=named)
        self.runs[run.id] = run
        self.service.start(run)
        return {
            "id": run.id, "variant": model.name, "makes_images": model.makes_images, "uses_label": model.uses_label,
            "epochs": trainer.config.epochs,
        }  # fmt: skip

    def submit_experiment(self, spec: dict, owner: str = "") -> dict:
        """Queue a live retrain of an experiment (experiments.live.live_plan): {"id", "variant", ...} as submit's, or an error."""
        from ..experiments.live import live_plan

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
        from ..experiments.quadrants import QuadrantResult

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
        return images.gif_bytes([(f"epoch {epoch:.1f}", grid) for epoch, grid in frames], ncol=GRID_STYLES, scale=2)

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

    # ---- rooms ------------------------------------------------------------------------------------
    def room(self, method: str, *args):
        """A call to the board of rooms (RoomBoard's public methods only)."""
        if method not in RoomBoard.PUBLIC:
            return None
        return self._rooms_call(method, *args)

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


def init_training_process(parent_pid: int, settings: dict) -> None:
    """Runs first in the training process: lower priority, settings, and exit when the server does."""
    _SETTINGS.update(settings)
    limit_malloc_arenas(2)  # not eight per core for the lane threads: memory a visitor can make us hold
    try:
        os.nice(min(19, max(0, int(os.environ.get("CVAE_TRAINING_NICENESS", NICENESS)))))
    except (OSError, ValueError):
        pass

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(0)  # the server is gone: so is its training

    threading.Thread(target=watch, daemon=True, name="watch-parent").start()


class HostManager(BaseManager):
    """The pipe: the server's client (client.py) starts the training process through it and calls its one host."""


HostManager.register("host", callable=_host)
