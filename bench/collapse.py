"""Posterior collapse under beta, measured: what each latent dimension costs and what it buys.

    CVAE_DATA_DIR=../shared/data OMP_NUM_THREADS=1 python bench/collapse.py [--variant cvae1] [--beta 8 16 32] [--epochs 10]
        [--switch-at 5 [--back-at 10]] --json

For each beta, the Train page's live defaults train for --epochs (seed 0) on mnist-5k's 4,500 training digits, and on
the 500 validation digits we measure each dimension's KL (nats per digit, the bars of the Train page), Burda et al.'s
activity (the variance of the posterior mean's offset from the prior's, active above 0.01), and what the dimension buys:
the reconstruction term's loss, in nats per digit, when that one dimension's posterior is replaced by its prior (the
mean over 20 draws, the same draws with and without). Under the beta-weighted objective a dimension pays for itself
when what it buys exceeds beta times its KL; one that does stays active, whatever beta. With --switch-at E the run
trains at beta = 1 for E epochs and at the beta given for the rest, as when a visitor moves the Train page's live dial
(the KL warm-up is over by then); with --back-at E2 as well, at beta = 1 again from epoch E2. The last line of stdout is one JSON object with --json.
"""

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cvae_core.metrics import latent_usage  # noqa: E402
from cvae_core.training.recipe import Recipe  # noqa: E402


@torch.inference_mode()
def reconstruction_bought(model, x: torch.Tensor, y: torch.Tensor, draws: int = 20) -> torch.Tensor:
    """(K,) nats per digit the reconstruction term loses when one dimension of q(z|x, y) is replaced by the prior's, for
    each dimension: the full posterior's reconstructions are drawn once and compared with each dimension's cut."""
    model.eval()
    x, y1h = model.observed(x), model._onehot(y)
    mu, logvar = model.posterior(x, y1h)
    prior_mu, prior_logvar = model.prior(x, y1h)
    prior_mu = torch.zeros_like(mu) if prior_mu is None else prior_mu  # N(0, I) when the model has no prior network
    prior_logvar = torch.zeros_like(logvar) if prior_logvar is None else prior_logvar
    generator = torch.Generator().manual_seed(0)
    lost = torch.zeros(mu.shape[1], dtype=torch.float64)
    for _ in range(draws):
        eps = torch.randn(mu.shape, generator=generator)  # the same noise with and without each cut
        full = model.target_log_likelihood(x, y, y1h, mu + eps * (0.5 * logvar).exp())
        for dim in range(mu.shape[1]):
            cut_mu, cut_logvar = mu.clone(), logvar.clone()
            cut_mu[:, dim], cut_logvar[:, dim] = prior_mu[:, dim], prior_logvar[:, dim]
            cut = model.target_log_likelihood(x, y, y1h, cut_mu + eps * (0.5 * cut_logvar).exp())
            lost[dim] += float((full - cut).mean())
    return lost / draws


def measure(variant: str, beta: float, epochs: float, switch_at: float | None = None, back_at: float | None = None) -> dict:
    # the run's betas as (from epoch, beta): what the service's set_beta does between two slices
    phases = [(0.0, beta)] if switch_at is None else [(0.0, 1.0), (switch_at, beta)] + ([(back_at, 1.0)] if back_at else [])
    trainer = Recipe.from_settings({"variant": variant, "beta": phases[0][1]}, {"epochs": epochs, "seed": 0}).build(device="cpu")
    for (_, phase_beta), (until, _) in zip(phases, [*phases[1:], (epochs, None)], strict=True):
        trainer.model.config.beta = phase_beta
        trainer.run(max_steps=round(until * trainer.steps_per_epoch) - trainer.step)
    usage = latent_usage(trainer.model, trainer.validation)
    bought_per_dim = reconstruction_bought(trainer.model, trainer.validation.images, trainer.validation.labels)
    dims = []
    for d in usage["variance"].argsort(descending=True).tolist():
        kl, bought = float(usage["kl_per_dim"][d]), float(bought_per_dim[d])
        dims.append({"dim": d, "variance": round(float(usage["variance"][d]), 4), "kl": round(kl, 4), "bought": round(bought, 3),
                     "pays_at_beta": bought > beta * kl})  # fmt: skip
    return {"variant": variant, "beta": beta, "epochs": epochs, "switch_at": switch_at, "back_at": back_at, "active_units": usage["active_units"],
            "kl": round(float(usage["kl_per_dim"].sum()), 3), "dims": dims}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", default="cvae1")
    parser.add_argument("--beta", type=float, nargs="+", default=[1.0, 8.0, 16.0, 32.0])
    parser.add_argument("--epochs", type=float, default=10.0)
    parser.add_argument("--switch-at", type=float, default=None, help="epochs at beta = 1 before the beta given")
    parser.add_argument("--back-at", type=float, default=None, help="with --switch-at: beta = 1 again from this epoch")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for beta in args.beta:
        row = measure(args.variant, beta, args.epochs, args.switch_at, args.back_at)
        rows.append(row)
        top = ", ".join(f"d{r['dim']}: var {r['variance']:.3f}, KL {r['kl']:.3f}, buys {r['bought']:.2f}" for r in row["dims"][:3])
        print(f"beta {beta:g}: {row['active_units']} active, KL {row['kl']:.3f} nats; {top}", flush=True)
    if args.json:
        print(json.dumps({"runs": rows}))


if __name__ == "__main__":
    main()
