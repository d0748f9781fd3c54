"""Images for people: grids of digits and PNG bytes of the right size (no UI code)."""

import io

import numpy as np
import torch
from PIL import Image


def to_uint8(images) -> np.ndarray:
    """Float images in [0, 1] (tensor or array, any leading shape) -> uint8 array."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    return (np.clip(images, 0, 1) * 255 + 0.5).astype(np.uint8)


def grid(images, ncol: int, pad: int = 2, pad_value: float = 0.35) -> np.ndarray:
    """(N, 28, 28) -> one (rows*(28+pad)-pad, ncol*(28+pad)-pad) float image, row by row."""
    images = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    images = images.reshape(len(images), 28, 28)
    n = len(images)
    nrow = -(-n // ncol)
    out = np.full((nrow * (28 + pad) - pad, ncol * (28 + pad) - pad), pad_value, dtype=np.float32)
    for i, img in enumerate(images):
        r, c = divmod(i, ncol)
        out[r * (28 + pad) : r * (28 + pad) + 28, c * (28 + pad) : c * (28 + pad) + 28] = img
    return out


def png_bytes(image, scale: int = 1, invert: bool = False) -> bytes:
    """A 2-D float image in [0, 1] as PNG bytes, enlarged `scale` times with crisp pixel edges."""
    array = to_uint8(1 - np.asarray(image) if invert else image)
    picture = Image.fromarray(array, mode="L")
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=False, compress_level=1)
    return buffer.getvalue()
