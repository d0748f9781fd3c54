"""The web server's side of a room for phones (issue 39): what its light routes (ui/phone.py) ask of the board of rooms
(rooms.py) and of a shared run, at a cost that does not grow with the phones.

- A room's public state (its count, the run it follows) is read from the board at most every VIEW_SECONDS, whoever
  asks: one read a second per room for all of a server's phones; a token the board does not know is answered from
  memory for UNKNOWN_SECONDS (made-up links cost nothing).
- A run's sample grid is encoded once per version for every phone (the phones that ask while it is encoded wait for
  it: bench/hall.py found a new version encoded by many of them at once): scale 1, 16 grey levels (4-bit PNG), at most
  MAX_GRID_BYTES (fewer grey levels, then fewer styles, when a grid is noisier than digits).
- A run's decoder for a phone that explores it in its own browser (ui/web/decoder.js) is built once per (run, version,
  class names) for every phone: at most one build at a time on the server (the phones that ask meanwhile wait for it),
  kept for the MAX_DECODERS runs asked for last (a buffer is 0.3-2 MB: at most 8 of them, about 16 MB).
- `events`: the server-sent events of a phone's stream, at most one version every EVENT_SECONDS, for STREAM_SECONDS
  (the browser's EventSource then reconnects); its clock and sleep are injected (tests).
- A room's sweep, as its phones plot it (`sweep`): every run's value, state and trail of validation (rate, distortion),
  read from the shared runs at most every VIEW_SECONDS per room for all its phones; the other runs' tokens stay here.
- A drawing is checked against the room's bounds before its bytes are decoded, then decoded as a PNG only (at most
  MAX_DRAWING_PIXELS) and prepared as the Draw page prepares a canvas's (cvae_core.images.preprocess_digit).

Nothing here imports torch: the launcher (ui/serve.py) and its routes start without it.
"""

import asyncio
import hashlib
import io
import json
import threading
import time
from collections import OrderedDict

import numpy as np

from ..errors import CVAEError, ImageError
from ..text import N_
from .pipe import raise_refusal

VIEW_SECONDS = 1.0
UNKNOWN_SECONDS = 5.0
MAX_UNKNOWN = 4096
MAX_VIEWS = 64  # rooms and runs whose state a server keeps for its phones
EVENT_SECONDS = 2.0  # a phone receives at most one version this often
STREAM_SECONDS = 600.0  # a stream's length; the browser reconnects
MAX_GRID_BYTES = 20_000
MAX_DECODERS = 8  # decoders kept for phones that explore a run, least recently asked for first out
MAX_TRAIL = 40  # a sweep run's latest validation points a phone is sent (its plot's trail)
MAX_DRAWING_BYTES = 64 * 1024  # a thumb canvas's PNG is a few kilobytes
MAX_DRAWING_PIXELS = 1024 * 1024
NO_WEIGHTS = N_("This run has no weights yet: try again when its first epoch is done.")


def grid_png(digits, ncol: int, limit: int = MAX_GRID_BYTES) -> bytes:
    """Digits (N, 28, 28) in [0, 1] as one PNG at scale 1 with 16 grey levels (4 bits a pixel), at most `limit` bytes:
    a noisier grid goes to 4 grey levels, then to fewer styles (columns) until it fits."""
    from PIL import Image

    from ..images import grid

    digits = np.asarray(digits, dtype=np.float32).reshape(-1, 28, 28)
    rows = -(-len(digits) // ncol)
    for columns in range(ncol, 0, -1):
        shown = digits.reshape(rows, ncol, 28, 28)[:, :columns].reshape(-1, 28, 28) if rows * ncol == len(digits) else digits
        image = grid(shown, columns if rows * ncol == len(digits) else ncol)
        for levels, bits in ((16, 4), (4, 2)):
            picture = Image.fromarray(np.clip(np.round(image * (levels - 1)), 0, levels - 1).astype(np.uint8), mode="P")
            picture.putpalette([round(255 * i / (levels - 1)) for i in range(levels) for _ in range(3)])
            for optimize in (False, True):  # zlib's default first: 2 ms a grid; optimize: 25 ms, 3 % smaller
                buffer = io.BytesIO()
                picture.save(buffer, format="PNG", bits=bits, optimize=optimize)
                if buffer.tell() <= limit:
                    return buffer.getvalue()
        if rows * ncol != len(digits):
            break
    raise ImageError("The grid cannot be made small enough.")


def drawing_pixels(data: bytes) -> bytes:
    """A thumb canvas's PNG (light strokes on black) as the 28 x 28 uint8 bytes the board keeps (ink = 255), prepared as
    the Draw page prepares its canvas. Raises ImageError with a sentence (too large, not a PNG, blank)."""
    from ..images import load_image, preprocess_digit, to_uint8
    from ..text import N_

    if len(data) > MAX_DRAWING_BYTES:
        raise ImageError(N_("A drawing is at most {kilobytes} KB."), kilobytes=MAX_DRAWING_BYTES // 1024)
    picture = load_image(data, formats=("PNG",), max_pixels=MAX_DRAWING_PIXELS)
    return to_uint8(preprocess_digit(picture)).tobytes()


def _event(data: dict) -> str:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


async def events(read, clock=time.monotonic, sleep=asyncio.sleep, period: float = EVENT_SECONDS, lasting: float = STREAM_SECONDS):
    """A phone's server-sent events: read() (awaited: the room's or run's state, a dict with a "version", or None once
    it has ended) sent whenever its version changed, at most once every `period` seconds, for `lasting` seconds.
    Ends with an "ended" event when read() gives None."""
    started, last = clock(), None
    yield "retry: 3000\n\n"  # the browser waits this long (ms) before it reconnects
    while clock() - started < lasting:
        state = await read()
        if state is None:
            yield "event: ended\ndata: {}\n\n"
            return
        if state.get("version") != last:
            last = state.get("version")
            yield _event(state)
        else:
            yield ": -\n\n"  # a comment: keeps proxies from closing an idle stream
        await sleep(period)


class PhoneDesk:
    """What a server's phone routes read and do, through the board of rooms (call: the client's room()) and the shared
    runs (follow: the client's follow(token) -> a FollowedRun or None). Both are given as functions that start the
    training process when first called, so that the launcher imports no torch."""

    def __init__(self, call, follow, clock=time.monotonic):
        self._call, self._follow, self._clock = call, follow, clock
        self._lock = threading.Lock()
        self._encoding = threading.Lock()  # held while a grid is encoded: the phones that ask meanwhile wait for it
        self._views: dict[str, tuple[float, dict | None]] = {}  # room token -> (when read, public state or None)
        self._sweeps: dict[str, tuple[float, dict | None]] = {}  # room token -> (when read, the sweep's points or None)
        self._sweeping = threading.Lock()  # held while a sweep is read: the phones that ask meanwhile wait for it
        self._grids: dict[str, tuple[int, bytes]] = {}  # run token -> (version, PNG)
        self._building = threading.Lock()  # held while a decoder is built: one build at a time, on the server
        self._decoders: OrderedDict[tuple, tuple[int, str, bytes]] = OrderedDict()  # (run, classes) -> (version, tag, bytes)
        self.decoders_built = 0  # builds so far (tests: one a version)

    # ---- a room's public state, read once a VIEW_SECONDS for every phone -------------------------------
    def public(self, token: str) -> dict | None:
        if not isinstance(token, str) or not 8 <= len(token) <= 64:
            return None
        now = self._clock()
        with self._lock:
            kept = self._views.get(token)
        if kept is not None:
            when, view = kept
            if now - when < (VIEW_SECONDS if view is not None else UNKNOWN_SECONDS):
                return view
        view = self._call("public", token)
        with self._lock:
            self._views[token] = (now, view)
            while len(self._views) > MAX_VIEWS + MAX_UNKNOWN:
                self._views.pop(next(iter(self._views)))
        return view

    def room_state(self, token: str) -> dict | None:
        """What a room's stream sends: its public state and the run it follows ({"version", "epoch", "state"}); its
        version changes when either does."""
        view = self.public(token)
        if view is None:
            return None
        run = self.run_state(view["run"]) if view.get("run") else None
        return {**view, "version": f"{view['version']}.{run['version'] if run else 0}", "run": run}

    def sweep(self, token: str) -> dict | None:
        """A room's sweep as its phones plot it: {"setting", "points": [{"value", "state", "epoch", "trail": the run's
        latest MAX_TRAIL validation (rate: KL, distortion: -reconstruction) pairs, nats per digit}, one per value in the
        order of the values (a phone's `mine.index` is its own)]}; None for an unknown room or one without a sweep.
        Read at most every VIEW_SECONDS per room, however many phones ask."""
        if self.public(token) is None:
            return None
        now = self._clock()
        with self._lock:
            kept = self._sweeps.get(token)
        if kept is not None and now - kept[0] < VIEW_SECONDS:
            return kept[1]
        with self._sweeping:  # one read at a time: the phones that ask meanwhile take what it read
            with self._lock:
                kept = self._sweeps.get(token)
            if kept is not None and now - kept[0] < VIEW_SECONDS:
                return kept[1]
            made = self._read_sweep(token)
            with self._lock:
                self._sweeps[token] = (now, made)
                while len(self._sweeps) > MAX_VIEWS:
                    self._sweeps.pop(next(iter(self._sweeps)))
        return made

    def _read_sweep(self, token: str) -> dict | None:
        sweep = self._call("sweep_of", token)
        made = None
        if sweep is not None:
            points = []
            for value, run_token in zip(sweep["values"], sweep["runs"], strict=False):
                followed = self._followed(run_token)
                snap = followed.snapshot if followed is not None else None
                rows = [row for row in (snap.history if snap is not None else ()) if row.get("split") == "val" and "kl" in row]
                trail = [[round(float(row["kl"]), 3), round(-float(row["recon"]), 3)] for row in rows[-MAX_TRAIL:]]
                points.append({"value": value, "state": str(snap.state) if snap is not None else "queued",
                               "epoch": round(float(snap.progress.epoch), 2) if snap is not None else 0.0, "trail": trail})  # fmt: skip
            made = {"setting": sweep["setting"], "points": points}
        return made

    # ---- a shared run ---------------------------------------------------------------------------------
    def _followed(self, run_token: str):
        return self._follow(run_token) if isinstance(run_token, str) and 8 <= len(run_token) <= 64 else None

    def run_state(self, run_token: str) -> dict | None:
        """A shared run as a phone reads it: {"version", "epoch", "state", "grid": whether it has one, "published": when
        its version was published (time.time() of the training process: how far behind a phone is), "explore": whether it
        draws digits a phone may explore (decoder())}, or None."""
        followed = self._followed(run_token)
        snap = followed.snapshot if followed is not None else None
        if snap is None:
            return None
        return {"version": snap.version, "epoch": round(float(snap.progress.epoch), 2), "state": str(snap.state),
                "grid": snap.grid is not None, "published": round(float(snap.published_at), 3),
                "explore": bool(getattr(followed, "makes_images", False))}  # fmt: skip

    def grid(self, run_token: str) -> tuple[int, bytes] | None:
        """(version, PNG) of a shared run's latest sample grid, encoded once per version; None without one."""
        from ..training.service import GRID_STYLES

        followed = self._followed(run_token)
        snap = followed.snapshot if followed is not None else None
        if snap is None or snap.grid is None:
            return None
        with self._lock:
            kept = self._grids.get(run_token)
        if kept is not None and kept[0] == snap.version:
            return kept
        with self._encoding:  # one encoding a version, however many phones ask for it at once
            with self._lock:
                kept = self._grids.get(run_token)
            if kept is not None and kept[0] >= snap.version:  # another phone's request made it (or a newer one)
                return kept
            made = (snap.version, grid_png(snap.grid, GRID_STYLES))
            with self._lock:
                self._grids[run_token] = made
                while len(self._grids) > MAX_VIEWS:
                    self._grids.pop(next(iter(self._grids)))
        return made

    def room_grid(self, token: str) -> tuple[int, bytes] | None:
        view = self.public(token)
        return self.grid(view["run"]) if view is not None and view.get("run") else None

    def room_decoder(self, token: str) -> tuple[int, str, bytes] | None:
        """The decoder of the run a room shows, its labels named as the room's classes; None without one."""
        view = self.public(token)
        return self.decoder(view["run"], view.get("classes")) if view is not None and view.get("run") else None

    def decoder(self, run_token: str, classes: list[str] | None = None) -> tuple[int, str, bytes] | None:
        """(version, ETag, bytes) of a shared run's decoder for the browser (webmodel.decoder_bytes of its current weights,
        label k named classes[k]); None for an unknown run. Built once per version however many phones ask (the same
        pattern as grid()); raises CVAEError with a sentence for a run without weights yet or one that draws nothing."""
        followed = self._followed(run_token)
        snap = followed.snapshot if followed is not None else None
        if snap is None:
            return None
        key = (run_token, tuple(classes or ()))
        with self._lock:
            kept = self._decoders.get(key)
            if kept is not None and kept[0] == snap.version:
                self._decoders.move_to_end(key)
                return kept
        with self._building:
            with self._lock:
                kept = self._decoders.get(key)
            if kept is not None and kept[0] >= snap.version:  # another phone's request built it (or a newer one)
                return kept
            made = self._build(followed, classes)
            with self._lock:
                self._decoders[key] = made
                self._decoders.move_to_end(key)
                while len(self._decoders) > MAX_DECODERS:
                    self._decoders.popitem(last=False)
        return made

    def _build(self, followed, classes) -> tuple[int, str, bytes]:
        from ..storage.webmodel import decoder_bytes  # torch: only once a phone explores

        model = followed.model()
        if model is None:
            raise CVAEError(NO_WEIGHTS)
        version = followed.model_version
        data = decoder_bytes(model, list(classes) if classes else None)
        self.decoders_built += 1
        return version, f'"{version}-{hashlib.blake2b(data, digest_size=8).hexdigest()}"', data

    # ---- a phone's requests: each answer plain data, None (unknown) or CVAEError raised with the sentence ----------
    def find(self, code: str, address: str) -> dict:
        return raise_refusal(self._call("find", str(code)[:32], address))

    def join(self, token: str, phone: str | None) -> dict | None:
        return raise_refusal(self._call("join", token, phone))

    def phone(self, token: str, phone: str) -> dict | None:
        return self._call("phone", token, phone)

    def choose(self, token: str, phone: str, label: int) -> dict | None:
        return raise_refusal(self._call("choose", token, phone, label))

    def draw(self, token: str, phone: str, data: bytes) -> dict | None:
        """Check the room's bounds for this phone, then decode the drawing and send it: the phone's next state."""
        if raise_refusal(self._call("may_draw", token, phone)) is None:
            return None
        try:
            pixels = drawing_pixels(data)
        except ImageError as e:
            raise CVAEError(e.template, **e.fields) from None
        return raise_refusal(self._call("draw", token, phone, pixels))
