"""Defaults: the live ones are the config dataclasses' own fields (cvae_core.training.engine.TrainConfig,
cvae_core.models.ModelConfig and a variant's own config class) and each variant's `model_overrides` and
`training_overrides`; `model_defaults` and `training_defaults`
read them for a variant. The papers' experiments and the fidelity classifiers, which train differently, keep their
settings here (RESULTS.md has the runs)."""

from dataclasses import asdict

from ..models import VARIANTS, model_config
from .engine import TrainConfig


def model_defaults(variant: str | None = None) -> dict:
    """A variant's model settings (the live default variant when None): its config class's and its model_overrides."""
    return asdict(model_config(variant))


def training_defaults(variant: str | None = None) -> dict:
    """TrainConfig settings for live training of a variant."""
    overrides = VARIANTS[variant].training_overrides if variant in VARIANTS else {}
    return {**asdict(TrainConfig()), **overrides}


# The papers' experiments: both networks of a comparison train with these (RESULTS.md has the runs).
EXPERIMENTS = {
    "quadrants": {"epochs": 100.0, "lr": 1e-3, "lr_schedule": "cosine", "shift_pixels": 1, "warmup_epochs": 1.0, "kl_start": 0.0},
    "classification": {"epochs": 50.0, "lr": 1e-3, "lr_schedule": "cosine", "shift_pixels": 1, "warmup_epochs": 1.0, "kl_start": 0.0},
    "semisupervised": {"epochs": 150.0, "lr": 1e-3, "lr_schedule": "cosine", "shift_pixels": 1, "kl_start": 8.0},  # warm-up: half the run
    # M1 of M1+M2: a VAE whose 50-D code M2 then models; a light start to the KL keeps dimensions in use. Its length is
    # a ceiling: training stops once m1_patience epochs bring no better validation ELBO (Kingma's M1 ran to a plateau).
    "m1_patience": 20,
    "m1": {"epochs": 300.0, "lr": 1e-3, "lr_schedule": "cosine", "shift_pixels": 1, "warmup_epochs": 10.0, "kl_start": 0.0},
    "semisupervised_baseline": {"lr": 1e-3, "lr_schedule": "cosine", "shift_pixels": 1, "warmup_epochs": 1.0, "kl_start": 0.0},
}
# The fidelity classifiers: a one-cycle schedule peaking at 3 x lr, 2-pixel shifts against overfitting.
CLASSIFIER = {"epochs": 15, "batch_size": 64, "lr": 1e-3, "shift_pixels": 2, "lr_schedule": "one-cycle"}
