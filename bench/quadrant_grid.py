"""Issue 41, item 1: the one-quadrant CVAE's GSNN weight and z size chosen on validation, then its IS bound on test.

1. The NN baseline (early-stopped on its validation NCLL, as in experiments.quadrant_bounds_plan), once per seed.
2. The grid, seed 0: GSNN weight x z size (NN-filled prior, 512-512), each CVAE trained --epochs epochs and keeping
   its epoch with the best importance-sampled validation NCLL (k = 50). The setting with the lowest validation NCLL
   is chosen; the test split is not read before the choice.
3. The chosen setting's further seeds (--seeds), each against its own seed's NN.
4. Test: each seed's IS bound at max(--k) on the first --test-digits binarised test digits, with the per-digit paired
   SE against the NN, and MC's distance from it at each k -> results/quadrant-grid-<given>.json

Resumable: every finished piece (a network's weights, a grid cell's validation figure, a seed's test figures) is kept
in --runs-dir and skipped when the command runs again with the same settings.

    CVAE_DATA_DIR=/work/shared/data OMP_NUM_THREADS=1 nice -n 10 python bench/quadrant_grid.py \
        --given 1 --epochs 100 --seeds 0 1 2 --test-digits 5000 --runs-dir ../runs41-grid
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cvae_core.data import load_dataset  # noqa: E402
from cvae_core.experiments.common import with_weights  # noqa: E402
from cvae_core.experiments.quadrant_bounds import bound_curves, nn_ncll_per_digit, paired_se  # noqa: E402
from cvae_core.experiments.quadrants import QuadrantBaseline, nn_ncll  # noqa: E402
from cvae_core.models import build_model, model_config  # noqa: E402
from cvae_core.noise import seeded  # noqa: E402
from cvae_core.training.defaults import EXPERIMENTS  # noqa: E402
from cvae_core.training.engine import TrainConfig  # noqa: E402
from cvae_core.training.stages import Stage, run_plan  # noqa: E402

HIDDEN = 512
NN_EPOCHS, NN_PATIENCE = 300.0, 20  # the NN's ceiling and early stop (the previous round's NN kept epochs 79-168)
SELECT_K = 50  # importance samples per validation digit for the epoch and the setting


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def one_stage(stage: Stage):
    return (yield stage)


def trained(path: Path, settings: dict, make_stage, rebuild) -> tuple[torch.nn.Module, dict]:
    """The network of make_stage(), trained and kept at path (weights, settings and what its selection picked); read
    back with rebuild() when the settings match."""
    if path.exists():
        saved = torch.load(path, weights_only=False)
        if saved["settings"] == settings:
            model = rebuild()
            model.load_state_dict(saved["state"])
            return model.eval(), saved["picked"]
    started = time.perf_counter()
    model, picked = run_plan(one_stage(make_stage()))
    picked = {**picked, "seconds": round(time.perf_counter() - started, 1)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"settings": settings, "state": model.state_dict(), "picked": picked}, tmp)
    tmp.replace(path)
    return model.eval(), picked


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--given", type=int, default=1)
    p.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 0.9], help="GSNN weights")
    p.add_argument("--latent-dims", type=int, nargs="+", default=[8, 16, 32])
    p.add_argument("--epochs", type=float, default=100.0, help="each CVAE's epochs (keeping its best validation one)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="the chosen setting's seeds (the grid: the first)")
    p.add_argument("--grid-seeds", type=int, default=1, help="how many of --seeds every grid cell is trained with")
    p.add_argument("--k", type=int, nargs="+", default=[10, 100, 1000])
    p.add_argument("--test-digits", type=int, default=5000, help="the first n official test digits (binarised once)")
    p.add_argument("--fill", default="prior")
    p.add_argument("--runs-dir", default=str(ROOT.parent / "runs41-grid"))
    p.add_argument("--out-dir", default=str(ROOT / "checkpoints" / "experiments" / "results"))
    p.add_argument("--train-digits", type=int, default=0, help="0: all 4,500 (smaller only to try the script)")
    p.add_argument("--validation-digits", type=int, default=0, help="0: all 500 (smaller only to try the script)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    command = "CVAE_DATA_DIR=/work/shared/data OMP_NUM_THREADS=1 nice -n 10 python bench/quadrant_grid.py " + " ".join(sys.argv[1:])
    runs = Path(args.runs_dir) / f"given-{args.given}"
    train = load_dataset("mnist-5k", "train").subset(args.train_digits)
    validation = load_dataset("mnist-5k", "val").subset(args.validation_digits).binarized_once()
    base = {"given": args.given, "train_digits": args.train_digits, "validation_digits": args.validation_digits}

    nns: dict[int, tuple] = {}

    def nn_of(seed: int):
        if seed not in nns:
            config = TrainConfig(**{**EXPERIMENTS["quadrants"], "epochs": NN_EPOCHS, "seed": seed})
            settings = {**base, "seed": seed, "epochs": NN_EPOCHS, "patience": NN_PATIENCE, "hidden": HIDDEN}
            log(f"NN, seed {seed}")
            nns[seed] = trained(
                runs / f"nn-seed{seed}.pt", settings,
                lambda: Stage("the NN baseline", lambda: QuadrantBaseline(args.given, HIDDEN), train, config,
                              lambda m: nn_ncll(m, validation), NN_PATIENCE),
                lambda: QuadrantBaseline(args.given, HIDDEN),
            )  # fmt: skip
            log(f"NN, seed {seed}: {nns[seed][1]}")
        return nns[seed]

    def cvae_of(weight: float, z: int, seed: int):
        baseline, _ = nn_of(seed)
        cvae_config = model_config(
            variant="cvae3", target="quadrants", given_quadrants=args.given, latent_dim=z, hidden=HIDDEN,
            gsnn_weight=weight, nn_fill=args.fill,
        )  # fmt: skip

        def make():
            model = build_model(cvae_config)
            return model if args.fill == "none" else with_weights(model, "baseline_net", baseline.net)

        def validation_is(m) -> float:
            with seeded(seed, m.device), torch.inference_mode():
                return -sum(float(m.log_likelihood(x, None, k=SELECT_K).sum()) for x, _ in validation.batches(500)) / len(validation)

        config = TrainConfig(**{**EXPERIMENTS["quadrants"], "epochs": args.epochs, "seed": seed})
        settings = {**base, "seed": seed, "epochs": args.epochs, "gsnn_weight": weight, "latent_dim": z, "fill": args.fill,
                    "hidden": HIDDEN, "select_k": SELECT_K}  # fmt: skip
        log(f"CVAE w={weight} z={z} seed {seed}")
        model, picked = trained(
            runs / f"cvae-w{weight}-z{z}-seed{seed}.pt", settings,
            lambda: Stage("the CVAE", make, train, config, validation_is, None),
            lambda: build_model(cvae_config),
        )  # fmt: skip
        log(f"CVAE w={weight} z={z} seed {seed}: {picked}")
        return model, picked

    # 2. the grid, on validation only
    grid = []
    for seed in args.seeds[: args.grid_seeds]:
        for weight in args.weights:
            for z in args.latent_dims:
                _, picked = cvae_of(weight, z, seed)
                grid.append({"gsnn_weight": weight, "latent_dim": z, "seed": seed, "validation_ncll_is": picked["validation_loss"],
                             "epoch_kept": picked["epoch"], "seconds": picked.get("seconds")})  # fmt: skip
    by_setting: dict[tuple, list[float]] = {}
    for row in grid:
        by_setting.setdefault((row["gsnn_weight"], row["latent_dim"]), []).append(row["validation_ncll_is"])
    chosen = min(by_setting, key=lambda s: sum(by_setting[s]) / len(by_setting[s]))
    log(f"chosen on validation: GSNN weight {chosen[0]}, z {chosen[1]}")
    partial = {"given": args.given, "grid": grid, "chosen": {"gsnn_weight": chosen[0], "latent_dim": chosen[1]}, "command": command}
    out = Path(args.out_dir) / f"quadrant-grid-{args.given}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**partial, "status": "grid done; test figures pending"}, indent=1) + "\n")

    # 3-4. the chosen setting's seeds, then test
    test = load_dataset("mnist", "test").binarized_once().subset(args.test_digits)
    per_seed = []
    for seed in args.seeds:
        cvae, picked = cvae_of(*chosen, seed)
        baseline, nn_picked = nn_of(seed)
        settings = {**base, "seed": seed, "chosen": list(chosen), "epochs": args.epochs, "k": args.k, "test_digits": args.test_digits}
        done = runs / f"test-seed{seed}.json"
        if done.exists() and json.loads(done.read_text())["settings"] == settings:
            row = json.loads(done.read_text())["result"]
        else:
            log(f"test, seed {seed}: {len(test)} digits, k = {max(args.k)}")
            started = time.perf_counter()
            nn_test = nn_ncll_per_digit(baseline, test)
            curves = bound_curves(cvae, test, tuple(args.k), seed)
            k = max(args.k)
            is_k = curves["is"][k]
            diff, se = paired_se(is_k, nn_test)
            row = {
                "seed": seed,
                "nn": {"ncll": round(float(nn_test.mean()), 3), "se": round(float(nn_test.double().std() / math.sqrt(len(nn_test))), 3),
                       "epoch_kept": nn_picked["epoch"], "validation_ncll": nn_picked["validation_loss"]},
                "cvae": {"ncll_is": round(float(is_k.mean()), 3), "k": k, "se": round(float(is_k.double().std() / math.sqrt(len(is_k))), 3),
                         "minus_nn": round(diff, 3), "minus_nn_se": round(se, 3), "over_nn": round(float(is_k.mean() / nn_test.mean()), 4),
                         "epoch_kept": picked["epoch"], "validation_ncll_is": picked["validation_loss"], "validation_k": SELECT_K},
                "curve": {str(j): {"is": round(float(curves["is"][j].mean()), 3), "mc": round(float(curves["mc"][j].mean()), 3),
                                   "mc_minus_is": round(paired_se(curves["mc"][j], curves["is"][j])[0], 3),
                                   "mc_minus_is_se": round(paired_se(curves["mc"][j], curves["is"][j])[1], 3)} for j in args.k},
                "seconds": round(time.perf_counter() - started, 1),
            }  # fmt: skip
            done.parent.mkdir(parents=True, exist_ok=True)
            done.write_text(json.dumps({"settings": settings, "result": row}))
        log(f"test, seed {seed}: {json.dumps(row)}")
        per_seed.append(row)
        out.write_text(
            json.dumps({**partial, "status": f"test figures for {len(per_seed)} of {len(args.seeds)} seeds", "seeds": per_seed}, indent=1)
            + "\n"
        )

    def over_seeds(values: list[float]) -> dict:
        mean = sum(values) / len(values)
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
        return {"mean": round(mean, 3), "sd": None if sd is None else round(sd, 3), "n_seeds": len(values)}

    result = {
        **partial,
        "protocol": "binarized",
        "reported_on": "test",  # the official test split's first n digits, binarised once; every choice on validation
        "n": len(test),
        "selected_on": "validation",
        "selection": (
            f"GSNN weight and z size by the lowest importance-sampled validation NCLL (k = {SELECT_K}, 500 digits binarised once) "
            f"of seed {args.seeds[0]}'s run; each CVAE keeps its best validation epoch, the NN its best (early stop, patience {NN_PATIENCE})"
        ),
        "setting": {"fill": args.fill, "gsnn_weight": chosen[0], "latent_dim": chosen[1], "hidden": HIDDEN, "epochs": args.epochs},
        "seeds": per_seed,
        "cvae_ncll_is": over_seeds([r["cvae"]["ncll_is"] for r in per_seed]),
        "nn_ncll": over_seeds([r["nn"]["ncll"] for r in per_seed]),
        "cvae_minus_nn": over_seeds([r["cvae"]["minus_nn"] for r in per_seed]),
        "estimators": {
            "is": "importance-sampled with q(z|x,y), weights p(y|x,z) p(z|x) / q(z|x,y): an upper bound on -log p(y|x) in expectation",
            "mc": "completions drawn from p(z|x): log of the mean of p(y|x,z), the same quantity's bound with the prior network as proposal",
        },
        "plus_minus": "per seed: the standard error over test digits (minus_nn_se: of the per-digit paired difference); over seeds: sd across seeds",
        "budget": (
            f"each CVAE {args.epochs:g} epochs (keeping its best validation epoch), the grid with {args.grid_seeds} seed(s), "
            f"{len(args.seeds)} seeds for the chosen setting; one CPU core at low priority"
        ),
        "status": "done",
    }
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
