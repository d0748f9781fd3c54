"""A peer for the shipped vae: pytorch/examples' `vae/main.py`, reimplemented offline, measured like ours.

    CVAE_DATA_DIR=../shared/data OMP_NUM_THREADS=1 python bench/peer_vae.py [--iw-samples 5000] [--limit N] --json

The peer is their network and recipe: 784-400-20 with ReLU (fc1, fc21/fc22, fc3, fc4), Adam at 1e-3, batch 128,
no KL warm-up, no augmentation, and their default run's length, 10 epochs of 60,000 digits = 4,690 steps. Here it
trains on the same 4,500 digits as `checkpoints/vae.safetensors` (mnist-5k's train split) with the same dynamic
binarisation, through the project's engine, and both are measured with the project's estimator (the
importance-weighted bound, the same proposals per digit) on the same binarised official test digits. The figure is
the paired difference of log p(x) over those digits with its standard error: ours beats the peer when it is above
two standard errors. The last line of stdout is one JSON object with --json.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cvae_core.compare import measure, paired_difference  # noqa: E402
from cvae_core.data import load_dataset  # noqa: E402
from cvae_core.models import ModelConfig, model_config  # noqa: E402
from cvae_core.models.base import CVAEModel  # noqa: E402
from cvae_core.models.vae import VAE  # noqa: E402
from cvae_core.noise import initial_weights  # noqa: E402
from cvae_core.storage import checkpoint  # noqa: E402
from cvae_core.training.engine import TrainConfig, Trainer  # noqa: E402

EXAMPLES_STEPS = 4_690  # pytorch/examples vae/main.py: 10 epochs x ceil(60,000 / 128) batches


class ExamplesVAE(VAE):
    """pytorch/examples' VAE: fc1 784->400, fc21/fc22 400->20 (mean, log-variance), fc3 20->400, fc4 400->784,
    ReLU. A vae in every other respect (the same bound, sampling and estimator)."""

    def __init__(self, config: ModelConfig):
        CVAEModel.__init__(self, config)  # their layers, not the vae's MLPs
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def posterior(self, x, y1h):
        h = F.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    def decode(self, z, y1h):
        return self.fc4(F.relu(self.fc3(z)))  # logits; their sigmoid lives in the Bernoulli likelihood


def train_peer(train, seed: int = 0) -> ExamplesVAE:
    with initial_weights(seed):
        model = ExamplesVAE(model_config(variant="vae", latent_dim=20, hidden=400, layers=1))
    steps_per_epoch = math.ceil(len(train) / 128)
    config = TrainConfig(epochs=EXAMPLES_STEPS / steps_per_epoch, batch_size=128, lr=1e-3, seed=seed, warmup_epochs=0.0, kl_start=1.0)
    trainer = Trainer(model, train, config=config, device="cpu")
    trainer.run_to_end()
    assert trainer.step == EXAMPLES_STEPS, trainer.step
    return model.eval()


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ours", default=str(ROOT / "checkpoints" / "vae.safetensors"))
    p.add_argument("--iw-samples", type=int, default=5000)
    p.add_argument("--limit", type=int, default=0, help="only the first N test digits (after binarising the whole split)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    train = load_dataset("mnist-5k", "train")
    test = load_dataset("mnist", "test").binarized_once().subset(args.limit)
    started = time.perf_counter()
    peer = train_peer(train, args.seed)
    trained_s = time.perf_counter() - started
    ours = checkpoint.load(args.ours).model
    figures = {}
    for name, model in (("ours", ours), ("peer", peer)):
        started = time.perf_counter()
        figures[name] = measure(model, test, iw_samples=args.iw_samples, seed=args.seed)
        print(f"{name}: log p(x) {figures[name].figures['log_px']:.3f} ± {figures[name].errors['log_px']:.3f} "
              f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)  # fmt: skip
    diff, se = paired_difference(figures["ours"], figures["peer"], "log_px")
    result = {
        "protocol": "binarized",
        "estimator": f"importance-weighted bound, k = {args.iw_samples}",
        "test_digits": len(test),
        "train_digits": len(train),
        "peer_steps": EXAMPLES_STEPS,
        "peer_train_seconds": round(trained_s, 1),
        "machine": f"{torch.get_num_threads()} thread(s)",
        **{f"{name}_{key}": round(m.figures[key], 3) for name, m in figures.items() for key in ("log_px", "elbo")},
        **{f"{name}_log_px_se": round(m.errors["log_px"], 3) for name, m in figures.items()},
        "difference": round(diff, 3),
        "difference_se": round(se, 3),
        "ours_beats_peer": diff > 2 * se,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return result


if __name__ == "__main__":
    main()
