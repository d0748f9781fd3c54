"""Issue 40, item 2: do the CVAE's completions differ where the hidden part is ambiguous? Over test digits, the one-quadrant
CVAE draws a few completions of each from a fixed seed (as the Experiments page draws them) and the NN makes its one
guess; per digit, the CVAE's spread is set against how ambiguous the hidden part is, measured without the CVAE: the NN's
negative log-likelihood of the true hidden pixels (a regressor that averages the plausible completions is most wrong
where there are several), and whether the independent classifiers read the NN's completed digit wrongly.

The NN's spread is 0 by construction: it makes one guess. That is the "CVAE against NN" contrast. bench/completion_diversity.py
writes the figures to checkpoints/experiments/results/completion-diversity-1.json.
"""

import math

import numpy as np
import torch

from ..data import Dataset
from .quadrant_bounds import nn_ncll_per_digit
from .quadrants import QuadrantBaseline, showcase

SAMPLES = 6  # the completions the page shows of a digit
SEED = 0  # the page's completions are the first SAMPLES draws of this seed, for every digit: fixed, never picked
TEMPERATURE = 1.0  # the only temperature the page draws at (its NCLL is the one the bounds files report)
RULE_QUANTILE = 0.9  # the page's digit: the first test digit whose NN NLL lies in the top decile


def pairwise_spread(completions: torch.Tensor, hidden: torch.Tensor) -> float:
    """Mean over every pair of completions of the mean absolute difference of their hidden pixels. completions (K, 784)
    are Bernoulli means (what the page shows); hidden (784,) is 1 on the hidden pixels.

    Means, not sampled binary pixels: two binary draws from the *same* means differ at every grey pixel, so a sampled
    spread would count the pixel noise of one completion as diversity; the means differ only when z changes the digit."""
    h = completions[:, hidden.bool()].double()
    k = h.shape[0]
    distances = (h[:, None, :] - h[None, :, :]).abs().mean(-1)  # (K, K), 0 on the diagonal
    return float(distances.sum() / (k * (k - 1)))


@torch.inference_mode()
def per_digit(baseline: QuadrantBaseline, cvae, data: Dataset, classifiers: dict, samples: int = SAMPLES, seed: int = SEED) -> dict:
    """Per digit of `data`: the CVAE's spread (pairwise_spread of its first `samples` draws of `seed`, exactly the page's
    showcase), the NN's negative log-likelihood of the hidden pixels (nats), and for each classifier (name -> anything
    with predict(x)) the classes it reads among the completions, the class it reads in the NN's guess and whether that
    is the digit's label. Tensors of len(data)."""
    cvae.eval()
    hidden = 1 - cvae.mask
    spreads, cvae_images, nn_images = [], [], []
    for x in data.images:
        _shown, _truth, guess, completions = showcase(baseline, cvae, x.view(28, 28), n_samples=samples, seed=seed)
        flat = completions.reshape(samples, -1)
        spreads.append(pairwise_spread(flat, hidden))
        cvae_images.append(flat)
        nn_images.append(guess.reshape(1, -1))
    cvae_images, nn_images = torch.cat(cvae_images), torch.cat(nn_images)
    out = {"spread": torch.tensor(spreads, dtype=torch.float64), "nn_nll": nn_ncll_per_digit(baseline, data).double(),
           "hidden_ink": (data.images * hidden).sum(1).double(), "reads": {}}  # fmt: skip
    for name, classifier in classifiers.items():
        read = classifier.predict(cvae_images).view(len(data), samples)
        nn_read = classifier.predict(nn_images)
        out["reads"][name] = {
            "truth_right": classifier.predict(data.images) == data.labels,  # how well it reads these (binarised) digits at all
            "classes": torch.tensor([len(set(row.tolist())) for row in read]),  # distinct classes among the completions
            "cvae_right": (read == data.labels[:, None]).double().mean(1),  # share of the completions read as the label
            "nn_right": nn_read == data.labels,
        }
    return out


def spearman(a, b) -> float:
    from scipy import stats  # late: the Experiments page imports this module for its constants only

    return float(stats.spearmanr(np.asarray(a), np.asarray(b)).statistic)


def partial_spearman(a, b, control) -> float:
    """Spearman's rank correlation of a and b with `control` held fixed: the correlation of their ranks' residuals after a
    straight line on control's ranks (more ink hidden means more pixels to be wrong about and to differ on)."""
    from scipy import stats

    ranks = [stats.rankdata(np.asarray(v)) for v in (a, b, control)]
    c = ranks[2] - ranks[2].mean()
    residuals = [r - r.mean() - c * (c @ (r - r.mean())) / (c @ c) for r in ranks[:2]]
    return float(np.corrcoef(*residuals)[0, 1])


def spearman_interval(a, b, resamples: int = 2000, seed: int = 0, level: float = 0.95, control=None) -> tuple[float, float]:
    """A percentile bootstrap interval of Spearman's rank correlation (partial, with `control` held fixed, when given),
    resampling digits with replacement."""
    a, b = np.asarray(a), np.asarray(b)
    c = np.zeros(len(a)) if control is None else np.asarray(control)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(resamples):
        i = rng.integers(0, len(a), len(a))
        draws.append(spearman(a[i], b[i]) if control is None else partial_spearman(a[i], b[i], c[i]))
    tail = (1 - level) / 2
    return float(np.quantile(draws, tail)), float(np.quantile(draws, 1 - tail))


def rule_digit(nn_nll, quantile: float = RULE_QUANTILE) -> tuple[int, float]:
    """The page's digit, by a rule stated in advance: the first digit (in file order) whose NN NLL is at or above the
    `quantile` of the NN NLLs of these digits. Returns (its index, the threshold)."""
    nll = np.asarray(nn_nll, dtype=np.float64)
    threshold = float(np.quantile(nll, quantile))
    return int(np.flatnonzero(nll >= threshold)[0]), threshold


def _mean_se(x) -> dict:
    x = np.asarray(x, dtype=np.float64)
    se = float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else 0.0
    return {"mean": round(float(x.mean()), 5), "se": round(se, 5), "n": len(x)}


def quantile_bins(spread: np.ndarray, nll: np.ndarray, reads: dict, bins: int) -> list[dict]:
    """The digits split into `bins` equal-count groups by the NN's NLL, lowest first: each group's NLL range and mean,
    the CVAE's mean spread with its standard error (the NN's: 0), and the share of its digits whose completions each
    classifier reads as two classes or more."""
    edges = np.quantile(nll, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, nll, side="right") - 1, 0, bins - 1)
    return [
        {"nn_nll_from": round(float(edges[b]), 3), "nn_nll_to": round(float(edges[b + 1]), 3),
         "nn_nll_mean": round(float(nll[which == b].mean()), 3), "cvae_spread": _mean_se(spread[which == b]), "nn_spread": 0.0,
         "several_classes": {name: round(float((r["classes"][which == b] >= 2).mean()), 4) for name, r in reads.items()}}
        for b in range(bins)
    ]  # fmt: skip


def summary(figures: dict, resamples: int = 2000, seed: int = 0) -> dict:
    """The results file's figures from per_digit's: the mean spread; Spearman's rank correlation of spread against the NN's
    NLL with a bootstrap 95 % interval over digits; the spread (and the share of digits whose completions are read as two
    classes or more) in each quartile and decile of the NN's NLL, and the top quartile's minus the bottom's; per
    classifier, the spread where it reads the NN's guess wrongly and rightly; and the rule's digit."""
    spread, nll, ink = figures["spread"].numpy(), figures["nn_nll"].numpy(), figures["hidden_ink"].numpy()
    low, high = spearman_interval(spread, nll, resamples, seed)
    partial_low, partial_high = spearman_interval(spread, nll, resamples, seed, control=ink)
    reads = {name: {k: v.numpy() for k, v in r.items()} for name, r in figures["reads"].items()}
    quartiles = quantile_bins(spread, nll, reads, 4)
    top, bottom = quartiles[-1]["cvae_spread"], quartiles[0]["cvae_spread"]
    index, threshold = rule_digit(nll)
    return {
        "n": len(spread),
        "cvae_spread": _mean_se(spread),
        "nn_spread": 0.0,  # one guess a digit: nothing to differ from
        "spearman_spread_nn_nll": {
            "rho": round(spearman(spread, nll), 4),
            "ci95": [round(low, 4), round(high, 4)],
            "resamples": resamples,
            "interval": "percentile bootstrap over digits",
        },  # fmt: skip
        "spearman_given_hidden_ink": {
            "rho": round(partial_spearman(spread, nll, ink), 4),
            "ci95": [round(partial_low, 4), round(partial_high, 4)],
            "control": "the number of inked pixels in the binarised hidden part, ranks partialled out",
        },
        "spearman_spread_hidden_ink": round(spearman(spread, ink), 4),
        "spearman_nn_nll_hidden_ink": round(spearman(nll, ink), 4),
        "nn_nll": _mean_se(nll),
        "quartiles": quartiles,
        "top_minus_bottom_quartile": {"mean": round(top["mean"] - bottom["mean"], 5), "se": round(math.hypot(top["se"], bottom["se"]), 5)},
        "deciles": quantile_bins(spread, nll, reads, 10),
        "classifiers": {
            name: {
                "several_classes": round(float((r["classes"] >= 2).mean()), 4),
                "nn_several_classes": 0.0,  # one guess, one class, by construction
                "cvae_completions_read_right": round(float(r["cvae_right"].mean()), 4),
                "nn_guess_read_right": round(float(r["nn_right"].mean()), 4),
                "truth_read_right": round(float(r["truth_right"].mean()), 4),
                "cvae_spread_where_nn_read_wrong": _mean_se(spread[~r["nn_right"]]),
                "cvae_spread_where_nn_read_right": _mean_se(spread[r["nn_right"]]),
            }
            for name, r in reads.items()
        },
        "shown_digit": {
            "index": index,
            "threshold": round(threshold, 3),
            "nn_nll": round(float(nll[index]), 3),
            "cvae_spread": round(float(spread[index]), 5),
            "rule": "the first official test digit, in file order, whose NN NLL of the hidden pixels lies in the top decile of these digits' NN NLLs",
        },  # fmt: skip
    }
