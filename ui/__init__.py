"""The app layer: what every page shares. Pages arrange widgets and plots; the maths is in cvae_core.

- `frame`: the page frame (set-up, sidebar, page links) and digits shown as PNGs;
- `models`: shipped and session models, the checkpoint uploader, the model pickers;
- `state`: named accessors for this session's state, including the contracts between pages;
- `readable`: numbers as people read them;
- `plots`: shapes for the pages' plots;
- `server`: the process (thread counts, memory);
- `training`: the training process, this session's runs, the heartbeat.
"""

from . import readable, state, training
from .frame import PAGES, digit_png, setup_page, show_digits, stack_digits
from .models import (
    CHECKPOINTS,
    add_session_model,
    all_models,
    describe_model,
    fidelity_classifiers,
    model_picker,
    model_store,
    saved_models,
    shipped_models,
    test_digits,
)
from .plots import ellipses
from .server import release_memory, server_memory_mb

__all__ = [
    "CHECKPOINTS",
    "PAGES",
    "add_session_model",
    "all_models",
    "describe_model",
    "digit_png",
    "ellipses",
    "fidelity_classifiers",
    "readable",
    "model_picker",
    "model_store",
    "saved_models",
    "release_memory",
    "server_memory_mb",
    "setup_page",
    "shipped_models",
    "show_digits",
    "stack_digits",
    "state",
    "test_digits",
    "training",
]
