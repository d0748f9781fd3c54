"""The app from the keyboard alone (WCAG 2.1.1, 2.4.7): from Home to a trained run, a generated digit, a digit read on
Draw and one opened on Latent space, with Tab, Shift+Tab, Enter, Space, Home and the arrow keys; no pointer event
happens, and each control acted on shows where the focus is.

The page is opened once by its address (Home); every other page is reached by following a link from the keyboard."""

import re

import numpy as np
import pytest

from tests.browser.test_browser import assert_no_exception, main, server, shot, wait_ready  # noqa: F401 -- the server fixture

pytestmark = pytest.mark.browser

# Counts real pointer presses in every frame: a click that a key makes (Enter or Space on a button) is trusted too, but it
# has detail 0 and no pointer type; a mouse's or a finger's has both (and pointerdown and mousedown come only from them).
POINTER_COUNTER = """
window.__pointer = 0;
for (const type of ["pointerdown", "mousedown", "click"]) {
  window.addEventListener(type, (e) => { if (e.isTrusted && (e.detail > 0 || e.pointerType)) window.__pointer += 1; }, true);
}
"""

# What has the focus, looking into components' shadow roots (the explorer, the latent plane), and whether it shows: an
# outline or a box shadow on it, or, for a text field, the ring Streamlit draws on the field's box (its focus-within
# border in the theme's primary colour, or a shadow).
FOCUSED = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  let ring = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== "none";
  if (!ring && el.tagName === "INPUT") {
    const primary = getComputedStyle(document.querySelector('[data-testid="stApp"]')).getPropertyValue("--primary") || "";
    for (let box = el.parentElement, up = 0; box && up < 4 && !ring; box = box.parentElement, up++) {
      const b = getComputedStyle(box);
      ring = b.boxShadow !== "none" || b.borderTopColor === "rgb(185, 28, 28)" || (primary && b.borderTopColor === primary);
    }
  }
  const named = el.closest("[data-testid]");
  return {
    tag: el.tagName, role: el.getAttribute("role"), label: el.getAttribute("aria-label") || "",
    text: (el.innerText || el.value || "").trim().slice(0, 60), testid: named ? named.getAttribute("data-testid") : "",
    classes: String(el.className || ""), selected: el.getAttribute("aria-selected"), ring,
    outline: style.outline, visible: el.matches(":focus-visible"),
  };
}"""


def focused(pg) -> dict | None:
    return pg.evaluate(FOCUSED)


def tab_to(pg, wanted, what: str, back: bool = False, limit: int = 150, drawn: str | None = None) -> dict:
    """Press Tab (Shift+Tab with back) until the focused element satisfies `wanted`; it must show its focus. `drawn`: a
    selector of what to wait for first (a page still loading has fewer stops: its script is still running)."""
    if drawn is not None:
        pg.locator(drawn).first.wait_for(timeout=120_000)
    passed = []
    for _ in range(limit):
        pg.keyboard.press("Shift+Tab" if back else "Tab")
        now = focused(pg)
        passed.append(now and f"{now['tag']} {now['label'] or now['text'][:20]!r}")
        if now is not None and wanted(now):
            if not now["ring"]:  # a focus style may come in with a transition
                pg.wait_for_timeout(300)
                now = focused(pg)
            assert now["ring"], f"{what}: the focus does not show: {now}"
            return now
    raise AssertionError(f"{what}: not reached with {'Shift+Tab' if back else 'Tab'} in {limit} presses: {passed[-40:]}")


def link(text: str):
    return lambda f: f["tag"] == "A" and f["text"].endswith(text)


def first_of(label: int) -> int:
    """The index of the first test digit of a label (the server reads the same data root as this process)."""
    from cvae_core.data import test_digits

    return int(np.flatnonzero(test_digits().labels.numpy() == label)[0])


def pointer_presses(pg) -> int:
    return sum(frame.evaluate("() => window.__pointer || 0") for frame in pg.frames if not frame.is_detached())


def at_home(browser, address: str):
    """A desktop context that counts pointer presses, on Home: (context, page)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(POINTER_COUNTER)
    pg = context.new_page()
    pg.goto(address)
    wait_ready(pg, "CVAE Lab")
    return context, pg


def test_from_home_to_a_trained_run_a_generated_digit_and_a_read_digit_by_keyboard_alone(server, browser):  # noqa: F811
    context, pg = at_home(browser, server)

    # Home -> Train, by the link of "Three things to try"
    tab_to(pg, link("Train a model"), "Home's Train link", drawn='a:has-text("Train a model")')
    pg.keyboard.press("Enter")
    wait_ready(pg, "Train")
    # the smallest run that still trains: a 2-D latent (the slider's first stop, Home) for two epochs
    tab_to(pg, lambda f: f["tag"] == "INPUT" and f["label"] == "Latent size", "the latent size", drawn='input[aria-label="Latent size"]')
    pg.keyboard.press("Home")
    pg.wait_for_function("() => new URLSearchParams(location.search).get('latent') === '2'", timeout=30_000)  # the address follows
    wait_ready(pg, "Train")
    tab_to(pg, lambda f: f["tag"] == "INPUT" and f["label"] == "Epochs", "the epochs", drawn='input[aria-label="Epochs"]')
    pg.keyboard.press("Control+A")
    pg.keyboard.type("2")
    pg.keyboard.press("Enter")
    pg.wait_for_function("() => new URLSearchParams(location.search).get('epochs') === '2'", timeout=30_000)
    wait_ready(pg, "Train")
    start = tab_to(pg, lambda f: f["tag"] == "BUTTON" and f["text"].endswith("Start"), "Start")
    assert start["ring"], start  # (tab_to checks each control it stops at) Streamlit's focus shadow on the primary button
    pg.keyboard.press("Enter")
    # trained: the run ends (Resume stays disabled once it is done) and the panel to keep the model appears
    main(pg).get_by_role("heading", name="Keep this model").wait_for(timeout=240_000)
    assert_no_exception(pg)

    # Train -> Generate by the sidebar's link (back up the page to it), and a new digit from Randomise
    tab_to(pg, link("Generate"), "the sidebar's Generate link", back=True)
    pg.keyboard.press("Enter")
    wait_ready(pg, "Generate")
    pg.locator("canvas.digit").first.wait_for(timeout=60_000)
    drawn = "() => window.__cvaeExplorer && window.__cvaeExplorer.canvas.toDataURL()"
    before = pg.evaluate(drawn)
    tab_to(pg, lambda f: f["tag"] == "BUTTON" and f["text"] == "Randomise", "the explorer's Randomise")
    pg.keyboard.press("Enter")
    pg.wait_for_function(f"(s) => ({drawn})() !== s", arg=before, timeout=30_000)
    main(pg).locator('[data-testid="stImage"] img').first.wait_for(timeout=60_000)  # and the grid below
    picked = pg.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"] input').first.input_value()
    assert picked.endswith("(this session)"), picked  # the explorer draws the run just trained
    assert_no_exception(pg)

    # Generate -> Draw, its third tab (the arrow keys move along the tabs), a 3 from the test digits
    tab_to(pg, link("Draw"), "the sidebar's Draw link", back=True)
    pg.keyboard.press("Enter")
    wait_ready(pg, "Draw")
    tab_to(pg, lambda f: f["role"] == "tab", "Draw's tabs", drawn='[role="tab"]')
    pg.keyboard.press("ArrowRight")
    pg.keyboard.press("ArrowRight")
    assert focused(pg)["text"] == "Pick a test digit" and focused(pg)["selected"] == "true"
    tab_to(pg, lambda f: f["role"] == "radio" and f["text"] == "0", "the first class")
    for _ in range(3):
        pg.keyboard.press("ArrowRight")
    assert focused(pg)["text"] == "3" and focused(pg)["ring"]
    pg.keyboard.press("Space")
    main(pg).get_by_text("Read as").first.wait_for(timeout=60_000)
    verdicts = main(pg).get_by_text("reads").first
    verdicts.wait_for(timeout=60_000)
    assert "(this session)" in verdicts.inner_text()  # the run just trained reads it too
    alt = main(pg).locator('img[alt^="Test digit number"]').get_attribute("alt")  # the digit picked, said in words
    assert alt.startswith(f"Test digit number {first_of(3)} of the data set, a handwritten 3"), alt
    tab_to(pg, lambda f: f["tag"] == "BUTTON" and f["text"].endswith("Another one"), "Another one")
    shown = main(pg).locator('img[alt^="Test digit number"]').get_attribute("alt")
    pg.keyboard.press("Enter")
    pg.wait_for_function(
        "(alt) => { const i = document.querySelector('img[alt^=\"Test digit number\"]'); return i && i.alt !== alt; }",
        arg=shown,
        timeout=60_000,
    )
    assert_no_exception(pg)
    shot(pg, "keyboard-draw")

    # Draw -> Latent space: the 2-D model's plane, moved with the arrow keys, Enter opens the digit under the cursor
    tab_to(pg, link("Latent space"), "the sidebar's Latent space link", back=True)
    pg.keyboard.press("Enter")
    wait_ready(pg, "Latent space")
    pg.locator("canvas.scatter").first.wait_for(timeout=60_000)  # the run just trained, kept from Generate
    tab_to(pg, lambda f: f["tag"] == "CANVAS" and "scatter" in f["classes"], "the latent plane")
    assert main(pg).get_by_text("Test digit #").count() == 0
    for _ in range(3):
        pg.keyboard.press("ArrowLeft")
    pg.keyboard.press("Enter")
    main(pg).get_by_text("Test digit #").first.wait_for(timeout=60_000)
    # and the keyboard's picker under it: a 5, the first of them
    tab_to(pg, lambda f: f["tag"] == "SUMMARY" and "Pick a test digit" in f["text"], "the picker's expander")
    pg.keyboard.press("Enter")
    tab_to(pg, lambda f: f["role"] == "radio" and f["text"] == "0", "the picker's first class")
    for _ in range(5):
        pg.keyboard.press("ArrowRight")
    pg.keyboard.press("Space")
    main(pg).get_by_text(f"Test digit #{first_of(5)}, label 5").wait_for(timeout=60_000)
    assert_no_exception(pg)

    assert pointer_presses(pg) == 0, "a pointer was used"
    context.close()


def test_compare_and_experiments_by_keyboard_alone(server, browser):  # noqa: F811
    """Compare: Measure again opened, the fewest digits and proposals chosen with Home, every model measured; Experiments:
    the completions' test digit moved with an arrow key, a folded table opened, the second tab chosen with an arrow."""
    context, pg = at_home(browser, server)

    tab_to(pg, link("Compare"), "the sidebar's Compare link", drawn='a:has-text("Compare")')
    pg.keyboard.press("Enter")
    wait_ready(pg, "Compare")
    tab_to(pg, lambda f: f["tag"] == "SUMMARY" and "Measure again" in f["text"], "Measure again", drawn="summary")
    if main(pg).get_by_role("button", name="Measure all models").count() == 0:  # folded: Enter opens it
        pg.keyboard.press("Enter")
    for name in ("Test digits", "IW proposals per digit k"):  # the first stop of each: 200 digits, k = 10
        tab_to(pg, lambda f, name=name: f["tag"] == "INPUT" and f["label"] == name, name)
        pg.keyboard.press("Home")
        wait_ready(pg, "Compare")
    tab_to(pg, lambda f: f["tag"] == "BUTTON" and f["text"].endswith("Measure all models"), "Measure all models")
    pg.keyboard.press("Enter")
    main(pg).get_by_role("heading", name=re.compile(r"On 200 .* test digits, k = 10")).wait_for(timeout=240_000)
    assert_no_exception(pg)

    tab_to(pg, link("Experiments"), "the sidebar's Experiments link", back=True)
    pg.keyboard.press("Enter")
    wait_ready(pg, "Experiments")
    shown = 'img[alt^="A digit completed from one quadrant"]'
    pg.locator(shown).first.wait_for(timeout=120_000)
    before = pg.locator(shown).first.get_attribute("src")
    tab_to(pg, lambda f: f["tag"] == "INPUT" and f["label"] == "Test digit", "the completions' test digit")
    pg.keyboard.press("ArrowRight")
    pg.wait_for_function(
        "([sel, src]) => { const i = document.querySelector(sel); return i && i.getAttribute('src') !== src; }",
        arg=[shown, before],
        timeout=60_000,
    )
    tab_to(pg, lambda f: f["tag"] == "SUMMARY" and "The tables behind it" in f["text"], "the folded tables", back=True)
    pg.keyboard.press("Enter")
    main(pg).locator('[data-testid="stDataFrame"]').first.wait_for(timeout=30_000)
    tab_to(pg, lambda f: f["role"] == "tab", "Experiments' tabs", back=True)
    pg.keyboard.press("ArrowRight")
    assert focused(pg)["text"].startswith("Learn from 100 labels") and focused(pg)["selected"] == "true"
    assert_no_exception(pg)
    shot(pg, "keyboard-experiments")
    assert pointer_presses(pg) == 0, "a pointer was used"
    context.close()
