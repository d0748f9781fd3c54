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
