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
    """Under pytest-xdist's workers (`--dist loadfile`: a module to a worker, the next module to the first worker free),
    the modules with slow or browser tests first, so that no worker is left with a long module at the end, and among
    them the modules that start a Ray cluster (STARTS_CLUSTER) spread out, one to every two other long modules, so that
    they rarely wait for each other (one_cluster_at_a_time). One process keeps pytest's own order."""
    if config.getoption("dist", "no") == "no":
        return
    modules = list(dict.fromkeys(item.module for item in items))
    long = {m for m in modules if any(i.module is m and (i.get_closest_marker("browser") or i.get_closest_marker("slow")) for i in items)}
    clusters = [m for m in modules if getattr(m, "STARTS_CLUSTER", False)]
    others = [m for m in modules if m in long and m not in clusters]
    order = []
    while clusters or others:
        order += clusters[:1] + others[:2]
        clusters, others = clusters[1:], others[2:]
    rank = {m: i for i, m in enumerate(order)}
    items.sort(key=lambda item: rank.get(item.module, len(order)))  # stable: each module's tests keep their order


@pytest.fixture(scope="module", autouse=True)
def one_cluster_at_a_time(request):
    """A module that starts a Ray cluster of its own (its STARTS_CLUSTER = True: nodes, replicas, nginx) holds a lock
    across the pytest processes of this machine while it runs: two such clusters side by side on two cores would each
    take twice as long to start, and their timeouts are set for one."""
    if not getattr(request.module, "STARTS_CLUSTER", False):
        yield
        return
    import fcntl
    import tempfile

    with open(Path(tempfile.gettempdir()) / f"cvae-lab-tests-cluster-{os.getuid()}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when this process ends
        yield
