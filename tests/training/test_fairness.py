"""Fair per visitor: training time is shared between owners (a browser's key), then between an owner's runs, and an
owner has at most three runs training at once. Counted by the service (its steps per owner), not by a clock."""

from cvae_core.training.service import MAX_TRAINING_PER_OWNER, RunState, TrainingService
from tests.training.test_service import small_run, wait_for


def owned(digits, owner: str, seed: int, epochs: float = 500.0):
    run = small_run(digits, seed=seed, epochs=epochs)
    run.owner = owner
    return run


def test_an_owner_with_four_runs_and_an_owner_with_one_get_the_same_training(digits):
    """One lane, 0.2 s turns: the owner of four runs gets no more steps than the owner of one (within 20 %)."""
    service = TrainingService(
        max_concurrent=1, fair_share_seconds=0.2, slice_seconds=0.05, grid_every_seconds=10.0, absent_after_seconds=600, cores=2
    )
    many = [owned(digits, "many", seed) for seed in range(4)]
    one = owned(digits, "one", 9)
    try:
        for run in [*many, one]:
            service.start(run)

        def enough() -> bool:
            for run in [*many, one]:
                service.heartbeat(run)
            return sum(service.steps_by_owner.values()) >= 3_000

        wait_for(enough, timeout=600)
        steps = dict(service.steps_by_owner)
        assert 0.8 <= steps["many"] / steps["one"] <= 1.2, steps
        assert all(run.trainer.step > 0 for run in many)  # and the owner's runs share their half
    finally:
        for run in [*many, one]:
            service.stop(run)
        service.close()


def test_the_fourth_run_of_one_owner_queues_behind_its_own_while_a_strangers_trains(digits):
    service = TrainingService(
        max_concurrent=5, fair_share_seconds=60.0, slice_seconds=0.05, grid_every_seconds=10.0, absent_after_seconds=600, cores=2
    )
    mine = [owned(digits, "me", seed) for seed in range(MAX_TRAINING_PER_OWNER + 1)]
    theirs = owned(digits, "stranger", 9)
    try:
        for run in mine:
            service.start(run)
        wait_for(lambda: sum(r.snapshot.state == RunState.TRAINING for r in mine) == MAX_TRAINING_PER_OWNER)
        service.start(theirs)
        wait_for(lambda: theirs.snapshot.state == RunState.TRAINING)
        for run in [*mine, theirs]:
            service.heartbeat(run)
        assert [r.snapshot.state for r in mine].count(RunState.QUEUED) == 1  # a lane is free, but not for a fourth of mine
        assert service.load()["training"] == MAX_TRAINING_PER_OWNER + 1
    finally:
        for run in [*mine, theirs]:
            service.stop(run)
        service.close()
