"""Experiments as plans (cvae_core/training/stages.py): the same plan trained to the end in one thread and as a job of the
training service gives the same figures; jobs are queued fairly, stop and resume, and refuse settings off the page's
choices before anything is spent."""

import functools

import pytest
import torch

from cvae_core.errors import ConfigError
from cvae_core.experiments.live import LIVE_EXPERIMENTS, live_plan
from cvae_core.experiments.quadrants import quadrants_plan
from cvae_core.experiments.semisupervised import semisupervised_plan
from cvae_core.training.service import RunState, TrainingRun
from cvae_core.training.stages import PlanRun, run_plan
from tests.conftest import wait_until

wait_for = functools.partial(wait_until, timeout=120.0)


def small(data, n):
    return data.take(slice(0, n))


def quadrant_plan(digits, held_out):
    return quadrants_plan(
        1, small(digits, 600), small(held_out, 40), epochs=0.5, samples=3, hidden=32, validation=small(held_out, 60), nn_epochs=1
    )


def test_a_plan_run_by_the_service_gives_the_figures_it_gives_in_one_thread(service, digits, held_out):
    torch.set_num_threads(1)
    alone = run_plan(quadrant_plan(digits, held_out)).as_dict()
    job = PlanRun(quadrant_plan(digits, held_out), "quadrants", final_model=lambda r: r.cvaes[r.best])
    run = TrainingRun(job)
    service.start(run)
    wait_for(lambda: run.snapshot.state == RunState.DONE)
    assert job.result.as_dict() == alone  # sliced, queued and published, the same networks and scores
    assert run.snapshot.summary["findings"]["quadrants"] == alone and run.snapshot.summary["fraction"] == 1.0
    assert run.snapshot.model.config.nn_fill == alone["selected_fill"]  # the page's model: the fill chosen on validation


def test_findings_fill_as_each_network_ends(digits, held_out):
    plan = semisupervised_plan(100, small(digits, 1000), small(held_out, 100), epochs=0.3, hidden=32, validation=small(held_out, 100))
    job = PlanRun(plan, "semisupervised", final_model=lambda r: r["model_object"])
    seen, fractions = [(job.summary()["stage"], set())], []
    while not job.done:
        job.run(max_seconds=0.05)
        seen.append((job.summary()["stage"], set(job.summary()["findings"].get("semisupervised", {}))))
        fractions.append(job.summary()["fraction"])
    stages = [stage for stage, _ in seen]
    assert stages.index("M2") > 0 and "the baseline classifier" not in stages[stages.index("M2") :]  # in turn
    while_m2 = next(keys for stage, keys in seen if stage == "M2")
    assert "baseline_accuracy" in while_m2 and "m2_accuracy" not in while_m2  # the baseline's figure before M2 ends
    assert {"baseline_accuracy", "m2_accuracy", "epoch_kept"} <= set(job.summary()["findings"]["semisupervised"])
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] <= 0.1  # the experiment's progress, never back


def test_two_visitors_retrains_share_one_worker(service, digits, held_out):
    plans = [
        PlanRun(semisupervised_plan(100, small(digits, 2000), small(held_out, 100), epochs=3, hidden=64, seed=s), "semisupervised")
        for s in (0, 1)
    ]
    runs = [TrainingRun(job) for job in plans]
    for run in runs:
        service.start(run)
    # one worker: while the first is unfinished, the second has trained too (fair share, not first come first served)
    wait_for(lambda: all(job.samples > 0 for job in plans))
    assert not all(job.done for job in plans)
    for run in runs:
        service.stop(run)


def test_a_stopped_retrain_pauses_and_resumes_to_the_same_figures(service, digits, held_out):
    torch.set_num_threads(1)
    alone = run_plan(quadrant_plan(digits, held_out)).as_dict()
    run = TrainingRun(PlanRun(quadrant_plan(digits, held_out), "quadrants"))
    service.start(run)
    wait_for(lambda: run.trainer.samples > 0)
    service.stop(run)
    wait_for(lambda: run.snapshot.state == RunState.PAUSED)
    samples = run.trainer.samples
    assert not run.trainer.done
    service.start(run)
    wait_for(lambda: run.snapshot.state == RunState.DONE)
    assert run.trainer.samples > samples and run.trainer.result.as_dict() == alone


def test_a_failed_network_or_plan_ends_the_retrain_failed_and_resume_does_not_go_on(service, digits):
    from cvae_core.errors import TrainingError
    from cvae_core.models import build_model, model_config
    from cvae_core.training.engine import TrainConfig
    from cvae_core.training.stages import Stage

    def vae():
        return build_model(model_config(variant="vae", latent_dim=4, hidden=32))

    def plan(lr):
        yield Stage("a network", vae, small(digits, 512), TrainConfig(epochs=2, lr=lr, seed=0))
        if lr < 1:
            raise TrainingError("M1's code collapsed: none of its {n} dimensions carries information about the digit.", n=8)
        yield Stage("never", vae, small(digits, 512), TrainConfig(epochs=2, seed=0))

    for lr, why in ((1e-3, "collapsed"), (10.0, "NaN")):  # the plan refuses to go on; a network diverges
        job = PlanRun(plan(lr), "semisupervised")
        run = TrainingRun(job)
        service.start(run)
        wait_for(lambda run=run: run.snapshot.state == RunState.FAILED)
        assert why in run.snapshot.error and job.done and job.training.stage.name == "a network"  # no later network
        assert run.snapshot.model is not None  # the last network trained, for what the page shows of a failure
        service.start(run)  # Resume: the same failure, said again, and nothing more trains
        wait_for(lambda run=run: run.snapshot.state == RunState.FAILED and run.snapshot.version >= 1)
        assert why in run.snapshot.error and job.training.stage.name == "a network"


@pytest.mark.parametrize(
    "spec",
    [
        {"experiment": "quadrants", "epochs": 7},  # not one of the page's choices
        {"experiment": "quadrants", "test_digits": 10**9},
        {"experiment": "quadrants", "given": True},  # a bool is not the number 1
        {"experiment": "semisupervised", "labels": 4500},
        {"experiment": "semisupervised", "model": "M3"},
        {"experiment": "train everything"},
        "quadrants",
    ],
)
def test_a_live_retrain_off_the_pages_choices_is_refused_before_anything_is_built(spec):
    def no_data(name, split):
        raise AssertionError("data loaded for a refused spec")

    with pytest.raises(ConfigError):
        live_plan(spec, load=no_data)


def test_every_live_default_is_one_of_its_choices():
    for settings in LIVE_EXPERIMENTS.values():
        for options, default in settings.values():
            assert default in options
            if isinstance(default, int):  # a slider's choices run from small to large
                assert list(options) == sorted(options)
