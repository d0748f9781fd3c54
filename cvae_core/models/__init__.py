"""The variants, one file each, registered by name. A variant is its model file (its class, with its own config class
where it has settings of its own, and its overrides of the live defaults), its card (cvae_core/cards.py, or its class's
own), one registration here and the translations of its card's words."""

from ..cards import CARDS
from ..errors import ConfigError
from ..noise import initial_weights
from ..text import N_
from .base import ARCHS, LATENT_RANGE, CVAEModel, ModelConfig, as_onehot
from .cvae1 import CVAE1
from .cvae2 import CVAE2
from .cvae3 import CVAE3
from .cvae4 import CVAE4
from .m2 import M2
from .vae import VAE

VARIANTS: dict[str, type[CVAEModel]] = {}  # by name, in the order the app shows them


def register(variant: type[CVAEModel]) -> type[CVAEModel]:
    """Make a variant known to every door: the CLI, the Train page, Home's cards, checkpoints."""
    VARIANTS[variant.name] = variant
    CARDS.setdefault(variant.name, variant.card)  # Home reads the cards without torch
    return variant


for _variant in (VAE, CVAE1, CVAE2, CVAE3, CVAE4, M2):
    register(_variant)


def model_config(variant: str | None = None, **settings) -> ModelConfig:
    """A configuration of `variant` (the live default when None) in its own config class: the settings given, the
    class's defaults and the variant's model_overrides for the rest. Raises ConfigError for an unknown variant or
    setting (not validated otherwise: validate() does that)."""
    variant = variant or ModelConfig.variant
    if variant not in VARIANTS:
        raise ConfigError(N_("unknown variant {variant}; choose one of {variants}"), variant=repr(variant), variants=", ".join(VARIANTS))
    cls = VARIANTS[variant]
    return cls.config_class.from_dict({**cls.model_overrides, **settings, "variant": variant})


def build_model(config: ModelConfig, seed: int | None = None) -> CVAEModel:
    """A fresh model for a (validated) configuration; its initial weights drawn from `seed` when given."""
    config.validate()
    with initial_weights(seed):
        return VARIANTS[config.variant](config)


__all__ = ["ARCHS", "LATENT_RANGE", "VARIANTS", "CVAEModel", "ModelConfig", "as_onehot", "build_model", "model_config", "register"]
