"""Where digits land in latent space: codes of test digits, projected to 2-D for a scatter plot."""

import numpy as np
import torch

from .data import Dataset

PROJECTIONS = ("latent", "PCA", "t-SNE")  # "latent": the coordinates themselves (2-D models only)


@torch.inference_mode()
def project_codes(model, data: Dataset, method: str) -> np.ndarray:
    """(N, 2) coordinates of the means of q(z|x, y) of `data`'s digits.

    PCA keeps the directions of largest spread; t-SNE (van der Maaten & Hinton 2008) keeps neighbours together."""
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}")
    mu, _ = model.encode(data.images.to(model.device), data.labels.to(model.device) if model.uses_label else None)
    mu = mu.cpu().numpy()
    if method == "latent":
        return mu[:, :2]
    if method == "PCA":
        from sklearn.decomposition import PCA

        return PCA(2, random_state=0).fit_transform(mu)
    from sklearn.manifold import TSNE

    return TSNE(2, init="pca", random_state=0, perplexity=min(30, len(mu) - 1)).fit_transform(mu)
