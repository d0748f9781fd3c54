"""Defaults live in one place (the config dataclasses' fields, and each variant's own overrides on its class): every
run's resolved settings are pinned here, so that moving a default cannot change a run unnoticed. A change that means
to change a run updates tests/pinned/configs.json with `python -m tests.training.test_defaults` and says why in its commit."""

import json
import sys
from dataclasses import asdict
from pathlib import Path

from cvae_core.cli import build_parser
from cvae_core.models import VARIANTS, model_config
from cvae_core.training.defaults import CLASSIFIER, EXPERIMENTS
from cvae_core.training.engine import TrainConfig
from cvae_core.training.recipe import Recipe

PINNED = Path(__file__).parent.parent / "pinned" / "configs.json"


def resolved() -> dict:
    """Every variant's live recipe (the Train page, bench/ and the CLI's train without flags), the model and schedule of
    each experiment and of the fidelity classifiers, each as plain data."""
    out = {}
    for variant in VARIANTS:
        recipe = Recipe.from_settings(model={"variant": variant})
        out[f"live/{variant}"] = {"model": asdict(recipe.model), "train": asdict(recipe.train)}
        out[f"model/{variant}"] = asdict(model_config(variant=variant))
        args = build_parser().parse_args(["train", "--variant", variant, "--out", "x.safetensors"])
        out[f"cli/{variant}"] = {k: v for k, v in vars(args).items() if k != "func"}
    for name, settings in EXPERIMENTS.items():
        if isinstance(settings, dict):
            out[f"experiment/{name}"] = asdict(TrainConfig(**settings))
    out["classifier"] = asdict(TrainConfig(**CLASSIFIER))
    return json.loads(json.dumps(out))  # tuples as lists, as the file has them


def test_every_runs_resolved_settings_are_the_pinned_ones():
    pinned = json.loads(PINNED.read_text())
    now = resolved()
    assert set(now) == set(pinned), "a variant or an experiment came or went: regenerate the pin"
    changed = {key: (pinned[key], now[key]) for key in now if now[key] != pinned[key]}
    assert not changed, changed


def test_the_engines_own_defaults_are_the_live_ones():
    """TrainConfig() and model_config() are what a visitor's first run trains with: no second table repeats them."""
    recipe = Recipe.from_settings()
    assert asdict(recipe.train) == asdict(TrainConfig())
    assert asdict(recipe.model) == asdict(model_config())


if __name__ == "__main__" and "--write" in sys.argv:
    PINNED.write_text(json.dumps(resolved(), indent=1, sort_keys=True) + "\n")
