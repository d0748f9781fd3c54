"""The few distributions every variant needs, written out so the maths is visible.

All log-densities are in nats and summed over the event dimensions, one value per sample.
"""

import math

import torch
import torch.nn.functional as F

from .noise import standard_normal_like

LOG_2PI = math.log(2 * math.pi)


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """z = mu + temperature * sigma * eps, eps ~ N(0, I) (Kingma & Welling 2013, eq. 10); eps from this thread's
    generator (cvae_core.noise)."""
    eps = standard_normal_like(mu)
    return mu + temperature * torch.exp(0.5 * logvar) * eps


def gaussian_kl(mu_q, logvar_q, mu_p=None, logvar_p=None) -> torch.Tensor:
    """KL(N(mu_q, var_q) || N(mu_p, var_p)) per latent dimension, shape (B, K).

    With no prior given, the prior is N(0, I) and this is Kingma & Welling's
    -1/2 (1 + log var - mu^2 - var) (their Appendix B).
    """
    if mu_p is None:
        return -0.5 * (1 + logvar_q - mu_q.pow(2) - logvar_q.exp())
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1)


def gaussian_log_density(z, mu=None, logvar=None) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))) summed over the last dimension; N(0, I) when mu is None."""
    if mu is None:
        return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
    return -0.5 * ((z - mu).pow(2) / logvar.exp() + logvar + LOG_2PI).sum(-1)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """log p(x | logits) for grey pixels in [0, 1] (the cross-entropy form), summed per sample.

    `mask` (1 = counted) restricts the sum to some pixels, e.g. the missing quadrants.
    """
    ll = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    if mask is not None:
        ll = ll * mask
    return ll.flatten(1).sum(-1)


def categorical_log_likelihood(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log p(y | logits) for integer labels, one value per sample."""
    return -F.cross_entropy(logits, labels, reduction="none")
