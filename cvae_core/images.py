"""Images for people: grids of digits and PNG bytes of the right size (no UI code)."""

import io
from contextlib import contextmanager

import numpy as np
from PIL import Image

from .text import N_


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
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")  # what Pillow may open for the Draw page, whatever the file's suffix


@contextmanager
def _decoding():
    """Pillow's errors while an image is opened or decoded, as ImageError sentences."""
    from .errors import ImageError

    try:
        yield
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(N_("The image is too large to open safely.")) from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(
            N_("This file is not an image that can be read ({kind}: {detail})."), kind=type(e).__name__, detail=str(e)[:120]
        ) from None


def _opened(data: bytes, formats, max_pixels: int):
    """A Pillow image of the bytes, opened (its header read, nothing decoded) only as one of `formats`, its pixel
    count checked. Raises ImageError with a sentence."""
    from .errors import ImageError

    if not data:
        raise ImageError(N_("The file is empty."))
    with _decoding():
        picture = Image.open(io.BytesIO(data), formats=list(formats))
        width, height = picture.size
    if width * height > max_pixels or width < 1 or height < 1:
        raise ImageError(
            N_("The image is {width}×{height} pixels; the limit is {limit_megapixels} megapixels."),
            width=width,
            height=height,
            limit_megapixels=max_pixels // 1_000_000,
        )
    return picture


def read_header(data: bytes, formats=FORMATS, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """An image's (width, height) from its header alone, its format and pixel count checked."""
    return _opened(data, formats, max_pixels).size


def load_image(data: bytes, formats=FORMATS, max_side: int | None = None, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode uploaded bytes into a 2-D float array in [0, 1] (white = 1), refusing what is not a sane image: Pillow
    opens it only as one of `formats` (never by its suffix), and its pixel count is checked before it is decoded.
    max_side: reduce it while decoding (a JPEG decodes at a fraction of its size) to at most this a side.

    Handles greyscale, RGB(A) (transparent parts become white paper), palette, CMYK, 16-bit and
    animated images (the first frame). Raises ImageError with a sentence for a person."""
    import warnings

    from .errors import ImageError

    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(
            N_("The file is {size_mb:.1f} MB; the limit is {limit_mb:.0f} MB."), size_mb=len(data) / 1e6, limit_mb=MAX_UPLOAD_BYTES / 1e6
        )
    with warnings.catch_warnings(), _decoding():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        picture = _opened(data, formats, max_pixels)
        picture.seek(0)  # animated: the first frame
        if max_side is not None and max(picture.size) > max_side:
            picture.draft("L", (max_side, max_side))  # JPEG: decoded at 1/2, 1/4 or 1/8 of its size
        picture.load()
        if max_side is not None and max(picture.size) > max_side:
            picture = _reduced(picture, max_side)
    return image_to_array(picture)


def _reduced(picture: Image.Image, max_side: int) -> Image.Image:
    """The picture scaled down to at most max_side a side, in a mode Pillow resamples (palettes and 16-bit first made
    RGBA or 32-bit, so transparency and depth survive)."""
    if picture.mode in ("P", "PA", "1") or picture.mode.startswith("I;16"):
        picture = picture.convert("RGBA" if picture.mode in ("P", "PA") else "I" if picture.mode.startswith("I;16") else "L")
    picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return picture


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


# ---- making a digit look like MNIST ---------------------------------------------------------------
WORK_SIDE = 512  # photos are read at most this large: enough for a thin pen, and bounded work per upload
STROKE = 0.15  # MNIST's stroke width as a share of the digit's long side (about 2.4 of 20 pixels)


def _grey(image) -> np.ndarray:
    """A picture (2-D grey, or RGB(A) from a canvas) as a 2-D float array in [0, 1]."""
    from .errors import ImageError

    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 3:  # RGB(A) arrays from a canvas: alpha-composite on white, then grey
        top = 255.0 if array.max() > 1 else 1.0
        rgb = array[..., :3]
        if array.shape[-1] == 4:
            alpha = array[..., 3:4] / top
            rgb = rgb * alpha + top * (1 - alpha)
        array = rgb.mean(-1)
    if array.ndim != 2 or array.size == 0:
        raise ImageError(N_("Expected a 2-D picture."))
    if not np.isfinite(array).all():
        raise ImageError(N_("The picture holds invalid values."))
    if array.max() > 1:
        array = array / 255.0
    return np.clip(array, 0, 1)


def _resized(array: np.ndarray, side: int) -> np.ndarray:
    """array with its long side at most `side` pixels (area-averaged: thin strokes fade, they do not vanish)."""
    h, w = array.shape
    if max(h, w) <= side:
        return array
    scale = side / max(h, w)
    picture = Image.fromarray(array.astype(np.float32), mode="F").resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BOX)
    return np.asarray(picture, dtype=np.float32)


def _ink_on_paper(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dark ink on paper, as a person sees it: how much darker each pixel is than the paper around it.

    The local paper brightness is a grey closing (a max then a min filter wider than any stroke), which
    removes the ink and keeps slow changes: uneven light, a shadow, and a table at the edges, which is its own
    background, so none of them counts as ink. Returns (background, ink strength in [0, 1])."""
    from scipy import ndimage

    size = max(9, int(0.2 * min(grey.shape)))  # wider than a marker's stroke on a digit that fills the picture
    closed = ndimage.grey_closing(grey, size=(size, size))
    smooth = max(3, size // 4)
    background = ndimage.uniform_filter(closed, smooth)
    ink = np.clip(1.0 - grey / np.maximum(background, 0.05), 0, 1)
    # Far darker than the paper, ink removed: the table, or a shadow, where no digit is. Widened by the smoothing,
    # so that the band along the paper's edge, where the smoothed background mixes paper and table, goes too.
    table = ndimage.binary_dilation(closed < 0.6 * np.percentile(closed, 90), iterations=smooth)
    ink[table] = 0
    return background, ink


def _digit_components(ink: np.ndarray) -> np.ndarray:
    """The digit's ink: a threshold (Otsu's, on the pixels that hold some ink) and the largest connected piece
    with the pieces near it (a 4 or a 5 may be written in two strokes); specks and marks at the edges go."""
    from scipy import ndimage
    from skimage.filters import threshold_otsu

    inked = ink[ink > 0.05]
    if inked.size < 10:
        return np.zeros_like(ink, dtype=bool)
    try:
        otsu = threshold_otsu(inked)
    except ValueError:  # all the same value: nothing to split
        otsu = 0.0
    mask = ink > max(0.12, 0.5 * otsu)
    joined = ndimage.binary_dilation(mask, iterations=max(1, int(0.01 * min(ink.shape))))  # a thin pen's gaps
    labels, n = ndimage.label(joined, structure=np.ones((3, 3)))
    if n == 0:
        return mask
    sizes = ndimage.sum(mask, labels, index=np.arange(1, n + 1))
    edge = set(np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))) - {0}
    inside = sizes.copy()
    for i in edge:  # touching the frame: the table's edge, a shadow, another object
        inside[i - 1] = 0
    if inside.max() > 0:  # (a digit cropped tight may touch the frame: then it is all there is)
        sizes = inside
    biggest = int(np.argmax(sizes)) + 1
    rows, cols = np.nonzero(labels == biggest)
    reach = 0.5 * max(np.ptp(rows), np.ptp(cols)) + 1
    box = (rows.min() - reach, rows.max() + reach, cols.min() - reach, cols.max() + reach)
    keep = np.zeros(n + 1, dtype=bool)
    for i, (sl, size) in enumerate(zip(ndimage.find_objects(labels), sizes, strict=True), start=1):
        near = sl[0].start >= box[0] and sl[0].stop - 1 <= box[1] and sl[1].start >= box[2] and sl[1].stop - 1 <= box[3]
        keep[i] = i == biggest or (near and size >= 0.1 * sizes.max())
    return mask & keep[labels]


def _even_strokes(mask: np.ndarray) -> np.ndarray:
    """The digit redrawn with MNIST's stroke width: its centre line (a skeleton), thickened by a distance
    transform to STROKE of its long side, so a thin pen and a thick marker read alike."""
    from scipy import ndimage
    from skimage.morphology import skeletonize

    line = skeletonize(mask)
    if not line.any():
        return mask.astype(np.float32)
    width = STROKE * max(mask.shape)
    distance = ndimage.distance_transform_edt(~line)
    return np.clip(width / 2 + 0.5 - distance, 0, 1).astype(np.float32)  # an anti-aliased edge


def _mnist_field(crop: np.ndarray) -> np.ndarray:
    """LeCun's recipe on a cropped digit: the long side scaled to 20 pixels, pasted in 28x28, centred on the centre of mass."""
    from .errors import ImageError

    h, w = crop.shape
    scale = 20.0 / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = Image.fromarray((np.clip(crop, 0, 1) * 255).astype(np.uint8)).resize((new_w, new_h), Image.LANCZOS)
    small = np.asarray(small, dtype=np.float32) / 255.0
    field = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - new_h) // 2, (28 - new_w) // 2
    field[top : top + new_h, left : left + new_w] = small
    total = field.sum()
    if total <= 0:
        raise ImageError(N_("No digit found after scaling."))
    ys, xs = np.indices(field.shape)
    dy = int(round(13.5 - (ys * field).sum() / total))
    dx = int(round(13.5 - (xs * field).sum() / total))
    shifted = np.zeros_like(field)
    src = field[max(0, -dy) : 28 - max(0, dy), max(0, -dx) : 28 - max(0, dx)]
    shifted[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return np.clip(shifted, 0, 1)


def preprocessing_steps(image) -> dict[str, np.ndarray]:
    """Every step from a picture to what the model sees, by name, for the Draw page to show:
    "picture" (grey), "paper" (the local paper brightness; photos only), "ink" (where the ink is),
    "digit ink" (the digit's piece(s), cropped), "strokes" (photos: redrawn at MNIST's width) and "digit"
    (28x28, ink = 1). See preprocess_digit. Raises ImageError when no digit is found."""
    from .errors import ImageError

    grey = _grey(image)
    steps = {"picture": grey}
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    # Paper: a light frame, or light over most of the picture (a sheet on a dark table). Else light ink on
    # black (a canvas, MNIST), where even a bold digit covers far less than half.
    on_paper = float(np.median(border)) > 0.5 or float((grey > 0.5).mean()) > 0.5
    if on_paper:
        work = _resized(grey, WORK_SIDE)
        steps["picture"] = work  # (what the steps show is at the working size too)
        steps["paper"], ink = _ink_on_paper(work)
        if float(ink.max()) < 0.1:
            raise ImageError(N_("No digit found: the picture is blank or a single colour."))
        digit = _digit_components(ink)
    else:
        ink = np.clip(grey - np.median(border), 0, None)
        if float(ink.max()) < 0.1:
            raise ImageError(N_("No digit found: the picture is blank or a single colour."))
        ink = ink / float(ink.max())
        digit = ink > 0.15
    steps["ink"] = ink
    if not digit.any():
        raise ImageError(N_("No digit found: nothing on the paper looks like ink."))
    rows, cols = np.flatnonzero(digit.any(1)), np.flatnonzero(digit.any(0))
    crop = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    if on_paper:
        steps["digit ink"] = digit[crop].astype(np.float32)
        steps["strokes"] = _even_strokes(digit[crop])
        steps["digit"] = _mnist_field(steps["strokes"])
    else:  # a canvas or a scan of MNIST: its strokes are kept as drawn
        steps["digit ink"] = ink[crop]
        steps["digit"] = _mnist_field(ink[crop])
    return steps


def preprocess_digit(image) -> np.ndarray:
    """Make a digit look like MNIST: the one preprocessing used by every page and test. Returns (28, 28)
    float32 in [0, 1], ink = 1.

    Light ink on black (a canvas, MNIST itself): the ink is what differs from the border. Dark ink on
    paper (a photo): the ink is what is darker than the paper around it, the digit is its largest piece(s)
    away from the frame, and its strokes are redrawn at MNIST's width. Then LeCun's recipe: crop to the
    ink, scale the long side to 20 pixels, paste into 28x28 centred on the centre of mass.

    Raises ImageError for a picture with no ink (blank, or a single colour)."""
    return preprocessing_steps(image)["digit"]
