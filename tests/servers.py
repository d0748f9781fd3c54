"""The app as a visitor meets it, for the browser tests and bench/: `streamlit run ui/serve.py` (what `make run` starts: the
app and the phones' routes) on a free port, and Debian's
Chromium driven by Playwright (which cannot download a browser here). One place, so that the tests and the benchmarks
measure the same server started the same way."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`streamlit run ui/serve.py` on a free port, its URL in `url`; `healthy`: perf_counter() when its health check first
    answered. Raises RuntimeError (with the server's output, where kept) when it does not answer within `wait` seconds."""

    def __init__(self, *options: str, env: dict | None = None, keep_output: bool = True, wait: float = 90.0, script: str = "ui/serve.py"):
        """script: the launcher, relative to the repository (bench/serve_bench.py: ui/serve.py's app and the hall bench's own route)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "streamlit", "run", script, "--server.headless=true", f"--server.port={self.port}",
                   "--browser.gatherUsageStats=false", "--server.fileWatcherType=none", *options]  # fmt: skip
        output = subprocess.PIPE if keep_output else subprocess.DEVNULL
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, text=True, env={**os.environ, **(env or {})}
        )
        self.healthy = None
        while time.perf_counter() - self.started < wait:
            try:
                if urllib.request.urlopen(self.url + "/_stcore/health", timeout=1).read() == b"ok":
                    self.healthy = time.perf_counter()
                    return
            except OSError:
                time.sleep(0.02)
            if self.proc.poll() is not None:
                raise RuntimeError("streamlit exited: " + (self.proc.stdout.read() if keep_output else f"code {self.proc.returncode}"))
        self.close()
        raise RuntimeError(f"streamlit did not answer within {wait:.0f} s")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def chromium_executable() -> str:
    """The system's Chromium (apt-get install chromium); RuntimeError without one."""
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        raise RuntimeError("Chromium is not installed (apt-get install chromium)")
    return executable


def chromium(playwright):
    """Headless Chromium from the system (apt-get install chromium); RuntimeError without one."""
    return playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
