"""Thread or process for the training workers? `python bench/workers.py [--seconds 6] [--rounds 3] [--json FILE]`.

The app's training service (cvae_core/training/service.py) runs the same way in both set-ups; what differs
is where it runs:
- thread: inside the web server's process, sharing its GIL with the page scripts;
- process: in a process of its own (cvae_core/serving/), as the app ships.

Measured, on the app's live defaults, as digits trained per wall-clock second:
1. one run alone, and one run while a busy pure-Python thread (standing in for page scripts:
   building plots, encoding PNGs, Streamlit's own work) runs in the server process;
2. the Python thread's own speed beside training, against alone (how much the pages lose);
3. aggregate throughput of 1, 2 and 5 runs at once through the service (queue and time-slicing),
   interleaved rounds, medians.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cvae_core.serving import TrainingClient  # noqa: E402
from cvae_core.training.defaults import training_defaults  # noqa: E402
from cvae_core.training.recipe import Recipe  # noqa: E402


def live_recipe(seed: int = 0) -> dict:
    return Recipe.from_settings(train={"epochs": 10_000.0, "seed": seed})


def python_work(stop: threading.Event, counter: list) -> None:
    """A stand-in for page scripts: pure Python, holding the GIL whenever it runs."""
    while not stop.is_set():
        sum(range(1000))
        counter[0] += 1


def python_rate(seconds: float) -> float:
    stop, counter = threading.Event(), [0]
    t = threading.Thread(target=python_work, args=(stop, counter))
    t.start()
    time.sleep(seconds)
    stop.set()
    t.join()
    return counter[0] / seconds


class ThreadRuns:
    """The service in this process (the thread set-up)."""

    def __init__(self):
        from cvae_core.serving.host import TrainingHost
        from cvae_core.training.service import TrainingService

        self.host = TrainingHost()
        self.service: TrainingService = self.host.service

    def submit(self, seed: int) -> str:
        return self.host.submit(live_recipe(seed).to_wire())["id"]  # the host reads a recipe in its wire form

    def samples(self, run_id: str) -> int:
        run = self.host.runs[run_id]
        return run.trainer.samples

    def keep_alive(self, run_ids):
        for run_id in run_ids:
            self.host.heartbeat(run_id)

    def drop(self, run_ids):
        self.host.drop(run_ids)


class ProcessRuns:
    """The service in its own process (as the app ships)."""

    def __init__(self):
        self.client = TrainingClient()
        self.handles = {}

    def submit(self, seed: int) -> str:
        handle = self.client.submit(live_recipe(seed))
        self.handles[handle.id] = handle
        return handle.id

    def samples(self, run_id: str) -> int:
        handle = self.handles[run_id]
        handle.forget_snapshot()
        return handle.summary()["steps"] * training_defaults()["batch_size"]

    def keep_alive(self, run_ids):
        for run_id in run_ids:
            self.handles[run_id].beat()

    def drop(self, run_ids):
        for run_id in run_ids:
            self.handles.pop(run_id).stop()


def aggregate(runs, k: int, seconds: float, busy_python: bool = False) -> tuple[float, float | None]:
    """(digits per wall second of k runs together, Python thread speed beside them or None)."""
    ids = [runs.submit(seed) for seed in range(k)]
    time.sleep(2.0)  # past the first slices and the first rotation of the queue
    runs.keep_alive(ids)
    before = sum(runs.samples(i) for i in ids)
    started = time.perf_counter()
    stop, counter = threading.Event(), [0]
    busy = threading.Thread(target=python_work, args=(stop, counter)) if busy_python else None
    if busy:
        busy.start()
    while time.perf_counter() - started < seconds:
        time.sleep(1.0)
        runs.keep_alive(ids)  # the heartbeats a page would send
    elapsed = time.perf_counter() - started
    rate = (sum(runs.samples(i) for i in ids) - before) / elapsed
    if busy:
        stop.set()
        busy.join()
    py = counter[0] / elapsed if busy else None
    runs.drop(ids)
    time.sleep(0.5)
    return rate, py


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    out = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "date": time.strftime("%Y-%m-%d"), "seconds": args.seconds}
    python_alone = python_rate(args.seconds)
    for name, make in (("thread", ThreadRuns), ("process", ProcessRuns)):
        runs = make()
        rounds = {k: [] for k in (1, 2, 5)}
        for _ in range(args.rounds):  # interleaved, so that a drift of the machine moves every k alike
            for k in rounds:
                rounds[k].append(aggregate(runs, k, args.seconds)[0])
        totals = {k: round(statistics.median(v)) for k, v in rounds.items()}
        alone = totals[1]
        beside, py = aggregate(runs, 1, args.seconds, busy_python=True)
        out[name] = {
            "one_run_digits_per_s": round(alone),
            "one_run_beside_busy_python_digits_per_s": round(beside),
            "training_kept_beside_busy_python": round(beside / alone, 3),
            "python_thread_kept_beside_training": round(py / python_alone, 3),
            "aggregate_digits_per_s": totals,
            "five_over_two": round(totals[5] / totals[2], 3),
            "rounds": {k: [round(x) for x in v] for k, v in rounds.items()},
        }
        print(name, json.dumps(out[name]), flush=True)
        if name == "process":
            runs.client.close()
        else:
            runs.service.close()
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
