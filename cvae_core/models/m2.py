"""`m2`: the semi-supervised generative model M2 (Kingma, Rezende, Mohamed & Welling, NIPS 2014).

Graphical model: y -> x <- z, y and z independent; y is observed for a few digits only.
p(y) uniform, p(z) = N(0, I), p(x|y,z) Bernoulli decoder; q(y|x) a classifier and q(z|x,y)
a Gaussian encoder.

Labelled digit:   log p(x,y) >= L(x,y) = E_q(z|x,y)[log p(x|y,z) + log p(y)] - KL(q(z|x,y) || p(z))
Unlabelled digit: log p(x)   >= U(x) = sum_y q(y|x) L(x,y) + H(q(y|x))   (y summed out)
Objective (eq. 9): sum L + sum U + alpha * E_labelled[log q(y|x)], so that q(y|x) also learns
from the labels directly.

`elbo(x, y)` reports the bound on log p(x|y) = log p(x,y) + log 10, comparable with cvae1/cvae2.

M1+M2 (config.m1_latent > 0, the paper's best model, sec. 3.2 and `run_2layer_ssl.py` in their code):
M2 is fitted to the code z1 of M1, a VAE trained beforehand on every digit, instead of to pixels. M1's
recognition network q(z1|x) is kept here, frozen; while training M2 sees a fresh draw z1 ~ q(z1|x) of each
digit (Kingma et al. sample z1 too), at test time its mean. p(z1|y,z2) is a diagonal Gaussian, and M2's
networks are MLPs on the k-D code. A digit's class is easier to read from z1 than from pixels, so q(y|z1)
learns more from the same few labels.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..capabilities import Capabilities
from ..distributions import gaussian_log_density, reparameterize
from ..errors import ConfigError
from ..nets import ConditionalMLP, image_decoder, image_encoder
from ..text import N_
from .base import LATENT_RANGE, CVAEModel, ModelConfig


@dataclass
class M2Config(ModelConfig):
    """m2's own settings beside the shared ones."""

    variant: str = "m2"
    alpha: float = 50.0  # weight of the classification loss on labelled digits
    # 0 models pixels (M2); k > 0 stacks M2 on M1 (Kingma et al. 2014's M1+M2): M2 models the k-D code z1 of M1's
    # recognition network q(z1|x), a VAE trained first on every digit and then frozen.
    m1_latent: int = 0

    def validate_own(self) -> None:
        lo, hi = LATENT_RANGE
        if self.m1_latent and not (isinstance(self.m1_latent, int) and lo <= self.m1_latent <= hi):
            raise ConfigError(
                N_("M1's latent size must be 0 (no M1) or an integer from {low} to {high}, got {m1_latent_size}"),
                low=lo,
                high=hi,
                m1_latent_size=repr(self.m1_latent),
            )


class M2(CVAEModel):
    name = "m2"
    config_class = M2Config
    dials_note = N_(
        "**m2**: y and z are independent. Moving only y keeps the style (a column above), moving only z keeps the digit "
        "(the right strip): the model learned this split from mostly unlabelled digits."
    )

    @classmethod
    def capabilities_for(cls, config):
        # M1+M2 writes codes z1, not pixels; M1 reads binarised digits, so it is on the pixel protocol all the same
        return Capabilities(classifies=True, learns_from_unlabelled=True, makes_images=not config.m1_latent)

    def __init__(self, config):
        super().__init__(config)
        c = config
        if c.m1_latent:
            # M1's q(z1|x), the same network as a vae's encoder (its weights are copied in), never trained here
            self.m1 = image_encoder(c.arch, 0, c.hidden, c.layers, 2 * c.m1_latent).requires_grad_(False)
            self.classifier = ConditionalMLP(c.m1_latent, 0, c.hidden, c.layers, c.n_classes)  # q(y|z1)
            self.encoder = ConditionalMLP(c.m1_latent, c.n_classes, c.hidden, c.layers, 2 * c.latent_dim)  # q(z2|z1,y)
            self.decoder = ConditionalMLP(c.latent_dim, c.n_classes, c.hidden, c.layers, 2 * c.m1_latent)  # p(z1|y,z2)
        else:
            self.m1 = None
            self.classifier = image_encoder(c.arch, 0, c.hidden, c.layers, c.n_classes)  # q(y|x)
            self.encoder = image_encoder(c.arch, c.n_classes, c.hidden, c.layers, 2 * c.latent_dim)  # q(z|x,y)
            self.decoder = image_decoder(c.arch, c.latent_dim, c.n_classes, c.hidden, c.layers)  # p(x|y,z)

    def observed(self, x: torch.Tensor) -> torch.Tensor:
        """What M2 models: the pixels x (B, 784), or for M1+M2 M1's code z1 (B, m1_latent), drawn from q(z1|x)
        in training and its mean otherwise."""
        if self.m1 is None:
            return x
        with torch.no_grad():
            mu, logvar = self.m1(x).chunk(2, -1)
        return reparameterize(mu, logvar) if self.training else mu

    def target_log_likelihood(self, x, y, y1h, z):
        if self.m1 is None:
            return super().target_log_likelihood(x, y, y1h, z)
        mu, logvar = self.decode(z, y1h).chunk(2, -1)
        return gaussian_log_density(x, mu, logvar)  # log p(z1 | y, z2); x here is the code z1

    def elbo(self, x, y=None):
        return super().elbo(self.observed(x), y)

    def log_likelihood(self, x, y=None, k: int = 100, max_rows: int = 8192):
        return super().log_likelihood(self.observed(x), y, k, max_rows)

    def loss(self, x, y, kl_weight: float = 1.0, labelled_weight: float | None = None, **batch):
        """-J^alpha per digit. Labels of -1 mark unlabelled digits, whose y is summed out. Without labelled_weight the
        classification term is alpha times the labelled digits' mean; with it (Kingma et al.'s batches, which hold
        labelled digits in data proportion: TrainConfig.labelled_mix), each labelled digit's term weighs
        alpha * labelled_weight, summed and divided by the batch like the bound."""
        x = self.observed(x)
        c = self.config.n_classes
        labelled = y >= 0
        n_lab = int(labelled.sum())
        x_unl = x[~labelled]
        n_unl = x_unl.shape[0]
        log_py = -math.log(c)
        # Every unlabelled digit is paired with every label: one batched pass for both kinds.
        x_all = torch.cat([x[labelled], x_unl.repeat(c, 1)])
        y_all = torch.cat([y[labelled], torch.arange(c, device=x.device).repeat_interleave(n_unl)])
        recon, kl_per_dim, _ = self.elbo_terms(x_all, y_all)
        kl = kl_per_dim.sum(-1)

        logits = self.classifier(x)
        log_q = F.log_softmax(logits, -1)
        # Each digit's weight on each (digit, label) row of the bound: 1 for its true label when labelled, q(y|x) for
        # every label when not (Kingma et al. 2014, eq. 7). The reported terms are these weighted sums, so that
        # recon - kl + log p(y) + entropy is exactly the bound reported as the ELBO.
        weight, entropy, cls_loss = x.new_ones(n_lab), x.new_zeros(()), x.new_zeros(())
        if n_lab:
            cls_loss = F.nll_loss(log_q[labelled], y[labelled], reduction="mean" if labelled_weight is None else "sum")
            if labelled_weight is not None:
                cls_loss = cls_loss * labelled_weight / x.shape[0]
        if n_unl:
            q = log_q[~labelled].exp()  # (n_unl, c)
            entropy = -(q * log_q[~labelled]).sum()
            weight = torch.cat([weight, q.T.reshape(-1)])  # rows are label-major: label 0's n_unl copies first
        n = x.shape[0]
        recon_sum, kl_sum = (weight * recon).sum(), (weight * kl).sum()
        bound = recon_sum + n * log_py - kl_weight * self.config.beta * kl_sum + entropy  # J without alpha, KL weighted
        loss = -bound / n + self.config.alpha * cls_loss
        terms = {"recon": recon_sum / n, "kl": kl_sum / n, "log_py": x.new_tensor(log_py), "entropy": entropy / n}
        elbo = terms["recon"] - terms["kl"] + terms["log_py"] + terms["entropy"]  # the bound on log p(x, y) or log p(x)
        return loss, {"elbo": elbo, **terms, "classification": self.config.alpha * cls_loss}

    @torch.inference_mode()
    def classify(self, x: torch.Tensor, k: int = 0) -> torch.Tensor:
        """q(y | x): the classifier that the semi-supervised objective trains."""
        return torch.softmax(self.classifier(self.observed(x)), -1)
