"""Kingma et al. 2014's semi-supervised recipe, item by item as their code has it (dpkingma/nips14-ssl:
`run_2layer_ssl.py`, `learn_yz_x_ss.py`, `gpulearn_z_x.py`), on this project's 4,500 digits (issue 41).

Every setting is fixed before any run, from their code, never chosen on labelled digits:

- **M1** (`m1`): a VAE 784-500-500-50, softplus, Bernoulli decoder, trained on dynamically binarised digits with Adam
  at 3e-4, an N(0, 1) prior on the weights (their `prior_sd=1`: weight decay scaled by 1/N), its last weights kept.
- **Features**: q(z1|x) (mean and log-variance) computed once per digit from the *grey* digits (their
  `mnist.load_numpy_split` is not binarised); only the dimensions whose posterior mean varies (std > 0.1 over the
  first 1,000 unlabelled digits, their `idx_keep`) are kept. In training z1 is drawn afresh from N(mean, var) for
  each minibatch; at test time the mean is read.
- **M2** (`SemiM2`): one softplus hidden layer of 300 (their choice for 100 labels; 500 for more), a 50-D z2, KL
  weight 1 from the start, p(z1|y, z2) Gaussian (on pixels: Bernoulli on dynamically binarised digits), q(y|x) an MLP
  of the same shape; each labelled digit's log q(y|x) weighted by beta = alpha * N / N_l, which is 0.1 * 50,000 / 100
  = 50 in their run at 100 labels; here the same per-digit weight is kept for each N_l (`kingma_class_weight`: alpha =
  beta * N_l / N in their parametrisation with our N), the objective per digit
  as theirs ((sum of bounds + beta * log q) * n_minibatches + log p(weights)) / N; 100 minibatches a pass, each with
  N_l / 100 labelled digits and the matching share of the unlabelled ones; Adam at 3e-4; the last weights kept.

The only departure is the number of passes (theirs 3,000), which the compute budget of the run fixes in advance and
its results file states.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .data import binarize, in_batches
from .noise import initial_weights

KINGMA_LR = 3e-4
KINGMA_ALPHA, KINGMA_N = 0.1, 50_000  # run_2layer_ssl.py: alpha, and the training digits N behind alpha * N / N_l


def kingma_class_weight(labels: int) -> float:
    """Each labelled digit's weight on log q(y|x) in their run with `labels` labelled digits: alpha * N / N_l with
    their alpha and N (50 at 100 labels, 8.33 at 600, 5 at 1,000, 1.67 at 3,000), kept as is on our 4,500 digits."""
    return KINGMA_ALPHA * KINGMA_N / labels


KINGMA_CLASS_WEIGHT = kingma_class_weight(100)  # 50.0
KINGMA_KEEP_STD = 0.1  # learn_yz_x_ss.py: idx_keep = np.std(q_mean, axis=1) > 0.1


def softplus_mlp(*sizes: int) -> nn.Sequential:
    """Linear layers of the given sizes with softplus between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.Softplus())
    return nn.Sequential(*layers)


def weight_prior(model: nn.Module) -> torch.Tensor:
    """-log N(w; 0, 1) of every parameter, up to a constant (their prior_sd=1 on weights and biases)."""
    return 0.5 * sum(p.pow(2).sum() for p in model.parameters() if p.requires_grad)


def _draw(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    return mu + eps * (0.5 * logvar).exp()


def _gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, var) || N(0, I)) per row."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)


class M1(nn.Module):
    """Kingma's M1: a VAE 784-h-h-z, softplus, Bernoulli pixels (gpulearn_z_x.py, mnist_z_x_50-500-500)."""

    def __init__(self, hidden: int = 500, latent: int = 50):
        super().__init__()
        self.latent = latent
        self.encoder = softplus_mlp(784, hidden, hidden, 2 * latent)
        self.decoder = softplus_mlp(latent, hidden, hidden, 784)

    def code(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z1|x): mean and log-variance."""
        mu, logvar = self.encoder(x).chunk(2, -1)
        return mu, logvar

    def elbo(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One-sample ELBO of each row of x (0/1 pixels), nats."""
        mu, logvar = self.code(x)
        logits = self.decoder(_draw(mu, logvar, generator))
        recon = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)
        return recon - _gaussian_kl(mu, logvar)


def train_m1(images: torch.Tensor, passes: int, seed: int = 0, batch_size: int = 100, hidden: int = 500, latent: int = 50, log=None) -> M1:
    """M1 on `images` (N, 784 grey), dynamically binarised, Adam 3e-4, the N(0,1) weight prior; the last weights."""
    with initial_weights(seed):
        m1 = M1(hidden, latent)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(m1.parameters(), lr=KINGMA_LR)
    n = len(images)
    for p in range(passes):
        order = torch.randperm(n, generator=g)
        total = 0.0
        for (idx,) in in_batches(order, size=batch_size):
            x = binarize(images[idx], g)
            elbo = m1.elbo(x, g)
            loss = -elbo.mean() + weight_prior(m1) / n
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(elbo.detach().sum())
        if log is not None and (p + 1) % 25 == 0:
            log(f"M1 pass {p + 1}/{passes}: train ELBO {total / n:.2f}")
    return m1.eval()


@torch.no_grad()
def m1_features(m1: M1, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """q(z1|x) of every digit, once: (mean, log-variance), each (N, latent). Kingma reads grey digits."""
    parts = [m1.code(x) for (x,) in in_batches(images, size=1000)]
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def kept_dimensions(means: torch.Tensor) -> torch.Tensor:
    """Their idx_keep: the dimensions whose posterior mean has a standard deviation above 0.1 (first 1,000 digits)."""
    return means[:1000].std(0) > KINGMA_KEEP_STD


class SemiM2(nn.Module):
    """M2 as in VAE_YZ_X + MLP_Categorical: q(y|x) x-h-10, q(z|x,y) (x+y)-h-2z, p(x|y,z) (z+y)-h-x, softplus.
    likelihood "gaussian" (x is M1's code: their type_px='gaussian') or "bernoulli" (x are 0/1 pixels)."""

    def __init__(self, x_dim: int, hidden: tuple[int, ...] = (300,), latent: int = 50, likelihood: str = "gaussian", n_classes: int = 10):
        super().__init__()
        if likelihood not in ("gaussian", "bernoulli"):
            raise ValueError(f"likelihood must be gaussian or bernoulli, got {likelihood!r}")
        self.likelihood, self.n_classes, self.latent = likelihood, n_classes, latent
        out = 2 * x_dim if likelihood == "gaussian" else x_dim
        self.classifier = softplus_mlp(x_dim, *hidden, n_classes)
        self.encoder = softplus_mlp(x_dim + n_classes, *hidden, 2 * latent)
        self.decoder = softplus_mlp(latent + n_classes, *hidden, out)

    def bound(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """L(x, y) = log p(x|y,z) + log p(y) + log p(z) - log q(z|x,y), one z drawn, KL in closed form; per row."""
        y1h = F.one_hot(y, self.n_classes).to(x.dtype)
        mu, logvar = self.encoder(torch.cat([x, y1h], -1)).chunk(2, -1)
        out = self.decoder(torch.cat([_draw(mu, logvar, generator), y1h], -1))
        if self.likelihood == "bernoulli":
            log_px = -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(-1)
        else:
            m, lv = out.chunk(2, -1)
            log_px = -0.5 * ((x - m).pow(2) / lv.exp() + lv + math.log(2 * math.pi)).sum(-1)
        return log_px - math.log(self.n_classes) - _gaussian_kl(mu, logvar)

    def objective(self, x_l, y_l, x_u, class_weight: float, generator: torch.Generator) -> torch.Tensor:
        """Their minibatch objective before scaling: sum of L(x_l, y_l) + beta * log q(y_l|x_l) over the labelled digits
        plus sum of U(x_u) = sum_y q(y|x_u) L(x_u, y) + H(q(y|x_u)) over the unlabelled ones (y summed out)."""
        total = x_l.new_zeros(())
        if len(x_l):
            total = total + self.bound(x_l, y_l, generator).sum()
            total = total + class_weight * (-F.cross_entropy(self.classifier(x_l), y_l, reduction="sum"))
        if len(x_u):
            n, c = len(x_u), self.n_classes
            labels = torch.arange(c).repeat_interleave(n)
            bounds = self.bound(x_u.repeat(c, 1), labels, generator).view(c, n).T  # (n, c)
            log_q = F.log_softmax(self.classifier(x_u), -1)
            q = log_q.exp()
            total = total + (q * (bounds - log_q)).sum()
        return total

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.classifier(b).argmax(-1) for (b,) in in_batches(x, size=2000)])


@dataclass
class Features:
    """What M2 trains on: per digit, either a code distribution (mean, logvar: z1 drawn each minibatch) or pixels
    (binarised afresh each minibatch)."""

    mean: torch.Tensor
    logvar: torch.Tensor | None = None  # None: pixels

    def __len__(self) -> int:
        return len(self.mean)

    def draw(self, idx: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if self.logvar is None:
            return binarize(self.mean[idx], generator)
        return _draw(self.mean[idx], self.logvar[idx], generator)


def train_semi_m2(
    features: Features,
    labels: torch.Tensor,
    passes: int,
    seed: int,
    hidden: tuple[int, ...] = (300,),
    latent: int = 50,
    class_weight: float = KINGMA_CLASS_WEIGHT,
    n_minibatches: int = 100,
    log=None,
) -> SemiM2:
    """M2 by optim_vae_ss_adam: labels -1 mark unlabelled digits. Each pass splits the labelled and the unlabelled
    digits (shuffled) into n_minibatches parts; a step's loss is -(objective * n_minibatches + log p(w)) / N."""
    likelihood = "gaussian" if features.logvar is not None else "bernoulli"
    with initial_weights(seed):
        model = SemiM2(features.mean.shape[1], hidden, latent, likelihood)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=KINGMA_LR)
    lab = torch.nonzero(labels >= 0).flatten()
    unl = torch.nonzero(labels < 0).flatten()
    n_tot = len(labels)
    for p in range(passes):
        lab_order = lab[torch.randperm(len(lab), generator=g)]
        unl_order = unl[torch.randperm(len(unl), generator=g)]
        total = 0.0
        for i in range(n_minibatches):
            il = lab_order[i * len(lab) // n_minibatches : (i + 1) * len(lab) // n_minibatches]
            iu = unl_order[i * len(unl) // n_minibatches : (i + 1) * len(unl) // n_minibatches]
            objective = model.objective(features.draw(il, g), labels[il], features.draw(iu, g), class_weight, g)
            loss = -(objective * n_minibatches - weight_prior(model)) / n_tot
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach())
        if log is not None and (p + 1) % 50 == 0:
            log(f"M2 ({likelihood}) pass {p + 1}/{passes}: loss {total / n_minibatches:.3f}")
    return model.eval()


def train_plain_mlp(x: torch.Tensor, y: torch.Tensor, steps: int, seed: int, hidden: tuple[int, ...] = (300,)) -> nn.Module:
    """The baseline by the same rule: q(y|x)'s shape (softplus), trained on the labelled digits alone, full batch,
    Adam 3e-4 with the N(0,1) weight prior, a fixed number of steps, the last weights."""
    with initial_weights(seed):
        model = softplus_mlp(x.shape[1], *hidden, 10)
    opt = torch.optim.Adam(model.parameters(), lr=KINGMA_LR)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y) + weight_prior(model) / len(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def paired_difference(a: list[float], b: list[float]) -> dict:
    """Mean of a - b over paired runs, its sample standard deviation and a 95 % t interval (n - 1 degrees of freedom)."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError("a paired difference needs at least two pairs")
    d = torch.tensor(a, dtype=torch.float64) - torch.tensor(b, dtype=torch.float64)
    n = len(d)
    mean, sd = float(d.mean()), float(d.std(unbiased=True))
    half = T_975[n - 1] * sd / math.sqrt(n)
    return {"mean": round(mean, 4), "sd": round(sd, 4), "n": n, "ci95": [round(mean - half, 4), round(mean + half, 4)]}


# Student's t, 97.5th percentile, by degrees of freedom (1-10)
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
