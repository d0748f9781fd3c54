"""Every variant learns: its ELBO rises, its estimators order correctly, its classifier beats chance."""

import pytest
import torch

from cvae_core.metrics import accuracy, evaluate_elbo
from cvae_core.models import VARIANTS, build_model, model_config
from cvae_core.models.cvae3 import masked_input, quadrant_mask
from cvae_core.training.engine import TrainConfig, Trainer

STEPS = 250


def small_config(variant, **kw):
    return model_config(variant=variant, latent_dim=8, hidden=256, **kw)


@pytest.fixture(scope="module")
def trained(digits, held_out):
    """Each variant trained STEPS batches, with its test ELBO before and after."""
    out = {}
    for variant in VARIANTS:
        torch.manual_seed(0)
        model = build_model(small_config(variant))
        before = evaluate_elbo(model, held_out)["elbo"]
        trainer = Trainer(model, digits, config=TrainConfig(epochs=None, max_seconds=600, seed=0))
        trainer.run(max_steps=STEPS)
        out[variant] = (model.eval(), before, evaluate_elbo(model, held_out)["elbo"])
    return out


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_elbo_rises_with_training(trained, variant):
    _, before, after = trained[variant]
    assert after > before + (0.5 if variant == "cvae3" else 60), (before, after)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "cvae3"])
def test_trained_image_variants_reach_a_sensible_elbo(trained, variant):
    _, _, after = trained[variant]
    assert -200 < after < -80  # nats per digit; an untrained model sits near -545


@pytest.mark.parametrize("variant", ["cvae1", "cvae2", "cvae3", "cvae4", "m2"])
def test_classify_beats_chance_by_far(trained, held_out, variant):
    model = trained[variant][0]
    probs = model.classify(held_out.images[:50])
    torch.testing.assert_close(probs.sum(-1), torch.ones(50))
    acc = accuracy(lambda x: model.classify(x), held_out)
    # chance is 0.1; cvae4 classifies only through the KL to p(z|y), which sharpens slowly
    assert acc > (0.3 if variant == "cvae4" else 0.6), acc


def test_vae_has_no_label_to_predict(trained):
    with pytest.raises(NotImplementedError):
        trained["vae"][0].classify(torch.rand(2, 784))


@pytest.mark.parametrize("variant", ["vae", "cvae1", "cvae3", "cvae4"])
def test_importance_weighted_bound_is_above_elbo_and_rises_with_k(trained, held_out, variant):
    model = trained[variant][0]
    x, y = held_out.images[:200], held_out.labels[:200]
    torch.manual_seed(0)
    elbo = torch.stack([model.elbo(x, y)["elbo"] for _ in range(20)]).mean()
    bounds = [model.log_likelihood(x, y, k=k).mean() for k in (1, 10, 100)]
    # k = 1 is an unbiased estimate of the ELBO
    assert abs(bounds[0] - elbo) < 0.03 * abs(elbo) + 0.05
    assert bounds[1] > elbo and bounds[2] > bounds[1], (elbo, bounds)


@pytest.mark.parametrize("variant", ["vae", "cvae1", "cvae2", "cvae4", "m2"])
def test_generate_gives_images_and_respects_given_z(trained, variant):
    model = trained[variant][0]
    y = torch.arange(10)
    images = model.generate(y if model.uses_label else None, n=10)
    assert images.shape == (10, 28, 28) and images.min() >= 0 and images.max() <= 1
    z = torch.randn(10, model.latent_dim)
    a = model.generate(y if model.uses_label else None, z=z)
    b = model.generate(y if model.uses_label else None, z=z)
    assert torch.equal(a, b)
    cold = model.generate(y if model.uses_label else None, temperature=0.0, n=10)
    if model.name in ("cvae1", "cvae4"):  # temperature 0 gives the mean of p(z|y)
        mu, _ = model.prior(None, torch.eye(10))
        assert torch.allclose(cold, model.generate(y, z=mu), atol=1e-6)


def test_cvae4_decoder_never_sees_the_label(trained):
    model = trained["cvae4"][0]
    z = torch.randn(5, model.latent_dim)
    torch.testing.assert_close(model.generate(torch.zeros(5, dtype=torch.long), z=z), model.generate(torch.full((5,), 7), z=z))


def test_cvae2_label_changes_the_digit(trained):
    model = trained["cvae2"][0]
    z = torch.zeros(2, model.latent_dim)
    a, b = model.generate(torch.tensor([0, 1]), z=z)
    assert (a - b).abs().sum() > 20


def test_quadrant_mask_and_masked_input():
    for given in (1, 2, 3):
        mask = quadrant_mask(given)
        assert mask.sum() == given * 14 * 14
    half = quadrant_mask(2).view(28, 28)
    assert half[:, :14].all() and not half[:, 14:].any()  # two quadrants: the left half is seen
    assert quadrant_mask(1).view(28, 28)[14:, :14].all() and not quadrant_mask(3).view(28, 28)[14:, 14:].any()
    x = torch.rand(3, 784)
    m = quadrant_mask(1)
    xin = masked_input(x, m)
    assert torch.equal(xin[:, m.bool()], x[:, m.bool()]) and (xin[:, ~m.bool()] == -1).all()


def test_cvae3_quadrants_learns_and_keeps_the_visible_part(digits, held_out):
    torch.manual_seed(0)
    model = build_model(small_config("cvae3", target="quadrants", given_quadrants=2))
    before = evaluate_elbo(model, held_out)["elbo"]
    Trainer(model, digits, config=TrainConfig(epochs=None, max_seconds=600)).run(max_steps=150)
    after = evaluate_elbo(model, held_out)["elbo"]
    assert after > before + 100, (before, after)
    x = held_out.images[:4]
    completions = model.complete(x, n_samples=3)
    assert completions.shape == (3, 4, 28, 28)
    visible = model.mask.bool().view(28, 28)
    assert torch.equal(completions[:, :, visible], x.view(4, 28, 28)[:, visible].expand(3, -1, -1))
    assert not torch.equal(completions[0], completions[1])  # z drawn from p(z|x) differs
    # Sohn's two estimators of log p(y|x): both finite; importance sampling with q(z|x,y) is the tighter
    x = held_out.images[:300]
    torch.manual_seed(0)
    mc = model.log_likelihood_mc(x, k=50)
    iw = model.log_likelihood(x, None, k=50)
    assert torch.isfinite(mc).all() and torch.isfinite(iw).all()
    assert iw.mean() >= mc.mean(), (float(iw.mean()), float(mc.mean()))


def test_m2_learns_from_unlabelled_digits(digits, held_out):
    from cvae_core.data import Dataset, hide_labels

    labels = hide_labels(digits.labels, 100)
    assert (labels >= 0).sum() == 100 and torch.equal(torch.bincount(labels[labels >= 0]), torch.full((10,), 10))
    partial = Dataset("mnist-5k", "train", digits.images, labels)
    torch.manual_seed(0)
    model = build_model(small_config("m2"))
    trainer = Trainer(model, partial, config=TrainConfig(epochs=None, max_seconds=600))
    progress = trainer.run(max_steps=60)
    assert all(torch.isfinite(torch.tensor(v)) for v in progress.terms.values())
    assert accuracy(lambda x: model.classify(x), held_out) > 0.4


def test_other_variants_refuse_unlabelled_digits(digits):
    from cvae_core.data import Dataset, hide_labels
    from cvae_core.errors import ConfigError

    partial = Dataset("mnist-5k", "train", digits.images, hide_labels(digits.labels, 100))
    with pytest.raises(ConfigError, match="only m2"):
        Trainer(build_model(small_config("cvae2")), partial)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_conv_architecture_runs_for_every_variant(variant):
    model = build_model(model_config(variant=variant, arch="conv", latent_dim=4, hidden=64))
    x, y = torch.rand(3, 784), torch.tensor([1, 2, 3])
    loss, terms = model.loss(x, y)
    loss.backward()
    card = type(model).card  # the terms the variant's bound is written with, and those reported beside it
    assert torch.isfinite(loss) and set(terms) == {"elbo"} | {key for key, _, _ in card.terms} | {key for key, _ in card.extra_terms}


@pytest.mark.parametrize("bad", [dict(latent_dim=1), dict(latent_dim=65), dict(arch="rnn"), dict(variant="cvae9"), dict(hidden=4)])
def test_bad_settings_are_refused_with_a_message(bad):
    from cvae_core.errors import ConfigError

    with pytest.raises(ConfigError):
        build_model(model_config(**{"variant": "cvae2", **bad}))


@pytest.mark.parametrize("variant", ["cvae1", "cvae2", "cvae4", "m2"])
def test_restyle_keeps_the_digit_under_its_own_label(trained, held_out, variant):
    model = trained[variant][0]
    x, y = held_out.images[::50][:8], held_out.labels[::50][:8]
    styles = model.restyle(x, y)
    assert styles.shape == (8, 10, 28, 28)
    # under its own label, restyling is the reconstruction from the posterior mean
    torch.testing.assert_close(styles[torch.arange(8), y], model.reconstruct(x, y), atol=1e-5, rtol=1e-4)
    assert (styles[:, 0] - styles[:, 1]).abs().sum() > 10  # other labels draw other digits


def test_experiments_repeat_exactly_baselines_included(digits, held_out):
    from cvae_core.data import Dataset
    from cvae_core.experiments.classification import classification
    from cvae_core.experiments.quadrants import quadrants

    test = Dataset(held_out.name, held_out.split, held_out.images[:100], held_out.labels[:100])
    first, second = (quadrants(1, digits, test, epochs=0.2, samples=3, hidden=32) for _ in range(2))
    assert first.nn_ncll == second.nn_ncll and first.cvae_ncll_is == second.cvae_ncll_is
    assert classification(digits, test, epochs=0.2, hidden=32) == classification(digits, test, epochs=0.2, hidden=32)


def test_every_variant_has_its_card_and_every_card_a_variant():
    from cvae_core.cards import CARDS

    assert list(CARDS) == list(VARIANTS)  # the home page shows the cards in the variants' order
    assert all(cls.card is CARDS[name] for name, cls in VARIANTS.items())


def test_kingmas_proportional_mix_shows_each_labelled_digit_once_a_pass_and_weights_it_by_n_over_n_labelled(digits):
    """TrainConfig.labelled_mix="proportional" (Kingma et al.'s learn_yz_x_ss.py): every batch holds its share of one
    pass over the labelled digits, and each one's classification term weighs alpha * N / N_labelled."""
    from cvae_core.data import Dataset, hide_labels

    labels = hide_labels(digits.labels[:1000], 40)
    partial = Dataset("mnist-5k", "train", digits.images[:1000], labels)
    model = build_model(small_config("m2"))
    trainer = Trainer(model, partial, config=TrainConfig(epochs=2, batch_size=64, labelled_mix="proportional"))
    trainer.x = torch.arange(1000, dtype=torch.float32)[:, None]  # each "image" is its digit's index, to follow it
    trainer.binarize = False
    for _ in range(2):
        seen, per_step = [], []
        for _ in range(trainer.steps_per_epoch):
            x, y = trainer._batch()
            seen += [int(i) for i in x[y >= 0, 0]]
            per_step.append(int((y >= 0).sum()))
            trainer.step += 1
        assert sorted(seen) == torch.nonzero(labels >= 0).flatten().tolist()  # each labelled digit once in a pass
        assert max(per_step) - min(per_step) <= 1  # spread evenly: 40 over 15 steps, 2 or 3 each

    x, y = partial.images[:50], torch.full((50,), -1)
    y[:3] = digits.labels[:3]  # three labelled digits in a batch of 50
    torch.manual_seed(1)
    _, each_step = model.loss(x, y)
    torch.manual_seed(1)
    _, proportional = model.loss(x, y, labelled_weight=1000 / 40)
    mean_nll = each_step["classification"] / model.config.alpha
    assert torch.allclose(proportional["classification"], model.config.alpha * mean_nll * 3 * 25 / 50)
    assert torch.allclose(proportional["elbo"], each_step["elbo"])  # the bound itself does not change


def test_an_unknown_labelled_mix_is_refused():
    from cvae_core.errors import ConfigError

    with pytest.raises(ConfigError, match="labelled mix"):
        TrainConfig(labelled_mix="half").validate(10)
