"""A person's own data set: a zip or a folder in torchvision's ImageFolder layout, or an .npz, read safely.

Layout: one folder per class, the folder's name the class's name, label k the k-th name in sorted order (ImageFolder's
convention); PNG, JPEG, BMP and WebP images; one enclosing top-level folder allowed; `__MACOSX/` and `.DS_Store`
ignored; a file that is not an image is named and skipped. An .npz holds `images` (N x H x W, uint8), `labels` (N,) and
optionally `classes` (strings), and is read with allow_pickle=False.

Every bound is checked before the work it bounds: the archive's size before it is read, its directory (entry count,
each declared size, their total, every path and symlink) before anything is decompressed, each image's pixel count
before it is decoded; and decompression is capped again while it runs, since declared sizes can lie. Nothing is
written to disk: entries are read into memory.

Images become 28 x 28 grey, light on black like MNIST: the set's polarity is decided from the images' borders (dark
strokes on light paper are inverted; `invert` overrides), each image is cropped to its ink and scaled into MNIST's
20-pixel field (cvae_core.images), and large photos of paper go through the digit preprocessing. A fixed share of each
class is held out, seeded: a tenth as "test" (what evaluate and Compare measure) and a tenth as "val" (what every
choice is made on); the rest is "train".
"""

import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from .errors import DatasetError, ImageError
from .text import N_

MAX_ARCHIVE_BYTES = 50 * 1024 * 1024  # what an upload or a file may weigh
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024  # what its entries may add up to once decompressed
MAX_ENTRY_BYTES = 20 * 1024 * 1024  # one entry, decompressed
MAX_ENTRIES = 25_000  # entries in an archive's directory (images, folders and the rest)
MAX_IMAGES = 20_000
MAX_CLASSES = 26  # EMNIST letters
MIN_CLASSES, MIN_PER_CLASS = 2, 5
MAX_IMAGE_PIXELS = 16_000_000  # one image, checked from its header before it is decoded
MAX_NPZ_SIDE = 512  # an .npz's images, each side
MAX_TOTAL_PIXELS = 400_000_000  # all images together: bounded work per data set
PHOTO_SIDE = 100  # a light image larger than this is a photo of paper: the digit preprocessing reads it
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
IGNORED = {"__MACOSX", ".DS_Store", "Thumbs.db"}
SPLIT_SEED = 2015  # the held-out shares are drawn with this seed, so a data set's splits never change
HELD_OUT = 10  # one in HELD_OUT of each class is test, another one in HELD_OUT validation


@dataclass(frozen=True)
class OwnData:
    """A data set read from a person's file: images (N, 28, 28) uint8, ink = 255 (a quarter of float32's memory: a
    visitor's set is held in their session); labels (N,) int64."""

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]
    inverted: bool  # dark strokes on light paper were turned light on black
    skipped: tuple[str, ...] = ()  # entries that are not images, by name
    # Which original image each one comes from (augmented copies share it): the held-out shares are drawn by group,
    # so that no copy of a test image is trained on. None: every image is its own.
    groups: np.ndarray | None = None

    def counts(self) -> list[int]:
        return np.bincount(self.labels, minlength=len(self.classes)).tolist()

    def split_indices(self, split: str) -> np.ndarray:
        """The indices of a split: "test" and "val" a tenth of each class each (at least one), "train" the rest."""
        if split == "all":
            return np.arange(len(self.labels))
        groups = np.arange(len(self.labels)) if self.groups is None else self.groups
        rng = np.random.default_rng(SPLIT_SEED)
        parts = {"train": [], "val": [], "test": []}
        for label in range(len(self.classes)):
            members = np.unique(groups[self.labels == label])
            members = members[rng.permutation(len(members))]
            k = max(1, len(members) // HELD_OUT)
            for split_name, chosen in (("test", members[:k]), ("val", members[k : 2 * k]), ("train", members[2 * k :])):
                parts[split_name].append(np.flatnonzero(np.isin(groups, chosen) & (self.labels == label)))
        return np.sort(np.concatenate(parts[split]))


def _refuse(message: str, **fields):
    raise DatasetError(message, **fields)


# ---- reading the container ------------------------------------------------------------------------------
def _safe_parts(name: str) -> tuple[str, ...] | None:
    """An entry's path as parts, or None for one to ignore; refuses a path that would leave its folder."""
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        _refuse(N_("The archive holds an entry with an absolute or Windows path ({name}); it is refused."), name=name[:80])
    parts = PurePosixPath(name).parts
    if ".." in parts:
        _refuse(N_("The archive holds an entry that points outside its folder ({name}); it is refused."), name=name[:80])
    if any(p in IGNORED or p.startswith("._") for p in parts):
        return None
    return parts


def _zip_entries(data: bytes) -> list[tuple[tuple[str, ...], bytes]]:
    """(path parts, bytes) of every file in a zip, checked as the module says, read in memory."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        _refuse(N_("This file is not a zip archive that can be read ({detail})."), detail=str(e))
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        _refuse(N_("The archive holds {count:,} entries; the limit is {limit:,}."), count=len(infos), limit=MAX_ENTRIES)
    kept = []
    declared = 0
    for info in infos:
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            _refuse(N_("The archive holds a symbolic link ({name}); it is refused."), name=info.filename[:80])
        parts = _safe_parts(info.filename)
        if parts is None or info.is_dir():
            continue
        if info.file_size > MAX_ENTRY_BYTES:
            _refuse(N_("{name} would unpack to {size_mb:.0f} MB; the limit for one file is {limit_mb:.0f} MB."),
                    name=info.filename[:80], size_mb=info.file_size / 1e6, limit_mb=MAX_ENTRY_BYTES / 1e6)  # fmt: skip
        declared += info.file_size
        kept.append((parts, info))
    if declared > MAX_UNCOMPRESSED_BYTES:
        _refuse(N_("The archive would unpack to {size_mb:,.0f} MB; the limit is {limit_mb:,.0f} MB."),
                size_mb=declared / 1e6, limit_mb=MAX_UNCOMPRESSED_BYTES / 1e6)  # fmt: skip
    _check_image_count([parts for parts, _ in kept])
    out, total = [], 0
    for parts, info in kept:
        if PurePosixPath(*parts).suffix.lower() not in IMAGE_SUFFIXES:
            out.append((parts, b""))  # named as skipped, never decompressed
            continue
        try:
            with archive.open(info) as stream:
                body = stream.read(MAX_ENTRY_BYTES + 1)  # capped again: a declared size can lie
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
            _refuse(N_("{name} in the archive cannot be unpacked ({detail})."), name=info.filename[:80], detail=str(e))
        total += len(body)
        if len(body) > MAX_ENTRY_BYTES or total > MAX_UNCOMPRESSED_BYTES:
            _refuse(N_("The archive unpacks to more than its directory says; it is refused."))
        out.append((parts, body))
    return out


def _folder_entries(root: Path) -> list[tuple[tuple[str, ...], bytes]]:
    """(path parts, bytes) of every file under a folder, symbolic links refused, sizes checked before reading."""
    found = []
    for here, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(here) / name
            if path.is_symlink():
                _refuse(N_("The folder holds a symbolic link ({name}); it is refused."), name=str(path.relative_to(root))[:80])
        dirs[:] = [d for d in dirs if d not in IGNORED]
        found += [Path(here) / f for f in files]
        if len(found) > MAX_ENTRIES:
            _refuse(N_("The archive holds {count:,} entries; the limit is {limit:,}."), count=len(found), limit=MAX_ENTRIES)
    kept = [(p.relative_to(root).parts, p) for p in found]
    kept = [(parts, p) for parts, p in kept if _safe_parts("/".join(parts)) is not None]
    _check_image_count([parts for parts, _ in kept])
    sizes = {p: p.stat().st_size for _, p in kept}
    if sum(sizes.values()) > MAX_UNCOMPRESSED_BYTES:
        _refuse(N_("The archive would unpack to {size_mb:,.0f} MB; the limit is {limit_mb:,.0f} MB."),
                size_mb=sum(sizes.values()) / 1e6, limit_mb=MAX_UNCOMPRESSED_BYTES / 1e6)  # fmt: skip
    out = []
    for parts, p in kept:
        image = p.suffix.lower() in IMAGE_SUFFIXES
        if image and sizes[p] > MAX_ENTRY_BYTES:
            _refuse(N_("{name} would unpack to {size_mb:.0f} MB; the limit for one file is {limit_mb:.0f} MB."),
                    name="/".join(parts)[:80], size_mb=sizes[p] / 1e6, limit_mb=MAX_ENTRY_BYTES / 1e6)  # fmt: skip
        out.append((parts, p.read_bytes() if image else b""))
    return out


def _check_image_count(paths) -> None:
    images = sum(PurePosixPath(*parts).suffix.lower() in IMAGE_SUFFIXES for parts in paths)
    if images > MAX_IMAGES:
        _refuse(N_("The data set holds {count:,} images; the limit is {limit:,}."), count=images, limit=MAX_IMAGES)


# ---- from entries to a data set ---------------------------------------------------------------------------
def _by_class(entries) -> tuple[dict[str, list[bytes]], list[str]]:
    """Images by class folder (one enclosing top-level folder stripped), and the names of the entries skipped."""
    tops = {parts[0] for parts, _ in entries}
    enclosed = all(len(parts) >= 2 for parts, _ in entries) and any(len(parts) >= 3 for parts, _ in entries)
    if len(tops) == 1 and enclosed:  # one enclosing folder around the class folders
        entries = [(parts[1:], body) for parts, body in entries]
    classes: dict[str, list[bytes]] = {}
    skipped = []
    for parts, body in entries:
        name = "/".join(parts)
        if len(parts) < 2 or PurePosixPath(name).suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append(name)
            continue
        classes.setdefault(parts[0], []).append(body)
    return classes, skipped


def _check_classes(counts: dict[str, int]) -> None:
    if len(counts) > MAX_CLASSES:
        _refuse(N_("The data set has {count} classes; the limit is {limit}."), count=len(counts), limit=MAX_CLASSES)
    enough = [name for name, n in counts.items() if n >= MIN_PER_CLASS]
    if len(counts) < MIN_CLASSES:
        _refuse(
            N_("The data set needs at least {minimum} classes (one folder each); it has {count}."), minimum=MIN_CLASSES, count=len(counts)
        )
    if len(enough) < len(counts):
        short = ", ".join(f"{name} ({counts[name]})" for name in sorted(counts) if counts[name] < MIN_PER_CLASS)
        _refuse(N_("Every class needs at least {minimum} images; these have fewer: {classes}."), minimum=MIN_PER_CLASS, classes=short)


def _decode(body: bytes, budget: list[int]) -> np.ndarray:
    """One image as a 2-D grey array in [0, 1] (white = 1), its pixel count checked from its header first."""
    from PIL import Image

    from .images import load_image

    try:
        width, height = Image.open(io.BytesIO(body)).size
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        raise ImageError(
            N_("This file is not an image that can be read ({kind}: {detail})."), kind="image", detail="unreadable header"
        ) from None
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageError(N_("The image is {width}×{height} pixels; the limit is {limit_megapixels} megapixels."),
                         width=width, height=height, limit_megapixels=MAX_IMAGE_PIXELS // 1_000_000)  # fmt: skip
    budget[0] -= width * height
    if budget[0] < 0:
        _refuse(
            N_("The images add up to more than {limit:,} million pixels; the limit keeps the work bounded."),
            limit=MAX_TOTAL_PIXELS // 1_000_000,
        )
    return load_image(body)


def _on_light(greys: list[np.ndarray]) -> bool:
    """Dark strokes on light paper? Decided for the whole set from the images' borders."""
    borders = [np.median(np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])) for g in greys]
    return float(np.median(borders)) > 0.5


def _field(grey: np.ndarray, light: bool) -> np.ndarray:
    """One image in MNIST's field, light on black: a large light photo through the digit preprocessing, the rest
    (inverted if the set is dark on light) cropped to its ink and scaled into the 20-pixel box."""
    from .images import preprocess_digit

    if light and max(grey.shape) > PHOTO_SIDE:
        return preprocess_digit(grey)
    return preprocess_digit(1.0 - grey if light else grey)


def _to_fields(named_greys: list[tuple[str, np.ndarray]], invert: bool | None) -> tuple[np.ndarray, bool]:
    light = _on_light([g for _, g in named_greys]) if invert is None else invert
    fields = []
    for name, grey in named_greys:
        try:
            fields.append(_field(grey, light))
        except ImageError as e:
            _refuse(N_("{name}: {reason}"), name=name[:80], reason=str(e))
    return (np.clip(np.stack(fields), 0, 1) * 255).round().astype(np.uint8), light


def _from_images(classes: dict[str, list[bytes]], skipped: list[str], invert: bool | None) -> OwnData:
    _check_classes({name: len(items) for name, items in classes.items()})
    names = tuple(sorted(classes))
    budget = [MAX_TOTAL_PIXELS]
    named, labels = [], []
    for label, name in enumerate(names):
        for i, body in enumerate(classes[name]):
            try:
                named.append((f"{name}/{i + 1}", _decode(body, budget)))
            except ImageError as e:
                _refuse(N_("{name}: {reason}"), name=f"{name} (image {i + 1})", reason=str(e))
            labels.append(label)
    images, light = _to_fields(named, invert)
    return OwnData(images, np.asarray(labels, dtype=np.int64), names, light, tuple(skipped))


def _from_npz(data: bytes, invert: bool | None) -> OwnData:
    _zip_entries_checked_only(data)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if "images" not in npz.files or "labels" not in npz.files:
                _refuse(N_("The .npz needs arrays named images and labels; it has {names}."), names=", ".join(npz.files) or "none")
            images, labels = npz["images"], npz["labels"]
            classes = npz["classes"] if "classes" in npz.files else None
    except DatasetError:
        raise
    except ValueError as e:  # object arrays need pickle, which is never used
        _refuse(N_("The .npz cannot be read without running code from it ({detail}); it is refused."), detail=str(e)[:120])
    except (OSError, zipfile.BadZipFile, EOFError) as e:
        _refuse(N_("This file is not an .npz that can be read ({detail})."), detail=str(e)[:120])
    if images.dtype != np.uint8 or images.ndim != 3:
        _refuse(
            N_("images must be an N × H × W array of uint8; it is {shape} of {dtype}."),
            shape=" × ".join(map(str, images.shape)),
            dtype=str(images.dtype),
        )
    if len(images) > MAX_IMAGES:
        _refuse(N_("The data set holds {count:,} images; the limit is {limit:,}."), count=len(images), limit=MAX_IMAGES)
    if max(images.shape[1:]) > MAX_NPZ_SIDE:
        _refuse(N_("The images are {width}×{height} pixels; in an .npz the limit is {limit}×{limit}."),
                width=images.shape[2], height=images.shape[1], limit=MAX_NPZ_SIDE)  # fmt: skip
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        _refuse(N_("labels must be N integers, one per image."))
    found = np.unique(labels)
    n_classes = len(classes) if classes is not None else int(found.max()) + 1
    if found.min() < 0 or found.max() >= n_classes:
        _refuse(N_("labels must run from 0 to the number of classes minus one."))
    names = tuple(str(c) for c in classes) if classes is not None else tuple(str(k) for k in range(n_classes))
    counts = {names[k]: int((labels == k).sum()) for k in range(n_classes)}
    _check_classes(counts)
    named = [(f"{names[int(y)]}/{i + 1}", img.astype(np.float32) / 255.0) for i, (img, y) in enumerate(zip(images, labels, strict=True))]
    fields, light = _to_fields(named, invert)
    return OwnData(fields, labels.astype(np.int64), names, light)


def _zip_entries_checked_only(data: bytes) -> None:
    """An .npz is a zip: its directory is checked (sizes, paths) before numpy decompresses anything."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        _refuse(N_("This file is not an .npz that can be read ({detail})."), detail=str(e)[:120])
    declared = sum(info.file_size for info in archive.infolist())
    if len(archive.infolist()) > 16 or declared > MAX_UNCOMPRESSED_BYTES:
        _refuse(N_("The archive would unpack to {size_mb:,.0f} MB; the limit is {limit_mb:,.0f} MB."),
                size_mb=declared / 1e6, limit_mb=MAX_UNCOMPRESSED_BYTES / 1e6)  # fmt: skip


def read_own_data(source: bytes | Path | str, name: str = "", invert: bool | None = None) -> OwnData:
    """A data set from a zip or .npz (bytes, or a file's path) or a folder; `name` says which (its suffix) for bytes.
    invert: None decides the polarity from the images. Raises DatasetError with a sentence."""
    if isinstance(source, bytes):
        data, name = source, name
    else:
        path = Path(source)
        if path.is_dir():
            classes, skipped = _by_class(_folder_entries(path))
            return _from_images(classes, skipped, invert)
        size = path.stat().st_size
        if size > MAX_ARCHIVE_BYTES:
            _refuse(
                N_("The file is {size_mb:.1f} MB; the limit is {limit_mb:.0f} MB."), size_mb=size / 1e6, limit_mb=MAX_ARCHIVE_BYTES / 1e6
            )
        data, name = path.read_bytes(), path.name
    if len(data) > MAX_ARCHIVE_BYTES:
        _refuse(
            N_("The file is {size_mb:.1f} MB; the limit is {limit_mb:.0f} MB."), size_mb=len(data) / 1e6, limit_mb=MAX_ARCHIVE_BYTES / 1e6
        )
    if name.lower().endswith(".npz"):
        return _from_npz(data, invert)
    if name.lower().endswith(".zip"):
        classes, skipped = _by_class(_zip_entries(data))
        return _from_images(classes, skipped, invert)
    _refuse(
        N_("A data set is a .zip of one folder per class, an .npz, or a folder; {name} is none of these."), name=name[:80] or "this file"
    )


# ---- a data set drawn in the app ---------------------------------------------------------------------------
MAX_DRAWN_CLASSES, MAX_DRAWINGS_PER_CLASS = 10, 50
AUGMENTED_COPIES = 24  # each drawing becomes this many: a handful of drawings a class is too few to learn from


def augmented(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of a 28 x 28 drawing (float, ink = 1) shifted by up to 2 pixels, turned by up to 12 degrees and drawn
    with a thinner or thicker stroke: the ways a hand varies."""
    from PIL import Image, ImageFilter

    picture = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8))
    picture = picture.rotate(float(rng.uniform(-12, 12)), resample=Image.BILINEAR)
    stroke = int(rng.integers(-1, 2))  # thinner, as drawn, or thicker
    if stroke:
        picture = picture.filter(ImageFilter.MaxFilter(3) if stroke > 0 else ImageFilter.MinFilter(3))
    dy, dx = rng.integers(-2, 3, size=2)
    return np.roll(np.asarray(picture, dtype=np.float32) / 255.0, (int(dy), int(dx)), axis=(0, 1))


def from_drawings(drawings: dict[str, list[np.ndarray]], copies: int = AUGMENTED_COPIES, seed: int = 0) -> OwnData:
    """A data set from drawings made in the app (class name -> 28 x 28 drawings, ink = 1, as cvae_core.images makes
    them): each drawing and `copies` - 1 augmented copies of it, grouped, so that a held-out drawing's copies are
    held out with it. Raises DatasetError for too few classes or drawings."""
    counts = {name: len(items) for name, items in drawings.items()}
    if len(counts) > MAX_DRAWN_CLASSES:
        _refuse(N_("The data set has {count} classes; the limit is {limit}."), count=len(counts), limit=MAX_DRAWN_CLASSES)
    _check_classes(counts)
    rng = np.random.default_rng(seed)
    names = tuple(sorted(drawings))
    images, labels, groups = [], [], []
    for label, name in enumerate(names):
        for drawing in drawings[name][:MAX_DRAWINGS_PER_CLASS]:
            group = len(set(groups))
            for copy in range(copies):
                images.append(drawing if copy == 0 else augmented(drawing, rng))
                labels.append(label)
                groups.append(group)
    stacked = (np.clip(np.stack(images), 0, 1) * 255).round().astype(np.uint8)
    return OwnData(stacked, np.asarray(labels, dtype=np.int64), names, False, (), np.asarray(groups))
