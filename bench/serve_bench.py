"""ui/serve.py's app as bench/hall.py and bench/room.py --draw start it: the app and the phones' routes, exactly as `make run`
serves them, and routes of the benches' own for what a presenter's open page does, through the server's own training
client (ui.training.client(): the one the phone routes and the Follow page read), on loopback only:

- POST /bench/hall: the presenter's run (cvae2, the app's defaults, on the offline digits, as long as the bench lasts),
  shared as a host's share; GET /bench/hall: its steps, version and the training process's pid (bench/hall.py).
- POST /bench/room {"method", "args"}: a call to the board of rooms, as ui/room.py makes it (open, view, pending,
  review, accepted, ...); bytes travel as {"bytes": base64}.
- POST /bench/train {"id", "key", "offline", "epochs"}: the room's Train press (ui.room.room_data and room_settings on
  the accepted drawings, as ui.room.train_on_room builds it); GET /bench/run?id=: that run's state; GET
  /bench/weights?id=: its weights now, as a checkpoint; POST /bench/stop {"run"}: its Stop.
- POST /bench/sweep {"id", "key", "setting", "values"}: the room's sweep (ui.room.sweep_recipe per value, each shared and dealt to the
  phones by the board); GET /bench/sweep: ui.room.sweep_points, what the projector plots.

Every run started here is kept training by one heartbeat, as the presenter's open page keeps it.

    streamlit run bench/serve_bench.py --server.address=127.0.0.1   # (the benches start it through tests/servers.py)
"""

import base64
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from ui.phone import routes  # noqa: E402

BEAT_SECONDS = 1.0  # the presenter's open page beats as often
PRESENTER = "presenter"
_hall: dict = {}
_runs: dict = {}  # run id -> handle: every run the presenter started here
_sweep: list = []  # (β, handle)
_lock = threading.Lock()


def _client():
    from ui import training

    client = training.client()
    with _lock:
        if "beat" not in _hall:

            def beat() -> None:
                while True:
                    for run in list(_runs.values()):
                        run.beat()
                    time.sleep(BEAT_SECONDS)

            _hall["beat"] = threading.Thread(target=beat, daemon=True, name="presenter-beat")
            _hall["beat"].start()
    return client


def _keep(run):
    with _lock:
        _runs[run.id] = run
    return run


# ---- the hall: one shared run ---------------------------------------------------------------------------------
def _start_hall(_body) -> dict:
    from cvae_core.training.recipe import Recipe

    with _lock:
        started = "run" in _hall
    if not started:
        client = _client()
        run = _keep(client.submit(Recipe.from_settings(train={"epochs": 10_000.0, "seed": 0}), owner=PRESENTER))
        _hall.update(run=run, token=run.share(host=True)["token"], client=client)
    return _hall_status(None)


def _hall_status(_body) -> dict:
    run = _hall.get("run")
    if run is None:
        return {}
    snap = run.snapshot
    return {"token": _hall["token"], "training_pid": _hall["client"].pid, "steps": snap.summary.get("steps", 0),
            "batch_size": run.recipe.train.batch_size, "version": snap.version, "grid": snap.grid is not None,
            "state": str(snap.state), "time": time.time()}  # fmt: skip


# ---- a room's presenter ---------------------------------------------------------------------------------------
def _plain(value):
    """An answer of the board as JSON: bytes as {"bytes": base64}, tuples as lists."""
    if isinstance(value, bytes):
        return {"bytes": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _room(body: dict):
    return {"answer": _plain(_client().room(str(body["method"]), *body.get("args", [])))}


def _train(body: dict) -> dict:
    from cvae_core.training.recipe import Recipe
    from ui import room

    client = _client()
    images, labels, classes = room.accepted_arrays(client.room("accepted", body["id"], body["key"]))
    own = room.room_data(images, labels, classes, bool(body["offline"]))
    recipe = Recipe.from_settings(*room.room_settings(float(body.get("epochs", room.ROOM_EPOCHS))), "room", None, own=own)
    run = _keep(client.submit(recipe, owner=PRESENTER))
    return {"run": run.id, "images": len(own.labels), "drawings": len(labels)}


def _run_state(run_id: str) -> dict:
    run = _runs.get(run_id)
    snap = run.snapshot if run is not None else None
    if snap is None:
        return {}
    return {"state": str(snap.state), "version": snap.version, "epoch": float(snap.progress.epoch), "grid": snap.grid is not None,
            "error": snap.error}  # fmt: skip


def _weights(run_id: str) -> bytes:
    from cvae_core.storage import checkpoint

    run = _runs.get(run_id)
    model = run.model() if run is not None else None
    return b"" if model is None else checkpoint.to_bytes(model)


def _stop(body: dict) -> dict:
    with _lock:
        run = _runs.pop(str(body["run"]), None)
    if run is not None:
        run.stop()
    return {}


def _start_sweep(body: dict) -> dict:
    from ui import room

    client = _client()
    setting, values = body["setting"], list(body["values"])
    runs = [_keep(client.submit(room.sweep_recipe(setting, value), owner=PRESENTER)) for value in values]
    tokens = [run.share(host=True)["token"] for run in runs]
    _sweep[:] = [setting, *zip(values, runs, strict=True)]
    return {"answer": _plain(client.room("sweep", body["id"], body["key"], setting, values, tokens)), "tokens": tokens}


def _sweep_points(_body) -> list:
    from ui import room

    return _plain(room.sweep_points(_sweep[1:], setting=_sweep[0])) if _sweep else []


ROUTES = {("/bench/hall", "POST"): _start_hall, ("/bench/hall", "GET"): _hall_status, ("/bench/room", "POST"): _room,
          ("/bench/train", "POST"): _train, ("/bench/sweep", "POST"): _start_sweep, ("/bench/sweep", "GET"): _sweep_points, ("/bench/stop", "POST"): _stop}  # fmt: skip


async def bench(request: Request) -> Response:
    if request.client is None or request.client.host not in ("127.0.0.1", "::1"):
        return JSONResponse({}, status_code=403)
    path = request.url.path
    if path == "/bench/run":
        return JSONResponse(await run_in_threadpool(_run_state, request.query_params.get("id", "")))
    if path == "/bench/weights":
        return Response(await run_in_threadpool(_weights, request.query_params.get("id", "")), media_type="application/octet-stream")
    body = await request.json() if request.method == "POST" and int(request.headers.get("content-length") or 0) else {}
    return JSONResponse(await run_in_threadpool(ROUTES[(path, request.method)], body))


BENCH_ROUTES = [Route(path, bench, methods=["GET", "POST"]) for path in {p for p, _m in ROUTES} | {"/bench/run", "/bench/weights"}]
app = st.App(str(ROOT / "app.py"), routes=[*routes(), *BENCH_ROUTES])
