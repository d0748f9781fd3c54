"""The maths you can watch: each variant's bound term by term, the KL per latent dimension and the active units."""

import re

import numpy as np
import pytest
import torch

from cvae_core.cards import CARDS
from cvae_core.data import hide_labels
from cvae_core.metrics import ACTIVE_UNIT_THRESHOLD, evaluate_elbo, latent_usage
from cvae_core.training.recipe import Recipe
from cvae_core.training.service import latent_figures
from ui import state as keys

VARIANTS = [("vae", {}), ("cvae1", {}), ("cvae2", {}), ("cvae3", {}), ("cvae3", {"target": "quadrants"}), ("cvae4", {}), ("m2", {})]


def trainer(variant: str, extra: dict, digits, held_out, labels: int | None = None, epochs: float = 2.0):
    run = Recipe.from_settings({"variant": variant, "hidden": 64, "latent_dim": 6, **extra}, {"epochs": epochs, "seed": 0}, labels=labels)
    train = digits.with_labels(hide_labels(digits.labels, labels, seed=0)) if labels else digits
    return run.trainer(train, held_out)


def added_up(card, terms: dict) -> float:
    return sum(sign * value for _, _, sign, value in card.bound_terms(terms))


@pytest.mark.parametrize("variant, extra", VARIANTS, ids=lambda v: str(v))
def test_each_variants_terms_add_up_to_its_elbo_and_move_as_it_trains(variant, extra, digits, held_out):
    t = trainer(variant, extra, digits, held_out)
    card = CARDS[variant]
    first = dict(t.run(max_steps=5).terms)
    second = dict(t.run(max_steps=5).terms)
    for terms in (first, second):
        assert len(card.bound_terms(terms)) == len(card.terms)  # every term of the bound is reported
        assert added_up(card, terms) == pytest.approx(terms["elbo"], abs=1e-3)
    # live, not frozen (log p(y) is a constant, and the entropy of q(y|x) is 0 when every digit is labelled)
    assert all(first[key] != second[key] for key, _, _ in card.terms if key not in ("log_py", "entropy"))


def test_m2s_terms_add_up_with_unlabelled_digits_and_its_loss_is_the_bound_plus_the_classification_term(digits, held_out):
    t = trainer("m2", {}, digits, held_out, labels=100)
    terms = t.run(max_steps=3).terms
    assert terms["entropy"] > 0  # unlabelled digits in the batch: q(y|x) has entropy
    assert added_up(CARDS["m2"], terms) == pytest.approx(terms["elbo"], abs=1e-3)
    # with the KL at full weight the loss is exactly minus the bound plus alpha times the classification loss
    x, y = t._batch()
    loss, reported = t.model.loss(x, y, kl_weight=1.0)
    assert float(loss.detach()) == pytest.approx(-float(reported["elbo"].detach()) + float(reported["classification"].detach()), rel=1e-5)


def test_the_kl_bars_add_up_to_the_kl_and_the_active_units_match_a_direct_count(digits, held_out):
    t = trainer("vae", {}, digits, held_out, epochs=1.0)
    t.run(max_steps=60)
    model = t.model.eval()
    data = t.validation.subset(500)
    usage = latent_usage(model, data)
    assert float(usage["kl_per_dim"].sum()) == pytest.approx(evaluate_elbo(model, data)["kl"], rel=1e-4)  # closed form both
    with torch.no_grad():
        means = model.encode(data.images)[0].double()  # q(z|x)'s mean; the vae's prior is N(0, I)
    direct = int((means.var(0) > ACTIVE_UNIT_THRESHOLD).sum())
    figures = latent_figures(model, t.validation)
    assert figures["active_units"] == usage["active_units"] == direct
    assert len(figures["kl_per_dim"]) == 6 and figures["digits"] == 500


def test_under_a_learned_prior_a_dimension_that_copies_the_prior_is_not_active(digits, held_out):
    """cvae1's posterior mean moves with the label wherever the prior p(z|y) does; activity is measured from the prior."""
    t = trainer("cvae1", {}, digits, held_out, epochs=1.0)
    t.run(max_steps=5)
    model = t.model.eval()
    with torch.no_grad():  # make q(z|x,y) copy the prior in every dimension: nothing is carried beyond the label
        model.posterior = lambda x, y1h: model.prior(x, y1h)
        usage = latent_usage(model, held_out.subset(300))
    assert usage["active_units"] == 0 and float(usage["kl_per_dim"].abs().max()) < 1e-5


def test_a_runs_snapshot_carries_its_latent_figures(digits, held_out):
    from cvae_core.training.service import TrainingRun, TrainingService

    service = TrainingService(max_concurrent=1)
    try:
        run = TrainingRun(trainer("cvae2", {}, digits, held_out, epochs=0.5))
        service.start(run)
        snap = service.wait(run)
        assert snap.latent is not None and len(snap.latent["kl_per_dim"]) == 6
        direct = latent_usage(snap.model, held_out.binarized_once().subset(500))
        assert snap.latent["active_units"] == direct["active_units"]
        assert snap.latent["kl_per_dim"] == pytest.approx(direct["kl_per_dim"].tolist(), abs=1e-3)
    finally:
        service.close()


def bound_numbers(latex: str) -> tuple[float, list[float]]:
    """The ELBO and the signed terms of the Train page's identity: \\text{ELBO} = E = \\underbrace{a}_{..}\\;-\\;\\underbrace{b}_{..}"""
    elbo = float(re.match(r"\\text\{ELBO\} = (-?[\d.]+) = ", latex).group(1))
    terms = []
    for operator, value in re.findall(r"(\\;[+-]\\;|-)?\\underbrace\{\(?(-?[\d.]+)\)?\}", latex):
        terms.append(-float(value) if operator.strip("\\;") == "-" else float(value))
    return elbo, terms


def test_the_train_page_shows_the_bound_term_by_term_adding_up_and_changing():
    from tests.app.test_app import no_exceptions, page
    from tests.conftest import wait_until

    at = page("train").run()
    next(b for b in at.button if b.label == "Start").click().run()
    run = at.session_state[keys.SESSION_MODELS][at.session_state[keys.CURRENT_RUN]].run
    wait_until(lambda: run.snapshot.latent is not None and run.snapshot.progress.terms)
    shown = []
    for _ in range(2):
        step = run.snapshot.progress.step
        at.run()
        no_exceptions(at)
        identity = next(body for el in at.latex if (body := el.value.strip("$\n")).startswith(r"\text{ELBO}"))
        elbo, terms = bound_numbers(identity)
        assert sum(terms) == pytest.approx(elbo, abs=0.1 + 0.05 * len(terms))  # each figure is rounded to 0.05
        shown.append(identity)
        wait_until(lambda step=step: run.beat() or run.snapshot.progress.step > step + 20)  # beats: the page is open
    assert shown[0] != shown[1]
    captions = " ".join(c.value for c in at.caption)
    assert "add up to the ELBO" in captions and "Each bar is the KL one latent dimension carries" in captions
    assert any(m.label == "Active units" for m in at.metric)
    next(b for b in at.button if b.label == "Stop").click().run()


def test_the_live_beta_dial_moves_the_visitors_run_and_no_one_elses():
    """Two visitors train; one moves the β dial under their run to 8: their run trains at 8 from a later slice, the other
    visitor's run stays at 1 and their dial still shows 1."""
    from tests.app.test_app import no_exceptions, page
    from tests.conftest import wait_until

    def start():
        at = page("train").run()
        next(b for b in at.button if b.label == "Start").click().run()
        return at, at.session_state[keys.SESSION_MODELS][at.session_state[keys.CURRENT_RUN]].run

    (mover, moved), (other, untouched) = start(), start()
    try:
        for at, run in ((mover, moved), (other, untouched)):
            wait_until(lambda run=run: run.snapshot.progress.step > 0)
            at.run()
        dial = mover.select_slider(key=f"train_live_beta:{moved.id}")
        assert dial.value == 1.0 and dial.options[-1] == "32"  # the options as shown (format_func): doubling up to 32
        dial.set_value(8.0).run()
        no_exceptions(mover)
        wait_until(lambda: moved.snapshot.summary.get("beta") == 8.0)
        other.run()
        assert untouched.snapshot.summary.get("beta") == 1.0
        assert other.select_slider(key=f"train_live_beta:{untouched.id}").value == 1.0
        assert not [el for el in other.select_slider if el.key == f"train_live_beta:{moved.id}"]
    finally:
        for at in (mover, other):
            stop = [b for b in at.button if b.label == "Stop"]
            if stop:
                stop[0].click().run()


def dial_effect(model) -> float:
    """How much Generate's digit moves when one dial goes from -2 to +2 (the others at 0), averaged over dials and labels:
    the mean absolute change of the decoded pixel means (model.draw is what Generate draws)."""
    model.eval()
    k = model.config.latent_dim
    changes = []
    for label in range(10):
        for d in range(k):
            low, high = torch.zeros(k), torch.zeros(k)
            low[d], high[d] = -2.0, 2.0
            changes.append(float((model.draw(label, high) - model.draw(label, low)).abs().mean()))
    return sum(changes) / len(changes)


@pytest.mark.slow
def test_a_large_beta_collapses_the_code_and_the_dials_stop_mattering(digits, held_out):
    """The live defaults for 10 epochs, seed 0, at beta = 1 and 8: at 8 most units collapse (Burda's count falls to a
    third or less, the KL to a fifth or less) and Generate's dials move the digit less."""
    figures = {}
    for beta in (1.0, 8.0):
        t = Recipe.from_settings({"beta": beta}, {"epochs": 10.0, "seed": 0}).trainer(digits, held_out)
        t.run()
        usage = latent_usage(t.model, t.validation)
        figures[beta] = (usage["active_units"], float(usage["kl_per_dim"].sum()), dial_effect(t.model))
    (active_1, kl_1, dial_1), (active_8, kl_8, dial_8) = figures[1.0], figures[8.0]
    assert 3 * active_8 <= active_1 and 5 * kl_8 <= kl_1
    assert dial_8 < 0.75 * dial_1


def test_beta_changes_while_a_run_trains_and_a_bad_one_is_refused(digits, held_out):
    from cvae_core.errors import ConfigError
    from cvae_core.training.service import TrainingRun, TrainingService
    from tests.conftest import wait_until

    service = TrainingService(max_concurrent=1)
    try:
        run = TrainingRun(trainer("cvae2", {}, digits, held_out, epochs=50.0))
        service.start(run)
        wait_until(lambda: run.snapshot.progress.step > 0)
        with pytest.raises(ConfigError, match="beta"):
            service.set_beta(run, float("nan"))
        with pytest.raises(ConfigError, match="beta"):
            service.set_beta(run, 1000.0)
        service.set_beta(run, 8.0)
        step = run.snapshot.progress.step
        wait_until(lambda: run.snapshot.progress.step > step and run.snapshot.summary.get("beta") == 8.0)
        assert run.trainer.model.config.beta == 8.0
    finally:
        service.stop(run)
        service.close()


def test_the_importance_weighted_bound_rises_with_k_from_the_elbo(held_out):
    from cvae_core.compare import digits_for, iw_curve
    from cvae_core.storage import checkpoint
    from tests.conftest import ROOT

    model = checkpoint.load(ROOT / "checkpoints" / "cvae2.safetensors").model
    curve = iw_curve(model, digits_for(model, held_out, 20))
    gaps, errors = curve["gap"], curve["gap_se"]
    for (a, ea), (b, eb) in zip(zip(gaps, errors, strict=True), zip(gaps[1:], errors[1:], strict=True), strict=False):
        assert b >= a - 2 * (ea + eb)  # never falls with k beyond its error bars
    assert gaps[-1] > gaps[0] + 2 * errors[0]  # and does rise: k = 1,000 is tighter than k = 1
    assert max(gaps) <= 1e-9  # the mean of log-means over blocks of the same draw is at most the log of their mean (Jensen)
    elbo_gap, elbo_se = curve["elbo"]["gap"], curve["elbo"]["gap_se"]
    assert abs(gaps[0] - elbo_gap) <= 3 * (errors[0] + elbo_se)  # k = 1 is the ELBO, on average


def test_one_step_slowly_shows_every_stage_with_its_shapes_and_the_step_lowers_the_loss(digits):
    from cvae_core.stepper import one_step
    from cvae_core.storage import checkpoint
    from tests.conftest import ROOT

    model = checkpoint.load(ROOT / "checkpoints" / "cvae1.safetensors").model
    before = [p.detach().clone() for p in model.parameters()]
    steps = [one_step(model, digits, seed=seed) for seed in range(10)]
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))  # a copy steps, not the model
    s = steps[0]
    assert s.x.shape == s.decoded.shape == (8, 784) and set(np.unique(s.x)) <= {0.0, 1.0}  # binarised, as in training
    assert s.mu.shape == s.sigma.shape == s.eps.shape == s.z.shape == (8, 16)
    assert np.allclose(s.z, s.mu + s.sigma * s.eps, atol=1e-5)  # the reparameterisation
    assert s.loss == pytest.approx(-(s.terms["recon"].mean() - s.terms["kl"].mean()), rel=1e-5)
    assert all(s.update_norms[name] == pytest.approx(s.lr * g) for name, g in s.gradient_norms.items())
    assert sum(step.loss_after < step.loss for step in steps) >= 8
    assert np.array_equal(one_step(model, digits, seed=3).eps, steps[3].eps)  # the same seed, the same draw


def test_the_step_by_step_view_goes_through_every_stage():
    from tests.app.test_app import no_exceptions, page

    at = page("train").run()
    at.toggle(key="train_step_mode").set_value(True).run()
    for _ in range(8):
        next(b for b in at.button if b.label == "Next stage").click().run()
        no_exceptions(at)
    assert any("stage 9 of 9" in p.proto.text for p in at.get("progress"))
    captions = " ".join(c.value for c in at.caption)
    for phrase in ("Shape: x is 8 × 784", "The reparameterisation trick", "the loss went from"):
        assert phrase in captions
