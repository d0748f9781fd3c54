"""Loaded by every Python process of a server that bench/browser.py starts (it puts this folder on PYTHONPATH). In the
training process it keeps what the bench measures, read through the service's own API, so the app carries no hook:
- BENCH_DUMP_SNAPSHOTS=folder: the weights behind every grid published (a snapshot's model), as
  <run id>-<step>.safetensors, so that the bench can judge the digits a visitor saw with the fidelity classifiers;
- BENCH_COUNT_DIGITS=file: "<unix time> <digits trained by every run so far>" (TrainingService.load()), every 0.25 s."""

import os
import sys
import threading
import time
from pathlib import Path

DUMP, COUNT = os.environ.get("BENCH_DUMP_SNAPSHOTS"), os.environ.get("BENCH_COUNT_DIGITS")

if DUMP or COUNT:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository, whichever process this is
    from cvae_core.serving.host import TrainingHost
    from cvae_core.storage import checkpoint
    from cvae_core.training.service import TrainingService

    if DUMP:
        publish = TrainingService._publish

        def publish_and_keep(self, run, state, draw=False, error=None):
            publish(self, run, state, draw=draw, error=error)
            if draw and run.snapshot.model is not None and run.snapshot.grid is not None:
                checkpoint.save(run.snapshot.model, Path(DUMP) / f"{run.id}-{run.snapshot.drawn_at[0]}.safetensors")

        TrainingService._publish = publish_and_keep

    if COUNT:
        host_init = TrainingHost.__init__

        def init_and_count(self, *args, **kwargs):
            host_init(self, *args, **kwargs)

            def count():
                while True:
                    with open(COUNT, "a") as f:
                        f.write(f"{time.time():.3f} {self.service.load()['digits']}\n")
                    time.sleep(0.25)

            threading.Thread(target=count, daemon=True, name="bench-count-digits").start()

        TrainingHost.__init__ = init_and_count
