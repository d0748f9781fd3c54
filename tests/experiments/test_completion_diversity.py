"""Issue 40, item 2: the completion-diversity figures (cvae_core/experiments/completion_diversity.py) and the shipped
file's digit, which the Experiments page opens on, checked against the stated rule on the official test digits."""

import json

import numpy as np
import pytest
import torch

from cvae_core.experiments import completion_diversity as cd
from cvae_core.experiments.quadrants import quadrant_baseline_of, showcase
from cvae_core.models.cvae3 import quadrant_mask
from tests.conftest import needs_official_test
from tests.experiments.test_shipped_results import RESULTS
from ui import experiment_view


def test_the_spread_is_the_mean_pairwise_absolute_difference_of_the_hidden_pixels():
    hidden = 1 - quadrant_mask(1)
    same = torch.rand(1, 784).repeat(6, 1)
    assert cd.pairwise_spread(same, hidden) == 0.0  # six identical completions: no spread, as the NN's one guess
    two = torch.zeros(2, 784)
    two[1, hidden.bool()] = 1.0
    two[1, ~hidden.bool()] = 0.5  # the visible pixels do not count
    assert cd.pairwise_spread(two, hidden) == pytest.approx(1.0)
    three = torch.stack([torch.zeros(784), torch.full((784,), 0.5), torch.ones(784)])
    assert cd.pairwise_spread(three, hidden) == pytest.approx((0.5 + 1.0 + 0.5) / 3)


def test_the_rule_takes_the_first_digit_in_the_top_decile_and_the_interval_holds_the_correlation():
    nll = np.array([10.0, 50.0, 20.0, 99.0, 30.0, 98.0, 40.0, 60.0, 70.0, 80.0])
    index, threshold = cd.rule_digit(nll)
    assert threshold == pytest.approx(np.quantile(nll, 0.9)) and index == 3
    rng = np.random.default_rng(1)
    a = rng.normal(size=300)
    b = a + rng.normal(size=300)
    low, high = cd.spearman_interval(a, b, resamples=200)
    assert low < cd.spearman(a, b) < high and low > 0
    ink = rng.normal(size=300)  # two figures that rise together only through a third: nothing left once it is held fixed
    x, y = ink + rng.normal(size=300), ink + rng.normal(size=300)
    assert cd.spearman(x, y) > 0.3 and abs(cd.partial_spearman(x, y, ink)) < 0.15
    low, high = cd.spearman_interval(x, y, resamples=200, control=ink)
    assert low < 0 < high


@pytest.fixture(scope="module")
def diversity() -> dict:
    path = RESULTS / "completion-diversity-1.json"
    if not path.exists():
        pytest.skip("bench/completion_diversity.py has not written its results yet")
    return json.loads(path.read_text())


@needs_official_test
def test_the_shown_digit_is_the_stated_rules_digit_and_its_spread_is_the_pages_draws(diversity):
    from cvae_core.data import load_dataset, test_digits
    from cvae_core.experiments.quadrant_bounds import nn_ncll_per_digit
    from cvae_core.experiments.shipped import load_shipped

    cvae = load_shipped("quadrants-1").model.eval()
    baseline = quadrant_baseline_of(cvae)
    test = load_dataset("mnist", "test", download=False).binarized_once().subset(diversity["n"])
    index, threshold = cd.rule_digit(nn_ncll_per_digit(baseline, test).double().numpy())  # the rule, again, from the NN alone
    shown = diversity["shown_digit"]
    assert index == shown["index"] and threshold == pytest.approx(shown["threshold"], abs=1e-3)
    assert experiment_view.diversity_digit({experiment_view.DIVERSITY: diversity}, test_digits()) == index  # where the page opens
    *_, completions = showcase(baseline, cvae, test.images[index].view(28, 28), n_samples=diversity["samples"], seed=diversity["seed"])
    assert cd.pairwise_spread(completions.reshape(diversity["samples"], -1), 1 - cvae.mask) == pytest.approx(shown["cvae_spread"], abs=1e-5)
