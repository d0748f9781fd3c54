"""The workshop deployment, in headless Chromium: deploy/local-cluster.sh starts nginx in front of two Streamlit replicas
that train on a two-node Ray cluster, all on this machine, and stops exactly what it started.

Two visitors who land on different replicas train at once and each sees only their own run; an upload and a GIF download
work through the proxy; a reload keeps the session's runs; a follower on the other replica sees the owner's grid change
and finds no control that changes it; a made-up link finds nothing."""

import ipaddress
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.browser.test_browser import ROOT, assert_no_exception, main, shot, wait_ready
from tests.servers import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]
STARTS_CLUSTER = True  # a Ray cluster of its own: tests/conftest.py runs one such module at a time
PROGRESS = '[data-testid="stProgress"]'
CONTROLS = ("Start", "Stop", "Resume", "Share this run", "Stop sharing", "Save on this server", "Download checkpoint")


RUN: dict = {}  # the deployment's run folder, for the tests that look at its processes


def deployment(run_dir: Path, **settings: str):
    """deploy/local-cluster.sh started on a free port with these settings (CVAE_TLS_CERT, ...) in the environment: yields
    its URL, then stops exactly what it started (by the process groups it recorded) and checks that nothing is left."""
    if not shutil.which("nginx"):
        pytest.fail("nginx is not installed (apt-get install nginx); the deployment test cannot run")
    env = {**os.environ, "CVAE_CLUSTER_RUN": str(run_dir / "run"), "CVAE_NODE_CPUS": "1", **settings}
    script = ROOT / "deploy" / "local-cluster.sh"
    started = subprocess.run([str(script), "start", str(free_port())], env=env, capture_output=True, text=True, timeout=400)
    try:
        assert started.returncode == 0, started.stderr + started.stdout
        yield started.stdout.strip().splitlines()[-1]
    finally:
        for log in sorted((run_dir / "run").glob("replica-*.log")):  # shown when the test fails
            print(log.name, log.read_text()[-3000:])
        stopped = subprocess.run([str(script), "stop"], env=env, capture_output=True, text=True, timeout=200)
        assert stopped.returncode == 0, stopped.stderr
        assert not (run_dir / "run").exists()


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cluster")
    RUN["dir"] = run_dir / "run"
    yield from deployment(run_dir)


def visitor_on(browser, url: str, avoid: str | None = None, tries: int = 16):
    """A new visitor (a browser context of its own); with `avoid`, one that nginx sends to another replica than that."""
    for _ in range(tries):
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        pg = context.new_page()
        replica = pg.goto(f"{url}/Train").headers.get("x-cvae-replica")
        if avoid is None or replica != avoid:
            wait_ready(pg, "Train")
            return context, pg, replica
        context.close()
    pytest.fail(f"{tries} visitors all landed on {avoid}")


def grid_source(pg) -> str:
    return main(pg).locator('[data-testid="stImage"] img').first.get_attribute("src") or ""


def test_two_replicas_behind_nginx_on_a_ray_cluster(room, browser, tmp_path):
    from tests.shapes import shapes_zip

    owner_context, owner, owner_replica = visitor_on(browser, room)
    other_context, other, other_replica = visitor_on(browser, room, avoid=owner_replica)
    try:
        assert owner_replica != other_replica
        # Both train at once on the cluster, each their own run (400 epochs: neither ends within the test).
        for pg in (owner, other):
            pg.goto(f"{room}/Train?epochs=400")
            wait_ready(pg, "Train")
            main(pg).get_by_role("button", name="Start", exact=True).click()
        for pg in (owner, other):
            pg.locator(PROGRESS).first.wait_for(timeout=120_000)
            pg.wait_for_function("() => document.querySelector('[data-testid=\"stImage\"] img')", timeout=120_000)
        seen = {pg: grid_source(pg) for pg in (owner, other)}
        for pg in (owner, other):
            pg.wait_for_function(
                "(src) => { const i = document.querySelector('[data-testid=\"stImage\"] img'); return i && i.src !== src; }",
                arg=seen[pg], timeout=60_000,
            )  # fmt: skip
        assert_no_exception(owner) and assert_no_exception(other)
        shot(owner, "deploy-owner-training")

        # The owner shares the run; a follower on the other replica sees its grid change, and no control.
        main(owner).get_by_role("button", name="Share this run").click()
        link = main(owner).locator('[data-testid="stCode"]').first.inner_text(timeout=60_000).strip()
        assert "/Follow?run=" in link
        follower_context, follower, follower_replica = visitor_on(browser, room, avoid=owner_replica)
        follower.goto(link)
        wait_ready(follower, "Follow a run")
        follower.wait_for_function("() => document.querySelector('[data-testid=\"stImage\"] img')", timeout=60_000)
        before = grid_source(follower)
        follower.wait_for_function(
            "(src) => { const i = document.querySelector('[data-testid=\"stImage\"] img'); return i && i.src !== src; }",
            arg=before, timeout=60_000,
        )  # fmt: skip
        labels = {b.strip() for b in main(follower).get_by_role("button").all_inner_texts()}
        assert not labels & set(CONTROLS), labels
        shot(follower, "deploy-follower-other-replica")
        follower.goto(f"{room}/Follow?run=made-up-link-that-names-nothing")
        main(follower).get_by_text("finds no shared run").wait_for(timeout=60_000)
        follower_context.close()

        # A reload keeps the session's runs (the same replica, by the route cookie).
        owner.reload()
        wait_ready(owner, "Train")
        owner.locator(PROGRESS).first.wait_for(timeout=60_000)
        main(owner).get_by_role("button", name="Stop", exact=True).click()
        gif = main(owner).get_by_role("button", name="Download the training as a GIF")
        gif.wait_for(timeout=120_000)
        with owner.expect_download() as got:
            gif.click()
        path = tmp_path / "training.gif"
        got.value.save_as(path)
        assert path.read_bytes()[:6] in (b"GIF87a", b"GIF89a")
        main(other).get_by_role("button", name="Stop", exact=True).click()

        # The home page says where runs train: the cluster's two workers (one per CPU) on its two nodes.
        owner.goto(room)
        main(owner).get_by_text("On a Ray cluster · workers: 2 · nodes: 2").wait_for(timeout=60_000)

        # An upload through the proxy: a person's own data set, previewed.
        data = tmp_path / "shapes.zip"
        data.write_bytes(shapes_zip(per_class=60))
        failures = []
        other.on(
            "response",
            lambda r: (
                failures.append((r.status, r.request.method, r.url))
                if r.status >= 400 and "_stcore/health" not in r.url and "host-config" not in r.url
                else None
            ),
        )
        other.goto(f"{room}/Train?data=own")
        wait_ready(other, "Train")
        main(other).locator("input[type=file]").first.set_input_files(str(data))
        try:
            main(other).get_by_text("circle: 60 images").wait_for(timeout=60_000)
        finally:
            shot(other, "deploy-upload")
        assert not failures, failures  # every request went through the proxy to the visitor's replica and back
        assert_no_exception(other)
        time.sleep(0.5)
    finally:
        owner_context.close()
        other_context.close()


# ---- the cluster locked --------------------------------------------------------------------------------------------
def _sessions_processes(sessions: set[int]) -> set[int]:
    """Every process in one of these sessions (each part of the deployment is started in a session of its own), or
    descended from one."""
    parents, members = {}, set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        if int(fields[3]) in sessions:
            members.add(pid)
    grown = True
    while grown:
        more = {pid for pid, parent in parents.items() if parent in members} - members
        members |= more
        grown = bool(more)
    return members


def _listening() -> dict[int, ipaddress._BaseAddress]:
    """Socket inode -> local address of every TCP socket listening on this machine (/proc/net/tcp and tcp6)."""
    out = {}
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # LISTEN
                continue
            raw = bytes.fromhex(fields[1].split(":")[0])
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, width, 4))  # the kernel prints 32-bit words in host order
            address = ipaddress.ip_address(raw)
            out[int(fields[9])] = getattr(address, "ipv4_mapped", None) or address
    return out


def test_nothing_of_the_cluster_listens_beyond_loopback(room):
    sessions = {int(p.read_text()) for p in RUN["dir"].glob("*.pid")}
    listening = _listening()
    seen = {}
    for pid in _sessions_processes(sessions):
        try:
            links = [os.readlink(f) for f in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        for link in links:
            if link.startswith("socket:[") and int(link[8:-1]) in listening:
                seen.setdefault(pid, []).append(listening[int(link[8:-1])])
    names = {pid: Path(f"/proc/{pid}/comm").read_text().strip() for pid in seen if Path(f"/proc/{pid}/comm").exists()}
    assert {"gcs_server", "raylet", "nginx"} <= set(names.values()), names  # the check sees the cluster's servers
    outside = {names.get(pid, pid): [str(a) for a in addresses if not a.is_loopback] for pid, addresses in seen.items()}
    assert not any(outside.values()), outside


def test_a_driver_without_the_clusters_token_is_refused(room, tmp_path):
    """A stranger's program reaching the Ray port (as one on the venue's network would) is refused, with no token or a
    wrong one; with the deployment's token it connects (so the refusals are the token's doing)."""
    address = (RUN["dir"] / "ray-address").read_text().strip()
    script = (
        "import ray, sys\n"
        "try:\n    ray.init(address=sys.argv[1], log_to_driver=False); print('CONNECTED')\n"
        "except BaseException as e:\n    print('REFUSED', type(e).__name__)\n"
    )
    bare = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    bare |= {"HOME": str(tmp_path), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # no token in ~/.ray either
    tries = {
        "no token": bare,
        "a wrong token": {**bare, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0" * 64},
        "the token": {**bare, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(RUN["dir"] / "ray-token")},
    }
    running = {
        name: subprocess.Popen(
            [sys.executable, "-c", script, address], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for name, env in tries.items()
    }
    said = {name: process.communicate(timeout=240)[0] for name, process in running.items()}
    assert "REFUSED" in said["no token"] and "CONNECTED" not in said["no token"], said["no token"][-2000:]
    assert "REFUSED" in said["a wrong token"] and "CONNECTED" not in said["a wrong token"], said["a wrong token"][-2000:]
    assert "Authentication token is missing or incorrect" in said["no token"] + said["a wrong token"]
    assert "CONNECTED" in said["the token"], said["the token"][-2000:]
    assert oct((RUN["dir"] / "ray-token").stat().st_mode & 0o777) == "0o600"
