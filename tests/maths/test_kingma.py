"""Kingma et al.'s recipe (cvae_core/kingma.py) and the quadrant bounds' estimators (issue 41)."""

import math

import pytest
import torch

from cvae_core import kingma as K
from cvae_core.experiments.quadrant_bounds import estimates_by_k, paired_se


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


def test_published_semi_supervised_figures_are_points_per_label_count_each_saying_what_it_is():
    from cvae_core.references import PYRO_SEMI_SUPERVISED, SEMI_SUPERVISED

    # Kingma et al.'s table 1 at 100, 600, 1,000 and 3,000 labels: a point each, not one figure drawn across them
    for estimator in ("q(y|x), mean over label draws", "q(y|z1), mean over label draws"):
        points = {r.labels: r.value for r in SEMI_SUPERVISED if r.estimator == estimator}
        assert sorted(points) == [100, 600, 1000, 3000] and len(set(points.values())) == 4
    assert all(not r.verified and r.selection and r.train_digits.startswith("50,000") for r in SEMI_SUPERVISED)
    # Pyro's SS-VAE: read from its tutorial, its ± a 95 % interval over five label draws, chosen on 10,000 validation digits
    assert all(
        r.verified and r.error is not None and "95 %" in r.spread and "10,000 for validation" in r.train_digits
        for r in PYRO_SEMI_SUPERVISED
    )
    assert not {id(r) for r in PYRO_SEMI_SUPERVISED} & {id(r) for r in SEMI_SUPERVISED}  # a panel of its own


def test_our_quadrant_rows_hold_no_published_figure_and_the_bound_rows_read_a_bounds_file():
    from ui.experiment_view import quadrant_bound_rows, quadrant_mc_gap_rows, quadrant_rows

    earlier = {"given": 1, "protocol": "binarized", "nn_ncll": 100.0, "n": 10,
               "cvae": {"none": {"ncll_mc": 90.0, "ncll_is": 80.0, "is_over_nn": 0.8}}, "reference_pyro": {"nn": 100.4, "cvae": 71.8}}  # fmt: skip
    row = quadrant_rows({"quadrants-1": earlier})[0]
    assert not any("Pyro" in column for column in row) and 71.8 not in row.values()
    bounds = {"given": 2, "n": 100, "nn": {"ncll": 75.0, "se": 1.0, "epoch_kept": 120.0},
              "cvae": {"ncll_is": 50.0, "se": 0.5, "k": 1000, "minus_nn": -25.0, "minus_nn_se": 0.8, "over_nn": 0.6667, "epoch_kept": 88.0},
              "curve": {"10": {"is": 52.0, "mc": 70.0, "mc_minus_is": 18.0, "mc_minus_is_se": 0.4},
                        "1000": {"is": 50.0, "mc": 60.0, "mc_minus_is": 10.0, "mc_minus_is_se": 0.3}}}  # fmt: skip
    (row,) = quadrant_bound_rows({"quadrant-bounds-2": bounds})
    assert row["quadrants shown"] == 2 and row["CVAE, IS bound (k, epoch kept)"] == "50.00 ± 0.50 (1,000, 88)"
    assert row["CVAE − NN, paired"] == "-25.00 ± 0.80"
    gaps = quadrant_mc_gap_rows({"quadrant-bounds-2": bounds})
    assert [(g["k"], g["gap"]) for g in gaps] == [(10, 18.0), (1000, 10.0)]  # MC's distance shrinks with more draws


def test_the_grid_rows_mark_the_one_setting_chosen_and_it_is_the_lowest_on_validation():
    from ui.experiment_view import quadrant_grid_rows

    grid = [{"gsnn_weight": w, "latent_dim": z, "validation_ncll_is": 70 + 10 * w + z / 100, "epoch_kept": 90.0}
            for w in (0.0, 0.5) for z in (8, 16)]  # fmt: skip
    rows = quadrant_grid_rows({"quadrant-grid-1": {"grid": grid, "chosen": {"gsnn_weight": 0.0, "latent_dim": 8}}})
    assert len(rows) == 4 and [r["chosen"] for r in rows].count(True) == 1
    assert min(rows, key=lambda r: r["validation"])["chosen"]
    assert quadrant_grid_rows({}) == []


def test_kingma_rows_carry_the_pixels_each_classifier_was_tested_on_and_the_paired_differences():
    from ui.experiment_view import kingma_differences, kingma_rows

    figure = {"mean": 0.9, "std": 0.01, "runs": 5}
    result = {"labels": 100, "m1m2_accuracy": figure, "m2_accuracy": figure, "baseline_mlp_600": figure,
              "pixels_tested_on": {"m1m2_accuracy": "grey", "m2_accuracy": "binarised", "baseline_mlp_600": "grey"},
              "m1m2_minus_m2": {"mean": 0.01, "sd": 0.02, "n": 5, "ci95": [-0.015, 0.035]}}  # fmt: skip
    rows = kingma_rows({"kingma-m1m2-100": result, "semisupervised-m2-100": {}})
    assert [(r["model"], r["labels"], r["pixels"]) for r in rows] == [
        ("M1+M2, Kingma's recipe", 100, "grey"), ("M2, Kingma's recipe", 100, "binarised"), ("classifier on 600 labelled digits", 600, "grey")
    ]  # fmt: skip
    (d,) = kingma_differences({"kingma-m1m2-100": result})
    assert d["name"] == "M1+M2 − M2" and d["ci95"][0] < d["mean"] < d["ci95"][1]


def test_mcnemar_counts_the_discordant_digits_and_its_p_value_is_the_exact_binomial_tail():
    from cvae_core.metrics import mcnemar

    a = torch.tensor([True] * 10 + [False] * 2 + [True] * 88)
    b = torch.tensor([False] * 10 + [True] * 2 + [True] * 88)
    out = mcnemar(a, b)
    assert (out["only_a"], out["only_b"]) == (10, 2)
    exact = 2 * sum(math.comb(12, k) for k in range(3)) / 2**12  # P(X <= 2), X ~ Bin(12, 1/2), two-sided
    assert out["p_value"] == pytest.approx(exact)
    assert mcnemar(a, a)["p_value"] == 1.0  # the same classifier: no discordant digit, no difference
    assert mcnemar(b, a)["p_value"] == pytest.approx(out["p_value"])  # symmetric
