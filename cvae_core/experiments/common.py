"""What every experiment shares: a network trained to the end (or keeping its best validation epoch) as a plan of
one stage, a frozen part's weights, and spreads over seeds."""

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Dataset
from ..nets import image_encoder
from ..text import N_
from ..training.engine import TrainConfig
from ..training.stages import Plan, Stage, run_plan


def train_to_end(make_model, train: Dataset, config: TrainConfig, progress=None, share: tuple[float, float] = (0.0, 1.0)) -> nn.Module:
    """Build a network from config.seed (make_model()), train it through the engine, return it in eval mode on
    the CPU, where the experiments evaluate (the engine may train on a GPU). progress(f) moves from share[0] to share[1]."""
    model, _ = run_plan(one_stage(Stage(N_("a network"), make_model, train, config, share=share)), progress)
    return model


def train_selecting(
    make_model, train: Dataset, config: TrainConfig, validation_loss, patience: int | None = None, progress=None, share=(0.0, 1.0)
) -> tuple[nn.Module, dict]:
    """train_to_end, choosing on validation: after every epoch validation_loss(model) (lower is better) is measured
    and the weights of the best epoch are kept; with `patience`, training stops once that many epochs have passed
    without a better one (early stopping). Returns the model (eval mode, CPU) and {"epoch", "validation_loss"}."""
    return run_plan(one_stage(Stage(N_("a network"), make_model, train, config, validation_loss, patience, share)), progress)


def one_stage(stage: Stage) -> Plan:
    return (yield stage)


def with_weights(model: nn.Module, part: str, source: nn.Module) -> nn.Module:
    """model, its frozen sub-network `part` (e.g. an NN baseline, M1's encoder) holding source's trained weights."""
    getattr(model, part).load_state_dict(source.state_dict())
    return model


# ---- spreads over seeds -------------------------------------------------------------------------
def spread(run_once, seeds, figures: tuple[str, ...], on_run=None) -> dict:
    """run_once(seed) -> dict for each of the distinct `seeds`; each figure's mean and sample standard deviation
    over the runs (Kingma et al. and Pyro report mean ± std over label draws). on_run(i, result) after each run."""
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"the runs need distinct seeds, got {seeds}")
    runs = []
    for i, seed in enumerate(seeds):
        runs.append(run_once(seed))
        if on_run is not None:
            on_run(i, runs[-1])
    out = {"seeds": seeds, "runs": runs}
    for key in figures:
        values = torch.tensor([float(r[key]) for r in runs], dtype=torch.float64)
        std = float(values.std(unbiased=True)) if len(values) > 1 else 0.0
        out[key] = {"mean": round(float(values.mean()), 4), "std": round(std, 4), "runs": len(values)}
    return out


class PlainClassifier(nn.Module):
    """A plain classifier: the baselines of M2 (its own q(y|x) network) and of cvae3 as a classifier."""

    learns_from_unlabelled = False

    def __init__(self, hidden: int = 512, layers: int = 2, arch: str = "mlp"):
        super().__init__()
        self.net = image_encoder(arch, 0, hidden, layers, 10)

    def forward(self, x):
        return self.net(x)

    def loss(self, x, y, kl_weight: float = 1.0):
        """Cross-entropy; no KL term."""
        return F.cross_entropy(self(x), y), {}

    @torch.inference_mode()
    def classify(self, x):
        return torch.softmax(self(x), -1)
