"""Screenshots of a room, as the people in it see it (issue 39): the projector (1920 x 1080, presenter mode) and phones
(390 x 844, touch), in English and in Chinese, at each stage of a workshop, to be looked at by a person.

    nice -n 5 .venv/bin/python bench/room_screens.py --out /tmp/room-screens     # about 3 minutes on 2 cores

docs/room-screens.md says what the last look found. Loopback only: the server listens on 127.0.0.1, and the browser
opens only its pages.

The server is the one `make run` starts (tests/servers.AppServer: ui/serve.py, the app and the phones' routes) on a
loopback port, with CVAE_HOST_KEY set to a key made for this run. For each language (en, zh_Hans), in headless Chromium:
the projector opens /?presenter=1&lang=…, enters the host key in the sidebar's "For the host" as a presenter does, and
opens a room on "Your room"; three phones (locale en-US or zh-CN, as their browsers would say) join, two by the room's
link and one by typing its short code at /room. The stages, each saved as STAGE-LANGUAGE-DEVICE.png in --out:
1. joining: the projector's count of phones; the code page (phone-code) and a joined phone's drawing page (phone);
2. drawing: each phone draws the digit it is asked for with touch strokes, 17 each (5 of every digit: a class is
   trained on from 5 drawings) (phone: the ink before Send; phone-sent: after), the projector counting those that wait;
3. review: the projector's review view with the pending thumbnails (projector), then Accept all and the projector's
   view of the room's handwriting (projector-accepted);
4. training: "Train on the room's drawings" with the offline digits: the projector on the run's page (the Train page
   the press opens) once its grid shows, and a phone following the room's run;
5. sweep: a sweep of three β values; the projector's plot once every run has a point, and a phone's "your β is …"
   with its own plot of the sweep.
Each screenshot is of the screen as it is (not the whole page), at the page's top: while the room sweeps, the
projector's view opens on the sweep's plot. The script gathers them and prints what it can tell without eyes (a traceback on a page, an
error on a phone, a stage that did not come); a person judges the rest. A stage that fails leaves failed-*.png.
Everything waits at most --limit seconds in all (default 1200).
"""

import argparse
import re
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import AppServer, chromium  # noqa: E402
from ui import i18n  # noqa: E402

LOCALES = {"en": "en-US", "zh_Hans": "zh-CN"}
PROJECTOR = {"viewport": {"width": 1920, "height": 1080}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DRAWINGS = 51  # 17 a phone: 5 of each digit at least (a class is trained on from 5 drawings)
SWEEP = ("0.25", "1.0", "8.0")  # three of the page's first β values, far apart: the plot's frontier shows with three points
# A finger's strokes for each digit, in the canvas's unit square (x right, y down): one list of points per stroke.
STROKES = {
    0: [[(0.5, 0.15), (0.3, 0.25), (0.25, 0.5), (0.3, 0.75), (0.5, 0.85), (0.7, 0.75), (0.75, 0.5), (0.7, 0.25), (0.5, 0.15)]],
    1: [[(0.4, 0.25), (0.55, 0.15), (0.55, 0.85)]],
    2: [[(0.3, 0.3), (0.45, 0.17), (0.65, 0.2), (0.7, 0.35), (0.6, 0.52), (0.3, 0.83), (0.75, 0.83)]],
    3: [[(0.3, 0.2), (0.6, 0.17), (0.68, 0.32), (0.45, 0.48), (0.7, 0.62), (0.62, 0.82), (0.3, 0.82)]],
    4: [[(0.6, 0.85), (0.6, 0.15), (0.25, 0.62), (0.78, 0.62)]],
    5: [[(0.7, 0.17), (0.35, 0.17), (0.32, 0.47), (0.6, 0.45), (0.7, 0.65), (0.58, 0.83), (0.3, 0.8)]],
    6: [[(0.65, 0.15), (0.4, 0.35), (0.3, 0.65), (0.45, 0.85), (0.65, 0.75), (0.62, 0.55), (0.35, 0.6)]],
    7: [[(0.28, 0.18), (0.72, 0.18), (0.45, 0.85)]],
    8: [[(0.5, 0.5), (0.32, 0.33), (0.5, 0.15), (0.68, 0.33), (0.5, 0.5), (0.3, 0.68), (0.5, 0.86), (0.7, 0.68), (0.5, 0.5)]],
    9: [[(0.68, 0.35), (0.5, 0.18), (0.32, 0.33), (0.5, 0.5), (0.68, 0.38), (0.65, 0.85)]],
}


class Screens:
    """The server, the browser, the deadline, and what was saved and noticed."""

    def __init__(self, browser, url: str, key: str, out: Path, limit: float):
        self.browser, self.url, self.key, self.out = browser, url, key, out
        self.deadline = time.monotonic() + limit
        self.saved: list[str] = []
        self.noticed: list[str] = []

    def ms(self, seconds: float) -> float:
        """A wait's timeout in milliseconds: `seconds`, or what is left of the deadline."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the run's --limit is spent")
        return 1000 * min(seconds, left)

    def shot(self, pg, stage: str, lang: str, device: str) -> None:
        pg.wait_for_timeout(600)  # the last redraw settles
        path = self.out / f"{stage}-{lang}-{device}.png"
        pg.screenshot(path=str(path), full_page=False)
        self.saved.append(path.name)
        if pg.locator('[data-testid="stException"]').count():
            self.noticed.append(f"{path.name}: a traceback on the page")
        message = pg.locator("#message.error")
        if message.count() and message.inner_text().strip():
            self.noticed.append(f"{path.name}: the phone says {message.inner_text().strip()!r}")
        print("saved", path.name, flush=True)


def settle(pg, screens: Screens, seconds: float = 60) -> None:
    """Wait until the app has no script running (its status widget gone), as far as its 2-second fragments allow."""
    try:
        pg.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=screens.ms(seconds))
    except Exception:  # noqa: BLE001 -- a fragment that runs every 2 s may keep it up; the page is drawn anyway
        pass


def main_area(pg):
    return pg.get_by_test_id("stMainBlockContainer")


def metric(pg, label: str) -> str:
    box = main_area(pg).get_by_test_id("stMetric").filter(has_text=label).first
    return box.get_by_test_id("stMetricValue").inner_text().strip()


def wait_metric(pg, screens: Screens, label: str, wanted, seconds: float = 60) -> None:
    end = time.monotonic() + screens.ms(seconds) / 1000
    while time.monotonic() < end:
        try:
            if wanted(int(metric(pg, label))):
                return
        except Exception:  # noqa: BLE001 -- a fragment redrawing
            pass
        pg.wait_for_timeout(500)
    raise TimeoutError(f"the metric {label!r} never came to the value wanted")


def draw(pg, digit: int) -> None:
    """A finger draws `digit` on the phone's canvas (touch events through the DevTools protocol: pointerType touch)."""
    box = pg.locator("#canvas").bounding_box()
    cdp = pg.context.new_cdp_session(pg)
    for stroke in STROKES[digit]:
        points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
        for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
            for step in range(1, 7):
                x, y = x0 + (x1 - x0) * step / 6, y0 + (y1 - y0) * step / 6
                cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def view(pg, label: str) -> None:
    """The room page's view: the projector's, or the review."""
    main_area(pg).get_by_test_id("stButtonGroup").get_by_text(label, exact=True).click()


def scroll_to(element) -> None:
    """Scroll an element of the app into view; a fragment's redraw (every 2 s) may replace it meanwhile: try again."""
    for attempt in range(3):
        try:
            element.scroll_into_view_if_needed(timeout=10_000)
            return
        except Exception:  # noqa: BLE001 -- detached by a redraw
            if attempt == 2:
                raise


def press(button, screens: Screens) -> None:
    """Click a button of the app; when a fragment's redraw keeps it from settling for 20 s, click it where it is."""
    try:
        button.click(timeout=screens.ms(20))
    except Exception:  # noqa: BLE001 -- Playwright's actionability wait: the button is there, drawn again every 2 s
        button.click(timeout=screens.ms(20), force=True)


def asked_digit(pg, t) -> int:
    """The digit the phone is asked for, read from its sentence."""
    text = pg.locator("#ask").inner_text()
    return int(re.search(r"\d", text).group(0))


def host_opens_room(pg, screens: Screens, t, lang: str) -> tuple[str, str]:
    """The projector: presenter mode, the host key in the sidebar, Your room, Open a room. Returns (link, code)."""
    pg.goto(f"{screens.url}/?presenter=1&lang={lang}")
    pg.get_by_role("heading", name="CVAE Lab").first.wait_for(timeout=screens.ms(120))
    settle(pg, screens)
    sidebar = pg.get_by_test_id("stSidebar")
    sidebar.get_by_text(t("For the host"), exact=True).click()
    entry = sidebar.get_by_label(t("Host key"), exact=True).and_(sidebar.locator("input"))
    entry.fill(screens.key)
    entry.press("Enter")
    room_link = sidebar.get_by_role("link", name=t("Your room"))
    room_link.wait_for(timeout=screens.ms(60))
    room_link.click()
    pg.get_by_role("heading", name=t("Your room")).first.wait_for(timeout=screens.ms(60))
    main_area(pg).get_by_role("button", name=t("Open a room")).click()
    code_block = main_area(pg).get_by_test_id("stCode").first
    code_block.wait_for(timeout=screens.ms(120))
    link = code_block.inner_text().strip()
    code = main_area(pg).get_by_test_id("stMarkdownContainer").filter(has_text="/room").locator("strong").last.inner_text()
    settle(pg, screens)
    return link, code.strip()


def one_language(screens: Screens, lang: str) -> None:
    t = i18n.catalogue(lang).gettext
    projector_context = screens.browser.new_context(**PROJECTOR, locale=LOCALES[lang])
    phone_contexts = [screens.browser.new_context(**PHONE, locale=LOCALES[lang]) for _ in range(3)]
    try:
        projector = projector_context.new_page()
        link, code = host_opens_room(projector, screens, t, lang)
        print(lang, "room", code, link, flush=True)

        # 1. joining: two phones by the link, one by the code typed at /room
        phones = [context.new_page() for context in phone_contexts]
        phones[2].goto(f"{screens.url}/room")
        phones[2].locator("#code").wait_for(timeout=screens.ms(30))
        phones[2].locator("#code").fill(code)
        screens.shot(phones[2], "joining", lang, "phone-code")
        phones[2].locator("#join_button").click()
        for pg in phones[:2]:
            pg.goto(link)
        for pg in phones:
            pg.locator("#ask").filter(has_text=re.compile(r"\d")).wait_for(timeout=screens.ms(60))
        wait_metric(projector, screens, t("Phones joined"), lambda n: n == 3)
        screens.shot(projector, "joining", lang, "projector")
        screens.shot(phones[0], "joining", lang, "phone")

        # 2. drawing: each phone draws what it is asked, in rounds (one drawing every 2 s a phone: the room's bound),
        # until every digit has the 5 drawings a class needs to be trained on (the room deals the ten in turns)
        sent_at = [0.0] * len(phones)
        for drawn in range(DRAWINGS):
            i = drawn % len(phones)
            pg = phones[i]
            pg.wait_for_timeout(max(0, 1000 * (sent_at[i] + 2.1 - time.monotonic())))
            draw(pg, asked_digit(pg, t))
            if drawn == 0:
                screens.shot(pg, "drawing", lang, "phone")
            pg.locator("#send").click()
            sent_at[i] = time.monotonic()
            pg.locator("#sent").filter(has_text=re.compile(rf"\b{drawn // len(phones) + 1}\b")).wait_for(timeout=screens.ms(30))
            if drawn == 0:
                screens.shot(pg, "drawing", lang, "phone-sent")
        wait_metric(projector, screens, t("Waiting for review"), lambda n: n == DRAWINGS)
        screens.shot(projector, "drawing", lang, "projector")

        # 3. review: the pending thumbnails, then Accept all
        view(projector, t("Review (not for the projector)"))
        accept_all = main_area(projector).get_by_role("button", name=t("Accept all shown"))
        accept_all.wait_for(timeout=screens.ms(60))
        main_area(projector).get_by_test_id("stImage").nth(DRAWINGS - 1).wait_for(timeout=screens.ms(30))  # each drawing
        settle(projector, screens, 10)
        screens.shot(projector, "review", lang, "projector")
        press(accept_all, screens)
        wait_metric(projector, screens, t("Drawings accepted"), lambda n: n == DRAWINGS)
        view(projector, t("For the projector"))
        settle(projector, screens, 10)
        screens.shot(projector, "review", lang, "projector-accepted")

        # 4. training: the room's drawings with the offline digits; the projector goes to the run's page, the phones
        # follow the run
        train = main_area(projector).get_by_role("button", name=t("Train on the room's drawings"))
        press(train, screens)
        try:
            projector.get_by_role("heading", name=t("Train"), exact=True).first.wait_for(timeout=screens.ms(120))
        except Exception:  # noqa: BLE001 -- the press stayed on the room page: what it said is below the button
            screens.noticed.append(f"training-{lang}: the Train press did not open the run's page")
            screens.shot(projector, "training", lang, "projector-pressed")
            raise
        main_area(projector).get_by_test_id("stImage").first.wait_for(timeout=screens.ms(120))  # the sample grid
        phones[0].locator("#grid:not([hidden])").wait_for(timeout=screens.ms(240))
        settle(projector, screens, 10)
        screens.shot(projector, "training", lang, "projector")
        screens.shot(phones[0], "training", lang, "phone")
        projector.get_by_test_id("stSidebar").get_by_role("link", name=t("Your room")).click()
        projector.get_by_role("heading", name=t("Your room")).first.wait_for(timeout=screens.ms(60))
        settle(projector, screens, 10)

        # 5. the sweep: three β values; the plot once each run has a point; a phone's own run
        values = main_area(projector).get_by_test_id("stMultiSelect").first
        scroll_to(values)
        for shown in [tag.get_attribute("aria-label") for tag in values.locator("[data-tag]:visible").all()]:
            if shown not in SWEEP:  # each tag's own remove button (Streamlit names it "Remove VALUE")
                values.get_by_role("button", name=f"Remove {shown}", exact=True).click()
                projector.wait_for_timeout(500)
        chosen = [tag.get_attribute("aria-label") for tag in values.locator("[data-tag]:visible").all()]
        if chosen != list(SWEEP):
            screens.noticed.append(f"sweep-{lang}: the values chosen are {chosen}, not {list(SWEEP)}")
        press(main_area(projector).get_by_role("button", name=t("Start the sweep")), screens)
        plot = main_area(projector).locator(".js-plotly-plot").first
        plot.wait_for(timeout=screens.ms(300))
        end = time.monotonic() + screens.ms(420) / 1000
        while time.monotonic() < end:  # a point for every run: the table beside the plot has a rate in each row
            rows = main_area(projector).get_by_test_id("stDataFrame").first
            traces = projector.evaluate(
                "() => { const p = document.querySelector('.js-plotly-plot'); return p && p.data ? p.data.length : 0; }"
            )
            if traces >= 2 * len(SWEEP) and rows.count():
                break
            projector.wait_for_timeout(2000)
        else:
            screens.noticed.append(f"sweep-{lang}: not every run had a point on the plot within the time")
        scroll_to(main_area(projector).get_by_role("heading", name=t("Your room")).first)  # the sweep opens the projector's view
        screens.shot(projector, "sweep", lang, "projector")
        phones[0].locator("#yours:not([hidden])").wait_for(timeout=screens.ms(60))
        phones[0].locator("#sweep polyline").first.wait_for(timeout=screens.ms(120))  # the phone's own plot of the sweep
        screens.shot(phones[0], "sweep", lang, "phone")

        close = main_area(projector).get_by_role("button", name=t("Close the room"))
        press(close, screens)
        settle(projector, screens, 20)
    except Exception:
        for i, context in enumerate([projector_context, *phone_contexts]):  # where it stopped, for the person to see
            for pg in context.pages:
                pg.screenshot(path=str(screens.out / f"failed-{lang}-{'projector' if i == 0 else f'phone{i}'}.png"))
        raise
    finally:
        for context in [projector_context, *phone_contexts]:
            context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="/tmp/room-screens", help="the folder for the PNGs")
    parser.add_argument("--languages", default="en,zh_Hans", help="comma-separated: en, zh_Hans")
    parser.add_argument("--limit", type=float, default=1200.0, help="seconds the whole run may take")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    key = secrets.token_urlsafe(16)
    server = AppServer("--server.address=127.0.0.1", env={"CVAE_HOST_KEY": key}, keep_output=False, wait=120)
    try:
        with sync_playwright() as playwright:
            browser = chromium(playwright)
            screens = Screens(browser, server.url, key, out, args.limit)
            try:
                for lang in args.languages.split(","):
                    one_language(screens, lang)
            finally:
                browser.close()
    finally:
        server.close()
    print(f"{len(screens.saved)} screenshots in {out}")
    for line in screens.noticed:
        print("noticed:", line)


if __name__ == "__main__":
    main()
