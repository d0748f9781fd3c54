"""A phone in the room's sweep, in headless Chromium at 390 px: the light page (ui/web/phone.html) over the phone routes
and a board of this process, its runs stand-ins whose validation rows the test writes."""

import pytest
from starlette.applications import Starlette

from cvae_core.serving import phones
from cvae_core.serving.rooms import RoomBoard
from tests.browser.test_a11y import serious
from tests.room.asgi import served
from tests.room.test_phone_routes import SweepRun
from tests.room.test_rooms import Clock
from ui.phone import PhoneRoutes

pytestmark = pytest.mark.browser


def test_a_phone_in_a_sweep_plots_every_run_and_its_own_stands_out(browser, tmp_path):
    """At 390 px, the phone dealt β = 1 draws the sweep's three trails, its own thick, red and labelled, and says so in
    words (the plot's accessible name); the others grey; nothing wider than the phone."""
    board = RoomBoard(clock=Clock())
    sweep = {f"sweep-run-token-{i:04d}": SweepRun(beta) for i, beta in enumerate((0.5, 1.0, 4.0))}
    for i, run in enumerate(sweep.values()):
        run.learn(5 + 3 * i)
    desk = phones.PhoneDesk(lambda method, *args: getattr(board, method)(*args), sweep.get)
    room = board.open("host", True)
    board.join(room["token"])  # another phone joined first: this one is dealt the second value
    board.sweep(room["id"], room["key"], "beta", [0.5, 1.0, 4.0], list(sweep))
    with served(Starlette(routes=PhoneRoutes(desk).routes())) as address:
        # bypass_csp: axe is injected below (the page's own policy allows only its nonce's scripts)
        context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, bypass_csp=True)
        page = context.new_page()
        page.goto(f"{address}/room?t={room['token']}&lang=en")
        page.locator("#sweep polyline").nth(2).wait_for(timeout=30_000)
        lines = page.eval_on_selector_all(
            "#sweep polyline", "ls => ls.map(l => [l.getAttribute('stroke'), l.getAttribute('stroke-width')])"
        )
        assert sorted(lines) == [["#6b7280", "1.5"], ["#6b7280", "1.5"], ["#b91c1c", "4"]]
        own = page.eval_on_selector_all("#sweep text", "ts => ts.filter(t => t.style.fontWeight === '700').map(t => t.textContent)")
        assert own == ["β=1"]
        assert page.locator("#sweep").get_attribute("aria-label") == (
            "3 runs in the sweep. Yours, β=1: rate 1.3 nats, distortion 87.0 nats."  # epoch 7: 10 / 8, 80 + 7
        )
        assert page.locator("#yours").inner_text() == "Your β is 1: the grid below is your run's."
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert not serious(page)  # axe, WCAG 2.1 A/AA: no serious or critical violation on the phone's sweep
        page.screenshot(path=str(tmp_path / "phone-sweep.png"), full_page=True)
        context.close()
