"""Measure models on test digits: the one path behind the Compare page and `python -m cvae_core evaluate`.

Every image model gets the same quantities, each its own column, so that no column mixes them:

The likelihood protocol is the literature's (Burda et al. 2016, and every binarised-MNIST figure since):
models train on dynamically binarised digits, and their likelihoods are measured on test digits binarised
once with a fixed seed (`Dataset.binarized_once`). A Bernoulli log-likelihood of grey pixels would be a
cross-entropy, not a likelihood, and no published figure could stand beside it.

* log p(x): how probable the model finds a digit: the importance-weighted bound of Burda et al. 2016 with
  k proposals per digit for every model. A conditional model (cvae1, cvae2, cvae4, m2) sums over labels,
  log p(x) = log sum_y p(y) p(x|y), with p(y) uniform and each p(x|y) estimated with k / 10 proposals
  (`proposals_per_label`), so the vae and the conditional models spend the same budget.
* log p(x|y): the same bound given the true label (conditional models only). It is higher than
  log p(x) by at most log 10 = 2.3 nats, what knowing the label is worth.

cvae3 models p(y|x) (or hidden quadrants given the visible ones), a different quantity, so it
gets its own figures: log p(y|x) and accuracy, or the negative conditional log-likelihood of the
hidden pixels. M1+M2 makes no images and models M1's code z1, not y given x: only its accuracy. Every figure over test digits keeps its per-digit values, so it comes with a
standard error, and two models measured on the same digits are compared through their paired
difference (`compare`).
"""

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .data import Dataset
from .metrics import evaluate_elbo, label_fidelity, predict
from .models import CVAEModel
from .noise import seeded
from .precision import decimals_for
from .text import N_

PIXELS = 784
NATS_PER_BIT = math.log(2)


@dataclass(frozen=True)
class Quantity:
    title: str
    higher_is_better: bool | None  # None: a description, never "best" (size, time)
    meaning: str
    per_pixel: bool = False  # also shown in bits per pixel


QUANTITIES = {  # key (also the CLI's JSON name) -> what it is; titles and meanings are translated where shown
    "log_px": Quantity(
        "log p(x)",
        True,
        N_(
            "nats per binarised digit; importance-weighted, the same proposals per digit for every model (split over the labels of a conditional model)"
        ),
        True,
    ),
    "log_px_given_y": Quantity(
        "log p(x|y)",
        True,
        N_("nats per binarised digit given the true label; importance-weighted with one label's share of the proposals"),
        True,
    ),
    "elbo": Quantity("ELBO", True, N_("the bound the model trains: on log p(x|y), on log p(x) for vae, on log p(y|x) for cvae3")),
    "recon": Quantity(N_("reconstruction"), None, N_("the ELBO's first term, E_q[log p(target|z, …)], nats")),
    "kl": Quantity("KL", None, N_("the ELBO's second term: nats the code z carries")),
    "label_fidelity": Quantity(N_("label fidelity (CNN)"), True, N_("samples read as their label by the fidelity CNN")),
    "label_fidelity_second": Quantity(N_("label fidelity (BN-CNN)"), True, N_("samples read as their label by a second classifier")),
    "accuracy": Quantity(N_("accuracy"), True, N_("test digits classified correctly (Bayes' rule or the model's own classifier)")),
    "log_py_given_x": Quantity("log p(y|x)", True, N_("nats per digit: the label's log-probability; importance-weighted")),
    "ncll_hidden": Quantity(N_("NCLL of hidden pixels"), False, N_("negative log-likelihood of the hidden quadrants, nats")),
    "parameters": Quantity(N_("parameters"), None, N_("weights in the model")),
    "training_seconds": Quantity(N_("training time"), None, N_("seconds of training recorded in the checkpoint")),
}


@dataclass
class Measurement:
    """One model's figures on some test digits: means, standard errors, and the per-digit values behind them."""

    figures: dict = field(default_factory=dict)  # key -> mean (or a plain value such as parameters)
    errors: dict = field(default_factory=dict)  # key -> standard error of the mean
    per_digit: dict = field(default_factory=dict)  # key -> (n,) values, for paired comparisons
    kind: str = "image"  # "image", "prediction" or "classifier"
    proposals_per_label: int | None = None  # importance samples per label behind log p(x) (image models)
    bound: str | None = None  # the quantity the model's ELBO bounds: "log p(x|y)", "log p(x)" or "log p(y|x)"

    def add(self, key: str, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64)
        self.per_digit[key] = values
        self.figures[key] = float(values.mean())
        self.errors[key] = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else float("nan")

    def as_dict(self) -> dict:
        """Flat figures: key, key_se and, for log-likelihoods, key_bpp (bits per pixel, lower is better)."""
        out = {} if self.bound is None else {"bound": self.bound}
        for key, value in self.figures.items():
            out[key] = value
            if key in self.errors:
                out[f"{key}_se"] = self.errors[key]
            if key in QUANTITIES and QUANTITIES[key].per_pixel:
                out[f"{key}_bpp"] = bits_per_pixel(value)
        return out


def bits_per_pixel(log_likelihood_nats: float) -> float:
    """-log p / (784 ln 2): the usual image-model figure (lower is better)."""
    return -log_likelihood_nats / (PIXELS * NATS_PER_BIT)


def digits_for(model, data: Dataset, n: int | None = None) -> Dataset:
    """The first n digits of a split as `model` is measured on them: for a model with a Bernoulli likelihood on pixels,
    the whole split binarised once and then its first n, so that a digit's 0/1 draw is the same whatever n is."""
    return (data.binarized_once() if getattr(model, "bernoulli_pixels", False) else data).subset(n)


def proposals_per_label(model, proposals: int) -> int:
    """Importance samples per label when `proposals` per digit are spent on log p(x): a conditional model sums
    over its labels, so each label gets an equal share (at least one), and every model spends the same budget."""
    return max(1, proposals // model.config.n_classes) if model.uses_label else proposals


@torch.inference_mode()
def measure(
    model, data: Dataset, iw_samples: int = 10, classifiers: dict | None = None, per_label: int = 200, metadata=None, seed: int = 0
):
    """Every quantity of QUANTITIES that applies to `model` on `data`.

    iw_samples: the importance-weighted bound's proposals per digit in total (`proposals_per_label`). A model
    with a Bernoulli likelihood on pixels is measured on `data` binarised once (Dataset.binarized_once: binarise
    a whole split before taking part of it). classifiers: {"label_fidelity": classifier, "label_fidelity_second":
    classifier}, either may be missing."""
    with seeded(seed, getattr(model, "device", None)):  # the same figure for the same seed, whoever else draws
        m = Measurement()
        if getattr(model, "bernoulli_pixels", False):
            data = data.binarized_once()
        if not isinstance(model, CVAEModel):  # a plain classifier (the fidelity networks)
            m.kind = "classifier"
            m.add("accuracy", (predict(model.classify, data.images) == data.labels).numpy())
        elif not model.makes_images and model.learns_from_unlabelled:
            # M1+M2: its bound and its importance-weighted estimate are of M1's code z1 given y, a density of the code,
            # neither log p(y|x) nor an image likelihood; only what it computes about the label is reported
            m.kind = "prediction"
            m.add("accuracy", (predict(model.classify, data.images) == data.labels).numpy())
        elif not model.makes_images:  # cvae3: p(y|x) or hidden quadrants
            m.kind = "prediction"
            _add_elbo(m, model, data)
            ll = torch.cat([model.log_likelihood(x, y if model.uses_label else None, k=iw_samples).cpu() for x, y in data.batches(500)])
            if model.uses_label:
                m.add("log_py_given_x", ll.numpy())
                m.add("accuracy", (predict(model.classify, data.images) == data.labels).numpy())
            else:
                m.add("ncll_hidden", -ll.numpy())
        else:
            _add_elbo(m, model, data)
            k = proposals_per_label(model, iw_samples)
            m.proposals_per_label = k
            if model.uses_label:
                table = torch.cat([model.log_likelihood_per_label(x, k).cpu() for x, _ in data.batches(250)])  # (n, C)
                m.add("log_px", (torch.logsumexp(table, 1) - math.log(table.shape[1])).numpy())  # uniform p(y)
                m.add("log_px_given_y", table.gather(1, data.labels[:, None]).squeeze(1).numpy())
                # Bayes' rule reads the same table; m2 has a classifier of its own
                predicted = predict(model.classify, data.images) if model.classifies else table.argmax(1)
                m.add("accuracy", (predicted == data.labels).numpy())
                for key, classifier in (classifiers or {}).items():
                    if classifier is not None:
                        fid = label_fidelity(model, classifier, per_label=per_label, seed=seed)["fidelity"]
                        m.figures[key] = fid
                        m.errors[key] = math.sqrt(fid * (1 - fid) / (per_label * model.config.n_classes))
            else:
                ll = torch.cat([model.log_likelihood(x, None, k=k).cpu() for x, _ in data.batches(500)])
                m.add("log_px", ll.numpy())
        m.figures["parameters"] = sum(p.numel() for p in model.parameters())
        seconds = (metadata or {}).get("train", {}).get("seconds")
        m.figures["training_seconds"] = seconds if isinstance(seconds, int | float) and math.isfinite(seconds) else None
        return m


def _add_elbo(m: Measurement, model, data: Dataset) -> None:
    """The ELBO per digit, with the means of its two terms, and which quantity it bounds ("bound")."""
    terms = evaluate_elbo(model, data, per_digit=True)
    m.bound = "log p(x)" if not model.uses_label else ("log p(x|y)" if model.makes_images else "log p(y|x)")
    m.add("elbo", terms["elbo"].numpy())
    m.figures["recon"], m.figures["kl"] = float(terms["recon"].mean()), float(terms["kl"].mean())


def recorded(test: dict, per_digit: dict | None = None) -> Measurement:
    """A model's figures as its checkpoint recorded them (`evaluate --record`: the header's metrics.test), means and
    standard errors. per_digit (checkpoint_header.recorded_values): the values behind them, kept where they are as
    many as the recorded n, so that two models recorded on the same digits compare with paired errors; without them
    comparisons use unpaired errors."""
    m = Measurement(bound=test.get("bound"), proposals_per_label=test.get("iw_samples_per_label"))
    m.kind = "prediction" if test.get("bound") == "log p(y|x)" else "image"
    for key in QUANTITIES:
        if test.get(key) is not None:
            m.figures[key] = test[key]
            if test.get(f"{key}_se") is not None:
                m.errors[key] = test[f"{key}_se"]
            values = (per_digit or {}).get(key)
            if values is not None and len(values) == test.get("n"):
                m.per_digit[key] = np.asarray(values, dtype=np.float64)
    return m


# ---- comparing models -----------------------------------------------------------------------------
def paired_difference(a: Measurement, b: Measurement, key: str) -> tuple[float, float]:
    """Mean of a - b and its standard error: paired over the same test digits where both have per-digit
    values, otherwise from the two standard errors."""
    if key in a.per_digit and key in b.per_digit and len(a.per_digit[key]) == len(b.per_digit[key]):
        d = a.per_digit[key] - b.per_digit[key]
        return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else 0.0
    return a.figures[key] - b.figures[key], math.hypot(a.errors.get(key, 0.0), b.errors.get(key, 0.0))


def tie(a: Measurement, b: Measurement, key: str) -> bool:
    """Two models tie on a quantity when they differ by at most two standard errors of their difference."""
    diff, se = paired_difference(a, b, key)
    return abs(diff) <= 2 * se


def best_per_column(measurements: dict[str, Measurement]) -> dict[str, list[str]]:
    """For each quantity where better has a meaning: the best model, and every model that ties with it."""
    best = {}
    for key, q in QUANTITIES.items():
        if q.higher_is_better is None:
            continue
        scored = {name: m for name, m in measurements.items() if m.figures.get(key) is not None}
        if len(scored) < 2:  # "best" needs something to beat
            continue
        pick = max if q.higher_is_better else min
        top = pick(scored, key=lambda name: scored[name].figures[key])
        best[key] = [top] + [name for name, m in scored.items() if name != top and tie(scored[top], m, key)]
    return best


def findings(measurements: dict[str, Measurement], translate: Callable[[str], str] = N_) -> list[str]:
    """Sentences that say what the figures mean, written from them: what knowing the label is worth to each
    conditional model (label_worth), then which model is most probable or which tie (ranking).

    translate: what turns a marked English template into the reader's language before its fields are filled in
    (the app passes its `_`); by default the English itself."""
    return label_worth(measurements, translate) + ranking(measurements, translate)


def label_worth(measurements: dict[str, Measurement], translate: Callable[[str], str] = N_) -> list[str]:
    """What knowing the label is worth to each model with per-digit log p(x) and log p(x|y), paired over its digits, in
    one sentence (a list of one; empty when no model has both)."""
    values = []
    for name, m in measurements.items():
        if "log_px" in m.per_digit and "log_px_given_y" in m.per_digit:
            gain = m.per_digit["log_px_given_y"] - m.per_digit["log_px"]
            se = gain.std(ddof=1) / math.sqrt(len(gain)) if len(gain) > 1 else 0.0
            places = decimals_for(se)  # 2.03 ± 0.01, not 2.0 ± 0.0: the paired error is small
            values.append(translate(N_("{gain} ± {error} nats to {model}")).format(
                gain=f"{gain.mean():.{places}f}", error=f"{se:.{places}f}", model=name))  # fmt: skip
    if not values:
        return []
    joined = translate(N_("; ")).join(values)  # between two models' figures in the sentence
    return [translate(N_("Knowing the label is worth, per digit: {values} (at most log 10 = 2.3).")).format(values=joined)]


def ranking(measurements: dict[str, Measurement], translate: Callable[[str], str] = N_) -> list[str]:
    """Which model has the highest log p(x) and log p(x|y), or which tie (within two standard errors of their
    difference: paired where both have per-digit values on the same digits)."""
    out = []
    best = best_per_column(measurements)
    both = translate(N_("{first} and {second}"))  # two names in a sentence; more are joined one by one: "a and b and c"
    for key in ("log_px", "log_px_given_y"):
        winners = best.get(key)
        quantity = translate(QUANTITIES[key].title)
        if winners and len(winners) > 1:
            models = functools.reduce(lambda first, second: both.format(first=first, second=second), winners)
            out.append(
                translate(N_("{models} tie on {quantity}: they differ by less than two standard errors.")).format(
                    models=models, quantity=quantity
                )
            )
        elif winners and len([m for m in measurements.values() if key in m.figures]) > 1:
            out.append(
                translate(N_("{model} has the highest {quantity}, by more than two standard errors.")).format(
                    model=winners[0], quantity=quantity
                )
            )
    return out


# ---- the importance-weighted bound as k grows -----------------------------------------------------
CURVE_KS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
CURVE_REFERENCE = 5000  # the proposals per digit of the reported figures (RESULTS.md, the Home page)


@torch.inference_mode()
def iw_curve(model, data: Dataset, ks=CURVE_KS, reference: int = CURVE_REFERENCE, seed: int = 0) -> dict:
    """The importance-weighted bound L_k on log p(x) (log p(x|y) given the true label for a conditional model) of a few
    binarised digits for each k, and at k = reference: one draw of `reference` log-weights per digit, L_k estimated as
    the mean over its disjoint blocks of k (Burda et al. 2016: L_k rises with k toward log p(x), and L_1 is the ELBO).

    Returns {"k", "mean", "se", "gap", "gap_se", "reference": {"k", "mean", "se"}, "elbo": {"mean", "se", "gap", "gap_se"}, "n"}:
    means over the digits with standard errors over them, nats per digit; "gap" is L_k - L_reference digit by digit
    (paired: its standard error is far smaller than the spread between digits). The ELBO is the closed-form bound
    training maximises."""
    with seeded(seed, model.device):
        model.eval()
        x, y = data.images.to(model.device), (data.labels.to(model.device) if model.uses_label else None)
        log_w = model.log_weights(model.observed(x), y, reference).double().cpu()  # (reference, n)
        best = torch.logsumexp(log_w, 0) - math.log(reference)  # L_reference per digit

        def summary(per_digit: torch.Tensor) -> tuple[float, float]:
            n = len(per_digit)
            return float(per_digit.mean()), float(per_digit.std(unbiased=True) / math.sqrt(n)) if n > 1 else 0.0

        out = {"k": list(ks), "mean": [], "se": [], "gap": [], "gap_se": [], "n": len(data)}
        for k in ks:
            blocks = log_w[: (reference // k) * k].view(reference // k, k, -1)  # (blocks, k, n)
            per_digit = (torch.logsumexp(blocks, 1) - math.log(k)).mean(0)
            for key, values in (("mean", per_digit), ("gap", per_digit - best)):
                mean, se = summary(values)
                out[key].append(mean)
                out[f"{key}_se" if key == "gap" else "se"].append(se)
        out["reference"] = dict(zip(("mean", "se"), summary(best), strict=True), k=reference)
        elbo = model.elbo(x, y)["elbo"].double().cpu()
        out["elbo"] = dict(zip(("mean", "se", "gap", "gap_se"), (*summary(elbo), *summary(elbo - best)), strict=True))
        return out
