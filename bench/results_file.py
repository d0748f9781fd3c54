"""A long run's results file: written whole, indented, to checkpoints/experiments/results/ (or --out-dir), and printed
on one line as the command's last output."""

import json
from pathlib import Path


def write_results(out_dir, name: str, result: dict) -> Path:
    """`result` as `out_dir`/`name`, the folder made if needed; returns the path."""
    path = Path(out_dir) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result), flush=True)
    return path
