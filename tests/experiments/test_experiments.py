"""The papers' experiments: M1+M2, Sohn's NN-filled CVAE, spreads over seeds, and the shipped results."""

import pytest
import torch

from cvae_core.data import Dataset, hide_labels
from cvae_core.experiments.common import spread, with_weights
from cvae_core.experiments.quadrants import QuadrantBaseline, quadrant_baseline_of, quadrants
from cvae_core.experiments.semisupervised import kept_code, logistic_regression_accuracy, semisupervised, train_m1
from cvae_core.experiments.shipped import SHIPPED_DIR, SHIPPED_MODELS, load_shipped, shipped_results
from cvae_core.models import build_model, model_config
from cvae_core.training.engine import TrainConfig, Trainer
from ui.experiment_view import quadrant_rows, semisupervised_rows


def small(dataset: Dataset, n: int) -> Dataset:
    return Dataset(dataset.name, dataset.split, dataset.images[:n], dataset.labels[:n])


def test_m1_m2_trains_m2_on_a_frozen_m1_code(digits):
    m1 = train_m1(digits, hidden=64, latent_dim=8, epochs=1)
    config = model_config(variant="m2", latent_dim=4, hidden=64, m1_latent=8)
    model = with_weights(build_model(config, seed=0), "m1", m1.encoder)
    frozen = {k: v.clone() for k, v in model.m1.state_dict().items()}
    partial = digits.with_labels(hide_labels(digits.labels, 100, seed=0))
    labelled = partial.labels >= 0  # q(y|z1) reads the labelled digits through M1's code (binarised, as trained)
    x, y = digits.binarized_once().images[labelled], digits.labels[labelled]

    def cross_entropy():
        model.eval()
        with torch.no_grad():
            return float(torch.nn.functional.nll_loss(model.classify(x).log(), y))

    before = cross_entropy()
    Trainer(model, partial, config=TrainConfig(epochs=3, lr=2e-3, seed=0), device="cpu").run_to_end()
    after = cross_entropy()
    assert after < before - 0.05, (before, after)  # q(y|z1) learned from the labels, through M1's code
    for k, v in model.m1.state_dict().items():
        assert torch.equal(v, frozen[k]), f"M1's {k} changed while M2 trained"
    # what M2 models is M1's code: its mean at test time, a draw from q(z1|x) in training
    mu = m1.encoder(x[:4]).chunk(2, -1)[0]
    torch.testing.assert_close(model.observed(x[:4]), mu)
    model.train()
    assert not torch.allclose(model.observed(x[:4]), mu)
    assert not model.makes_images


def test_m2_reads_only_the_active_dimensions_of_m1s_code(digits):
    m1 = train_m1(digits, hidden=32, latent_dim=6, epochs=1)
    keep = torch.tensor([True, False, True, True, False, False])
    pruned = kept_code(m1.encoder, keep)
    x = digits.images[:5]
    mu, logvar = m1.encoder(x).chunk(2, -1)
    mu_kept, logvar_kept = pruned(x).chunk(2, -1)
    torch.testing.assert_close(mu_kept, mu[:, keep])  # the same means and variances, for the kept dimensions only
    torch.testing.assert_close(logvar_kept, logvar[:, keep])
    model = with_weights(build_model(model_config(variant="m2", latent_dim=4, hidden=32, m1_latent=3), seed=0), "m1", pruned)
    model.eval()
    torch.testing.assert_close(model.observed(x), mu[:, keep])


def test_semisupervised_m1m2_reports_m1s_active_units_and_a_linear_read_of_its_code(digits, held_out):
    result = semisupervised(
        100, small(digits, 1000), small(held_out, 200), epochs=0.3, hidden=32, m1_latent=8, m1_epochs=2, validation=small(held_out, 100)
    )
    assert 1 <= result["m1_active_units"] <= result["m1_latent"] == 8
    assert result["model_object"].config.m1_latent == result["m1_active_units"]  # M2 models the active dimensions only
    assert result["z1_logistic_accuracy"] > 0.2  # a linear read of the code beats chance (0.1) after a short M1


def test_logistic_regression_reads_a_linearly_separable_code_and_not_noise():
    g = torch.Generator().manual_seed(0)
    centres = 4 * torch.randn(10, 5, generator=g)

    def draw(n):
        y = torch.arange(10).repeat(n)
        return centres[y] + 0.5 * torch.randn(len(y), 5, generator=g), y

    (z, y), (zv, yv), (zt, yt) = draw(10), draw(5), draw(20)
    assert logistic_regression_accuracy(z, y, zt, yt, zv, yv) > 0.95
    noise = torch.randn(len(yt), 5, generator=g)  # codes that say nothing of the label
    assert logistic_regression_accuracy(z, y, noise, yt, zv, yv) < 0.3


def test_the_nn_filled_cvae_feeds_the_nn_guess_to_its_prior_network_only():
    nn_ = QuadrantBaseline(given=1, hidden=32)
    cvae = with_weights(build_model(model_config(variant="cvae3", target="quadrants", given_quadrants=1, hidden=32, nn_fill="prior"), seed=0),
                        "baseline_net", nn_.net)  # fmt: skip
    x = torch.rand(3, 784)
    guess = torch.sigmoid(nn_(x))
    filled = x * cvae.mask + guess * (1 - cvae.mask)
    torch.testing.assert_close(cvae.prior(x)[0], cvae.prior_net(filled).chunk(2, -1)[0])
    q_before, gen_before = cvae.encode(x, x)[0], cvae.decode(torch.zeros(3, cvae.latent_dim), x)
    with torch.no_grad():  # another NN: the prior moves, recognition (the true pixels) and generation do not
        for p in cvae.baseline_net.parameters():
            p.add_(torch.randn_like(p))
    assert not torch.allclose(cvae.prior(x)[0], cvae.prior_net(filled).chunk(2, -1)[0])
    torch.testing.assert_close(cvae.encode(x, x)[0], q_before)
    torch.testing.assert_close(cvae.decode(torch.zeros(3, cvae.latent_dim), x), gen_before)
    assert not any(p.requires_grad for p in cvae.baseline_net.parameters())
    # the NN that the page shows is the copy inside
    torch.testing.assert_close(quadrant_baseline_of(cvae)(x), cvae.baseline_net(x * cvae.mask - (1 - cvae.mask)))


def test_prior_and_generation_fill_reaches_the_generation_network():
    cvae = build_model(model_config(variant="cvae3", target="quadrants", given_quadrants=2, hidden=32, nn_fill="prior+generation"), seed=0)
    x, z = torch.rand(2, 784), torch.zeros(2, cvae.latent_dim)
    before = cvae.decode(z, x)
    with torch.no_grad():
        cvae.baseline_net.out.bias.add_(5.0)
    assert not torch.allclose(cvae.decode(z, x), before)


def test_quadrants_trains_one_cvae_per_fill_beside_one_nn(digits, held_out):
    result = quadrants(1, small(digits, 600), small(held_out, 50), epochs=0.5, samples=3, hidden=32)
    assert set(result.cvaes) == {"none", "prior"} and result.cvaes["prior"].fill == "prior"
    torch.testing.assert_close(result.cvaes["prior"].baseline_net.out.weight, result.baseline.net.out.weight)
    row = quadrant_rows({"quadrants-1": result.as_dict()})[0]
    assert row["quadrants shown"] == 1 and row["CVAE: IS / NN"] == pytest.approx(result.cvae_ncll_is["none"] / result.nn_ncll, abs=1e-4)
    assert result.best in result.cvaes


def test_spreads_run_over_distinct_seeds_and_report_mean_and_sample_std():
    seen = []

    def run_once(seed):
        seen.append(seed)
        return {"acc": [0.90, 0.92, 0.97][seed]}

    out = spread(run_once, range(3), ("acc",))
    assert seen == [0, 1, 2] and out["seeds"] == [0, 1, 2]
    assert out["acc"]["mean"] == pytest.approx(0.93, abs=1e-4)
    assert out["acc"]["std"] == pytest.approx(torch.tensor([0.90, 0.92, 0.97], dtype=torch.float64).std().item(), abs=1e-4)
    with pytest.raises(ValueError, match="distinct"):
        spread(run_once, [1, 1], ("acc",))


def test_each_seed_draws_its_own_labelled_digits_and_weights(digits, held_out):
    assert not torch.equal(hide_labels(digits.labels, 100, seed=0), hide_labels(digits.labels, 100, seed=1))
    runs = [semisupervised(100, small(digits, 1000), small(held_out, 100), epochs=0.3, seed=s, hidden=32) for s in (0, 1)]
    weights = [r["model_object"].classifier.out.weight for r in runs]
    assert not torch.equal(*weights)
    assert [r["seed"] for r in runs] == [0, 1]


def test_semisupervised_rows_read_spreads_and_single_runs():
    results = {
        "semisupervised-m2-100": {"labels": 100, "model": "M2", "m2_accuracy": {"mean": 0.92, "std": 0.01, "runs": 5},
                                  "baseline_accuracy": {"mean": 0.78, "std": 0.02, "runs": 5}},
        "semisupervised-m1m2-100": {"labels": 100, "model": "M1+M2", "m2_accuracy": {"mean": 0.94, "std": 0.01, "runs": 5},
                                    "baseline_accuracy": {"mean": 0.78, "std": 0.02, "runs": 5}},
        "semisupervised-m1m2-600": {"labels": 600, "model": "M1+M2", "m2_accuracy": 0.96, "baseline_accuracy": 0.91},
    }  # fmt: skip
    rows = semisupervised_rows(results)
    assert [(r["model"], r["labels"]) for r in rows] == [(m, 100) for m in ("M1+M2", "M2", "baseline")] + [
        (m, 600) for m in ("M1+M2", "baseline")
    ]
    assert rows[-1]["runs"] == 1 and rows[-1]["std"] == 0.0


def test_the_shipped_results_and_models_are_there_and_read_right(held_out):
    results = shipped_results()
    assert {"quadrants-1", "quadrants-2"} <= set(results)  # (three quadrants: not yet run on this protocol)
    assert {r["model"] for r in semisupervised_rows(results)} >= {"M2", "M1+M2", "baseline"}
    for model_id in SHIPPED_MODELS:
        ckpt = load_shipped(model_id)
        assert ckpt.metadata["command"], f"{model_id}: no command recorded"
        if model_id.startswith("m"):
            accuracy = float((ckpt.model.classify(held_out.binarized_once().images).argmax(-1) == held_out.labels).float().mean())
            assert accuracy > 0.8, (model_id, accuracy)  # 100 labels: the labels-alone baseline reads about 76 %
    size = sum(p.stat().st_size for p in SHIPPED_DIR.parent.rglob("*") if p.is_file())
    assert size <= 50 * 1024 * 1024, f"checkpoints/ holds {size / 1e6:.1f} MB"


def test_the_experiment_models_stay_off_the_pickers_and_raise_no_warning():
    from cvae_core.storage.checkpoint import SHIPPED, load_folder

    models, refused = load_folder(SHIPPED)  # what the pickers and Compare offer
    assert not refused
    assert not {p.stem for p in SHIPPED_DIR.glob("*.safetensors")} & set(models)
    assert all(ckpt.metadata.get("experiment") is None for ckpt in models.values())


def test_shipped_results_on_the_current_protocol_were_chosen_on_validation_and_reported_on_test():
    current = {stem: r for stem, r in shipped_results().items() if r.get("protocol") == "binarized" or "selected_on" in r}
    assert "quadrants-1" in current  # the result the Experiments page's model comes from
    for stem, r in current.items():
        assert r["selected_on"] == "validation" and r["reported_on"] == "test", stem
        if stem.startswith("quadrants-"):
            assert (
                r["n"] == 10_000 and r["selected_fill"] in r["cvae"] and all({"ncll_mc", "ncll_is"} <= set(c) for c in r["cvae"].values())
            )


def test_every_shipped_result_was_chosen_on_validation():
    """Every choice behind a shipped figure (epochs, fills, the NN's length, settings) was made on validation digits."""
    results = shipped_results()
    assert results
    unchosen = sorted(name for name, r in results.items() if r.get("selected_on") != "validation")
    assert not unchosen, unchosen
