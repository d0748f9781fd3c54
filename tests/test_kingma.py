"""Kingma et al.'s recipe (cvae_core/kingma.py) and the quadrant bounds' estimators (issue 41)."""

import math

import pytest
import torch

from cvae_core import kingma as K
from cvae_core.experiments import estimates_by_k, paired_se


def clusters(n_per_class: int, dim: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Ten well separated Gaussian clusters of codes."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(10, dim, generator=g) * 4
    y = torch.arange(10).repeat_interleave(n_per_class)
    return centres[y] + 0.3 * torch.randn(len(y), dim, generator=g), y


def test_the_unlabelled_term_is_a_bound_on_log_sum_exp_of_the_labelled_ones():
    # U(x) = sum_y q(y|x) (L(x,y) - log q(y|x)) <= log sum_y exp L(x,y), with equality when q(y|x) is proportional to
    # exp L(x,y) (Gibbs): the unlabelled digits' term bounds the same log p(x) as the labelled ones' do
    torch.manual_seed(0)
    model = K.SemiM2(6, (16,), 3, "gaussian")
    x = torch.randn(5, 6)
    bounds = torch.stack([model.bound(x, torch.full((5,), c), torch.Generator().manual_seed(1)) for c in range(10)], 1)
    log_q = torch.log_softmax(model.classifier(x), -1)
    u = (log_q.exp() * (bounds - log_q)).sum(-1)
    assert torch.all(u <= torch.logsumexp(bounds, -1) + 1e-5)
    best = torch.log_softmax(bounds, -1)  # q = softmax(L): equality
    assert torch.allclose((best.exp() * (bounds - best)).sum(-1), torch.logsumexp(bounds, -1), atol=1e-5)


def test_m2_on_codes_learns_the_classes_from_ten_labels_and_leaves_the_global_generator_alone():
    x, y = clusters(60)
    labels = torch.full_like(y, -1)
    labels[torch.arange(10) * 60] = torch.arange(10)  # one labelled code a class
    state = torch.random.get_rng_state()
    features = K.Features(x, torch.full_like(x, math.log(0.01)))
    model = K.train_semi_m2(features, labels, passes=150, seed=0, hidden=(32,), latent=2, n_minibatches=10)
    assert torch.equal(torch.random.get_rng_state(), state)  # draws come from the run's own generator
    assert float((model.predict(x) == y).float().mean()) > 0.9


def test_the_same_seed_gives_the_same_model():
    x, y = clusters(10)
    labels = torch.where(torch.arange(len(y)) % 10 == 0, y, -1)
    a = K.train_semi_m2(K.Features(x, torch.zeros_like(x)), labels, 2, seed=3, hidden=(8,), latent=2, n_minibatches=5)
    b = K.train_semi_m2(K.Features(x, torch.zeros_like(x)), labels, 2, seed=3, hidden=(8,), latent=2, n_minibatches=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_kept_dimensions_are_those_whose_posterior_mean_varies():
    g = torch.Generator().manual_seed(0)
    means = torch.randn(2000, 4, generator=g) * torch.tensor([1.0, 0.05, 0.5, 0.0])
    assert K.kept_dimensions(means).tolist() == [True, False, True, False]


def test_m1_features_are_read_once_per_digit_and_are_deterministic():
    torch.manual_seed(0)
    m1 = K.M1(hidden=16, latent=5).eval()
    x = torch.rand(7, 784)
    mu, logvar = K.m1_features(m1, x)
    assert mu.shape == logvar.shape == (7, 5)
    assert torch.equal(K.m1_features(m1, x)[0], mu)  # the mean at test: no draw


def test_the_paired_interval_holds_the_mean_difference_and_widens_with_the_spread():
    narrow = K.paired_difference([0.91, 0.92, 0.90, 0.93, 0.91], [0.90, 0.91, 0.89, 0.92, 0.90])
    assert narrow["mean"] == pytest.approx(0.01) and narrow["sd"] == pytest.approx(0.0, abs=1e-9)
    wide = K.paired_difference([0.95, 0.88, 0.93, 0.86, 0.91], [0.90, 0.91, 0.89, 0.92, 0.90])
    low, high = wide["ci95"]
    assert low < wide["mean"] < high and low < 0 < high  # five draws cannot tell this difference from none
    assert high - low == pytest.approx(2 * 2.776 * wide["sd"] / math.sqrt(5), abs=1e-3)


def test_estimates_with_fewer_draws_use_the_first_ones_and_a_constant_weight_is_exact():
    terms = torch.log(torch.tensor([[1.0, 2.0], [3.0, 2.0], [5.0, 2.0]]))
    by_k = estimates_by_k(terms, (1, 2, 3))
    assert torch.allclose(by_k[1], terms[0])
    assert torch.allclose(by_k[2][0], torch.log(torch.tensor(2.0))) and torch.allclose(by_k[3][0], torch.log(torch.tensor(3.0)))
    assert all(torch.allclose(v[1], torch.log(torch.tensor(2.0))) for v in by_k.values())  # a constant weight: log of it


def test_more_draws_tighten_the_bound_on_average():
    # E[log mean of k weights] rises with k towards log E[w] (Burda et al. 2016)
    g = torch.Generator().manual_seed(0)
    terms = torch.randn(1000, 4000, generator=g) * 2  # log-normal weights
    by_k = estimates_by_k(terms, (1, 10, 1000))
    assert by_k[1].mean() < by_k[10].mean() < by_k[1000].mean() < 2.0 + 0.05  # log E[w] = sigma^2 / 2 = 2


def test_paired_standard_error_is_that_of_the_differences():
    a, b = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([0.5, 1.0, 2.5, 3.0])
    mean, se = paired_se(a, b)
    d = (a - b).double()
    assert mean == pytest.approx(float(d.mean())) and se == pytest.approx(float(d.std() / 2))
