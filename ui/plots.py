"""Shapes for plots that the pages draw."""

import numpy as np


def ellipses(means: np.ndarray, sigmas: np.ndarray, n_sigma: float = 2.0, points: int = 60) -> list[tuple[np.ndarray, np.ndarray]]:
    """Axis-aligned ellipses at n_sigma standard deviations around each 2-D Gaussian: (x, y) outlines, one per row."""
    t = np.linspace(0, 2 * np.pi, points)
    return [(m[0] + n_sigma * s[0] * np.cos(t), m[1] + n_sigma * s[1] * np.sin(t)) for m, s in zip(means, sigmas, strict=True)]
