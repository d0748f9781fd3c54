"""Images for people: grids of digits and PNG bytes of the right size (no UI code)."""

import io

import numpy as np
from PIL import Image


def as_array(images) -> np.ndarray:
    """A torch tensor (without importing torch: the home page paints before torch loads) or an array, as numpy."""
    return images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)


def to_uint8(images) -> np.ndarray:
    """Float images in [0, 1] (tensor or array, any leading shape) -> uint8 array."""
    return (np.clip(as_array(images), 0, 1) * 255 + 0.5).astype(np.uint8)


def grid(images, ncol: int, pad: int = 2, pad_value: float = 0.35) -> np.ndarray:
    """(N, 28, 28) -> one (rows*(28+pad)-pad, ncol*(28+pad)-pad) float image, row by row."""
    images = as_array(images)
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


def gif_bytes(frames: list[tuple[str, np.ndarray]], ncol: int, scale: int = 2, frame_ms: int = 250, last_frame_ms: int = 2000) -> bytes:
    """An animated GIF, one frame per (caption, digits (N, 28, 28)), the caption in the top-left corner: a slide
    of samples sharpening as a model trains. The last frame stays longer, so a loop shows where training ended."""
    from PIL import ImageDraw  # noqa: PLC0415 -- only the Train page's download needs it

    pictures = []
    for caption, digits in frames:
        picture = Image.fromarray(to_uint8(grid(digits, ncol)), mode="L")
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
        band = Image.new("L", (picture.width, 14 * scale // 2 + 4), 255)  # a white strip above the grid for the caption
        ImageDraw.Draw(band).text((3, 2), caption, fill=0)
        framed = Image.new("L", (picture.width, band.height + picture.height))
        framed.paste(band, (0, 0))
        framed.paste(picture, (0, band.height))
        pictures.append(framed)
    if not pictures:
        raise ValueError("no frames")
    buffer = io.BytesIO()
    durations = [frame_ms] * (len(pictures) - 1) + [last_frame_ms]
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0)
    return buffer.getvalue()


# ---- reading a person's digit -------------------------------------------------------------------
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # larger images are refused before they are decoded (decompression bombs)


def load_image(data: bytes) -> np.ndarray:
    """Decode uploaded bytes into a 2-D float array in [0, 1] (white = 1), refusing what is not a sane image.

    Handles greyscale, RGB(A) (transparent parts become white paper), palette, CMYK, 16-bit and
    animated images (the first frame). Raises ImageError with a sentence for a person."""
    import warnings

    from .errors import ImageError

    if not data:
        raise ImageError("The file is empty.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"The file is {len(data) / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
            width, height = picture.size
            if width * height > MAX_PIXELS or width < 1 or height < 1:
                raise ImageError(f"The image is {width}×{height} pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels.")
            picture.seek(0)  # animated: the first frame
            picture.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("The image is too large to open safely.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(f"This file is not an image that can be read ({type(e).__name__}: {e}).") from None
    return image_to_array(picture)


def image_to_array(picture: Image.Image) -> np.ndarray:
    """Any PIL image -> 2-D float array in [0, 1], white paper = 1."""
    if picture.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(picture, dtype=np.float64)
        top = 65535.0 if array.max() > 255 else 255.0  # some 16-bit files only use the 8-bit range
        return np.clip(array / top, 0, 1).astype(np.float32)
    if picture.mode == "F":
        array = np.asarray(picture, dtype=np.float32)
        span = float(array.max() - array.min())
        return (array - array.min()) / span if span > 0 else np.zeros_like(array)
    if picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info):
        rgba = picture.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(paper, rgba)
    return np.asarray(picture.convert("L"), dtype=np.float32) / 255.0


def preprocess_digit(image) -> np.ndarray:
    """Make a digit look like MNIST: the one preprocessing used by every page and test.

    LeCun's recipe: find the ink's bounding box, scale its long side to 20 pixels with
    anti-aliasing, paste it into a 28×28 field, and shift it so that its centre of mass is at
    the centre. Ink may be dark on light paper (a photo, inverted automatically) or light on
    dark (a canvas, or MNIST itself). Returns (28, 28) float32 in [0, 1], ink = 1.

    Raises ImageError for an image with no ink (blank, or a single colour)."""
    from .errors import ImageError

    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 3:  # RGB(A) arrays from a canvas: alpha-composite on white, then grey
        rgb = array[..., :3]
        if array.shape[-1] == 4:
            alpha = array[..., 3:4] / (255.0 if array.max() > 1 else 1.0)
            rgb = rgb * alpha + (255.0 if array.max() > 1 else 1.0) * (1 - alpha)
        array = rgb.mean(-1)
    if array.ndim != 2 or array.size == 0:
        raise ImageError("Expected a 2-D picture.")
    if not np.isfinite(array).all():
        raise ImageError("The picture holds invalid values.")
    if array.max() > 1:
        array = array / 255.0
    array = np.clip(array, 0, 1)
    # Which way round is the ink? Paper covers the border; ink is what differs from it.
    border = np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])
    if np.median(border) > 0.5:
        array = 1.0 - array
    array = array - np.median(border if np.median(border) <= 0.5 else 1.0 - border)
    array = np.clip(array, 0, None)
    peak = float(array.max())
    if peak < 0.1:
        raise ImageError("No digit found: the picture is blank or a single colour.")
    array = array / peak
    ink = array > 0.15
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    crop = array[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = 20.0 / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = Image.fromarray((crop * 255).astype(np.uint8)).resize((new_w, new_h), Image.LANCZOS)
    small = np.asarray(small, dtype=np.float32) / 255.0
    field = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - new_h) // 2, (28 - new_w) // 2
    field[top : top + new_h, left : left + new_w] = small
    total = field.sum()
    if total <= 0:
        raise ImageError("No digit found after scaling.")
    ys, xs = np.indices(field.shape)
    dy = int(round(13.5 - (ys * field).sum() / total))
    dx = int(round(13.5 - (xs * field).sum() / total))
    shifted = np.zeros_like(field)
    src = field[max(0, -dy) : 28 - max(0, dy), max(0, -dx) : 28 - max(0, dx)]
    shifted[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return np.clip(shifted, 0, 1)
