"""The Compare page's quantities: log p(x) and log p(x|y) with standard errors, and ties."""

import copy
import math

import numpy as np
import pytest

from cvae_core.compare import measure, paired_difference, tie
from cvae_core.models import ModelConfig, build_model, model_config
from cvae_core.storage import checkpoint
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def cvae1():
    return checkpoint.load(ROOT / "checkpoints" / "cvae1.safetensors").model


def test_log_px_is_at_least_log_px_given_the_true_label_minus_log_10(cvae1, held_out):
    m = measure(cvae1, held_out.subset(100), iw_samples=5)
    # p(x) = sum_y p(y) p(x|y) >= p(y_true) p(x|y_true), with p(y) = 1/10
    assert np.all(m.per_digit["log_px"] >= m.per_digit["log_px_given_y"] - math.log(10) - 1e-6)
    assert m.figures["log_px"] < m.figures["log_px_given_y"]  # the label is worth something to a conditional model
    assert m.kind == "image" and m.figures["log_px_given_y"] - m.figures["log_px"] <= math.log(10)


def test_the_estimate_rises_with_k(cvae1, held_out):
    data = held_out.subset(200)
    low = measure(cvae1, data, iw_samples=1).figures["log_px_given_y"]
    high = measure(cvae1, data, iw_samples=30).figures["log_px_given_y"]
    assert high > low


def test_the_standard_error_shrinks_with_more_test_digits(cvae1, held_out):
    few = measure(cvae1, held_out.subset(50), iw_samples=2).errors["log_px"]
    many = measure(cvae1, held_out.subset(400), iw_samples=2).errors["log_px"]
    assert many < few


def test_two_copies_of_a_model_tie_and_a_trained_and_an_untrained_one_do_not(cvae1, held_out):
    data = held_out.subset(200)
    a = measure(cvae1, data, iw_samples=5, seed=1)
    b = measure(copy.deepcopy(cvae1), data, iw_samples=5, seed=3)  # other noise in the estimates (seeded: the test repeats)
    assert tie(a, b, "log_px") and tie(a, b, "log_px_given_y")
    untrained = build_model(ModelConfig.from_dict(cvae1.config.to_dict()), seed=0).eval()
    c = measure(untrained, data, iw_samples=5)
    assert not tie(a, c, "log_px")
    diff, se = paired_difference(a, c, "log_px")
    assert diff > 2 * se > 0


def test_cvae3_and_the_vae_report_only_their_own_quantities(held_out):
    vae = checkpoint.load(ROOT / "checkpoints" / "vae.safetensors").model
    m = measure(vae, held_out.subset(50), iw_samples=2)
    assert "log_px" in m.figures and "log_px_given_y" not in m.figures
    cvae3 = checkpoint.load(ROOT / "checkpoints" / "cvae3.safetensors").model
    p = measure(cvae3, held_out.subset(50), iw_samples=2)
    assert p.kind == "prediction" and "log_py_given_x" in p.figures and "log_px" not in p.figures
    assert p.figures["log_py_given_x"] <= 0 and p.figures["accuracy"] >= 0.8  # the shipped cvae3 reads most digits right
    assert set(p.as_dict()) >= {"log_py_given_x", "log_py_given_x_se", "accuracy", "accuracy_se"}


def test_size_and_training_time_are_never_best(cvae1, held_out):
    from cvae_core.compare import best_per_column

    rows = {"a": measure(cvae1, held_out.subset(50), iw_samples=2), "b": measure(copy.deepcopy(cvae1), held_out.subset(50), iw_samples=2)}
    best = best_per_column(rows)
    assert "log_px" in best and "parameters" not in best and "training_seconds" not in best


def test_a_model_that_makes_no_images_reports_no_log_p_y_given_x_it_does_not_compute(held_out):
    # M1+M2 (m2 on M1's code z1): its bound is on log p(z1|y), a density of the code; reported as log p(y|x) it would
    # be a wrong label. Only its classifier's accuracy applies, and it is the accuracy of its own q(y|z1).
    from cvae_core.metrics import predict

    m1m2 = build_model(model_config(variant="m2", latent_dim=4, hidden=32, m1_latent=6), seed=0).eval()
    assert not m1m2.makes_images and m1m2.uses_label
    data = held_out.subset(60)
    m = measure(m1m2, data, iw_samples=2)
    assert m.kind == "prediction" and m.bound is None
    assert not {"log_py_given_x", "elbo", "log_px", "log_px_given_y", "ncll_hidden"} & set(m.figures)
    expected = (predict(m1m2.classify, data.binarized_once().images) == data.labels).float().mean().item()
    assert m.figures["accuracy"] == pytest.approx(expected)
    assert "log_py_given_x" not in m.as_dict() and "bound" not in m.as_dict()
