"""Where random draws come from (cvae_core/noise.py): a run and a seeded measurement draw from generators of their own,
so nothing another visitor draws or seeds in the same process moves them; and the seeds give the numbers they gave
before (a generator seeded with s draws what torch's global one draws after torch.manual_seed(s))."""

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cvae_core.classifier import ClassifierConfig, DigitClassifier
from cvae_core.compare import iw_curve, measure
from cvae_core.distributions import reparameterize
from cvae_core.metrics import label_fidelity
from cvae_core.models import build_model, model_config
from cvae_core.noise import drawing_from, dropout, initial_weights, seeded
from cvae_core.training.engine import TrainConfig, Trainer


def small(seed=0, variant="cvae1"):
    return build_model(model_config(variant=variant, latent_dim=4, hidden=32), seed=seed)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_a_seeded_generator_draws_what_the_global_one_draws_after_the_same_seed():
    mu, logvar = torch.randn(6, 5), torch.randn(6, 5)
    x = torch.randn(64, 32)
    torch.manual_seed(5)
    z_global, dropped_global = reparameterize(mu, logvar), F.dropout(x, 0.3, training=True)
    with seeded(5):
        z_own, dropped_own = reparameterize(mu, logvar), dropout(x, 0.3, training=True)
    assert torch.equal(z_global, z_own) and torch.equal(dropped_global, dropped_own)
    assert torch.equal(dropout(x, 0.3, training=False), x)


def test_draws_inside_a_block_neither_read_nor_move_the_global_generator_and_blocks_nest():
    mu, logvar = torch.zeros(3, 4), torch.zeros(3, 4)
    torch.manual_seed(1)
    before = torch.get_rng_state()
    outer = torch.Generator().manual_seed(9)
    with drawing_from(outer):
        first = reparameterize(mu, logvar)
        with seeded(2):
            inner = reparameterize(mu, logvar)
        second = reparameterize(mu, logvar)
    assert torch.equal(torch.get_rng_state(), before)
    again = torch.Generator().manual_seed(9)
    expected = [torch.randn(3, 4, generator=again) for _ in range(2)]
    assert torch.equal(first, expected[0]) and torch.equal(second, expected[1])  # the inner block took none of outer's
    assert torch.equal(inner, torch.randn(3, 4, generator=torch.Generator().manual_seed(2)))
    assert not torch.equal(reparameterize(mu, logvar), reparameterize(mu, logvar))  # outside: the global generator


def test_seeded_measurements_give_the_same_figures_whatever_the_global_generator_did(digits):
    model = small()
    reader = DigitClassifier(ClassifierConfig()).eval()
    some = digits.subset(40)

    def figures() -> tuple:
        curve = iw_curve(model, some, ks=(1, 10), reference=50)
        fidelity = label_fidelity(model, reader, per_label=20)
        m = measure(model, some, iw_samples=20, classifiers={"label_fidelity": reader}, per_label=20)
        return (
            curve["mean"],
            fidelity["per_label"],
            m.figures["log_px"],
            m.figures["label_fidelity"],
            model.read_digit(some.images[0]).tolist(),
        )

    torch.manual_seed(1)
    state = torch.get_rng_state()
    one = figures()
    assert torch.equal(torch.get_rng_state(), state)  # nothing was drawn from it
    torch.manual_seed(2)
    assert figures() == one


def test_a_trainer_draws_nothing_from_the_global_generator(digits):
    def trained(global_seed: int) -> torch.nn.Module:
        model = small(seed=4)
        trainer = Trainer(model, digits.subset(300), digits.subset(100), TrainConfig(epochs=2, batch_size=50, seed=3), device="cpu")
        torch.manual_seed(global_seed)
        state = torch.get_rng_state()
        trainer.run_to_end()
        assert torch.equal(torch.get_rng_state(), state)
        return model

    assert same_weights(trained(1), trained(2))


def test_two_runs_taking_turns_each_learn_what_they_learn_alone(digits):
    """The training service's lanes interleave runs a slice at a time; here a step at a time, in one thread, with the
    stranger's run built (and seeded) halfway through mine."""
    data, config = digits.subset(300), TrainConfig(epochs=1, batch_size=30, seed=0)
    alone = Trainer(small(seed=0), data, config=config, device="cpu")
    alone.run_to_end()

    mine = Trainer(small(seed=0), data, config=config, device="cpu")
    mine.run(max_steps=4)
    theirs = Trainer(small(seed=1, variant="cvae2"), data, config=TrainConfig(epochs=1, batch_size=20, seed=1), device="cpu")
    while not (mine.done and theirs.done):
        mine.run(max_steps=1)
        theirs.run(max_steps=1)
    assert mine.step == alone.step and same_weights(mine.model, alone.model)


def test_a_seeded_build_draws_the_seeds_weights_while_other_threads_build():
    reference = {seed: small(seed) for seed in range(4)}
    mismatches, errors = [], []
    together = threading.Barrier(4)

    def build(seed: int) -> None:
        try:
            together.wait()  # all four build at once
            for _ in range(15):
                if not same_weights(small(seed), reference[seed]):
                    mismatches.append(seed)
                with initial_weights():  # an unseeded build (a checkpoint being loaded) beside the seeded ones
                    DigitClassifier(ClassifierConfig())
        except Exception as e:  # noqa: BLE001 -- reported below
            errors.append(e)

    threads = [threading.Thread(target=build, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and not mismatches


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_dropout_keeps_the_expected_value(p):
    x = torch.ones(200_000)
    with seeded(0):
        y = dropout(x, p, training=True)
    assert float(y.mean()) == pytest.approx(1.0 - (p == 1.0), abs=0.01)
    assert set(np.unique(y.numpy()).round(4)) <= {0.0, round(1 / (1 - p), 4) if p < 1 else 0.0}


@pytest.mark.parametrize("experiment", ["semisupervised", "quadrants", "classification"])
def test_an_experiment_trained_to_the_end_leaves_the_global_generator_as_it_found_it(experiment, digits, held_out):
    """Every draw of a plan -- its networks' steps, their choice on validation, the figures between them -- comes from a
    generator of its own, and its builds put the global generator back: a draw that escaped would show here."""
    from cvae_core.experiments.classification import classification
    from cvae_core.experiments.quadrants import quadrants_plan
    from cvae_core.experiments.semisupervised import semisupervised_plan
    from cvae_core.training.stages import run_plan

    train, validation, test = digits.subset(600), held_out.subset(100), held_out.take(slice(100, 200))
    torch.manual_seed(11)
    state = torch.get_rng_state()
    if experiment == "semisupervised":
        run_plan(semisupervised_plan(50, train, test, epochs=0.5, hidden=128, m1_latent=8, m1_epochs=10, validation=validation))
    elif experiment == "quadrants":
        run_plan(
            quadrants_plan(1, train, test, epochs=0.5, samples=5, hidden=64, fills=("none", "prior"), validation=validation, nn_epochs=0.5)
        )
    else:
        classification(train, test, epochs=0.5, hidden=64, arch="conv", validation=validation)
    assert torch.equal(torch.get_rng_state(), state)
