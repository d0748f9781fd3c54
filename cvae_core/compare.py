"""Measure several models on the same test digits: the figures behind the Compare page and `evaluate`."""

import math

import torch

from .data import Dataset
from .engine import evaluate_elbo
from .metrics import DigitClassifier, accuracy, label_fidelity
from .models import CVAEModel

COLUMNS = {  # column -> (higher is better?, what it means)
    "ELBO": (True, "evidence lower bound, nats per digit"),
    "reconstruction": (True, "E_q[log p(x|z,…)], nats"),
    "KL": (False, "nats the code z carries"),
    "log-likelihood (IW)": (True, "importance-weighted bound, nats"),
    "label fidelity": (True, "samples read as their label by an independent CNN"),
    "accuracy": (True, "test digits classified correctly"),
    "parameters": (False, "weights in the model"),
    "training time (s)": (False, "seconds of training recorded in the checkpoint"),
}


@torch.inference_mode()
def measure(
    model: CVAEModel,
    data: Dataset,
    iw_samples: int = 10,
    classifier: DigitClassifier | None = None,
    per_label: int = 200,
    metadata: dict | None = None,
) -> dict:
    """The Compare page's row for one model (None where a figure does not apply)."""
    torch.manual_seed(0)
    row = {k: None for k in COLUMNS}
    terms = evaluate_elbo(model, data)
    row["ELBO"], row["reconstruction"], row["KL"] = terms["elbo"], terms["recon"], terms["kl"]
    ll = sum(
        float(model.log_likelihood(data.images[i : i + 500], data.labels[i : i + 500], k=iw_samples).sum())
        for i in range(0, len(data), 500)
    )
    row["log-likelihood (IW)"] = ll / len(data)
    if model.uses_label:
        row["accuracy"] = accuracy(lambda x: model.classify(x), data)
    if classifier is not None and model.makes_images and model.uses_label:
        row["label fidelity"] = label_fidelity(model, classifier, per_label=per_label)["fidelity"]
    row["parameters"] = sum(p.numel() for p in model.parameters())
    seconds = (metadata or {}).get("train", {}).get("seconds")
    row["training time (s)"] = seconds if isinstance(seconds, int | float) and math.isfinite(seconds) else None
    return row


def best_per_column(rows: dict[str, dict]) -> dict[str, str]:
    """For each column, the name of the best model (ignoring missing figures)."""
    best = {}
    for column, (higher, _) in COLUMNS.items():
        scored = [(row[column], name) for name, row in rows.items() if row.get(column) is not None]
        if scored:
            best[column] = (max if higher else min)(scored)[1]
    return best
