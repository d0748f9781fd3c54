"""CVAE Lab benchmarks: `python bench/run.py [--quick] [--json FILE]`.

Every speed is measured against a reference in the same process, interleaved, so that a
noisy machine moves both alike; what is reported are ratios (and the raw figures beside them).

1. Training throughput: the engine vs a bare in-memory PyTorch loop on the same model, and vs
   a pytorch/examples-style loop (a torchvision-style dataset of PIL images, ToTensor per sample,
   a DataLoader).
2. Time to good digits: training with the app's defaults until the independent classifier reads
   >= 90 % of temperature-1 samples as their label.
3. UI latency: server time of a rerun after a slider move (Generate) and after a selection in the
   latent plot (Latent space), median of repeated AppTest runs.
4. Scaling: samples/s against batch size, hidden width, latent size and threads.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cvae_core.data import load_dataset  # noqa: E402
from cvae_core.metrics import label_fidelity  # noqa: E402
from cvae_core.models import build_model, model_config  # noqa: E402
from cvae_core.storage import checkpoint  # noqa: E402
from cvae_core.training.defaults import model_defaults, training_defaults  # noqa: E402
from cvae_core.training.engine import TrainConfig, Trainer  # noqa: E402

BENCH_MODEL = dict(variant="cvae2", latent_dim=20, hidden=400, layers=1)  # the 784-400-20 MLP


def fresh_model(seed=0):
    return build_model(model_config(**BENCH_MODEL), seed=seed)


# ---- 1. throughput --------------------------------------------------------------------------
def engine_rate(data, steps: int) -> float:
    trainer = Trainer(fresh_model(), data, config=TrainConfig(epochs=None, max_seconds=3600, warmup_epochs=0))
    trainer.run(max_steps=5)  # warm-up, not timed
    before, samples = trainer.elapsed, trainer.samples
    trainer.run(max_steps=steps)
    return (trainer.samples - samples) / (trainer.elapsed - before)


def bare_rate(data, steps: int) -> float:
    """The least a loop can do: index a tensor, forward, backward, step."""
    model = fresh_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x_all, y_all = data.images, data.labels
    n = len(x_all)

    def step(idx):
        loss, _ = model.loss(x_all[idx], y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    order = torch.randperm(n)
    for i in range(5):
        step(order[i * 128 : (i + 1) * 128])
    started = time.perf_counter()
    done = 0
    for i in range(steps):
        if (i + 1) * 128 % n < 128:
            order = torch.randperm(n)
        start = (i * 128) % (n - 128)
        step(order[start : start + 128])
        done += 128
    return done / (time.perf_counter() - started)


def examples_rate(data, steps: int) -> float:
    """pytorch/examples vae/main.py style: PIL images through ToTensor, one sample at a time, in a DataLoader."""
    from PIL import Image
    from torch.utils.data import DataLoader
    from torch.utils.data import Dataset as TorchDataset
    from torchvision import transforms

    class PILDigits(TorchDataset):
        def __init__(self, images, labels):
            self.images = (images.view(-1, 28, 28).numpy() * 255).astype(np.uint8)
            self.labels = labels.numpy()
            self.transform = transforms.ToTensor()

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            return self.transform(Image.fromarray(self.images[i], mode="L")), int(self.labels[i])

    loader = DataLoader(PILDigits(data.images, data.labels), batch_size=128, shuffle=True)
    model = fresh_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    done, started, i = 0, None, 0
    while i < steps + 5:
        for x, y in loader:
            if i == 5:
                started = time.perf_counter()
            x = x.view(-1, 784)
            loss, _ = model.loss(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if i >= 5:
                done += x.shape[0]
            i += 1
            if i >= steps + 5:
                break
    return done / (time.perf_counter() - started)


def throughput(rounds: int, steps: int) -> dict:
    data = load_dataset("mnist-5k", "train")
    rates = {"engine": [], "bare": [], "examples": []}
    for _ in range(rounds):  # interleaved
        rates["engine"].append(engine_rate(data, steps))
        rates["bare"].append(bare_rate(data, steps))
        rates["examples"].append(examples_rate(data, steps))
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {
        "samples_per_sec": {k: round(v) for k, v in med.items()},
        "engine_vs_bare": round(med["engine"] / med["bare"], 3),
        "engine_vs_examples": round(med["engine"] / med["examples"], 3),
        "targets": {"engine_vs_bare": 0.9, "engine_vs_examples": 1.6},
    }


# ---- 2. time to good digits -------------------------------------------------------------------
def time_to_good_digits(budget: float = 60.0, threshold: float = 0.9) -> dict:
    """The app's default settings; fidelity checked every 2 s of training time."""
    classifier = checkpoint.load(ROOT / "checkpoints" / "fidelity_classifier.safetensors").model
    train = load_dataset("mnist-5k", "train")
    model = build_model(model_config(**model_defaults()), seed=0)
    trainer = Trainer(model, train, config=TrainConfig(**training_defaults()))
    checks = []
    while trainer.elapsed < budget and not trainer.done:
        trainer.run(max_seconds=2.0)
        fid = label_fidelity(model, classifier, per_label=100)["fidelity"]
        model.train()
        checks.append((round(trainer.elapsed, 1), round(fid, 3)))
        if fid >= threshold:
            break
    reached = next((t for t, f in checks if f >= threshold), None)
    return {"seconds_to_90pct_fidelity": reached, "checks": checks, "target_seconds": 20}


# ---- 2b. what the likelihood protocol costs ---------------------------------------------------
def binarization_cost(rounds: int, steps: int) -> dict:
    """The live defaults with the engine's dynamic binarisation against the same engine on grey pixels, interleaved:
    the speed ratio (medians of the rounds), and the training steps each takes until the independent classifier
    reads >= 90 % of temperature-1 samples right (checked every 25 steps)."""
    classifier = checkpoint.load(ROOT / "checkpoints" / "fidelity_classifier.safetensors").model
    train = load_dataset("mnist-5k", "train")

    def trainer(binarize: bool) -> Trainer:
        t = Trainer(
            build_model(model_config(**model_defaults()), seed=0), train, config=TrainConfig(**{**training_defaults(), "epochs": 1000.0})
        )
        t.binarize = binarize  # the one difference
        return t

    pair, ratios = {True: trainer(True), False: trainer(False)}, []
    for _ in range(rounds):
        seconds = {}
        for binarize, t in pair.items():
            started = time.perf_counter()
            t.run(max_steps=steps)
            seconds[binarize] = time.perf_counter() - started
        ratios.append(seconds[False] / seconds[True])
    to_good = {}
    for binarize in (True, False):
        t = trainer(binarize)
        while t.step < 2000:
            t.run(max_steps=25)
            if label_fidelity(t.model, classifier, per_label=100)["fidelity"] >= 0.9:
                break
            t.model.train()
        to_good["binarised" if binarize else "grey"] = t.step
    return {
        "speed_binarised_over_grey": round(statistics.median(ratios), 3),
        "rounds": [round(r, 3) for r in ratios],
        "steps_to_90pct": to_good,
    }


# ---- 3. UI latency ---------------------------------------------------------------------------
def ui_latency(repeats: int = 10) -> dict:
    from streamlit.testing.v1 import AppTest

    def open_page(path: str, timeout: int) -> AppTest:  # served from app.py, as `streamlit run app.py` does
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
        at.switch_page(path)
        return at.run()

    out = {}
    at = open_page("pages/2_Generate.py", 120)
    mounts = [k for k in at.session_state if k.startswith("explorer:")]
    if at.exception or not mounts:
        return {"error": "Generate page did not render a model"}
    times = []
    for i in range(repeats):  # the explorer's report after a gesture (a dial moving costs the server nothing: bench/explore.py)
        started = time.perf_counter()
        at.session_state[mounts[0]] = {"view": {"z": [round(-2 + 4 * i / repeats, 1)] + [0.0] * 15, "label": 3, "temperature": 1.0}}
        at.run()
        times.append(time.perf_counter() - started)
    out["generate_report_ms"] = round(1000 * statistics.median(times), 1)
    at = open_page("pages/4_Latent_space.py", 300)
    times = []
    for _ in range(repeats):  # a rerun with the embedding cached: what a click costs
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
    out["latent_rerun_ms"] = round(1000 * statistics.median(times), 1)
    out["target_ms"] = 150
    return out


def cold_start(port: int = 8765) -> dict:
    """Seconds from `streamlit run app.py` to the home page's title drawn in headless Chromium."""
    import shutil
    import subprocess

    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        return {"error": "no chromium on PATH"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        started = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless=true", f"--server.port={port}"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/", timeout=2000)
                    break
                except Exception:  # not listening yet
                    if time.perf_counter() - started > 60:
                        return {"error": "no page within 60 s"}
                    time.sleep(0.1)
            page.get_by_role("heading", name="CVAE Lab").first.wait_for(timeout=60_000)
            seconds = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(10)
            browser.close()
    return {"cold_start_seconds": round(seconds, 2), "target_seconds": 8}


# ---- 4. scaling ------------------------------------------------------------------------------
def scaling(steps: int) -> dict:
    data = load_dataset("mnist-5k", "train")
    rows = []

    def rate(**kw):
        cfg = {**BENCH_MODEL, **{k: v for k, v in kw.items() if k in ("hidden", "latent_dim")}}
        model = build_model(model_config(**cfg), seed=0)
        trainer = Trainer(model, data, config=TrainConfig(epochs=None, max_seconds=3600, batch_size=kw.get("batch_size", 128)))
        trainer.run(max_steps=3)
        before, samples = trainer.elapsed, trainer.samples
        trainer.run(max_steps=steps)
        r = (trainer.samples - samples) / (trainer.elapsed - before)
        return round(r), round(len(data) / r, 3)

    for batch in (32, 64, 128, 256, 512):
        rows.append({"batch_size": batch, **dict(zip(("samples_per_sec", "seconds_per_epoch"), rate(batch_size=batch), strict=True))})
    for hidden in (128, 256, 512, 1024):
        rows.append({"hidden": hidden, **dict(zip(("samples_per_sec", "seconds_per_epoch"), rate(hidden=hidden), strict=True))})
    for latent in (2, 8, 20, 64):
        rows.append({"latent_dim": latent, **dict(zip(("samples_per_sec", "seconds_per_epoch"), rate(latent_dim=latent), strict=True))})
    threads = torch.get_num_threads()
    for n in sorted({1, 2, os.cpu_count() or 1}):
        torch.set_num_threads(n)
        rows.append({"threads": n, **dict(zip(("samples_per_sec", "seconds_per_epoch"), rate(), strict=True))})
    torch.set_num_threads(threads)
    return {"rows": rows, "device": "cuda" if torch.cuda.is_available() else "cpu"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer steps and rounds (a smoke run)")
    parser.add_argument("--only", choices=["throughput", "digits", "binarize", "ui", "cold", "scaling"], action="append")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    steps, rounds = (20, 1) if args.quick else (150, 3)
    parts = args.only or ["throughput", "digits", "binarize", "ui", "cold", "scaling"]
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads",
    }
    if "throughput" in parts:
        result["throughput"] = throughput(rounds, steps)
        print(json.dumps({"throughput": result["throughput"]}), flush=True)
    if "digits" in parts:
        result["time_to_good_digits"] = time_to_good_digits(budget=20 if args.quick else 60)
        print(json.dumps({"time_to_good_digits": result["time_to_good_digits"]}), flush=True)
    if "binarize" in parts:
        result["binarization_cost"] = binarization_cost(max(rounds, 5) if not args.quick else 1, steps)
        print(json.dumps({"binarization_cost": result["binarization_cost"]}), flush=True)
    if "ui" in parts:
        result["ui_latency"] = ui_latency(3 if args.quick else 10)
        print(json.dumps({"ui_latency": result["ui_latency"]}), flush=True)
    if "cold" in parts:
        result["cold_start"] = cold_start()
        print(json.dumps({"cold_start": result["cold_start"]}), flush=True)
    if "scaling" in parts:
        result["scaling"] = scaling(10 if args.quick else 60)
        print(json.dumps({"scaling": result["scaling"]}), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
