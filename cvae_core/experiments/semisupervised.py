"""Kingma et al. 2014's semi-supervised M2 and M1+M2 against a classifier that sees only the labelled digits."""

import copy
import math
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Dataset, hide_labels, in_batches
from ..errors import TrainingError
from ..metrics import accuracy, active_units, predict
from ..models import build_model, model_config
from ..noise import initial_weights
from ..text import N_
from ..training.defaults import EXPERIMENTS
from ..training.engine import TrainConfig
from ..training.stages import Plan, Stage, run_plan
from .common import PlainClassifier, one_stage, with_weights


# ---- semi-supervised classification --------------------------------------------------------------
def train_m1(train: Dataset, *args, progress=None, **kwargs):
    """M1 (m1_stage) trained to the end here."""
    m1, _ = run_plan(one_stage(m1_stage(train, *args, **kwargs)), progress)
    return m1


def m1_stage(
    train: Dataset, seed: int = 0, hidden: int = 512, latent_dim: int = 50, epochs: float | None = None, share=(0.0, 1.0),
    validation: Dataset | None = None, patience: int = EXPERIMENTS["m1_patience"],
) -> Stage:  # fmt: skip
    """M1 of Kingma et al. 2014: a VAE on every training digit (their labels unused), whose code z1 M2 then models.
    Trained, as theirs, on dynamically binarised digits; with `validation`, the epoch of the best validation ELBO
    is kept and training stops once `patience` epochs bring no better one (their M1 trained to a plateau)."""
    config = TrainConfig(**{**EXPERIMENTS["m1"], "seed": seed, **({} if epochs is None else {"epochs": epochs})})
    make = lambda: build_model(model_config(variant="vae", latent_dim=latent_dim, hidden=hidden))  # noqa: E731
    if validation is None:
        return Stage(N_("M1"), make, train, config, share=share)
    seen = validation.binarized_once()
    return Stage(N_("M1"), make, train, config, lambda m: -mean_elbo(m, seen), patience, share)


@torch.inference_mode()
def mean_elbo(model, data: Dataset, batch_size: int = 1000) -> float:
    """The one-sample ELBO averaged over `data` (nats per digit), the criterion M1's epoch is chosen by."""
    total = sum(
        float(model.elbo(x.to(model.device), y.to(model.device) if model.uses_label else None)["elbo"].sum())
        for x, y in data.batches(batch_size)
    )
    return total / len(data)


def kept_code(encoder: nn.Module, keep: torch.Tensor) -> nn.Module:
    """A copy of a Gaussian encoder (output: mean and log-variance, each latent_dim wide) that writes only the
    dimensions in the boolean mask `keep`: its output layer's rows for the others are dropped. Kingma et al. fed M2
    only M1's active dimensions; a collapsed one is noise at the prior, which M2 would otherwise have to model."""
    pruned = copy.deepcopy(encoder)
    rows = torch.cat([keep.nonzero().flatten(), keep.nonzero().flatten() + len(keep)])
    old = encoder.out
    with initial_weights():  # drawn and then overwritten; the lock keeps the draws out of a seeded build's
        pruned.out = nn.Linear(old.in_features, len(rows))
    with torch.no_grad():
        pruned.out.weight.copy_(old.weight[rows])
        pruned.out.bias.copy_(old.bias[rows])
    return pruned


@torch.inference_mode()
def code_means(encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The posterior means E_q[z1|x] of images (N, 784) under a Gaussian encoder, (N, code size)."""
    return torch.cat([encoder(x).chunk(2, -1)[0] for (x,) in in_batches(images, size=1000)])


def logistic_regression_accuracy(train_z, train_y, test_z, test_y, validation_z, validation_y, n_classes: int = 10) -> float:
    """How linearly readable a code is: a multinomial logistic regression fitted (L-BFGS) to the labelled codes, its L2
    weight chosen on validation, its test accuracy returned (Kingma et al. read M1's code with a classifier of its own)."""
    mean, sd = train_z.mean(0), train_z.std(0).clamp_min(1e-6)  # standardised with the labelled digits' statistics
    standard = lambda z: (z - mean) / sd  # noqa: E731

    def fit(l2: float) -> nn.Linear:
        with initial_weights(0):
            model = nn.Linear(train_z.shape[1], n_classes)
        opt = torch.optim.LBFGS(model.parameters(), max_iter=200, line_search_fn="strong_wolfe")
        z = standard(train_z)

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(model(z), train_y) + l2 * model.weight.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return model

    def score(model, z, y) -> float:
        with torch.no_grad():
            return float((model(standard(z)).argmax(-1) == y).float().mean())

    best = max((fit(l2) for l2 in (1e-4, 1e-3, 1e-2, 1e-1)), key=lambda m: score(m, validation_z, validation_y))
    return score(best, test_z, test_y)


def semisupervised(labels: int, train: Dataset, test: Dataset, *args, progress=None, **kwargs) -> dict:
    """semisupervised_plan trained to the end here; progress(f) from 0 to 1."""
    return run_plan(semisupervised_plan(labels, train, test, *args, **kwargs), progress)


def semisupervised_plan(
    labels: int,
    train: Dataset,
    test: Dataset,
    epochs: float = EXPERIMENTS["semisupervised"]["epochs"],
    seed: int = 0,
    hidden: int = 512,
    latent_dim: int = 8,
    alpha: float = 50.0,
    m1_latent: int = 0,
    m1_epochs: float | None = None,
    validation: Dataset | None = None,
    labelled_mix: str = "each-step",
) -> Plan:
    """M2 with `labels` labelled digits and the rest unlabelled, against a classifier on those labels only.
    With m1_latent > 0, M1+M2: M1 (a VAE with an m1_latent-D code) is trained first on every digit, and M2
    models its code (models/m2.py). `seed` draws the labelled digits and every network's initial weights.
    labelled_mix="proportional" with alpha=0.1 is Kingma et al.'s code (TrainConfig.labelled_mix). A plan
    (cvae_core/training/stages.py) whose findings fill as each network ends.

    A small z (8 dimensions) and a KL weight that starts at 8 leave the label y to carry the digit's
    class, so the bound L(x, y) differs sharply between labels and the unlabelled term teaches q(y|x)
    (RESULTS.md has the settings tried)."""
    partial = hide_labels(train.labels, labels, seed=seed)
    labelled = partial >= 0
    only_labelled = train.take(labelled)
    # The baseline sees as many gradient steps as M2 does (labelled batches are redrawn each step).
    m2_steps = epochs * math.ceil(int((~labelled).sum()) / 128)
    base_epochs = m2_steps / math.ceil(len(only_labelled) / 128)
    baseline_config = TrainConfig(**{**EXPERIMENTS["semisupervised_baseline"], "epochs": base_epochs, "seed": seed})
    baseline, _ = yield Stage(
        N_("the baseline classifier"), lambda: PlainClassifier(hidden), only_labelled, baseline_config, share=(0.0, 0.1)
    )
    figures = {
        "labels": labels,
        "model": "M1+M2" if m1_latent else "M2",
        "seed": seed,
        "baseline_accuracy": round(accuracy(baseline.classify, test), 4),
    }
    yield {"semisupervised": dict(figures)}
    config = model_config(variant="m2", latent_dim=latent_dim, hidden=hidden, alpha=alpha)
    make = lambda: build_model(config)  # noqa: E731
    m2_share, m1_figures = (0.1, 1.0), {}
    if m1_latent:
        m1, _ = yield m1_stage(train, seed, hidden, m1_latent, m1_epochs, (0.1, 0.3), validation=validation)
        train_seen = train.binarized_once(seed=seed)  # M1 read binarised digits: so does the activity criterion
        keep = active_units(m1, train_seen)
        if not keep.any():
            raise TrainingError(N_("M1's code collapsed: none of its {n} dimensions carries information about the digit."), n=m1_latent)
        encoder = kept_code(m1.encoder, keep)
        config = replace(config, m1_latent=int(keep.sum()))  # M2 models the active dimensions only
        make = lambda: with_weights(build_model(config), "m1", encoder)  # noqa: E731
        m2_share = (0.3, 1.0)
        m1_figures = {"m1_latent": m1_latent, "m1_active_units": int(keep.sum())}
        if validation is not None:  # a linear classifier on z1 from the same labels: how readable M1 made the class
            codes = lambda d: code_means(encoder, d.binarized_once().images)  # noqa: E731
            lr_accuracy = logistic_regression_accuracy(
                code_means(encoder, train_seen.images[labelled]), train.labels[labelled], codes(test), test.labels, codes(validation), validation.labels
            )  # fmt: skip
            m1_figures["z1_logistic_accuracy"] = round(lr_accuracy, 4)
        yield {"semisupervised": {**figures, **m1_figures}}
    m2_config = TrainConfig(
        **{**EXPERIMENTS["semisupervised"], "epochs": epochs, "seed": seed, "warmup_epochs": epochs / 2, "labelled_mix": labelled_mix}
    )
    out = {}
    if validation is None:
        m2, _ = yield Stage(N_("M2"), make, train.with_labels(partial), m2_config, share=m2_share)
    else:  # the epoch whose q(y|x) reads the validation digits best (M2 trains on binarised digits: so are they)
        seen = validation.binarized_once()
        m2, picked = yield Stage(
            N_("M2"), make, train.with_labels(partial), m2_config, lambda m: 1 - accuracy(m.classify, seen), None, m2_share
        )
        out = {"selected_on": "validation", "epoch_kept": picked["epoch"], "validation_accuracy": round(1 - picked["validation_loss"], 4)}
    m2_pred = predict(m2.classify, test.binarized_once().images)
    result = {
        **figures,
        "m2_accuracy": round(float((m2_pred == test.labels).float().mean()), 4),
        "n": len(test),
        "alpha": alpha,
        "labelled_mix": labelled_mix,
        **out,
        **m1_figures,
    }
    yield {"semisupervised": dict(result)}
    return {**result, "model_object": m2}
