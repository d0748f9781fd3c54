import os
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

# The official MNIST test split lives beside the checkout; point the data root at it.
if not os.environ.get("CVAE_DATA_DIR") and (SHARED_DATA / "MNIST" / "raw").exists():
    os.environ["CVAE_DATA_DIR"] = str(SHARED_DATA)

torch.set_num_threads(1)  # beside the training process and a browser, one thread a process is fastest on 2 cores


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """One torch thread again before each test's fixtures: an AppTest runs the app in this process, and the app sets the
    server's threads (ui/server.py); left at two beside a second pytest worker, a module's training fixture then spent
    most of its time at thread barriers (tests/maths/test_models.py: past the 600 s timeout, against 20 s)."""
    torch.set_num_threads(1)


def official_test_available() -> bool:
    root = Path(os.environ.get("CVAE_DATA_DIR", "")) / "MNIST" / "raw"
    return (root / "t10k-images-idx3-ubyte.gz").exists() or (root / "t10k-images-idx3-ubyte").exists()


def wait_until(condition, timeout: float = 60.0, interval: float = 0.02) -> None:
    """Poll until condition() holds (training runs in the background); fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(interval)


needs_official_test = pytest.mark.skipif(not official_test_available(), reason="official MNIST test split not in CVAE_DATA_DIR")


@pytest.fixture(scope="session")
def digits():
    from cvae_core.data import load_dataset

    return load_dataset("mnist-5k", "train")


@pytest.fixture(scope="session")
def held_out():
    from cvae_core.data import load_dataset

    return load_dataset("mnist-5k", "val")


@pytest.fixture
def service():
    """A training service in this process, quick to test: one lane, short slices and turns, grids often, and an absence
    limit no test reaches unless it sets its own."""
    from cvae_core.training.service import TrainingService

    svc = TrainingService(
        max_concurrent=1, fair_share_seconds=0.3, slice_seconds=0.05, grid_every_seconds=0.1, absent_after_seconds=600, cores=2
    )
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's, driven by Playwright), one per test module."""
    from playwright.sync_api import sync_playwright

    from .servers import chromium

    with sync_playwright() as p:
        try:
            b = chromium(p)
        except RuntimeError as e:
            pytest.fail(f"{e}; the browser test cannot run")
        yield b
        b.close()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """The modules with slow or browser tests first: under `make test-fast`'s two workers (`--dist loadfile`) neither
    worker is left with a long module at the end. One process (`make test`) keeps pytest's own order."""
    if config.getoption("dist", "no") == "no":
        return
    long = {item.module.__name__ for item in items if item.get_closest_marker("browser") or item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.module.__name__ not in long)  # stable: each module's tests keep their order
