"""The workshop deployment, in headless Chromium: deploy/local-cluster.sh starts nginx in front of two Streamlit replicas
that train on a two-node Ray cluster, all on this machine, and stops exactly what it started.

Two visitors who land on different replicas train at once and each sees only their own run; an upload and a GIF download
work through the proxy; a reload keeps the session's runs; a follower on the other replica sees the owner's grid change
and finds no control that changes it; a made-up link finds nothing."""

import os
import shutil
import subprocess
import time

import pytest

from .servers import free_port
from .test_browser import ROOT, assert_no_exception, main, shot, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PROGRESS = '[data-testid="stProgress"]'
CONTROLS = ("Start", "Stop", "Resume", "Share this run", "Stop sharing", "Save on this server", "Download checkpoint")


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    if not shutil.which("nginx"):
        pytest.fail("nginx is not installed (apt-get install nginx); the deployment test cannot run")
    run_dir = tmp_path_factory.mktemp("cluster")
    env = {**os.environ, "CVAE_CLUSTER_RUN": str(run_dir / "run"), "CVAE_NODE_CPUS": "1"}
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
    from .shapes import shapes_zip

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
