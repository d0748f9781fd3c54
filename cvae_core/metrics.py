"""Measuring: the ELBO over a data set, accuracy, and the label fidelity of samples.

Label fidelity: draw samples at temperature 1 for each condition label and count how often
an independent classifier -- trained only on training digits, never on samples -- reads them
as that label. A model whose decoder ignores y, or whose prior has holes, scores low.

Every loop over digits here goes through `Dataset.batches` / `in_batches`, so memory stays
bounded whatever the number of digits.
"""

import math

import torch

from .data import Dataset, in_batches
from .noise import seeded


@torch.inference_mode()
def evaluate_elbo(model, data: Dataset, limit: int | None = None, batch_size: int = 1000, per_digit: bool = False) -> dict:
    """Mean ELBO, reconstruction and KL (nats per digit) over a data set (its first `limit` digits);
    with per_digit, the (n,) tensors of each instead of their means."""
    was_training = model.training
    model.eval()
    data = data.subset(limit)
    parts = {"elbo": [], "recon": [], "kl": []}
    for x, y in data.batches(batch_size):
        terms = model.elbo(x.to(model.device), y.to(model.device))
        for k in parts:
            parts[k].append(terms[k].double().cpu())
    model.train(was_training)
    values = {k: torch.cat(v) for k, v in parts.items()}
    return values if per_digit else {k: float(v.sum()) / len(data) for k, v in values.items()}


@torch.inference_mode()
def predict(probabilities, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """The most probable class of each image, where probabilities(x) gives (B, classes) scores."""
    return torch.cat([probabilities(x).argmax(-1).cpu() for (x,) in in_batches(images, size=batch_size)])


@torch.inference_mode()
def accuracy(probabilities, data: Dataset, batch_size: int = 1000) -> float:
    """Share of `data` whose predicted class (argmax of probabilities(x)) is the label."""
    return int((predict(probabilities, data.images, batch_size) == data.labels).sum()) / len(data)


def mcnemar(correct_a: torch.Tensor, correct_b: torch.Tensor) -> dict:
    """McNemar's exact test of two classifiers on the same digits (boolean correctness per digit): b digits only a gets
    right, c only b; under "no difference" each discordant digit is a fair coin, so the two-sided p-value is the
    binomial tail of min(b, c) in b + c draws, doubled (capped at 1)."""
    a, b_ = correct_a.bool(), correct_b.bool()
    if a.shape != b_.shape:
        raise ValueError("McNemar's test needs the two classifiers' results on the same digits")
    b, c = int((a & ~b_).sum()), int((~a & b_).sum())
    n = b + c
    if n == 0:
        return {"only_a": 0, "only_b": 0, "p_value": 1.0}
    k = torch.arange(min(b, c) + 1, dtype=torch.float64)
    log_terms = torch.lgamma(torch.tensor(n + 1.0, dtype=torch.float64)) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1) - n * math.log(2)
    return {"only_a": b, "only_b": c, "p_value": min(1.0, 2 * float(torch.logsumexp(log_terms, 0).exp()))}


@torch.inference_mode()
def label_fidelity(model, classifier, per_label: int = 500, temperature: float = 1.0, seed: int = 0) -> dict:
    """Share of samples read as their condition label by `classifier` (anything with predict(x)), overall and per label."""
    with seeded(seed, model.device):
        model.eval()
        labels = torch.arange(model.config.n_classes).repeat_interleave(per_label)
        images = torch.cat([model.generate(y, temperature=temperature).cpu() for (y,) in in_batches(labels, size=1000)])
        hits = classifier.predict(images.reshape(len(labels), -1)) == labels
        per = hits.view(model.config.n_classes, per_label).float().mean(1)
        return {"fidelity": float(hits.float().mean()), "per_label": [round(float(p), 4) for p in per]}


ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al. 2016, sec. 5.2: a unit is active when Cov_x(E_q[z_d]) > 0.01


@torch.inference_mode()
def latent_usage(model, data: Dataset, threshold: float = ACTIVE_UNIT_THRESHOLD, batch_size: int = 1000) -> dict:
    """How a model uses each latent dimension on `data`: the KL it carries (nats per digit, the bound's KL term split by
    dimension: the bars sum to the KL), the variance over the data of its posterior mean E_q[z_d|x] (measured from the
    prior's mean under a learned prior: CVAEModel.latent_statistics), and whether that variance exceeds `threshold`
    (Burda et al. 2016, sec. 5.2: an active unit). A collapsed dimension keeps its posterior at the prior for every
    digit: its KL is about 0 and its mean does not move."""
    was_training = model.training
    model.eval()
    means, kls = [], []
    for x, y in data.batches(batch_size):
        mu, kl = model.latent_statistics(x.to(model.device), y.to(model.device) if model.uses_label else None)
        means.append(mu.double().cpu())
        kls.append(kl.double().cpu())
    model.train(was_training)
    variance = torch.cat(means).var(0, unbiased=True)
    active = variance > threshold
    return {"kl_per_dim": torch.cat(kls).mean(0), "variance": variance, "active": active, "active_units": int(active.sum())}


def active_units(model, data: Dataset, threshold: float = ACTIVE_UNIT_THRESHOLD, batch_size: int = 1000) -> torch.Tensor:
    """Which latent dimensions carry information about the digit: a boolean (latent_dim,) mask of the dimensions whose
    posterior mean E_q[z_d | x] varies over the data by more than `threshold` (Burda et al. 2016's activity criterion;
    Kingma et al.'s M1 kept the dimensions whose mean has a standard deviation above 0.1, the same bound). A collapsed
    dimension keeps its posterior at the prior for every digit, so its mean does not move."""
    return latent_usage(model, data, threshold, batch_size)["active"]
