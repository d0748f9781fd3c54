"""Generate's explorer, decoded in the browser, measured where the visitor sits (headless Chromium):

    python bench/explore.py --moves 100 --json

For each setting -- a 1,400-px desktop, a 390-px phone with the CPU throttled four times (CDP
Emulation.setCPUThrottlingRate), the offline page from a disk, and the room's light page for phones (its Explore, on the
throttled phone; also the wait from the Explore press to the first digit) -- `moves` presses of the arrow keys on the first dial,
in gestures of ten (50 ms apart, then a pause longer than the explorer's 400 ms report delay, as a person nudges a
dial). Timed in the page (ui/web/explorer.js keeps them): from the key's event to the first animation frame after the
new digit was painted, whether that frame was the first after the key press, and the decode-and-draw time itself. The
web server's CPU seconds for the moves (its reports and their reruns included) are read from /proc. Goals (the issue):
>= 95 % of moves in the first frame (desktop; >= 90 % on the throttled phone), decode-and-draw <= 4 ms at the 95th
percentile (desktop), the server's CPU <= 0.2 s per 100 moves."""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.browser import ready  # noqa: E402
from tests.servers import AppServer, chromium  # noqa: E402


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def nudge(page, moves: int) -> list[dict]:
    """`moves` arrow-key presses on the first dial in gestures of ten; the explorer's timings for them."""
    page.locator('input[aria-label="z1"]').first.focus()
    page.evaluate("() => { window.__cvaeExplorer.timings.length = 0; }")
    for i in range(moves):
        page.keyboard.press("ArrowRight" if (i // 10) % 2 == 0 else "ArrowLeft")
        time.sleep(0.05)
        if i % 10 == 9:
            time.sleep(0.6)  # the gesture ends: the explorer reports its state once
    time.sleep(1.0)
    return page.evaluate("() => window.__cvaeExplorer.timings.slice()")


def summary(timings: list[dict]) -> dict:
    latency = [t["frame"] - t["pressed"] for t in timings]
    decoded = [t["decoded"] for t in timings]
    return {
        "moves": len(timings),
        "first_frame_share": round(sum(t["late_frames"] == 0 for t in timings) / max(1, len(timings)), 3),
        "key_to_frame_median_ms": round(statistics.median(latency), 1), "key_to_frame_p95_ms": round(percentile(latency, 0.95), 1),
        "decode_and_draw_median_ms": round(statistics.median(decoded), 2), "decode_and_draw_p95_ms": round(percentile(decoded, 0.95), 2),
    }  # fmt: skip


def on_server(browser, server, moves: int, phone: bool) -> dict:
    context = browser.new_context(
        **(
            {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
            if phone
            else {"viewport": {"width": 1400, "height": 1000}}
        )
    )
    page = context.new_page()
    if phone:
        context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": 4})
    page.goto(f"{server.url}/Generate")
    ready(page, "Generate", timeout=180_000)
    page.wait_for_function("() => window.__cvaeExplorer", timeout=60_000)
    time.sleep(2)
    before = cpu_seconds(server.pid)
    timings = nudge(page, moves)
    spent = cpu_seconds(server.pid) - before
    runs = int(page.evaluate("() => document.querySelector('.explorer-runs').dataset.runs"))
    context.close()
    return {**summary(timings), "server_cpu_s_per_100_moves": round(100 * spent / moves, 3), "explorer_runs": runs}


def offline(browser, moves: int) -> dict:
    from cvae_core.storage import checkpoint
    from cvae_core.storage.webmodel import decoder_bytes
    from ui.decoder_view import offline_page

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cvae1.html"
        path.write_bytes(offline_page(decoder_bytes(checkpoint.load(ROOT / "checkpoints" / "cvae1.safetensors").model), "cvae1"))
        context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(path.as_uri())
        page.wait_for_function("() => window.__cvaeExplorer", timeout=60_000)
        out = summary(nudge(page, moves))
        context.close()
    return out


def room_phone(browser, moves: int) -> dict:
    """The room's light page (ui/web/phone.html) on a 390-px phone with the CPU throttled four times: Explore pressed
    (its wait: the decoder fetched, parsed and the first digit painted), then `moves` presses on its first dial. The
    phone routes serve a room that shows a run with the shipped cvae1's weights (a stand-in run: what is timed is the
    phone, which asks the server nothing once it has the decoder)."""
    from types import SimpleNamespace

    from starlette.applications import Starlette

    from cvae_core.serving import phones
    from cvae_core.serving.rooms import RoomBoard
    from cvae_core.storage import checkpoint
    from tests.room.asgi import served
    from ui.phone import PhoneRoutes

    model = checkpoint.load(ROOT / "checkpoints" / "cvae1.safetensors").model
    run = SimpleNamespace(
        makes_images=True, model=lambda: model, model_version=1,
        snapshot=SimpleNamespace(version=1, state="done", progress=SimpleNamespace(epoch=1.0), grid=None, published_at=0.0),
    )  # fmt: skip
    board = RoomBoard()
    room = board.open("host", True)
    board.settings(room["id"], room["key"], {"run": "bench-run-token-0001"})
    desk = phones.PhoneDesk(lambda method, *args: getattr(board, method)(*args), {"bench-run-token-0001": run}.get)
    with served(Starlette(routes=PhoneRoutes(desk).routes())) as address:
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        page = context.new_page()
        context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": 4})
        page.goto(f"{address}/room?t={room['token']}&lang=en")
        page.get_by_role("button", name="Explore this model").click()
        page.locator("#explorer").wait_for(state="visible", timeout=60_000)
        time.sleep(0.5)
        opened = page.evaluate("() => window.__roomExplorer.timings.slice()")
        page.locator("#dial0").focus()
        page.evaluate("() => { window.__roomExplorer.timings.length = 0; }")
        for i in range(moves):
            page.keyboard.press("ArrowRight" if (i // 10) % 2 == 0 else "ArrowLeft")
            time.sleep(0.05)
            if i % 10 == 9:
                time.sleep(0.6)
        time.sleep(1.0)
        timings = page.evaluate("() => window.__roomExplorer.timings.slice()")
        context.close()
    first = opened[0] if opened else None
    return {**summary(timings), "explore_press_to_first_digit_ms": None if first is None else round(first["frame"] - first["pressed"], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=100)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    out = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "model": "cvae1 (shipped: MLP, 16-D)"}
    server = AppServer(keep_output=False)
    try:
        with sync_playwright() as p:
            browser = chromium(p)
            out["desktop"] = on_server(browser, server, args.moves, phone=False)
            out["phone_cpu_4x"] = on_server(browser, server, args.moves, phone=True)
            out["offline_page"] = offline(browser, args.moves)
            out["room_phone_cpu_4x"] = room_phone(browser, args.moves)
            browser.close()
    finally:
        server.close()
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
