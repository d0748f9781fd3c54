"""The app in a real browser (headless Chromium through Playwright): pages, deep links, training, a slider.

Screenshots of each page go to test-artifacts/screenshots/ (docs/screenshots/ holds the ones in the README).
This test fails, rather than skips, when no Chromium is installed: CI installs Debian's `chromium`.
"""

import json
import os
import re
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import ROOT
from tests.servers import AppServer
from ui import frame, i18n

pytestmark = pytest.mark.browser

SHOTS = Path(os.environ.get("CVAE_SCREENSHOTS", ROOT / "test-artifacts" / "screenshots"))
SERVER_PIDS: dict[str, int] = {}  # URL -> process id
SIDEBAR_LINKS = '[data-testid="stSidebar"] a[data-testid="stPageLink-NavLink"]'
# address -> the heading the page opens on: the sidebar's pages (ui.frame.PAGES), home's heading being the app's name
PAGES = {p.address.lstrip("/"): ("CVAE Lab" if p.key == "home" else p.title) for p in frame.PAGES if p.listed}


LOCALES = {"en": "en-US", "zh_Hans": "zh-CN"}  # the language a browser with this locale gets


def translator(language: str):
    """The app's catalogue for a language, to find its pages and buttons by their text."""
    return i18n.catalogue(language).gettext


HOST_KEY = "a-host-key-of-this-test-only"


def start_server(*options: str, env: dict | None = None):
    """`streamlit run app.py` on a free port (tests/servers.py); yields its URL and stops it afterwards."""
    try:
        app = AppServer(*options, env=env)
    except RuntimeError as e:
        pytest.fail(str(e))
    SERVER_PIDS[app.url] = app.pid
    yield app.url
    app.close()


@pytest.fixture(scope="module")
def server():
    yield from start_server(env={"CVAE_HOST_KEY": HOST_KEY})  # the room's reload below; no other test enters it


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    context.close()


def main(pg):
    """The page body (the header has a 'Stop' button of its own while a script runs)."""
    return pg.get_by_test_id("stMainBlockContainer")


def wait_ready(pg, title: str):
    pg.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
    pg.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)


def press_stop(pg, label: str = "Stop"):
    """Stop a run, unless it has already finished: the defaults' 30 epochs can end within seconds (Stop is then disabled)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    stop = main(pg).get_by_role("button", name=label, exact=True)
    if stop.is_enabled():
        try:
            stop.click(timeout=5_000)
        except PlaywrightTimeout:  # it finished between the look and the click
            pass


def assert_no_exception(pg):
    assert pg.locator('[data-testid="stException"]').count() == 0, pg.locator('[data-testid="stException"]').first.inner_text()


def shot(pg, name: str):
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_every_page_by_deep_link_keeps_the_sidebar(server, page):
    for path, title in PAGES.items():
        page.goto(f"{server}/{path}")
        wait_ready(page, title)
        assert_no_exception(page)
        links = page.locator(SIDEBAR_LINKS)
        links.nth(len(PAGES) - 1).wait_for(timeout=30_000)
        assert links.count() == len(PAGES), f"sidebar navigation missing on /{path}"
        assert links.first.inner_text().strip().endswith("Home")
        page.reload()
        wait_ready(page, title)
        assert_no_exception(page)


def test_every_page_opens_from_the_sidebar(server, page):
    page.goto(server)
    wait_ready(page, "CVAE Lab")
    page.locator('[data-testid="stGraphVizChart"]').first.wait_for()
    shot(page, "home")
    for path, title in PAGES.items():
        if not path:
            continue
        page.locator(SIDEBAR_LINKS).filter(has_text=title).first.click()
        wait_ready(page, title)
        assert_no_exception(page)
        page.wait_for_url(
            lambda url, path=path: urlparse(url).path.endswith(f"/{path}"), timeout=10_000
        )  # (Train and Generate add their settings)


def test_training_progress_moves(server, page):
    page.goto(f"{server}/Train")
    wait_ready(page, "Train")
    main(page).get_by_role("button", name="Start", exact=True).click()
    progress = page.locator('[data-testid="stProgress"]')
    progress.first.wait_for(timeout=60_000)
    first = progress.first.inner_text()
    page.wait_for_function(
        "(t) => { const p = document.querySelector('[data-testid=\"stProgress\"]'); return p && p.innerText !== t; }",
        arg=first,
        timeout=60_000,
    )
    # The curves' summary sentence lives in an ARIA live region: one element that the reruns keep, its text changed
    # (within a minute: every 10 s at most, and at the run's end).
    region = page.locator('.live-summary[aria-live="polite"]').first
    region.wait_for(timeout=60_000)
    said = region.element_handle()
    first_said = said.inner_text()
    assert re.search(r"epoch \d", first_said), first_said
    page.wait_for_function("([el, text]) => el.isConnected && el.innerText !== text", arg=[said, first_said], timeout=60_000)
    page.wait_for_timeout(6000)  # let digits appear for the screenshot
    assert_no_exception(page)
    shot(page, "train")
    rss = _rss_mb(SERVER_PIDS[server])  # every page has been opened by now, and one model is training
    print(f"server memory, every page visited and one training run: {rss:.0f} MB")
    assert rss < 1700, f"server memory {rss:.0f} MB"  # server and training process, PSS: measured 1.4-1.55 GB
    press_stop(page)
    main(page).get_by_role("button", name="Resume", exact=True).wait_for(timeout=60_000)
    assert_no_exception(page)


CANVAS = "() => window.__cvaeExplorer && window.__cvaeExplorer.canvas.toDataURL()"  # Generate's digit, as drawn


def test_a_slider_changes_the_digit(server, page):
    page.goto(f"{server}/Generate")
    wait_ready(page, "Generate")
    page.locator("canvas.digit").first.wait_for(timeout=60_000)  # the explorer, in the page (no iframe)
    before = page.evaluate(CANVAS)
    slider = page.locator('input[aria-label="z1"]').first  # the first style dial
    slider.focus()
    for _ in range(10):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(f"(s) => ({CANVAS})() !== s", arg=before, timeout=30_000)
    assert_no_exception(page)
    shot(page, "generate")


def test_the_explorer_opens_at_a_link_reruns_nothing_while_a_dial_moves_and_once_after(server, page):
    page.goto(f"{server}/Generate?model=cvae2&label=7&z=1.5,-0.5&t=0.5")
    wait_ready(page, "Generate")
    page.locator("canvas.digit").first.wait_for(timeout=60_000)
    opened = page.evaluate("() => { const e = window.__cvaeExplorer; return [e.label, e.temperature, e.noise[0], e.noise[1]]; }")
    assert opened == [7, 0.5, 1.5, -0.5]  # the link's digit

    def runs() -> int:
        return int(page.evaluate("() => document.querySelector('.explorer-runs').dataset.runs"))

    before = runs()
    page.locator('input[aria-label="z3"]').first.focus()
    drawn = page.evaluate(CANVAS)
    for _ in range(15):  # one gesture: fifteen steps, each drawn in the page
        page.keyboard.press("ArrowRight")
    assert runs() == before and page.evaluate(CANVAS) != drawn  # the digit moved; the server ran nothing
    page.wait_for_function("(n) => Number(document.querySelector('.explorer-runs').dataset.runs) > n", arg=before, timeout=30_000)
    page.wait_for_timeout(1500)
    assert runs() == before + 1  # one report, once the dial stopped
    page.wait_for_function("() => location.search.includes('z=1.5%2C-0.5%2C1.5') || location.search.includes('z=1.5,-0.5,1.5')")
    assert_no_exception(page)


def test_the_pages_language_follows_the_visitors(server, page):
    """Screen readers and fonts read <html lang>: Chinese pages say so."""
    for code, lang in (("zh_Hans", "zh-Hans"), ("en", "en")):
        page.goto(f"{server}/Generate?lang={code}")
        page.wait_for_function("(lang) => document.documentElement.lang === lang", arg=lang, timeout=60_000)


def test_a_drawn_stroke_gets_predictions(server, page):
    page.goto(f"{server}/Draw")
    wait_ready(page, "Draw")
    canvas = page.locator("canvas").last
    canvas.wait_for(timeout=60_000)
    box = canvas.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.15
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 21):  # a vertical stroke: a "1"
        page.mouse.move(x0 + i * 0.5, y0 + i * box["height"] * 0.035)
    page.mouse.up()
    page.get_by_text("What the model sees", exact=True).wait_for(timeout=60_000)
    page.get_by_text("reads").first.wait_for(timeout=60_000)
    assert_no_exception(page)
    shot(page, "draw")


def test_a_box_in_the_latent_plot_shows_a_digit(server, page):
    page.goto(f"{server}/Latent_space")
    wait_ready(page, "Latent space")
    plot = page.locator('[data-testid="stPlotlyChart"]').first
    plot.wait_for(timeout=60_000)
    page.locator(".nsewdrag").first.wait_for(timeout=60_000)
    area = page.locator(".nsewdrag").first.bounding_box()  # plotly's drag surface over the axes
    page.mouse.move(area["x"] + area["width"] * 0.3, area["y"] + area["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(area["x"] + area["width"] * 0.5, area["y"] + area["height"] * 0.5, steps=8)
    page.mouse.move(area["x"] + area["width"] * 0.7, area["y"] + area["height"] * 0.7, steps=8)
    page.mouse.up()
    page.get_by_text("Test digit #").wait_for(timeout=60_000)
    assert_no_exception(page)
    shot(page, "latent_space")


def test_a_2d_models_plane_decodes_under_the_pointer_and_the_keys_and_a_click_opens_a_digit(server, page):
    page.goto(f"{server}/Latent_space")
    wait_ready(page, "Latent space")
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="cvae2-2d (pretrained)").click()
    scatter = page.locator("canvas.scatter").first
    scatter.wait_for(timeout=60_000)
    digit = "() => window.__cvaePlane.digit.toDataURL()"
    box = scatter.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    first = page.evaluate(digit)
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.3)
    assert page.evaluate(digit) != first  # decoded in the page as the pointer moves
    scatter.focus()
    moved = page.evaluate(digit)
    for _ in range(5):
        page.keyboard.press("ArrowLeft")
    assert page.evaluate(digit) != moved  # and from the keyboard
    x, y = page.evaluate("() => { const p = window.__cvaePlane; return p.toCanvas(p.points.x[0], p.points.y[0]); }")
    scale = box["width"] / 440
    page.mouse.click(box["x"] + x * scale, box["y"] + y * scale)
    page.get_by_text("Test digit #").wait_for(timeout=60_000)
    assert_no_exception(page)
    shot(page, "latent_space-2d")


def test_the_comparison_table_appears(server, page):
    page.goto(f"{server}/Compare")
    wait_ready(page, "Compare")
    main(page).locator("summary").filter(has_text="Measure again").click()  # sliders and button, folded under the recorded figures
    main(page).get_by_role("button", name="Measure all models").click()
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=300_000)
    wait_ready(page, "Compare")
    assert_no_exception(page)
    shot(page, "compare")


def _process_tree(pid: int) -> list[int]:
    """A process and its descendants (the training process, the resource tracker), from /proc (Linux)."""
    try:
        children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return [pid]
    return [pid, *(p for c in children for p in _process_tree(c))]


def _rss_mb(pid: int) -> float:
    """Memory of the server and its training process: the sum of their proportional set sizes (PSS),
    so that the torch libraries both processes map are counted once, not twice."""
    total = 0.0
    for p in _process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def test_five_sessions_train_at_once_and_see_only_their_own(server, browser):
    variants = {"vae": "VAE (unconditional baseline)", "cvae1": "CVAE-1", "cvae2": "CVAE-2", "cvae4": "CVAE-4", "m2": "M2"}
    contexts, pages = [], {}
    try:
        for variant, title in variants.items():
            context = browser.new_context(viewport={"width": 1300, "height": 900})
            contexts.append(context)
            pg = context.new_page()
            pg.goto(f"{server}/Train")
            wait_ready(pg, "Train")
            pg.locator('[data-testid="stSelectbox"]').first.click()
            pg.get_by_role("option").filter(has_text=title).first.click()
            wait_ready(pg, "Train")
            main(pg).get_by_role("button", name="Start", exact=True).click()
            pages[variant] = pg
        # Five runs share the slots in turns: a run waiting for its next turn says where it is and how far it got.
        waiting_after_a_turn = re.compile(r"waiting for a free slot: .* · epoch \d+\.\d of 30")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(
            waiting_after_a_turn.search(pg.locator('[data-testid="stProgress"]').first.inner_text(timeout=60_000)) for pg in pages.values()
        ):
            time.sleep(0.3)
        assert time.monotonic() < deadline, "no waiting run showed its place and its epoch"
        for pg in pages.values():
            progress = pg.locator('[data-testid="stProgress"]').first
            progress.wait_for(timeout=120_000)
            first = progress.inner_text()
            pg.wait_for_function(  # it moves (or had already finished: the defaults' 30 epochs can end within seconds)
                "(t) => { const p = document.querySelector('[data-testid=\"stProgress\"]'); return p && (p.innerText !== t || t.includes('done')); }",
                arg=first,
                timeout=120_000,
            )
        for variant, pg in pages.items():
            press_stop(pg)
            pg.get_by_text("Keep this model").wait_for(timeout=120_000)
            caption = pg.get_by_text("(this session)").first.inner_text()
            assert f"{variant}-run1" in caption, caption  # each session sees its own model, no other
            assert_no_exception(pg)
        pid = SERVER_PIDS[server]
        rss = _rss_mb(pid)
        print(f"server memory with five sessions training: {rss:.0f} MB")
        assert rss < 2300, f"server memory {rss:.0f} MB with five sessions"  # bounded: measured 1.9-2.05 GB (PSS, both processes)
    finally:
        for context in contexts:
            context.close()  # a failure here must not leave five runs training under the next test


def _home_count(browser, url: str, metric: str) -> int:
    """A count the home page's server details show ("Training now", "Training runs in memory"), read from a fresh tab
    (closed again)."""
    context = browser.new_context()
    pg = context.new_page()
    pg.goto(url)
    wait_ready(pg, "CVAE Lab")
    value = pg.get_by_test_id("stMetric").filter(has_text=metric).get_by_test_id("stMetricValue").inner_text()
    context.close()
    return int(value)


def test_a_reload_gets_back_its_own_runs_and_no_other_browsers(server, browser):
    """The reload register (ui.reload.keep_across_reload) keys on a hash of each browser's own secret cookie: a reload
    finds the run it started; another browser, reloading too, finds nothing of it, and its own run stays its own."""
    owner, stranger = (browser.new_context(viewport={"width": 1300, "height": 900}) for _ in range(2))
    try:
        mine = owner.new_page()
        mine.goto(f"{server}/Train?epochs=500")
        wait_ready(mine, "Train")
        main(mine).get_by_role("button", name="Start", exact=True).click()
        main(mine).get_by_text("training ·").first.wait_for(timeout=60_000)
        mine.reload()
        wait_ready(mine, "Train")
        progress = main(mine).locator('[data-testid="stProgress"]').first
        progress.wait_for(timeout=60_000)  # the same run, after a reload
        assert "of 500" in progress.inner_text()  # its settings: 500 epochs, from its link
        theirs = stranger.new_page()
        theirs.goto(f"{server}/Train")
        wait_ready(theirs, "Train")
        theirs.reload()
        wait_ready(theirs, "Train")
        main(theirs).get_by_text("Press Start to train").first.wait_for(timeout=30_000)
        assert main(theirs).locator('[data-testid="stProgress"]').count() == 0  # nothing of the owner's run
        press_stop(mine)
        assert_no_exception(mine)
        assert_no_exception(theirs)
    finally:
        owner.close()
        stranger.close()


def test_a_reloaded_projector_is_still_the_hosts_and_shows_its_room(server, browser):
    """The host enters the key and opens a room; the projector's tab reloads mid-talk (a new session): it is still the
    host's and shows the same room's code. Another browser on the same page is no host and sees no room."""
    projector, stranger = (browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2))
    try:
        pg = projector.new_page()
        pg.goto(f"{server}/")
        wait_ready(pg, "CVAE Lab")
        sidebar = pg.get_by_test_id("stSidebar")
        sidebar.get_by_text("For the host", exact=True).click()
        entry = sidebar.get_by_label("Host key", exact=True).and_(sidebar.locator("input"))
        entry.fill(HOST_KEY)
        entry.press("Enter")
        sidebar.get_by_role("link", name="Your room").click()
        wait_ready(pg, "Your room")
        main(pg).get_by_role("button", name="Open a room").click()
        code_block = main(pg).get_by_test_id("stCode").first
        code_block.wait_for(timeout=120_000)
        link = code_block.inner_text().strip()
        pg.reload()
        wait_ready(pg, "Your room")
        main(pg).get_by_test_id("stCode").first.wait_for(timeout=60_000)
        assert main(pg).get_by_test_id("stCode").first.inner_text().strip() == link  # the same room, after a reload
        assert main(pg).get_by_text("Only the host").count() == 0
        theirs = stranger.new_page()
        theirs.goto(f"{server}/Host_room")
        wait_ready(theirs, "Your room")
        main(theirs).get_by_text("Only the host opens a room").first.wait_for(timeout=30_000)
        assert main(theirs).get_by_test_id("stCode").count() == 0
        main(pg).get_by_role("button", name="Close the room").click()
        assert_no_exception(pg)
        assert_no_exception(theirs)
    finally:
        projector.close()
        stranger.close()


def test_closing_the_tab_stops_its_training(server, browser):
    """The run's state, as the server reports it: training while its tab is open, not within 12 s of the tab closing."""
    context = browser.new_context()
    pg = context.new_page()
    pg.goto(f"{server}/Train?epochs=500")
    wait_ready(pg, "Train")
    main(pg).get_by_role("button", name="Start", exact=True).click()
    pg.locator('[data-testid="stProgress"]').first.wait_for(timeout=60_000)
    main(pg).get_by_text("training ·").first.wait_for(timeout=60_000)
    assert _home_count(browser, server, "Training now") >= 1
    context.close()  # the tab goes away mid-training: its heartbeats stop
    deadline = time.monotonic() + 12  # the service pauses a run not heard from for 6 s; refreshes take a moment
    while _home_count(browser, server, "Training now") > 0:
        assert time.monotonic() < deadline, "the server still trains after the tab closed"
        time.sleep(0.5)


def test_a_live_retrain_goes_on_while_its_visitor_reads_another_page(server, browser):
    """Experiments' Retrain live is a job of the training service: started, left for the Train page, found again still
    going (or done), never paused by the visit elsewhere; its table fills as each network ends."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.goto(f"{server}/Experiments")
    wait_ready(pg, "Experiments")
    main(pg).locator('[data-testid="stExpander"] summary').filter(has_text="Retrain live").first.click()
    main(pg).get_by_role("button", name="Train the NN and both CVAEs").click()
    status = main(pg).locator('[data-testid="stProgress"]').filter(has_text="of the experiment")
    status.first.wait_for(timeout=60_000)
    assert_no_exception(pg)
    shot(pg, "experiments-live")
    pg.locator(SIDEBAR_LINKS).filter(has_text="Train").first.click()
    wait_ready(pg, "Train")
    pg.wait_for_timeout(8_000)  # longer than the service waits for a silent run (6 s): the sidebar's heartbeat keeps it
    assert _home_count(browser, server, "Training now") >= 1
    pg.locator(SIDEBAR_LINKS).filter(has_text="Experiments").first.click()
    wait_ready(pg, "Experiments")
    back = main(pg).locator('[data-testid="stProgress"]').first
    back.wait_for(timeout=30_000)  # the expander opens on the retrain the session has
    assert "paused" not in back.inner_text()
    assert "training" in back.inner_text() or "done" in back.inner_text(), back.inner_text()
    press_stop(pg)
    context.close()


SESSION_TTL = 2  # seconds a disconnected session is kept (Streamlit's default is 120)


def test_closed_tabs_release_their_training_runs(browser):
    """Three tabs in turn start training and are closed mid-run; once Streamlit drops their sessions the
    server holds none of their models. With the sessions kept (a long TTL) the count reads 1, 2, 3 instead."""
    for url in start_server(f"--server.disconnectedSessionTTL={SESSION_TTL}"):
        pid = SERVER_PIDS[url]
        for tab in range(3):
            context = browser.new_context()
            pg = context.new_page()
            pg.goto(f"{url}/Train")
            wait_ready(pg, "Train")
            main(pg).get_by_role("button", name="Start", exact=True).click()
            pg.locator('[data-testid="stProgress"]').first.wait_for(timeout=60_000)
            if tab == 0:
                assert _home_count(browser, url, "Training runs in memory") == 1  # the counter sees a live run
            context.close()
            time.sleep(SESSION_TTL + 1)
            # Streamlit drops expired sessions when another one disconnects (the counting tab does):
            # at most the last closed tab's run is still held.
            held = _home_count(browser, url, "Training runs in memory")
            assert held <= 1, f"{held} training runs still held after {tab + 1} closed tabs"
        time.sleep(SESSION_TTL + 1)
        _home_count(browser, url, "Training runs in memory")  # one more disconnect, so that the last session expires
        assert _home_count(browser, url, "Training runs in memory") == 0
        print(f"server memory after three closed training tabs: {_rss_mb(pid):.0f} MB")


def in_view(pg, locator, height: int) -> bool:
    box = locator.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def all_in_view(pg, locators, height: int, timeout: float = 15.0) -> bool:
    """Whether every locator lies within the first `height` pixels once the page has settled (a loaded machine lays
    a page out in steps: polled, not read once)."""
    deadline = time.monotonic() + timeout
    while not all(in_view(pg, x, height) for x in locators):
        if time.monotonic() > deadline:
            return False
        pg.wait_for_timeout(250)
    return True


@pytest.mark.parametrize("language", list(LOCALES))
def test_presenter_mode_fits_each_main_interaction_on_a_projector_screen(server, browser, language):
    t = translator(language)
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, locale=LOCALES[language])
    pg = context.new_page()
    for path, title in PAGES.items():
        pg.goto(f"{server}/{path}?presenter=1")
        wait_ready(pg, t(title))
        main(pg).locator("*").first.wait_for()
        assert_no_exception(pg)
        assert pg.locator(f'[data-testid="stSidebar"] label:has-text("{t("Presenter mode")}") input').first.is_checked()
    pg.goto(f"{server}/Generate?presenter=1")
    wait_ready(pg, t("Generate"))
    digit = main(pg).locator("canvas.digit").first
    digit.wait_for(timeout=60_000)
    last_dial = pg.locator('input[aria-label="z8"]').first
    assert all_in_view(pg, (digit, last_dial), 1080), "the digit and every dial on one screen"
    shot(pg, f"presenter-generate-{language}")
    pg.goto(f"{server}/Train?presenter=1")
    wait_ready(pg, t("Train"))
    main(pg).get_by_role("button", name=t("Start"), exact=True).click()
    grid = main(pg).locator('[data-testid="stImage"] img').first
    grid.wait_for(timeout=60_000)
    curves = main(pg).locator('svg[role="img"]').first  # the live curves (interactive plotly once stopped)
    curves.wait_for(timeout=60_000)
    start = main(pg).get_by_role("button", name=t("Start"), exact=True)
    assert all_in_view(pg, (start, grid, curves), 1080), "Start, the grid and the curves on one screen"
    shot(pg, f"presenter-train-{language}")
    press_stop(pg, t("Stop"))
    context.close()


@pytest.mark.parametrize("language", list(LOCALES))
def test_on_a_phone_every_page_opens_and_the_digit_stays_in_view_while_a_dial_moves(server, browser, language):
    t = translator(language)
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale=LOCALES[language])
    pg = context.new_page()
    for path, title in PAGES.items():
        pg.goto(f"{server}/{path}")
        wait_ready(pg, t(title))
        assert_no_exception(pg)
    pg.goto(f"{server}/Generate")
    wait_ready(pg, t("Generate"))
    digit = main(pg).locator("canvas.digit").first
    digit.wait_for(timeout=60_000)
    before = pg.evaluate(CANVAS)
    dial = pg.locator('input[aria-label="z8"]').first
    dial.scroll_into_view_if_needed()
    dial.focus()
    for _ in range(10):
        pg.keyboard.press("ArrowRight")
    pg.wait_for_function(f"(s) => ({CANVAS})() !== s", arg=before, timeout=30_000)
    assert in_view(pg, dial, 844) and in_view(pg, digit, 844), "the digit is on screen beside the dial that moves it"
    nine = main(pg).locator(".pill").filter(has_text="9").first  # the label pills wrap: none is cut
    box = nine.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    shot(pg, f"phone-generate-{language}")
    context.close()


# Latin-script words a Chinese page may show: names of models, data sets and tools, units and maths. A word
# outside it is English that was not marked for translation (the catalogue test sees only marked strings).
LATIN_ALLOWED = {
    "CVAE", "CVAEs", "VAE", "Lab", "CMMA", "NN", "IS", "ELBO", "KL", "MNIST", "CNN", "BN", "MLP", "mlp", "conv", "Adam", "PNG", "GIF",
    "CPU", "GPU", "JPEG", "CSV", "ONNX", "Pyro", "Sohn", "Kingma", "PCA", "t-SNE", "BN-CNN", "safetensors", "log", "nats", "English", "px", "MB",
    "ms", "MC", "IW", "GSNN", "NCLL", "NLL", "SS-VAE", "Burda", "Grosse", "Salakhutdinov", "Oliver",  # estimators' and examples' names, authors as published
    "examples", "cvae",  # Pyro's examples/cvae: a folder of its repository, named as it is
    "Language",  # the language switch names itself in both languages, for a visitor who cannot read the one shown
}  # fmt: skip
MODEL_NAME = re.compile(r"^(vae|cvae-?\d|m\d|mnist|fashion|kmnist|emnist|[a-z]\d+$)", re.IGNORECASE)  # model, variant, data-set ids; z1

# Text that is not the app's own words: maths, code, citations of papers (their titles and authors as published),
# icons (Material Symbols are ligatures: "arrow_forward").
NOT_WORDS = "code, pre, .katex, cite, script, style, [data-testid='stIconMaterial']"  # scripts and styles are not shown
VISIBLE_TEXT_JS = """(skip) => {
  const roots = [...document.querySelectorAll('[data-testid="stMainBlockContainer"], [data-testid="stSidebarContent"]')];
  const parts = [];
  for (const root of roots) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const parent = node.parentElement;
      if (parent.closest(skip)) continue;
      // Words drawn by CSS in place of Streamlit's own (ui.frame.streamlit_words_css): read what is drawn.
      if (getComputedStyle(parent).fontSize === '0px') parts.push(getComputedStyle(parent, '::after').content);
      else parts.push(node.textContent);
    }
  }
  for (const input of document.querySelectorAll('[data-testid="stMainBlockContainer"] input[placeholder]')) parts.push(input.placeholder);
  return parts.join(' ');
}"""


def latin_words(pg) -> set[str]:
    """Latin-script words on the page that are neither allowed names nor single-letter maths."""
    text = pg.evaluate(VISIBLE_TEXT_JS, NOT_WORDS)
    words = [w.strip("-'") for w in re.findall(r"[A-Za-z][A-Za-z0-9'+-]*", text)]
    return {w for w in words if len(w) > 1 and w not in LATIN_ALLOWED and not MODEL_NAME.match(w)}


def wait_settled(pg, quiet_ms: int = 1500):
    """Until the page's text has not changed for quiet_ms (a page paints its title before torch is imported)."""
    last, since = None, time.monotonic()
    while time.monotonic() - since < quiet_ms / 1000:
        text = pg.evaluate(VISIBLE_TEXT_JS, NOT_WORDS)
        if text != last:
            last, since = text, time.monotonic()
        pg.wait_for_timeout(250)


def test_every_page_in_chinese_shows_no_english_words(server, browser):
    t = translator("zh_Hans")
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    pg = context.new_page()
    english = {}
    for path, title in PAGES.items():
        pg.goto(f"{server}/{path}")
        wait_ready(pg, t(title))
        assert_no_exception(pg)
        wait_settled(pg)
        folded = main(pg).locator('[data-testid="stExpander"] details:not([open]) > summary:visible')
        for _opened in range(10):  # folded text is text too
            if folded.count() == 0:
                break
            folded.first.click()
        wait_settled(pg)
        shot(pg, f"zh-{path or 'home'}")
        words = latin_words(pg)
        if words:
            english[path or "home"] = sorted(words)
    # What appears after a click: training's progress, figures and grid; the comparison's tables and notes.
    pg.goto(f"{server}/Train")
    wait_ready(pg, t("Train"))
    main(pg).get_by_role("button", name=t("Start"), exact=True).click()
    # the run's first grid and curves (its first validation pass): under two test workers, the other may be training too
    main(pg).locator('[data-testid="stImage"] img').first.wait_for(timeout=180_000)
    main(pg).locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=180_000)
    if words := latin_words(pg):
        english["Train, training"] = sorted(words)
    press_stop(pg, t("Stop"))
    pg.goto(f"{server}/Compare")
    wait_ready(pg, t("Compare"))
    main(pg).locator("summary").filter(has_text=t("Measure again")).click()
    main(pg).get_by_role("button", name=t("Measure all models")).click()
    main(pg).locator('[data-testid="stDataFrame"]').first.wait_for(timeout=120_000)
    wait_settled(pg)
    shot(pg, "zh-Compare-measured")
    if words := latin_words(pg):
        english["Compare, measured"] = sorted(words)
    context.close()
    assert not english, f"English words on Chinese pages: {english}"


VIEWS = {  # the screen sizes the maths views are drawn for
    "desktop": {"viewport": {"width": 1400, "height": 1000}},
    "presenter": {"viewport": {"width": 1920, "height": 1080}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}


@pytest.mark.parametrize("language", list(LOCALES))
@pytest.mark.parametrize("view", list(VIEWS))
def test_the_maths_views_draw_with_their_captions_on_every_screen(server, browser, language, view):
    """The bound term by term, the KL bars, the bound against k and one step slowly: each drawn with its caption, in
    both languages, on a desktop, a projector (presenter mode) and a phone; screenshots of each."""
    t = translator(language)
    context = browser.new_context(**VIEWS[view], locale=LOCALES[language])
    pg = context.new_page()
    presenter = "?presenter=1" if view == "presenter" else ""
    pg.goto(f"{server}/Train{presenter}")
    wait_ready(pg, t("Train"))
    main(pg).get_by_role("button", name=t("Start"), exact=True).click()
    bound = pg.locator(".st-key-train-bound")
    bound.locator(".katex").first.wait_for(timeout=60_000)
    bound.locator("svg[role=img]").first.wait_for(timeout=60_000)
    caption = t(
        "Each bar is the KL one latent dimension carries, on {n} validation digits; together they make the KL. "
        "Blue dimensions are active: their code changes with the digit. Grey ones have collapsed to the prior and carry nothing."
    ).format(n=500)
    assert bound.get_by_text(caption[:20]).first.is_visible()
    bound.scroll_into_view_if_needed()
    shot(pg, f"train-bound-{view}-{language}")
    main(pg).get_by_role("button", name=t("Stop"), exact=True).click()
    pg.wait_for_function(  # stopped: the page has redrawn with Resume enabled, and no script is running
        f"() => [...document.querySelectorAll('button')].some(b => b.innerText.includes({json.dumps(t('Resume'))}) && !b.disabled)",
        timeout=60_000,
    )
    pg.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    main(pg).get_by_text(t("One training step, slowly")).first.click()  # a toggle: it stays on through reruns
    main(pg).get_by_role("button", name=t("Next stage")).wait_for(timeout=60_000)
    for shown in range(2, 10):
        main(pg).get_by_role("button", name=t("Next stage")).click()
        main(pg).get_by_text(t("stage {shown} of {total}").format(shown=shown, total=9)).wait_for(timeout=30_000)
    after = main(pg).get_by_text(t("9. The same digits after the step"))
    after.wait_for(timeout=30_000)
    after.scroll_into_view_if_needed()
    assert_no_exception(pg)
    shot(pg, f"train-step-{view}-{language}")
    pg.goto(f"{server}/Compare{presenter}")
    wait_ready(pg, t("Compare"))
    main(pg).get_by_text(t("How the importance-weighted bound tightens with k")).first.click()
    chart = main(pg).locator(".js-plotly-plot").first
    chart.wait_for(timeout=60_000)
    chart.scroll_into_view_if_needed()
    assert main(pg).get_by_text(t("proposals per digit k")).count() > 0 or chart.is_visible()
    assert_no_exception(pg)
    shot(pg, f"compare-bound-{view}-{language}")
    context.close()


def test_a_visitor_trains_on_their_own_zip_and_only_they_see_it(server, browser, tmp_path):
    """Upload three classes of shapes, train cvae2, read the classes on Generate; the downloaded model's samples are read
    as their class by a classifier of the uploaded images; a second visitor sees neither the data set nor the model."""
    import numpy as np
    import torch

    from cvae_core.data import load_dataset
    from cvae_core.storage import checkpoint
    from tests.shapes import SHAPES, fit_reader, shapes_zip

    data = tmp_path / "shapes.zip"
    data.write_bytes(shapes_zip(per_class=60))
    owner = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = owner.new_page()
    pg.goto(f"{server}/Train?variant=cvae2&data=own&epochs=100")  # 100 epochs of 144 images: seconds
    wait_ready(pg, "Train")
    main(pg).locator("input[type=file]").first.set_input_files(str(data))
    main(pg).get_by_text("circle: 60 images").wait_for(timeout=60_000)  # the preview, a row per class
    shot(pg, "own-data-preview")
    main(pg).get_by_role("button", name="Start", exact=True).click()
    download_button = main(pg).get_by_role("button", name="Download checkpoint")
    download_button.wait_for(timeout=120_000)  # the run is done
    assert main(pg).get_by_text("never saved on this server").count() == 1  # download only
    with pg.expect_download() as got:
        download_button.click()
    model_file = tmp_path / "own.safetensors"
    got.value.save_as(model_file)
    pg.locator(SIDEBAR_LINKS).filter(has_text="Generate").click()
    wait_ready(pg, "Generate")
    pills = main(pg).locator(".pill")
    pills.filter(has_text=SHAPES[-1]).wait_for(timeout=60_000)  # the explorer has drawn its label pills (a busy server: seconds)
    assert [text for i in range(pills.count()) if (text := pills.nth(i).inner_text().strip())] == list(
        SHAPES
    )  # (the help icon is a button too)
    assert_no_exception(pg)
    shot(pg, "own-data-generate")
    model = checkpoint.load(model_file).model
    reader = fit_reader(load_dataset(str(data), "train"))
    torch.manual_seed(0)
    for label in range(3):
        samples = model.generate(torch.full((200,), label), n=200).reshape(200, -1).numpy()
        assert int((reader(samples) == label).sum()) >= 180, SHAPES[label]  # 90 % of 200
    stranger = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    stranger.goto(f"{server}/Generate")
    wait_ready(stranger, "Generate")
    stranger.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    options = " ".join(stranger.get_by_role("option").all_inner_texts())
    assert "run1" not in options and "cvae2" in options  # the shipped models, not the owner's run
    stranger.goto(f"{server}/Train?data=own")
    wait_ready(stranger, "Train")
    assert main(stranger).get_by_text("circle").count() == 0  # no preview: the data set is the owner's alone
    assert np.isfinite(float(model.config.n_classes)) and model.config.n_classes == 3
    owner.close()


def test_a_data_set_drawn_on_the_canvas_trains_a_model_that_draws_its_classes(server, browser, tmp_path):
    """Two classes, five drawings each, on the Train page's canvas; the model trained on them for 20 s draws each class
    so that a classifier of such strokes reads >= 90 % of its samples right."""
    import numpy as np
    import torch

    from cvae_core.data import Dataset
    from cvae_core.storage import checkpoint
    from cvae_core.training.recipe import train_classifier

    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.goto(f"{server}/Train?variant=cvae2&data=own&stop=seconds&seconds=20")  # 20 s of training
    wait_ready(pg, "Train")
    main(pg).get_by_text("draw it here").click()
    names = main(pg).get_by_label("Class names, separated by commas", exact=True)
    names.fill("one, dash")
    names.press("Enter")
    rng = np.random.default_rng(0)
    for name, vertical in (("one", True), ("dash", False)):
        main(pg).locator(".st-key-train_draw_current label").filter(has_text=name).click()
        main(pg).get_by_role("button", name=f"Add this drawing to {name}").wait_for(timeout=30_000)
        for i in range(5):
            canvas = main(pg).locator("canvas").last  # the drawing layer
            canvas.wait_for(timeout=60_000)
            canvas.scroll_into_view_if_needed()
            pg.wait_for_timeout(1500)  # a new, empty canvas after each drawing kept: let it start
            box = canvas.bounding_box()
            cx, cy = box["x"] + box["width"] * rng.uniform(0.42, 0.58), box["y"] + box["height"] * rng.uniform(0.42, 0.58)
            x0, y0 = cx - (0 if vertical else 70), cy - (70 if vertical else 0)
            pg.mouse.move(x0 - 30, y0 - 20, steps=5)  # into the canvas first: a fresh canvas draws once the pointer has entered it
            pg.mouse.move(x0, y0, steps=5)
            pg.wait_for_timeout(200)
            pg.mouse.down()
            for t in range(1, 21):
                pg.mouse.move(x0 + (0 if vertical else 7 * t), y0 + (7 * t if vertical else 0))
            pg.mouse.up()
            pg.wait_for_timeout(1500)  # the canvas sends its picture to the server after the stroke
            main(pg).get_by_role("button", name=f"Add this drawing to {name}").click()
            try:
                main(pg).get_by_text(f"{name}: {i + 1} of at least 5").wait_for(timeout=30_000)
            except Exception:
                shot(pg, "own-data-drawn-failed")
                raise
    main(pg).get_by_text("Ready:").wait_for(timeout=30_000)
    shot(pg, "own-data-drawn")
    main(pg).get_by_role("button", name="Start", exact=True).click()
    download_button = main(pg).get_by_role("button", name="Download checkpoint")
    download_button.wait_for(timeout=60_000)  # trained within 60 s
    with pg.expect_download() as got:
        download_button.click()
    got.value.save_as(tmp_path / "drawn.safetensors")
    model = checkpoint.load(tmp_path / "drawn.safetensors").model
    assert model.config.n_classes == 2
    # a reader of such strokes: thick vertical and horizontal lines at random places, in MNIST's field
    images, labels = [], []
    for label, vertical in ((0, False), (1, True)):  # sorted names: dash, one
        for _ in range(200):
            image = np.zeros((28, 28), np.float32)
            at, width = rng.integers(10, 17), rng.integers(2, 5)
            if vertical:
                image[4:24, at : at + width] = 1.0
            else:
                image[at : at + width, 4:24] = 1.0
            images.append(image.reshape(-1))
            labels.append(label)
    strokes = Dataset("strokes", "train", torch.tensor(np.stack(images)), torch.tensor(labels), ("dash", "one"))
    reader = train_classifier(strokes, epochs=5, seed=0)
    torch.manual_seed(0)
    for label in range(2):
        samples = model.generate(torch.full((200,), label), n=200).reshape(200, -1)
        assert int((reader.predict(samples) == label).sum()) >= 180  # 90 % of 200
    context.close()


def test_a_clicker_steps_through_every_scene_of_the_shipped_deck(server, browser):
    """PageDown, as a presenter's remote sends it, goes from each scene of ui/decks/intro.toml to the next in presenter mode
    at 1920x1080: each opens on its page with its caption large and no exception or refused setting; PageDown on the last
    scene stays there, PageUp goes back one."""
    from ui import deck

    intro = deck.load("intro", frame.link_keys())
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    pg = context.new_page()
    pg.goto(f"{server}/?presenter=1&deck=intro&scene=1")

    def at_scene(n: int) -> None:
        scene = intro.scene(n)
        where = urlparse(pg.url)
        assert where.path.rstrip("/").endswith(frame.page(scene.page).address.rstrip("/"))
        query = dict(part.split("=", 1) for part in where.query.split("&"))
        assert (query["deck"], query["scene"], query["presenter"]) == ("intro", str(n), "1")
        wait_ready(pg, PAGES[frame.page(scene.page).address.lstrip("/")])
        caption = pg.locator(".deck-caption")
        caption.wait_for(timeout=60_000)
        assert caption.inner_text().strip() == scene.caption_in("en")
        wait_settled(pg)
        assert_no_exception(pg)
        assert "is not valid here" not in main(pg).inner_text()  # every setting of the scene was taken

    for n in range(1, len(intro.scenes) + 1):
        pg.wait_for_url(lambda url, n=n: f"scene={n}" in url, timeout=60_000)
        at_scene(n)
        if "step" in intro.scene(n).settings:
            shot(pg, f"deck_intro_scene{n}_presenter")
        pg.keyboard.press("PageDown")
    pg.wait_for_timeout(1500)
    at_scene(len(intro.scenes))  # the last scene has no next one
    pg.keyboard.press("PageUp")
    pg.wait_for_url(lambda url: f"scene={len(intro.scenes) - 1}" in url, timeout=60_000)
    at_scene(len(intro.scenes) - 1)
    context.close()
