"""One training engine for every network in the project: the CVAE variants, the experiments'
plain baselines and the fidelity classifier.

`Trainer.run(max_steps=..., max_seconds=...)` advances training by a slice and returns a
`Progress`, so a UI can call it repeatedly, draw, stop and resume; the CLI calls it in a loop.
The loop holds the whole data set as one tensor and draws batches by index. Running sums stay
on the device and are read once per slice (no per-step `.item()`). At the end of a slice a
non-finite loss restores the weights and optimiser saved at its start and stops training.

What the engine asks of a network (`Trainable`): `loss(x, y, kl_weight=...)` returning the scalar
to minimise and a dict of batch-mean terms to report. A CVAE reports its ELBO terms; a plain
network reports its loss alone and ignores the KL weight.
"""

import copy
import hashlib
import math
import time
from dataclasses import asdict, dataclass
from typing import ClassVar, Protocol

import torch
from torch import nn

from ..data import Dataset, binarize, random_shift
from ..errors import ConfigError, TrainingError
from ..metrics import evaluate_elbo
from ..noise import drawing_from
from ..text import N_

LR_SCHEDULES = ("constant", "cosine", "one-cycle")
LABELLED_MIXES = ("each-step", "proportional")


class Trainable(Protocol):
    """A network the engine can train."""

    learns_from_unlabelled: ClassVar[bool]  # may the data hold unlabelled digits (label -1)?
    # optional, False when absent: does it put a Bernoulli likelihood on pixels? Then it trains on dynamically
    # binarised digits and is validated on a fixed binarisation (cvae_core.data.binarize).
    bernoulli_pixels: ClassVar[bool]

    def loss(self, x: torch.Tensor, y: torch.Tensor, kl_weight: float = 1.0) -> tuple[torch.Tensor, dict]: ...


@dataclass
class TrainConfig:
    """How a run trains. The field defaults are the live ones (the Train page, `train` on the command line, bench/):
    chosen so that recognisable digits of every label appear within seconds on a 2-core CPU. A variant whose recipe
    differs says so on its class (`training_overrides`); the papers' experiments set theirs in cvae_core/training/defaults.py."""

    epochs: float | None = 30.0  # None: train until max_seconds
    max_seconds: float | None = None
    batch_size: int = 128
    lr: float = 2e-3
    seed: int = 0
    warmup_epochs: float = 5.0  # the KL weight moves linearly from kl_start to 1 over these epochs
    # 0: the usual warm-up; above 1: start with a heavy KL that eases to 1. The live 4 lets the decoder learn to use the
    # label before z can carry it (checkpoints/README.md: from a light KL, z learns the digit's identity, and samples
    # then often show another digit).
    kl_start: float = 4.0
    # "cosine" decays the learning rate to 0 (Loshchilov & Hutter 2017); "one-cycle" warms up to
    # 3 x lr and anneals (Smith & Topin 2018; the fidelity classifier). Both need a number of epochs.
    lr_schedule: str = "constant"
    shift_pixels: int = 0  # augmentation: random shifts of up to this many pixels
    # Semi-supervised runs (m2): how labelled digits join the unlabelled ones. "each-step": up to batch_size labelled
    # digits redrawn beside every batch, the classification term on their mean. "proportional": Kingma et al.'s code
    # (learn_yz_x_ss.py): each batch holds its share of one pass over the labelled digits (data proportion), and each
    # labelled digit's classification term weighs alpha * N / N_labelled, so that over a pass it weighs alpha * N (eq. 9).
    labelled_mix: str = "each-step"
    eval_limit: int = 2000  # validation digits used for the live validation curve

    def validate(self, n_train: int) -> "TrainConfig":
        if self.epochs is None and self.max_seconds is None:
            raise ConfigError(N_("give a number of epochs or a time budget"))
        if self.epochs is not None and not (0 < self.epochs <= 10_000):
            raise ConfigError(N_("epochs must be more than 0 and at most 10000, got {epochs}"), epochs=self.epochs)
        if self.max_seconds is not None and not (0 < self.max_seconds <= 7 * 24 * 3600):
            raise ConfigError(N_("time budget must be positive seconds, got {seconds}"), seconds=self.max_seconds)
        if not (1 <= self.batch_size <= 65536):
            raise ConfigError(N_("batch size must be from 1 to 65536, got {batch_size}"), batch_size=self.batch_size)
        if not (0 < self.lr <= 10 and math.isfinite(self.lr)):
            raise ConfigError(N_("learning rate must be more than 0 and at most 10, got {learning_rate}"), learning_rate=self.lr)
        if not (0 <= self.warmup_epochs <= 1000):
            raise ConfigError(N_("KL warm-up must be from 0 to 1000 epochs, got {warmup_epochs}"), warmup_epochs=self.warmup_epochs)
        if not (0 <= self.kl_start <= 100 and math.isfinite(self.kl_start)):
            raise ConfigError(N_("the starting KL weight must be from 0 to 100, got {kl_start}"), kl_start=self.kl_start)
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(
                N_("learning-rate schedule must be one of {schedules}, got {schedule}"),
                schedules=", ".join(LR_SCHEDULES),
                schedule=repr(self.lr_schedule),
            )
        if self.lr_schedule != "constant" and self.epochs is None:
            raise ConfigError(N_("a {schedule} learning rate needs a number of epochs, not only a time budget"), schedule=self.lr_schedule)
        if self.labelled_mix not in LABELLED_MIXES:
            raise ConfigError(
                N_("labelled mix must be one of {mixes}, got {mix}"), mixes=", ".join(LABELLED_MIXES), mix=repr(self.labelled_mix)
            )
        if not (0 <= self.shift_pixels <= 4):
            raise ConfigError(N_("shift augmentation must be from 0 to 4 pixels, got {shift_pixels}"), shift_pixels=self.shift_pixels)
        if n_train == 0:
            raise ConfigError(N_("the training set is empty"))
        return self


@dataclass(kw_only=True)
class Progress:
    """A snapshot of a training run, for progress bars and pages (built by keyword)."""

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


class Trainer:
    """Trains one network on one data set, a slice at a time."""

    def __init__(self, model: nn.Module, train: Dataset, validation: Dataset | None = None, config: TrainConfig | None = None, device=None):
        self.config = (config or TrainConfig()).validate(len(train))
        self.device = torch.device(device) if device is not None else pick_device()
        self.clock = time.perf_counter  # what time budgets are measured with (a test gives its own)
        self.model = model.to(self.device)
        # The run's own generators, never torch's global one: runs of many visitors train in one process at once, and
        # a draw or a seed of theirs must not move this run (cvae_core/noise.py). `generator`: the batch order, shifts
        # and binarised pixels; `noise`: eps and dropout, on the device, seeded as torch.manual_seed would seed it.
        self.generator = torch.Generator().manual_seed(self.config.seed)
        self.noise = torch.Generator(device=self.device).manual_seed(self.config.seed)
        self.x = train.images.to(self.device)
        self.y = train.labels.to(self.device)
        labelled = self.y >= 0
        self.semi_supervised = not bool(labelled.all())
        kind = getattr(model, "name", type(model).__name__)
        if self.semi_supervised and not getattr(model, "learns_from_unlabelled", False):
            raise ConfigError(N_("{kind} needs every digit labelled; only m2 learns from unlabelled digits"), kind=kind)
        self.labelled_idx = torch.nonzero(labelled).flatten().cpu()
        # An epoch is one pass over the unlabelled digits (m2) or over all digits.
        self.epoch_idx = torch.nonzero(~labelled).flatten().cpu() if self.semi_supervised else torch.arange(len(train))
        if self.semi_supervised and len(self.labelled_idx) == 0:
            raise ConfigError(N_("{kind} needs at least a few labelled digits"), kind=kind)
        # The literature's likelihood protocol: pixels drawn afresh as 0/1 every time a digit is seen; the
        # validation digits binarised once, so that their curve measures one fixed data set.
        self.binarize = bool(getattr(model, "bernoulli_pixels", False))
        self.validation = validation.binarized_once() if (validation is not None and self.binarize) else validation
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.config.lr)
        self.steps_per_epoch = max(1, math.ceil(len(self.epoch_idx) / self.config.batch_size))
        self.total_steps = None if self.config.epochs is None else max(1, round(self.config.epochs * self.steps_per_epoch))
        self.one_cycle = (
            torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=3 * self.config.lr, total_steps=self.total_steps)
            if self.config.lr_schedule == "one-cycle"
            else None
        )
        self.step = 0
        self.elapsed = 0.0
        self.samples = 0
        self.done = False
        self.message = ""
        self.history: list[dict] = []  # one row per slice (train) and per epoch (val)
        self._order = torch.empty(0, dtype=torch.long)
        self._labelled_order = torch.empty(0, dtype=torch.long)
        # "proportional": about N_labelled / steps labelled digits a step, each weighted N / N_labelled (TrainConfig.labelled_mix)
        self.proportional = self.semi_supervised and self.config.labelled_mix == "proportional"
        self._loss_weighting = {"labelled_weight": len(self.x) / len(self.labelled_idx)} if self.proportional else {}
        self._progress = Progress(
            step=0, total_steps=self.total_steps, epoch=0.0, elapsed=0.0, samples_per_sec=0.0, eta=None,
            kl_weight=self.kl_weight(), terms={}, done=False, device=str(self.device),
        )  # fmt: skip

    @property
    def progress(self) -> Progress:
        """The latest snapshot: what a page shows without touching the model."""
        return self._progress

    # ---- batches ------------------------------------------------------------------------------
    def _batch(self):
        pos = self.step % self.steps_per_epoch
        # A new order at each epoch, and for a trainer restored mid-epoch without one (a run whose remote lane was lost
        # goes on from the weights of its last slice: cvae_core/training/ray_backend.py)
        if pos == 0 or len(self._order) != len(self.epoch_idx):
            self._order = self.epoch_idx[torch.randperm(len(self.epoch_idx), generator=self.generator)]
        idx = self._order[pos * self.config.batch_size : (pos + 1) * self.config.batch_size]
        if self.proportional:  # one pass over the labelled digits for each pass over the unlabelled ones, evenly spread
            n_lab, steps = len(self.labelled_idx), self.steps_per_epoch
            if pos == 0 or len(self._labelled_order) != n_lab:
                self._labelled_order = self.labelled_idx[torch.randperm(n_lab, generator=self.generator)]
            idx = torch.cat([self._labelled_order[pos * n_lab // steps : (pos + 1) * n_lab // steps], idx])
        elif self.semi_supervised:  # Kingma et al.: every step sees labelled and unlabelled digits
            n_lab = min(self.config.batch_size, len(self.labelled_idx))
            pick = torch.randint(len(self.labelled_idx), (n_lab,), generator=self.generator)
            idx = torch.cat([self.labelled_idx[pick], idx])
        idx = idx.to(self.device)
        x = self.x[idx]
        if self.config.shift_pixels:
            x = random_shift(x, self.config.shift_pixels, self.generator)
        if self.binarize:
            x = binarize(x, self.generator)
        return x, self.y[idx]

    def kl_weight(self) -> float:
        warmup_steps = self.config.warmup_epochs * self.steps_per_epoch
        progress = 1.0 if warmup_steps <= 0 else min(1.0, self.step / warmup_steps)
        return self.config.kl_start + (1.0 - self.config.kl_start) * progress

    @property
    def epoch(self) -> float:
        return self.step / self.steps_per_epoch

    # ---- training -----------------------------------------------------------------------------
    def _budget_spent(self, training_seconds: float) -> bool:
        """Has the whole run's budget (epochs or seconds) been used? training_seconds: this slice's so far."""
        if self.total_steps is not None and self.step >= self.total_steps:
            return True
        return self.config.max_seconds is not None and self.elapsed + training_seconds >= self.config.max_seconds

    def _step(self) -> tuple[int, torch.Tensor]:
        """One optimiser step; returns the batch size and the loss terms, detached, in a stable order."""
        x, y = self._batch()
        loss, terms = self.model.loss(x, y, kl_weight=self.kl_weight(), **self._loss_weighting)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.lr_schedule == "cosine":
            set_cosine_lr(self.optimizer, self.config.lr, self.step, self.total_steps)
        self.optimizer.step()
        if self.one_cycle is not None:
            self.one_cycle.step()
        self.step += 1
        self._term_names = ("loss", *terms)
        return x.shape[0], torch.stack([loss.detach(), *(t.detach() for t in terms.values())])

    def _rollback(self, snapshot, steps: int) -> None:
        """Restore the weights and optimiser saved at the start of a slice whose loss went non-finite, and stop."""
        self.model.load_state_dict(snapshot[0])
        self.optimizer.load_state_dict(snapshot[1])
        if self.one_cycle is not None:
            self.one_cycle.load_state_dict(snapshot[2])
        self.step -= steps
        self.done = True
        error = TrainingError(
            N_(
                "Training stopped: the loss became NaN or infinite (the learning rate is probably too high). "
                "The weights from step {step} were kept."
            ),
            step=self.step,
        )
        self.message = str(error)
        self._progress = self._measure({}, self._progress.samples_per_sec)
        raise error

    def run(self, max_steps: int | None = None, max_seconds: float | None = None) -> Progress:
        """Train for up to max_steps batches and/or max_seconds (both None: to the end)."""
        if self.done:
            return self._progress
        with drawing_from(self.noise):
            return self._run(max_steps, max_seconds)

    def _run(self, max_steps: int | None, max_seconds: float | None) -> Progress:
        snapshot = (
            copy.deepcopy(self.model.state_dict()),
            copy.deepcopy(self.optimizer.state_dict()),
            None if self.one_cycle is None else self.one_cycle.state_dict(),
        )
        self.model.train()
        sums = None  # running sums of the loss terms, on the device
        steps = samples = 0
        started = self.clock()
        eval_seconds = 0.0  # spent on the validation curve, not counted as training time
        while True:
            training_seconds = self.clock() - started - eval_seconds
            if self._budget_spent(training_seconds):
                self.done = True
                break
            if max_steps is not None and steps >= max_steps:
                break
            if max_seconds is not None and steps > 0 and training_seconds >= max_seconds:
                break
            batch, terms = self._step()
            sums = terms if sums is None else sums + terms
            steps += 1
            samples += batch
            if self.validation is not None and self.step % self.steps_per_epoch == 0:
                eval_started = self.clock()
                self._record_validation()
                eval_seconds += self.clock() - eval_started
        slice_seconds = self.clock() - started - eval_seconds
        means = [] if sums is None else (sums / steps).tolist()
        if not all(math.isfinite(v) for v in means):
            self._rollback(snapshot, steps)
        self.elapsed += slice_seconds
        self.samples += samples
        rate = samples / slice_seconds if steps and slice_seconds > 0 else self._progress.samples_per_sec
        terms = dict(zip(self._term_names, means, strict=True)) if steps else self._progress.terms
        if steps:
            self.history.append({"split": "train", "step": self.step, "epoch": self.epoch, **terms})
        if self.validation is not None and self.done and steps and self.step % self.steps_per_epoch:
            self._record_validation()  # a run ending mid-epoch still gets its last validation point
        self._progress = self._measure(terms, rate)
        return self._progress

    def run_to_end(self, on_slice=None, slice_seconds: float = 0.5) -> Progress:
        """Train until the budget is spent, calling on_slice(progress) after every slice (for progress bars)."""
        while not self.done:
            self.run(max_seconds=slice_seconds)
            if on_slice is not None:
                on_slice(self._progress)
        return self._progress

    def _record_validation(self) -> None:
        terms = evaluate_elbo(self.model, self.validation, limit=self.config.eval_limit)
        self.history.append({"split": "val", "step": self.step, "epoch": self.epoch, **terms})

    def _measure(self, terms: dict, rate: float) -> Progress:
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
            step=self.step,
            total_steps=self.total_steps,
            epoch=self.epoch,
            elapsed=self.elapsed,
            samples_per_sec=rate,
            eta=eta,
            kl_weight=self.kl_weight(),
            terms=terms,
            done=self.done,
            device=str(self.device),
            message=self.message,
        )

    # ---- moving a run between processes ------------------------------------------------------
    def handover(self, full: bool = True, history_from: int = 0) -> dict:
        """Where the run is, as tensors and numbers (a handover): `take_over` continues it from here in another process built from the
        same recipe (the Ray backend trains slices on other machines: cvae_core/training/ray_backend.py), and both go on
        identically: the run's generators travel with it (onto another kind of device, its noise goes on from a seed
        drawn from its generator's: `_continue_noise`). full=False leaves out the optimiser and the batch order: the weights a
        page shows. Only the history rows after the first `history_from` travel."""
        out = {
            "model": {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
            "beta": getattr(getattr(self.model, "config", None), "beta", None),
            "step": self.step, "elapsed": self.elapsed, "samples": self.samples, "done": self.done, "message": self.message,
            "progress": self._progress, "term_names": getattr(self, "_term_names", None),
            "history_from": history_from, "history": self.history[history_from:],
        }  # fmt: skip
        if full:
            out["optimizer"] = copy.deepcopy(self.optimizer.state_dict())  # a copy: loading one shares its tensors
            out["one_cycle"] = None if self.one_cycle is None else copy.deepcopy(self.one_cycle.state_dict())
            out["order"], out["generator"] = self._order.cpu(), self.generator.get_state()
            out["noise"] = (self.noise.device.type, self.noise.get_state())
            out["labelled_order"] = self._labelled_order.cpu()
        return out

    def take_over(self, handover: dict) -> None:
        """Continue from another trainer's `handover()`, built from the same recipe (weights, counters, history; the
        optimiser and the batch order too when the handover is full)."""
        self.model.load_state_dict(handover["model"])
        if handover["beta"] is not None:
            self.model.config.beta = handover["beta"]
        for name in ("step", "elapsed", "samples", "done", "message"):
            setattr(self, name, handover[name])
        self._progress = handover["progress"]
        if handover["term_names"] is not None:
            self._term_names = handover["term_names"]
        self.history = self.history[: handover["history_from"]] + list(handover["history"])
        if "optimizer" in handover:
            self.optimizer.load_state_dict(handover["optimizer"])
            if self.one_cycle is not None and handover["one_cycle"] is not None:
                self.one_cycle.load_state_dict(handover["one_cycle"])
            self._order = handover["order"]
            self._labelled_order = handover.get("labelled_order", self._labelled_order)
            self.generator.set_state(handover["generator"])
            if "noise" in handover:
                self._continue_noise(*handover["noise"])

    def _continue_noise(self, device_type: str, noise_state: torch.Tensor) -> None:
        """Go on with a stream drawn on `device_type`: the same stream on that kind of device; on another (a run moving
        between a CPU server and a GPU node) a generator of this device's kind seeded from it, so that each move gets
        fresh draws instead of the seed's first ones again."""
        if device_type == self.noise.device.type:
            self.noise.set_state(noise_state)
        else:
            self.noise.manual_seed(int.from_bytes(hashlib.blake2b(noise_state.numpy().tobytes(), digest_size=8).digest(), "little"))

    @property
    def overall_samples_per_sec(self) -> float:
        return self.samples / self.elapsed if self.elapsed > 0 else 0.0

    def summary(self) -> dict:
        return {
            "steps": self.step,
            "epochs": round(self.epoch, 3),
            "seconds": round(self.elapsed, 3),
            "samples_per_sec": round(self.overall_samples_per_sec, 1),
            "device": str(self.device),
            "train_config": asdict(self.config),
            **({"beta": self.model.config.beta} if hasattr(getattr(self.model, "config", None), "beta") else {}),  # changeable mid-run
        }
