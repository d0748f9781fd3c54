"""One training step, slowly: a minibatch of a few digits through a copy of a model, stage by stage.

x -> the recognition network's mean and standard deviation -> a fixed noise draw eps -> z = mu + sigma * eps -> the
decoder's Bernoulli means -> each term of the bound -> each layer's gradient norm -> one gradient-descent step on the
weights -> the same digits' terms after the step, with the same eps, so that before and after compare one draw.

Everything is computed at once on a copy of the model (the model itself never changes); the Train page reveals the
stages one click at a time. The step is plain gradient descent, w <- w - lr * dL/dw (Kingma & Welling 2013, sec. 2.3,
with the reparameterised gradient), so that the weights move by exactly what the gradients say.
"""

import copy
from dataclasses import dataclass

import numpy as np
import torch

from .data import Dataset, binarize
from .distributions import gaussian_kl

STAGES = ("input", "posterior", "noise", "latent", "decoded", "loss", "gradients", "update", "after")


@dataclass(frozen=True)
class Step:
    """Every stage's tensors (numpy, batch first) and figures for one step on one minibatch."""

    x: np.ndarray  # (B, 784) the binarised digits the step reads
    labels: np.ndarray  # (B,)
    mu: np.ndarray  # (B, K) the posterior's means
    sigma: np.ndarray  # (B, K) and standard deviations
    eps: np.ndarray  # (B, K) the fixed noise, N(0, I)
    z: np.ndarray  # (B, K) = mu + sigma * eps
    decoded: np.ndarray  # (B, 784) the decoder's Bernoulli means for that z
    terms: dict  # per digit, (B,) each: recon, kl, elbo (nats), before the step
    loss: float  # the loss the step descends: -(mean recon - kl_weight * mean kl), nats per digit
    gradient_norms: dict  # layer (parameter name) -> the L2 norm of its gradient
    update_norms: dict  # layer -> the L2 norm of its weights' change
    lr: float
    terms_after: dict  # the same digits and eps after the step
    loss_after: float


def _forward(model, x, y, eps, kl_weight: float):
    """The bound's pieces for digits x with labels y and noise eps, through the model's own networks."""
    y1h = model._onehot(y if model.uses_label else None)
    seen = model.observed(x)
    mu, logvar = model.posterior(seen, y1h)
    prior_mu, prior_logvar = model.prior(seen, y1h)
    sigma = torch.exp(0.5 * logvar)
    z = mu + sigma * eps
    recon = model.target_log_likelihood(seen, y, y1h, z)
    kl = gaussian_kl(mu, logvar, prior_mu, prior_logvar).sum(-1)
    loss = -(recon.mean() - kl_weight * model.config.beta * kl.mean())
    return {"mu": mu, "sigma": sigma, "z": z, "y1h": y1h, "recon": recon, "kl": kl, "loss": loss}


def one_step(model, digits: Dataset, n: int = 8, lr: float = 1e-4, seed: int = 0, kl_weight: float = 1.0) -> Step:
    """One gradient step of `model` (a copy) on `n` digits of `digits` drawn with `seed`, binarised once with it, with
    a fixed noise draw eps used before and after the step."""
    generator = torch.Generator().manual_seed(seed)
    pick = torch.randperm(len(digits), generator=generator)[:n]
    x = digits.images[pick]
    if getattr(model, "bernoulli_pixels", False):
        x = binarize(x, generator)  # the training protocol: a 0/1 draw of each grey pixel
    y = digits.labels[pick]
    work = copy.deepcopy(model).train().requires_grad_(True)
    device = next(work.parameters()).device
    x, y = x.to(device), y.to(device)
    eps = torch.randn(n, work.config.latent_dim, generator=generator).to(device)

    before = _forward(work, x, y, eps, kl_weight)
    with torch.no_grad():  # what the decoder draws for that z, before the weights move
        decoded = torch.sigmoid(work.decode(before["z"], before["y1h"])).cpu().numpy() if work.makes_images else None
    work.zero_grad(set_to_none=True)
    before["loss"].backward()
    named = [(name, p) for name, p in work.named_parameters() if p.grad is not None]
    gradient_norms = {name: float(p.grad.norm()) for name, p in named}
    with torch.no_grad():
        for _name, p in named:
            p -= lr * p.grad  # the step: every weight moves against its gradient
    update_norms = {name: lr * norm for name, norm in gradient_norms.items()}
    with torch.no_grad():
        after = _forward(work, x, y, eps, kl_weight)

    def per_digit(parts) -> dict:
        return {
            "recon": parts["recon"].detach().cpu().numpy(),
            "kl": parts["kl"].detach().cpu().numpy(),
            "elbo": (parts["recon"] - parts["kl"]).detach().cpu().numpy(),
        }

    return Step(
        x=x.cpu().numpy(), labels=y.cpu().numpy(), mu=before["mu"].detach().cpu().numpy(), sigma=before["sigma"].detach().cpu().numpy(),
        eps=eps.cpu().numpy(), z=before["z"].detach().cpu().numpy(),
        decoded=decoded,
        terms=per_digit(before), loss=float(before["loss"].detach()), gradient_norms=gradient_norms, update_norms=update_norms, lr=lr,
        terms_after=per_digit(after), loss_after=float(after["loss"]),
    )  # fmt: skip
