"""Fair per visitor: how the training service shares one lane between an owner with four runs and an owner with one.

    python bench/fairness.py --seconds 60 --json

Two measurements, one after the other, on the same service settings as the app's (4 s turns, 0.3 s slices, one lane):
"owners": the runs carry their owners, as the app's do (cvae_core.training.service shares time between owners, then
between an owner's runs); "runs": the same five runs with no owner, each its own -- the policy before owners, where
a browser with four runs had four turns to another's one. Prints the optimiser steps each visitor's runs took."""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvae_core.data import load_dataset  # noqa: E402
from cvae_core.models import build_model, model_config
from cvae_core.training.engine import TrainConfig, Trainer  # noqa: E402
from cvae_core.training.service import TrainingRun, TrainingService  # noqa: E402


def run_of(digits, owner: str, seed: int) -> TrainingRun:
    model = build_model(model_config(variant="cvae2", latent_dim=8, hidden=256), seed=seed)
    return TrainingRun(Trainer(model, digits, config=TrainConfig(epochs=10_000.0, seed=seed)), owner=owner)


def share(digits, seconds: float, with_owners: bool) -> dict:
    service = TrainingService(max_concurrent=1, cores=2)
    many = [run_of(digits, "many" if with_owners else "", seed) for seed in range(4)]
    one = run_of(digits, "one" if with_owners else "", 9)
    for run in [*many, one]:
        service.start(run)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for run in [*many, one]:
            service.heartbeat(run)
        time.sleep(0.5)
    for run in [*many, one]:
        service.stop(run)
    service.close()
    steps_many, steps_one = sum(r.trainer.step for r in many), one.trainer.step
    return {"four runs": steps_many, "one run": steps_one, "ratio": round(steps_many / max(1, steps_one), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    digits = load_dataset("mnist-5k", "train")
    out = {"seconds": args.seconds, "owners": share(digits, args.seconds, True), "runs": share(digits, args.seconds, False)}
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
