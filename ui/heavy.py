"""Page work that runs in the web server and that any visitor can ask for again and again -- Compare's measurements
and bound curves, t-SNE of a model's codes, the classifier of a visitor's own data set -- bounded server-wide: at most
MAX_AT_ONCE such jobs at once (cvae_core.gate.Gate); the next visitor's page says it waits, and its job starts when one
ends. t-SNE of a model still training is redone at most every TSNE_EVERY seconds per model (PCA follows every version)."""

import threading
import time
from collections import OrderedDict

import streamlit as st

from cvae_core.gate import Gate

from .i18n import _

MAX_AT_ONCE = 1  # the web server's core is the pages' own; the training process has the rest
JOBS = Gate(MAX_AT_ONCE)
TSNE_EVERY = 30.0
_projections: OrderedDict = OrderedDict()  # (model id, digits) -> (when, coordinates): the latest t-SNE of each model
_projections_lock = threading.Lock()
MAX_PROJECTIONS = 64


def job():
    """A slot for one heavy job; while it waits, the page says so."""
    notice = st.empty()
    return _Job(notice)


class _Job:
    def __init__(self, notice):
        self._notice = notice
        self._slot = None

    def __enter__(self):
        self._slot = JOBS.slot(lambda: self._notice.info(_("Another visitor's measurement is running; yours starts in a few seconds.")))
        self._slot.__enter__()
        self._notice.empty()

    def __exit__(self, *exc):
        return self._slot.__exit__(*exc)


def throttled(model_uid: str, digits: int, compute):
    """compute() (a t-SNE of model_uid's codes of `digits` digits), or the last one made for them if it is younger
    than TSNE_EVERY seconds: a model still training gets a new projection at most that often."""
    key = (model_uid, digits)
    with _projections_lock:
        kept = _projections.get(key)
    if kept is not None and time.monotonic() - kept[0] < TSNE_EVERY:
        return kept[1]
    with job():
        coords = compute()
    with _projections_lock:
        _projections[key] = (time.monotonic(), coords)
        _projections.move_to_end(key)
        while len(_projections) > MAX_PROJECTIONS:
            _projections.popitem(last=False)
    return coords
