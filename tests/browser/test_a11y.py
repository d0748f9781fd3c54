"""Accessibility measured by axe-core (injected into headless Chromium), WCAG 2.0/2.1 A and AA: no serious or critical
violation on any page, in English and Chinese, on a desktop and a phone.

A violation inside Streamlit's own widgets that the app cannot fix goes into ALLOWED, naming the rule, what the node
holds, the Streamlit version and why; the test fails when an entry no longer reproduces anywhere, so the list only
shrinks. Not covered here (each a separate check): the dark theme (the app's theme is light only), keyboard-only flows
(tests/browser/test_browser.py: the explorer's dials and pills, the latent plane's keys), the palettes under colour-blindness."""

import time
from pathlib import Path

import pytest
import streamlit

from tests.browser.test_browser import PAGES, server  # noqa: F401 -- the module's server fixture

pytestmark = pytest.mark.browser
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ALLOWED = [
    {
        "rule": "color-contrast",
        "holds": ("Labelled digits (m2)", "有标签的数字（m2）"),
        "streamlit": "1.67.0",
        "why": "Train's labelled-digits slider is disabled unless the variant is m2; Streamlit greys a disabled widget's "
        "label, and WCAG 1.4.3 sets no contrast for an inactive component. Upstream: none found.",
    },
]


def axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text()


def serious(page) -> list[dict]:
    page.add_script_tag(content=axe_source())
    result = page.evaluate("async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
    return [
        {"rule": v["id"], "html": node["html"][:160], "target": node["target"]}
        for v in result["violations"] if v["impact"] in ("serious", "critical") for node in v["nodes"]
    ]  # fmt: skip


def allowed(found: dict) -> dict | None:
    return next((a for a in ALLOWED if a["rule"] == found["rule"] and any(h in found["html"] for h in a["holds"])), None)


@pytest.mark.parametrize(
    "setting",
    [
        ("en", {"viewport": {"width": 1400, "height": 1000}}),
        ("zh_Hans", {"viewport": {"width": 1400, "height": 1000}}),
        ("en", {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}),
    ],
    ids=["desktop-en", "desktop-zh", "phone-en"],
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
        for found in serious(page):
            entry = allowed(found)
            if entry is None:
                problems.append((path, found))
            else:
                seen.add(entry["why"])
    context.close()
    assert not problems, problems
    if language == "en" and "width" in context_args["viewport"] and context_args["viewport"]["width"] > 1000:
        unused = [a for a in ALLOWED if a["why"] not in seen]
        assert not unused, f"no longer reproduces (remove it from ALLOWED): {unused}"
        assert all(a["streamlit"] == streamlit.__version__ for a in ALLOWED), "re-check ALLOWED on this Streamlit"
