"""The independent digit classifier behind label fidelity: a small CNN, trained on training digits only."""

from dataclasses import asdict, dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .data import Dataset
from .engine import TrainConfig, Trainer
from .metrics import predict


@dataclass
class ClassifierConfig:
    """What rebuilds a classifier from a checkpoint (stored beside the weights)."""

    n_classes: int = 10

    def validate(self) -> "ClassifierConfig":
        from .errors import ConfigError

        if not (isinstance(self.n_classes, int) and 2 <= self.n_classes <= 100):
            raise ConfigError(f"a classifier has from 2 to 100 classes, got {self.n_classes!r}")
        return self

    @classmethod
    def from_dict(cls, data: dict) -> "ClassifierConfig":
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)


class DigitClassifier(nn.Module):
    """p(y|x): conv 32 -> conv 64 -> fc 128 -> 10, with dropout."""

    name: ClassVar[str] = "classifier"
    config_class: ClassVar[type] = ClassifierConfig
    learns_from_unlabelled: ClassVar[bool] = False

    def __init__(self, config: ClassifierConfig | None = None):
        super().__init__()
        self.config = (config or ClassifierConfig()).validate()
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


def train_classifier(data: Dataset, epochs: int = 15, batch_size: int = 64, lr: float = 1e-3, seed: int = 0, shift: int = 2) -> DigitClassifier:
    """Train the fidelity classifier on training digits: a one-cycle schedule peaking at 3 x lr, random shifts against overfitting."""
    torch.manual_seed(seed)
    model = DigitClassifier()
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, lr_schedule="one-cycle", shift_pixels=shift)
    Trainer(model, data, config=config).run_to_end()
    return model.eval()
