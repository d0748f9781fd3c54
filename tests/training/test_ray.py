"""Training on a Ray cluster (cvae_core/training/ray_backend.py): a two-node cluster started on this machine, each node a process
of its own (deploy/ray_nodes.py), and the same training process and client the Train page uses, pointed at it.

What a visitor sees must not change with the backend: runs train, the grid and the weights advance, Stop and Resume,
absence pauses a run, the queue and fair share hold, both nodes work. And a node lost mid-run (its processes killed, as
when a machine dies) costs its run nothing but a resume on the other node; the other visitor keeps training."""

import os
import time

import pytest

from cvae_core.serving import TrainingClient
from cvae_core.training.engine import Trainer
from cvae_core.training.recipe import Recipe
from cvae_core.training.service import RunState
from deploy.ray_nodes import RayNode
from tests.conftest import wait_until

pytestmark = pytest.mark.slow
STARTS_CLUSTER = True  # a Ray cluster of its own: tests/conftest.py runs one such module at a time


@pytest.fixture(scope="module")
def cluster():
    head = RayNode.head(cpus=1)
    worker = RayNode.worker(head.address, cpus=1, env=head.env)
    before = {key: os.environ.get(key) for key in head.env}
    os.environ.update(head.env)  # the training process (a driver) inherits the cluster's token
    try:
        yield head, worker
    finally:
        for key, value in before.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        worker.stop()
        head.stop()


@pytest.fixture(scope="module")
def client(cluster):
    head, _ = cluster
    training = TrainingClient(ray_address=head.address)
    # The lanes' actors start (a Python worker importing torch on each node) before the first visitor, as on a server.
    wait_until(lambda: training.load()["nodes"] == 2, timeout=180, interval=0.5)
    yield training
    training.close()


def recipe(seed: int, epochs: float = 2.0) -> dict:
    return Recipe.from_settings(
        model={"variant": "cvae2", "hidden": 128, "latent_dim": 8}, train={"epochs": epochs, "seed": seed}
    )


def beat_until(client, handles, condition, timeout=120.0):
    """Keep the runs' sessions present (as an open Train page does) until condition() holds."""

    def check():
        for handle in handles:
            handle.beat()
        return condition()

    wait_until(check, timeout=timeout, interval=0.3)


def test_trainer_state_continues_elsewhere(digits):
    """The state a lane ships: a trainer restored from it goes on exactly as the original, whatever torch's global
    generator holds in each process (the run's own generators travel in the state)."""
    import torch

    settings = Recipe.from_settings(model={"variant": "cvae2", "hidden": 64, "latent_dim": 4}, train={"epochs": 2.0, "seed": 3})
    first = settings.trainer(digits.subset(1000), None)
    first.run(max_steps=7)
    second: Trainer = settings.trainer(digits.subset(1000), None)
    second.take_over(first.handover())
    for global_seed, trainer in enumerate((first, second)):
        torch.manual_seed(global_seed)
        trainer.run(max_steps=5)
    assert first.step == second.step == 12
    assert all(torch.equal(a, b) for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values(), strict=True))
    assert second.history == first.history and second.samples == first.samples


def test_runs_train_on_both_nodes_as_they_do_locally(client):
    runs = [client.submit(recipe(seed)) for seed in range(3)]
    assert client.load()["backend"] == "ray" and client.load()["limit"] == 2  # one lane per CPU of the cluster
    # Three runs on two lanes: one waits its turn with its place, then fair share lets it in.
    beat_until(client, runs, lambda: any(r.snapshot.state == RunState.QUEUED for r in runs) or all(r.snapshot.state == RunState.DONE for r in runs))
    beat_until(client, runs, lambda: all(r.snapshot.state == RunState.DONE for r in runs), timeout=240)
    assert client.load()["nodes"] == 2
    for run in runs:
        snapshot = run.snapshot
        assert snapshot.progress.epoch == pytest.approx(2.0) and snapshot.version > 1 and snapshot.grid is not None
        validation = [row for row in snapshot.history if row["split"] == "val"]
        assert [row["epoch"] for row in validation] == [1.0, 2.0]
        assert validation[-1]["elbo"] > validation[0]["elbo"]  # it learnt, on whichever node
        model = run.model()
        assert model is not None and run.model_version == snapshot.version
        assert model.label_grid(1, seed=0).shape[0] == 10


def test_stop_resume_and_absence(client):
    run = client.submit(recipe(7, epochs=200.0))
    beat_until(client, [run], lambda: run.snapshot.state == RunState.TRAINING and run.snapshot.progress.step > 20)
    run.stop()
    beat_until(client, [run], lambda: run.snapshot.state == RunState.PAUSED)
    paused_at = run.snapshot.progress.step
    time.sleep(1.5)
    assert run.snapshot.progress.step == paused_at  # nothing trains a paused run
    run.start()
    beat_until(client, [run], lambda: run.snapshot.progress.step > paused_at + 20)
    wait_until(lambda: run.snapshot.state == RunState.AWAY, timeout=30, interval=0.3)  # no heartbeat: the run pauses itself
    run.stop()


def test_a_shared_run_is_followed_from_another_replica(cluster, client):
    """Two servers on one cluster (two training processes, as two replicas): a run shared on one is followed on the
    other, live and read only; the follower's reads keep it training while its owner is away; a made-up link finds
    nothing; Stop sharing ends it everywhere."""
    head, _ = cluster
    other = TrainingClient(ray_address=head.address)
    try:
        run = client.submit(recipe(30, epochs=300.0))
        beat_until(client, [run], lambda: run.snapshot.version > 2)
        token = run.share()["token"]
        followed = other.follow(token)
        assert followed is not None and other.follow(token) is followed and not hasattr(followed, "stop")
        assert other.follow(token[:-2] + "xx") is None and other.follow("made-up-token-names-nothing") is None
        first = followed.model()
        version = followed.model_version
        assert first is not None and version > 0
        # The owner goes quiet (no heartbeat from its server) for longer than the 6 s absence limit: the follower's
        # reads on the other server keep the run training, and it sees the grid change.
        started = time.monotonic()
        while time.monotonic() - started < 9:
            followed.beat()
            time.sleep(0.5)
        assert run.snapshot.state == RunState.TRAINING and followed.snapshot.state == RunState.TRAINING
        assert followed.model() is not None and followed.model_version > version
        rows = followed.snapshot.history  # the curves travel too, row by row
        assert rows and [r["step"] for r in rows] == [r["step"] for r in run.snapshot.history[: len(rows)]]
        client.unshare(token)
        wait_until(lambda: other.follow(token) is None, timeout=5, interval=0.3)
        run.stop()
    finally:
        other.close()


def test_a_node_that_joins_serves_visitors_without_a_restart(cluster, client):
    head, _ = cluster
    assert client.load()["limit"] == 2
    joined = RayNode.worker(head.address, cpus=1, env=head.env, nodes_after=3)
    try:
        wait_until(lambda: client.load()["limit"] == 3, timeout=60, interval=0.5)  # its CPU is a lane within seconds
        runs = [client.submit(recipe(30 + seed, epochs=500.0)) for seed in range(3)]
        beat_until(client, runs, lambda: all(r.snapshot.state == RunState.TRAINING and r.snapshot.progress.step > 5 for r in runs), timeout=180)
        assert client.load()["training"] == 3 and client.load()["nodes"] == 3  # three visitors at once, one per node
        for run in runs:
            run.stop()
        beat_until(client, runs, lambda: all(r.snapshot.state == RunState.PAUSED for r in runs))
    finally:
        joined.stop()
    # Gone again: counted out once the cluster knows (its lane waits for a node to take its place).
    wait_until(lambda: client.load()["nodes"] <= 2, timeout=120, interval=0.5)


def test_a_lost_node_costs_its_run_a_resume_and_no_one_else_anything(cluster, client):
    _, worker = cluster
    runs = [client.submit(recipe(10 + seed, epochs=500.0)) for seed in range(2)]
    beat_until(client, runs, lambda: all(r.snapshot.state == RunState.TRAINING and r.snapshot.progress.step > 20 for r in runs))
    assert client.load()["nodes"] == 2
    worker.kill()
    steps = [r.snapshot.progress.step for r in runs]
    # Both runs go on (the lost node's run from its last slice, on the head's lane, sharing it by fair share)...
    beat_until(client, runs, lambda: all(r.snapshot.progress.step > s + 100 for r, s in zip(runs, steps, strict=True)), timeout=120)
    assert all(r.snapshot.error == "" for r in runs)
    # ... and the server keeps answering and starting runs.
    late = client.submit(recipe(20, epochs=1.0))
    beat_until(client, [*runs, late], lambda: late.snapshot.state == RunState.DONE, timeout=120)
    for run in runs:
        run.stop()
