"""The live-training defaults: what the Train page starts with and what the benchmarks time.

Chosen so that recognisable digits of every label appear within seconds on a 2-core CPU: the
learned prior of cvae1, a fast MLP, and a KL weight that starts at 4 and eases to 1 over five
epochs, so the decoder learns to use the label before z can carry it.
"""

LIVE_MODEL = {"variant": "cvae1", "latent_dim": 16, "arch": "mlp", "hidden": 512, "beta": 1.0}
LIVE_TRAINING = {"epochs": 30, "lr": 2e-3, "kl_start": 4.0, "warmup_epochs": 5.0, "seed": 0}
