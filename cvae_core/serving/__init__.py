"""Serving the training service to a web server, by which end of the pipe each part serves.

- `host.py`: in the training process. Builds runs from recipes, trains them in the training service, keeps their
  weights, publishes shared runs; the process's bootstrap.
- `client.py`: in the server. Starts the training process and hands out handles.
- `handles.py`: the server's handles on runs (`RunHandle`, `FollowedRun`): what a page reads and every control it has.
- `shares.py`: the board of shared runs (the training process's own, or one actor for a Ray cluster).
- `pipe.py`: what crosses the pipe besides snapshots: refusals and `TrainingLost`.
"""

from .client import TrainingClient
from .handles import FollowedRun, RunHandle
from .pipe import TrainingLost

__all__ = ["FollowedRun", "RunHandle", "TrainingClient", "TrainingLost"]
