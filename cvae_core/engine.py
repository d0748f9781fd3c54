"""One training engine for the CLI and the app.

`Trainer.run(max_steps=..., max_seconds=...)` advances training by a slice and returns a
`Progress`, so a UI can call it repeatedly, draw, stop and resume; the CLI calls it in a loop.
The loop holds the whole data set as one tensor and draws batches by index. Running sums stay
on the device and are read once per slice (no per-step `.item()`). At the end of a slice a
non-finite loss restores the weights and optimiser saved at its start and stops training.
"""

import copy
import gc
import math
import time
import weakref
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from .data import Dataset
from .errors import ConfigError, TrainingError
from .models import CVAEModel


@dataclass
class TrainConfig:
    epochs: float | None = 20.0  # None: train until max_seconds
    max_seconds: float | None = None
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    warmup_epochs: float = 1.0  # the KL weight moves linearly from kl_start to 1 over these epochs
    kl_start: float = 0.0  # 0: the usual warm-up; above 1: start with a heavy KL that eases to 1
    cosine: bool = False  # decay the learning rate to 0 along a cosine (needs a number of epochs)
    shift_pixels: int = 0  # augmentation: random shifts of up to this many pixels
    eval_limit: int = 2000  # test digits used for the live test curve

    def validate(self, n_train: int) -> "TrainConfig":
        if self.epochs is None and self.max_seconds is None:
            raise ConfigError("give a number of epochs or a time budget")
        if self.epochs is not None and not (0 < self.epochs <= 10_000):
            raise ConfigError(f"epochs must be more than 0 and at most 10000, got {self.epochs}")
        if self.max_seconds is not None and not (0 < self.max_seconds <= 7 * 24 * 3600):
            raise ConfigError(f"time budget must be positive seconds, got {self.max_seconds}")
        if not (1 <= self.batch_size <= 65536):
            raise ConfigError(f"batch size must be from 1 to 65536, got {self.batch_size}")
        if not (0 < self.lr <= 10 and math.isfinite(self.lr)):
            raise ConfigError(f"learning rate must be more than 0 and at most 10, got {self.lr}")
        if not (0 <= self.warmup_epochs <= 1000):
            raise ConfigError(f"KL warm-up must be from 0 to 1000 epochs, got {self.warmup_epochs}")
        if not (0 <= self.kl_start <= 100 and math.isfinite(self.kl_start)):
            raise ConfigError(f"the starting KL weight must be from 0 to 100, got {self.kl_start}")
        if not (0 <= self.shift_pixels <= 4):
            raise ConfigError(f"shift augmentation must be from 0 to 4 pixels, got {self.shift_pixels}")
        if n_train == 0:
            raise ConfigError("the training set is empty")
        return self


@dataclass
class Progress:
    step: int
    total_steps: int | None
    epoch: float
    elapsed: float  # seconds spent in training steps
    samples_per_sec: float
    eta: float | None  # seconds left, when known
    kl_weight: float
    terms: dict  # running means of the last slice: elbo, recon, kl (nats)
    done: bool
    device: str
    message: str = ""

    @property
    def fraction(self) -> float:
        if self.done:
            return 1.0
        if self.eta is None:
            return 0.0
        return min(1.0, self.elapsed / max(self.elapsed + self.eta, 1e-9))


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_cosine_lr(optimizer: torch.optim.Optimizer, base_lr: float, step: int, total_steps: int) -> None:
    """Cosine decay from base_lr at step 0 to 0 at total_steps (Loshchilov & Hutter 2017, without restarts)."""
    for group in optimizer.param_groups:
        group["lr"] = 0.5 * base_lr * (1 + math.cos(math.pi * step / total_steps))


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each 28x28 image by a random whole number of pixels in [-max_shift, max_shift], zero-filled."""
    n = x.shape[0]
    img = F.pad(x.view(n, 1, 28, 28), (max_shift,) * 4)
    dx, dy = (torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)).to(x.device)
    rows = (dy[:, None] + torch.arange(28, device=x.device))[:, :, None]  # (n, 28, 1)
    cols = (dx[:, None] + torch.arange(28, device=x.device))[:, None, :]  # (n, 1, 28)
    return img[torch.arange(n, device=x.device)[:, None, None], 0, rows, cols].reshape(n, 784)


_LIVE_TRAINERS: "weakref.WeakSet[Trainer]" = weakref.WeakSet()


def live_trainers() -> int:
    """How many trainers (each a model, its optimiser and a snapshot) this process still holds.

    A server uses it to show that a closed browser session's training runs are released."""
    gc.collect()  # a session's objects form reference cycles; count only what is really reachable
    return len(_LIVE_TRAINERS)


class Trainer:
    """Trains one model on one data set, a slice at a time."""

    def __init__(self, model: CVAEModel, train: Dataset, test: Dataset | None = None, config: TrainConfig | None = None, device=None):
        self.config = (config or TrainConfig()).validate(len(train))
        self.device = torch.device(device) if device is not None else pick_device()
        self.model = model.to(self.device)
        torch.manual_seed(self.config.seed)
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.x = train.images.to(self.device)
        self.y = train.labels.to(self.device)
        labelled = self.y >= 0
        self.semi_supervised = not bool(labelled.all())
        if self.semi_supervised and model.name != "m2":
            raise ConfigError(f"{model.name} needs every digit labelled; only m2 learns from unlabelled digits")
        self.labelled_idx = torch.nonzero(labelled).flatten().cpu()
        # An epoch is one pass over the unlabelled digits (m2) or over all digits.
        self.epoch_idx = torch.nonzero(~labelled).flatten().cpu() if self.semi_supervised else torch.arange(len(train))
        if self.semi_supervised and len(self.labelled_idx) == 0:
            raise ConfigError("m2 needs at least a few labelled digits")
        self.test = test
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.lr)
        self.steps_per_epoch = max(1, math.ceil(len(self.epoch_idx) / self.config.batch_size))
        self.total_steps = None if self.config.epochs is None else max(1, round(self.config.epochs * self.steps_per_epoch))
        self.step = 0
        self.elapsed = 0.0
        self.samples = 0
        self.done = False
        self.message = ""
        self.history: list[dict] = []  # one row per slice (train) and per epoch (test)
        self._order = torch.empty(0, dtype=torch.long)
        self._last = Progress(0, self.total_steps, 0.0, 0.0, 0.0, None, 0.0, {}, False, str(self.device))
        _LIVE_TRAINERS.add(self)

    # ---- batches ------------------------------------------------------------------------------
    def _batch(self):
        pos = self.step % self.steps_per_epoch
        if pos == 0:
            self._order = self.epoch_idx[torch.randperm(len(self.epoch_idx), generator=self.generator)]
        idx = self._order[pos * self.config.batch_size : (pos + 1) * self.config.batch_size]
        if self.semi_supervised:  # Kingma et al.: every step sees labelled and unlabelled digits
            n_lab = min(self.config.batch_size, len(self.labelled_idx))
            pick = torch.randint(len(self.labelled_idx), (n_lab,), generator=self.generator)
            idx = torch.cat([self.labelled_idx[pick], idx])
        idx = idx.to(self.device)
        x = self.x[idx]
        if self.config.shift_pixels:
            x = random_shift(x, self.config.shift_pixels, self.generator)
        return x, self.y[idx]

    def kl_weight(self) -> float:
        warmup_steps = self.config.warmup_epochs * self.steps_per_epoch
        progress = 1.0 if warmup_steps <= 0 else min(1.0, self.step / warmup_steps)
        return self.config.kl_start + (1.0 - self.config.kl_start) * progress

    @property
    def epoch(self) -> float:
        return self.step / self.steps_per_epoch

    # ---- training -----------------------------------------------------------------------------
    def run(self, max_steps: int | None = None, max_seconds: float | None = None) -> Progress:
        """Train for up to max_steps batches and/or max_seconds (both None: to the end)."""
        if self.done:
            return self._last
        snapshot = (copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.optimizer.state_dict()))
        self.model.train()
        sums = torch.zeros(4, device=self.device)  # loss, elbo, recon, kl
        steps = 0
        samples = 0
        started = time.perf_counter()
        eval_seconds = 0.0  # spent on the test curve, not counted as training time
        while True:
            if self.total_steps is not None and self.step >= self.total_steps:
                self.done = True
                break
            if (
                self.config.max_seconds is not None
                and self.elapsed + (time.perf_counter() - started - eval_seconds) >= self.config.max_seconds
            ):
                self.done = True
                break
            if max_steps is not None and steps >= max_steps:
                break
            if max_seconds is not None and steps > 0 and time.perf_counter() - started - eval_seconds >= max_seconds:
                break
            x, y = self._batch()
            loss, terms = self.model.loss(x, y, kl_weight=self.kl_weight())
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.config.cosine and self.total_steps:
                set_cosine_lr(self.optimizer, self.config.lr, self.step, self.total_steps)
            self.optimizer.step()
            sums += torch.stack([loss.detach(), terms["elbo"].detach(), terms["recon"].detach(), terms["kl"].detach()])
            steps += 1
            samples += x.shape[0]
            self.step += 1
            if self.test is not None and self.step % self.steps_per_epoch == 0:
                eval_started = time.perf_counter()
                self._record_test()
                eval_seconds += time.perf_counter() - eval_started
        slice_seconds = time.perf_counter() - started - eval_seconds
        means = (sums / max(steps, 1)).tolist()
        if steps and not all(math.isfinite(v) for v in means):
            self.model.load_state_dict(snapshot[0])
            self.optimizer.load_state_dict(snapshot[1])
            self.step -= steps
            self.done = True
            self.message = (
                "Training stopped: the loss became NaN or infinite (the learning rate is probably too high). "
                f"The weights from step {self.step} were kept."
            )
            self._last = self._progress({}, self._last.samples_per_sec)
            raise TrainingError(self.message)
        self.elapsed += slice_seconds
        self.samples += samples
        rate = samples / slice_seconds if steps and slice_seconds > 0 else self._last.samples_per_sec
        terms = dict(zip(("loss", "elbo", "recon", "kl"), means, strict=True)) if steps else self._last.terms
        if steps:
            self.history.append({"split": "train", "step": self.step, "epoch": self.epoch, **terms})
        if self.test is not None and self.done and steps and self.step % self.steps_per_epoch:
            self._record_test()  # a run ending mid-epoch still gets its last test point
        self._last = self._progress(terms, rate)
        return self._last

    def run_to_end(self, on_slice=None, slice_seconds: float = 0.5) -> Progress:
        """Train until the budget is spent, calling on_slice(progress) after every slice (for progress bars)."""
        progress = self._last
        while not self.done:
            progress = self.run(max_seconds=slice_seconds)
            if on_slice is not None:
                on_slice(progress)
        return progress

    def _record_test(self) -> None:
        terms = self.evaluate(self.test, limit=self.config.eval_limit)
        self.history.append({"split": "test", "step": self.step, "epoch": self.epoch, **terms})

    def _progress(self, terms: dict, rate: float) -> Progress:
        if self.total_steps is not None:
            eta = (self.total_steps - self.step) * self.config.batch_size / rate if rate > 0 else None
        else:
            eta = None
        if self.config.max_seconds is not None:
            left = max(0.0, self.config.max_seconds - self.elapsed)
            eta = left if eta is None else min(eta, left)
        if self.done:
            eta = 0.0
        return Progress(
            self.step,
            self.total_steps,
            self.epoch,
            self.elapsed,
            rate,
            eta,
            self.kl_weight(),
            terms,
            self.done,
            str(self.device),
            self.message,
        )

    @property
    def overall_samples_per_sec(self) -> float:
        return self.samples / self.elapsed if self.elapsed > 0 else 0.0

    @torch.inference_mode()
    def evaluate(self, data: Dataset, limit: int | None = None, batch_size: int = 1000) -> dict:
        return evaluate_elbo(self.model, data, limit=limit, batch_size=batch_size)

    def summary(self) -> dict:
        return {
            "steps": self.step,
            "epochs": round(self.epoch, 3),
            "seconds": round(self.elapsed, 3),
            "samples_per_sec": round(self.overall_samples_per_sec, 1),
            "device": str(self.device),
            "train_config": asdict(self.config),
        }


@torch.inference_mode()
def evaluate_elbo(model: CVAEModel, data: Dataset, limit: int | None = None, batch_size: int = 1000) -> dict:
    """Mean ELBO, reconstruction and KL (nats per digit) over a data set (its first `limit` digits)."""
    was_training = model.training
    model.eval()
    device = model.device
    n = len(data) if limit is None else min(limit, len(data))
    totals = {"elbo": 0.0, "recon": 0.0, "kl": 0.0}
    for start in range(0, n, batch_size):
        x = data.images[start : min(n, start + batch_size)].to(device)
        y = data.labels[start : min(n, start + batch_size)].to(device)
        terms = model.elbo(x, y)
        for k in totals:
            totals[k] += float(terms[k].sum())
    model.train(was_training)
    return {k: v / n for k, v in totals.items()}
