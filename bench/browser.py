"""What a visitor waits for, timed in headless Chromium against `streamlit run app.py` (wall clock).

    python bench/browser.py                 # everything (about 8 minutes on 2 cores)
    python bench/browser.py --only start --only dial --json bench/browser.json

Parts:
- paint: from the health check answering to the home page's title, and to the finished home page;
- start: from pressing Start (app defaults) to the first sample grid, and to the first grid whose
  weights draw digits that the independent classifier reads >= 90 % right (1,000 samples from the
  weights behind that grid, which bench/hooks/sitecustomize.py keeps in the training process);
  also the training speed with the Train page open, against the engine alone on the same settings and
  threads (and against torch's default of every core: what the app's thread setting costs a lone run);
- dial: from a dial's key press on Generate to the first frame after the new digit is painted, in the page (median of 20);
- sessions: aggregate training throughput with 1, 2 and 5 sessions training at once, each on its
  Train page (counted by the training process; interleaved rounds, medians), and five visitors
  pressing Start together (first grid, good digits, each).
"""

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.servers import AppServer, chromium  # noqa: E402

GOOD = 0.90  # label fidelity a grid's weights must reach
FIDELITY_SAMPLES = 100  # per label: 1,000 samples


class Server(AppServer):
    """The app's server (tests/servers.py); dump: a folder for the weights behind every grid; count: a file where the
    training process appends the digits trained so far (both kept by bench/hooks/sitecustomize.py)."""

    def __init__(self, dump: Path | None = None, env: dict | None = None, count: Path | None = None):
        environment = dict(env or {})
        if dump is not None or count is not None:  # bench/hooks/sitecustomize.py keeps them, in the training process
            environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "bench" / "hooks"), os.environ.get("PYTHONPATH")]))
        if dump is not None:
            environment["BENCH_DUMP_SNAPSHOTS"] = str(dump)
        if count is not None:
            environment["BENCH_COUNT_DIGITS"] = str(count)
        super().__init__(env=environment, keep_output=False)


def ready(page, title: str, timeout: float = 90_000):
    page.get_by_role("heading", name=title).first.wait_for(timeout=timeout)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


def main_area(page):
    return page.get_by_test_id("stMainBlockContainer")


# ---- paint ------------------------------------------------------------------------------------
def paint(p) -> dict:
    """Health check answering -> home title painted, and -> home finished (its last section drawn)."""
    browser = chromium(p)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    server = Server()
    try:
        page.goto(server.url)
        page.get_by_role("heading", name="CVAE Lab").first.wait_for(timeout=60_000)
        title = time.perf_counter() - server.healthy
        page.get_by_test_id("stMetric").filter(has_text="Server memory").wait_for(timeout=60_000)
        ready(page, "CVAE Lab")
        finished = time.perf_counter() - server.healthy
    finally:
        server.close()
        browser.close()
    return {"first_paint_s": round(title, 2), "home_finished_s": round(finished, 2), "targets_s": [2, 5]}


# ---- start -> digits ----------------------------------------------------------------------------
STEP = re.compile(r"weights of step ([\d,]+)")


def watch_grids(page, started: float, until: float) -> list[tuple[float, int]]:
    """(seconds after Start, training step) each time the Train page shows a new grid."""
    seen, out = None, []
    caption = main_area(page).get_by_test_id("stImageCaption").first
    while time.perf_counter() < until:
        try:
            text = caption.inner_text(timeout=200)
        except Exception:  # no grid yet
            continue
        match = STEP.search(text)
        if match and match.group(1) != seen:
            seen = match.group(1)
            out.append((time.perf_counter() - started, int(seen.replace(",", ""))))
        time.sleep(0.05)
    return out


def fidelity_of(dump: Path, step: int) -> float:
    """Label fidelity (the independent CNN, 1,000 samples) of the weights kept for a step."""
    from cvae_core.metrics import label_fidelity
    from cvae_core.storage import checkpoint

    files = sorted(dump.glob(f"*-{step}.safetensors"))
    model = checkpoint.load(files[0]).model.eval()
    classifier = checkpoint.load(checkpoint.FIDELITY_CLASSIFIERS["label_fidelity"]).model.eval()
    return label_fidelity(model, classifier, per_label=FIDELITY_SAMPLES, temperature=1.0, seed=0)["fidelity"]


def first_good(dump: Path, grids: list[tuple[float, int]]) -> tuple[float | None, float | None]:
    """(seconds, fidelity) of the first grid whose weights reach GOOD."""
    for seconds, step in grids:
        fidelity = fidelity_of(dump, step)
        if fidelity >= GOOD:
            return seconds, fidelity
    return None, None


def press_start(p_browser, url: str, link: str = ""):
    """A new visitor on the Train page (link: settings in the address, e.g. "?epochs=300"), ready to press Start."""
    context = p_browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{url}/Train{link}")
    ready(page, "Train")
    return context, page


def progress_epochs(page) -> float | None:
    text = page.locator('[data-testid="stProgress"]').first.inner_text(timeout=2000)
    match = re.search(r"epoch ([\d.]+)", text)
    return float(match.group(1)) if match else None


def fresh_epochs(page, timeout: float = 4.0) -> tuple[float, float]:
    """(time, epochs trained) read as the page redraws its progress line, so the figure is fresh (a page refreshes
    every 1-3 s; reading at any moment would add up to that much staleness at each end of a measurement)."""
    before = page.locator('[data-testid="stProgress"]').first.inner_text(timeout=2000)
    try:
        page.wait_for_function(
            "(t) => { const p = document.querySelector('[data-testid=\"stProgress\"]'); return p && p.innerText !== t; }",
            arg=before, timeout=timeout * 1000, polling=100,
        )  # fmt: skip
    except Exception:  # a run waiting for its turn may show the same line for longer: its figure is not moving
        pass
    return time.perf_counter(), progress_epochs(page) or 0.0  # no epoch yet: none trained


def digits_per_s(before: tuple[float, float], after: tuple[float, float], n_train: int) -> float:
    (t0, e0), (t1, e1) = before, after
    return (e1 - e0) * n_train / (t1 - t0)


def engine_alone(seconds: float, threads: int) -> float:
    """Digits per wall-clock second of the engine on the app's defaults, no server, no page."""
    import torch

    torch.set_num_threads(threads)
    from cvae_core.data import load_dataset
    from cvae_core.models import build_model, model_config
    from cvae_core.training.defaults import model_defaults, training_defaults
    from cvae_core.training.engine import TrainConfig, Trainer

    train = load_dataset("mnist-5k", "train")
    validation = load_dataset("mnist-5k", "val")
    trainer = Trainer(build_model(model_config(**model_defaults()), seed=0), train, validation, TrainConfig(**training_defaults()))
    trainer.run(max_steps=3)
    started, samples = time.perf_counter(), trainer.samples
    while time.perf_counter() - started < seconds and not trainer.done:
        trainer.run(max_seconds=0.3)
    return (trainer.samples - samples) / (time.perf_counter() - started)


def page_open_rounds(p, rounds: int = 3, seconds: float = 6.0) -> list[dict]:
    """Digits per wall second of a run training with its Train page open, and of the engine alone with the threads the
    app gives a lone run, in interleaved rounds: the run trains with its page open, is stopped (Stop), the engine trains
    alone as long, and the run resumes (Resume). The machine's speed drifts by 10 % within minutes, so each ratio
    compares neighbouring moments. The page's rate is read from the page; its server keeps no snapshots (writing a
    checkpoint per grid would slow the training measured)."""
    from cvae_core.data import load_dataset

    n_train = len(load_dataset("mnist-5k", "train"))
    threads = max(1, (os.cpu_count() or 1) - 1)  # the threads the app gives a lone run: the cores but one
    server = Server()
    browser = chromium(p)
    out = []
    try:
        context, page = press_start(browser, server.url, "?epochs=300")  # the defaults, but a run that outlasts the rounds
        time.sleep(8)
        main_area(page).get_by_role("button", name="Start", exact=True).click()
        time.sleep(4)  # past the first slices
        for _round in range(rounds):
            before = fresh_epochs(page)
            time.sleep(seconds)
            page_rate = digits_per_s(before, fresh_epochs(page), n_train)
            main_area(page).get_by_role("button", name="Stop", exact=True).click()
            resume = main_area(page).get_by_role("button", name="Resume", exact=True)
            page.wait_for_function("(b) => !b.disabled", arg=resume.element_handle(timeout=10_000), timeout=10_000)
            out.append({"page_open": round(page_rate), "engine_alone": round(engine_alone(seconds, threads))})
            resume.click()
            time.sleep(2)
        context.close()
    finally:
        server.close()
        browser.close()
    return out


def grids_after_start(p, dump: Path | None = None, reading: float = 8.0, watch: float = 12.0) -> list[tuple[float, int]]:
    """A new visitor opens the Train page of a fresh server, reads for `reading` s and presses Start: the grids it
    then sees for `watch` s, as (seconds after Start, training step). dump: where the server keeps each grid's weights."""
    server = Server(dump)
    browser = chromium(p)
    try:
        context, page = press_start(browser, server.url)
        time.sleep(reading)
        main_area(page).get_by_role("button", name="Start", exact=True).click()
        started = time.perf_counter()
        grids = watch_grids(page, started, started + watch)
        context.close()
    finally:
        server.close()
        browser.close()
    return grids


def start(p) -> dict:
    """One visitor presses Start on a warm server; and the first visitor of a fresh server presses it at once, before
    the training process is up (a presenter who launched the app a moment ago)."""
    dump = Path(tempfile.mkdtemp(prefix="cvae-bench-"))
    grids = grids_after_start(p, dump)  # 8 s of reading: the training process starts meanwhile (the first page starts it)
    first = grids[0][0] if grids else None
    good, fidelity = first_good(dump, grids)
    cold_grids = grids_after_start(p, reading=0.0, watch=20.0)
    cold = cold_grids[0][0] if cold_grids else None
    rounds = page_open_rounds(p)
    page_rate = statistics.median(r["page_open"] for r in rounds)
    alone_one = statistics.median(r["engine_alone"] for r in rounds)
    alone = engine_alone(6, os.cpu_count() or 1)  # torch's default: every core
    return {
        "start_to_first_grid_s": first and round(first, 2),
        "start_to_good_grid_s": good and round(good, 2),
        "good_grid_fidelity": fidelity,
        "grids_seen": len(grids),
        "grids": [[round(seconds, 2), step] for seconds, step in grids],  # (s after Start, the grid's training step)
        "fresh_server_start_to_first_grid_s": cold and round(cold, 2),
        "page_open_digits_per_s": round(page_rate),
        "engine_alone_app_threads_digits_per_s": round(alone_one),
        "page_open_over_engine": round(
            statistics.median(r["page_open"] / r["engine_alone"] for r in rounds), 3
        ),  # median of the rounds' ratios
        "page_open_rounds": rounds,
        "engine_alone_every_core_digits_per_s": round(alone),
        "page_open_over_engine_every_core": round(page_rate / alone, 3),
        "targets": {"start_to_good_grid_s": 5, "page_open_over_engine": 0.85},
    }


# ---- dial -> digit ------------------------------------------------------------------------------
def dial(p, repeats: int = 20) -> dict:
    """A key press on Generate's first dial -> the first frame after the new digit is painted, timed in the page: the
    explorer decodes in the browser (bench/explore.py measures it at length, on a phone too)."""
    from bench.explore import on_server

    server = Server()
    browser = chromium(p)
    try:
        measured = on_server(browser, server, repeats, phone=False)
    finally:
        server.close()
        browser.close()
    return {
        "dial_to_digit_median_ms": measured["key_to_frame_median_ms"], "dial_to_digit_p95_ms": measured["key_to_frame_p95_ms"],
        "first_frame_share": measured["first_frame_share"], "samples": measured["moves"], "target_ms": 100,
    }  # fmt: skip


# ---- sessions -----------------------------------------------------------------------------------
# The sessions' runs must not end inside the window (a run that ends trains nothing more, and one session
# alone reaches the defaults' 30 epochs within 20 s): more epochs, the defaults otherwise (the number of
# epochs only sets where a run ends; the KL warm-up and the learning rate do not depend on it).
LONG_RUN = "?epochs=300"


def digits_counted(count: Path) -> tuple[float, int]:
    """(unix time, digits trained by every run so far): the training process's latest count (bench/hooks)."""
    stamp, digits = count.read_text().strip().splitlines()[-1].split()
    return float(stamp), int(digits)


def aggregate(browser, url: str, count: Path, k: int, seconds: float = 20.0) -> tuple[float, float]:
    """Digits per second trained by k sessions together, each on its Train page (app defaults but LONG_RUN):
    (counted by the training process, read on the pages). The window spans two turns of the five-run queue
    (five runs take 4 s turns on two slots: every run trains about 4 s in 10), so that where each page's
    reading falls in its run's turns moves the pages' figure little. The count is exact; the pages show
    epochs to a tenth (500 digits), read one after another."""
    from cvae_core.data import load_dataset

    n_train = len(load_dataset("mnist-5k", "train"))
    opened = [press_start(browser, url, LONG_RUN) for _ in range(k)]
    for _, page in opened:
        main_area(page).get_by_role("button", name="Start", exact=True).click()
    time.sleep(4)  # everyone is under way (first slices, the queue rotating)
    counted_before = digits_counted(count)
    before = [fresh_epochs(page) for _, page in opened]
    time.sleep(seconds)
    after = [fresh_epochs(page) for _, page in opened]
    counted_after = digits_counted(count)
    counted = (counted_after[1] - counted_before[1]) / (counted_after[0] - counted_before[0])
    shown = sum(digits_per_s(b, a, n_train) for b, a in zip(before, after, strict=True))
    for context, _ in opened:
        context.close()
    time.sleep(12)  # their runs stop (no heartbeat) before the next round
    return counted, shown


def five_together(browser, url: str, dump: Path) -> list[dict]:
    opened = [press_start(browser, url) for _ in range(5)]
    started = time.perf_counter()
    for _, page in opened:
        main_area(page).get_by_role("button", name="Start", exact=True).click()
    out = []
    grids_each = [[] for _ in opened]
    deadline = started + 60
    while time.perf_counter() < deadline:  # look at each page in turn
        for i, (_, page) in enumerate(opened):
            grids_each[i].extend(g for g in watch_grids(page, started, time.perf_counter() + 0.3) if g not in grids_each[i])
    for grids in grids_each:
        good, fidelity = first_good(dump, sorted(set(grids)))
        out.append({"first_grid_s": grids and round(min(grids)[0], 1), "good_grid_s": good and round(good, 1), "fidelity": fidelity})
    for context, _ in opened:
        context.close()
    return out


def warm_server(browser, dump: Path | None = None, count: Path | None = None) -> Server:
    """A server whose home page has been opened once, and whose training process has started."""
    server = Server(dump, count=count)
    warm = browser.new_page()
    warm.goto(server.url)
    ready(warm, "CVAE Lab")
    time.sleep(8)
    warm.close()
    return server


def sessions(p, rounds: int = 3) -> dict:
    """Aggregate throughput in a server that keeps no snapshots (writing a checkpoint per grid would slow the
    training measured, and five runs draw more grids than two: one at each turn); the five visitors' good digits
    in one that does."""
    browser = chromium(p)
    count = Path(tempfile.mkdtemp(prefix="cvae-bench-")) / "digits"
    try:
        server = warm_server(browser, count=count)
        try:
            rates, shown = {k: [] for k in (1, 2, 5)}, {k: [] for k in (1, 2, 5)}
            for _ in range(rounds):
                for k in rates:
                    counted, on_pages = aggregate(browser, server.url, count, k)
                    rates[k].append(counted)
                    shown[k].append(on_pages)
        finally:
            server.close()
        dump = Path(tempfile.mkdtemp(prefix="cvae-bench-"))
        server = warm_server(browser, dump)
        try:
            together = five_together(browser, server.url, dump)
        finally:
            server.close()
    finally:
        browser.close()
    medians = {k: statistics.median(v) for k, v in rates.items()}
    shown_medians = {k: statistics.median(v) for k, v in shown.items()}
    return {
        "aggregate_digits_per_s": {str(k): round(v) for k, v in medians.items()},
        "five_over_two": round(medians[5] / medians[2], 3),
        "rounds": {str(k): [round(x) for x in v] for k, v in rates.items()},
        "as_the_pages_show_it": {
            "aggregate_digits_per_s": {str(k): round(v) for k, v in shown_medians.items()},
            "five_over_two": round(shown_medians[5] / shown_medians[2], 3),
            "rounds": {str(k): [round(x) for x in v] for k, v in shown.items()},
        },
        "five_press_start_together": together,
        "targets": {"five_over_two": 0.95, "first_grid_s": 15, "good_grid_s": 60},
    }


PARTS = {"paint": paint, "start": start, "dial": dial, "sessions": sessions}


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=list(PARTS), action="append")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}", "date": time.strftime("%Y-%m-%d")}
    with sync_playwright() as p:
        for name in args.only or list(PARTS):
            print(f"-- {name}", flush=True)
            results[name] = PARTS[name](p)
            print(json.dumps(results[name], indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
