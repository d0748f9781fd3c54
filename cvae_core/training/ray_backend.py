"""Training on a Ray cluster, when one server is not enough (CVAE_RAY_ADDRESS: "auto", "127.0.0.1:6379", ...).

The training process's scheduler (cvae_core/training/service.py) still decides who trains when -- fair share between visitors,
the heartbeat that pauses an absent visitor's run, snapshots -- and hands each slice to a pool of Ray actors instead of
its own threads: one actor per CPU (or GPU) the cluster offers, placed by Ray across its nodes.

Each of the service's workers holds one *lane*, one actor. When it takes a run for its fair share (`begin`), it sends
the actor the run's recipe, its data (through Ray's object store, fetched once per data set by each actor) and the
trainer's full handover (Trainer.handover); the actor keeps that trainer while the run holds the lane and answers every slice (`train`) with
the new weights, counters and history rows, which the training process loads into its own copy of the trainer, so
pages, grids and latent figures read the run as they do with local training. At the end of the hold (`end`) the
optimiser comes back too. An actor keeps at most HELD trainers and DATA data sets: memory is bounded by the pool, not by
the number of visitors.

Replicas of the app (deploy/) share one pool: the actors are named and detached in one namespace, so two servers'
slices for one actor queue there.

A lost node: the calls to its actor fail (or stop answering); the run goes back to the front of the queue and resumes
from the weights of its last slice on another lane, and the lane waits until Ray can place its actor again.

A node that joins: the training process looks at the cluster every WATCH_SECONDS (`RayPool.watch`), and its CPUs (and
GPUs) beyond the most the cluster has had become new lanes at once, without a restart. Lanes are never taken away: a
node that leaves leaves lanes waiting for a node to take its place.
"""

import logging
import os
import time
import uuid
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path

from ..errors import TrainingError
from .service import LaneLost

log = logging.getLogger(__name__)

NAMESPACE = "cvae-lab"
HELD = 4  # trainers one actor keeps (a lane holds one at a time; replicas share actors)
DATA = 4  # data sets one actor keeps
CALL_SECONDS = 60.0  # the longest a slice's call may take before its lane counts as lost (a slice takes 0.3 s)
# How long a lane waits for its actor to answer before it counts as not placed yet: a new actor starts a Python worker
# that imports torch (seconds, more on a busy node). The worker waiting holds no run, so the wait costs nobody.
PLACE_SECONDS = 60.0
NICENESS = 10
WATCH_SECONDS = 5.0  # how often the training process looks for nodes that joined (and which are alive)
REPO = Path(__file__).resolve().parents[2]


class SliceWorker:
    """The Ray actor: trains the slices of the runs its lanes send it (at most HELD trainers kept)."""

    def __init__(self):
        import torch

        torch.set_num_threads(1)  # one actor per CPU
        try:
            os.nice(NICENESS)  # as the local training process: a web server on the same node comes first
        except OSError:
            pass
        self._held: OrderedDict = OrderedDict()  # token -> Trainer
        self._data: OrderedDict = OrderedDict()  # key -> Dataset

    def node(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    def _dataset(self, key, boxed):
        """A data set by its key, fetched from the object store the first time (boxed: [ObjectRef], so that Ray does not
        fetch it for every call)."""
        import ray

        if boxed is None:
            return None
        if key not in self._data:
            self._data[key] = ray.get(boxed[0])
            while len(self._data) > DATA:
                self._data.popitem(last=False)
        self._data.move_to_end(key)
        return self._data[key]

    def begin(self, token: str, recipe: dict, data: list, handover: dict) -> str:
        """Build the run's trainer from its recipe and data, continue it from `handover`; returns this actor's node id."""
        from .recipe import Recipe

        train, validation = (self._dataset(key, boxed) for key, boxed in data)
        trainer = Recipe.from_wire(recipe).trainer(train, validation)
        trainer.take_over(handover)
        self._held[token] = trainer
        while len(self._held) > HELD:
            self._held.popitem(last=False)
        return self.node()

    def train(self, token: str, seconds: float, beta: float | None, history_from: int) -> dict | None:
        """One slice; the trainer's handover after it (full when the run ends or fails), or None for a token this actor
        no longer holds."""
        trainer = self._held.get(token)
        if trainer is None:
            return None
        self._held.move_to_end(token)
        if beta is not None:
            trainer.model.config.beta = beta
        try:
            trainer.run(max_seconds=seconds)
        except TrainingError as e:  # the engine rolled back to the last finite weights
            return {"handover": trainer.handover(True, history_from), "error": (e.template, dict(e.fields))}
        return {"handover": trainer.handover(full=trainer.done, history_from=history_from)}

    def end(self, token: str, history_from: int) -> dict | None:
        """Let the run go; its full handover (None if no longer held)."""
        trainer = self._held.pop(token, None)
        return None if trainer is None else trainer.handover(True, history_from)


def _ray():
    import ray

    return ray


def _lost_errors():
    ray = _ray()
    return (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError, ray.exceptions.RaySystemError, ray.exceptions.ObjectLostError)


def reachable(address: str, timeout: float = 3.0) -> bool:
    """Does something answer at the cluster's address (host:port; "auto" is taken as reachable)? A head that is gone
    refuses at once, where Ray's driver would retry for minutes."""
    import socket

    if ":" not in address:
        return True
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


class RayPool:
    """The training process's connection to the cluster, and the lanes its workers hold."""

    def __init__(self, address: str):
        ray = _ray()
        env = {"PYTHONPATH": str(REPO)}  # the actors import cvae_core from the same place on every node
        if os.environ.get("CVAE_DATA_DIR"):
            env["CVAE_DATA_DIR"] = os.environ["CVAE_DATA_DIR"]
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, ignore_reinit_error=True, runtime_env={"env_vars": env})
        self.gpu_lanes = self.cpu_lanes = 0  # lanes of each kind: the most the cluster has offered
        self._actor_class = ray.remote(max_restarts=0, max_concurrency=1)(SliceWorker)
        self._refs: dict = {}  # (data set name, split) -> ObjectRef, for the named data sets every run shares
        self.nodes: dict[str, str] = {}  # lane -> the node its actor was last placed on
        self._alive: set[str] | None = None  # the cluster's live nodes at the last look (None: unknown)

    def grow(self) -> list["RayLane"]:
        """Lanes for what the cluster offers beyond the most it has had (at the first call, all of it): one per GPU, and
        one per CPU beyond as many as the GPUs (as many lanes in all as CPUs, the first on the GPUs). A lane is named by its kind and number, so
        that replicas sharing the actors agree on each whatever each has seen. Also notes which nodes are alive."""
        ray = _ray()
        resources = ray.cluster_resources()
        alive = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
        cpus, gpus = max(1, int(resources.get("CPU", 1))), int(resources.get("GPU", 0))
        new = [RayLane(self, f"gpu-{k}", gpu=True) for k in range(self.gpu_lanes, gpus)]
        new += [RayLane(self, f"cpu-{k}", gpu=False) for k in range(self.cpu_lanes, cpus - gpus)]
        self.gpu_lanes, self.cpu_lanes = max(self.gpu_lanes, gpus), max(self.cpu_lanes, cpus - gpus)
        self._alive = alive
        return new

    def watch(self, add_lanes, stopped) -> None:
        """Every WATCH_SECONDS until stopped() (in a thread of its own): hand add_lanes([RayLane]) the lanes of the
        CPUs that joined. A cluster that does not answer is asked again next time."""
        while not stopped():
            time.sleep(WATCH_SECONDS)
            try:
                new = self.grow()
            except Exception:  # noqa: BLE001 -- the cluster may be restarting; the lanes it has keep serving
                log.exception("could not look at the Ray cluster")
                self._alive = None
                continue
            if new:
                log.info("the cluster grew: %d more lanes (%s)", len(new), ", ".join(lane.name for lane in new))
                add_lanes(new)

    def actor(self, name: str, gpu: bool):
        """A lane's actor: the pool's named one, created if it is not there (another replica may have made it)."""
        return self._actor_class.options(
            name=f"slice-worker-{name}", lifetime="detached", get_if_exists=True, num_cpus=0 if gpu else 1, num_gpus=1 if gpu else 0
        ).remote()

    def data(self, key, dataset, shared: bool) -> tuple:
        """(key, [ObjectRef]) for a data set: the named ones are put in the object store once for every run."""
        if dataset is None:
            return (key, None)
        if shared:
            if key not in self._refs:
                self._refs[key] = _ray().put(dataset)
            return (key, [self._refs[key]])
        return (key, [_ray().put(dataset)])

    def remote_recipe(self, recipe, run_id: str, train, validation, shared: bool) -> dict:
        """What an actor needs to rebuild a run: the recipe's wire form (a person's own data travels as the data sets)
        and data refs."""
        if shared:
            keys = ((recipe.dataset, recipe.split), (recipe.dataset, "val"))
        else:
            keys = ((run_id, "train"), (run_id, "val"))
        return {"recipe": replace(recipe, own=None).to_wire(), "data": [self.data(keys[0], train, shared), self.data(keys[1], validation, shared)]}

    def nodes_used(self) -> int:
        """Nodes the lanes' actors were last placed on that were alive at the last look (all of them when unknown)."""
        alive = self._alive
        return len({node for node in list(self.nodes.values()) if alive is None or node in alive})

    def named_actor(self, cls, name: str):
        """One actor of `cls` for the whole cluster, by name, detached (the first caller creates it, every replica finds it)."""
        actor = _ray().remote(num_cpus=0, max_restarts=-1)(cls)
        return actor.options(name=name, lifetime="detached", get_if_exists=True).remote()

    def call(self, actor, method: str, *args):
        """Call a named actor (a few milliseconds; raises LaneLost if the cluster does not answer)."""
        try:
            return _ray().get(getattr(actor, method).remote(*args), timeout=10)
        except _lost_errors() as e:
            raise LaneLost(str(e)) from e


class RayLane:
    """One service worker's actor: begin / train / end a run's hold on it."""

    def __init__(self, pool: RayPool, name: str, gpu: bool = False):
        self.pool, self.name, self.gpu = pool, name, gpu
        self._actor = None
        self._placed = False
        self._token: str | None = None
        self._base = self._sent = 0  # host history rows before this hold; rows received during it

    def ready(self) -> bool:
        """Is the lane's actor placed and answering? (A lane whose node is gone waits until Ray can place it again.)"""
        if self._placed:
            return True
        ray = _ray()
        try:
            if self._actor is None:
                self._actor = self.pool.actor(self.name, self.gpu)
            self.pool.nodes[self.name] = ray.get(self._actor.node.remote(), timeout=PLACE_SECONDS)
            self._placed = True
        except _lost_errors():
            self._actor = None  # ask again next time: a dead actor's name is free once Ray knows it died
        except Exception:  # noqa: BLE001 -- the cluster may be restarting; try again later
            log.exception("lane %s could not reach its actor", self.name)
            self._actor = None
        return self._placed

    def _call(self, method: str, *args):
        ray = _ray()
        try:
            return ray.get(getattr(self._actor, method).remote(*args), timeout=CALL_SECONDS)
        except _lost_errors() as e:
            self._placed, self._actor = False, None
            raise LaneLost(str(e)) from e
        except ray.exceptions.RayTaskError as e:  # an error inside the actor: the run's, not the lane's
            raise (e.cause if isinstance(e.cause, Exception) else e) from None

    def begin(self, run) -> None:
        self._token = uuid.uuid4().hex
        self._base, self._sent = len(run.trainer.history), 0
        handover = run.trainer.handover(full=True, history_from=self._base)  # no rows: the actor's trainer starts a history of its own
        self.pool.nodes[self.name] = self._call("begin", self._token, run.where["recipe"], run.where["data"], handover)

    def _load(self, run, handover: dict) -> None:
        rows = len(handover["history"])
        handover["history_from"] = self._base + self._sent
        self._sent += rows
        run.trainer.take_over(handover)

    def train(self, run, seconds: float) -> None:
        beta = getattr(getattr(run.trainer.model, "config", None), "beta", None)
        answer = self._call("train", self._token, seconds, beta, self._sent)
        if answer is None:  # the actor let the trainer go (other replicas' runs): hand it the run again
            self.begin(run)
            answer = self._call("train", self._token, seconds, beta, self._sent)
        self._load(run, answer["handover"])
        if "error" in answer:
            template, fields = answer["error"]
            raise TrainingError(template, **fields)

    def end(self, run) -> None:
        if not self._placed or self._token is None:
            return
        try:
            handover = self._call("end", self._token, self._sent)
        except LaneLost:
            return
        if handover is not None:
            self._load(run, handover)
        self._token = None
