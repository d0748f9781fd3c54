"""Serving the training service to a web server, by which end of the pipe each part serves.

- `host.py`: in the training process. Builds runs from recipes, trains them in the training service, keeps their
  weights, publishes shared runs; the process's bootstrap.
- `client.py`: in the server. Starts the training process and hands out handles.
- `handles.py`: the server's handles on runs (`RunHandle`, `FollowedRun`): what a page reads and every control it has.
- `shares.py`: the board of shared runs (the training process's own, or one actor for a Ray cluster).
- `rooms.py`: the board of rooms, beside the shares' (issue 39); `phones.py`: what the web server's phone routes ask of it.
- `pipe.py`: what crosses the pipe besides snapshots: refusals and `TrainingLost`.

The names below load when first used: the phone routes import rooms.py and phones.py without torch, which the client
and the handles import.
"""

import importlib

_LAZY = {"TrainingClient": "client", "FollowedRun": "handles", "RunHandle": "handles", "TrainingLost": "pipe"}

__all__ = ["FollowedRun", "RunHandle", "TrainingClient", "TrainingLost"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
