"""Issue 41, item 4: cvae3 as a classifier against the plain classifier with the same layers, over several seeds, each
with McNemar's exact test on the same test digits and the paired difference over seeds with its 95 % interval.

Each seed runs experiments.classification (4,500 train digits, each network keeping its best validation epoch, the
official test split); finished seeds are kept in --runs-dir and skipped when the command runs again.

    CVAE_DATA_DIR=/work/shared/data OMP_NUM_THREADS=1 nice -n 10 python bench/classification_seeds.py \
        --arch mlp --seeds 0 1 2 3 4 --runs-dir ../runs41-classification
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
from cvae_core.experiments.classification import classification  # noqa: E402
from cvae_core.kingma import paired_difference  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", default="mlp", choices=("mlp", "conv"))
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--shift", type=int, default=1)
    p.add_argument("--epochs", type=float, default=50.0)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--runs-dir", default=str(ROOT.parent / "runs41-classification"))
    p.add_argument("--out-dir", default=str(ROOT / "checkpoints" / "experiments" / "results"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    train, validation, test = load_dataset("mnist-5k", "train"), load_dataset("mnist-5k", "val"), load_dataset("mnist", "test")
    runs = Path(args.runs_dir)
    rows = []
    for seed in args.seeds:
        settings = {"arch": args.arch, "hidden": args.hidden, "shift": args.shift, "epochs": args.epochs, "seed": seed}
        done = runs / f"{args.arch}-seed-{seed}.json"
        if done.exists() and json.loads(done.read_text())["settings"] == settings:
            row = json.loads(done.read_text())["result"]
        else:
            print(f"[{time.strftime('%H:%M:%S')}] seed {seed}", file=sys.stderr, flush=True)
            started = time.perf_counter()
            row = classification(
                train, test, epochs=args.epochs, seed=seed, hidden=args.hidden, arch=args.arch, shift_pixels=args.shift, validation=validation
            )  # fmt: skip
            row = {"seed": seed, **row, "seconds": round(time.perf_counter() - started, 1)}
            runs.mkdir(parents=True, exist_ok=True)
            done.write_text(json.dumps({"settings": settings, "result": row}))
        print(f"[{time.strftime('%H:%M:%S')}] seed {seed}: {json.dumps(row)}", file=sys.stderr, flush=True)
        rows.append(row)

    def spread(key):
        v = torch.tensor([r[key] for r in rows], dtype=torch.float64)
        return {"mean": round(float(v.mean()), 4), "std": round(float(v.std()), 4) if len(v) > 1 else 0.0, "runs": len(v)}

    out = {
        "experiment": "cvae3 as a classifier against a plain classifier with the same layers, over seeds (issue 41)",
        "arch": args.arch,
        "epochs": args.epochs,
        "n": len(test),
        "train_digits": len(train),
        "selected_on": "validation",
        "selection_rule": "each network keeps its epoch with the best accuracy on the 500 validation digits (their labels)",
        "pixels_tested_on": {"cvae3_accuracy": "grey test digits", "baseline_accuracy": "grey test digits"},
        "reported_on": "test",
        "command": "CVAE_DATA_DIR=/work/shared/data OMP_NUM_THREADS=1 nice -n 10 python bench/classification_seeds.py "
        + " ".join(sys.argv[1:]),
        "runs": rows,
        "cvae3_accuracy": spread("cvae3_accuracy"),
        "baseline_accuracy": spread("baseline_accuracy"),
        "plus_minus": "std: sample standard deviation over seeds; per seed, McNemar's exact test on the same test digits",
    }
    if len(rows) >= 2:
        out["cvae3_minus_baseline"] = paired_difference([r["cvae3_accuracy"] for r in rows], [r["baseline_accuracy"] for r in rows])
    write_results(args.out_dir, f"classification-{args.arch}-seeds.json", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
