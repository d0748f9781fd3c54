"""Issue 41's "done when" for the shipped results files: each says how its figures were chosen and on which pixels
each classifier was tested; each quadrant bound is an IS bound at k >= 1,000 with its paired SE and MC's distance."""

import json
from pathlib import Path

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "checkpoints" / "experiments" / "results"


def files(prefix: str) -> list[Path]:
    return sorted(RESULTS.glob(f"{prefix}*.json"))


@pytest.mark.parametrize("path", files("semisupervised-") + files("kingma-"), ids=lambda p: p.stem)
def test_semisupervised_files_record_their_selection_rule_and_the_pixels_each_classifier_read(path):
    r = json.loads(path.read_text())
    assert r["selection_rule"].strip()
    tested = ("_accuracy", "probe_", "baseline_")  # every test accuracy's key (validation_accuracy is not one)
    accuracies = {k for k in r if k != "validation_accuracy" and "_minus_" not in k and (k.endswith(tested[0]) or k.startswith(tested[1:]))}
    assert accuracies <= set(r["pixels_tested_on"]), accuracies - set(r["pixels_tested_on"])
    assert r["reported_on"] == "test"


@pytest.mark.parametrize("path", files("quadrant-bounds-"), ids=lambda p: p.stem)
def test_quadrant_bounds_are_is_bounds_at_k_1000_with_a_paired_se_and_the_mc_distance(path):
    r = json.loads(path.read_text())
    cvae = r["cvae"]
    assert cvae["k"] >= 1000 and cvae["se"] > 0 and cvae["minus_nn_se"] > 0
    assert r["selected_on"] == "validation" and r["reported_on"] == "test"
    assert str(cvae["k"]) in r["curve"] and all("mc_minus_is" in c for c in r["curve"].values())


def test_the_one_quadrant_grid_was_chosen_on_validation_before_test():
    path = RESULTS / "quadrant-grid-1.json"
    if not path.exists():
        pytest.skip("the grid (bench/quadrant_grid.py) has not written its results yet")
    r = json.loads(path.read_text())
    best = min(r["grid"], key=lambda row: row["validation_ncll_is"])
    assert (best["gsnn_weight"], best["latent_dim"]) == (r["chosen"]["gsnn_weight"], r["chosen"]["latent_dim"])
    for seed in r.get("seeds", []):
        assert seed["cvae"]["k"] >= 1000


@pytest.mark.parametrize("path", [p for p in files("quadrant-grid-") if p.stem != "quadrant-grid-1"], ids=lambda p: p.stem)
def test_more_quadrants_carry_the_one_quadrant_choice_over_and_say_so(path):
    r, first = json.loads(path.read_text()), json.loads((RESULTS / "quadrant-grid-1.json").read_text())
    assert r["chosen"] == first["chosen"] and [(g["gsnn_weight"], g["latent_dim"]) for g in r["grid"]] == [tuple(first["chosen"].values())]
    assert r["setting_from"].startswith("quadrant-grid-1") and r["reported_on"] == "test"
    for seed in r["seeds"]:  # an IS bound at k >= 1,000 with the paired SE against its own seed's NN, and MC's distance
        assert seed["cvae"]["k"] >= 1000 and seed["cvae"]["minus_nn_se"] > 0 and all("mc_minus_is" in c for c in seed["curve"].values())


def test_the_completion_diversity_file_records_its_rule_command_and_digits():
    path = RESULTS / "completion-diversity-1.json"
    if not path.exists():
        pytest.skip("bench/completion_diversity.py has not written its results yet")
    r = json.loads(path.read_text())
    assert r["reported_on"] == "test" and r["n"] >= 2000 and r["cvae_spread"]["n"] == r["n"]
    assert r["command"].startswith("CVAE_DATA_DIR=") and "bench/completion_diversity.py" in r["command"]
    assert r["temperature"] == 1.0 and r["seed"] == 0 and r["samples"] == 6  # the page's draws: temperature 1, no NCLL owed
    assert r["nn_spread"] == 0.0 and all(c["nn_several_classes"] == 0.0 for c in r["classifiers"].values())
    assert set(r["classifiers"]) == {"label_fidelity", "label_fidelity_second"}  # the one it could be tuned against, and another
    low, high = r["spearman_spread_nn_nll"]["ci95"]
    assert low <= r["spearman_spread_nn_nll"]["rho"] <= high
    assert "top decile" in r["shown_digit"]["rule"] and r["shown_digit"]["nn_nll"] >= r["shown_digit"]["threshold"]
    assert sum(q["cvae_spread"]["n"] for q in r["quartiles"]) == r["n"]
