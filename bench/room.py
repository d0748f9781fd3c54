"""A room of visitors without a browser each: N visitors press Start together, through the client the Train page uses
(cvae_core/serving/: TrainingClient, RunHandle), on (a) the local backend -- the server's own training
process -- and (b) a two-node Ray cluster started on this machine with the same CPUs between its nodes; then M
followers of one shared run, as clients of the same API.

    python bench/room.py --visitors 6 --json          # about 5 minutes on 2 cores
    python bench/room.py --visitors 20 --followers 50 --json
    CVAE_DATA_DIR=/work/shared/data python bench/room.py --draw 30 --json   # a room that draws: about 4 minutes

--draw N: the room of issue 39 through the real routes. The server is ui/serve.py as `make run` starts it, with the routes
of bench/serve_bench.py for what the presenter's open page does (through the server's own training client and its
board of rooms, the calls ui/room.py makes). N phones join by the room's link (POST /room/api/join) and each sends
--drawings drawings (POST /room/api/draw, one every 2 s: the room's bound), each the digit the room asks it for: a
held-out official MNIST test digit (cvae_core.data.load_dataset("mnist", "test"), so CVAE_DATA_DIR must hold it) redrawn
as a finger draws it on the phone's 280 x 280 canvas: its centre line stroked with a pen of 10 to 30 px (the page's is
22), 140 to 250 px tall, shifted up to 40 px from the centre (tests/photos.py's pen_stroke), sent as the canvas's PNG.
The presenter accepts every pending drawing (the board's pending and review, as the review view does). Then the room's
Train press, with the offline digits and without (one after the other, each alone on the server): seconds from the
press until 1,000 samples from the weights of that moment are read >= 90 % right by the fidelity classifier (weights
kept every half second and at the run's end, judged after). Then a sweep of --sweep β values (ui.room's
SWEEP_CHOICES["beta"] from the second), dealt to the phones; it ends when every run is done and ui.room.sweep_points (the
projector's plot) has a point for each; then the first --sweep phones each fetch their own run's grid.

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

With --draw, the JSON object is:
    {"draw": {"phones", "drawings_sent", "refused", "accepted", "send_s", "train": {"offline": {"good_s", "images",
     "fidelity_at"}, "drawings_only": {...}}, "faster": "offline" | "drawings_only", "sweep": {"values",
     "runs", "finished", "points_with_final", "seconds", "phones_following"}}, "machine", "load_before"}
- send_s: from the first phone's join until the presenter has accepted the last drawing.
- good_s: seconds from the Train press until the first kept weights read >= 90 % right (null: not within --limit or
  the run's length); s_to_80: the same for 80 %; best: the highest read; fidelity_at: [seconds, fidelity] of every kept
  version judged; images: the training set's size. faster: the press that reached 90 % sooner (else 80 %, else the
  higher best).
- sweep: runs made, runs done, runs whose trail on the projector's plot ends in a point (ui.room.sweep_points), the
  seconds from the sweep's start until the last was done, and phones that read their own run's grid.
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


# ---- a room that draws (--draw) -------------------------------------------------------------------------------
class Bench:
    """The server (tests/servers.AppServer running bench/serve_bench.py) and what the presenter and the phones ask it."""

    def __init__(self):
        from tests.servers import AppServer

        self.server = AppServer("--server.address=127.0.0.1", script="bench/serve_bench.py", keep_output=False, wait=120)
        self.url = self.server.url

    def http(self, method: str, path: str, body: bytes | None = None, query: dict | None = None, raw: bool = False):
        """(status, answer): JSON (or bytes with raw) of one request; a refusal's status and sentence too."""
        import urllib.error
        import urllib.parse
        import urllib.request

        address = self.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
        request = urllib.request.Request(address, data=body, method=method)
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                data = answer.read()
                return answer.status, data if raw else json.loads(data or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def presenter(self, path: str, **body):
        return self.http("POST", path, json.dumps(body).encode())[1]

    def room(self, method: str, *args):
        return self.presenter("/bench/room", method=method, args=list(args))["answer"]

    def close(self) -> None:
        self.server.close()


def canvas_png(digit, rng) -> bytes:
    """A held-out digit (28, 28) in [0, 1] as a phone's thumb canvas sends it: 280 x 280, its centre line stroked with a
    pen of 10-30 px, 140-250 px tall, shifted up to 40 px from the centre, light on black, an RGBA PNG."""
    import io

    import numpy as np
    from PIL import Image

    from tests.photos import pen_stroke

    height = int(rng.uniform(140, 250))
    stroke = pen_stroke(np.asarray(digit, dtype=np.float32).reshape(28, 28), height, float(rng.uniform(10, 30)))
    canvas = np.zeros((280, 280), dtype=np.float32)
    room = 280 - height
    top, left = (int(np.clip(room / 2 + rng.uniform(-40, 40), 0, room)) for _ in range(2))
    canvas[top : top + height, left : left + height] = np.maximum(canvas[top : top + height, left : left + height], stroke)
    buffer = io.BytesIO()
    Image.fromarray((canvas * 255).round().astype(np.uint8)).convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def phone_draws(bench: Bench, token: str, digits: dict, drawings: int, seed: int, out: dict) -> None:
    """One phone: joins by the room's link, then sends `drawings` drawings of the digit it is asked for, one every
    2 s (the room's bound), each a held-out digit of that class redrawn on its canvas."""
    import numpy as np

    from cvae_core.serving.rooms import DRAWING_SECONDS

    rng = np.random.default_rng(seed)
    status, state = bench.http("POST", "/room/api/join", b"", {"t": token})
    if status != 200:
        out["refused"].append(state)
        return
    phone = state["phone"]
    out["phones"].append(phone)
    for _ in range(drawings):
        pool = digits[int(state["ask"])]
        png = canvas_png(pool[rng.integers(len(pool))], rng)
        out["bytes"].append(len(png))
        status, answer = bench.http("POST", "/room/api/draw", png, {"t": token, "p": phone})
        if status == 200:
            state = answer
            out["sent"].append(phone)
        else:
            out["refused"].append(answer)
        time.sleep(DRAWING_SECONDS + 0.05)


def accept_all(bench: Bench, room_id: str, key: str, busy) -> int:
    """The presenter's review: every pending drawing accepted, while busy() (the phones draw) and once more after."""
    accepted, last_look = 0, False
    while True:
        drawing = busy()
        waiting = bench.room("pending", room_id, key)
        for drawing_id, _phone, _label, _pixels in waiting:
            bench.room("review", room_id, key, drawing_id, True)
            accepted += 1
        if not waiting:
            if last_look:
                return accepted
            last_look = not drawing
            time.sleep(0.5)


def train_press(bench: Bench, room_id: str, key: str, offline: bool, limit: float, keep: Path, classifier) -> dict:
    """The room's Train press; seconds until the kept weights' samples are read >= 90 % right (judged after)."""
    from cvae_core.metrics import label_fidelity

    started = time.monotonic()
    made = bench.presenter("/bench/train", id=room_id, key=key, offline=offline)
    kept, version, last = [], 0, -1e9
    while time.monotonic() - started < limit:
        state = bench.http("GET", "/bench/run", query={"id": made["run"]})[1]
        now = time.monotonic()
        ended = state.get("state") in ("done", "failed")
        if state.get("version", 0) != version and (now - last >= KEEP_EVERY or ended):  # and the last weights
            status, data = bench.http("GET", "/bench/weights", query={"id": made["run"]}, raw=True)
            if status == 200 and data:
                path = keep / f"{offline}-{state['version']}.safetensors"
                path.write_bytes(data)
                kept.append((now - started, path))
                version, last = state["version"], now
        if ended:
            break
        time.sleep(POLL_SECONDS)
    bench.presenter("/bench/stop", run=made["run"])
    judged = []
    for seconds, path in kept:
        model = checkpoint.load(path).model.eval()
        fidelity = label_fidelity(model, classifier, per_label=100, temperature=1.0, seed=0)["fidelity"]
        judged.append([round(seconds, 2), round(fidelity, 3)])
        if fidelity >= GOOD:
            break

    def first(level: float) -> float | None:
        return next((seconds for seconds, fidelity in judged if fidelity >= level), None)

    return {"good_s": first(GOOD), "s_to_80": first(0.8), "best": max((f for _s, f in judged), default=None),
            "images": made["images"], "drawings": made["drawings"], "fidelity_at": judged}  # fmt: skip


def draw_room(phones: int, drawings: int, sweep: int, limit: float) -> dict:
    import numpy as np

    from cvae_core.data import load_dataset
    from ui.room import SWEEP_CHOICES

    test = load_dataset("mnist", "test", download=False)
    images, labels = test.images.numpy().reshape(-1, 28, 28), test.labels.numpy()
    digits = {d: images[labels == d] for d in range(10)}
    bench = Bench()
    keep = Path(tempfile.mkdtemp(prefix="cvae-room-draw-"))
    try:
        opened = bench.room("open", "presenter", True)
        room_id, key, token = opened["id"], opened["key"], opened["token"]
        out: dict = {"phones": [], "sent": [], "refused": [], "bytes": []}
        started = time.monotonic()
        people = [threading.Thread(target=phone_draws, args=(bench, token, digits, drawings, seed, out), daemon=True)
                  for seed in range(phones)]  # fmt: skip
        for person in people:
            person.start()
        accepted = accept_all(bench, room_id, key, lambda: any(p.is_alive() for p in people))
        result = {"phones": len(out["phones"]), "drawings_sent": len(out["sent"]), "refused": out["refused"][:5],
                  "accepted": accepted, "send_s": round(time.monotonic() - started, 1),
                  "png_bytes": [min(out["bytes"]), int(np.median(out["bytes"])), max(out["bytes"])]}  # fmt: skip
        print("drawn:", result, file=sys.stderr, flush=True)

        classifier = checkpoint.load(checkpoint.FIDELITY_CLASSIFIERS["label_fidelity"]).model.eval()
        result["train"] = {}
        for name, offline in (("offline", True), ("drawings_only", False)):
            result["train"][name] = train_press(bench, room_id, key, offline, limit, keep, classifier)
            print(name, result["train"][name], file=sys.stderr, flush=True)
        presses = result["train"].items()
        for field in ("good_s", "s_to_80"):
            reached = {name: r[field] for name, r in presses if r[field] is not None}
            if reached:
                result["faster"] = min(reached, key=reached.get)
                break
        else:
            result["faster"] = max(result["train"], key=lambda name: result["train"][name]["best"] or 0)

        values = list(SWEEP_CHOICES["beta"][1 : 1 + sweep])
        sweep_started = time.monotonic()
        made = bench.presenter("/bench/sweep", id=room_id, key=key, setting="beta", values=values)
        points, finished = [], 0
        while time.monotonic() - sweep_started < 5 * limit:
            points = bench.http("GET", "/bench/sweep")[1]
            finished = sum(p["state"] == "done" for p in points)
            if finished == len(values):
                break
            time.sleep(2.0)
        result["sweep"] = {"values": values, "runs": len(made["tokens"]), "finished": finished,
                           "points_with_final": sum(bool(p["trail"]) and p["state"] == "done" for p in points),
                           "seconds": round(time.monotonic() - sweep_started, 1), "phones_following": 0}  # fmt: skip
        for phone in out["phones"][:sweep]:  # each phone reads its own run's grid, as its page shows it
            mine = bench.http("POST", "/room/api/join", phone.encode(), {"t": token})[1]["mine"]
            result["sweep"]["phones_following"] += (
                bool(mine) and bench.http("GET", "/room/grid.png", query={"run": mine["run"]}, raw=True)[0] == 200
            )
        print("sweep:", result["sweep"], file=sys.stderr, flush=True)
        bench.room("close", room_id, key)
        return result
    finally:
        bench.close()
        shutil.rmtree(keep, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=6)
    parser.add_argument("--followers", type=int, default=50)
    parser.add_argument("--follow-every", type=float, default=0.5, help="seconds between a follower's two reads")
    parser.add_argument("--limit", type=float, default=180.0, help="seconds a visitor waits for their run")
    parser.add_argument("--only", choices=("local", "ray"), help="one backend (default: both)")
    parser.add_argument("--draw", type=int, metavar="PHONES", help="a room that draws: this many phones (at most 500)")
    parser.add_argument("--drawings", type=int, default=10, help="--draw: drawings each phone sends (at most 30)")
    parser.add_argument("--sweep", type=int, default=8, help="--draw: β values of the room's sweep (at most 16)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.draw is not None:
        from cvae_core.serving.rooms import MAX_DRAWINGS_PER_PHONE, MAX_PHONES, MAX_SWEEP_RUNS

        if not (1 <= args.draw <= MAX_PHONES and 1 <= args.drawings <= MAX_DRAWINGS_PER_PHONE and 1 <= args.sweep <= MAX_SWEEP_RUNS):
            parser.error(f"--draw is 1 to {MAX_PHONES}, --drawings 1 to {MAX_DRAWINGS_PER_PHONE}, --sweep 1 to {MAX_SWEEP_RUNS}")
        out = {"machine": f"{platform.node()}, {os.cpu_count()} cores", "load_before": [round(x, 2) for x in os.getloadavg()]}
        out["draw"] = draw_room(args.draw, args.drawings, args.sweep, args.limit)
        print(json.dumps(out) if args.json else json.dumps(out, indent=2))
        return
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
