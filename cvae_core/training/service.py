"""Training as a service: a server-wide set of lanes trains every session's runs, a slice at a time,
and publishes snapshots that pages read. A page redraw never waits for training, and
training never waits for a redraw.

- At most `max_concurrent` runs train at once; the rest wait in a first-come queue, and each
  waiting run knows how many are ahead of it.
- Time-slicing: when others are waiting, a run that has held a lane for `fair_share_seconds` goes
  to the back of the queue, so nobody waits for a long run to end.
- Threads per run: torch's thread count is per thread (set in each lane's thread): the cores but one (left
  to the web server) shared among the runs training, so many runs do not oversubscribe the cores.
- Presence: a run's owner (a browser session) sends heartbeats; a run not heard from for
  `absent_after_seconds` stops at the end of its slice ("away") and resumes when heard again.
- The service holds a run only while it is queued or training, so a run whose session is gone
  is freed with the session.

- Lanes (`Lane`): where a run's slices train, one run at a time, each driven by a thread of the service's. This
  process's own thread by default (`LocalLane`); on a Ray cluster, an actor on some node
  (cvae_core/training/ray_backend.py), while the scheduling above stays here. What a lane trains is a `Job`.

The app runs this service in a process of its own (cvae_core/serving/host.py): in the web server's
process its threads would share one GIL with the page scripts, and lose (bench/README.md compares
the two). Tests and bench/ also run it in their own process, as threads.
"""

import copy
import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Protocol

import numpy as np
import torch
from torch import nn

from ..errors import CVAEError, TrainingError
from ..images import to_uint8
from ..metrics import latent_usage
from ..text import N_
from .engine import Progress

log = logging.getLogger(__name__)


class RunState(str, Enum):
    """Where a run is. The service sets all but LOST; a string, so a snapshot reads the same on every side of a pipe."""

    QUEUED = "queued"  # waiting for a lane
    TRAINING = "training"  # on a lane
    PAUSED = "paused"  # stopped by its owner; its weights so far stay usable
    AWAY = "away"  # stopped because its owner's tab was not heard from; back in the queue when it is
    DONE = "done"  # trained to its end
    FAILED = "failed"  # stopped by an error (Snapshot.error says which)
    LOST = "lost"  # the training process that held it is gone (the server's view: cvae_core.serving.RunHandle)

    def __str__(self) -> str:
        return self.value


GRID_STYLES = 8  # the grid a run draws as it trains: one row per label, the same GRID_STYLES styles in every row


class Job(Protocol):
    """What the service reads and drives of a run's work: a Trainer (training/engine.py), or an experiment's plan
    (training/stages.py). Touched only by the lane that holds the run."""

    done: bool
    samples: int  # digits trained so far
    step: int
    elapsed: float  # seconds of training so far
    epoch: float
    model: nn.Module
    validation: object  # the validation digits (a Dataset), or None
    history: list

    @property
    def progress(self) -> Progress: ...

    def run(self, max_seconds: float | None = None) -> object: ...

    def summary(self) -> dict: ...


class Lane(Protocol):
    """Where a run's slices train, one run at a time: this process's thread (LocalLane), or a Ray actor
    (training/ray_backend.RayLane). The service gives each lane a thread of its own, which takes runs from the queue."""

    def ready(self) -> bool:
        """Can it train now? (A remote lane whose node is gone cannot; the others serve the queue meanwhile.)"""

    def begin(self, run: "TrainingRun") -> None:
        """The run takes the lane for its turn (a remote lane receives the run's whole state)."""

    def train(self, run: "TrainingRun", seconds: float) -> None:
        """One slice of about `seconds`; raises LaneLost when the lane's node is gone."""

    def end(self, run: "TrainingRun") -> None:
        """The run leaves the lane (a remote lane hands the whole state back)."""


class LaneLost(Exception):
    """The actor behind a lane died or stopped answering: its node is gone."""


UNEXPECTED_ERROR = N_("Training stopped by an unexpected error ({kind}: {detail}).")


def failure(error: Exception) -> dict:
    """Why a run failed, as a Snapshot's error fields: the English sentence, and its template and fields, from
    which the app says it in the visitor's language."""
    if isinstance(error, CVAEError):
        return {"error": str(error), "error_template": error.template, "error_fields": dict(error.fields)}
    fields = {"kind": type(error).__name__, "detail": str(error)}
    return {"error": UNEXPECTED_ERROR.format(**fields), "error_template": UNEXPECTED_ERROR, "error_fields": fields}


@dataclass(frozen=True)
class Snapshot:
    """What pages read of a run: consistent, immutable, never touched by the lane again."""

    state: RunState
    progress: Progress
    history: tuple  # the trainer's history rows (dicts) so far
    ahead: int = 0  # runs queued ahead of this one (when queued)
    grid: np.ndarray | None = None  # the latest sample grid, (N, 28, 28), drawn from `model`
    model: nn.Module | None = None  # a frozen copy of the weights, for other pages; None before the first slice
    version: int = 0  # increases whenever `model` is replaced
    drawn_at: tuple = (0, 0.0)  # (training step, seconds of training) of the weights behind `grid` and `model`
    published_at: float = 0.0  # when this version was published (time.time()): how far behind a reader is
    error: str = ""  # why it failed, in English
    error_template: str = ""  # the same sentence as a template (marked with N_) and its fields, which the app translates
    error_fields: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)  # the trainer's summary (steps, seconds, its settings)
    # How the weights behind `grid` use each latent dimension on the run's validation digits (latent_figures): the KL
    # per dimension and the active units travel with the snapshot, so every page and backend shows the same figures.
    latent: dict | None = None

    @property
    def active(self) -> bool:
        """Still meant to train (queued or training)."""
        return self.state in (RunState.QUEUED, RunState.TRAINING)


class Filmstrip:
    """Sample grids a run drew, for a GIF of them sharpening: at most max_frames, spread over the whole run
    (when full, every other frame goes and only every 2nd, 4th, ... later grid is kept), plus the latest."""

    def __init__(self, max_frames: int = 48):
        self.max_frames = max_frames
        self.frames: list[tuple[float, np.ndarray]] = []  # (epoch, grid as uint8)
        self.latest: tuple[float, np.ndarray] | None = None
        self._every = 1
        self._seen = 0

    def add(self, epoch: float, grid: np.ndarray) -> None:
        frame = (epoch, to_uint8(grid))  # a quarter of float32's memory
        self.latest = frame
        if self._seen % self._every == 0:
            self.frames.append(frame)
            if len(self.frames) > self.max_frames:
                self.frames = self.frames[::2]
                self._every *= 2
        self._seen += 1

    def all(self) -> list[tuple[float, np.ndarray]]:
        """The kept frames in order, ending on the latest grid; images as float in [0, 1]."""
        frames = self.frames + (
            [self.latest] if self.latest is not None and (not self.frames or self.frames[-1] is not self.latest) else []
        )
        return [(epoch, grid.astype(np.float32) / 255) for epoch, grid in frames]


@dataclass(eq=False)
class TrainingRun:
    """One session's training run: the Trainer (touched only by the lane that holds the run) and
    the latest Snapshot (read by pages)."""

    trainer: Job  # a Trainer, or an experiment's plan
    draw: Callable[[nn.Module], np.ndarray | None] = lambda model: None  # the grid pages show, from a model
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    last_seen: float = field(default_factory=time.monotonic)
    stop_requested: bool = False
    beta_requested: float | None = None  # a new KL weight β from the run's owner, applied by its lane before a slice
    latent_at: float = -float("inf")  # when the latent figures were last measured (time.monotonic())
    where: dict | None = None  # what a remote lane needs to rebuild the run (ray_backend.RayPool.remote_recipe)
    owner: str = ""  # who started it (a browser's key): training time is shared between owners, then their runs
    snapshot: Snapshot = None  # type: ignore[assignment]
    filmstrip: Filmstrip = field(default_factory=Filmstrip)  # the grids drawn so far, for the Train page's GIF

    def __post_init__(self):
        self.snapshot = Snapshot(state=RunState.PAUSED, progress=self.trainer.progress, history=(), summary=self.trainer.summary())

    def heartbeat(self, now: float | None = None) -> None:
        self.last_seen = time.monotonic() if now is None else now

    @property
    def owner_key(self) -> str:
        """The owner fairness counts by: a run without an owner (a script's, a test's) is its own."""
        return self.owner or f"run:{self.id}"


class LocalLane:
    """Slices train in the lane's own thread, on the trainer the run holds."""

    def ready(self) -> bool:
        return True

    def begin(self, run: TrainingRun) -> None:
        pass

    def train(self, run: TrainingRun, seconds: float) -> None:
        run.trainer.run(max_seconds=seconds)

    def end(self, run: TrainingRun) -> None:
        pass


MAX_TRAINING_PER_OWNER = 3  # an owner's runs training at once; their next waits behind their own, whatever lanes are free


class TrainingService:
    """The server's lanes and their queue.

    Fair between owners, then between an owner's runs: a free lane takes the waiting run whose owner has had the least
    training time (an owner new to the queue starts level with the least served of those present, not with a backlog),
    the earliest of that owner's; an owner has at most MAX_TRAINING_PER_OWNER runs training at once. A browser with
    eight runs gets the same share of the lanes as one with one. Fairness holds within one service (one replica)."""

    def __init__(
        self,
        max_concurrent: int | None = None,
        fair_share_seconds: float = 4.0,
        slice_seconds: float = 0.3,
        # A grid at every slice: drawing one (a copy of the weights and 80 samples) takes 3-4 ms, about 1 % of a
        # slice, and a page then shows weights at most a slice old. Drawn each second, a grid the page read was up to
        # a second old: digits that were already good reached the visitor a refresh later.
        grid_every_seconds: float = 0.3,
        absent_after_seconds: float = 6.0,
        cores: int | None = None,
        warm_up: Callable[[], None] | None = None,
        lanes: list | None = None,  # default: max_concurrent LocalLanes
    ):
        self.cores = cores or os.cpu_count() or 1
        self._warm_up = warm_up  # run once by each lane's thread: torch's thread pools and kernels are per thread
        self.max_concurrent = 0  # one per lane: add_lanes counts them
        self.fair_share = fair_share_seconds
        self.slice = slice_seconds
        self.grid_every = grid_every_seconds
        self.absent_after = absent_after_seconds
        self.clock = time.monotonic  # what presence is measured with (a test gives its own)
        self._queue: deque[TrainingRun] = deque()
        self._training: set[TrainingRun] = set()
        self._served: dict[str, float] = {}  # owner -> seconds their runs have trained (the scheduler's measure)
        self.steps_by_owner: dict[str, int] = {}  # owner -> optimiser steps their runs took (what fairness gives)
        self.digits_trained = 0  # by every run since the service started (a dropped run's digits stay counted)
        self._cond = threading.Condition()
        self._closed = False
        self._lanes, self._lane_threads = [], []
        self.add_lanes(lanes if lanes is not None else [LocalLane() for _ in range(max_concurrent or default_concurrency(self.cores))])

    # ---- what sessions call -------------------------------------------------------------------
    def start(self, run: TrainingRun, front: bool = False) -> None:
        """Queue a run (new, paused or away); it trains when a lane is free. front: ahead of the runs waiting."""
        with self._cond:
            if run in self._training or run in self._queue or run.trainer.done:
                return
            run.stop_requested = False
            run.heartbeat(self.clock())
            self._publish_state(run, RunState.QUEUED)
            self._enqueue(run, front)

    def stop(self, run: TrainingRun) -> None:
        """Pause a run: at once if it is queued, at the end of its slice if it is training."""
        with self._cond:
            run.stop_requested = True
            if run in self._queue:
                self._queue.remove(run)
                self._publish_state(run, RunState.PAUSED)
                self._republish_places()

    def set_beta(self, run: TrainingRun, beta: float) -> None:
        """Change the run's KL weight β from its next slice on (queued or paused: when it trains again). Raises
        ConfigError for a β outside ModelConfig's range."""
        replace(run.trainer.model.config, beta=float(beta)).validate()  # the same bounds as at Start
        run.beta_requested = float(beta)

    def heartbeat(self, run: TrainingRun) -> None:
        """The run's session is still open; a run that stopped for its absence goes back in the queue, at its front: its
        turn came while its page was late (a busy browser can refresh seconds late), and it had waited a whole round for
        that turn. At the back it would wait another round each time its page is late."""
        run.heartbeat(self.clock())
        if run.snapshot.state == RunState.AWAY:
            self.start(run, front=True)

    def wait(self, run: TrainingRun, timeout: float = 60.0) -> Snapshot:
        """Block until the run is no longer queued or training (for tests and scripts; pages poll)."""
        deadline = time.monotonic() + timeout
        while run.snapshot.active and time.monotonic() < deadline:
            time.sleep(0.02)
        return run.snapshot

    def load(self) -> dict:
        """How busy the service is: runs training, runs waiting, the limit, and the digits trained so far."""
        with self._cond:
            busy = {"training": len(self._training), "waiting": len(self._queue)}
            return {**busy, "limit": self.max_concurrent, "digits": self.digits_trained}

    def add_lanes(self, lanes: list) -> None:
        """A thread for each lane, and as many more runs at once: the lanes the service starts with, and any that come
        while it serves (CPUs that joined a cluster)."""
        with self._cond:
            if self._closed:
                return
            first = len(self._lane_threads)
            threads = [
                threading.Thread(target=self._serve, args=(lane,), name=f"cvae-trainer-{first + i}", daemon=True)
                for i, lane in enumerate(lanes)
            ]
            self._lanes += lanes
            self._lane_threads += threads
            self.max_concurrent += len(lanes)
            for thread in threads:  # started under the lock: close() joins only started threads
                thread.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in list(self._lane_threads):
            thread.join(timeout=10)

    # ---- the lanes ----------------------------------------------------------------------------
    def _serve(self, lane) -> None:
        torch.set_num_threads(self._threads(1))
        if self._warm_up is not None:
            try:
                self._warm_up()
            except Exception:  # noqa: BLE001 -- warming is an optimisation; training works without it
                log.exception("warm-up failed")
        while True:
            if not lane.ready():  # a remote lane whose node is gone: the other lanes serve the queue meanwhile
                with self._cond:
                    self._cond.wait(timeout=LANE_RETRY_SECONDS)
                    if self._closed:
                        return
                continue
            with self._cond:
                while (run := self._next_run()) is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                self._queue.remove(run)
                self._training.add(run)
                self._publish_state(run, RunState.TRAINING)
                self._republish_places()
            requeued = False  # then it may be on another lane already
            # A run another process cannot rebuild (no `where`: a live experiment, cvae_core/training/stages.py) trains
            # in this process's thread, whatever lane it was taken by.
            held = lane if run.where is not None else LOCAL_LANE
            try:
                held.begin(run)
                try:  # until the run ends, stops, is away, or has had its fair share while others wait
                    turn_over = self._train_on(run, held)
                finally:
                    held.end(run)  # a remote lane hands the whole state back (nothing, if its node is gone)
                if turn_over is not None:  # time-slicing: to the back of the queue, once no lane touches its trainer
                    self._requeue(run, draw=turn_over)
                    requeued = True
            except LaneLost:  # its node is gone: the run resumes from its last slice's weights on another lane
                log.warning("run %s lost its lane; queued again", run.id)
                self._requeue(run, front=True)
                requeued = True
            except Exception as e:  # noqa: BLE001 -- drawing or publishing failed: that run stops, the lane serves on
                log.exception("run %s failed outside training", run.id)
                run.trainer.done = True
                run.snapshot = replace(run.snapshot, state=RunState.FAILED, **failure(e))
            finally:
                if not requeued:
                    with self._cond:
                        self._training.discard(run)

    def _next_run(self, leaving: TrainingRun | None = None) -> TrainingRun | None:
        """The waiting run a free lane takes (called under the lock): of the owners below their cap, the one served
        least; of their runs, the first in the queue. None when no run may train now. leaving: a run about to give up
        its lane (its owner's next run may take it)."""
        training = {}
        for run in self._training:
            if run is not leaving:
                training[run.owner_key] = training.get(run.owner_key, 0) + 1
        best = None
        for run in self._queue:
            if training.get(run.owner_key, 0) >= MAX_TRAINING_PER_OWNER:
                continue
            if best is None or self._served[run.owner_key] < self._served[best.owner_key]:
                best = run
        return best

    def _enqueue(self, run: TrainingRun, front: bool) -> None:
        """Into the queue, at its back or front; everyone waiting learns their place (called under the lock). An owner
        new to the scheduler starts level with the least served owner present."""
        if run.owner_key not in self._served:
            present = {r.owner_key for r in (*self._queue, *self._training)}
            self._served = {k: v for k, v in self._served.items() if k in present}  # owners who left are forgotten
            self._served[run.owner_key] = min(self._served.values(), default=0.0)
        self._queue.appendleft(run) if front else self._queue.append(run)
        self._republish_places()
        self._cond.notify_all()

    def _requeue(self, run: TrainingRun, front: bool = False, draw: bool = False) -> None:
        """Back in the queue (the fair-share turn ended, or its lane was lost), unless its owner stopped it meanwhile."""
        with self._cond:
            self._training.discard(run)
            if run.stop_requested:
                return self._publish_state(run, RunState.PAUSED)
            self._publish(run, RunState.QUEUED, draw=draw)
            self._enqueue(run, front)

    def _train_on(self, run: TrainingRun, lane) -> bool | None:
        """Slices until the run leaves the lane; True or False (draw a grid?) when its fair-share turn is over."""
        held_since = time.monotonic()
        last_grid = -float("inf")
        while True:
            if run.stop_requested or self._closed:  # closing: every lane ends at its next slice (close() joins them)
                return self._publish_state(run, RunState.PAUSED)
            if self.clock() - run.last_seen > self.absent_after:
                return self._publish_state(run, RunState.AWAY)
            with self._cond:
                sharing = max(1, len(self._training))
            torch.set_num_threads(self._threads(sharing))  # per thread: this lane's only
            trained_before, steps_before, began = run.trainer.samples, run.trainer.step, time.monotonic()
            if run.beta_requested is not None:  # only this lane touches the trainer, so the change lands between steps
                run.trainer.model.config.beta, run.beta_requested = run.beta_requested, None
            try:
                lane.train(run, self.slice)
            except TrainingError as e:  # the engine rolled back to the last finite weights
                return self._publish(run, RunState.FAILED, draw=True, error=e)
            except LaneLost:
                raise
            except Exception as e:  # noqa: BLE001 -- a lane must outlive any one run
                log.exception("training run %s failed", run.id)  # the traceback goes to the server log only
                run.trainer.done = True
                return self._publish(run, RunState.FAILED, draw=True, error=e)
            with self._cond:
                self.digits_trained += run.trainer.samples - trained_before
                key = run.owner_key
                self._served[key] = self._served.get(key, 0.0) + time.monotonic() - began
                self.steps_by_owner[key] = self.steps_by_owner.get(key, 0) + run.trainer.step - steps_before
            if run.trainer.done:
                return self._publish(run, RunState.DONE, draw=True)
            now = time.monotonic()
            due = now - last_grid >= self.grid_every
            if due:
                last_grid = now
            with self._cond:
                if now - held_since >= self.fair_share and self._next_run(leaving=run) is not None:
                    return due
            self._publish(run, RunState.TRAINING, draw=due)

    def _threads(self, sharing: int) -> int:
        """Intra-op threads for each of `sharing` runs: the cores but one (the web server's), shared out.
        On 2 cores one thread per run trained 1.6 x faster than two with a Train page open (bench/README.md):
        two threads stall at every barrier when the server or a browser takes one of their cores."""
        return max(1, (self.cores - 1) // sharing)

    # ---- snapshots ----------------------------------------------------------------------------
    def _publish(self, run: TrainingRun, state: RunState, draw: bool = False, error: Exception | None = None) -> None:
        """A new snapshot from the trainer (called by the lane holding the run, or under the lock
        for a run no lane holds). draw: also a new grid and a frozen copy of the weights. error: why the
        run failed (a failed run's snapshot keeps the reason it had)."""
        old = run.snapshot
        grid, model, version, drawn_at, latent, published_at = old.grid, old.model, old.version, old.drawn_at, old.latent, old.published_at
        if draw:
            drawn_at = (run.trainer.step, run.trainer.elapsed)
            model = copy.deepcopy(run.trainer.model).eval().requires_grad_(False)
            with torch.no_grad():
                grid = run.draw(model)
            if grid is not None:
                run.filmstrip.add(run.trainer.epoch, grid)
            if state != RunState.TRAINING or time.monotonic() - run.latent_at >= LATENT_EVERY:  # every second, and the last weights
                latent = latent_figures(model, run.trainer.validation)
                run.latent_at = time.monotonic()
            version += 1
            published_at = time.time()
            run.trainer.model.train()
        run.snapshot = Snapshot(
            state=state,
            progress=run.trainer.progress,
            history=tuple(run.trainer.history),
            ahead=self._place(run) if state == RunState.QUEUED else 0,
            grid=grid,
            model=model,
            version=version,
            drawn_at=drawn_at,
            published_at=published_at,
            **(failure(error) if error is not None else _kept_failure(old) if state == RunState.FAILED else {}),
            summary=run.trainer.summary(),
            latent=latent,
        )

    def _publish_state(self, run: TrainingRun, state: RunState) -> None:
        """The same snapshot in another state (and, when queued, with its place in the queue)."""
        run.snapshot = replace(run.snapshot, state=state, ahead=self._place(run) if state == RunState.QUEUED else 0)

    def _place(self, run: TrainingRun) -> int:
        return list(self._queue).index(run) if run in self._queue else 0

    def _republish_places(self) -> None:
        """Everyone waiting learns their new place (called under the lock)."""
        for run in self._queue:
            if run.snapshot.state != RunState.QUEUED or run.snapshot.ahead != self._place(run):
                self._publish_state(run, RunState.QUEUED)


LOCAL_LANE = LocalLane()  # it keeps no state: one serves every lane
LANE_RETRY_SECONDS = 5.0  # how often a remote lane that is gone is asked whether it is back
LATENT_DIGITS = 500  # validation digits the latent figures are measured on: about 8 ms for the default model on one thread
LATENT_EVERY = 1.0  # seconds between two measurements while a run trains: under 1 % of its time (a grid is drawn every slice)


def latent_figures(model: nn.Module, validation) -> dict | None:
    """The per-dimension KL (nats per digit), the posterior means' variance over the digits and the active-unit count
    of a model on the first LATENT_DIGITS validation digits, as plain numbers; None without a latent or digits."""
    if validation is None or not hasattr(model, "latent_statistics"):
        return None
    usage = latent_usage(model, validation.subset(LATENT_DIGITS))
    return {
        "kl_per_dim": [round(float(v), 4) for v in usage["kl_per_dim"]],
        "variance": [round(float(v), 5) for v in usage["variance"]],
        "active_units": usage["active_units"],
        "digits": min(LATENT_DIGITS, len(validation)),
    }


def _kept_failure(snapshot: Snapshot) -> dict:
    return {"error": snapshot.error, "error_template": snapshot.error_template, "error_fields": snapshot.error_fields}


def default_concurrency(cores: int) -> int:
    """Runs that train at once: one per core (a small MLP does not use a second core well; two runs
    on two cores train 1.7 x as many digits per second as one), overridden by CVAE_MAX_TRAININGS."""
    setting = os.environ.get("CVAE_MAX_TRAININGS", "").strip()
    if setting:
        try:
            return max(1, int(setting))
        except ValueError:
            pass
    return max(1, cores)
