"""Measure models on test digits: the one path behind the Compare page and `python -m cvae_core evaluate`."""

import math

import torch

from .metrics import accuracy, evaluate_elbo, label_fidelity
from .models import CVAEModel

COLUMNS = {  # key -> (column title, higher is better?, what it means); keys are also the CLI's JSON names
    "elbo": ("ELBO", True, "evidence lower bound, nats per digit"),
    "recon": ("reconstruction", True, "E_q[log p(x|z,…)], nats"),
    "kl": ("KL", False, "nats the code z carries"),
    "log_likelihood": ("log-likelihood (IW)", True, "importance-weighted bound, nats"),
    "label_fidelity": ("label fidelity", True, "samples read as their label by an independent CNN"),
    "accuracy": ("accuracy", True, "test digits classified correctly"),
    "parameters": ("parameters", False, "weights in the model"),
    "training_seconds": ("training time (s)", False, "seconds of training recorded in the checkpoint"),
}


@torch.inference_mode()
def measure(model, data, iw_samples: int = 10, classifier=None, per_label: int = 200, metadata: dict | None = None, seed: int = 0) -> dict:
    """Every figure of COLUMNS that applies to `model` on `data` (None where one does not apply).

    A CVAE gets its ELBO terms and importance-weighted bound, accuracy where it takes a label,
    and, with a classifier, the label fidelity of its samples; a plain classifier gets its accuracy."""
    torch.manual_seed(seed)
    row = dict.fromkeys(COLUMNS)
    if isinstance(model, CVAEModel):
        row.update(evaluate_elbo(model, data))
        ll = sum(float(model.log_likelihood(x, y, k=iw_samples).sum()) for x, y in data.batches(500))
        row["log_likelihood"] = ll / len(data)
        if model.uses_label:
            row["accuracy"] = accuracy(model.classify, data)
        if classifier is not None and model.makes_images and model.uses_label:
            row["label_fidelity"] = label_fidelity(model, classifier, per_label=per_label, seed=seed)["fidelity"]
    else:
        row["accuracy"] = accuracy(model.classify, data)
    row["parameters"] = sum(p.numel() for p in model.parameters())
    seconds = (metadata or {}).get("train", {}).get("seconds")
    row["training_seconds"] = seconds if isinstance(seconds, int | float) and math.isfinite(seconds) else None
    return row


def best_per_column(rows: dict[str, dict]) -> dict[str, str]:
    """For each column key, the name of the best model (ignoring missing figures)."""
    best = {}
    for column, (_, higher, _) in COLUMNS.items():
        scored = [(row[column], name) for name, row in rows.items() if row.get(column) is not None]
        if scored:
            best[column] = (max if higher else min)(scored)[1]
    return best
