"""A room of visitors without a browser each: N visitors press Start together, through the client the Train page uses
(cvae_core/serving/: TrainingClient, RunHandle), on (a) the local backend -- the server's own training
process -- and (b) a two-node Ray cluster started on this machine with the same CPUs between its nodes; then M
followers of one shared run, as clients of the same API.

    python bench/room.py --visitors 6 --json          # about 5 minutes on 2 cores
    python bench/room.py --visitors 20 --followers 50 --json

The last line of stdout is one JSON object:
    {"visitors": N, "machine": ..., "local": {"first_grid_s": [...], "good_s": [...], "digits_per_s": x},
     "ray": {..., "nodes_used": k}, "followers": {"n": M, "speed_ratio": r, "max_lag_s": s}}
- first_grid_s: seconds from Start until the visitor's first sample grid is published.
- good_s: seconds from Start until 1,000 samples from the weights of that moment (temperature 1, 100 a label) are read
  >= 90 % right by checkpoints/fidelity_classifier.safetensors (null if never within --limit seconds). Each visitor keeps
  the weights it holds as it polls (about twice a second, as a page would), and they are judged after the room, so that
  judging costs the room nothing.
- digits_per_s: digits trained per second by every run together, from the moment all visitors have pressed Start until
  the first run ends (all N are busy throughout).
- followers: one visitor's run alone, then with M followers polling its snapshot every --follow-every seconds (each
  beating its heartbeat, as the follow page does), in interleaved rounds: speed_ratio = the run's digits per second with
  followers over without; max_lag_s = the largest delay between a weights version being published and a follower first
  holding it.
Visitors use the app's defaults (cvae_core/training/defaults.py), a seed each.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cvae_core.serving import TrainingClient  # noqa: E402
from cvae_core.storage import checkpoint  # noqa: E402
from cvae_core.training.recipe import Recipe  # noqa: E402
from cvae_core.training.service import RunState  # noqa: E402

GOOD = 0.90
HEARTBEAT_SECONDS = 1.0  # as an open Train page's refresh does
POLL_SECONDS = 0.25
KEEP_EVERY = 0.5  # seconds between two kept weight versions of one visitor


def warm(client: TrainingClient) -> None:
    """One short run per lane, so that the room does not time the backend's start (a server is up before its visitors)."""
    lanes = client.load()["limit"]
    runs = [client.submit(Recipe.from_settings(train={"epochs": 0.3, "seed": 100 + i})) for i in range(lanes)]
    deadline = time.monotonic() + 180
    while any(r.snapshot.state not in (RunState.DONE, RunState.FAILED) for r in runs) and time.monotonic() < deadline:
        for r in runs:
            r.beat()
        time.sleep(0.3)


class Visitor(threading.Thread):
    def __init__(self, client: TrainingClient, seed: int, go: threading.Barrier, keep: Path, limit: float):
        super().__init__(daemon=True)
        self.client, self.seed, self.go, self.keep, self.limit = client, seed, go, keep, limit
        self.started = self.first_grid = self.ended = None
        self.kept: list[tuple[float, Path]] = []

    def run(self) -> None:
        recipe = Recipe.from_settings(train={"seed": self.seed})
        self.go.wait()
        self.started = time.monotonic()
        handle = self.client.submit(recipe)
        beat = last_kept = -1e9
        version = 0
        while time.monotonic() - self.started < self.limit:
            now = time.monotonic()
            if now - beat >= HEARTBEAT_SECONDS:
                handle.beat()
                beat = now
            snap = handle.snapshot
            if snap.grid is not None and self.first_grid is None:
                self.first_grid = now - self.started
            if snap.version != version and now - last_kept >= KEEP_EVERY:
                model = handle.model()
                if model is not None:
                    path = self.keep / f"{self.seed}-{snap.version}.safetensors"
                    checkpoint.save(model, path)
                    self.kept.append((time.monotonic() - self.started, path))
                    version, last_kept = snap.version, now
            if snap.state in (RunState.DONE, RunState.FAILED):
                self.ended = now - self.started
                break
            time.sleep(POLL_SECONDS)
        handle.stop()

    def good_s(self, classifier) -> float | None:
        from cvae_core.metrics import label_fidelity

        for seconds, path in self.kept:
            model = checkpoint.load(path).model.eval()
            if label_fidelity(model, classifier, per_label=100, temperature=1.0, seed=0)["fidelity"] >= GOOD:
                return round(seconds, 2)
        return None


def room(client: TrainingClient, visitors: int, limit: float) -> dict:
    warm(client)
    keep = Path(tempfile.mkdtemp(prefix="cvae-room-"))
    try:
        go = threading.Barrier(visitors + 1)
        people = [Visitor(client, seed, go, keep, limit) for seed in range(visitors)]
        for person in people:
            person.start()
        go.wait()
        counted_from = (time.monotonic(), client.load()["digits"])
        counted_to = None
        while any(p.is_alive() for p in people):
            if counted_to is None and any(p.ended is not None for p in people):
                counted_to = (time.monotonic(), client.load()["digits"])
            time.sleep(0.2)
        counted_to = counted_to or (time.monotonic(), client.load()["digits"])
        classifier = checkpoint.load(checkpoint.FIDELITY_CLASSIFIERS["label_fidelity"]).model.eval()
        return {
            "first_grid_s": [None if p.first_grid is None else round(p.first_grid, 2) for p in people],
            "good_s": [p.good_s(classifier) for p in people],
            "digits_per_s": round((counted_to[1] - counted_from[1]) / (counted_to[0] - counted_from[0]), 1),
        }
    finally:
        shutil.rmtree(keep, ignore_errors=True)


def followers(client: TrainingClient, n: int, every: float, rounds: int = 2, seconds: float = 8.0) -> dict:
    """One long run; its speed alone and with n followers, interleaved; the followers' lag behind each version."""
    run = client.submit(Recipe.from_settings(train={"epochs": 10_000.0, "seed": 0}))
    lags: list[float] = []
    lags_lock = threading.Lock()
    following = threading.Event()
    stop = threading.Event()

    def follower(offset: float) -> None:
        time.sleep(offset)
        seen = 0
        while not stop.is_set():
            if following.is_set():
                run.beat()
                snap = run.snapshot
                if snap.version > seen:
                    seen = snap.version
                    with lags_lock:
                        lags.append(time.time() - snap.published_at)
            time.sleep(every)

    def speed() -> float:
        run.beat()
        before = (time.monotonic(), run.snapshot.summary["steps"])
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            run.beat()
            time.sleep(0.5)
        after = (time.monotonic(), run.snapshot.summary["steps"])
        return (after[1] - before[1]) / (after[0] - before[0])

    threads = [threading.Thread(target=follower, args=(every * i / max(n, 1),), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    run.beat()
    time.sleep(3)  # past the run's first slices
    ratios = []
    for _ in range(rounds):
        following.clear()
        alone = speed()
        following.set()
        time.sleep(every)
        watched = speed()
        ratios.append(watched / alone)
    stop.set()
    for t in threads:
        t.join()
    run.stop()
    return {"n": n, "every_s": every, "speed_ratio": round(statistics.median(ratios), 3), "rounds": [round(r, 3) for r in ratios],
            "max_lag_s": round(max(lags), 3) if lags else None}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=6)
    parser.add_argument("--followers", type=int, default=50)
    parser.add_argument("--follow-every", type=float, default=0.5, help="seconds between a follower's two reads")
    parser.add_argument("--limit", type=float, default=180.0, help="seconds a visitor waits for their run")
    parser.add_argument("--only", choices=("local", "ray"), help="one backend (default: both)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out: dict = {"visitors": args.visitors, "machine": f"{platform.node()}, {os.cpu_count()} cores"}

    if args.only in (None, "local"):
        client = TrainingClient(ray_address="")
        try:
            out["local"] = room(client, args.visitors, args.limit)
            print("local:", out["local"], file=sys.stderr, flush=True)
            if args.followers:
                out["followers"] = followers(client, args.followers, args.follow_every)
                print("followers:", out["followers"], file=sys.stderr, flush=True)
        finally:
            client.close()

    if args.only in (None, "ray"):
        from deploy.ray_nodes import RayNode

        cores = os.cpu_count() or 2
        head = RayNode.head(cpus=cores // 2)  # the same CPUs as the local backend, between two nodes
        worker = RayNode.worker(head.address, cpus=cores - cores // 2, env=head.env)
        os.environ.update(head.env)  # the training process (a driver) inherits the cluster's token
        try:
            client = TrainingClient(ray_address=head.address)
            try:
                out["ray"] = room(client, args.visitors, args.limit)
                out["ray"]["nodes_used"] = client.load()["nodes"]
                print("ray:", out["ray"], file=sys.stderr, flush=True)
            finally:
                client.close()
        finally:
            worker.stop()
            head.stop()

    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
