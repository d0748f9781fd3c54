"""The CLI's reference outputs: every subcommand on a short budget, recorded, and checked to the bit after a move.

    python bench/cli_reference.py --record     # write bench/cli_reference.json (before moving code)
    python bench/cli_reference.py              # run again and compare; exit 1 and name what changed

Each subcommand prints JSON; the figures are kept as printed, files are kept as hashes (a checkpoint by its tensors'
bytes, since its metadata holds the date it was written). Wall-clock fields (seconds, dates, paths) are left out: they
differ between two runs of the same code. One thread, so sums are added in the same order every run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORD = Path(__file__).with_name("cli_reference.json")
# Fields that name a time, a place or a machine: they change between two runs of the same code.
VOLATILE = {"seconds", "elapsed_s", "wall_s", "saved_at", "created", "path", "out", "date", "time_s", "torch", "python",
            "samples_per_sec", "command"}


def _stable(value):
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in sorted(value.items()) if k not in VOLATILE and not k.endswith("_seconds")}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _tensor_hash(path: Path) -> str:
    sys.path.insert(0, str(ROOT))
    from cvae_core.storage import checkpoint

    ckpt = checkpoint.load(path)
    digest = hashlib.sha256()
    for name, tensor in sorted(ckpt.model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def commands(work: Path) -> list[tuple[str, list[str], Path | None]]:
    """(name, arguments, file it writes) for every subcommand, each on a budget of seconds."""
    model = work / "cvae2.safetensors"
    classifier = work / "classifier.safetensors"
    return [
        ("train", ["train", "--variant", "cvae2", "--dataset", "mnist-5k", "--split", "val", "--epochs", "2",
                   "--latent-dim", "4", "--hidden", "64", "--seed", "3", "--out", str(model)], model),
        ("train-m2", ["train", "--variant", "m2", "--dataset", "mnist-5k", "--split", "val", "--epochs", "1",
                      "--labels", "50", "--hidden", "64", "--seed", "1", "--out", str(work / "m2.safetensors")],
         work / "m2.safetensors"),
        ("train-keeping-best", ["train", "--variant", "cvae1", "--dataset", "mnist-5k", "--split", "train", "--epochs", "3",
                                "--latent-dim", "2", "--hidden", "32", "--seed", "5", "--out", str(work / "best.safetensors")],
         work / "best.safetensors"),
        ("evaluate", ["evaluate", str(model), "--dataset", "mnist-5k", "--split", "val", "--iw-samples", "5",
                      "--limit", "100", "--seed", "0"], None),
        ("sample", ["sample", str(model), "--label", "7", "--n", "4", "--seed", "2", "--out", str(work / "s.npy")],
         work / "s.npy"),
        ("info", ["info", str(model)], None),
        ("train-classifier", ["train-classifier", "--dataset", "mnist-5k", "--split", "val", "--epochs", "1",
                              "--seed", "0", "--out", str(classifier)], classifier),
        ("quadrants", ["quadrants", "--given", "1", "--dataset", "mnist-5k", "--eval-dataset", "mnist",
                       "--epochs", "1", "--nn-epochs", "1", "--iw-samples", "3", "--hidden", "32", "--limit", "50",
                       "--gsnn-weight", "0", "--fills", "none", "--seed", "0"], None),
        ("classification", ["classification", "--dataset", "mnist-5k", "--eval-dataset", "mnist", "--epochs", "1",
                            "--arch", "mlp", "--hidden", "32", "--seed", "0"], None),
        ("semisupervised", ["semisupervised", "--labels", "100", "--dataset", "mnist-5k", "--eval-dataset", "mnist",
                            "--epochs", "1", "--hidden", "32", "--latent-dim", "4", "--seed", "0"], None),
    ]


def run_all() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
    out = {}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for name, args, written in commands(work):
            done = subprocess.run([sys.executable, "-m", "cvae_core", *args, "--json"], cwd=ROOT, env=env,
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed ({done.returncode}):\n{done.stderr[-2000:]}")
            lines = [line for line in done.stdout.splitlines() if line.strip()]
            entry = {"output": _stable(json.loads(lines[-1]))}
            if written is not None:
                entry["file"] = _tensor_hash(written) if written.suffix == ".safetensors" else _file_hash(written)
            out[name] = entry
            print(f"  {name}: done", file=sys.stderr)
    return out


def differences(old, new, where="") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        found = []
        for key in sorted(set(old) | set(new)):
            if key not in old or key not in new:
                found.append(f"{where}/{key}: only in {'the record' if key in old else 'this run'}")
            else:
                found += differences(old[key], new[key], f"{where}/{key}")
        return found
    return [] if old == new else [f"{where}: {old!r} -> {new!r}"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write the reference instead of checking against it")
    args = parser.parse_args()
    outputs = run_all()
    if args.record:
        RECORD.write_text(json.dumps(outputs, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(outputs)} subcommands in {RECORD.name}")
        return 0
    changed = differences(json.loads(RECORD.read_text()), outputs)
    for line in changed:
        print(line)
    print("the CLI's outputs reproduce to the bit" if not changed else f"{len(changed)} differences")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
