"""Where random draws come from: each run and each seeded measurement from a generator of its own.

torch has one global generator per process, and the app trains many visitors' runs in one process (in threads, a
slice at a time, taking turns) while the pages of many sessions measure in another. Drawn from that one generator,
a visitor's run would depend on what strangers do: their runs' draws interleave with its own, and a stranger pressing
Start (torch.manual_seed) would reset it. So:

- a block `with drawing_from(generator):` makes every eps (`standard_normal`) and dropout mask (`dropout`) this thread
  draws come from `generator`: the Trainer holds one per run, a seeded measurement makes one from its seed (`seeded`);
- a network's initial weights are drawn by torch's layers from the global generator (no argument replaces it), so
  networks are built inside `initial_weights(seed)`, which holds one lock while it seeds and builds, and then puts the
  global generator back as it was: a run, an experiment or a seeded figure leaves it as it found it (the tests check
  that, which catches any draw that escaped its block).

On the CPU a generator seeded with s draws the same numbers as the global one after torch.manual_seed(s), so a run or
a figure from before is reproduced to the bit (on CUDA, eps too; dropout masks differ from the fused kernel's).
Outside any block, draws come from the global generator, as torch's own do (a test or a script seeds it once).
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

_source = threading.local()  # .generator: this thread's, inside drawing_from
_building = threading.RLock()  # re-entrant: an experiment's stage builds a network that builds its parts


@contextmanager
def drawing_from(generator: torch.Generator | None) -> Iterator[torch.Generator | None]:
    """Inside the block this thread's eps and dropout masks come from `generator` (None: torch's global one)."""
    outer = getattr(_source, "generator", None)
    _source.generator = generator
    try:
        yield generator
    finally:
        _source.generator = outer


def seeded(seed: int, device: torch.device | str | None = None):
    """drawing_from a new generator seeded with `seed` on `device` (default: the CPU): a measurement that gives the same
    figure for the same seed, whoever else is drawing."""
    return drawing_from(torch.Generator(device=device or "cpu").manual_seed(int(seed)))


@contextmanager
def initial_weights(seed: int | None = None) -> Iterator[None]:
    """Build networks inside this block: with a seed, torch's global generator is seeded and nobody else builds until
    the block ends, so the weights drawn are exactly the seed's. Unseeded builds (a checkpoint's network, whose weights
    are then loaded) take the lock too, so that they do not draw in the middle of a seeded one. Afterwards the global
    generator is as it was before the block (networks are built on the CPU, so only its generator is kept)."""
    with _building, torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(int(seed))
        yield


def standard_normal(shape: tuple[int, ...], device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
    """eps ~ N(0, I) of `shape`, from this thread's generator (drawing_from) or else torch's global one."""
    generator = getattr(_source, "generator", None)
    if generator is None:
        return torch.randn(shape, device=device, dtype=dtype)
    return torch.randn(shape, generator=generator, device=generator.device, dtype=dtype).to(device or generator.device)


def standard_normal_like(t: torch.Tensor) -> torch.Tensor:
    return standard_normal(tuple(t.shape), device=t.device, dtype=t.dtype)


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout (Srivastava et al. 2014) with its mask from this thread's generator; on the CPU the same numbers
    as torch.nn.functional.dropout drawing from a generator in the same state."""
    generator = getattr(_source, "generator", None)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    if generator is None:
        return torch.nn.functional.dropout(x, p, training=True)
    keep = torch.empty(x.shape, device=generator.device, dtype=x.dtype).bernoulli_(1.0 - p, generator=generator)
    return x * keep.to(x.device).div_(1.0 - p)


class Dropout(torch.nn.Dropout):
    """nn.Dropout whose mask comes from this thread's generator (`dropout`); no parameters, so a checkpoint saved with
    nn.Dropout loads into it unchanged."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)
