"""The six variants, one file each, registered by name."""

from ..noise import initial_weights
from .base import ARCHS, LATENT_RANGE, CVAEModel, ModelConfig, as_onehot
from .cvae1 import CVAE1
from .cvae2 import CVAE2
from .cvae3 import CVAE3
from .cvae4 import CVAE4
from .m2 import M2
from .vae import VAE

VARIANTS: dict[str, type[CVAEModel]] = {m.name: m for m in (VAE, CVAE1, CVAE2, CVAE3, CVAE4, M2)}


def build_model(config: ModelConfig, seed: int | None = None) -> CVAEModel:
    """A fresh model for a (validated) configuration; its initial weights drawn from `seed` when given."""
    config.validate()
    with initial_weights(seed):
        return VARIANTS[config.variant](config)


__all__ = ["ARCHS", "LATENT_RANGE", "VARIANTS", "CVAEModel", "ModelConfig", "as_onehot", "build_model"]
