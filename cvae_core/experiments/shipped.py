"""The full-length results that ship with the app (checkpoints/experiments/, read only)."""

import json
from pathlib import Path

# ---- the full-length results that ship with the app ---------------------------------------------
# checkpoints/experiments/ (read only, like every shipped file): the models the Experiments page opens on,
# and results/*.json, each the `--json` output of one command in checkpoints/make.sh. The folder is not
# one of the app's model folders, so these models stay off the pickers and Compare.
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "checkpoints" / "experiments"
SHIPPED_MODELS = {  # id -> file
    "quadrants-1": "quadrants-1.safetensors",  # cvae3 for one visible quadrant, the NN baseline inside
    "m2-100": "m2-100labels.safetensors",
    "m1m2-100": "m1m2-100labels.safetensors",
}


def shipped_results(folder: Path = SHIPPED_DIR / "results") -> dict[str, dict]:
    """Every shipped result, by file stem (quadrants-1, semisupervised-m2-100, ...); unreadable files are left out."""
    out = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            out[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return out


def load_shipped(model_id: str):
    """A shipped experiment model (a checkpoint.Checkpoint), by id."""
    from ..storage import checkpoint  # late: checkpoint imports the model registry, as this module does

    return checkpoint.load(SHIPPED_DIR / SHIPPED_MODELS[model_id])
