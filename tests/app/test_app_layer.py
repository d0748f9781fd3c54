"""The app layer outside a page: the server's count of training runs it holds, and the digit helpers."""

import numpy as np
import torch

import ui


def test_stack_digits_takes_tensors_arrays_and_lists_of_them():
    one = np.zeros((28, 28))
    batch = torch.ones(3, 784)
    stacked = ui.stack_digits([one, batch, torch.zeros(2, 28, 28)])
    assert stacked.shape == (6, 28, 28)
    assert stacked[1:4].min() == 1 and stacked[0].max() == 0


def test_live_views_together_refresh_at_a_bounded_rate_and_within_the_heartbeat():
    from ui.training import MAX_SLOWDOWN, REFRESH_SECONDS, RUNS_PER_REFRESH, live_refresh_seconds

    periods = [live_refresh_seconds({"training": min(n, 2), "waiting": max(0, n - 2), "limit": 2}) for n in range(0, 40)]
    assert periods == sorted(periods)  # more runs on the server, never a faster refresh
    assert all(REFRESH_SECONDS <= p <= REFRESH_SECONDS * MAX_SLOWDOWN for p in periods)  # the refresh is the heartbeat
    for n, period in enumerate(periods):
        if n * REFRESH_SECONDS / RUNS_PER_REFRESH <= REFRESH_SECONDS * MAX_SLOWDOWN and n >= RUNS_PER_REFRESH:
            assert abs(n / period - RUNS_PER_REFRESH / REFRESH_SECONDS) < 1e-9  # n pages together: the budget, no more


def test_a_page_is_redrawn_only_when_the_load_asks_for_a_period_far_from_its_own():
    from ui.training import REFRESH_DRIFT, live_refresh_seconds, refresh_drifted

    alone = live_refresh_seconds({"training": 1, "waiting": 0})
    five = live_refresh_seconds({"training": 2, "waiting": 3})
    assert refresh_drifted(alone, five) and refresh_drifted(five, alone)  # the first visitor's page slows down as others join
    assert not refresh_drifted(five, five) and not refresh_drifted(five, five * (REFRESH_DRIFT - 0.01))
    assert not refresh_drifted(five, live_refresh_seconds({"training": 2, "waiting": 4}))  # both at the cap: no redraw


def test_a_markdown_table_keeps_every_row_in_its_columns():
    import re

    rows = [{"model": "a|b", "ELBO": "-96.4 ± 0.3"}, {"model": "c\nd", "ELBO": None}]
    lines = ui.readable.markdown_table(rows).split("\n")
    assert len(lines) == 2 + len(rows)  # header, rule, one line a row: a line break in a cell starts no row
    cells = [re.split(r"(?<!\\)\|", line)[1:-1] for line in lines]  # split at the "|" that are not escaped
    assert all(len(c) == 2 for c in cells)  # a "|" in a cell starts no column
    assert cells[2][0].strip() == "a\\|b" and cells[3][1].strip() == "—"  # kept, escaped; a missing figure reads as a dash
    assert ui.readable.markdown_table([]) == ""


def test_the_app_layer_has_no_import_circle():
    """ui/'s modules import one another in one direction (imports inside functions count too)."""
    import ast

    from tests.conftest import ROOT

    modules = {p.stem: p for p in (ROOT / "ui").glob("*.py") if p.stem != "__init__"}
    edges = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                targets = [node.module] if node.module else [alias.name for alias in node.names]
                edges[name] |= {t.split(".")[0] for t in targets if t and t.split(".")[0] in modules}

    def reaches(start, goal, seen=()):
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, (*seen, nxt))) for nxt in edges[start])

    circles = sorted(name for name in modules if reaches(name, name))
    assert not circles, f"modules in an import circle: {circles}"


def test_a_browsers_key_survives_the_xsrf_cookies_fresh_mask_and_differs_between_browsers():
    """Tornado re-masks Streamlit's XSRF token at every page load: the cookie's text changes on a reload, its token does
    not. The reload register keys on the token; a malformed cookie gives no key rather than a guessable one."""
    import os

    from ui.reload import xsrf_token

    def cookie(token: bytes) -> str:
        mask = os.urandom(4)
        return "2|" + mask.hex() + "|" + bytes(b ^ mask[i % 4] for i, b in enumerate(token)).hex() + "|1764900000"

    mine, theirs = os.urandom(16), os.urandom(16)
    first, reload = cookie(mine), cookie(mine)
    assert first != reload and xsrf_token(first) == xsrf_token(reload) == mine.hex()
    assert xsrf_token(cookie(theirs)) != xsrf_token(first)
    for malformed in ("", "2|zz|00|1", "1|abcd|00|1", "2|abcdef|0011|1", "2|abcdabcd||1", "plain"):
        assert xsrf_token(malformed) is None
