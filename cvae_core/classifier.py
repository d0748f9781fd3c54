"""The independent digit classifiers behind label fidelity: the networks. They train on training digits only, through
the one engine (cvae_core.training.recipe.train_classifier).

Two architectures, so that a recipe tuned against one classifier is judged by another as well:
"cnn", two 3x3 convolutions and a dense layer with dropout; "bn-cnn", four 5x5/3x3 convolutions with
batch normalisation and global average pooling, no dense hidden layer.
"""

from dataclasses import asdict, dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .metrics import predict
from .noise import Dropout
from .text import N_

CLASSIFIER_ARCHS = ("cnn", "bn-cnn")


def _conv_block(c_in: int, c_out: int, size: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, size, padding=size // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


@dataclass
class ClassifierConfig:
    """What rebuilds a classifier from a checkpoint (stored beside the weights)."""

    n_classes: int = 10
    arch: str = "cnn"  # one of CLASSIFIER_ARCHS

    def validate(self) -> "ClassifierConfig":
        from .errors import ConfigError

        if not (isinstance(self.n_classes, int) and 2 <= self.n_classes <= 100):
            raise ConfigError(N_("a classifier has from 2 to 100 classes, got {n_classes}"), n_classes=repr(self.n_classes))
        if self.arch not in CLASSIFIER_ARCHS:
            raise ConfigError(
                N_("classifier architecture must be one of {architectures}, got {architecture}"),
                architectures=", ".join(CLASSIFIER_ARCHS),
                architecture=repr(self.arch),
            )
        return self

    @classmethod
    def from_dict(cls, data: dict) -> "ClassifierConfig":
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)


class DigitClassifier(nn.Module):
    """p(y|x). "cnn": conv 32 -> conv 64 -> fc 128 -> 10 with dropout; "bn-cnn": conv 32, 32 (5x5) -> conv 64, 64
    (3x3), batch norm, global average pooling -> 10."""

    name: ClassVar[str] = "classifier"
    config_class: ClassVar[type] = ClassifierConfig
    learns_from_unlabelled: ClassVar[bool] = False

    def __init__(self, config: ClassifierConfig | None = None):
        super().__init__()
        self.config = (config or ClassifierConfig()).validate()
        if self.config.arch == "bn-cnn":
            self.net = nn.Sequential(
                nn.Unflatten(1, (1, 28, 28)),
                *_conv_block(1, 32, 5),
                *_conv_block(32, 32, 5),
                nn.MaxPool2d(2),  # 14x14
                *_conv_block(32, 64, 3),
                *_conv_block(64, 64, 3),
                nn.MaxPool2d(2),  # 7x7
                Dropout(0.2),
                nn.Conv2d(64, self.config.n_classes, 1),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
            )
            return
        self.net = nn.Sequential(
            nn.Unflatten(1, (1, 28, 28)),
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 14x14
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 7x7
            nn.Flatten(),
            Dropout(0.3),
            nn.Linear(64 * 7 * 7, 128),
            nn.ReLU(),
            Dropout(0.3),
            nn.Linear(128, self.config.n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(-1, 784))

    def loss(self, x, y, kl_weight: float = 1.0):
        """Cross-entropy; the engine's KL weight does not apply."""
        loss = F.cross_entropy(self(x), y)
        return loss, {}

    @torch.inference_mode()
    def classify(self, x: torch.Tensor) -> torch.Tensor:
        self.eval()
        return torch.softmax(self(x), -1)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return predict(self.classify, x)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device
