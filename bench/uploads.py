"""A room uploading at once: eight visitors, each uploading the largest data set the server takes (50 MB), in headless
Chromium against one `streamlit run app.py`; the server's resident memory sampled every 0.1 s (VmRSS of the Streamlit
process: its copies of the uploads and the reads included).

    python bench/uploads.py --visitors 8 --json

The goal (issue: safe with a room of strangers): the peak stays below the memory at start plus 1 GB. Reads are bounded
server-wide (cvae_core.own_data.reading_slot: two at once), each holds one unpacked entry and one reduced image at a
time. Also prints how long each visitor waited for their preview."""

import argparse
import io
import json
import platform
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.browser import main_area, ready  # noqa: E402
from tests.servers import AppServer, chromium  # noqa: E402

MB = 1024 * 1024


def largest_set(path: Path, limit: int = 49_500_000) -> dict:
    """A zip of two classes of 400 x 400 PNGs (a stroke on a noisy dark ground), as many as fit under the upload limit."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    count = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        while buffer.tell() < limit - 200_000:
            ground = rng.integers(0, 40, (400, 400), dtype=np.uint8)
            picture = Image.fromarray(ground)
            draw = ImageDraw.Draw(picture)
            if count % 2:
                draw.ellipse((100, 100, 300, 300), outline=255, width=24)
            else:
                draw.line((200, 60, 200, 340), fill=255, width=24)
            out = io.BytesIO()
            picture.save(out, format="PNG", compress_level=1)
            archive.writestr(f"set/{'ring' if count % 2 else 'bar'}/{count:05d}.png", out.getvalue())
            count += 1
    path.write_bytes(buffer.getvalue())
    return {"images": count, "megabytes": round(path.stat().st_size / MB, 1)}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds a visitor may wait for their preview")
    parser.add_argument("--shots", help="a folder for each visitor's screenshot")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "largest.zip"
        made = largest_set(data)
        server = AppServer(keep_output=False)
        samples, stop = [], threading.Event()
        try:
            with sync_playwright() as p:
                browser = chromium(p)
                pages = []
                for _ in range(args.visitors):  # every visitor's Train page open, own data chosen: the server at rest
                    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                    page.goto(f"{server.url}/Train?data=own")
                    ready(page, "Train", timeout=180_000)
                    pages.append(page)
                time.sleep(3)
                start = rss_mb(server.pid)

                def sample():
                    while not stop.is_set():
                        samples.append(rss_mb(server.pid))
                        time.sleep(0.1)

                threading.Thread(target=sample, daemon=True).start()
                began = time.perf_counter()
                for page in pages:  # all eight within a second
                    main_area(page).locator("input[type=file]").first.set_input_files(str(data))
                waits = []
                for i, page in enumerate(pages):
                    try:
                        main_area(page).get_by_text("images in 2 classes").first.wait_for(timeout=args.timeout * 1000)
                    finally:
                        page.screenshot(path=f"{folder}/visitor-{i}.png")
                        if args.shots:
                            page.screenshot(path=f"{args.shots}/uploads-visitor-{i}.png")
                    waits.append(round(time.perf_counter() - began, 1))
                stop.set()
                browser.close()
        finally:
            stop.set()
            server.close()
    out = {
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
        "visitors": args.visitors, "set": made, "rss_at_start_mb": round(start), "rss_peak_mb": round(max(samples)),
        "peak_above_start_mb": round(max(samples) - start), "previews_after_s": waits,
    }  # fmt: skip
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
