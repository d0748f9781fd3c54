"""A phone explores a run in its own browser (issue 39): /room/decoder sends the run's decoder as webmodel's buffer, with
the room's class names, built once per version whoever asks, cacheable (ETag, max-age), and a token reaches its own
run's decoder alone; a model that draws no digits, or a run without weights yet, is refused with a sentence."""

import json
from types import SimpleNamespace

import pytest
from starlette.applications import Starlette

from cvae_core.models import build_model, model_config
from cvae_core.serving import phones
from cvae_core.serving.rooms import RoomBoard
from cvae_core.storage.webmodel import header
from tests.room.asgi import request, served
from tests.room.test_rooms import Clock
from ui.phone import PhoneRoutes

RUN, OTHER = "shared-run-token-0123", "shared-other-token-4567"


class ModelRun:
    """A shared run with weights: its snapshot's version and its model move together."""

    def __init__(self, variant: str, **config):
        self.makes_images = True
        self._model = build_model(model_config(variant, **config)).eval().requires_grad_(False)
        self.version = 1

    @property
    def snapshot(self):
        return SimpleNamespace(version=self.version, state="training", progress=SimpleNamespace(epoch=1.0), grid=None, published_at=0.0)

    def model(self):
        return self._model

    @property
    def model_version(self):
        return self.version


@pytest.fixture
def explored():
    board = RoomBoard(clock=Clock())
    runs = {RUN: ModelRun("cvae2", latent_dim=4), OTHER: ModelRun("cvae1", latent_dim=3)}
    desk = phones.PhoneDesk(lambda method, *args: getattr(board, method)(*args), runs.get)
    app = Starlette(routes=PhoneRoutes(desk).routes())
    room = board.open("host", True, tuple("ABCDEFGHIJ"))
    board.settings(room["id"], room["key"], {"run": RUN})
    return SimpleNamespace(app=app, desk=desk, room=room, runs=runs)


def get(server, query, headers=None):
    status, got, data = request(server.app, "GET", "/room/decoder", query, b"", headers=headers or {})
    assert got.get("referrer-policy") == "no-referrer"
    return status, got, data


def described(data: bytes) -> dict:
    return json.loads(header(data)["__metadata__"]["cvae_web"])


def test_the_rooms_run_decoder_is_built_once_a_version_with_the_rooms_classes(explored):
    status, headers, data = get(explored, {"t": explored.room["token"]})
    assert status == 200 and headers["content-type"] == "application/octet-stream"
    assert described(data)["classes"] == list("ABCDEFGHIJ") and described(data)["variant"] == "cvae2"
    assert "max-age" in headers["cache-control"] and headers["etag"].startswith('"1-')
    again = get(explored, {"t": explored.room["token"]})
    assert again[1]["etag"] == headers["etag"] and again[2] == data and explored.desk.decoders_built == 1
    assert get(explored, {"t": explored.room["token"]}, {"If-None-Match": headers["etag"]})[0] == 304
    explored.runs[RUN].version = 2  # a new version: built again, a new ETag
    status, newer, _data = get(explored, {"t": explored.room["token"]})
    assert status == 200 and newer["etag"].startswith('"2-') and explored.desk.decoders_built == 2
    # the run followed on its own (a sweep's run): the digits' names
    status, _h, data = get(explored, {"run": RUN})
    assert status == 200 and described(data)["classes"] == [str(k) for k in range(10)]


def test_a_token_reaches_its_own_runs_decoder_alone(explored):
    for query in ({"t": "made-up-token-123456"}, {"run": "made-up-token-123456"}, {"run": explored.room["token"]},
                  {"t": RUN}, {"run": explored.room["key"]}, {}):  # fmt: skip
        status, headers, data = get(explored, query)
        assert status == 404 and headers["content-type"] == "application/json", query
        assert "no open room" in json.loads(data)["error"]
    mine, theirs = get(explored, {"run": RUN})[2], get(explored, {"run": OTHER})[2]
    assert described(mine)["variant"] == "cvae2" and described(theirs)["variant"] == "cvae1"  # each token, its own run


def test_a_run_that_draws_nothing_or_has_no_weights_is_refused_with_a_sentence(explored):
    explored.runs[OTHER]._model = build_model(model_config("cvae3")).eval()
    status, _h, data = get(explored, {"run": OTHER, "lang": "en"})
    assert status == 400 and "does not draw digits" in json.loads(data)["error"]
    explored.runs[OTHER].model = lambda: None
    status, _h, data = get(explored, {"run": OTHER})
    assert status == 400 and "no weights yet" in json.loads(data)["error"]


def test_the_cache_keeps_eight_decoders(explored):
    runs = {f"run-token-{k:04d}-abcdef": ModelRun("cvae2", latent_dim=2) for k in range(phones.MAX_DECODERS + 2)}
    desk = phones.PhoneDesk(lambda *args: None, runs.get)
    for token in runs:
        assert desk.decoder(token) is not None
    assert len(desk._decoders) == phones.MAX_DECODERS and desk.decoders_built == len(runs)


def test_decoder_js_is_served_cacheable():
    app = Starlette(routes=PhoneRoutes(phones.PhoneDesk(lambda *a: None, lambda t: None)).routes())
    status, headers, data = request(app, "GET", "/room/decoder.js", None, b"")
    assert status == 200 and b"var CVAEDecoder" in data and "javascript" in headers["content-type"]
    assert "max-age" in headers["cache-control"] and headers["etag"]


@pytest.mark.browser
def test_a_phone_explores_the_rooms_run_in_its_own_browser(explored, browser):
    """A 390 px phone opens the room's page, presses Explore, and a dial moved redraws the digit with no request."""
    explored.runs[RUN].snapshot  # noqa: B018 -- a run with weights
    with served(explored.app) as address:
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.goto(f"{address}/room?t={explored.room['token']}&lang=en")
        page.get_by_role("button", name="Explore this model").click()
        page.locator("#explorer").wait_for(state="visible", timeout=30_000)
        assert page.locator("#pick option").all_inner_texts() == list("ABCDEFGHIJ")
        pixels = "() => Array.from(document.getElementById('digit').getContext('2d').getImageData(0, 0, 280, 280).data).join()"
        before, asked = page.evaluate(pixels), []
        page.on("request", lambda r: asked.append(r.url))
        page.locator("#dial0").fill("2.5")
        assert page.evaluate(pixels) != before and not asked  # decoded in the phone
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
        context.close()
