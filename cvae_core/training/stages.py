"""An experiment as a plan: the networks it trains in turn, each a Stage trained by the one engine.

A plan is a generator. It yields a `Stage` and receives the trained network back (with the epoch kept, when the stage
chooses on validation); it may yield a dict of findings (plain figures, e.g. one network's test score) as soon as it
has them; it returns its result. The same plan runs two ways:
- `run_plan`: to the end in the caller's thread (the CLI, the long runs of RESULTS.md);
- `PlanRun`: a slice at a time as a job of the training service, queued fairly beside the visitors' runs, with Stop,
  presence and progress (the Experiments page's "Retrain live"). It offers the service what a Trainer does.
"""

import copy
from collections.abc import Callable, Generator
from dataclasses import dataclass

from torch import nn

from ..data import Dataset
from ..noise import drawing_from, initial_weights
from .engine import Progress, TrainConfig, Trainer


@dataclass
class Stage:
    """One network of an experiment, built by make_model() inside initial_weights(config.seed)."""

    name: str  # what trains, for progress ("the NN baseline"); marked N_ so that pages translate it
    make_model: Callable[[], nn.Module]
    train: Dataset
    config: TrainConfig
    # lower is better, measured after every epoch: the weights of the best epoch are kept (None: the last weights)
    validation_loss: Callable[[nn.Module], float] | None = None
    patience: int | None = None  # with validation_loss: stop once this many epochs bring no better one
    share: tuple[float, float] = (0.0, 1.0)  # the part of the whole experiment's progress this stage covers


class BestEpoch:
    """The one rule for keeping the best validation epoch, for every network the project trains with validation digits
    (an experiment's stages, the CLI's `train`): after each epoch a validation loss (lower is better) is offered; the
    weights of the first epoch with the lowest loss are kept; with `patience`, training stops once that many epochs
    have brought no lower one."""

    def __init__(self, patience: int | None = None):
        self.patience = patience
        self.best: dict | None = None  # {"epoch", "validation_loss"} of the best epoch so far
        self._weights = None
        self._since_best = 0

    def offer(self, epoch: float, loss: float, model: nn.Module) -> None:
        if self.best is None or loss < self.best["validation_loss"]:
            self.best = {"epoch": round(epoch, 3), "validation_loss": round(loss, 4)}
            self._weights, self._since_best = copy.deepcopy(model.state_dict()), 0
        else:
            self._since_best += 1

    @property
    def patience_ran_out(self) -> bool:
        return self.patience is not None and self._since_best >= self.patience

    def keep(self, model: nn.Module) -> nn.Module:
        """The model with the best epoch's weights (as it is when none was offered)."""
        if self._weights is not None:
            model.load_state_dict(self._weights)
        return model


class StageTraining:
    """A Stage being trained, one slice at a time; `result()` once `done`."""

    def __init__(self, stage: Stage):
        self.stage = stage
        with initial_weights(stage.config.seed):
            self.model = stage.make_model()
        self.trainer = Trainer(self.model, stage.train, config=stage.config)
        self.selection = BestEpoch(stage.patience)
        self.done = False

    def run(self, max_seconds: float | None = None) -> None:
        """Train for up to max_seconds (None: to the end, or to the end of the epoch when choosing on validation)."""
        trainer, stage = self.trainer, self.stage
        if stage.validation_loss is None:
            trainer.run(max_seconds=max_seconds)
            self.done = trainer.done
            return
        before = trainer.step
        trainer.run(max_steps=trainer.steps_per_epoch - trainer.step % trainer.steps_per_epoch, max_seconds=max_seconds)
        if trainer.step == before or (trainer.step % trainer.steps_per_epoch and not trainer.done):
            self.done = trainer.done
            return  # mid-epoch: the slice ended before the epoch did
        self.model.eval()
        with drawing_from(trainer.noise):  # a one-sample bound draws eps: from the run's own stream, as its steps do
            loss = float(stage.validation_loss(self.model))
        self.selection.offer(trainer.epoch, loss, self.model)
        self.done = trainer.done or self.selection.patience_ran_out

    @property
    def fraction(self) -> float:
        """How far the stage is, 0 to 1 (its planned length; a stage that stops early jumps to 1)."""
        return 1.0 if self.done else self.trainer.step / max(1, self.trainer.total_steps or 1)

    def result(self) -> tuple[nn.Module, dict | None]:
        """The trained network (the best epoch's weights when choosing on validation), in eval mode on the CPU, where the
        experiments evaluate; and {"epoch", "validation_loss"} of the epoch kept (None without validation)."""
        return self.selection.keep(self.model).cpu().eval(), self.selection.best


Plan = Generator[Stage | dict, tuple[nn.Module, dict | None] | None, object]


def run_plan(plan: Plan, progress: Callable[[float], None] | None = None, slice_seconds: float = 0.5):
    """Train a plan's stages to the end, in turn, in this thread (stepped as the service steps it: PlanRun); its result.
    progress(f), f from 0 to 1, after every slice."""
    job = PlanRun(plan, experiment="")
    while not job.done:
        job.run(max_seconds=slice_seconds)
        if progress is not None:
            progress(job.fraction)
    return job.result


class PlanRun:
    """A plan as a job of the training service (cvae_core/training/service.py): it offers what the service reads of a Trainer
    (run a slice, done, counters, progress, the model of the moment, a summary) for the stage that is training."""

    validation = None  # no latent figures: an experiment's networks are not one model
    history = ()  # no curves: the page shows each network's figures as it ends (summary()["findings"])

    def __init__(self, plan: Plan, experiment: str, final_model: Callable[[object], nn.Module | None] = lambda result: None):
        self.plan = plan
        self.experiment = experiment
        self._final_model = final_model
        self.findings: dict = {}
        self.result = None
        self.ended = False  # the plan returned (done is also set when it failed)
        self.done = False
        self.message = ""
        self.stages_done = 0
        self._finished = {"samples": 0, "elapsed": 0.0}  # counters of the stages already trained
        self.training: StageTraining | None = None
        self._final: nn.Module | None = None  # once the plan has ended: the model pages use
        self._error: Exception | None = None  # why it stopped, when a network or the plan failed
        self._advance(None)

    def _advance(self, answer) -> None:
        """Into the plan up to its next stage (findings on the way are kept), or to its end."""
        while True:
            try:
                item = self.plan.send(answer)
            except StopIteration as end:
                self.result, self.training, self.ended, self.done = end.value, None, True, True
                final = self._final_model(self.result)  # a copy: the service switches the module it publishes to train mode
                self._final = copy.deepcopy(final) if final is not None else None
                return
            if isinstance(item, Stage):
                self.training = StageTraining(item)
                return
            self.findings.update(item)
            answer = None

    def run(self, max_seconds: float | None = None) -> Progress:
        if self._error is not None:  # asked to go on after a failure: it cannot, and says why again
            raise self._error
        if self.done:
            return self.progress
        training = self.training
        try:
            training.run(max_seconds=max_seconds)
            if training.done:
                self._finished["samples"] += training.trainer.samples
                self._finished["elapsed"] += training.trainer.elapsed
                self.stages_done += 1
                self._advance(training.result())  # the plan's evaluation between two networks runs here, in the slice
        except Exception as e:
            # A network that diverged (the engine rolled it back) or the plan's own refusal ends the experiment: its
            # later networks would build on one cut short, and a plan that raised is over.
            self._error, self.done = e, True
            raise
        return self.progress

    # ---- what the service reads ------------------------------------------------------------------
    @property
    def model(self) -> nn.Module | None:
        """The network training now; once done, the experiment's model a page can use (final_model(result))."""
        if self._final is not None:
            return self._final
        return self.training.model if self.training is not None else nn.Module()

    @property
    def samples(self) -> int:
        return self._finished["samples"] + (self.training.trainer.samples if self.training else 0)

    @property
    def elapsed(self) -> float:
        return self._finished["elapsed"] + (self.training.trainer.elapsed if self.training else 0.0)

    @property
    def step(self) -> int:
        return self.training.trainer.step if self.training else 0

    @property
    def epoch(self) -> float:
        return self.training.trainer.epoch if self.training else 0.0

    @property
    def fraction(self) -> float:
        if self.ended:
            return 1.0
        lo, hi = self.training.stage.share
        return lo + (hi - lo) * self.training.fraction

    @property
    def progress(self) -> Progress:
        if self.training is None:
            return Progress(step=0, total_steps=None, epoch=0.0, elapsed=self.elapsed, samples_per_sec=0.0, eta=0.0, kl_weight=1.0,
                            terms={}, done=True, device="cpu")  # fmt: skip
        return self.training.trainer.progress

    def summary(self) -> dict:
        """Plain figures for the page: which network trains and how far the experiment is, the findings so far."""
        return {
            "experiment": self.experiment,
            "stage": None if self.training is None else self.training.stage.name,
            "stages_done": self.stages_done,
            "fraction": round(self.fraction, 4),
            "seconds": round(self.elapsed, 3),
            "findings": copy.deepcopy(self.findings),
        }
