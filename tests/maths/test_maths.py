"""The distributions and estimators against independent computations."""

import math

import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

from cvae_core.data import random_shift
from cvae_core.distributions import bernoulli_log_likelihood, gaussian_kl, gaussian_log_density, reparameterize


def test_kl_standard_prior_matches_torch_and_monte_carlo():
    torch.manual_seed(0)
    mu, logvar = torch.randn(4, 3), torch.randn(4, 3) * 0.5
    closed = gaussian_kl(mu, logvar)
    reference = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0))
    torch.testing.assert_close(closed, reference)
    # Monte Carlo: E_q[log q(z) - log p(z)] with many samples
    z = reparameterize(mu.expand(200_000, 4, 3), logvar.expand(200_000, 4, 3))
    mc = (Normal(mu, (0.5 * logvar).exp()).log_prob(z) - Normal(0.0, 1.0).log_prob(z)).mean(0)
    torch.testing.assert_close(closed, mc, atol=0.02, rtol=0.02)


def test_kl_between_two_gaussians_matches_monte_carlo():
    torch.manual_seed(1)
    mu_q, logvar_q = torch.randn(5, 4), torch.randn(5, 4) * 0.3
    mu_p, logvar_p = torch.randn(5, 4), torch.randn(5, 4) * 0.3
    closed = gaussian_kl(mu_q, logvar_q, mu_p, logvar_p)
    q, p = Normal(mu_q, (0.5 * logvar_q).exp()), Normal(mu_p, (0.5 * logvar_p).exp())
    torch.testing.assert_close(closed, kl_divergence(q, p))
    z = q.sample((200_000,))
    mc = (q.log_prob(z) - p.log_prob(z)).mean(0)
    torch.testing.assert_close(closed, mc, atol=0.03, rtol=0.03)
    assert (closed >= 0).all()
    assert gaussian_kl(mu_q, logvar_q, mu_q, logvar_q).abs().max() < 1e-6


def test_log_densities_match_torch():
    torch.manual_seed(2)
    z, mu, logvar = torch.randn(6, 5), torch.randn(6, 5), torch.randn(6, 5)
    expected = Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1)
    torch.testing.assert_close(gaussian_log_density(z, mu, logvar), expected)
    torch.testing.assert_close(gaussian_log_density(z), Normal(0.0, 1.0).log_prob(z).sum(-1))
    logits, x = torch.randn(6, 784), torch.randint(0, 2, (6, 784)).float()
    torch.testing.assert_close(bernoulli_log_likelihood(logits, x), Bernoulli(logits=logits).log_prob(x).sum(-1))
    mask = torch.zeros(784)
    mask[:100] = 1
    torch.testing.assert_close(bernoulli_log_likelihood(logits, x, mask), Bernoulli(logits=logits[:, :100]).log_prob(x[:, :100]).sum(-1))


def test_reparameterize_has_the_right_moments_and_temperature():
    torch.manual_seed(3)
    mu, logvar = torch.full((100_000, 1), 2.0), torch.full((100_000, 1), math.log(4.0))
    z = reparameterize(mu, logvar, temperature=0.5)
    assert abs(z.mean() - 2.0) < 0.02 and abs(z.std() - 1.0) < 0.02
    assert torch.equal(reparameterize(mu, logvar, temperature=0.0), mu)


def test_random_shift_moves_digits_without_losing_ink(digits):
    g = torch.Generator().manual_seed(0)
    x = digits.images[:64]
    shifted = random_shift(x, 2, g)
    assert shifted.shape == x.shape
    # MNIST digits sit in a 20x20 box with a 4-pixel margin: a 2-pixel shift loses no ink
    torch.testing.assert_close(shifted.sum(1), x.sum(1))
    assert not torch.equal(shifted, x)
    assert torch.equal(random_shift(x, 0, g), x)
