"""Issue 41, item 1: each quadrant model's NCLL as its tightest estimate, the importance-sampled bound at k = 1,000,
with a per-digit paired standard error against the NN, and MC's distance from it at each k; the CVAE and the NN each
keep their best validation epoch (experiments.quadrant_bounds_plan).

The CVAE's setting is fixed in advance (the fill and GSNN weight the previous round chose on validation for one
quadrant: Sohn's NN-filled prior, weight 0.5, 32-D z); the grid of issue 41 is not run (see the results' "budget").
Resumable: each finished number of quadrants is kept in --runs-dir and skipped when the command runs again.

    CVAE_DATA_DIR=/work/shared/data OMP_NUM_THREADS=1 nice -n 10 python bench/quadrant_bounds.py \
        --given 1 2 3 --test-digits 10000 2000 2000 --runs-dir ../runs41-quadrants
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results_file import write_results  # noqa: E402
from cvae_core.data import load_dataset  # noqa: E402
from cvae_core.experiments.quadrant_bounds import quadrant_bounds_plan  # noqa: E402
from cvae_core.training.stages import run_plan  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--given", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--test-digits", type=int, nargs="+", default=[10000, 2000, 2000], help="the first n official test digits, per --given")
    p.add_argument("--epochs", type=float, default=100.0)
    p.add_argument("--k", type=int, nargs="+", default=[10, 100, 1000])
    p.add_argument("--fill", default="prior")
    p.add_argument("--gsnn-weight", type=float, default=0.5)
    p.add_argument("--latent-dim", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--runs-dir", default=str(ROOT.parent / "runs41-quadrants"))
    p.add_argument("--out-dir", default=str(ROOT / "checkpoints" / "experiments" / "results"))
    p.add_argument("--train-digits", type=int, default=0, help="0: all 4,500 (smaller only to try the script)")
    args = p.parse_args(argv)
    if len(args.test_digits) != len(args.given):
        p.error("give one --test-digits per --given")
    torch.set_num_threads(1)
    train, validation = load_dataset("mnist-5k", "train").subset(args.train_digits), load_dataset("mnist-5k", "val")
    test = load_dataset("mnist", "test").binarized_once()  # the whole split binarised once, then its first n
    runs = Path(args.runs_dir)
    for given, n in zip(args.given, args.test_digits, strict=True):
        settings = {k: getattr(args, k) for k in ("epochs", "k", "fill", "gsnn_weight", "latent_dim", "seed", "train_digits")}
        settings.update(given=given, test_digits=n)
        done = runs / f"given-{given}.json"
        if done.exists() and json.loads(done.read_text()).get("settings") == settings:
            result = json.loads(done.read_text())["result"]
        else:
            started = time.perf_counter()
            print(f"[{time.strftime('%H:%M:%S')}] given {given}: training and scoring {n} test digits", file=sys.stderr, flush=True)
            plan = quadrant_bounds_plan(
                given, train, validation, test.subset(n), fill=args.fill, gsnn_weight=args.gsnn_weight,
                latent_dim=args.latent_dim, epochs=args.epochs, ks=tuple(args.k), seed=args.seed,
            )  # fmt: skip
            result = run_plan(plan)
            result["reported_on"] = "test"  # the official test split's first n digits; every choice on validation
            result["seconds"] = round(time.perf_counter() - started, 1)
            result["command"] = "CVAE_DATA_DIR=/work/shared/data OMP_NUM_THREADS=1 nice -n 10 python bench/quadrant_bounds.py " + " ".join(
                sys.argv[1:]
            )
            result["budget"] = (
                "one setting fixed in advance (no grid over GSNN weights or z sizes, one seed), one CPU core at low priority; "
                "the grid of issue 41 ({0, 0.25, 0.5, 0.75, 0.9} x z 8/16/32 x 3 seeds) is not run"
            )
            runs.mkdir(parents=True, exist_ok=True)
            done.write_text(json.dumps({"settings": settings, "result": result}))
        write_results(args.out_dir, f"quadrant-bounds-{given}.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
