"""The light page for phones (issue 39): routes of the web server itself, not a Streamlit session per phone.

ui/serve.py (the launcher `make run` starts) mounts these beside Streamlit's own with `st.App(routes=...)`:
- GET  /room                 the phone's page (join by link or code, the room's count, a thumb canvas, the run)
- POST /room/api/find        a typed code -> the room's token (rate-limited on the board)
- POST /room/api/join        ?t=token, body: the phone's id or nothing -> the phone's state
- POST /room/api/draw        ?t=token&p=phone, body: the canvas's PNG -> the phone's next state
- POST /room/api/choose      ?t=token&p=phone&c=class -> refused while the presenter has locked the room
- GET  /room/events          ?t=token (a room) or ?run=token (a shared run): server-sent events, one version per 2 s
- GET  /room/sweep           ?t=token: the room's sweep as the phone plots it (PhoneDesk.sweep: every run's value and
                             trail, read once a second per room; no other run's token), 404 without a sweep
- GET  /room/grid.png        ?t= or ?run=: the run's sample grid, scale 1, 16 grey levels, at most 20 KB
- GET  /room/decoder         ?t= or ?run=: the run's decoder for the phone's own browser (webmodel.decoder_bytes), built
                             once per version for every phone (PhoneDesk.decoder: one build at a time, 8 kept), cached
                             by the browser (ETag, max-age); fetched only when a phone asks to explore the run
- GET  /room/decoder.js      ui/web/decoder.js, the browser's decoder (cacheable: the same text for every phone)

Every route reads at most a bounded number of bytes (checked against Content-Length, then as they come), checks the
token before anything else (an unknown one: 404 and no data), answers in the phone's language (?lang=, else
Accept-Language) with a sentence, never a traceback, and sends Referrer-Policy: no-referrer (the token is in the
address). Nothing here imports torch: the training process is reached on a phone's first request, and the decoder's
builder (torch) is imported by the first phone that explores a run.
"""

import asyncio
import functools
import hashlib
import ipaddress
import json
import logging
import secrets
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from cvae_core.errors import CVAEError
from cvae_core.serving import phones
from cvae_core.serving.pipe import TrainingLost

from .i18n import LANGUAGE, LANGUAGES, N_, catalogue, from_locale

PAGE = Path(__file__).resolve().parent / "web" / "phone.html"
DECODER_JS = PAGE.with_name("decoder.js")
KEEP = "private, max-age=3600"  # a decoder: its address names the version the phone saw (&v=), its ETag the bytes
MAX_SMALL_BODY = 256  # a code, a phone's id
HEADERS = {"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}

# What the phone's page says, in the phone's language (its own page: no Streamlit, so its words travel as JSON).
TEXTS = {
    "title": N_("CVAE Lab · the room"),
    "code_label": N_("The room's code, from the projector"),
    "join": N_("Join"),
    "phones": N_("Phones in the room: {n}"),
    "ask": N_("Draw the digit {digit}, large, in the middle."),
    "ask_class": N_("Draw “{digit}”, large, in the middle."),
    "send": N_("Send"),
    "clear": N_("Clear"),
    "sent": N_("Sent: {sent} · left: {left}"),
    "thanks": N_("Thank you! The presenter sees it before anyone else."),
    "blank": N_("Draw a digit first."),
    "not_collecting": N_("The room is not collecting drawings now."),
    "run": N_("The room's run: epoch {epoch}"),
    "own_run": N_("Your run: epoch {epoch}"),
    "no_run": N_("The presenter has not shown a run yet."),
    "yours_beta": N_("Your β is {value}: the grid below is your run's."),
    "yours_latent": N_("Your latent size is {value}: the grid below is your run's."),
    "yours_labels": N_("Your run learns from {value} labelled digits: the grid below is your run's."),
    "grid_alt": N_("Digits drawn by the model the room follows, one row per digit."),
    "sweep_title": N_("The room's sweep: every run's rate against its distortion. Yours is the thick red line."),
    "sweep_rate": N_("rate: KL, nats"),
    "sweep_distortion": N_("distortion, nats"),
    "sweep_summary": N_("{runs} runs in the sweep. Yours, {label}: rate {rate} nats, distortion {distortion} nats."),
    "sweep_waiting": N_("{runs} runs in the sweep. Yours, {label}, has no validation point yet."),
    "ended": N_("This room or run has ended."),
    "no_room": N_("This link finds no open room or run: it is mistyped, or it has ended."),
    "offline": N_("The connection was lost; trying again…"),
    "busy": N_("The server is starting its training; try again in a few seconds."),
    "explore": N_("Explore this model"),
    "explore_loading": N_("Fetching the model (once; your browser keeps it)…"),
    "explore_note": N_("Decoded in your phone: move a dial or pick a class, and the model draws at once."),
    "explore_class": N_("Class"),
    "explore_dial": N_("Style dial {n}"),
    "randomise": N_("Randomise"),
    "explore_close": N_("Close"),
    "explore_alt": N_("A digit drawn in your phone by the model, for class {label}."),
    "explore_failed": N_("This phone could not run the model."),
}
NO_ROOM = N_("This link finds no open room or run: it is mistyped, or it has ended.")
NO_SWEEP = N_("This room has no sweep now.")
TOO_LARGE = N_("The request is larger than this page ever sends.")
BAD_REQUEST = N_("The request is not one this page sends.")
BUSY = N_("The server is starting its training; try again in a few seconds.")
BROKEN = N_("Something went wrong on the server; try again in a moment.")
_LOG = logging.getLogger(__name__)


class TooLarge(Exception):
    pass


def phone_language(request: Request) -> str:
    """?lang= first, else the first language the browser asks for."""
    asked = request.query_params.get(LANGUAGE, "")
    if asked in LANGUAGES:
        return asked
    if asked:
        return from_locale(asked[:32])
    first = request.headers.get("accept-language", "").split(",")[0].split(";")[0].strip()
    return from_locale(first[:32] or None)


def say(request: Request, template: str, **fields) -> str:
    text = catalogue(phone_language(request)).gettext(template)
    try:
        return text.format(**fields) if fields else text
    except (KeyError, IndexError, ValueError):
        return template.format(**fields) if fields else template


def answer(data, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=HEADERS)


def refused(request: Request, status: int, template: str, **fields) -> JSONResponse:
    return answer({"error": say(request, template, **fields)}, status)


async def body(request: Request, limit: int) -> bytes:
    """The request's body, at most `limit` bytes: refused from Content-Length before reading, and again as it comes."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLarge
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise TooLarge
    return bytes(data)


def address(request: Request) -> str:
    """Who asks: the peer, or X-Real-IP when the peer is this machine's proxy (deploy/: nginx on loopback)."""
    peer = request.client.host if request.client else ""
    try:
        behind_proxy = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        behind_proxy = False
    forwarded = request.headers.get("x-real-ip", "").strip()
    return forwarded[:64] if behind_proxy and forwarded else peer


def _token(request: Request, name: str = "t") -> str:
    return request.query_params.get(name, "")[:80]


def guarded(handler):
    """A route that answers a sentence, never a traceback: a refusal (CVAEError) 400 in the phone's language, a body
    too large 413, a training process that is starting 503."""

    @functools.wraps(handler)
    async def route(request: Request):
        try:
            return await handler(request)
        except TooLarge:
            return refused(request, 413, TOO_LARGE)
        except TrainingLost:
            return refused(request, 503, BUSY)
        except CVAEError as e:
            return refused(request, 400, e.template or str(e), **e.fields)
        except (ValueError, UnicodeDecodeError):
            return refused(request, 400, BAD_REQUEST)
        except Exception:  # noqa: BLE001 -- the log has the traceback; the phone a sentence
            _LOG.exception("phone route %s", request.url.path)
            return refused(request, 500, BROKEN)

    return route


class PhoneRoutes:
    """The routes over one PhoneDesk (the server's: through ui.training's client; a test's: over a board of its own)."""

    def __init__(self, desk: phones.PhoneDesk | None = None, clock=None, sleep=asyncio.sleep):
        self._desk = desk
        self._clock, self._sleep = clock, sleep

    @property
    def desk(self) -> phones.PhoneDesk:
        if self._desk is None:  # the server's: the training process is started on the first phone's request
            from . import training

            self._desk = phones.PhoneDesk(lambda *args: training.client().room(*args), lambda token: training.client().follow(token))
        return self._desk

    def routes(self) -> list[Route]:
        return [
            Route("/room", guarded(self.page), methods=["GET"]),
            Route("/room/api/find", guarded(self.find), methods=["POST"]),
            Route("/room/api/join", guarded(self.join), methods=["POST"]),
            Route("/room/api/draw", guarded(self.draw), methods=["POST"]),
            Route("/room/api/choose", guarded(self.choose), methods=["POST"]),
            Route("/room/events", guarded(self.events), methods=["GET"]),
            Route("/room/sweep", guarded(self.sweep), methods=["GET"]),
            Route("/room/grid.png", guarded(self.grid), methods=["GET"]),
            Route("/room/decoder", guarded(self.decoder), methods=["GET"]),
            Route("/room/decoder.js", guarded(self.decoder_js), methods=["GET"]),
        ]

    # ---- the page -----------------------------------------------------------------------------------
    async def page(self, request: Request) -> Response:
        token, run = _token(request), _token(request, "run")
        if token and await run_in_threadpool(self.desk.public, token) is None:
            return refused(request, 404, NO_ROOM)
        if run and await run_in_threadpool(self.desk.run_state, run) is None:
            return refused(request, 404, NO_ROOM)
        lang = phone_language(request)
        words = {name: catalogue(lang).gettext(text) for name, text in TEXTS.items()}
        nonce = secrets.token_urlsafe(12)
        html = (
            _page_template()
            .replace("{{LANG}}", lang.replace("_", "-"))
            .replace("{{TITLE}}", words["title"])
            .replace("{{NONCE}}", nonce)
            .replace("{{TEXTS}}", json.dumps(words, ensure_ascii=False).replace("<", "\\u003c"))
        )
        policy = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; img-src 'self' blob: data:; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        )
        return HTMLResponse(html, headers={**HEADERS, "Content-Security-Policy": policy})

    # ---- a phone's requests -------------------------------------------------------------------------
    async def find(self, request: Request) -> Response:
        code = (await body(request, MAX_SMALL_BODY)).decode()
        return answer(await run_in_threadpool(self.desk.find, code, address(request)))

    async def join(self, request: Request) -> Response:
        token = _token(request)
        if await run_in_threadpool(self.desk.public, token) is None:  # the token, before the body is read
            return refused(request, 404, NO_ROOM)
        phone = (await body(request, MAX_SMALL_BODY)).decode().strip() or None
        state = await run_in_threadpool(self.desk.join, token, phone)
        return refused(request, 404, NO_ROOM) if state is None else answer(state)

    async def draw(self, request: Request) -> Response:
        token, phone = _token(request), _token(request, "p")
        if await run_in_threadpool(self.desk.phone, token, phone) is None:
            return refused(request, 404, NO_ROOM)
        data = await body(request, phones.MAX_DRAWING_BYTES)
        state = await run_in_threadpool(self.desk.draw, token, phone, data)
        return refused(request, 404, NO_ROOM) if state is None else answer(state)

    async def choose(self, request: Request) -> Response:
        token, phone = _token(request), _token(request, "p")
        label = int(request.query_params.get("c", "")[:4])
        try:
            state = await run_in_threadpool(self.desk.choose, token, phone, label)
        except CVAEError as e:
            return refused(request, 403, e.template, **e.fields)
        return refused(request, 404, NO_ROOM) if state is None else answer(state)

    # ---- what a phone follows -----------------------------------------------------------------------
    def _reader(self, request: Request):
        token, run = _token(request), _token(request, "run")
        if token:
            return lambda: self.desk.room_state(token)
        if run:
            return lambda: self.desk.run_state(run)
        return None

    async def events(self, request: Request) -> Response:
        reader = self._reader(request)
        if reader is None or await run_in_threadpool(reader) is None:
            return refused(request, 404, NO_ROOM)

        last = {}

        async def read():
            if await request.is_disconnected():
                return None
            try:
                last["state"] = await run_in_threadpool(reader)
            except TrainingLost:  # a new training process is starting: the phone keeps what it shows
                pass
            return last.get("state")

        timing = {"clock": self._clock} if self._clock is not None else {}
        stream = phones.events(read, sleep=self._sleep, **timing)
        headers = {**HEADERS, "X-Accel-Buffering": "no"}  # nginx passes each event on at once
        return StreamingResponse(stream, media_type="text/event-stream", headers=headers)

    async def _room_or_run(self, request: Request, of_room, of_run):
        """What a route serves of the run a room shows (?t=) or of a shared run (?run=), made in a worker thread; None
        for a token that names nothing (the route's 404)."""
        token, run = _token(request), _token(request, "run")
        if token:
            return await run_in_threadpool(of_room, token)
        return await run_in_threadpool(of_run, run) if run else None

    async def sweep(self, request: Request) -> Response:
        token = _token(request)
        if await run_in_threadpool(self.desk.public, token) is None:
            return refused(request, 404, NO_ROOM)
        made = await run_in_threadpool(self.desk.sweep, token)
        return refused(request, 404, NO_SWEEP) if made is None else answer(made)

    async def grid(self, request: Request) -> Response:
        made = await self._room_or_run(request, self.desk.room_grid, self.desk.grid)
        if made is None:
            return refused(request, 404, NO_ROOM)
        version, png = made
        return Response(png, media_type="image/png", headers={**HEADERS, "ETag": f'"{version}"'})

    async def decoder(self, request: Request) -> Response:
        """The run's decoder as one float16 buffer, for the phone's browser to draw with (a run without weights, or a
        model that draws no digits: 400 and the sentence). Built in a worker thread, never on the event loop."""
        made = await self._room_or_run(request, self.desk.room_decoder, self.desk.decoder)
        if made is None:
            return refused(request, 404, NO_ROOM)
        _version, tag, data = made
        return kept_by_browser(request, data, "application/octet-stream", tag, KEEP)

    async def decoder_js(self, request: Request) -> Response:
        text, tag = _decoder_js()
        return kept_by_browser(request, text, "text/javascript; charset=utf-8", tag, "public, max-age=86400")


def kept_by_browser(request: Request, content, media_type: str, tag: str, keep: str) -> Response:
    """A response the browser keeps (`keep`: its Cache-Control) under the ETag `tag`: 304 without a body when the
    browser's copy is that one."""
    headers = {**HEADERS, "Cache-Control": keep, "ETag": tag}
    if tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type=media_type, headers=headers)


@functools.cache
def _decoder_js() -> tuple[str, str]:
    text = DECODER_JS.read_text(encoding="utf-8")
    return text, f'"{hashlib.blake2b(text.encode(), digest_size=8).hexdigest()}"'


@functools.cache
def _page_template() -> str:
    return PAGE.read_text(encoding="utf-8")


def routes() -> list[Route]:
    """The server's phone routes (ui/serve.py)."""
    return PhoneRoutes().routes()
