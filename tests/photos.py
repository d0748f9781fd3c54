"""Seeded synthetic phone photos of handwritten digits on paper, the way a visitor's upload arrives.

Each photo: a sheet of paper lying askew on a darker, textured table, lit unevenly (a gradient and a
vignette), with one digit written in blue, black or red ink by a thin pen or a thick marker, placed
off-centre, at several sizes and rotations, then blurred a little, given sensor noise and saved as a
JPEG. The digit's shape comes from an MNIST test digit (never a training digit), traced to its centre
line and redrawn at the pen's width, so the label is known.
"""

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage
from skimage.morphology import skeletonize

INKS = {"blue": (25, 45, 160), "black": (25, 25, 30), "red": (185, 25, 35)}
TABLES = ((92, 64, 42), (60, 60, 66), (130, 110, 90), (40, 45, 40))  # wood, slate, light wood, dark green


@dataclass(frozen=True)
class Photo:
    jpeg: bytes
    label: int
    ink: str
    pen_px: float  # stroke width in pixels of the photo
    digit_px: int  # the digit's height in pixels of the photo


def pen_stroke(digit: np.ndarray, height: int, pen_px: float) -> np.ndarray:
    """An MNIST digit (28, 28) redrawn `height` pixels tall with a pen `pen_px` wide: its centre line, thickened. (H, W) in [0, 1]."""
    big = np.asarray(Image.fromarray((digit * 255).astype(np.uint8)).resize((height, height), Image.BICUBIC), dtype=np.float32) / 255
    line = skeletonize(big > 0.4)
    distance = ndimage.distance_transform_edt(~line)
    return np.clip(pen_px / 2 + 0.5 - distance, 0, 1).astype(np.float32)  # anti-aliased edge


def make_photo(
    digit: np.ndarray, label: int, rng: np.random.Generator, size=(480, 640), pen_px: float | None = None,
    light: float | None = None, offset: tuple[float, float] | None = None,
) -> Photo:  # fmt: skip
    """One photo; pen_px (stroke width), light (how much darker the dim side is, 0-0.6) and offset (the digit's
    place from the centre, shares of the frame) are drawn from rng unless given."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # the table: a colour with grain
    table = np.array(TABLES[rng.integers(len(TABLES))], dtype=np.float32)
    grain = ndimage.gaussian_filter(rng.normal(0, 1, (h, w)), (0.8, 6)) * 10
    picture = np.clip(table + grain[..., None], 0, 255)
    # the paper: most of the frame, rotated a little, off-white
    paper = Image.new("L", (w, h), 0)
    margin_y, margin_x = rng.uniform(0.02, 0.14, 2) * (h, w)
    rect = Image.new("L", (int(w - 2 * margin_x), int(h - 2 * margin_y)), 255)
    paper.paste(rect, (int(margin_x + rng.uniform(-0.05, 0.05) * w), int(margin_y + rng.uniform(-0.05, 0.05) * h)))
    paper = np.asarray(paper.rotate(rng.uniform(-8, 8), resample=Image.BILINEAR), dtype=np.float32)[..., None] / 255
    paper_colour = np.array([245, 242, 232], dtype=np.float32) + rng.uniform(-10, 8)
    picture = picture * (1 - paper) + paper_colour * paper
    # the digit: pen width, size, place (off-centre) and angle
    digit_px = int(rng.uniform(0.22, 0.5) * h)
    drawn_pen = float(rng.choice([rng.uniform(1.5, 3.0), rng.uniform(3.0, 7.0), rng.uniform(7.0, 14.0)]))  # thin pen, pen, marker
    pen_px = drawn_pen if pen_px is None else pen_px
    stroke = Image.fromarray((pen_stroke(digit, digit_px, pen_px) * 255).astype(np.uint8))
    stroke = np.asarray(stroke.rotate(rng.uniform(-12, 12), resample=Image.BILINEAR, expand=True), dtype=np.float32) / 255
    sh, sw = stroke.shape
    dy, dx = rng.uniform(-0.15, 0.15), rng.uniform(-0.2, 0.2)
    dy, dx = (dy, dx) if offset is None else offset
    cy, cx = int(h / 2 + dy * h) - sh // 2, int(w / 2 + dx * w) - sw // 2
    cy, cx = int(np.clip(cy, margin_y + 10, h - margin_y - sh - 10)), int(np.clip(cx, margin_x + 10, w - margin_x - sw - 10))
    ink_mask = np.zeros((h, w), np.float32)
    ink_mask[cy : cy + sh, cx : cx + sw] = stroke
    ink_mask *= paper[..., 0]
    ink_name = str(rng.choice(list(INKS)))
    ink = np.array(INKS[ink_name], dtype=np.float32)
    strength = rng.uniform(0.75, 0.95)
    picture = picture * (1 - strength * ink_mask[..., None]) + ink * strength * ink_mask[..., None]
    # uneven light: a gradient from one side and a vignette
    angle = rng.uniform(0, 2 * np.pi)
    gradient = ((xx - w / 2) * np.cos(angle) + (yy - h / 2) * np.sin(angle)) / (0.5 * np.hypot(h, w))
    dim = rng.uniform(0.15, 0.4)
    light = 1 - (dim if light is None else light) * (gradient + 1) / 2
    light *= 1 - rng.uniform(0.1, 0.3) * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2) * 2
    picture = picture * light[..., None]
    picture += rng.normal(0, 3.0, picture.shape)
    image = Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8), "RGB").filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(55, 90)))
    return Photo(buffer.getvalue(), int(label), ink_name, pen_px, digit_px)


def photos(images, labels, n: int = 200, seed: int = 0) -> list[Photo]:
    """n photos of the first n digits of (images (N, 784), labels (N,)), from one seed."""
    rng = np.random.default_rng(seed)
    return [make_photo(np.asarray(images[i]).reshape(28, 28), int(labels[i]), rng) for i in range(n)]
