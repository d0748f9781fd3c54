"""A new variant is its model file, its card, one registration and its translations: a throwaway variant written to a
file of its own, with a setting of its own, is trained, saved, loaded, offered by the CLI and the Train page, and
refuses a bad value of its own setting with a sentence; nothing else in the project names it."""

import importlib.util
import sys

import pytest

from cvae_core.cards import CARDS
from cvae_core.errors import ConfigError
from cvae_core.models import VARIANTS, model_config
from cvae_core.storage import checkpoint
from cvae_core.training.defaults import model_defaults, training_defaults
from cvae_core.training.recipe import Recipe
from tests.app.test_app import no_exceptions, page

MODEL_FILE = '''
from dataclasses import dataclass

from cvae_core.cards import Card
from cvae_core.errors import ConfigError
from cvae_core.models import ModelConfig, register
from cvae_core.models.cvae1 import CVAE1


@dataclass
class TinyConfig(ModelConfig):
    variant: str = "tiny"
    prior_scale: float = 1.0  # a setting only this variant has

    def validate_own(self):
        if not 0 < self.prior_scale <= 4:
            raise ConfigError("prior scale must be from 0 to 4, got {scale}", scale=self.prior_scale)


@register
class Tiny(CVAE1):
    name = "tiny"
    config_class = TinyConfig
    model_overrides = {"latent_dim": 4, "hidden": 128}
    training_overrides = {"epochs": 1.0}
    card = Card(title="Tiny (a test's variant)", good_for="Nothing but this test.", reference="A test, 2026",
                graph_dot="digraph { z -> x }", elbo_latex=r"\\log p(x|y)", terms=CVAE1.card.terms)
'''


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny_variant.py"
    path.write_text(MODEL_FILE)
    spec = importlib.util.spec_from_file_location("tiny_variant", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["tiny_variant"] = module
    spec.loader.exec_module(module)  # its one registration is in its own file
    yield module.Tiny
    VARIANTS.pop("tiny", None)
    CARDS.pop("tiny", None)
    sys.modules.pop("tiny_variant", None)


def test_a_registered_variant_trains_saves_loads_and_checks_its_own_setting(tiny):
    assert model_defaults("tiny")["latent_dim"] == 4 and model_defaults("tiny")["prior_scale"] == 1.0
    assert training_defaults("tiny")["epochs"] == 1.0
    trainer = Recipe.from_settings(model={"variant": "tiny", "prior_scale": 2.0}, dataset="mnist-5k", split="val").build()
    trainer.run(max_steps=3)
    assert trainer.step == 3 and type(trainer.model) is tiny and trainer.model.config.prior_scale == 2.0
    loaded = checkpoint.from_bytes(checkpoint.to_bytes(trainer.model))
    assert type(loaded.model) is tiny and loaded.model.config == trainer.model.config
    assert all((a == b).all() for a, b in zip(loaded.model.state_dict().values(), trainer.model.state_dict().values(), strict=True))
    with pytest.raises(ConfigError, match="prior scale"):
        model_config("tiny", prior_scale=9.0).validate()
    with pytest.raises(ConfigError, match="unknown model settings"):
        model_config("cvae1", prior_scale=2.0)  # another variant's setting is not cvae1's
    from cvae_core.cli import build_parser

    assert build_parser().parse_args(["train", "--variant", "tiny", "--out", "x.safetensors"]).variant == "tiny"


def test_the_train_page_and_home_offer_a_registered_variant(tiny):
    train = page("train").run()
    no_exceptions(train)
    choose = next(s for s in train.selectbox if s.key == "train_variant")
    assert "tiny" in choose.options or "Tiny (a test's variant)" in choose.options
    choose.set_value("tiny").run()
    no_exceptions(train)
    assert next(s for s in train.select_slider if s.key == "train_latent").value == 4  # its own defaults followed it
    assert next(s for s in train.select_slider if s.key == "train_hidden").value == 128
    home = page("home").run()
    assert any("Tiny (a test's variant)" in h.value for h in home.subheader)
