"""The phones' light routes (ui/phone.py) over a board of this process: a phone without the link reaches nothing, every
body is capped, every answer is a sentence with Referrer-Policy: no-referrer, a pending drawing is in nothing a phone
reads, a locked room refuses a phone's choice, a stream sends at most one version per 2 s, and a grid is <= 20 KB."""

import asyncio
import io
import json
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from starlette.applications import Starlette

from cvae_core.serving import phones, rooms
from cvae_core.serving.rooms import RoomBoard
from tests.room.asgi import request
from tests.room.test_rooms import Clock
from ui.phone import PhoneRoutes

RUN = "shared-run-token-0123"


class FakeRun:
    """A shared run as the board has it: a snapshot whose version the test moves."""

    def __init__(self, digits):
        self.digits, self.version = digits, 1

    @property
    def snapshot(self):
        return SimpleNamespace(version=self.version, state="training", progress=SimpleNamespace(epoch=0.5 * self.version),
                               grid=self.digits, published_at=1000.0 + self.version)  # fmt: skip


@pytest.fixture
def room_server(held_out):
    clock, slept = Clock(), []
    board = RoomBoard(clock=clock)
    run = FakeRun(held_out.images[:80].numpy().reshape(80, 28, 28))
    desk = phones.PhoneDesk(lambda method, *args: getattr(board, method)(*args), lambda token: run if token == RUN else None, clock)

    async def sleep(seconds):
        slept.append(seconds)
        clock.tick(seconds)
        run.version += 1  # a new version every moment: the stream still sends one per period
        await asyncio.sleep(0)

    app = Starlette(routes=PhoneRoutes(desk, clock=clock, sleep=sleep).routes())
    room = board.open("host", True)
    return SimpleNamespace(app=app, board=board, clock=clock, room=room, run=run, slept=slept)


def canvas_png(digit: np.ndarray) -> bytes:
    """A digit as a phone's 280 x 280 canvas sends it: light strokes on black, PNG."""
    picture = Image.fromarray((np.asarray(digit).reshape(28, 28) * 255).astype(np.uint8)).resize((280, 280), Image.BILINEAR)
    buffer = io.BytesIO()
    picture.convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def call(server, method, path, query=None, body=b"", **kw):
    status, headers, data = request(server.app, method, path, query, body, **kw)
    assert headers.get("referrer-policy") == "no-referrer", (path, status)
    return status, headers, data


def joined(server, token=None):
    status, _h, data = call(server, "POST", "/room/api/join", {"t": token or server.room["token"]})
    assert status == 200
    return json.loads(data)


def test_a_phone_without_the_link_reaches_nothing(room_server):
    phone = joined(room_server)["phone"]
    for token in ("", "made-up-token-123456", room_server.room["token"][:-1] + "x", room_server.room["key"], room_server.room["code"]):
        for method, path, query in (
            ("GET", "/room", {"t": token or "x" * 20}),
            ("POST", "/room/api/join", {"t": token}),
            ("POST", "/room/api/draw", {"t": token, "p": phone}),
            ("POST", "/room/api/choose", {"t": token, "p": phone, "c": "3"}),
            ("GET", "/room/events", {"t": token}),
            ("GET", "/room/grid.png", {"t": token}),
            ("GET", "/room/grid.png", {"run": token or "x"}),
            ("GET", "/room/sweep", {"t": token}),
            ("GET", "/room/decoder", {"t": token}),
        ):
            status, headers, data = call(room_server, method, path, query, b"\x89PNG" * 10)
            assert status == 404 and headers["content-type"] == "application/json", (path, token, status)
            assert set(json.loads(data)) == {"error"} and "no open room" in json.loads(data)["error"]
    # a made-up phone in the right room reaches nothing either
    status, _h, _d = call(room_server, "POST", "/room/api/draw", {"t": room_server.room["token"], "p": "made-up"}, b"x")
    assert status == 404


def test_every_body_is_capped_before_it_is_read_or_decoded(room_server):
    token = room_server.room["token"]
    phone = joined(room_server)["phone"]
    big = b"\x89PNG\r\n\x1a\n" + bytes(phones.MAX_DRAWING_BYTES)
    status, _h, data = call(room_server, "POST", "/room/api/draw", {"t": token, "p": phone}, big, headers={"Content-Length": len(big)})
    assert status == 413 and "larger" in json.loads(data)["error"]
    status, _h, _d = call(room_server, "POST", "/room/api/draw", {"t": token, "p": phone}, big, chunk_size=4096)  # no length declared
    assert status == 413
    status, _h, _d = call(room_server, "POST", "/room/api/find", None, b"A" * 1000)
    assert status == 413
    status, _h, _d = call(room_server, "POST", "/room/api/join", {"t": token}, b"p" * 1000, headers={"Content-Length": "1000"})
    assert status == 413
    status, _h, _d = call(room_server, "POST", "/room/api/join", {"t": token}, b"", headers={"Content-Length": "-1"})
    assert status == 413
    assert not room_server.board._rooms[room_server.room["id"]].drawings  # nothing was made of them


def test_a_drawing_goes_through_the_draw_pages_preprocessing_and_stays_pending(room_server, held_out):
    token, key, room_id = room_server.room["token"], room_server.room["key"], room_server.room["id"]
    me = joined(room_server)
    status, _h, data = call(room_server, "POST", "/room/api/draw", {"t": token, "p": me["phone"]}, canvas_png(held_out.images[0]))
    assert status == 200, data
    after = json.loads(data)
    assert after["sent"] == 1 and after["left"] == rooms.MAX_DRAWINGS_PER_PHONE - 1
    [(_id, _phone, label, pixels)] = room_server.board.pending(room_id, key)
    assert label == me["ask"] and len(pixels) == 784
    from cvae_core.images import preprocess_digit

    upscaled = np.asarray(Image.open(io.BytesIO(canvas_png(held_out.images[0]))).convert("L"), dtype=np.float32) / 255
    assert np.abs(np.frombuffer(pixels, np.uint8) / 255 - preprocess_digit(upscaled).ravel()).max() < 0.01
    # in nothing a phone reads: its own state, the room's stream, another phone's join
    for seen in (
        after,
        joined(room_server),
        json.loads(call(room_server, "POST", "/room/api/join", {"t": token}, me["phone"].encode())[2]),
    ):
        assert "pixels" not in json.dumps(seen) and pixels.hex() not in json.dumps(seen)
    status, _h, stream = call(room_server, "GET", "/room/events", {"t": token}, chunks=3)
    assert status == 200 and pixels.hex() not in stream.decode() and b"pixels" not in stream
    assert room_server.board.accepted(room_id, key)["pixels"] == b""  # not trained on


def test_a_bound_is_refused_with_a_sentence_in_the_phones_language(room_server, held_out):
    token = room_server.room["token"]
    me = joined(room_server)
    png = canvas_png(held_out.images[1])
    assert call(room_server, "POST", "/room/api/draw", {"t": token, "p": me["phone"]}, png)[0] == 200
    status, _h, data = call(room_server, "POST", "/room/api/draw", {"t": token, "p": me["phone"]}, png)
    assert status == 400 and "seconds" in json.loads(data)["error"]
    status, _h, data = call(room_server, "POST", "/room/api/draw", {"t": token, "p": me["phone"], "lang": "zh_Hans"}, png)
    assert status == 400 and "秒" in json.loads(data)["error"]
    room_server.clock.tick(rooms.DRAWING_SECONDS)
    status, _h, data = call(room_server, "POST", "/room/api/draw", {"t": token, "p": me["phone"]}, canvas_png(np.zeros((28, 28))))
    assert status == 400 and "No digit found" in json.loads(data)["error"]  # a blank canvas
    status, _h, data = call(room_server, "POST", "/room/api/draw", {"t": token, "p": me["phone"]}, b"GIF89a" + bytes(100))
    assert status == 400 and "image" in json.loads(data)["error"]  # only a PNG is decoded
    status, _h, data = call(room_server, "POST", "/room/api/find", None, b"ZZZZZZ")
    assert status == 400 and "code" in json.loads(data)["error"]
    status, _h, data = call(room_server, "POST", "/room/api/find", None, room_server.room["code"].lower().encode())
    assert status == 200 and json.loads(data) == {"token": token}


def test_a_locked_room_refuses_a_phones_choice(room_server):
    token, me = room_server.room["token"], joined(room_server)
    other = str((me["ask"] + 1) % 10)
    status, _h, data = call(room_server, "POST", "/room/api/choose", {"t": token, "p": me["phone"], "c": other})
    assert status == 403 and "locked" in json.loads(data)["error"]
    assert room_server.board.phone(token, me["phone"])["ask"] == me["ask"]
    status, _h, _d = call(room_server, "POST", "/room/api/choose", {"t": token, "p": me["phone"], "c": "x"})
    assert status == 400
    room_server.board.settings(room_server.room["id"], room_server.room["key"], {"locked": False})
    status, _h, data = call(room_server, "POST", "/room/api/choose", {"t": token, "p": me["phone"], "c": other})
    assert status == 200 and json.loads(data)["ask"] == int(other)


def test_two_rooms_see_nothing_of_each_other(room_server):
    other = room_server.board.open("host", True)
    mine = joined(room_server)
    status, _h, _d = call(room_server, "POST", "/room/api/draw", {"t": other["token"], "p": mine["phone"]}, b"x")
    assert status == 404
    assert joined(room_server, other["token"])["phones"] == 1  # its own phone alone


def test_the_stream_sends_at_most_one_version_every_two_seconds_and_each_grid_is_small(room_server):
    token, key, room_id = room_server.room["token"], room_server.room["key"], room_server.room["id"]
    room_server.board.settings(room_id, key, {"run": RUN})
    status, headers, stream = call(room_server, "GET", "/room/events", {"t": token}, chunks=8)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    sent = [json.loads(line[len("data: ") :]) for line in stream.decode().splitlines() if line.startswith("data: ")]
    assert len(sent) >= 3 and len({s["version"] for s in sent}) == len(sent)
    # The run has a new version at every moment; the stream waits EVENT_SECONDS (the injected clock) between two sends.
    assert room_server.slept and all(s >= phones.EVENT_SECONDS for s in room_server.slept)
    runs = [s["run"]["version"] for s in sent]
    assert all(b - a == 1 for a, b in zip(runs, runs[1:], strict=False))  # one version a period, never a burst
    assert [s["run"]["published"] for s in sent] == [1000.0 + v for v in runs]  # when each was published: a phone's delay

    status, headers, png = call(room_server, "GET", "/room/grid.png", {"t": token})
    assert status == 200 and headers["content-type"] == "image/png" and len(png) <= phones.MAX_GRID_BYTES
    picture = Image.open(io.BytesIO(png))
    assert picture.size == (8 * 30 - 2, 10 * 30 - 2) and picture.mode == "P" and len(picture.getcolors()) <= 16  # scale 1
    assert call(room_server, "GET", "/room/grid.png", {"run": RUN})[0] == 200  # a shared run followed on its own


class SweepRun:
    """A sweep run as the board has it: validation rows of (KL, reconstruction) that grow as the test says."""

    def __init__(self, beta):
        self.beta, self.rows = beta, []

    makes_images = False

    @property
    def snapshot(self):
        return SimpleNamespace(version=len(self.rows), state="training", progress=SimpleNamespace(epoch=len(self.rows)),
                               history=tuple(self.rows), grid=None, published_at=0.0)  # fmt: skip

    def learn(self, epochs: int) -> None:
        for epoch in range(epochs):
            self.rows += [
                {"split": "train", "kl": 99.0, "recon": -99.0},
                {"split": "val", "kl": 10 / (self.beta + epoch), "recon": -80.0 - epoch},
            ]


def test_phones_plot_the_rooms_sweep_without_the_other_runs_tokens_read_once_a_second_per_room(held_out):
    clock, board = Clock(), RoomBoard(clock=Clock())
    sweep = {f"sweep-run-token-{i:04d}": SweepRun(beta) for i, beta in enumerate((0.5, 1.0, 4.0))}
    calls = []

    def room_call(method, *args):
        calls.append(method)
        if method == "sweep_of":
            time.sleep(0.01)  # a call through the pipe takes a moment: long enough for phones asking at once to overlap
        return getattr(board, method)(*args)

    desk = phones.PhoneDesk(room_call, sweep.get, clock)
    server = SimpleNamespace(app=Starlette(routes=PhoneRoutes(desk, clock=clock).routes()))
    room = board.open("host", True)
    token = room["token"]
    status, _h, data = call(server, "GET", "/room/sweep", {"t": token})
    assert status == 404 and "no sweep" in json.loads(data)["error"]  # a room, without a sweep yet
    assert call(server, "GET", "/room/sweep", {"t": "made-up-token-123456"})[0] == 404
    board.sweep(room["id"], room["key"], "beta", [0.5, 1.0, 4.0], list(sweep))
    clock.tick(phones.VIEW_SECONDS)  # "no sweep" was the answer for a second
    for run in sweep.values():  # a long run: a phone is sent its latest points only
        run.learn(60)
    status, _h, data = call(server, "GET", "/room/sweep", {"t": token})
    assert status == 200 and not any(t in data.decode() for t in sweep)  # no run's token reaches a phone
    plotted = json.loads(data)
    assert plotted["setting"] == "beta" and [p["value"] for p in plotted["points"]] == [0.5, 1.0, 4.0]
    first = plotted["points"][0]["trail"]
    assert len(first) == phones.MAX_TRAIL and first[-1] == [round(10 / 59.5, 3), 139.0]  # validation rows, latest last
    asked = calls.count("sweep_of")
    for _ in range(50):  # a room's phones ask at once: the board is read once for all of them
        call(server, "GET", "/room/sweep", {"t": token})
    assert calls.count("sweep_of") == asked
    clock.tick(phones.VIEW_SECONDS)
    call(server, "GET", "/room/sweep", {"t": token})
    assert calls.count("sweep_of") == asked + 1
    clock.tick(phones.VIEW_SECONDS)  # and when many ask at the same moment, as the cache runs out: still one read
    threads = [threading.Thread(target=desk.sweep, args=(token,)) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls.count("sweep_of") == asked + 2


def test_the_events_generator_paces_itself_by_the_injected_clock():
    clock = Clock()
    times = []

    async def read():
        times.append(clock())
        return {"version": len(times)}  # a new version at every read

    async def sleep(seconds):
        clock.tick(seconds)

    async def collect():
        return [chunk async for chunk in phones.events(read, clock=clock, sleep=sleep, lasting=20)]

    sent = [c for c in asyncio.run(collect()) if c.startswith("data: ")]
    assert len(sent) == 10 and all(b - a >= phones.EVENT_SECONDS for a, b in zip(times, times[1:], strict=False))


def test_a_noisy_grid_is_still_at_most_20_kb():
    noise = np.random.default_rng(0).random((80, 28, 28))
    png = phones.grid_png(noise, 8)
    assert len(png) <= phones.MAX_GRID_BYTES
    assert Image.open(io.BytesIO(png)).size[1] == 10 * 30 - 2  # every digit's row is still there


def test_no_traceback_reaches_a_phone():
    def broken(method, *args):
        raise RuntimeError("a secret detail of the server")

    app = Starlette(routes=PhoneRoutes(phones.PhoneDesk(broken, lambda token: None)).routes())
    server = SimpleNamespace(app=app)
    status, _h, data = call(server, "POST", "/room/api/join", {"t": "some-token-123456"})
    assert status == 500 and "secret" not in data.decode() and "Traceback" not in data.decode()
    assert json.loads(data)["error"].startswith("Something went wrong")


def test_a_new_version_is_encoded_once_however_many_phones_ask_at_once(held_out, monkeypatch):
    run = FakeRun(held_out.images[:80].numpy().reshape(80, 28, 28))
    desk = phones.PhoneDesk(lambda *args: None, lambda token: run if token == RUN else None)
    encoded, encode = [], phones.grid_png
    monkeypatch.setattr(phones, "grid_png", lambda *args: (encoded.append(1), encode(*args))[1])
    together = threading.Barrier(8)
    got = []

    def phone():
        together.wait()
        got.append(desk.grid(RUN))

    for version in (1, 2):
        run.version = version
        asking = [threading.Thread(target=phone) for _ in range(8)]
        for thread in asking:
            thread.start()
        for thread in asking:
            thread.join()
        assert len(encoded) == version and {made[0] for made in got[-8:]} == {version}  # one encoding, the same PNG for all
