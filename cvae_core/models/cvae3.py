"""`cvae3`: structured output prediction, p(y|x) (Sohn, Lee & Yan, NIPS 2015).

Graphical model: x -> z -> y and x -> y; x is the input, y the output to predict.
p(z|x) = N(mu(x), diag sigma(x)^2), the *prior network*; p(y|x,z) the generation network;
q(z|x,y) the recognition network. Two targets:

* "label": y is the class; a classifier. Prediction sets z to the mean of p(z|x).
* "quadrants": x is the digit with some quadrants hidden, y the hidden pixels (Sohn's MNIST
  experiment); the likelihood counts only the hidden pixels.

With config.nn_fill (quadrants only), a frozen copy of the deterministic baseline NN guesses the hidden
pixels, and the prior network reads the visible pixels with that guess in the hidden ones: Sohn's
"baseline-initialised" CVAE (sec. 4.2, fig. 2c; Pyro's examples/cvae does the same). With
"prior+generation" the generation network reads the filled image too. The recognition network always
sees the truth.

Training uses Sohn's hybrid objective (eq. 8):
(1 - w) * ELBO + w * log p(y | x, z ~ p(z|x)), the second term (GSNN) trains the path used
at test time, where z comes from the prior network and not from q.
"""

import math
from dataclasses import dataclass

import torch

from ..capabilities import Capabilities
from ..distributions import bernoulli_log_likelihood, categorical_log_likelihood, reparameterize
from ..errors import ConfigError
from ..nets import IMAGE_DIM, IMAGE_SIDE, ConditionalMLP, image_encoder
from ..text import N_
from .base import CVAEModel, ModelConfig, sample_chunks

NN_FILLS = ("none", "prior", "prior+generation")


@dataclass
class Cvae3Config(ModelConfig):
    """cvae3's own settings beside the shared ones."""

    variant: str = "cvae3"
    gsnn_weight: float = 0.5  # share of Sohn's GSNN term in the hybrid objective
    target: str = "label"  # "label" (a classifier) or "quadrants" (image completion)
    given_quadrants: int = 2  # with target "quadrants": how many quadrants are seen
    # quadrants, Sohn et al. 2015 sec. 4.2 (and Pyro's examples/cvae): a frozen copy of the NN baseline fills the
    # hidden pixels of the prior network's input with its guess, so p(z|x) starts from the NN's answer instead of from
    # nothing. "none"; "prior" (Sohn's); "prior+generation" (the generation net sees it too).
    nn_fill: str = "none"

    def validate_own(self) -> None:
        if self.target not in ("label", "quadrants"):
            raise ConfigError(N_("cvae3 target must be 'label' or 'quadrants', got {target}"), target=repr(self.target))
        if not 1 <= self.given_quadrants <= 3:
            raise ConfigError(N_("given quadrants must be 1, 2 or 3, got {given_quadrants}"), given_quadrants=self.given_quadrants)
        if self.nn_fill not in NN_FILLS:
            raise ConfigError(N_("nn_fill must be one of {fills}, got {nn_fill}"), fills=", ".join(NN_FILLS), nn_fill=repr(self.nn_fill))


HALF = IMAGE_SIDE // 2
# Quadrants in the order they are given, as in Pyro's reproduction of Sohn's experiment:
# 1 = bottom-left; 2 = the left half; 3 = all but the bottom-right.
QUADRANT_ORDER = ((1, 0), (0, 0), (0, 1))


def quadrant_mask(given: int, device=None) -> torch.Tensor:
    """Flat (784,) mask: 1 on the `given` visible quadrants, 0 on the hidden ones."""
    mask = torch.zeros(IMAGE_SIDE, IMAGE_SIDE, device=device)
    for row, col in QUADRANT_ORDER[:given]:
        mask[row * HALF : (row + 1) * HALF, col * HALF : (col + 1) * HALF] = 1
    return mask.flatten()


def masked_input(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The visible part of x, hidden pixels set to -1 so that they differ from black ink (0)."""
    return x * mask - (1 - mask)


def filled_with_guess(nn_net, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The visible pixels of x, the hidden ones replaced by the NN baseline's guess (probabilities): its completion,
    and what an NN-filled prior network reads."""
    with torch.no_grad():
        guess = torch.sigmoid(nn_net(masked_input(x, mask)))
    return x * mask + guess * (1 - mask)


class CVAE3(CVAEModel):
    name = "cvae3"
    config_class = Cvae3Config
    # cvae3 predicts y: a heavy early KL has no decoder to teach about y, so the usual warm-up from 0.
    training_overrides = {"lr": 1e-3, "kl_start": 0.0, "warmup_epochs": 1.0}

    @classmethod
    def capabilities_for(cls, config):
        if config.target == "quadrants":  # completes images: no label, and the hidden pixels are a Bernoulli target
            return Capabilities(uses_label=False, makes_images=False)
        return Capabilities(makes_images=False, classifies=True, bernoulli_pixels=False)  # p(y|x): a categorical target

    def __init__(self, config):
        super().__init__(config)
        c = config
        k = c.latent_dim
        self.quadrants = c.target == "quadrants"
        if self.quadrants:
            self.register_buffer("mask", quadrant_mask(c.given_quadrants))
            # q(z | x, y): sees the visible part and the hidden truth, as two image channels
            self.recognition = image_encoder(c.arch, 0, c.hidden, c.layers, 2 * k, in_channels=2)
            out_dim = IMAGE_SIDE * IMAGE_SIDE  # logits of every pixel; only the hidden ones count
        else:
            self.recognition = image_encoder(c.arch, c.n_classes, c.hidden, c.layers, 2 * k)
            out_dim = c.n_classes
        self.prior_net = image_encoder(c.arch, 0, c.hidden, c.layers, 2 * k)  # p(z | x)
        self.generation = image_encoder(c.arch, k, c.hidden, c.layers, out_dim)  # p(y | x, z): z fed to every layer
        self.fill = c.nn_fill if self.quadrants else "none"
        # the NN baseline (experiments.QuadrantBaseline's network; its trained weights are copied in), frozen
        self.baseline_net = (
            ConditionalMLP(IMAGE_DIM, 0, c.hidden, c.layers, IMAGE_DIM).requires_grad_(False) if self.fill != "none" else None
        )

    # x is always the full image; the visible input is derived from it.
    def _input(self, x):
        return masked_input(x, self.mask) if self.quadrants else x

    def _filled(self, x):
        return filled_with_guess(self.baseline_net, x, self.mask)

    def posterior(self, x, y1h):
        if self.quadrants:
            return self.recognition(torch.cat([self._input(x), x], -1)).chunk(2, -1)
        return self.recognition(x, y1h).chunk(2, -1)

    def prior(self, x, y1h=None):
        return self.prior_net(self._filled(x) if self.fill != "none" else self._input(x)).chunk(2, -1)

    def decode(self, z, x):
        """Logits of y given the input and z (class logits, or pixel logits)."""
        return self.generation(self._filled(x) if self.fill == "prior+generation" else self._input(x), z)

    def target_log_likelihood(self, x, y, y1h, z):
        logits = self.decode(z, x)
        if self.quadrants:
            return bernoulli_log_likelihood(logits, x, mask=1 - self.mask)
        return categorical_log_likelihood(logits, y.long())

    def loss(self, x, y, kl_weight: float = 1.0, **batch):
        cvae_loss, terms = super().loss(x, y, kl_weight)
        w = self.config.gsnn_weight
        if w == 0:
            return cvae_loss, terms
        prior_mu, prior_logvar = self.prior(x)
        gsnn = self.target_log_likelihood(x, y, None, reparameterize(prior_mu, prior_logvar)).mean()
        return (1 - w) * cvae_loss - w * gsnn, terms

    @torch.inference_mode()
    def classify(self, x: torch.Tensor, k: int = 0) -> torch.Tensor:
        """p(y | x, z = mean of p(z|x)), Sohn's deterministic inference."""
        if self.quadrants:
            raise NotImplementedError("this cvae3 completes quadrants; it has no label to predict")
        prior_mu, _ = self.prior(x)
        return torch.softmax(self.decode(prior_mu, x), -1)

    @torch.inference_mode()
    def log_likelihood_mc(self, x: torch.Tensor, k: int = 100, max_rows: int = 8192) -> torch.Tensor:
        """Monte Carlo estimate of log p(y|x) = log 1/k sum_i p(y|x,z_i), z_i ~ p(z|x) (Sohn's CVAE-MC)."""
        return torch.logsumexp(self.mc_log_terms(x, k, max_rows), 0) - math.log(k)

    @torch.inference_mode()
    def mc_log_terms(self, x: torch.Tensor, k: int = 100, max_rows: int = 8192) -> torch.Tensor:
        """(k, B): log p(y|x, z_i) for k draws z_i ~ p(z|x), the terms of the MC estimate (its first j rows give the
        estimate with j draws, as log_weights' rows give the importance-sampled one)."""
        prior_mu, prior_logvar = self.prior(x)
        logs = []
        for n in sample_chunks(k, x.shape[0], max_rows):
            z = reparameterize(prior_mu.repeat(n, 1), prior_logvar.repeat(n, 1))
            logs.append(self.target_log_likelihood(x.repeat(n, 1), None, None, z).view(n, -1))
        return torch.cat(logs)

    @torch.inference_mode()
    def visible_part(self, x) -> torch.Tensor:
        """What a quadrant model is shown, as a viewer sees it: (B, 28, 28), the hidden quadrants grey."""
        x = self.as_batch(x)
        return (masked_input(x, self.mask).clamp(min=0) + 0.25 * (1 - self.mask)).view(-1, IMAGE_SIDE, IMAGE_SIDE)

    @torch.inference_mode()
    def complete(self, x: torch.Tensor, n_samples: int = 1, temperature: float = 1.0, use_mean: bool = False) -> torch.Tensor:
        """Completions (n_samples, B, 28, 28): the visible quadrants of x kept, the rest drawn from the model."""
        if not self.quadrants:
            raise NotImplementedError("this cvae3 predicts labels; it does not complete images")
        prior_mu, prior_logvar = self.prior(x)
        out = []
        for _ in range(n_samples):
            z = prior_mu if use_mean else reparameterize(prior_mu, prior_logvar, temperature)
            pixels = torch.sigmoid(self.decode(z, x))
            out.append(x * self.mask + pixels * (1 - self.mask))
        return torch.stack(out).view(n_samples, -1, IMAGE_SIDE, IMAGE_SIDE)
