"""The training service: runs train in the background, pages read snapshots, Stop/Resume, the NaN
rollback, absence, the queue and time-slicing, and one session unable to touch another's run."""

import functools
import io
import time

import numpy as np
import pytest
import torch
from PIL import Image

from cvae_core.images import gif_bytes
from cvae_core.models import build_model, model_config
from cvae_core.training.engine import TrainConfig, Trainer
from cvae_core.training.service import Filmstrip, LocalLane, RunState, TrainingRun, TrainingService
from tests.conftest import wait_until


def small_run(digits, seed=0, lr=2e-3, **config) -> TrainingRun:
    model = build_model(model_config(variant="cvae2", latent_dim=4, hidden=64), seed=seed)
    settings = {"epochs": 2.0, "batch_size": 128, "lr": lr, "seed": seed, **config}
    return TrainingRun(
        Trainer(model, digits.take(slice(None, None, 4)), config=TrainConfig(**settings)), draw=lambda m: m.label_grid(2, seed=0)
    )


wait_for = functools.partial(wait_until, timeout=30.0)


def test_a_run_trains_in_the_background_to_the_end(service, digits):
    run = small_run(digits)
    service.start(run)
    snap = service.wait(run)
    assert snap.state == RunState.DONE and snap.progress.done and snap.progress.step == run.trainer.total_steps
    assert [h["split"] for h in snap.history].count("train") >= 1
    assert snap.grid.shape == (20, 28, 28) and snap.version >= 1
    # the pages' copy holds the final weights, and is not the trainer's own module
    assert snap.model is not run.trainer.model and not any(p.requires_grad for p in snap.model.parameters())
    for a, b in zip(snap.model.state_dict().values(), run.trainer.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_snapshot_never_changes_after_it_is_published(service, digits):
    run = small_run(digits, epochs=6.0)
    service.start(run)
    wait_for(lambda: run.snapshot.model is not None and run.snapshot.state == RunState.TRAINING)
    snap = run.snapshot
    frozen = {k: v.clone() for k, v in snap.model.state_dict().items()}
    history = len(snap.history)
    wait_for(lambda: run.snapshot.progress.step > snap.progress.step + 10)
    assert all(torch.equal(frozen[k], v) for k, v in snap.model.state_dict().items())
    assert len(snap.history) == history
    service.stop(run)


def test_stop_pauses_and_resume_continues_to_the_same_end(service, digits):
    run = small_run(digits, epochs=20.0)
    service.start(run)
    wait_for(lambda: run.snapshot.progress.step > 0)
    service.stop(run)
    wait_for(lambda: run.snapshot.state == RunState.PAUSED)
    paused_at = run.trainer.step
    time.sleep(0.3)
    assert run.trainer.step == paused_at < run.trainer.total_steps  # nothing trains while paused
    service.start(run)
    assert service.wait(run).state == RunState.DONE and run.trainer.step == run.trainer.total_steps


def test_a_diverging_run_fails_with_a_message_and_keeps_finite_weights(service, digits):
    run = small_run(digits, lr=10.0)  # Adam at lr 10 makes the loss non-finite
    service.start(run)
    snap = service.wait(run)
    assert snap.state == RunState.FAILED and "NaN" in snap.error
    assert all(torch.isfinite(p).all() for p in run.trainer.model.parameters())
    service.start(run)  # a failed run cannot be restarted by accident
    assert run.snapshot.state == RunState.FAILED


def test_a_run_whose_session_is_silent_stops_and_resumes_when_heard_again(digits):
    service = TrainingService(max_concurrent=1, slice_seconds=0.05, absent_after_seconds=0.3, cores=2)
    try:
        run = small_run(digits, epochs=50.0)
        service.start(run)  # starting counts as a heartbeat
        wait_for(lambda: run.snapshot.state == RunState.AWAY, timeout=5)
        step = run.trainer.step
        time.sleep(0.2)
        assert run.trainer.step == step
        service.heartbeat(run)
        wait_for(lambda: run.trainer.step > step)
        assert run.snapshot.state in (RunState.TRAINING, RunState.AWAY)
    finally:
        service.close()


def test_the_absence_rule_on_the_services_own_clock(digits):
    """The app's rule, on a clock of the test's own: a run whose tab beats every 2 s trains on; one not heard from for
    more than absent_after (6 s) stops at the end of its slice, whatever the machine's speed."""
    service = TrainingService(max_concurrent=1, slice_seconds=0.05, absent_after_seconds=6.0, cores=2)
    now = [1000.0]
    service.clock = lambda: now[0]
    try:
        run = small_run(digits, epochs=500.0)
        service.start(run)
        for _ in range(5):  # 10 s of beats, 2 s apart
            now[0] += 2.0
            service.heartbeat(run)
            step = run.trainer.step
            wait_for(lambda step=step: run.trainer.step > step)
        assert run.snapshot.state == RunState.TRAINING
        now[0] += 6.5  # silent for longer than the rule
        wait_for(lambda: run.snapshot.state == RunState.AWAY)
        service.heartbeat(run)
        wait_for(lambda: run.snapshot.state == RunState.TRAINING)
    finally:
        service.close()


def test_closing_the_service_ends_a_lane_that_is_training(digits):
    """close() stops the lanes at their next slice, a run mid-training included (paused, as a Stop leaves it), and
    joins them: no lane thread outlives its service."""
    service = TrainingService(max_concurrent=1, slice_seconds=0.05, cores=2)
    run = small_run(digits, epochs=500.0)
    service.start(run)
    wait_for(lambda: run.trainer.step > 3)
    service.close()
    assert not any(thread.is_alive() for thread in service._lane_threads)  # before: still training when close() returned
    assert run.snapshot.state == RunState.PAUSED and not run.trainer.done


def test_a_run_back_from_absence_goes_ahead_of_those_waiting(digits):
    """Its turn came while its page was late: heard again, it does not wait a whole round once more."""
    service = TrainingService(max_concurrent=1, slice_seconds=0.05, fair_share_seconds=0.3, absent_after_seconds=0.5, cores=2)
    try:
        late, others = small_run(digits, seed=0, epochs=50.0), [small_run(digits, seed=s, epochs=50.0) for s in (1, 2)]
        for run in (late, *others):
            service.start(run)

        def beat_others() -> bool:
            for run in others:
                service.heartbeat(run)
            return late.snapshot.state == RunState.AWAY

        wait_for(beat_others, timeout=10)
        service.heartbeat(late)
        assert late.snapshot.state == RunState.QUEUED and late.snapshot.ahead == 0
        assert all(run.snapshot.state == RunState.TRAINING or run.snapshot.ahead >= 1 for run in others)
    finally:
        service.close()


def test_waiting_runs_know_their_place_and_time_slicing_lets_everyone_train(service, digits):
    runs = [small_run(digits, seed=s, epochs=40.0) for s in range(3)]
    for run in runs:
        service.start(run)
    # one slot: the first trains, the others wait in order
    places = {run.id: run.snapshot.ahead for run in runs if run.snapshot.state == RunState.QUEUED}
    assert sorted(places.values()) == list(range(len(places))) and len(places) >= 2
    assert service.load()["limit"] == 1
    # every run has trained before any of them finished: nobody waits for a long run to end
    wait_for(lambda: all(r.trainer.step > 0 for r in runs) or any(r.trainer.done for r in runs))
    assert all(r.trainer.step > 0 for r in runs), [r.trainer.step for r in runs]
    assert not any(r.trainer.done for r in runs)
    for run in runs:
        service.wait(run)
    assert all(run.snapshot.state == RunState.DONE for run in runs)
    # the service counts every digit each run trained, across its turns (bench/ reads this for an exact aggregate)
    assert service.load()["digits"] == sum(run.trainer.samples for run in runs) > 0


def test_a_stranger_stopping_their_run_does_not_touch_mine(service, digits):
    """Two sessions, one run each: everything the other session can do to its own run (stop, restart,
    stop again, a run that diverges) leaves mine training to the same end as alone."""
    mine, theirs, wild = small_run(digits, seed=1), small_run(digits, seed=2), small_run(digits, seed=3, lr=10.0)
    service.start(mine)
    for _ in range(3):
        service.start(theirs)
        service.stop(theirs)
    service.start(wild)
    assert service.wait(mine).state == RunState.DONE and mine.trainer.step == mine.trainer.total_steps
    assert service.wait(wild).state == RunState.FAILED
    assert theirs.snapshot.state == RunState.PAUSED


def test_a_strangers_run_beside_mine_leaves_my_runs_weights_as_they_are_alone(digits):
    """Two visitors, the same seed for mine: my run ends with the same weights, to the bit, whether it trains alone or
    beside a stranger who builds a run while mine trains, takes turns with it on the one lane and changes its beta. Each
    run draws its noise (the reparameterisation's eps, the batch order, the binarised pixels) from generators of its own,
    so nothing another run draws or seeds moves mine. One intra-op thread per run (cores=2), as on this service's lanes."""

    def final_weights(beside: bool) -> list[torch.Tensor]:
        service = TrainingService(
            max_concurrent=1, fair_share_seconds=0.1, slice_seconds=0.02, grid_every_seconds=0.1, absent_after_seconds=600, cores=2
        )
        try:
            mine = small_run(digits, seed=0, epochs=30.0)
            service.start(mine)
            if beside:
                wait_for(lambda: mine.trainer.step > 3)
                theirs = small_run(digits, seed=1, epochs=3.0)  # built (and seeded) while mine trains
                service.start(theirs)
                service.set_beta(theirs, 4.0)
                wait_for(lambda: theirs.trainer.step > 0)
                assert not mine.trainer.done  # they took turns
            assert service.wait(mine, timeout=300).state == RunState.DONE
            if beside:
                assert service.wait(theirs, timeout=300).state == RunState.DONE
            return [t.clone() for t in mine.trainer.model.state_dict().values()]
        finally:
            service.close()

    alone, beside = final_weights(beside=False), final_weights(beside=True)
    assert all(torch.equal(a, b) for a, b in zip(alone, beside, strict=True))


def test_lanes_added_while_serving_take_the_runs_that_wait(digits):
    """A cluster's node joining: its lanes join the service (TrainingService.add_lanes) and the waiting runs train."""
    service = TrainingService(max_concurrent=1, fair_share_seconds=60.0, slice_seconds=0.05, absent_after_seconds=600, cores=2)
    runs = [small_run(digits, seed=seed, epochs=200.0) for seed in range(3)]
    try:
        for run in runs:
            service.start(run)
        wait_for(lambda: service.load()["training"] == 1 and service.load()["waiting"] == 2)
        service.add_lanes([LocalLane(), LocalLane()])
        wait_for(lambda: all(run.trainer.step > 0 for run in runs))
        assert service.load()["limit"] == 3 and service.load()["training"] == 3 and service.load()["waiting"] == 0
    finally:
        for run in runs:
            service.stop(run)
        service.close()


# ---- the service in its own process, as the app uses it ----------------------------------------
@pytest.fixture(scope="module")
def client():
    from cvae_core.serving import TrainingClient

    c = TrainingClient(max_concurrent=1)
    yield c
    c.close()


def tiny_recipe(epochs=2.0, lr=2e-3, dataset="mnist-5k", **model):
    from cvae_core.training.recipe import Recipe

    return Recipe(model_config(**{"variant": "cvae2", "latent_dim": 4, "hidden": 64, **model}), TrainConfig(epochs=epochs, lr=lr), dataset)


def test_a_run_in_the_training_process_reports_and_hands_over_its_weights(client):
    run = client.submit(tiny_recipe())
    wait_for(lambda: run.snapshot.state == RunState.DONE)
    snap = run.snapshot
    assert snap.progress.done and snap.grid.shape == (80, 28, 28) and snap.summary["steps"] == snap.progress.step
    assert [h["split"] for h in snap.history].count("val") == 2  # one validation point per epoch, sent once each
    model = run.model()
    assert run.model_version == snap.version and not any(p.requires_grad for p in model.parameters())
    assert model.label_grid(2, seed=0).shape == (20, 28, 28)  # real weights, not the meta skeleton
    assert run.model() is model  # fetched once per version


def test_the_training_process_hands_over_the_run_as_an_animated_gif(client):
    run = client.submit(tiny_recipe(epochs=200.0))
    wait_for(lambda: run.snapshot.version >= 3)  # three grids drawn (one a second)
    run.stop()
    wait_for(lambda: run.snapshot.state == RunState.PAUSED)
    gif = Image.open(io.BytesIO(run.animation()))  # the Train page's download: the grid sharpening, frame by frame
    assert gif.format == "GIF" and gif.is_animated and gif.n_frames >= 3


def test_a_filmstrip_stays_bounded_spans_the_run_and_ends_on_the_latest_grid():
    strip = Filmstrip(max_frames=8)
    for step in range(100):
        strip.add(step / 10, np.full((2, 28, 28), step / 100, dtype=np.float32))
    frames = strip.all()
    epochs = [epoch for epoch, _ in frames]
    assert len(frames) <= 9 and epochs == sorted(epochs)
    assert epochs[0] == 0.0 and epochs[-1] == 9.9  # from the first grid to the latest
    assert epochs[len(epochs) // 2] > 2.0  # spread over the run, not its first few grids
    np.testing.assert_allclose(frames[-1][1], 0.99, atol=1 / 255)


def test_gif_frames_carry_their_caption_and_the_grid():
    frames = [(f"epoch {i}", np.full((4, 28, 28), i / 3, dtype=np.float32)) for i in range(4)]
    gif = Image.open(io.BytesIO(gif_bytes(frames, ncol=2, scale=2)))
    assert gif.n_frames == 4
    gif.seek(3)
    picture = np.asarray(gif.convert("L"))
    assert picture[-10:, :10].mean() > 240  # the last frame's digits are white (1.0)
    assert picture[:12, :40].min() < 100  # dark caption text on the white strip


def test_stop_and_resume_in_the_training_process(client):
    run = client.submit(tiny_recipe(epochs=200.0))
    wait_for(lambda: run.snapshot.progress.step > 0)
    run.stop()
    wait_for(lambda: run.snapshot.state == RunState.PAUSED)
    step = run.snapshot.progress.step
    time.sleep(0.5)
    run.beat()
    assert run.snapshot.progress.step == step
    run.start()
    wait_for(lambda: run.snapshot.progress.step > step)
    run.stop()


def test_a_recipe_that_cannot_start_is_refused_with_a_sentence(client):
    from cvae_core.errors import CVAEError

    with pytest.raises(CVAEError, match="latent"):
        client.submit(tiny_recipe(latent_dim=0))


def test_a_forgotten_run_is_released_by_the_training_process_even_inside_a_reference_cycle(client):
    held = client.held()
    run = client.submit(tiny_recipe(epochs=200.0))
    session = {"run": run}
    session["self"] = session  # a session's state refers to itself, as Streamlit's objects do
    assert client.held() == held + 1
    del run, session  # Streamlit drops the session
    assert client.held() == held


def test_a_run_whose_grid_cannot_be_drawn_fails_with_a_sentence_and_the_worker_lives_on(service, digits):
    def broken(model):
        raise RuntimeError("no grid today")

    bad = small_run(digits)
    bad.draw = broken
    service.start(bad)
    wait_for(lambda: bad.snapshot.state == RunState.FAILED)
    assert "no grid today" in bad.snapshot.error
    good = small_run(digits, seed=1)  # the same (only) worker trains the next run
    service.start(good)
    assert service.wait(good).state == RunState.DONE
