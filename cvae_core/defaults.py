"""The one source of defaults: what the CLI, the Train page, the experiments, the Experiments page
and bench/ use when nobody says otherwise. (The config dataclasses' own field defaults are the
engine's plain mechanics -- constant learning rate, no KL schedule -- and every entry point fills
them from here.)

Live training (`model_defaults`, `training_defaults`): chosen so that recognisable digits of every
label appear within seconds on a 2-core CPU. The learned prior of cvae1, a fast MLP, and a KL weight
that starts at 4 and eases to 1 over five epochs, so that the decoder learns to use the label before
z can carry it (checkpoints/README.md: starting from a light KL lets z learn the digit's identity,
and samples then often show another digit).
"""

MODEL = {"variant": "cvae1", "latent_dim": 16, "arch": "mlp", "hidden": 512, "layers": 2, "beta": 1.0, "free_bits": 0.0, "alpha": 50.0}
TRAINING = {"epochs": 30.0, "batch_size": 128, "lr": 2e-3, "seed": 0, "kl_start": 4.0, "warmup_epochs": 5.0, "shift_pixels": 0}
VARIANT_TRAINING = {  # where a variant's recipe differs from the live one
    # cvae3 predicts y: a heavy early KL has no decoder to teach about y, so the usual warm-up from 0.
    "cvae3": {"lr": 1e-3, "kl_start": 0.0, "warmup_epochs": 1.0},
}


def model_defaults(variant: str | None = None) -> dict:
    """ModelConfig settings for a variant (the live default variant when None)."""
    return {**MODEL, "variant": variant or MODEL["variant"]}


def training_defaults(variant: str | None = None) -> dict:
    """TrainConfig settings for live training of a variant."""
    return {**TRAINING, **VARIANT_TRAINING.get(variant or MODEL["variant"], {})}


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
