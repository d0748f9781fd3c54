"""The server's handles on runs in the training process: a page reads a run, and controls one, through one object.

- `RunHandle`: a run this server's session started. Its snapshot and weights, and every control (start, stop,
  set_beta, beat, share).
- `FollowedRun`: a run another session shared, as a follower's server reads it from the share board: the same reads,
  no control (a follower's read is its presence).

Both poll on one base (`PolledRun`): the snapshot at most every POLL_SECONDS whoever asks (every page of every session
on this server shares it), the history rows only as they come, and the weights once per version.
"""

import os
import threading
import time
from dataclasses import replace

import numpy as np

from ..storage import checkpoint
from ..training.service import RunState
from .pipe import TrainingLost, raise_refusal

POLL_SECONDS = 0.2  # a page reading a snapshot more often than this gets the one it had


class PolledRun:
    """What a page reads of a run: its latest snapshot (weights left out), its history and its weights as a frozen
    module. Subclasses say how to ask (`_ask`, `_weights`) and what a lost or unknown answer means."""

    def __init__(self, client, run_id: str, info: dict | None = None):
        self._client = client
        self.id = run_id
        self._lock = threading.Lock()
        self._snapshot = None
        self._polled = 0.0
        self._history: tuple = ()
        self._model = None  # (version, module)
        self._describe(info or {"variant": "", "makes_images": False, "uses_label": False, "epochs": None})

    def _describe(self, info: dict) -> None:
        self.variant: str = info["variant"]  # whose card (cvae_core.cards) writes the run's bound
        self.makes_images: bool = info["makes_images"]
        self.uses_label: bool = info["uses_label"]
        self.epochs: float | None = info["epochs"]

    # ---- what a subclass says -------------------------------------------------------------------
    def _ask(self, have_history: int) -> dict | None:
        """{"snapshot", "new_history"} from the training process or the board; None when it does not know the run."""
        raise NotImplementedError

    def _weights(self) -> tuple[int, bytes] | None:
        """(version, checkpoint bytes) of the latest weights, or None."""
        raise NotImplementedError

    def _fresh(self, now: float) -> bool:
        return self._polled != 0.0 and now - self._polled < POLL_SECONDS

    def _unanswered(self, lost: bool):
        """The snapshot when the training process is gone (lost) or the run is not known: None by default."""
        return None

    # ---- what a page reads ----------------------------------------------------------------------
    @property
    def snapshot(self):
        """The latest snapshot (weights left out: see model())."""
        with self._lock:
            now = time.monotonic()
            if self._fresh(now):
                return self._snapshot
            try:
                answer = self._ask(len(self._history))
            except TrainingLost:
                self._snapshot = self._unanswered(lost=True)
                return self._snapshot
            self._polled = now
            if answer is None:
                self._snapshot = self._unanswered(lost=False)
            else:
                if "info" in answer:
                    self._describe(answer["info"])
                self._history = self._history + tuple(answer["new_history"])
                self._snapshot = replace(answer["snapshot"], history=self._history)
            return self._snapshot

    def forget_snapshot(self) -> None:
        """The next read asks again (after a control changed the run)."""
        self._polled = 0.0

    def summary(self) -> dict:
        snap = self.snapshot
        return snap.summary if snap is not None else {}

    def model(self):
        """The weights as they are now, as a frozen module (None before the first slice); fetched once per version."""
        snap = self.snapshot
        with self._lock:
            if snap is None or snap.version == 0:
                return None
            if self._model is None or self._model[0] != snap.version:
                answer = self._weights()
                if answer is None:
                    return None
                version, data = answer
                self._model = (version, checkpoint.from_bytes(data).model.eval().requires_grad_(False))
            return self._model[1]

    @property
    def model_version(self) -> int:
        return self._model[0] if self._model is not None else 0

    def animation(self) -> bytes | None:
        return None


class RunHandle(PolledRun):
    """A run this server's session started, in the training process: what a page reads and every control it has."""

    def __init__(self, client, info: dict, owner: str = ""):
        super().__init__(client, info["id"], info)
        self.owner = owner  # a browser's key: the scheduler shares time between owners; shares are counted per owner
        self.recipe = None  # the Recipe it was built from (a live experiment's spec is not a recipe: None)

    def _ask(self, have_history: int) -> dict | None:
        return self._client.call("snapshot", self.id, have_history)

    def _weights(self) -> tuple[int, bytes] | None:
        return self._client.call("weights", self.id)

    def _fresh(self, now: float) -> bool:
        if self._snapshot is not None and self._snapshot.state == RunState.LOST:
            return True
        return self._snapshot is not None and super()._fresh(now)

    def _unanswered(self, lost: bool):
        if lost and self._snapshot is not None:  # as it was last seen, marked lost (its weights: kept_weights)
            return replace(self._snapshot, state=RunState.LOST)
        return self._snapshot

    # ---- the run's controls -----------------------------------------------------------------------
    def start(self) -> None:
        """Queue it (new, paused or away); it trains when a lane is free."""
        self._client.call("start", self.id)
        self.forget_snapshot()

    def stop(self) -> None:
        """Pause the run (its weights so far stay usable); nothing to do for a lost one."""
        try:
            self._client.call("stop", self.id)
        except TrainingLost:
            return
        self.forget_snapshot()

    def set_beta(self, beta: float) -> None:
        """Change the KL weight β from its next slice on; raises CVAEError with a sentence for a β out of range."""
        raise_refusal(self._client.call("set_beta", self.id, float(beta)))

    def beat(self) -> None:
        """Its session's tab is still open: a run not heard from for a few seconds stops until it is."""
        self._client.call("heartbeat", self.id)

    def share(self, host: bool = False) -> dict:
        """{"token": a token that lets anyone follow the run (on any replica, with Ray)} or {"refused": why}: "owner" (the
        owner shares as many runs as one may), "full" (the board) or "gone". A host's share is never refused for room."""
        info = {"variant": self.variant, "makes_images": self.makes_images, "uses_label": self.uses_label, "epochs": self.epochs}
        return self._client.call("share", self.id, info, self.owner, host)

    # ---- what a page reads beyond the snapshot ----------------------------------------------------
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

    def model(self):
        """As PolledRun.model; a lost run's are the training process's last kept weights, read once."""
        snap = self.snapshot
        if snap is None or snap.state != RunState.LOST:
            return super().model()
        with self._lock:
            if self._model is None or self._model[0] != -1:
                data = self.kept_weights()
                if data is None:
                    return None if self._model is None else self._model[1]
                self._model = (-1, checkpoint.from_bytes(data).model.eval().requires_grad_(False))
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


class FollowedRun(PolledRun):
    """A shared run as a follower's server reads it, from the board its owner's training process publishes to: what a
    RunHandle offers a page, read only (nothing here stops, saves or changes it). Every follower on this server shares
    one snapshot and one copy of the weights per version."""

    def __init__(self, client, token: str):
        super().__init__(client, f"shared-{token}")
        self.token = token

    def _ask(self, have_history: int) -> dict | None:
        return self._client.call_board("follow", self.token, have_history)

    def _weights(self) -> tuple[int, bytes] | None:
        answer = self._client.call_board("follow", self.token, len(self._history), True)
        if answer is None or answer.get("weights") is None:
            return None
        return answer["snapshot"].version, answer["weights"]

    def poll(self):
        """The latest snapshot, or None once the share has ended (the owner's process was this server's and is gone:
        the share ended with it)."""
        return self.snapshot

    def beat(self) -> None:
        """A follower's read is its presence (ShareBoard.read): followers keep a shared run training."""
        self.poll()
