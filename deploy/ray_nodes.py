"""Ray nodes on this machine for tests and bench/: each node a `ray start --block` in a session of its own, so that it
is stopped by its own process -- never by a host-wide `ray stop`, which would also stop clusters that are not ours.

    head = RayNode.head(cpus=1)
    worker = RayNode.worker(head.address, cpus=1)
    ...
    worker.kill()          # a node lost: its processes killed at once, as when a machine dies
    head.stop(); ...       # stopped as its own `ray start` stops it

Locked as deploy/local-cluster.sh locks a workshop's cluster: a token (a file readable by this user only, in the head's
temporary folder) on every node, loopback addresses only. A driver needs `head.env` in its environment (the training
process inherits it from the process that starts it).
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # deploy.ray_loopback is run from the repository's root


def locked(token: Path) -> dict[str, str]:
    """The environment every process of a locked cluster runs with: Ray's token authentication, its token read from a
    file, and (for drivers) 127.0.0.1 kept as given when connecting, where the cluster listens (deploy/ray_loopback.py)."""
    return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayNode:
    """One node of a Ray cluster on this machine, started and stopped by its own process group."""

    def __init__(self, args: list[str], address: str, log: Path, env: dict | None = None):
        self.address = address
        self.log = log
        self.env = env or {}
        with log.open("wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "deploy.ray_loopback", "start", "--block", "--disable-usage-stats", *args],
                                            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT,
                                            env={**os.environ, **(env or {}), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1"})  # fmt: skip

    @classmethod
    def head(cls, cpus: int = 1, env: dict | None = None) -> "RayNode":
        """A head node on a free port; its temporary files in a short path of its own
        (Ray's sockets live there, and a socket's path is short)."""
        port = free_port()
        temp = tempfile.mkdtemp(prefix="cvae-ray-", dir="/tmp")  # mode 700: the token inside is this user's alone
        token = Path(temp) / "ray-token"
        token.touch(mode=0o600)
        token.write_text(secrets.token_hex(32))
        env = {**locked(token), **(env or {})}
        args = ["--head", f"--port={port}", f"--num-cpus={cpus}", "--num-gpus=0", "--node-ip-address=127.0.0.1",
                "--include-dashboard=false", f"--temp-dir={temp}"]  # fmt: skip
        node = cls(args, f"127.0.0.1:{port}", Path(temp) / "head.log", env)
        node.wait_for_nodes(1)
        return node

    @classmethod
    def worker(cls, address: str, cpus: int = 1, env: dict | None = None, nodes_after: int = 2) -> "RayNode":
        """A node joining the cluster at `address`; `env`: the head's (its token)."""
        log = Path(tempfile.mkstemp(prefix="cvae-ray-worker-", suffix=".log")[1])
        node = cls([f"--address={address}", f"--num-cpus={cpus}", "--num-gpus=0", "--node-ip-address=127.0.0.1"], address, log, env)
        node.wait_for_nodes(nodes_after)
        return node

    def wait_for_nodes(self, n: int, timeout: float = 90.0) -> None:
        """Until the cluster has n live nodes (raises RuntimeError with the node's log after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self.live_nodes() >= n:
                return
            time.sleep(0.5)
        raise RuntimeError(f"the Ray cluster at {self.address} did not reach {n} nodes:\n{self.log.read_text()[-2000:]}")

    def live_nodes(self) -> int:
        """Live nodes as the cluster counts them (asked by a short-lived command, so this process stays no Ray driver)."""
        script = "import ray,sys; ray.init(address=sys.argv[1], log_to_driver=False); print(sum(n['Alive'] for n in ray.nodes()))"
        try:
            out = subprocess.run([sys.executable, "-c", script, self.address], capture_output=True, text=True, timeout=60,
                                 env={**os.environ, **self.env})  # fmt: skip
            return int(out.stdout.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            return 0

    def kill(self) -> None:
        """Lose the node: every process of its group killed at once (its Ray workers then exit on their own)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the node as its `ray start --block` does on SIGTERM: it stops the processes it started."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # anything left of its group
        except ProcessLookupError:
            pass
