"""One recipe for every run (CLI, Train page, training process, bench/) and capabilities instead of variant names."""

import re
from pathlib import Path

import pytest

from cvae_core.capabilities import Capabilities
from cvae_core.errors import ConfigError
from cvae_core.models import VARIANTS, build_model, model_config
from cvae_core.storage import checkpoint
from cvae_core.storage.checkpoint_header import read_metadata
from cvae_core.training.defaults import model_defaults, training_defaults
from cvae_core.training.recipe import Recipe, capabilities

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_recipe_fills_in_the_variants_defaults_and_survives_the_pipe(variant):
    run = Recipe.from_settings({"variant": variant, "latent_dim": 4}, {"epochs": 2.0})
    assert run.model.latent_dim == 4 and run.train.epochs == 2.0
    for key, value in {**model_defaults(variant), "latent_dim": 4}.items():
        assert getattr(run.model, key) == value, key
    for key, value in {**training_defaults(variant), "epochs": 2.0}.items():
        assert getattr(run.train, key) == value, key
    assert Recipe.from_wire(run.to_wire()) == run  # what the training process rebuilds is what was sent


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_a_number_of_labels_is_taken_by_capability_not_by_name(variant):
    config = model_config(**model_defaults(variant))
    if capabilities(config).learns_from_unlabelled:
        assert Recipe.from_settings({"variant": variant}, labels=100).labels == 100
    else:
        with pytest.raises(ConfigError, match="learns from unlabelled"):
            Recipe.from_settings({"variant": variant}, labels=100)


def test_a_recipe_trains_on_its_split_with_validation_as_its_partner_and_hides_labels_with_its_seed(digits, held_out):
    loaded = []

    def load(name, split):
        loaded.append((name, split))
        return {"train": digits, "val": held_out, "all": digits}[split]

    run = Recipe.from_settings({"variant": "m2", "hidden": 32, "latent_dim": 4}, {"epochs": 1.0, "seed": 3}, labels=100)
    train, validation = run.data(load)
    assert loaded == [("mnist-5k", "train"), ("mnist-5k", "val")] and validation is held_out
    assert int((train.labels >= 0).sum()) == 100
    again, _ = run.data(load)
    assert (again.labels == train.labels).all()  # the same labelled digits for the same seed
    trainer = run.trainer(train, validation)
    assert trainer.semi_supervised and trainer.config.seed == 3
    _, none = Recipe.from_settings({"variant": "vae", "hidden": 32}, {"epochs": 1.0}, split="all").data(load)
    assert none is None  # --split all has no held-out partner


@pytest.mark.parametrize(
    "settings, expected",
    [
        ({"variant": "cvae3", "target": "label"}, Capabilities(makes_images=False, classifies=True, bernoulli_pixels=False)),
        ({"variant": "cvae3", "target": "quadrants"}, Capabilities(uses_label=False, makes_images=False)),
        ({"variant": "m2"}, Capabilities(classifies=True, learns_from_unlabelled=True)),
        ({"variant": "m2", "m1_latent": 8}, Capabilities(classifies=True, learns_from_unlabelled=True, makes_images=False)),
        ({"variant": "vae"}, Capabilities(uses_label=False)),
        ({"variant": "cvae1"}, Capabilities(has_label_prior=True)),
    ],
)
def test_a_models_capabilities_follow_its_configuration_and_travel_in_its_header(settings, expected):
    config = model_config(**{**model_defaults(settings["variant"]), "hidden": 32, **settings})
    model = build_model(config, seed=0)
    assert model.capabilities == capabilities(config) == expected
    assert (model.uses_label, model.makes_images, model.classifies) == (expected.uses_label, expected.makes_images, expected.classifies)
    assert Capabilities.of_metadata(read_metadata(checkpoint.to_bytes(model))) == expected  # read without torch by the home page


def test_no_variant_is_named_in_a_check_outside_the_models():
    """Pages, the UI and the core ask a model's capabilities; only cvae_core/models/ may test a variant's name."""
    check = re.compile(r"""(variant|\.name)["'\]]*\s*(==|!=|\bin\b)\s*[\(\[{]?["'](vae|cvae\d|m2)["']""")
    files = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").rglob("*.py"), *(ROOT / "cvae_core").rglob("*.py")]
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in files
        if "models" not in path.relative_to(ROOT).parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if check.search(line)
    ]
    assert not found, found
