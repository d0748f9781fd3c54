"""Sohn et al. 2015's quadrant completion: an NN baseline and cvae3, trained on the same digits, scored on the hidden
quadrants of test digits (cvae3's ways of filling its prior's input with the NN's guess among them)."""

from dataclasses import dataclass, field

import torch
from torch import nn

from ..data import Dataset
from ..distributions import bernoulli_log_likelihood
from ..models import build_model, model_config
from ..models.cvae3 import filled_with_guess, masked_input, quadrant_mask
from ..nets import ConditionalMLP
from ..noise import initial_weights, seeded
from ..references import PYRO_QUADRANTS
from ..text import N_
from ..training.defaults import EXPERIMENTS
from ..training.engine import TrainConfig
from ..training.stages import Plan, Stage, run_plan
from .common import with_weights


# ---- quadrant completion ------------------------------------------------------------------------
class QuadrantBaseline(nn.Module):
    """Sohn's deterministic baseline: an MLP regressor from the visible quadrants to the hidden pixels."""

    learns_from_unlabelled = False
    bernoulli_pixels = True  # trained and measured on binarised hidden pixels, as the CVAEs are

    def __init__(self, given: int, hidden: int = 512, layers: int = 2):
        super().__init__()
        self.register_buffer("mask", quadrant_mask(given))
        self.net = ConditionalMLP(784, 0, hidden, layers, 784)

    def forward(self, x):
        return self.net(masked_input(x, self.mask))

    def log_likelihood(self, x):
        """log p(y|x) of the hidden pixels under the single prediction."""
        return bernoulli_log_likelihood(self(x), x, mask=1 - self.mask)

    def loss(self, x, y, kl_weight: float = 1.0):
        """The negative log-likelihood of the hidden pixels; no KL term."""
        return -self.log_likelihood(x).mean(), {}

    @torch.inference_mode()
    def complete(self, x):
        return filled_with_guess(self.net, x, self.mask).view(-1, 28, 28)


@dataclass
class QuadrantResult:
    """One number of visible quadrants: the NN baseline and one cvae3 per way of filling the prior's input
    (config.nn_fill: "none" is the plain CVAE, "prior" Sohn's baseline-initialised one). Negative conditional
    log-likelihoods of the binarised hidden pixels, nats per digit: MC draws z from the prior network p(z|x), as the
    page's completions do; IS draws z from q(z|x,y) and reweights each draw by p(z|x) / q(z|x,y). Both are stochastic
    upper bounds on the same -log p(y|x) (the importance weights correct for the proposal: no leak); the lower is the
    tighter (quadrant_bounds_plan reports them as such)."""

    given: int
    nn_ncll: float
    cvae_ncll_mc: dict[str, float]
    cvae_ncll_is: dict[str, float]
    n: int
    baseline: QuadrantBaseline
    cvaes: dict[str, object]
    # chosen on validation, never on test: the fill shown, each fill's GSNN weight, the NN's length
    validation: dict = field(default_factory=dict)  # fill -> {"ncll_mc", "ncll_is", "gsnn_weight"}
    nn_epochs: float | None = None
    selected: str | None = None

    @property
    def best(self) -> str:
        """The fill shown: the one whose completions (MC, drawn as the page draws them) scored best on validation;
        without validation, the lowest MC score reported."""
        return self.selected or min(self.cvae_ncll_mc, key=self.cvae_ncll_mc.get)

    @torch.inference_mode()
    def showcase(self, image, n_samples: int = 6, seed: int = 0, fill: str | None = None) -> list[torch.Tensor]:
        """For one digit: what is shown, the truth, the NN's guess and n_samples CVAE completions, each (B, 28, 28)."""
        return showcase(self.baseline, self.cvaes[fill or self.best], image, n_samples, seed)

    def as_dict(self) -> dict:
        out = {
            "given": self.given,
            "protocol": "binarized",
            "nn_ncll": round(self.nn_ncll, 3),
            "cvae": {
                fill: {
                    "ncll_mc": round(self.cvae_ncll_mc[fill], 3),
                    "ncll_is": round(self.cvae_ncll_is[fill], 3),
                    "mc_over_nn": round(self.cvae_ncll_mc[fill] / self.nn_ncll, 4),
                    "is_over_nn": round(self.cvae_ncll_is[fill] / self.nn_ncll, 4),
                    **({f"validation_{k}": v for k, v in self.validation[fill].items()} if fill in self.validation else {}),
                }
                for fill in self.cvaes
            },
            "n": self.n,
            "reference_pyro": {"nn": PYRO_QUADRANTS["nn"][self.given - 1], "cvae": PYRO_QUADRANTS["cvae"][self.given - 1]},
        }
        if self.selected is not None:
            out.update({"selected_on": "validation", "selected_fill": self.selected, "nn_epochs": self.nn_epochs})
        return out


def completion_scores(cvae, data: Dataset, samples: int, seed: int) -> tuple[float, float]:
    """A quadrant cvae3's mean MC and IS negative log-likelihoods of the hidden pixels of `data` (nats per digit)."""
    mc = iw = 0.0
    with seeded(seed, cvae.device), torch.inference_mode():
        for x, _ in data.batches(500):
            mc += float(cvae.log_likelihood_mc(x, k=samples).sum())
            iw += float(cvae.log_likelihood(x, None, k=samples).sum())
    return -mc / len(data), -iw / len(data)


def nn_ncll(baseline: QuadrantBaseline, data: Dataset) -> float:
    with torch.inference_mode():
        return -sum(float(baseline.log_likelihood(x).sum()) for x, _ in data.batches(500)) / len(data)


@torch.inference_mode()
def showcase(baseline: QuadrantBaseline, cvae, image, n_samples: int = 6, seed: int = 0) -> list[torch.Tensor]:
    """What is shown of one digit, the truth, the NN's guess and n_samples CVAE completions, each (B, 28, 28)."""
    x = cvae.as_batch(image)
    with seeded(seed, cvae.device):
        return [cvae.visible_part(x), x.view(-1, 28, 28), baseline.complete(x), cvae.complete(x, n_samples=n_samples)[:, 0]]


def quadrants(given: int, train: Dataset, test: Dataset, *args, progress=None, **kwargs) -> QuadrantResult:
    """quadrants_plan trained to the end here; progress(f) from 0 to 1."""
    return run_plan(quadrants_plan(given, train, test, *args, **kwargs), progress)


def quadrants_plan(
    given: int,
    train: Dataset,
    test: Dataset,
    epochs: float = EXPERIMENTS["quadrants"]["epochs"],
    samples: int = 100,
    seed: int = 0,
    hidden: int = 512,
    gsnn_weight: float | tuple[float, ...] = 0.0,
    fills: tuple[str, ...] = ("none", "prior"),
    validation: Dataset | None = None,
    nn_epochs: float | None = None,
    nn_patience: int = 20,
) -> Plan:
    """Train the NN baseline, then one cvae3 per fill (see ModelConfig.nn_fill) and GSNN weight on the same digits and
    settings; negative conditional log-likelihoods of the binarised hidden pixels on test (nats). A plan
    (cvae_core/training/stages.py): its findings, after each network, are the QuadrantResult.as_dict() of the networks so far.

    With validation digits every choice is made on them: the NN trains for as long as its own validation score
    improves (up to nn_epochs, default 3 x epochs; stopping after nn_patience epochs without a better one: a fair
    baseline, not one on the CVAE's schedule); each fill keeps the GSNN weight (Sohn's hybrid objective, eq. 8)
    whose completions from the prior network score best; the fill shown is the best of those."""
    weights = (gsnn_weight,) if isinstance(gsnn_weight, int | float) else tuple(gsnn_weight)
    config = TrainConfig(**{**EXPERIMENTS["quadrants"], "epochs": epochs, "seed": seed})
    runs = [(fill, w) for fill in fills for w in weights]
    share = 1.0 / (1 + len(runs))
    validation = None if validation is None else validation.binarized_once()
    test = test.binarized_once()
    chosen_nn_epochs = None
    make_nn = lambda: QuadrantBaseline(given, hidden)  # noqa: E731
    if validation is not None:
        nn_config = TrainConfig(**{**EXPERIMENTS["quadrants"], "epochs": nn_epochs or 3 * epochs, "seed": seed})
        baseline, picked = yield Stage(
            N_("the NN baseline"), make_nn, train, nn_config, lambda m: nn_ncll(m, validation), nn_patience, (0.0, share)
        )
        chosen_nn_epochs = picked["epoch"]
    else:
        baseline, _ = yield Stage(N_("the NN baseline"), make_nn, train, config, share=(0.0, share))
    nn_score = nn_ncll(baseline, test)
    cvaes, scores, mc, iw = {}, {}, {}, {}

    def so_far(selected=None) -> QuadrantResult:
        return QuadrantResult(given, nn_score, mc, iw, len(test), baseline, {f: cvaes[f] for f in mc}, scores, chosen_nn_epochs, selected)

    yield {"quadrants": so_far().as_dict()}
    for i, (fill, w) in enumerate(runs):
        cvae_config = model_config(
            variant="cvae3", target="quadrants", given_quadrants=given, latent_dim=32, hidden=hidden, gsnn_weight=w, nn_fill=fill
        )
        make = (
            (lambda c=cvae_config: build_model(c))
            if fill == "none"
            else (lambda c=cvae_config: with_weights(build_model(c), "baseline_net", baseline.net))
        )
        name = N_("the CVAE") if fill == "none" else N_("the NN-filled CVAE")
        cvae, _ = yield Stage(name, make, train, config, share=((i + 1) * share, (i + 2) * share))
        if validation is None:
            cvaes[fill] = cvae
        else:
            v_mc, v_iw = completion_scores(cvae, validation, samples, seed)
            if fill not in scores or v_mc < scores[fill]["ncll_mc"]:
                cvaes[fill], scores[fill] = cvae, {"ncll_mc": round(v_mc, 3), "ncll_is": round(v_iw, 3), "gsnn_weight": w}
        if i + 1 == len(runs) or runs[i + 1][0] != fill:  # the fill's last weight: its network is chosen, test it once
            mc[fill], iw[fill] = completion_scores(cvaes[fill], test, samples, seed)
            yield {"quadrants": so_far().as_dict()}
    selected = min(scores, key=lambda f: scores[f]["ncll_mc"]) if scores else None
    yield {"quadrants": so_far(selected).as_dict()}
    return so_far(selected)


def quadrant_baseline_of(cvae) -> QuadrantBaseline:
    """The NN baseline that a baseline-filled cvae3 carries (its frozen copy), as a network of its own."""
    c = cvae.config
    with initial_weights():  # drawn and then overwritten; the lock keeps the draws out of a seeded build's
        baseline = QuadrantBaseline(c.given_quadrants, c.hidden, c.layers)
    return with_weights(baseline, "net", cvae.baseline_net).eval()
