"""The quadrant NCLL as bounds of one quantity: each model's tightest importance-sampled estimate with a paired
standard error against the NN, and the distance of the prior network's completions (MC) from it at each k."""

import math

import torch

from ..data import Dataset
from ..models import build_model, model_config
from ..noise import seeded
from ..references import PYRO_QUADRANTS
from ..text import N_
from ..training.defaults import EXPERIMENTS
from ..training.engine import TrainConfig
from ..training.stages import Plan, Stage
from .common import with_weights
from .quadrants import QuadrantBaseline, nn_ncll


# ---- quadrant NCLL as bounds of one quantity (issue 41) -----------------------------------------
def estimates_by_k(log_terms: torch.Tensor, ks: tuple[int, ...]) -> dict[int, torch.Tensor]:
    """From (k_max, B) log terms (importance weights, or MC's log p(y|x,z)): per digit, log of the mean of the first k
    terms for each k in ks, the estimate with k draws (each a stochastic lower bound on log p(y|x), tighter as k grows)."""
    return {k: torch.logsumexp(log_terms[:k], 0) - math.log(k) for k in ks if k <= log_terms.shape[0]}


def bound_curves(
    cvae, data: Dataset, ks: tuple[int, ...] = (10, 100, 1000), seed: int = 0, batch: int = 100
) -> dict[str, dict[int, torch.Tensor]]:
    """Per-digit negative log-likelihood estimates of the hidden pixels of `data` under a quadrant cvae3, at each k:
    "is" importance-sampled with q(z|x,y) (weights p(y|x,z) p(z|x) / q(z|x,y), unbiased for p(y|x) whatever the
    proposal), "mc" with z drawn from p(z|x) (the page's completions). Both are stochastic upper bounds on the same
    -log p(y|x); the lower is the tighter. Draws are shared across k (the first k of max(ks))."""
    k_max = max(ks)
    out = {"is": {k: [] for k in ks}, "mc": {k: [] for k in ks}}
    with seeded(seed, cvae.device), torch.inference_mode():
        for x, _ in data.batches(batch):
            for name, terms in (("is", cvae.log_weights(x, None, k=k_max)), ("mc", cvae.mc_log_terms(x, k=k_max))):
                for k, v in estimates_by_k(terms, ks).items():
                    out[name][k].append(-v)
    return {name: {k: torch.cat(v) for k, v in by_k.items()} for name, by_k in out.items()}


def nn_ncll_per_digit(baseline: QuadrantBaseline, data: Dataset) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([-baseline.log_likelihood(x) for x, _ in data.batches(500)])


def paired_se(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """Mean of a - b over the same digits and its standard error."""
    d = (a - b).double()
    return float(d.mean()), float(d.std(unbiased=True) / math.sqrt(len(d)))


def quadrant_bounds_plan(
    given: int,
    train: Dataset,
    validation: Dataset,
    test: Dataset,
    fill: str = "prior",
    gsnn_weight: float = 0.5,
    latent_dim: int = 32,
    epochs: float = EXPERIMENTS["quadrants"]["epochs"],
    ks: tuple[int, ...] = (10, 100, 1000),
    select_k: int = 50,
    seed: int = 0,
    hidden: int = 512,
    nn_epochs: float | None = None,
    nn_patience: int = 20,
) -> Plan:
    """One quadrant CVAE (a setting fixed in advance) against the NN, both keeping their best validation epoch: the NN
    by its validation NCLL (early-stopped), the CVAE by its importance-sampled validation NCLL with select_k draws.
    On test: each model's NCLL per digit, the CVAE's as its IS bound at max(ks) with the paired standard error of
    CVAE - NN, and the MC estimate at each k with its distance from the IS bound. Returns the figures (a dict)."""
    validation, test = validation.binarized_once(), test.binarized_once()
    nn_config = TrainConfig(**{**EXPERIMENTS["quadrants"], "epochs": nn_epochs or 3 * epochs, "seed": seed})
    baseline, nn_picked = yield Stage(
        N_("the NN baseline"),
        lambda: QuadrantBaseline(given, hidden),
        train,
        nn_config,
        lambda m: nn_ncll(m, validation),
        nn_patience,
        (0.0, 0.3),
    )
    cvae_config = model_config(
        variant="cvae3",
        target="quadrants",
        given_quadrants=given,
        latent_dim=latent_dim,
        hidden=hidden,
        gsnn_weight=gsnn_weight,
        nn_fill=fill,
    )
    make = (
        (lambda: build_model(cvae_config))
        if fill == "none"
        else (lambda: with_weights(build_model(cvae_config), "baseline_net", baseline.net))
    )

    def validation_is(m) -> float:
        with seeded(seed, m.device), torch.inference_mode():
            return -sum(float(m.log_likelihood(x, None, k=select_k).sum()) for x, _ in validation.batches(500)) / len(validation)

    config = TrainConfig(**{**EXPERIMENTS["quadrants"], "epochs": epochs, "seed": seed})
    cvae, picked = yield Stage(N_("the CVAE"), make, train, config, validation_is, None, (0.3, 0.8))
    nn_test = nn_ncll_per_digit(baseline, test)
    curves = bound_curves(cvae, test, ks, seed)
    k = max(ks)
    is_mean = float(curves["is"][k].mean())
    diff, se = paired_se(curves["is"][k], nn_test)
    result = {
        "given": given,
        "protocol": "binarized",
        "n": len(test),
        "setting": {"fill": fill, "gsnn_weight": gsnn_weight, "latent_dim": latent_dim, "hidden": hidden, "epochs": epochs, "seed": seed},
        "selected_on": "validation",
        "nn": {"ncll": round(float(nn_test.mean()), 3), "se": round(float(nn_test.double().std() / math.sqrt(len(nn_test))), 3),
               "epoch_kept": nn_picked["epoch"], "validation_ncll": nn_picked["validation_loss"]},
        "cvae": {
            "ncll_is": round(is_mean, 3),
            "k": k,
            "se": round(float(curves["is"][k].double().std() / math.sqrt(len(test))), 3),
            "minus_nn": round(diff, 3),
            "minus_nn_se": round(se, 3),
            "over_nn": round(is_mean / float(nn_test.mean()), 4),
            "epoch_kept": picked["epoch"],
            "validation_ncll_is": picked["validation_loss"],
            "validation_k": select_k,
        },
        "curve": {
            str(j): {
                "is": round(float(curves["is"][j].mean()), 3),
                "mc": round(float(curves["mc"][j].mean()), 3),
                "mc_minus_is": round(paired_se(curves["mc"][j], curves["is"][j])[0], 3),
                "mc_minus_is_se": round(paired_se(curves["mc"][j], curves["is"][j])[1], 3),
            }
            for j in ks
        },
        "estimators": {
            "is": "importance-sampled with q(z|x,y), weights p(y|x,z) p(z|x) / q(z|x,y): an upper bound on -log p(y|x) in expectation",
            "mc": "completions drawn from p(z|x): log of the mean of p(y|x,z), the same quantity's bound with the prior network as proposal",
        },
        "reference_pyro": {"nn": PYRO_QUADRANTS["nn"][given - 1], "cvae": PYRO_QUADRANTS["cvae"][given - 1]},
    }  # fmt: skip
    yield {"quadrant_bounds": result}
    return result
