"""CVAE Lab's core: the variants, data, training engine, checkpoints and metrics. No UI code here."""

__version__ = "0.1.0"
