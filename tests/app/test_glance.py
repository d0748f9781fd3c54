"""What the Compare, Experiments and Home pages open on: figures rounded to the precision their standard error
supports, and the one-sentence findings computed from the shipped results. Pure functions, checked without a page."""

import copy

import pytest

from cvae_core.compare import findings, recorded
from cvae_core.experiments.shipped import shipped_results
from cvae_core.storage.checkpoint_header import SHIPPED, catalogue, recorded_values
from ui import experiment_view, readable, summaries


def said(sentence) -> str:
    template, fields = sentence
    return template.format(**fields)


@pytest.mark.parametrize(
    ("error", "decimals"),
    [(0.61, 1), (0.35, 1), (0.158, 2), (0.25, 2), (1.0, 1), (3.2, 0), (25.0, 0), (0.0016, 4), (0.009, 3), (0.0, 1), (None, 1)],
)
def test_a_figure_keeps_the_decimals_its_standard_error_supports(error, decimals):
    assert readable.decimals_for(error) == decimals


def test_a_figure_and_its_error_are_written_to_the_same_precision():
    assert readable.to_precision(-91.1063, 0.6064) == "-91.1 ± 0.6"
    assert readable.to_precision(-7.355, 0.158) == "-7.36 ± 0.16"
    assert readable.to_precision(-150.3767, 0.999) == "-150.4 ± 1.0"  # 0.999 rounds to 1.0: a leading 1 keeps a digit more
    assert readable.to_precision(0.9742, 0.0016, percent=True) == "97.42 ± 0.16 %"  # the error in points decides, not as a fraction
    assert readable.to_precision(None, 0.5) == "—"


@pytest.fixture(scope="module")
def headers() -> dict[str, dict]:
    return {name: meta.get("metrics", {}).get("test", {}) for name, meta in catalogue(SHIPPED).items()}


@pytest.fixture(scope="module")
def values() -> dict[str, dict]:
    return {name: recorded_values(SHIPPED / f"{name}.safetensors") for name in catalogue(SHIPPED)}


def test_recorded_figures_become_measurements_with_the_per_digit_values_their_file_holds(headers, values):
    m = recorded(headers["cvae1"], values["cvae1"])
    assert m.kind == "image" and m.bound == "log p(x|y)"
    assert m.figures["log_px"] == headers["cvae1"]["log_px"] and m.errors["log_px"] == headers["cvae1"]["log_px_se"]
    for key, digits in m.per_digit.items():  # the values behind the recorded mean, one per recorded digit
        assert len(digits) == headers["cvae1"]["n"] and abs(digits.mean() - headers["cvae1"][key]) < 1e-3
    assert not recorded(headers["cvae1"]).per_digit  # a header alone has no values: comparisons are unpaired
    assert recorded(headers["cvae3"]).kind == "prediction" and "log_px" not in recorded(headers["cvae3"]).figures


def test_the_compare_sentence_is_written_by_the_findings_code_from_the_recorded_figures(headers, values):
    rows = {name: recorded(test, values[name]) for name, test in headers.items() if test.get("log_px") is not None}
    notes = findings(rows)
    best = max(rows, key=lambda name: rows[name].figures["log_px"])
    assert any(best in note and "log p(x)" in note for note in notes)
    with_values = [name for name, m in rows.items() if "log_px_given_y" in m.per_digit]
    # the label's worth needs per-digit values: said for the conditional models that recorded them, and only for those
    worth = [note for note in notes if "worth" in note]
    assert len(worth) == (1 if with_values else 0)  # one sentence for every model that has them
    assert all(f"nats to {name}" in worth[0] for name in with_values) and "to vae" not in "".join(worth)
    close = copy.deepcopy(rows)  # a second model within an error of the best: now they tie (on unpaired errors)
    close["twin"] = recorded({**headers[best], "log_px": headers[best]["log_px"] - 0.5})
    assert any("tie on log p(x)" in note and "twin" in note for note in findings(close))


def test_the_pretrained_table_is_summed_up_by_its_range_of_log_px(headers):
    sentence = said(summaries.pretrained_sentence(headers))
    assert sentence.startswith(f"{len(headers)} pretrained models") and "(cvae1, the most probable)" in sentence
    worst = min((t for t in headers.values() if "log_px" in t), key=lambda t: t["log_px"])  # the headers' own figures
    assert f"{worst['log_px']:.1f} (vae-2d)" in sentence and f"{worst['n']:,} test digits" in sentence
    assert summaries.pretrained_sentence({"cvae3": headers["cvae3"]}) is None


@pytest.fixture(scope="module")
def shipped() -> dict:
    return shipped_results()


def test_the_quadrant_experiment_says_the_cvae_beats_the_nn_by_the_paired_differences(shipped):
    sentence = said(experiment_view.quadrant_finding(shipped))
    gains = [-shipped[f"quadrant-bounds-{g}"]["cvae"]["minus_nn"] for g in (1, 2, 3)]
    assert all(g > 0 for g in gains) and "better than the NN every time" in sentence and "1 / 2 / 3" in sentence
    assert f"{gains[0]:.2f}" in sentence  # its error, 0.27, supports two decimals
    worse = copy.deepcopy(shipped)
    worse["quadrant-bounds-2"]["cvae"]["minus_nn"] = 0.1  # within two paired errors of nothing: not a win
    assert "does not beat the NN clearly" in said(experiment_view.quadrant_finding(worse))
    assert experiment_view.quadrant_finding({}) is None


def test_the_semi_supervised_experiment_says_whether_m1m2_beats_m2(shipped):
    r = shipped["kingma-m1m2-100"]
    sentence = said(experiment_view.kingma_finding(shipped))
    assert f"M1+M2 reads {100 * r['m1m2_accuracy']['mean']:.0f} %" in sentence and "beats M2" in sentence
    assert {b["model"] for b in experiment_view.kingma_bars(shipped)} >= {"M1+M2, Kingma's recipe", "M2, Kingma's recipe"}
    assert all(b["labels"] == 100 for b in experiment_view.kingma_bars(shipped))  # the 600-label reference is not a bar
    unclear = copy.deepcopy(shipped)
    unclear["kingma-m1m2-100"]["m1m2_minus_m2"]["ci95"] = [-0.01, 0.05]
    assert "do not differ clearly" in said(experiment_view.kingma_finding(unclear))
    assert experiment_view.kingma_finding({}) is None


def test_the_completion_diversity_sentence_is_computed_from_the_shipped_file(shipped):
    r = shipped[experiment_view.DIVERSITY]
    rank = r["spearman_spread_nn_nll"]
    sentence = said(experiment_view.diversity_finding(shipped))
    assert f"first {r['n']:,} test digits" in sentence and f"rank correlation {rank['rho']:.2f}" in sentence
    assert f"{r['quartiles'][-1]['cvae_spread']['mean']:.3f} apart" in sentence and "single guess never differs" in sentence
    assert f"{100 * r['classifiers']['label_fidelity']['several_classes']:.0f} %" in sentence
    both = (rank["ci95"], r["spearman_given_hidden_ink"]["ci95"])
    expected = "differ more" if all(ci[0] > 0 for ci in both) else "differ less" if all(ci[1] < 0 for ci in both) else "do not differ"
    assert expected in sentence and f"with as much ink hidden, {r['spearman_given_hidden_ink']['rho']:.2f}" in sentence
    changed = copy.deepcopy(shipped)  # other numbers, another sentence
    mine = changed[experiment_view.DIVERSITY]
    mine["spearman_spread_nn_nll"].update(rho=0.01, ci95=[-0.03, 0.05])
    mine["quartiles"][-1]["cvae_spread"]["mean"] = 0.0123
    other = said(experiment_view.diversity_finding(changed))
    assert "do not differ clearly" in other and "rank correlation 0.01" in other and "0.012 apart" in other
    mine["spearman_spread_nn_nll"]["ci95"] = [0.1, 0.3]
    mine["spearman_given_hidden_ink"]["ci95"] = [-0.02, 0.04]  # only through the ink hidden: not said to differ more
    assert "do not differ clearly" in said(experiment_view.diversity_finding(changed))
    mine["spearman_spread_nn_nll"]["ci95"] = mine["spearman_given_hidden_ink"]["ci95"] = [-0.3, -0.1]
    assert "differ less" in said(experiment_view.diversity_finding(changed))
    assert experiment_view.diversity_finding({}) is None
    bins = experiment_view.diversity_bins(shipped)
    assert len(bins) == 10 and sum(b["n"] for b in bins) == r["n"] and all(b["nn"] == 0 for b in bins)
