"""The literature's likelihood protocol: dynamically binarised training digits, one fixed binarisation of the
test digits, a validation split apart from train and test, and the same importance-sampling budget for every model."""

import copy
import json
import math

import numpy as np
import pytest
import torch

from cvae_core import cli
from cvae_core.compare import measure, proposals_per_label
from cvae_core.data import Dataset, binarize, load_dataset
from cvae_core.errors import DatasetError
from cvae_core.experiments.common import PlainClassifier
from cvae_core.experiments.quadrants import QuadrantBaseline
from cvae_core.models import build_model, model_config
from cvae_core.training.engine import TrainConfig, Trainer
from tests.conftest import needs_official_test


def small(variant: str, **kw):
    return build_model(model_config(variant=variant, latent_dim=4, hidden=64, layers=1, **kw), seed=0)


def grey_digits(n: int = 64, value: float = 0.3) -> Dataset:
    return Dataset("grey", "train", torch.full((n, 784), value), torch.arange(n) % 10)


def test_training_digits_are_drawn_afresh_as_zeros_and_ones_every_pass():
    data = grey_digits()
    trainer = Trainer(small("vae"), data, config=TrainConfig(epochs=5, batch_size=len(data)), device="cpu")
    first, _ = trainer._batch()
    trainer.step += 1  # the next pass over the same digits
    second, _ = trainer._batch()
    for x in (first, second):
        assert set(x.unique().tolist()) == {0.0, 1.0}
        assert abs(float(x.mean()) - 0.3) < 0.01  # a Bernoulli draw with the grey value as its probability
    assert not torch.equal(first, second)  # a fresh draw, not one binarisation kept
    assert torch.equal(data.images, torch.full((64, 784), 0.3))  # the shared data set is untouched


def test_only_pixel_likelihoods_are_binarised():
    data = grey_digits()
    kinds = {
        "vae": small("vae"),
        "m2": small("m2"),
        "quadrant cvae3": small("cvae3", target="quadrants", given_quadrants=1),
        "quadrant NN": QuadrantBaseline(1, hidden=64, layers=1),
    }
    for name, model in kinds.items():
        assert Trainer(model, data, config=TrainConfig(epochs=1), device="cpu").binarize, name
    for name, model in {"cvae3 classifier": small("cvae3"), "plain classifier": PlainClassifier(64, 1)}.items():
        trainer = Trainer(model, data, config=TrainConfig(epochs=1), device="cpu")
        x, _ = trainer._batch()
        assert not trainer.binarize and torch.equal(x, data.images[: len(x)]), name


def test_the_test_binarisation_is_fixed_and_does_not_depend_on_the_part_taken(held_out):
    once, again = held_out.binarized_once(), held_out.binarized_once()
    assert once.binarized and torch.equal(once.images, again.images)
    assert set(once.images.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(once.subset(50).images, held_out.binarized_once().take(slice(0, 50)).images)
    assert once.binarized_once() is once  # binarising binary digits again changes nothing
    # the draw follows the grey values: its pixel mean is the grey mean, within a few standard errors
    grey_mean, se = float(held_out.images.mean()), math.sqrt(0.25 / held_out.images.numel())
    assert abs(float(once.images.mean()) - grey_mean) < 5 * se
    other_seed = held_out.binarized_once(seed=1)
    assert not torch.equal(other_seed.images, once.images)


def test_binarize_draws_with_the_grey_value_as_probability():
    g = torch.Generator().manual_seed(0)
    x = torch.linspace(0, 1, 784).repeat(2000, 1)
    b = binarize(x, g)
    assert torch.equal(b[:, 0], torch.zeros(2000)) and torch.equal(b[:, -1], torch.ones(2000))
    assert torch.allclose(b.mean(0), x[0], atol=0.05)


def test_validation_is_apart_from_train_and_from_the_official_test_split(digits, held_out):
    assert len(digits) == 4500 and len(held_out) == 500
    train_rows = {row.numpy().tobytes() for row in digits.images}
    assert not any(row.numpy().tobytes() in train_rows for row in held_out.images)
    with pytest.raises(DatasetError, match="no test split"):
        load_dataset("mnist-5k", "test")


@needs_official_test
def test_the_offline_digits_are_not_official_test_digits(held_out, digits):
    test_rows = {row.numpy().tobytes() for row in load_dataset("mnist", "test").images}
    assert not any(row.numpy().tobytes() in test_rows for row in torch.cat([digits.images, held_out.images]))


def test_full_mnist_validation_is_the_last_sixth_of_the_training_files(tmp_path):
    from tests.data.test_data import _write_idx

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.arange(60 * 784).reshape(60, 28, 28) % 256
    _write_idx(raw / "train-images-idx3-ubyte.gz", images)
    _write_idx(raw / "train-labels-idx1-ubyte.gz", np.arange(60) % 10)
    train = load_dataset("mnist", "train", root=tmp_path, download=False)
    val = load_dataset("mnist", "val", root=tmp_path, download=False)
    assert (len(train), len(val)) == (50, 10)  # 50,000 / 10,000 at full size, as Kingma et al. held out
    pixels = torch.as_tensor(images.reshape(60, -1) / 255.0, dtype=torch.float32)
    assert torch.equal(train.images, pixels[:50]) and torch.equal(val.images, pixels[50:])


@pytest.fixture(scope="module")
def trained_pair(digits):
    """A vae and a cvae1, trained briefly on binarised digits: their bounds are far from the untrained ones."""
    models = {}
    for variant in ("vae", "cvae1"):
        model = build_model(model_config(variant=variant, latent_dim=8, hidden=128, layers=1), seed=0)
        Trainer(model, digits, config=TrainConfig(epochs=3, lr=2e-3, seed=0), device="cpu").run_to_end()
        models[variant] = model.eval()
    return models


def test_the_iw_bound_at_one_sample_is_an_elbo_and_rises_with_k(trained_pair, held_out):
    vae = trained_pair["vae"]
    data = held_out.binarized_once().subset(200)
    torch.manual_seed(0)
    with torch.inference_mode():
        elbo = torch.cat([vae.elbo(x)["elbo"] for x, _ in data.batches(100)]).double()
    iw1 = torch.cat([vae.log_likelihood(x, None, k=1) for x, _ in data.batches(100)]).double()
    diff = iw1 - elbo  # same digits: a paired comparison; E[IW_1] = ELBO, one with a sampled KL
    assert abs(float(diff.mean())) < 3 * float(diff.std() / math.sqrt(len(diff)))
    figures = [measure(vae, data, iw_samples=k, seed=1) for k in (1, 10, 100)]
    means = [m.figures["log_px"] for m in figures]
    assert means[0] < means[1] < means[2]
    assert figures[2].figures["log_px"] > figures[2].figures["elbo"]


def test_every_model_spends_the_same_proposals_per_digit_on_log_px(trained_pair, held_out, monkeypatch):
    data = held_out.subset(20)
    spent = {}
    for name, model in trained_pair.items():
        drawn = []
        original = type(model).log_likelihood

        def counting(self, x, y=None, k=100, max_rows=8192, drawn=drawn, original=original):
            drawn.append(k * x.shape[0])
            return original(self, x, y, k, max_rows)

        monkeypatch.setattr(type(model), "log_likelihood", counting)
        measure(model, data, iw_samples=100)
        monkeypatch.undo()
        spent[name] = sum(drawn) / len(data)
    assert spent == {"vae": 100, "cvae1": 100}  # the conditional model: 10 labels x 10 proposals
    assert proposals_per_label(trained_pair["cvae1"], 100) == 10 and proposals_per_label(trained_pair["vae"], 100) == 100


def test_measure_binarises_pixel_models_with_the_fixed_draw(trained_pair, held_out):
    cvae1 = trained_pair["cvae1"]
    grey = measure(cvae1, held_out, iw_samples=10, seed=0)
    binary = measure(cvae1, held_out.binarized_once(), iw_samples=10, seed=0)
    assert np.array_equal(grey.per_digit["log_px"], binary.per_digit["log_px"])  # measured on the same 0/1 digits
    other = measure(cvae1, held_out.binarized_once(seed=7), iw_samples=10, seed=0)
    assert not np.array_equal(other.per_digit["log_px"], binary.per_digit["log_px"])


def test_evaluate_says_its_protocol_and_budget(tmp_path, trained_pair, capsys):
    from cvae_core.storage import checkpoint

    path = tmp_path / "cvae1.safetensors"
    checkpoint.save(trained_pair["cvae1"], path, {})
    assert (
        cli.main(["evaluate", str(path), "--dataset", "mnist-5k", "--split", "val", "--limit", "30", "--iw-samples", "20", "--json"]) == 0
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["protocol"] == "binarized" and result["iw_samples"] == 20 and result["iw_samples_per_label"] == 2
    assert result["log_px"] <= result["log_px_given_y"] and result["log_px_se"] > 0
    args = [
        "evaluate",
        str(path),
        "--dataset",
        "mnist-5k",
        "--split",
        "val",
        "--limit",
        "30",
        "--iw-samples",
        "20",
        "--seed",
        "9",
        "--json",
    ]
    assert cli.main(args) == 0
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])  # other noise, the same binarised digits
    assert again["log_px"] != result["log_px"]
    assert abs(again["log_px"] - result["log_px"]) < 3 * math.hypot(result["log_px_se"], again["log_px_se"])


def test_active_units_count_the_dimensions_whose_posterior_mean_moves(trained_pair, held_out):
    from cvae_core.metrics import active_units

    vae = copy.deepcopy(trained_pair["vae"])
    data = held_out.binarized_once()
    active = active_units(vae, data)
    with torch.inference_mode():
        means = vae.encode(data.images)[0].double()
    assert torch.equal(active, means.var(0) > 0.01) and active.shape == (8,) and active.any()
    first = int(active.nonzero()[0])
    with torch.no_grad():  # silence an active dimension: its mean no longer depends on the digit
        vae.encoder.out.weight[first].zero_()
    silenced = active_units(vae, data)
    assert not bool(silenced[first]) and int(silenced.sum()) == int(active.sum()) - 1
