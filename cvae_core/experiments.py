"""The papers' experiments: Sohn's quadrant completion and Kingma's semi-supervised M2.

Each compares a variant with the plain deterministic network it is meant to beat, trained on
identical data with the same engine settings, and evaluated on a test split.
"""

import copy
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .data import OFFLINE, Dataset, hide_labels, in_batches, load_dataset, test_digits
from .distributions import bernoulli_log_likelihood
from .errors import ConfigError, TrainingError
from .metrics import accuracy, active_units, mcnemar, predict
from .models import ModelConfig, build_model
from .models.cvae3 import filled_with_guess, masked_input, quadrant_mask
from .nets import ConditionalMLP, image_encoder
from .noise import initial_weights, seeded
from .references import PYRO_QUADRANTS
from .text import N_
from .training.defaults import EXPERIMENTS
from .training.engine import TrainConfig
from .training.stages import Plan, PlanRun, Stage, run_plan


# ---- quadrant completion ------------------------------------------------------------------------
class QuadrantBaseline(nn.Module):
    """Sohn's deterministic baseline: an MLP regressor from the visible quadrants to the hidden pixels."""

    learns_from_unlabelled = False
    bernoulli_pixels = True  # trained and measured on binarised hidden pixels, as the CVAEs are

    def __init__(self, given: int, hidden: int = 512, layers: int = 2):
        super().__init__()
        self.register_buffer("mask", quadrant_mask(given))
        self.net = ConditionalMLP(784, 0, hidden, layers, 784)

    def forward(self, x):
        return self.net(masked_input(x, self.mask))

    def log_likelihood(self, x):
        """log p(y|x) of the hidden pixels under the single prediction."""
        return bernoulli_log_likelihood(self(x), x, mask=1 - self.mask)

    def loss(self, x, y, kl_weight: float = 1.0):
        """The negative log-likelihood of the hidden pixels; no KL term."""
        return -self.log_likelihood(x).mean(), {}

    @torch.inference_mode()
    def complete(self, x):
        return filled_with_guess(self.net, x, self.mask).view(-1, 28, 28)


def train_to_end(make_model, train: Dataset, config: TrainConfig, progress=None, share: tuple[float, float] = (0.0, 1.0)) -> nn.Module:
    """Build a network from config.seed (make_model()), train it through the engine, return it in eval mode on
    the CPU, where the experiments evaluate (the engine may train on a GPU). progress(f) moves from share[0] to share[1]."""
    model, _ = run_plan(_one_stage(Stage(N_("a network"), make_model, train, config, share=share)), progress)
    return model


def train_selecting(
    make_model, train: Dataset, config: TrainConfig, validation_loss, patience: int | None = None, progress=None, share=(0.0, 1.0)
) -> tuple[nn.Module, dict]:
    """train_to_end, choosing on validation: after every epoch validation_loss(model) (lower is better) is measured
    and the weights of the best epoch are kept; with `patience`, training stops once that many epochs have passed
    without a better one (early stopping). Returns the model (eval mode, CPU) and {"epoch", "validation_loss"}."""
    return run_plan(_one_stage(Stage(N_("a network"), make_model, train, config, validation_loss, patience, share)), progress)


def _one_stage(stage: Stage) -> Plan:
    return (yield stage)


def with_weights(model: nn.Module, part: str, source: nn.Module) -> nn.Module:
    """model, its frozen sub-network `part` (e.g. an NN baseline, M1's encoder) holding source's trained weights."""
    getattr(model, part).load_state_dict(source.state_dict())
    return model


@dataclass
class QuadrantResult:
    """One number of visible quadrants: the NN baseline and one cvae3 per way of filling the prior's input
    (config.nn_fill: "none" is the plain CVAE, "prior" Sohn's baseline-initialised one). Negative conditional
    log-likelihoods of the binarised hidden pixels, nats per digit: MC draws z from the prior network p(z|x), as the
    page's completions do; IS draws z from q(z|x,y) and reweights each draw by p(z|x) / q(z|x,y). Both are stochastic
    upper bounds on the same -log p(y|x) (the importance weights correct for the proposal: no leak); the lower is the
    tighter (quadrant_bounds_plan reports them as such)."""

    given: int
    nn_ncll: float
    cvae_ncll_mc: dict[str, float]
    cvae_ncll_is: dict[str, float]
    n: int
    baseline: QuadrantBaseline
    cvaes: dict[str, object]
    # chosen on validation, never on test: the fill shown, each fill's GSNN weight, the NN's length
    validation: dict = field(default_factory=dict)  # fill -> {"ncll_mc", "ncll_is", "gsnn_weight"}
    nn_epochs: float | None = None
    selected: str | None = None

    @property
    def best(self) -> str:
        """The fill shown: the one whose completions (MC, drawn as the page draws them) scored best on validation;
        without validation, the lowest MC score reported."""
        return self.selected or min(self.cvae_ncll_mc, key=self.cvae_ncll_mc.get)

    @torch.inference_mode()
    def showcase(self, image, n_samples: int = 6, seed: int = 0, fill: str | None = None) -> list[torch.Tensor]:
        """For one digit: what is shown, the truth, the NN's guess and n_samples CVAE completions, each (B, 28, 28)."""
        return showcase(self.baseline, self.cvaes[fill or self.best], image, n_samples, seed)

    def as_dict(self) -> dict:
        out = {
            "given": self.given,
            "protocol": "binarized",
            "nn_ncll": round(self.nn_ncll, 3),
            "cvae": {
                fill: {
                    "ncll_mc": round(self.cvae_ncll_mc[fill], 3),
                    "ncll_is": round(self.cvae_ncll_is[fill], 3),
                    "mc_over_nn": round(self.cvae_ncll_mc[fill] / self.nn_ncll, 4),
                    "is_over_nn": round(self.cvae_ncll_is[fill] / self.nn_ncll, 4),
                    **({f"validation_{k}": v for k, v in self.validation[fill].items()} if fill in self.validation else {}),
                }
                for fill in self.cvaes
            },
            "n": self.n,
            "reference_pyro": {"nn": PYRO_QUADRANTS["nn"][self.given - 1], "cvae": PYRO_QUADRANTS["cvae"][self.given - 1]},
        }
        if self.selected is not None:
            out.update({"selected_on": "validation", "selected_fill": self.selected, "nn_epochs": self.nn_epochs})
        return out


def completion_scores(cvae, data: Dataset, samples: int, seed: int) -> tuple[float, float]:
    """A quadrant cvae3's mean MC and IS negative log-likelihoods of the hidden pixels of `data` (nats per digit)."""
    mc = iw = 0.0
    with seeded(seed, cvae.device), torch.inference_mode():
        for x, _ in data.batches(500):
            mc += float(cvae.log_likelihood_mc(x, k=samples).sum())
            iw += float(cvae.log_likelihood(x, None, k=samples).sum())
    return -mc / len(data), -iw / len(data)


def nn_ncll(baseline: QuadrantBaseline, data: Dataset) -> float:
    with torch.inference_mode():
        return -sum(float(baseline.log_likelihood(x).sum()) for x, _ in data.batches(500)) / len(data)


@torch.inference_mode()
def showcase(baseline: QuadrantBaseline, cvae, image, n_samples: int = 6, seed: int = 0) -> list[torch.Tensor]:
    """What is shown of one digit, the truth, the NN's guess and n_samples CVAE completions, each (B, 28, 28)."""
    x = cvae.as_batch(image)
    with seeded(seed, cvae.device):
        return [cvae.visible_part(x), x.view(-1, 28, 28), baseline.complete(x), cvae.complete(x, n_samples=n_samples)[:, 0]]


def quadrants(given: int, train: Dataset, test: Dataset, *args, progress=None, **kwargs) -> QuadrantResult:
    """quadrants_plan trained to the end here; progress(f) from 0 to 1."""
    return run_plan(quadrants_plan(given, train, test, *args, **kwargs), progress)


def quadrants_plan(
    given: int,
    train: Dataset,
    test: Dataset,
    epochs: float = EXPERIMENTS["quadrants"]["epochs"],
    samples: int = 100,
    seed: int = 0,
    hidden: int = 512,
    gsnn_weight: float | tuple[float, ...] = 0.0,
    fills: tuple[str, ...] = ("none", "prior"),
    validation: Dataset | None = None,
    nn_epochs: float | None = None,
    nn_patience: int = 20,
) -> Plan:
    """Train the NN baseline, then one cvae3 per fill (see ModelConfig.nn_fill) and GSNN weight on the same digits and
    settings; negative conditional log-likelihoods of the binarised hidden pixels on test (nats). A plan
    (cvae_core/training/stages.py): its findings, after each network, are the QuadrantResult.as_dict() of the networks so far.

    With validation digits every choice is made on them: the NN trains for as long as its own validation score
    improves (up to nn_epochs, default 3 x epochs; stopping after nn_patience epochs without a better one: a fair
    baseline, not one on the CVAE's schedule); each fill keeps the GSNN weight (Sohn's hybrid objective, eq. 8)
    whose completions from the prior network score best; the fill shown is the best of those."""
    weights = (gsnn_weight,) if isinstance(gsnn_weight, int | float) else tuple(gsnn_weight)
    config = TrainConfig(**{**EXPERIMENTS["quadrants"], "epochs": epochs, "seed": seed})
    runs = [(fill, w) for fill in fills for w in weights]
    share = 1.0 / (1 + len(runs))
    validation = None if validation is None else validation.binarized_once()
    test = test.binarized_once()
    chosen_nn_epochs = None
    make_nn = lambda: QuadrantBaseline(given, hidden)  # noqa: E731
    if validation is not None:
        nn_config = TrainConfig(**{**EXPERIMENTS["quadrants"], "epochs": nn_epochs or 3 * epochs, "seed": seed})
        baseline, picked = yield Stage(
            N_("the NN baseline"), make_nn, train, nn_config, lambda m: nn_ncll(m, validation), nn_patience, (0.0, share)
        )
        chosen_nn_epochs = picked["epoch"]
    else:
        baseline, _ = yield Stage(N_("the NN baseline"), make_nn, train, config, share=(0.0, share))
    nn_score = nn_ncll(baseline, test)
    cvaes, scores, mc, iw = {}, {}, {}, {}

    def so_far(selected=None) -> QuadrantResult:
        return QuadrantResult(given, nn_score, mc, iw, len(test), baseline, {f: cvaes[f] for f in mc}, scores, chosen_nn_epochs, selected)

    yield {"quadrants": so_far().as_dict()}
    for i, (fill, w) in enumerate(runs):
        model_config = ModelConfig(
            variant="cvae3", target="quadrants", given_quadrants=given, latent_dim=32, hidden=hidden, gsnn_weight=w, nn_fill=fill
        )
        make = (
            (lambda c=model_config: build_model(c))
            if fill == "none"
            else (lambda c=model_config: with_weights(build_model(c), "baseline_net", baseline.net))
        )
        name = N_("the CVAE") if fill == "none" else N_("the NN-filled CVAE")
        cvae, _ = yield Stage(name, make, train, config, share=((i + 1) * share, (i + 2) * share))
        if validation is None:
            cvaes[fill] = cvae
        else:
            v_mc, v_iw = completion_scores(cvae, validation, samples, seed)
            if fill not in scores or v_mc < scores[fill]["ncll_mc"]:
                cvaes[fill], scores[fill] = cvae, {"ncll_mc": round(v_mc, 3), "ncll_is": round(v_iw, 3), "gsnn_weight": w}
        if i + 1 == len(runs) or runs[i + 1][0] != fill:  # the fill's last weight: its network is chosen, test it once
            mc[fill], iw[fill] = completion_scores(cvaes[fill], test, samples, seed)
            yield {"quadrants": so_far().as_dict()}
    selected = min(scores, key=lambda f: scores[f]["ncll_mc"]) if scores else None
    yield {"quadrants": so_far(selected).as_dict()}
    return so_far(selected)


# ---- quadrant NCLL as bounds of one quantity (issue 41) -----------------------------------------
def estimates_by_k(log_terms: torch.Tensor, ks: tuple[int, ...]) -> dict[int, torch.Tensor]:
    """From (k_max, B) log terms (importance weights, or MC's log p(y|x,z)): per digit, log of the mean of the first k
    terms for each k in ks, the estimate with k draws (each a stochastic lower bound on log p(y|x), tighter as k grows)."""
    return {k: torch.logsumexp(log_terms[:k], 0) - math.log(k) for k in ks if k <= log_terms.shape[0]}


def bound_curves(
    cvae, data: Dataset, ks: tuple[int, ...] = (10, 100, 1000), seed: int = 0, batch: int = 100
) -> dict[str, dict[int, torch.Tensor]]:
    """Per-digit negative log-likelihood estimates of the hidden pixels of `data` under a quadrant cvae3, at each k:
    "is" importance-sampled with q(z|x,y) (weights p(y|x,z) p(z|x) / q(z|x,y), unbiased for p(y|x) whatever the
    proposal), "mc" with z drawn from p(z|x) (the page's completions). Both are stochastic upper bounds on the same
    -log p(y|x); the lower is the tighter. Draws are shared across k (the first k of max(ks))."""
    k_max = max(ks)
    out = {"is": {k: [] for k in ks}, "mc": {k: [] for k in ks}}
    with seeded(seed, cvae.device), torch.inference_mode():
        for x, _ in data.batches(batch):
            for name, terms in (("is", cvae.log_weights(x, None, k=k_max)), ("mc", cvae.mc_log_terms(x, k=k_max))):
                for k, v in estimates_by_k(terms, ks).items():
                    out[name][k].append(-v)
    return {name: {k: torch.cat(v) for k, v in by_k.items()} for name, by_k in out.items()}


def nn_ncll_per_digit(baseline: QuadrantBaseline, data: Dataset) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([-baseline.log_likelihood(x) for x, _ in data.batches(500)])


def paired_se(a: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    """Mean of a - b over the same digits and its standard error."""
    d = (a - b).double()
    return float(d.mean()), float(d.std(unbiased=True) / math.sqrt(len(d)))


def quadrant_bounds_plan(
    given: int,
    train: Dataset,
    validation: Dataset,
    test: Dataset,
    fill: str = "prior",
    gsnn_weight: float = 0.5,
    latent_dim: int = 32,
    epochs: float = EXPERIMENTS["quadrants"]["epochs"],
    ks: tuple[int, ...] = (10, 100, 1000),
    select_k: int = 50,
    seed: int = 0,
    hidden: int = 512,
    nn_epochs: float | None = None,
    nn_patience: int = 20,
) -> Plan:
    """One quadrant CVAE (a setting fixed in advance) against the NN, both keeping their best validation epoch: the NN
    by its validation NCLL (early-stopped), the CVAE by its importance-sampled validation NCLL with select_k draws.
    On test: each model's NCLL per digit, the CVAE's as its IS bound at max(ks) with the paired standard error of
    CVAE - NN, and the MC estimate at each k with its distance from the IS bound. Returns the figures (a dict)."""
    validation, test = validation.binarized_once(), test.binarized_once()
    nn_config = TrainConfig(**{**EXPERIMENTS["quadrants"], "epochs": nn_epochs or 3 * epochs, "seed": seed})
    baseline, nn_picked = yield Stage(
        N_("the NN baseline"),
        lambda: QuadrantBaseline(given, hidden),
        train,
        nn_config,
        lambda m: nn_ncll(m, validation),
        nn_patience,
        (0.0, 0.3),
    )
    model_config = ModelConfig(
        variant="cvae3",
        target="quadrants",
        given_quadrants=given,
        latent_dim=latent_dim,
        hidden=hidden,
        gsnn_weight=gsnn_weight,
        nn_fill=fill,
    )
    make = (
        (lambda: build_model(model_config))
        if fill == "none"
        else (lambda: with_weights(build_model(model_config), "baseline_net", baseline.net))
    )

    def validation_is(m) -> float:
        with seeded(seed, m.device), torch.inference_mode():
            return -sum(float(m.log_likelihood(x, None, k=select_k).sum()) for x, _ in validation.batches(500)) / len(validation)

    config = TrainConfig(**{**EXPERIMENTS["quadrants"], "epochs": epochs, "seed": seed})
    cvae, picked = yield Stage(N_("the CVAE"), make, train, config, validation_is, None, (0.3, 0.8))
    nn_test = nn_ncll_per_digit(baseline, test)
    curves = bound_curves(cvae, test, ks, seed)
    k = max(ks)
    is_mean = float(curves["is"][k].mean())
    diff, se = paired_se(curves["is"][k], nn_test)
    result = {
        "given": given,
        "protocol": "binarized",
        "n": len(test),
        "setting": {"fill": fill, "gsnn_weight": gsnn_weight, "latent_dim": latent_dim, "hidden": hidden, "epochs": epochs, "seed": seed},
        "selected_on": "validation",
        "nn": {"ncll": round(float(nn_test.mean()), 3), "se": round(float(nn_test.double().std() / math.sqrt(len(nn_test))), 3),
               "epoch_kept": nn_picked["epoch"], "validation_ncll": nn_picked["validation_loss"]},
        "cvae": {
            "ncll_is": round(is_mean, 3),
            "k": k,
            "se": round(float(curves["is"][k].double().std() / math.sqrt(len(test))), 3),
            "minus_nn": round(diff, 3),
            "minus_nn_se": round(se, 3),
            "over_nn": round(is_mean / float(nn_test.mean()), 4),
            "epoch_kept": picked["epoch"],
            "validation_ncll_is": picked["validation_loss"],
            "validation_k": select_k,
        },
        "curve": {
            str(j): {
                "is": round(float(curves["is"][j].mean()), 3),
                "mc": round(float(curves["mc"][j].mean()), 3),
                "mc_minus_is": round(paired_se(curves["mc"][j], curves["is"][j])[0], 3),
                "mc_minus_is_se": round(paired_se(curves["mc"][j], curves["is"][j])[1], 3),
            }
            for j in ks
        },
        "estimators": {
            "is": "importance-sampled with q(z|x,y), weights p(y|x,z) p(z|x) / q(z|x,y): an upper bound on -log p(y|x) in expectation",
            "mc": "completions drawn from p(z|x): log of the mean of p(y|x,z), the same quantity's bound with the prior network as proposal",
        },
        "reference_pyro": {"nn": PYRO_QUADRANTS["nn"][given - 1], "cvae": PYRO_QUADRANTS["cvae"][given - 1]},
    }  # fmt: skip
    yield {"quadrant_bounds": result}
    return result


# ---- cvae3 as a classifier ----------------------------------------------------------------------
def classification(
    train: Dataset,
    test: Dataset,
    epochs: float = EXPERIMENTS["classification"]["epochs"],
    seed: int = 0,
    hidden: int = 512,
    arch: str = "mlp",
    shift_pixels: int = 1,
    progress=None,
    validation: Dataset | None = None,
) -> dict:
    """Sohn's cvae3 with y = the label, predicting with z = the mean of p(z|x), against a plain
    classifier with the same layers, trained on the same digits with the same schedule. With validation digits,
    each network keeps the weights of its epoch with the best validation accuracy."""
    config = TrainConfig(**{**EXPERIMENTS["classification"], "epochs": epochs, "seed": seed, "shift_pixels": shift_pixels})
    makers = {
        "baseline": lambda: PlainClassifier(hidden, arch=arch),
        "cvae3": lambda: build_model(ModelConfig(variant="cvae3", target="label", arch=arch, hidden=hidden)),
    }
    shares = {"baseline": (0.0, 0.3), "cvae3": (0.3, 1.0)}
    nets, epochs_kept = {}, {}
    for name, make in makers.items():
        if validation is None:
            nets[name] = train_to_end(make, train, config, progress, shares[name])
        else:
            nets[name], picked = train_selecting(
                make, train, config, lambda m: 1 - accuracy(m.classify, validation), None, progress, shares[name]
            )
            epochs_kept[name] = picked["epoch"]
    right = {name: predict(net.classify, test.images) == test.labels for name, net in nets.items()}
    out = {
        "arch": arch,
        "epochs": epochs,
        "cvae3_accuracy": round(float(right["cvae3"].float().mean()), 4),
        "baseline_accuracy": round(float(right["baseline"].float().mean()), 4),
        "n": len(test),
        # paired over the same test digits: how many only cvae3 gets right, only the baseline, and McNemar's exact p
        "mcnemar": mcnemar(right["cvae3"], right["baseline"]),
    }
    if validation is not None:
        out.update({"selected_on": "validation", "epochs_kept": epochs_kept})
    return out


# ---- semi-supervised classification --------------------------------------------------------------
class PlainClassifier(nn.Module):
    """A plain classifier: the baselines of M2 (its own q(y|x) network) and of cvae3 as a classifier."""

    learns_from_unlabelled = False

    def __init__(self, hidden: int = 512, layers: int = 2, arch: str = "mlp"):
        super().__init__()
        self.net = image_encoder(arch, 0, hidden, layers, 10)

    def forward(self, x):
        return self.net(x)

    def loss(self, x, y, kl_weight: float = 1.0):
        """Cross-entropy; no KL term."""
        return F.cross_entropy(self(x), y), {}

    @torch.inference_mode()
    def classify(self, x):
        return torch.softmax(self(x), -1)


def train_m1(train: Dataset, *args, progress=None, **kwargs):
    """M1 (m1_stage) trained to the end here."""
    m1, _ = run_plan(_one_stage(m1_stage(train, *args, **kwargs)), progress)
    return m1


def m1_stage(
    train: Dataset, seed: int = 0, hidden: int = 512, latent_dim: int = 50, epochs: float | None = None, share=(0.0, 1.0),
    validation: Dataset | None = None, patience: int = EXPERIMENTS["m1_patience"],
) -> Stage:  # fmt: skip
    """M1 of Kingma et al. 2014: a VAE on every training digit (their labels unused), whose code z1 M2 then models.
    Trained, as theirs, on dynamically binarised digits; with `validation`, the epoch of the best validation ELBO
    is kept and training stops once `patience` epochs bring no better one (their M1 trained to a plateau)."""
    config = TrainConfig(**{**EXPERIMENTS["m1"], "seed": seed, **({} if epochs is None else {"epochs": epochs})})
    make = lambda: build_model(ModelConfig(variant="vae", latent_dim=latent_dim, hidden=hidden))  # noqa: E731
    if validation is None:
        return Stage(N_("M1"), make, train, config, share=share)
    seen = validation.binarized_once()
    return Stage(N_("M1"), make, train, config, lambda m: -mean_elbo(m, seen), patience, share)


@torch.inference_mode()
def mean_elbo(model, data: Dataset, batch_size: int = 1000) -> float:
    """The one-sample ELBO averaged over `data` (nats per digit), the criterion M1's epoch is chosen by."""
    total = sum(
        float(model.elbo(x.to(model.device), y.to(model.device) if model.uses_label else None)["elbo"].sum())
        for x, y in data.batches(batch_size)
    )
    return total / len(data)


def kept_code(encoder: nn.Module, keep: torch.Tensor) -> nn.Module:
    """A copy of a Gaussian encoder (output: mean and log-variance, each latent_dim wide) that writes only the
    dimensions in the boolean mask `keep`: its output layer's rows for the others are dropped. Kingma et al. fed M2
    only M1's active dimensions; a collapsed one is noise at the prior, which M2 would otherwise have to model."""
    pruned = copy.deepcopy(encoder)
    rows = torch.cat([keep.nonzero().flatten(), keep.nonzero().flatten() + len(keep)])
    old = encoder.out
    with initial_weights():  # drawn and then overwritten; the lock keeps the draws out of a seeded build's
        pruned.out = nn.Linear(old.in_features, len(rows))
    with torch.no_grad():
        pruned.out.weight.copy_(old.weight[rows])
        pruned.out.bias.copy_(old.bias[rows])
    return pruned


@torch.inference_mode()
def code_means(encoder: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The posterior means E_q[z1|x] of images (N, 784) under a Gaussian encoder, (N, code size)."""
    return torch.cat([encoder(x).chunk(2, -1)[0] for (x,) in in_batches(images, size=1000)])


def logistic_regression_accuracy(train_z, train_y, test_z, test_y, validation_z, validation_y, n_classes: int = 10) -> float:
    """How linearly readable a code is: a multinomial logistic regression fitted (L-BFGS) to the labelled codes, its L2
    weight chosen on validation, its test accuracy returned (Kingma et al. read M1's code with a classifier of its own)."""
    mean, sd = train_z.mean(0), train_z.std(0).clamp_min(1e-6)  # standardised with the labelled digits' statistics
    standard = lambda z: (z - mean) / sd  # noqa: E731

    def fit(l2: float) -> nn.Linear:
        with initial_weights(0):
            model = nn.Linear(train_z.shape[1], n_classes)
        opt = torch.optim.LBFGS(model.parameters(), max_iter=200, line_search_fn="strong_wolfe")
        z = standard(train_z)

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(model(z), train_y) + l2 * model.weight.pow(2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        return model

    def score(model, z, y) -> float:
        with torch.no_grad():
            return float((model(standard(z)).argmax(-1) == y).float().mean())

    best = max((fit(l2) for l2 in (1e-4, 1e-3, 1e-2, 1e-1)), key=lambda m: score(m, validation_z, validation_y))
    return score(best, test_z, test_y)


def semisupervised(labels: int, train: Dataset, test: Dataset, *args, progress=None, **kwargs) -> dict:
    """semisupervised_plan trained to the end here; progress(f) from 0 to 1."""
    return run_plan(semisupervised_plan(labels, train, test, *args, **kwargs), progress)


def semisupervised_plan(
    labels: int,
    train: Dataset,
    test: Dataset,
    epochs: float = EXPERIMENTS["semisupervised"]["epochs"],
    seed: int = 0,
    hidden: int = 512,
    latent_dim: int = 8,
    alpha: float = 50.0,
    m1_latent: int = 0,
    m1_epochs: float | None = None,
    validation: Dataset | None = None,
    labelled_mix: str = "each-step",
) -> Plan:
    """M2 with `labels` labelled digits and the rest unlabelled, against a classifier on those labels only.
    With m1_latent > 0, M1+M2: M1 (a VAE with an m1_latent-D code) is trained first on every digit, and M2
    models its code (models/m2.py). `seed` draws the labelled digits and every network's initial weights.
    labelled_mix="proportional" with alpha=0.1 is Kingma et al.'s code (TrainConfig.labelled_mix). A plan
    (cvae_core/training/stages.py) whose findings fill as each network ends.

    A small z (8 dimensions) and a KL weight that starts at 8 leave the label y to carry the digit's
    class, so the bound L(x, y) differs sharply between labels and the unlabelled term teaches q(y|x)
    (RESULTS.md has the settings tried)."""
    partial = hide_labels(train.labels, labels, seed=seed)
    labelled = partial >= 0
    only_labelled = train.take(labelled)
    # The baseline sees as many gradient steps as M2 does (labelled batches are redrawn each step).
    m2_steps = epochs * math.ceil(int((~labelled).sum()) / 128)
    base_epochs = m2_steps / math.ceil(len(only_labelled) / 128)
    baseline_config = TrainConfig(**{**EXPERIMENTS["semisupervised_baseline"], "epochs": base_epochs, "seed": seed})
    baseline, _ = yield Stage(
        N_("the baseline classifier"), lambda: PlainClassifier(hidden), only_labelled, baseline_config, share=(0.0, 0.1)
    )
    figures = {
        "labels": labels,
        "model": "M1+M2" if m1_latent else "M2",
        "seed": seed,
        "baseline_accuracy": round(accuracy(baseline.classify, test), 4),
    }
    yield {"semisupervised": dict(figures)}
    config = ModelConfig(variant="m2", latent_dim=latent_dim, hidden=hidden, alpha=alpha)
    make = lambda: build_model(config)  # noqa: E731
    m2_share, m1_figures = (0.1, 1.0), {}
    if m1_latent:
        m1, _ = yield m1_stage(train, seed, hidden, m1_latent, m1_epochs, (0.1, 0.3), validation=validation)
        train_seen = train.binarized_once(seed=seed)  # M1 read binarised digits: so does the activity criterion
        keep = active_units(m1, train_seen)
        if not keep.any():
            raise TrainingError(N_("M1's code collapsed: none of its {n} dimensions carries information about the digit."), n=m1_latent)
        encoder = kept_code(m1.encoder, keep)
        config = replace(config, m1_latent=int(keep.sum()))  # M2 models the active dimensions only
        make = lambda: with_weights(build_model(config), "m1", encoder)  # noqa: E731
        m2_share = (0.3, 1.0)
        m1_figures = {"m1_latent": m1_latent, "m1_active_units": int(keep.sum())}
        if validation is not None:  # a linear classifier on z1 from the same labels: how readable M1 made the class
            codes = lambda d: code_means(encoder, d.binarized_once().images)  # noqa: E731
            lr_accuracy = logistic_regression_accuracy(
                code_means(encoder, train_seen.images[labelled]), train.labels[labelled], codes(test), test.labels, codes(validation), validation.labels
            )  # fmt: skip
            m1_figures["z1_logistic_accuracy"] = round(lr_accuracy, 4)
        yield {"semisupervised": {**figures, **m1_figures}}
    m2_config = TrainConfig(
        **{**EXPERIMENTS["semisupervised"], "epochs": epochs, "seed": seed, "warmup_epochs": epochs / 2, "labelled_mix": labelled_mix}
    )
    out = {}
    if validation is None:
        m2, _ = yield Stage(N_("M2"), make, train.with_labels(partial), m2_config, share=m2_share)
    else:  # the epoch whose q(y|x) reads the validation digits best (M2 trains on binarised digits: so are they)
        seen = validation.binarized_once()
        m2, picked = yield Stage(
            N_("M2"), make, train.with_labels(partial), m2_config, lambda m: 1 - accuracy(m.classify, seen), None, m2_share
        )
        out = {"selected_on": "validation", "epoch_kept": picked["epoch"], "validation_accuracy": round(1 - picked["validation_loss"], 4)}
    m2_pred = predict(m2.classify, test.binarized_once().images)
    result = {
        **figures,
        "m2_accuracy": round(float((m2_pred == test.labels).float().mean()), 4),
        "n": len(test),
        "alpha": alpha,
        "labelled_mix": labelled_mix,
        **out,
        **m1_figures,
    }
    yield {"semisupervised": dict(result)}
    return {**result, "model_object": m2}


# ---- retrained live, as jobs of the training service --------------------------------------------
# What a visitor may retrain on the Experiments page: each setting's choices (in order, for a slider) and its default.
# A spec comes from a stranger's page, so it is checked against these choices before anything is spent.
LIVE_EXPERIMENTS = {
    # at most 2,000 test digits: scoring (MC and IS) runs inside one slice of the service, which Stop cannot cut short
    "quadrants": {"given": ((1, 2, 3), 1), "epochs": ((2, 5, 10, 20, 30, 100), 5), "test_digits": ((500, 1000, 2000), 1000)},
    "semisupervised": {"labels": ((100, 600, 1000, 3000), 100), "model": (("M2", "M1+M2"), "M2"), "epochs": ((2, 5, 10, 20, 50, 150), 5)},
}
LIVE_SAMPLES = 50  # MC and IS samples per digit of a live quadrant run's scores (the shipped runs used 100)


def live_plan(spec: dict, load=load_dataset) -> PlanRun:
    """A live retrain of an experiment, from a page's spec ({"experiment": ..., and LIVE_EXPERIMENTS' settings}), as a
    job for the training service; raises ConfigError for a spec outside the choices. load(name, split) gives the data."""
    kind = spec.get("experiment") if isinstance(spec, dict) else None
    if kind not in LIVE_EXPERIMENTS:
        raise ConfigError(N_("unknown experiment {experiment}"), experiment=repr(kind)[:40])
    choices = LIVE_EXPERIMENTS[kind]
    settings = {}
    for name, (options, default) in choices.items():
        value = spec.get(name, default)
        if value not in options or type(value) is not type(default):
            raise ConfigError(N_("{setting} must be one of {options}"), setting=name, options=", ".join(map(str, options)))
        settings[name] = value
    train, validation = load(OFFLINE, "train"), load(OFFLINE, "val")
    test = test_digits()
    if kind == "quadrants":
        scored = test.binarized_once().subset(settings["test_digits"]).copy()  # its own tensor: not a view of all 10,000
        plan = quadrants_plan(settings["given"], train, scored, epochs=settings["epochs"],
                              samples=LIVE_SAMPLES, validation=validation)  # fmt: skip
        return PlanRun(plan, kind, final_model=lambda result: result.cvaes[result.best])
    m1_latent = 50 if settings["model"] == "M1+M2" else 0
    plan = semisupervised_plan(settings["labels"], train, test, epochs=settings["epochs"], m1_latent=m1_latent, m1_epochs=settings["epochs"],
                               validation=validation)  # fmt: skip
    return PlanRun(plan, kind, final_model=lambda result: result["model_object"])


# ---- spreads over seeds -------------------------------------------------------------------------
def spread(run_once, seeds, figures: tuple[str, ...], on_run=None) -> dict:
    """run_once(seed) -> dict for each of the distinct `seeds`; each figure's mean and sample standard deviation
    over the runs (Kingma et al. and Pyro report mean ± std over label draws). on_run(i, result) after each run."""
    seeds = [int(s) for s in seeds]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"the runs need distinct seeds, got {seeds}")
    runs = []
    for i, seed in enumerate(seeds):
        runs.append(run_once(seed))
        if on_run is not None:
            on_run(i, runs[-1])
    out = {"seeds": seeds, "runs": runs}
    for key in figures:
        values = torch.tensor([float(r[key]) for r in runs], dtype=torch.float64)
        std = float(values.std(unbiased=True)) if len(values) > 1 else 0.0
        out[key] = {"mean": round(float(values.mean()), 4), "std": round(std, 4), "runs": len(values)}
    return out


# ---- the full-length results that ship with the app ---------------------------------------------
# checkpoints/experiments/ (read only, like every shipped file): the models the Experiments page opens on,
# and results/*.json, each the `--json` output of one command in checkpoints/make.sh. The folder is not
# one of the app's model folders, so these models stay off the pickers and Compare.
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "checkpoints" / "experiments"
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
    from .storage import checkpoint  # late: checkpoint imports the model registry, as this module does

    return checkpoint.load(SHIPPED_DIR / SHIPPED_MODELS[model_id])


def quadrant_baseline_of(cvae) -> QuadrantBaseline:
    """The NN baseline that a baseline-filled cvae3 carries (its frozen copy), as a network of its own."""
    c = cvae.config
    with initial_weights():  # drawn and then overwritten; the lock keeps the draws out of a seeded build's
        baseline = QuadrantBaseline(c.given_quadrants, c.hidden, c.layers)
    return with_weights(baseline, "net", cvae.baseline_net).eval()


# The quadrant table's columns for each fill of the CVAE's prior (ModelConfig.nn_fill), in table order:
# fill -> (the CVAE's name, its MC score, MC over the NN's, its IS score, IS over the NN's). MC draws z from the prior
# network, as the page's completions do; IS draws it from q(z|x,y), reweighted by p(z|x) / q: two bounds of one
# quantity. Ratios to the NN are for orientation, not goals. Translated where shown.
QUADRANT_COLUMNS = {
    "none": (N_("CVAE"), N_("CVAE: MC"), N_("CVAE: MC / NN"), N_("CVAE: IS"), N_("CVAE: IS / NN")),
    "prior": (
        N_("CVAE, NN-filled prior"),
        N_("CVAE, NN-filled prior: MC"),
        N_("CVAE, NN-filled prior: MC / NN"),
        N_("CVAE, NN-filled prior: IS"),
        N_("CVAE, NN-filled prior: IS / NN"),
    ),
    "prior+generation": (
        N_("CVAE, NN-filled prior and generation"),
        N_("CVAE, NN-filled prior and generation: MC"),
        N_("CVAE, NN-filled prior and generation: MC / NN"),
        N_("CVAE, NN-filled prior and generation: IS"),
        N_("CVAE, NN-filled prior and generation: IS / NN"),
    ),
}


def quadrant_rows(results: dict[str, dict]) -> list[dict]:
    """The quadrant results (stems quadrants-1/2/3) as table rows: nats per digit, lower is better.
    The column names are English, marked for translation (the page translates them where it shows them)."""
    rows = []
    for given in (1, 2, 3):
        r = results.get(f"quadrants-{given}")
        if r is None:
            continue
        row = {N_("quadrants shown"): given, "NN": r["nn_ncll"]}
        for fill, (_name, mc_column, mc_ratio, is_column, is_ratio) in QUADRANT_COLUMNS.items():
            if fill in r["cvae"]:
                scores = r["cvae"][fill]
                if "ncll_mc" in scores:
                    row[mc_column], row[mc_ratio] = scores["ncll_mc"], round(scores["ncll_mc"] / r["nn_ncll"], 4)
                row[is_column], row[is_ratio] = scores["ncll_is"], scores["is_over_nn"]
        row[N_("test digits")] = r["n"]  # Pyro's figures (another quantity, other data) are in a panel of their own
        # a run of the earlier protocol (grey pixels, no validation split) says so in its row
        row[N_("pixels")] = N_("binarised") if r.get("protocol") == "binarized" else N_("grey (earlier protocol)")
        rows.append(row)
    return rows


def semisupervised_rows(results: dict[str, dict]) -> list[dict]:
    """The semi-supervised results (stems semisupervised-*) as rows: one per model and label count, accuracy as
    mean and standard deviation over the runs (0 and runs = 1 for a single seed)."""
    rows = []
    for stem, r in results.items():
        if not stem.startswith("semisupervised-"):
            continue
        for name, key in ((r["model"], "m2_accuracy"), (N_("baseline"), "baseline_accuracy")):  # "baseline": translated where shown
            figure = r[key] if isinstance(r[key], dict) else {"mean": r[key], "std": 0.0, "runs": 1}
            rows.append({
                "model": name, "labels": r["labels"], "accuracy": figure["mean"], "std": figure["std"], "runs": figure["runs"],
                "selected_on_validation": r.get("selected_on") == "validation",  # False: a run of the earlier protocol
            })  # fmt: skip
    # one baseline row per label count and number of runs: M2's and M1+M2's runs train the same baseline
    unique = {(row["model"], row["labels"], row["runs"]): row for row in rows}
    return sorted(unique.values(), key=lambda row: (row["labels"], row["model"], row["runs"]))


def quadrant_bound_rows(results: dict[str, dict]) -> list[dict]:
    """The quadrant bounds (stems quadrant-bounds-1/2/3, quadrant_bounds_plan) as table rows: each model's NCLL as its
    tightest estimate, nats per digit, lower is better; the CVAE's importance-sampled bound at the largest k with its
    standard error and the paired difference from the NN with its standard error. Column names English, marked."""
    rows = []
    for given in (1, 2, 3):
        r = results.get(f"quadrant-bounds-{given}")
        if r is None:
            continue
        nn, cvae = r["nn"], r["cvae"]
        rows.append({
            N_("quadrants shown"): given,
            N_("NN (epoch kept)"): f"{nn['ncll']:.2f} ± {nn['se']:.2f} ({nn['epoch_kept']:g})",
            N_("CVAE, IS bound (k, epoch kept)"): f"{cvae['ncll_is']:.2f} ± {cvae['se']:.2f} ({cvae['k']:,}, {cvae['epoch_kept']:g})",
            N_("CVAE − NN, paired"): f"{cvae['minus_nn']:.2f} ± {cvae['minus_nn_se']:.2f}",
            N_("CVAE / NN (orientation)"): round(cvae["over_nn"], 3),
            N_("test digits"): r["n"],
        })  # fmt: skip
    return rows


def quadrant_mc_gap_rows(results: dict[str, dict]) -> list[dict]:
    """For each quadrant bounds file and each k: the IS bound, MC (completions drawn from p(z|x)) and MC - IS with its
    paired standard error, nats per digit: how far the page's completions are from the tightest estimate, and how
    much of that is too few draws."""
    rows = []
    for given in (1, 2, 3):
        r = results.get(f"quadrant-bounds-{given}")
        for k, c in (r or {}).get("curve", {}).items():
            rows.append({"given": given, "k": int(k), "is": c["is"], "mc": c["mc"], "gap": c["mc_minus_is"], "gap_se": c["mc_minus_is_se"]})
    return rows


def kingma_rows(results: dict[str, dict]) -> list[dict]:
    """The runs on Kingma et al.'s recipe (stems kingma-m1m2-N, bench/kingma_recipe.py) as rows: each figure's mean and
    standard deviation over the label draws, the pixels it was tested on; and the paired differences with their 95 %
    intervals. Names English, marked (translated where shown)."""
    names = {
        "m1m2_accuracy": N_("M1+M2, Kingma's recipe"),
        "m2_accuracy": N_("M2, Kingma's recipe"),
        "baseline_mlp": N_("classifier on the labelled digits alone"),
        "baseline_mlp_600": N_("classifier on 600 labelled digits"),
        "probe_z1_logistic": N_("logistic regression on M1's code z1"),
        "probe_pixels_logistic": N_("logistic regression on pixels"),
    }
    rows = []
    for stem, r in sorted(results.items()):
        if not stem.startswith("kingma-m1m2-"):
            continue
        for key, name in names.items():
            figure = r.get(key)
            if figure:
                rows.append({"model": name, "labels": 600 if key == "baseline_mlp_600" else r["labels"], "accuracy": figure["mean"],
                             "std": figure["std"], "runs": figure["runs"], "pixels": r["pixels_tested_on"].get(key, "")})  # fmt: skip
    return rows


def kingma_differences(results: dict[str, dict]) -> list[dict]:
    """The paired differences of the Kingma-recipe files: M1+M2 - M2 and probe on z1 - probe on pixels, each with its
    mean, standard deviation and 95 % interval over the same label draws."""
    out = []
    for stem, r in sorted(results.items()):
        if stem.startswith("kingma-m1m2-"):
            for key, name in (("m1m2_minus_m2", N_("M1+M2 − M2")), ("probe_z1_minus_pixels", N_("probe on z1 − probe on pixels"))):
                if key in r:
                    out.append({"name": name, "labels": r["labels"], **r[key]})
    return out
