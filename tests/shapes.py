"""Small image data sets that tests write: shapes drawn as a person might, in torchvision's ImageFolder layout."""

import io
import zipfile

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")


def shape_image(kind: str, rng: np.random.Generator, side: int = 48, dark_on_light: bool = True) -> Image.Image:
    """One outlined shape at a random size, place and stroke width."""
    paper, ink = (255, 0) if dark_on_light else (0, 255)
    picture = Image.new("L", (side, side), paper)
    draw = ImageDraw.Draw(picture)
    size = rng.uniform(0.45, 0.8) * side
    x0, y0 = rng.uniform(2, side - size - 2, 2)
    box = [x0, y0, x0 + size, y0 + size]
    width = int(rng.integers(2, 5))
    if kind == "circle":
        draw.ellipse(box, outline=ink, width=width)
    elif kind == "square":
        draw.rectangle(box, outline=ink, width=width)
    else:
        draw.polygon([(x0 + size / 2, y0), (x0, y0 + size), (x0 + size, y0 + size)], outline=ink, width=width)
    return picture


def png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def shapes_zip(per_class: int = 40, seed: int = 0, top: str = "shapes", extra: dict | None = None, classes=SHAPES) -> bytes:
    """A zip of one folder per shape inside one enclosing folder, with the clutter a Mac adds; `extra`: more entries."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for kind in classes:
            for i in range(per_class):
                archive.writestr(f"{top}/{kind}/{i:03d}.png", png(shape_image(kind, rng)))
        archive.writestr(f"__MACOSX/{top}/._x.png", b"resource fork")
        archive.writestr(f"{top}/.DS_Store", b"finder")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def fit_reader(train):
    """The kind of classifier the app reads an uploaded set's samples with: the project's small CNN, trained on the
    set's training part (cvae_core.classifier). Returns a function from (N, 784) arrays to predicted labels."""
    import torch

    from cvae_core.training.recipe import train_classifier

    classifier = train_classifier(train, epochs=30, seed=0)
    return lambda images: classifier.predict(torch.as_tensor(images, dtype=torch.float32)).numpy()
