"""Accessibility measured by axe-core (injected into headless Chromium), WCAG 2.0/2.1 A and AA: no serious or critical
violation on any page, in English and Chinese, on a desktop and a phone, in the light theme and the dark one (the
browser's preference picks it, as a visitor's system setting would), and on Train with a run, training and stopped.

A violation inside Streamlit's own widgets that the app cannot fix goes into ALLOWED, naming the rule, what the node
holds, the Streamlit version and why; the test fails when an entry no longer reproduces anywhere, so the list only
shrinks. Not covered here (each a separate check): keyboard-only flows (tests/browser/test_keyboard.py: Home to a trained
run, a generated digit, a read digit and a latent point; tests/browser/test_browser.py: the explorer's dials), the
palettes' contrast and colour-blind vision (tests/app/test_palette.py)."""

import time
from pathlib import Path

import pytest
import streamlit

from tests.browser.test_browser import PAGES, main, press_stop, server, wait_ready  # noqa: F401 -- the module's server fixture

pytestmark = pytest.mark.browser
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Empty: the one entry, Train's disabled "Labelled digits (m2)" slider (its greyed label under 4.5:1, reproducing now in
# one language, now in another), went with the slider: Train shows it only for a variant that uses it (2026-12-07). An entry: {"rule", "holds": (texts of the node), "streamlit": version, "why": with upstream}.
ALLOWED: list[dict] = []


def axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


def serious(page, settle_ms: int = 2000) -> list[dict]:
    """The serious and critical violations that axe finds twice, `settle_ms` apart: a transition caught halfway (a tab's
    colour easing in, an element fading after a rerun) is not the page a visitor reads, and reported once it made the
    test fail now and then (2026-12-08, under load). A violation that stays is reported."""
    page.add_script_tag(content=axe_source())

    def look() -> list[dict]:
        result = page.evaluate("async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
        return [
            {"rule": v["id"], "html": node["html"][:160], "target": node["target"]}
            for v in result["violations"] if v["impact"] in ("serious", "critical") for node in v["nodes"]
        ]  # fmt: skip

    first = look()
    if not first:
        return []
    page.wait_for_timeout(settle_ms)
    again = {(f["rule"], f["html"]) for f in look()}
    return [f for f in first if (f["rule"], f["html"]) in again]


def allowed(found: dict) -> dict | None:
    return next((a for a in ALLOWED if a["rule"] == found["rule"] and any(h in found["html"] for h in a["holds"])), None)


@pytest.mark.parametrize(
    "setting",
    [
        ("en", {"viewport": {"width": 1400, "height": 1000}}),
        ("zh_Hans", {"viewport": {"width": 1400, "height": 1000}}),
        ("en", {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}),
        ("zh_Hans", {"viewport": {"width": 1400, "height": 1000}, "color_scheme": "dark"}),
        ("en", {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "color_scheme": "dark"}),
    ],
    ids=["desktop-en", "desktop-zh", "phone-en", "desktop-zh-dark", "phone-en-dark"],
)
def test_no_serious_accessibility_violation_on_any_page(server, browser, setting):  # noqa: F811
    language, context_args = setting
    context = browser.new_context(**context_args)
    page = context.new_page()
    problems, seen = [], set()
    for path in PAGES:
        page.goto(f"{server}/{path}?lang={language}")
        page.wait_for_selector('[data-testid="stMain"]', timeout=120_000)
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
        time.sleep(1.5)  # the last elements of the run painted
        # and none of them stale: Streamlit fades an element while a rerun may replace it, and axe would read the faded
        # text's contrast (a caption failed 4.5:1 that way under load, 2026-12-08)
        page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=120_000)
        if context_args.get("color_scheme") == "dark":  # the browser's preference did choose the dark theme
            background = page.evaluate("() => getComputedStyle(document.querySelector('.stApp')).backgroundColor")
            assert background == "rgb(23, 22, 20)", background  # ui/palette.py's BACKGROUNDS["dark"], #171614
        for found in serious(page):
            entry = allowed(found)
            if entry is None:
                problems.append((path, found))
            else:
                seen.add(entry["why"])
    context.close()
    assert not problems, problems
    if language == "en" and context_args["viewport"]["width"] > 1000:
        unused = [a for a in ALLOWED if a["why"] not in seen]
        assert not unused, f"no longer reproduces (remove it from ALLOWED): {unused}"
        assert all(a["streamlit"] == streamlit.__version__ for a in ALLOWED), "re-check ALLOWED on this Streamlit"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violation_on_train_with_a_run(server, browser, scheme):  # noqa: F811
    """Train as it is while a run trains (its progress, curves, digits and live summary drawn), and once it is stopped
    (Resume, Keep this model): the states the empty page does not show."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme=scheme)
    page = context.new_page()
    problems = []
    for language in ("en", "zh_Hans"):
        page.goto(f"{server}/Train?lang={language}&epochs=2")
        page.wait_for_selector('[data-testid="stMain"]', timeout=120_000)
        wait_ready(page, "Train" if language == "en" else "训练")
        main(page).get_by_role("button", name="Start" if language == "en" else "开始", exact=True).click()
        page.locator('.live-summary[aria-live="polite"]').first.wait_for(timeout=120_000)  # the run's curves are drawn
        page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=120_000)
        problems += [("training", language, found) for found in serious(page) if allowed(found) is None]
        press_stop(page, "Stop" if language == "en" else "停止")
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)
        time.sleep(1.5)
        page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=120_000)
        problems += [("stopped", language, found) for found in serious(page) if allowed(found) is None]
    context.close()
    assert not problems, problems
