"""Every checkpoint ever shipped or saved keeps loading: what older files hold that today's classes no longer read.

Until 2026-12-07 every variant's configuration was one flat class, so every checkpoint's `model_config` carries the
settings of cvae3 (gsnn_weight, target, given_quadrants, nn_fill) and m2 (alpha, m1_latent) whatever its variant. They
now live in those variants' own config classes; for any other variant they never had an effect, and are left out when
an older file is read. Any other unknown setting is still refused (ModelConfig.from_dict).
"""

from dataclasses import fields

# The settings the flat configuration held for one variant only (moved to cvae3's and m2's own classes).
ONE_VARIANTS_SETTINGS = ("alpha", "gsnn_weight", "target", "given_quadrants", "nn_fill", "m1_latent")


def model_settings(data: dict, config_class: type) -> dict:
    """A checkpoint's model_config as `config_class` reads it: another variant's settings of the flat era left out."""
    own = {f.name for f in fields(config_class)}
    return {key: value for key, value in data.items() if key in own or key not in ONE_VARIANTS_SETTINGS}
