"""The app layer: what every page shares. Pages arrange widgets and plots; the maths is in cvae_core.

- `frame`: the page frame (set-up, sidebar, page links) and digits shown as PNGs;
- `models`: shipped and session models, the model pickers;
- `upload`: the sidebar's checkpoint uploader;
- `pick`: a test digit chosen from the keyboard (class and number), and which source of a digit a page heard from last;
- `state`: named accessors for this session's state, including the contracts between pages; `reload`: the reload
  register (a reload keeps the visitor's runs) and who owns what a session starts;
- `readable`: numbers as people read them;
- `plots`: shapes for the pages' plots, and the Train page's live curves as inline SVG; `palette`: the app's colours;
- `server`: the process (thread counts, garbage collection);
- `training`: the training process, this session's runs, the heartbeat;
- `settings`: a page's settings declared once (widget, address, range); `experiment_view`: a live retrain's view;
- `i18n`: the visitor's language (gettext catalogues in ui/locales).
"""

import importlib
import sys

from cvae_core.memory import resident_mb as server_memory_mb

from . import readable, state
from .frame import PAGES, digit_png, digits_png, page, presenter, setup_page, show_digits, stack_digits

# These import torch, so they load when first used: a page's title and text paint before torch does.
_LAZY = {
    "CHECKPOINTS": "models",
    "add_session_model": "models",
    "all_models": "models",
    "describe_model": "models",
    "fidelity_classifiers": "models",
    "model_picker": "models",
    "model_store": "models",
    "saved_models": "models",
    "shipped_models": "models",
    "shipped_recorded": "models",
    "test_digits": "models",
    "training_digits": "models",
    "ellipses": "plots",
    "stacked_lines_svg": "plots",
    "bars_svg": "plots",
    "release_memory": "server",
}


def held_runs() -> int:
    """Training runs the server's training process holds for sessions: 0 before it has started. It starts with
    ui.training, which imports torch, so a page that trains nothing asks without loading either."""
    held = getattr(sys.modules.get(f"{__name__}.training"), "held_runs", None)  # None while a thread still imports it
    return 0 if held is None else held()


def training_now() -> int:
    """Runs training at this moment on this server: 0 before the training process has started (see held_runs)."""
    now = getattr(sys.modules.get(f"{__name__}.training"), "training_now", None)
    return 0 if now is None else now()


def training_load() -> dict | None:
    """How the server's training process is busy and where it trains ({"backend": "local" or "ray", "limit": lanes,
    "nodes", ...}); None before it has started (see held_runs)."""
    client = getattr(sys.modules.get(f"{__name__}.training"), "_client", None)
    return None if client is None or not client.alive() else client.load()


def __getattr__(name: str):
    if name == "training":
        return importlib.import_module(".training", __name__)
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'ui' has no attribute {name!r}")


__all__ = [
    "CHECKPOINTS",
    "PAGES",
    "page",
    "add_session_model",
    "all_models",
    "describe_model",
    "digit_png",
    "digits_png",
    "ellipses",
    "fidelity_classifiers",
    "held_runs",
    "training_now",
    "training_load",
    "readable",
    "model_picker",
    "presenter",
    "model_store",
    "saved_models",
    "release_memory",
    "server_memory_mb",
    "setup_page",
    "shipped_models",
    "shipped_recorded",
    "show_digits",
    "stacked_lines_svg",
    "bars_svg",
    "stack_digits",
    "state",
    "test_digits",
    "training_digits",
    "training",
]
