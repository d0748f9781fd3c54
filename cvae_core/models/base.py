"""The interface every variant shares, and the estimators built on it.

A variant defines four pieces -- the recognition network q(z|.), the prior p(z|.),
the decoder, and the log-likelihood of its target given z -- and inherits from here:

* `elbo`  : E_q[log p(target|z)] - KL(q || prior), one sample, closed-form KL;
* `log_likelihood` : the importance-weighted bound of Burda et al. 2016,
  log 1/k sum_i p(target|z_i) p(z_i) / q(z_i), z_i ~ q, which is >= the ELBO and
  rises with k;
* `loss` : the training objective: -(recon - kl_weight * KL), with optional free bits.

Images are flat float tensors (B, 784) in [0, 1]; labels are integer tensors (B,)
(one-hot tensors (B, 10) are accepted too). All figures are nats per sample.
"""

import math
from dataclasses import asdict, dataclass, fields
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..capabilities import Capabilities
from ..cards import CARDS, Card
from ..distributions import bernoulli_log_likelihood, gaussian_kl, gaussian_log_density, reparameterize
from ..errors import ConfigError
from ..nets import IMAGE_SIDE
from ..noise import seeded, standard_normal
from ..text import N_

N_CLASSES = 10
ARCHS = ("mlp", "conv")
LATENT_RANGE = (2, 64)


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model; stored in every checkpoint. The settings every variant shares: a variant
    with settings of its own has a config class of its own (a subclass, in the variant's file, e.g. cvae3.Cvae3Config)
    that adds and checks them."""

    variant: str = "cvae1"  # the live default: a learned prior p(z|y), a fast MLP
    latent_dim: int = 16
    arch: str = "mlp"  # "mlp" (fast on a CPU) or "conv"
    hidden: int = 512
    layers: int = 2  # hidden layers per MLP
    n_classes: int = N_CLASSES
    beta: float = 1.0  # weight of the KL term once warm-up is over
    free_bits: float = 0.0  # nats per latent dimension that cost nothing (Kingma et al. 2016)

    def validate(self) -> "ModelConfig":
        from . import VARIANTS  # late import: the registry imports this module

        if self.variant not in VARIANTS:
            raise ConfigError(
                N_("unknown variant {variant}; choose one of {variants}"), variant=repr(self.variant), variants=", ".join(VARIANTS)
            )
        if type(self) is not VARIANTS[self.variant].config_class:  # its own settings live in its own class (models.model_config)
            raise ConfigError(N_("the settings of {variant} need its own configuration"), variant=self.variant)
        lo, hi = LATENT_RANGE
        if not (isinstance(self.latent_dim, int) and lo <= self.latent_dim <= hi):
            raise ConfigError(
                N_("latent size must be an integer from {low} to {high}, got {latent_size}"),
                low=lo,
                high=hi,
                latent_size=repr(self.latent_dim),
            )
        if self.arch not in ARCHS:
            raise ConfigError(N_("unknown architecture {architecture}; choose mlp or conv"), architecture=repr(self.arch))
        if not 16 <= self.hidden <= 4096:
            raise ConfigError(N_("hidden width must be from 16 to 4096, got {hidden_width}"), hidden_width=self.hidden)
        if not 1 <= self.layers <= 4:
            raise ConfigError(N_("hidden layers must be from 1 to 4, got {hidden_layers}"), hidden_layers=self.layers)
        if not (1 <= self.n_classes <= 26):
            raise ConfigError(N_("the number of classes must be from 1 to 26, got {n_classes}"), n_classes=self.n_classes)
        if not (0 <= self.beta <= 100 and math.isfinite(self.beta)):
            raise ConfigError(N_("beta must be from 0 to 100, got {beta}"), beta=self.beta)
        if not (0 <= self.free_bits <= 10 and math.isfinite(self.free_bits)):
            raise ConfigError(N_("free bits must be from 0 to 10 nats, got {free_bits}"), free_bits=self.free_bits)
        self.validate_own()
        return self

    def validate_own(self) -> None:
        """A variant's own settings, checked by its own config class (raises ConfigError)."""

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """The settings as a config of their variant's class (read on ModelConfig itself: the class its "variant" names)."""
        from . import VARIANTS  # late import: the registry imports this module

        if cls is ModelConfig and data.get("variant") in VARIANTS:
            cls = VARIANTS[data["variant"]].config_class
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(N_("unknown model settings: {settings}"), settings=", ".join(sorted(unknown)))
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)


def as_onehot(y: torch.Tensor, n_classes: int = N_CLASSES) -> torch.Tensor:
    """Integer labels (B,) -> float one-hot (B, n); a (B, n) tensor passes through."""
    if y.dim() == 2:
        return y.float()
    return F.one_hot(y.long(), n_classes).float()


def _repeat(t: torch.Tensor | None, n: int) -> torch.Tensor | None:
    """n copies of a batch stacked along dim 0 (copy i holds rows i*B ... (i+1)*B - 1)."""
    return None if t is None else t.repeat(n, *([1] * (t.dim() - 1)))


def sample_chunks(k: int, batch_rows: int, max_rows: int):
    """Sizes of the passes that draw k samples for a batch of batch_rows, each pass decoding at
    most max_rows rows (one sample per pass at least): bounded memory for any batch and k."""
    chunk = max(1, min(k, max_rows // max(1, batch_rows)))
    for start in range(0, k, chunk):
        yield min(chunk, k - start)


class CVAEModel(nn.Module):
    """Base class of the variants. Subclasses set the class attributes and the hooks."""

    name: ClassVar[str]
    card: ClassVar[Card]  # what the variant is, for a reader (cvae_core/cards.py): set from its name
    # What every model of the variant can do (cvae_core/capabilities.py); a variant whose configuration changes that
    # overrides capabilities_for. Read them from the instance (model.uses_label, ...), never from the class.
    CAPABILITIES: ClassVar[Capabilities] = Capabilities()
    dials_note: ClassVar[str | None] = None  # what the style dials do, where that differs from the usual
    config_class: ClassVar[type] = ModelConfig  # what a checkpoint stores to rebuild it
    training_overrides: ClassVar[dict] = {}  # where the variant's live recipe differs from TrainConfig's defaults
    model_overrides: ClassVar[dict] = {}  # where its live model differs from its config class's defaults

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "card" not in cls.__dict__:  # a variant brings its own card, or has one in cvae_core/cards.py
            cls.card = CARDS[cls.name]  # a variant without a card is an error at import

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config.validate()
        self.latent_dim = config.latent_dim
        self.capabilities = type(self).capabilities_for(self.config)

    @classmethod
    def capabilities_for(cls, config: ModelConfig) -> Capabilities:
        """What a model of this variant with this configuration can do."""
        return cls.CAPABILITIES

    uses_label = property(lambda self: self.capabilities.uses_label)
    makes_images = property(lambda self: self.capabilities.makes_images)
    classifies = property(lambda self: self.capabilities.classifies)
    learns_from_unlabelled = property(lambda self: self.capabilities.learns_from_unlabelled)
    bernoulli_pixels = property(lambda self: self.capabilities.bernoulli_pixels)
    has_label_prior = property(lambda self: self.capabilities.has_label_prior)

    # ---- hooks --------------------------------------------------------------------------
    def posterior(self, x, y1h):
        """q(z | .) -> (mu, logvar). Default: the network `encoder`, given x and the label (None for vae)."""
        return self.encoder(x, y1h).chunk(2, -1)

    def prior(self, x, y1h):
        """p(z | .) -> (mu, logvar), or (None, None) for N(0, I)."""
        return None, None

    def decode(self, z, y1h):
        """Decoder logits for the target (784 pixel logits for image variants). Default: the network
        `decoder`, given z and the label, p(x|z,y)."""
        return self.decoder(z, y1h)

    def target_log_likelihood(self, x, y, y1h, z):
        """log p(target | z, .), one value per sample. Default: the image under the decoder."""
        return bernoulli_log_likelihood(self.decode(z, y1h), x)

    # ---- the shared interface -----------------------------------------------------------
    def _onehot(self, y):
        return None if y is None else as_onehot(y, self.config.n_classes)

    def observed(self, x: torch.Tensor) -> torch.Tensor:
        """What the networks read of a digit: its pixels (M1+M2 reads M1's code instead)."""
        return x

    def latent_statistics(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior means' offsets from the prior's, E_q[z|.] - E_p[z|.] (B, K), and each dimension's closed-form
        KL(q(z_d|.) || p(z_d|.)) (B, K): what the per-dimension KL bars and the active-unit count are made of. The offset,
        not the mean: under a learned prior p(z|y) a dimension's mean moves with the label even where q copies the
        prior and the dimension says nothing of the digit beyond its label (for N(0, I) the two are the same)."""
        x, y1h = self.observed(x), self._onehot(y)
        mu, logvar = self.posterior(x, y1h)
        prior_mu, prior_logvar = self.prior(x, y1h)
        offset = mu if prior_mu is None else mu - prior_mu
        return offset, gaussian_kl(mu, logvar, prior_mu, prior_logvar)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None):
        """The recognition network: mean and log-variance of q(z | x, y)."""
        return self.posterior(x, self._onehot(y))

    def elbo_terms(self, x, y):
        """One-sample reconstruction term and closed-form KL per latent dimension."""
        y1h = self._onehot(y)
        mu, logvar = self.posterior(x, y1h)
        prior_mu, prior_logvar = self.prior(x, y1h)
        z = reparameterize(mu, logvar)
        recon = self.target_log_likelihood(x, y, y1h, z)
        kl_per_dim = gaussian_kl(mu, logvar, prior_mu, prior_logvar)
        return recon, kl_per_dim, z

    def elbo(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict:
        """Per-sample ELBO = recon - KL (nats), with its two terms."""
        recon, kl_per_dim, _ = self.elbo_terms(x, y)
        kl = kl_per_dim.sum(-1)
        return {"elbo": recon - kl, "recon": recon, "kl": kl}

    def loss(self, x, y, kl_weight: float = 1.0, **batch) -> tuple[torch.Tensor, dict]:
        """Training loss (a scalar to minimise) and the batch means of the ELBO terms.

        -(recon - w * KL), where w = beta times the warm-up factor (Bowman et al. 2016);
        with free bits, each latent dimension's batch-mean KL below `free_bits` nats is
        not penalised (Kingma et al. 2016), which keeps dimensions from collapsing.
        """
        recon, kl_per_dim, _ = self.elbo_terms(x, y)
        kl_dims = kl_per_dim.mean(0)
        if self.config.free_bits > 0:
            kl_penalty = kl_dims.clamp(min=self.config.free_bits).sum()
        else:
            kl_penalty = kl_dims.sum()
        recon_mean = recon.mean()
        kl_mean = kl_dims.sum()
        loss = -(recon_mean - kl_weight * self.config.beta * kl_penalty)
        return loss, {"elbo": recon_mean - kl_mean, "recon": recon_mean, "kl": kl_mean}

    @torch.inference_mode()
    def log_likelihood(self, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 100, max_rows: int = 8192) -> torch.Tensor:
        """Importance-weighted lower bound on log p(target | .) with k samples (Burda et al. 2016): log of the mean of
        k importance weights p(target, z) / q(z | .), z ~ q."""
        return torch.logsumexp(self.log_weights(x, y, k, max_rows), 0) - math.log(k)

    def log_weights(self, x: torch.Tensor, y: torch.Tensor | None = None, k: int = 100, max_rows: int = 8192) -> torch.Tensor:
        """k log importance weights per digit, (k, B): log p(target | z, .) + log p(z | .) - log q(z | .), z ~ q.

        Samples are drawn in chunks of at most max_rows decoder rows, which bounds the memory
        a large batch or a large k takes (a server runs this for many sessions at once)."""
        y1h = self._onehot(y)
        mu, logvar = self.posterior(x, y1h)
        prior_mu, prior_logvar = self.prior(x, y1h)
        log_w = []
        for n in sample_chunks(k, x.shape[0], max_rows):
            rep = [_repeat(t, n) for t in (x, y, y1h, mu, logvar, prior_mu, prior_logvar)]
            x_r, y_r, y1h_r, mu_r, logvar_r, prior_mu_r, prior_logvar_r = rep
            z = reparameterize(mu_r, logvar_r)
            log_p_target = self.target_log_likelihood(x_r, y_r, y1h_r, z)
            log_prior = gaussian_log_density(z, prior_mu_r, prior_logvar_r)
            log_q = gaussian_log_density(z, mu_r, logvar_r)
            log_w.append((log_p_target + log_prior - log_q).view(n, -1))
        return torch.cat(log_w, 0)

    def latent_from_noise(self, y1h, noise: torch.Tensor, temperature: float = 1.0, x=None) -> torch.Tensor:
        """z = mu + temperature * sigma * noise under the prior: noise ~ N(0, I) is the 'style dial'."""
        mu, logvar = self.prior(x, y1h)
        if mu is None:
            return temperature * noise
        return mu + temperature * torch.exp(0.5 * logvar) * noise

    @torch.inference_mode()
    def generate(
        self,
        y: torch.Tensor | None = None,
        z: torch.Tensor | None = None,
        temperature: float = 1.0,
        n: int | None = None,
        noise: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mean images (B, 28, 28) in [0, 1].

        z is used as given; otherwise z = prior mean + temperature * prior sigma * noise, with
        noise ~ N(0, I) drawn here unless given (so one noise shows one style in every label).
        """
        if not self.makes_images:
            raise NotImplementedError(f"{self.name} does not generate digits from a label")
        y1h = self._onehot(y.to(self.device)) if (y is not None and self.uses_label) else None
        if z is None:
            if noise is None:
                batch = y1h.shape[0] if y1h is not None else n
                noise = standard_normal((batch, self.latent_dim), device=self.device)
            z = self.latent_from_noise(y1h, noise.to(self.device), temperature)
        logits = self.decode(z.to(self.device), y1h)
        return torch.sigmoid(logits).view(-1, IMAGE_SIDE, IMAGE_SIDE)

    @torch.inference_mode()
    def restyle(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The same handwriting in every label: (B, n_classes, 28, 28).

        x is encoded with q(z|x,y) (its posterior mean), turned into prior noise
        eps = (z - mu_p(y)) / sigma_p(y), and decoded under each label's prior with that eps."""
        if not (self.makes_images and self.uses_label):
            raise NotImplementedError(f"{self.name} cannot redraw a digit as another label")
        c = self.config.n_classes
        y1h = self._onehot(y)
        mu, _ = self.posterior(x, y1h)
        prior_mu, prior_logvar = self.prior(x, y1h)
        noise = mu if prior_mu is None else (mu - prior_mu) * torch.exp(-0.5 * prior_logvar)
        labels = torch.arange(c, device=x.device).repeat(x.shape[0])
        images = self.generate(labels, noise=noise.repeat_interleave(c, 0), temperature=1.0)
        return images.view(x.shape[0], c, IMAGE_SIDE, IMAGE_SIDE)

    @torch.inference_mode()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decode the posterior mean of q(z|x,y): (B, 28, 28)."""
        y1h = self._onehot(y)
        mu, _ = self.posterior(x, y1h)
        return torch.sigmoid(self.decode(mu, y1h)).view(-1, IMAGE_SIDE, IMAGE_SIDE)

    @torch.inference_mode()
    def classify(self, x: torch.Tensor, k: int = 10) -> torch.Tensor:
        """Class probabilities (B, 10). Generative variants use Bayes' rule with a uniform p(y):
        p(y | x) is proportional to p(x | y), estimated by the importance-weighted bound with k samples."""
        if not self.uses_label:
            raise NotImplementedError(f"{self.name} has no label to predict")
        return torch.softmax(self.log_likelihood_per_label(x, k), -1)

    @torch.inference_mode()
    def log_likelihood_per_label(self, x: torch.Tensor, k: int = 10) -> torch.Tensor:
        """(B, n_classes): the importance-weighted bound on log p(x|y) of every digit under every label, k samples each."""
        n, c = x.shape[0], self.config.n_classes
        labels = torch.arange(c, device=x.device).repeat_interleave(n)
        return self.log_likelihood(x.repeat(c, 1), labels, k=k).view(c, n).T

    # ---- what the pages show ----------------------------------------------------------
    def as_batch(self, images) -> torch.Tensor:
        """Digits as the models take them, (B, 784) float on the model's device, from a (28, 28)
        array or tensor, a (B, 28, 28) stack or (B, 784) rows."""
        x = torch.as_tensor(np.asarray(images, dtype=np.float32) if not torch.is_tensor(images) else images, dtype=torch.float32)
        return x.reshape(-1, IMAGE_SIDE * IMAGE_SIDE).to(self.device)

    def _style(self, noise) -> torch.Tensor:
        """A style vector (latent_dim,) from a list, array or tensor, as one row (1, latent_dim)."""
        return torch.as_tensor(np.asarray(noise, dtype=np.float32)).view(1, self.latent_dim)

    def _labels(self, label: int | None, n: int) -> torch.Tensor | None:
        return torch.full((n,), int(label), dtype=torch.long) if (label is not None and self.uses_label) else None

    @torch.inference_mode()
    def label_priors(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Means and standard deviations (n_classes, latent_dim) of the learned p(z|y), where it is one Gaussian per label."""
        if not self.has_label_prior:
            return None
        mu, logvar = self.prior(None, torch.eye(self.config.n_classes, device=self.device))
        return mu.cpu().numpy(), torch.exp(0.5 * logvar).cpu().numpy()

    @torch.inference_mode()
    def draw(self, label: int | None, noise, temperature: float = 1.0) -> torch.Tensor:
        """One digit (28, 28) for a label and a style vector `noise` (latent_dim,), in prior standard deviations."""
        return self.generate(self._labels(label, 1), noise=self._style(noise), temperature=temperature, n=1)[0]

    @torch.inference_mode()
    def label_grid(self, n_styles: int, seed: int = 0, temperature: float = 1.0, one_row_per: str = "label") -> torch.Tensor:
        """A grid of samples (rows * n_styles, 28, 28): one row per label, the same n_styles noise
        vectors in every row, so a column is one style written as every label. one_row_per="style"
        lays it out the other way (a row is one style, the labels across). An unconditional model
        has no labels: ten rows of fresh noise."""
        c = self.config.n_classes
        g = torch.Generator().manual_seed(int(seed))
        if not self.uses_label:
            return self.generate(noise=torch.randn(c * n_styles, self.latent_dim, generator=g), temperature=temperature)
        noise = torch.randn(n_styles, self.latent_dim, generator=g)
        if one_row_per == "label":
            labels, noise = torch.arange(c).repeat_interleave(n_styles), noise.repeat(c, 1)
        else:
            labels, noise = torch.arange(c).repeat(n_styles), noise.repeat_interleave(c, 0)
        return self.generate(labels, noise=noise, temperature=temperature)

    @torch.inference_mode()
    def interpolate_labels(self, first: int, last: int, noise, frames: int = 10, temperature: float = 1.0) -> torch.Tensor:
        """One style, the label moving from `first` to `last` through soft (mixed one-hot) labels: (frames, 28, 28)."""
        t = torch.linspace(0, 1, frames)[:, None]
        eye = torch.eye(self.config.n_classes)
        soft_labels = (1 - t) * eye[first] + t * eye[last]
        return self.generate(soft_labels, noise=self._style(noise).repeat(frames, 1), temperature=temperature)

    @torch.inference_mode()
    def interpolate_styles(self, label: int | None, seed: int, frames: int = 10, temperature: float = 1.0) -> torch.Tensor:
        """One label, the style moving in a straight line between two random style vectors: (frames, 28, 28)."""
        t = torch.linspace(0, 1, frames)[:, None]
        z0, z1 = torch.randn(2, self.latent_dim, generator=torch.Generator().manual_seed(int(seed)))
        return self.generate(self._labels(label, frames), noise=(1 - t) * z0 + t * z1, temperature=temperature, n=frames)

    @torch.inference_mode()
    def decoded_plane(self, label: int | None, steps: int, span: float) -> torch.Tensor:
        """A 2-D latent model's plane decoded on a steps x steps grid reaching `span` prior σ from the centre (Kingma & Welling, fig. 4)."""
        ticks = torch.linspace(-span, span, steps)
        gy, gx = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")
        noise = torch.stack([gx.flatten(), gy.flatten()], 1)
        return self.generate(self._labels(0 if label is None else label, steps * steps), noise=noise, n=steps * steps)

    @torch.inference_mode()
    def read_digit(self, image, seed: int = 0) -> np.ndarray:
        """p(y | x) for one digit (28, 28): the class probabilities (n_classes,). Bayes' rule estimates p(x | y) by
        sampling: the draws come from `seed`, so that a page reading the same drawing again shows the same bars."""
        with seeded(seed, self.device):
            return self.classify(self.as_batch(image))[0].cpu().numpy()

    @torch.inference_mode()
    def redraw_as_every_label(self, image, seed: int = 0) -> tuple[int, torch.Tensor]:
        """The label the model reads in one digit (as read_digit reads it), and (1 + n_classes, 28, 28): its
        reconstruction under that label, then its style (z) decoded as every label."""
        x = self.as_batch(image)
        label = torch.tensor([int(self.read_digit(image, seed).argmax())], device=x.device)
        return int(label), torch.cat([self.reconstruct(x, label), self.restyle(x, label)[0]])

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device
