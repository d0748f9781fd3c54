"""Metrics beyond the ELBO: an independent digit classifier and the label fidelity of samples.

Label fidelity: draw samples at temperature 1 for each condition label and count how often
an independent classifier -- a small CNN trained only on training digits, never on samples --
reads them as that label. A model whose decoder ignores y, or whose prior has holes, scores low.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .data import Dataset
from .engine import random_shift
from .models import CVAEModel


class DigitClassifier(nn.Module):
    """A small CNN, p(y|x): conv 32 -> conv 64 -> fc 128 -> 10, with dropout."""

    name = "classifier"

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 14x14
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 7x7
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(128, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(-1, 784))

    @torch.inference_mode()
    def predict(self, x: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
        self.eval()
        return torch.cat([self(x[i : i + batch_size]).argmax(-1) for i in range(0, len(x), batch_size)])


def train_classifier(
    data: Dataset, epochs: int = 15, batch_size: int = 64, lr: float = 1e-3, seed: int = 0, shift: int = 2
) -> DigitClassifier:
    """Train the fidelity classifier on training digits (random shifts against overfitting)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = DigitClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * math.ceil(len(data) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr * 3, total_steps=steps)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(data), generator=g)
        for i in range(0, len(data), batch_size):
            idx = order[i : i + batch_size]
            x = random_shift(data.images[idx], shift, g) if shift else data.images[idx]
            loss = F.cross_entropy(model(x), data.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model


@torch.inference_mode()
def accuracy(predict, data: Dataset, batch_size: int = 1000) -> float:
    """Share of `data` whose predicted class (argmax of predict(x)) is the label."""
    correct = 0
    for i in range(0, len(data), batch_size):
        probs = predict(data.images[i : i + batch_size])
        correct += int((probs.argmax(-1).cpu() == data.labels[i : i + batch_size]).sum())
    return correct / len(data)


@torch.inference_mode()
def label_fidelity(model: CVAEModel, classifier: DigitClassifier, per_label: int = 500, temperature: float = 1.0, seed: int = 0) -> dict:
    """Share of samples read as their condition label, overall and per label."""
    torch.manual_seed(seed)
    model.eval()
    labels = torch.arange(model.config.n_classes).repeat_interleave(per_label)
    images = torch.cat([model.generate(labels[i : i + 1000], temperature=temperature).cpu() for i in range(0, len(labels), 1000)])
    hits = classifier.predict(images.reshape(len(labels), -1)) == labels
    per = hits.view(model.config.n_classes, per_label).float().mean(1)
    return {"fidelity": float(hits.float().mean()), "per_label": [round(float(p), 4) for p in per]}
