"""The training engine: slices add up to a whole run, NaN is caught, budgets are kept."""

import math

import pytest
import torch

from cvae_core.errors import ConfigError, TrainingError
from cvae_core.models import build_model, model_config
from cvae_core.training.engine import TrainConfig, Trainer


def fresh(seed=0, variant="cvae2"):
    torch.manual_seed(seed)
    return build_model(model_config(variant=variant, latent_dim=4, hidden=64))


def test_slices_resume_exactly(digits):
    a, b = fresh(), fresh()
    ta = Trainer(a, digits, config=TrainConfig(epochs=1, seed=3))
    tb = Trainer(b, digits, config=TrainConfig(epochs=1, seed=3))
    torch.manual_seed(7)
    ta.run(max_steps=20)
    torch.manual_seed(7)
    for _ in range(4):
        tb.run(max_steps=5)
    assert ta.step == tb.step == 20
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k


def test_epochs_and_progress_report(digits, held_out):
    trainer = Trainer(fresh(), digits, held_out, TrainConfig(epochs=2, batch_size=500))
    assert trainer.total_steps == 2 * math.ceil(4500 / 500)
    first = trainer.run(max_steps=3)
    assert not first.done and first.step == 3 and 0 < first.fraction < 1 and first.eta > 0
    assert first.samples_per_sec > 0 and set(first.terms) == {"loss", "elbo", "recon", "kl"}
    last = trainer.run()
    assert last.done and last.epoch == 2 and last.eta == 0 and last.fraction == 1
    tests = [h for h in trainer.history if h["split"] == "val"]
    assert [round(h["epoch"]) for h in tests] == [1, 2]
    assert trainer.run().step == last.step  # a finished run stays finished


def test_time_budget_stops_training(digits):
    """On a clock of the test's own, where each reading is 0.1 s after the last: a 0.5 s budget ends the run once its
    training time reaches 0.5 s, and a slice of 0.25 s stops within it, whatever the machine's speed."""
    now = [0.0]

    def clock():
        now[0] += 0.1
        return now[0]

    trainer = Trainer(fresh(), digits, config=TrainConfig(epochs=None, max_seconds=0.5))
    trainer.clock = clock
    trainer.run(max_seconds=0.25)
    assert not trainer.done and 0.25 <= trainer.elapsed < 0.5 and trainer.step >= 1
    progress = trainer.run()
    assert progress.done and 0.5 <= trainer.elapsed < 0.7 and progress.step > 1


def test_kl_warm_up_rises_linearly(digits):
    trainer = Trainer(fresh(), digits, config=TrainConfig(epochs=3, batch_size=450, warmup_epochs=2, kl_start=0.0))
    assert trainer.kl_weight() == 0
    trainer.run(max_steps=10)  # one epoch
    assert trainer.kl_weight() == pytest.approx(0.5)
    trainer.run(max_steps=20)
    assert trainer.kl_weight() == 1


def test_diverging_learning_rate_stops_with_message_and_keeps_good_weights(digits):
    model = fresh()
    trainer = Trainer(model, digits, config=TrainConfig(epochs=5, lr=10.0))
    trainer.run(max_steps=1)
    good = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(TrainingError, match="NaN"):
        for _ in range(50):
            trainer.run(max_steps=10)
            good = {k: v.clone() for k, v in model.state_dict().items()}
    assert trainer.done and "NaN" in trainer.message
    for k, v in model.state_dict().items():
        assert torch.isfinite(v).all() and torch.equal(v, good[k]), k


@pytest.mark.parametrize(
    "bad",
    [
        dict(epochs=0),
        dict(epochs=-1),
        dict(epochs=None, max_seconds=None),
        dict(lr=0),
        dict(lr=float("nan")),
        dict(batch_size=0),
        dict(max_seconds=-3),
    ],
)
def test_bad_training_settings_are_refused(digits, bad):
    with pytest.raises(ConfigError):
        Trainer(fresh(), digits, config=TrainConfig(**bad))


def test_free_bits_keep_the_kl_penalty_from_vanishing():
    torch.manual_seed(0)
    model = build_model(model_config(variant="cvae2", latent_dim=4, hidden=32, free_bits=0.5))
    x, y = torch.rand(16, 784), torch.randint(0, 10, (16,))
    torch.manual_seed(1)
    loss_fb, terms = model.loss(x, y)
    model.config.free_bits = 0.0
    torch.manual_seed(1)
    loss_plain, _ = model.loss(x, y)
    # an untrained encoder has KL near 0 per dimension: free bits charge 0.5 nats each instead
    assert float(terms["kl"]) < 4 * 0.5
    assert float(loss_fb - loss_plain) == pytest.approx(4 * 0.5 - float(terms["kl"]), abs=1e-3)
