"""A person's own data set: a zip or a folder in torchvision's ImageFolder layout, or an .npz, read safely.

Layout: one folder per class, the folder's name the class's name, label k the k-th name in sorted order (ImageFolder's
convention); PNG, JPEG, BMP and WebP images; one enclosing top-level folder allowed; `__MACOSX/` and `.DS_Store`
ignored; a file that is not an image is named and skipped. An .npz holds `images` (N x H x W, uint8), `labels` (N,) and
optionally `classes` (strings), and is read with allow_pickle=False.

Every bound is checked before the work it bounds: the archive's size before it is read; its entry count from the
end-of-directory record before the directory is parsed; the directory (each declared size, their total, every path,
symlink and encryption flag) before anything is decompressed; an .npz's labels and class names before anything is
sized by them; each image's format and pixel count from its header before it is decoded. Decompression is capped
again while it runs, since declared sizes can lie. Entries are unpacked and decoded one at a time, each image reduced
as it is decoded to at most MAX_READ_SIDE a side and dropped once its 28 x 28 fields are made, so a read holds one
image at a time; reads share one server-wide budget (`reading_slot`: MAX_READS_AT_ONCE at once, the next one waits).
Nothing is written to disk: entries are read into memory.

Images become 28 x 28 grey, light on black like MNIST: the set's polarity is decided from the images' borders (dark
strokes on light paper are inverted; `invert` overrides), each image is cropped to its ink and scaled into MNIST's
20-pixel field (cvae_core.images), and large photos of paper go through the digit preprocessing. A fixed share of each
class is held out, seeded: a tenth as "test" (what evaluate and Compare measure) and a tenth as "val" (what every
choice is made on); the rest is "train".
"""

import io
import os
import stat
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import numpy as np

from .errors import DatasetError, ImageError
from .gate import Gate
from .text import N_

MAX_ARCHIVE_BYTES = 50 * 1024 * 1024  # what an upload or a file may weigh
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024  # what its entries may add up to once decompressed
MAX_ENTRY_BYTES = 20 * 1024 * 1024  # one entry, decompressed
MAX_ENTRIES = 25_000  # entries in an archive's directory (images, folders and the rest)
MAX_NPZ_ENTRIES = 16  # an .npz holds three arrays; a few more are tolerated, not thousands
MAX_IMAGES = 20_000
MAX_CLASSES = 26  # EMNIST letters
MAX_CLASS_NAME = 64  # characters: a name is shown beside every sample grid
MIN_CLASSES, MIN_PER_CLASS = 2, 5
MAX_IMAGE_PIXELS = 16_000_000  # one image, checked from its header before it is decoded
MAX_READ_SIDE = 512  # each image is reduced to this as it is decoded: the digit preprocessing works at this size anyway
MAX_NPZ_SIDE = 512  # an .npz's images, each side
MAX_TOTAL_PIXELS = 400_000_000  # all images together: bounded work per data set
PHOTO_SIDE = 100  # a light image larger than this is a photo of paper: the digit preprocessing reads it
FORMATS = ("PNG", "JPEG", "BMP", "WEBP")  # what Pillow may open, whatever a file's suffix says
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
IGNORED = {"__MACOSX", ".DS_Store", "Thumbs.db"}
SPLIT_SEED = 2015  # the held-out shares are drawn with this seed, so a data set's splits never change
HELD_OUT = 10  # one in HELD_OUT of each class is test, another one in HELD_OUT validation
# Reads in progress, server-wide: one read holds a compressed upload (up to 50 MB), one unpacked entry and one reduced
# image at a time, so two at once keep a room of uploaders within a few hundred MB; the next visitor waits its turn.
MAX_READS_AT_ONCE = 2
READS = Gate(MAX_READS_AT_ONCE)


def reading_slot(waiting: Callable[[], None] | None = None):
    """Hold one of the server's reading slots; `waiting()` is called first when none is free (a page says "busy")."""
    return READS.slot(waiting)


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
    # The same images read with the other polarity, made while the file was read (a flip reads nothing again), or
    # why they cannot be made; neither for a drawn set.
    other_polarity: np.ndarray | None = field(default=None, repr=False, compare=False)
    other_refusal: DatasetError | None = field(default=None, repr=False, compare=False)

    def counts(self) -> list[int]:
        return np.bincount(self.labels, minlength=len(self.classes)).tolist()

    def flipped(self) -> "OwnData":
        """The set with light and dark the other way round, from what was read. Raises DatasetError with the sentence
        for an image that has no ink that way round."""
        if self.other_refusal is not None:
            raise self.other_refusal
        if self.other_polarity is None:
            _refuse(N_("This data set can only be read one way round."))
        return replace(self, images=self.other_polarity, inverted=not self.inverted, other_polarity=self.images)

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


def _check_entry_count(data: bytes, limit: int, unreadable: str) -> None:
    """Refuse an archive of more than `limit` entries, read from its end-of-central-directory record (and the directory's
    own signatures, in case the record lies) before zipfile parses a single entry: parsing half a million entries costs
    seconds and hundreds of MB."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65_535))
    if end < 0 or end + 22 > len(data):
        _refuse(unreadable, detail="no end-of-directory record")
    count, size = struct.unpack_from("<HI", data, end + 10)
    directory_end = end
    locator = end - 20
    if (count == 0xFFFF or size == 0xFFFFFFFF) and locator >= 0 and data[locator : locator + 4] == b"PK\x06\x07":
        record = struct.unpack_from("<Q", data, locator + 8)[0]  # zip64: the counts are in the zip64 record
        if record + 56 > len(data) or data[record : record + 4] != b"PK\x06\x06":
            _refuse(unreadable, detail="bad zip64 record")
        count, size = struct.unpack_from("<QQ", data, record + 32)
        directory_end = record
    counted = data.count(b"PK\x01\x02", max(0, directory_end - size), directory_end)
    if max(count, counted) > limit:
        _refuse(N_("The archive holds {count:,} entries; the limit is {limit:,}."), count=max(count, counted), limit=limit)


def _open_zip(data: bytes, limit: int, unreadable: str) -> zipfile.ZipFile:
    """The archive, its entry count checked first; every entry's encryption flag checked. `unreadable`: the sentence
    for a file that is not an archive (with a {detail})."""
    _check_entry_count(data, limit, unreadable)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        _refuse(unreadable, detail=str(e)[:120])
    for info in archive.infolist():
        if info.flag_bits & 0x1:
            _refuse(N_("{name} in the archive is encrypted; save the archive without a password."), name=info.filename[:80])
    return archive


def _zip_entries(data: bytes) -> list[tuple[tuple[str, ...], Callable[[], bytes]]]:
    """(path parts, a reader of its bytes) for every file in a zip, checked as the module says. The reader unpacks the
    entry when called (one at a time), capped again as it unpacks."""
    archive = _open_zip(data, MAX_ENTRIES, N_("This file is not a zip archive that can be read ({detail})."))
    kept = []
    declared = 0
    for info in archive.infolist():
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
    unpacked = [0]

    def reader(info: zipfile.ZipInfo) -> Callable[[], bytes]:
        def read() -> bytes:
            try:
                with archive.open(info) as stream:
                    body = stream.read(MAX_ENTRY_BYTES + 1)  # capped again: a declared size can lie
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as e:
                _refuse(N_("{name} in the archive cannot be unpacked ({detail})."), name=info.filename[:80], detail=str(e))
            unpacked[0] += len(body)
            if len(body) > MAX_ENTRY_BYTES or unpacked[0] > MAX_UNCOMPRESSED_BYTES:
                _refuse(N_("The archive unpacks to more than its directory says; it is refused."))
            return body

        return read

    return [(parts, reader(info)) for parts, info in kept]


def _folder_entries(root: Path) -> list[tuple[tuple[str, ...], Callable[[], bytes]]]:
    """(path parts, a reader of its bytes) for every file under a folder, symbolic links refused, sizes checked before
    anything is read."""
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
    for parts, p in kept:
        if p.suffix.lower() in IMAGE_SUFFIXES and sizes[p] > MAX_ENTRY_BYTES:
            _refuse(N_("{name} would unpack to {size_mb:.0f} MB; the limit for one file is {limit_mb:.0f} MB."),
                    name="/".join(parts)[:80], size_mb=sizes[p] / 1e6, limit_mb=MAX_ENTRY_BYTES / 1e6)  # fmt: skip
    return [(parts, p.read_bytes) for parts, p in kept]


def _check_image_count(paths) -> None:
    images = sum(PurePosixPath(*parts).suffix.lower() in IMAGE_SUFFIXES for parts in paths)
    if images > MAX_IMAGES:
        _refuse(N_("The data set holds {count:,} images; the limit is {limit:,}."), count=images, limit=MAX_IMAGES)


# ---- from entries to a data set ---------------------------------------------------------------------------
def _by_class(entries) -> tuple[dict[str, list], list[str]]:
    """Images by class folder (one enclosing top-level folder stripped), and the names of the entries skipped."""
    tops = {parts[0] for parts, _ in entries}
    enclosed = all(len(parts) >= 2 for parts, _ in entries) and any(len(parts) >= 3 for parts, _ in entries)
    if len(tops) == 1 and enclosed:  # one enclosing folder around the class folders
        entries = [(parts[1:], body) for parts, body in entries]
    classes: dict[str, list] = {}
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
    """One image as a 2-D grey array in [0, 1] (white = 1), at most MAX_READ_SIDE a side: its format and pixel count
    checked from its header first, the total pixel budget charged before it is decoded."""
    from .images import load_image, read_header

    width, height = read_header(body, FORMATS, MAX_IMAGE_PIXELS)
    budget[0] -= width * height
    if budget[0] < 0:
        _refuse(
            N_("The images add up to more than {limit:,} million pixels; the limit keeps the work bounded."),
            limit=MAX_TOTAL_PIXELS // 1_000_000,
        )
    return load_image(body, formats=FORMATS, max_side=MAX_READ_SIDE, max_pixels=MAX_IMAGE_PIXELS)


def _border(grey: np.ndarray) -> float:
    """The median of an image's border: light paper or a dark ground."""
    return float(np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])))


def _field(grey: np.ndarray, light: bool) -> np.ndarray:
    """One image in MNIST's field, light on black, as uint8: a large light photo through the digit preprocessing, the
    rest (inverted if the set is dark on light) cropped to its ink and scaled into the 20-pixel box."""
    from .images import preprocess_digit

    if light and max(grey.shape) > PHOTO_SIDE:
        field = preprocess_digit(grey)
    else:
        field = preprocess_digit(1.0 - grey if light else grey)
    return (np.clip(field, 0, 1) * 255).round().astype(np.uint8)


class _Fields:
    """Both polarities' 28 x 28 fields of every image, made one image at a time as the images are read (an image is
    dropped once its fields are made), with each image's border to decide the set's polarity at the end."""

    def __init__(self, n: int):
        self.fields = {False: np.zeros((n, 28, 28), np.uint8), True: np.zeros((n, 28, 28), np.uint8)}
        self.refusals: dict[bool, DatasetError] = {}
        self.borders = np.zeros(n, np.float32)

    def add(self, i: int, name: str, grey: np.ndarray) -> None:
        self.borders[i] = _border(grey)
        for light in (False, True):
            if light in self.refusals:
                continue
            try:
                self.fields[light][i] = _field(grey, light)
            except ImageError as e:
                self.refusals[light] = DatasetError(N_("{name}: {reason}"), name=name[:80], reason=str(e))

    def data_set(self, labels, classes, invert: bool | None, skipped=()) -> OwnData:
        light = bool(np.median(self.borders) > 0.5) if invert is None else invert
        if light in self.refusals:
            raise self.refusals[light]
        return OwnData(
            self.fields[light], np.asarray(labels, dtype=np.int64), tuple(classes), light, tuple(skipped),
            other_polarity=None if (not light) in self.refusals else self.fields[not light],
            other_refusal=self.refusals.get(not light),
        )  # fmt: skip


def _from_images(classes: dict[str, list], skipped: list[str], invert: bool | None) -> OwnData:
    _check_classes({name: len(items) for name, items in classes.items()})
    names = tuple(sorted(classes))
    budget = [MAX_TOTAL_PIXELS]
    fields = _Fields(sum(len(items) for items in classes.values()))
    labels = []
    for label, name in enumerate(names):
        for i, read in enumerate(classes[name]):
            shown = f"{name} (image {i + 1})"
            try:
                grey = _decode(read(), budget)
            except ImageError as e:
                _refuse(N_("{name}: {reason}"), name=shown, reason=str(e))
            fields.add(len(labels), shown, grey)
            labels.append(label)
    return fields.data_set(labels, names, invert, skipped)


def _class_names(classes: np.ndarray | None, labels: np.ndarray) -> tuple[str, ...]:
    """An .npz's class names, checked before anything is sized by them or by its labels: labels are integers from 0
    to MAX_CLASSES - 1, names (if given) at most MAX_CLASSES, each non-empty and at most MAX_CLASS_NAME characters."""
    if labels.size == 0 or labels.min() < 0 or labels.max() >= MAX_CLASSES:
        _refuse(N_("labels must be whole numbers from 0 to {top}, one per image."), top=MAX_CLASSES - 1)
    if classes is None:
        return tuple(str(k) for k in range(int(labels.max()) + 1))
    if classes.ndim != 1 or not (np.issubdtype(classes.dtype, np.str_) or np.issubdtype(classes.dtype, np.integer)):
        _refuse(N_("classes must be a list of names."))
    if len(classes) > MAX_CLASSES:
        _refuse(N_("classes holds {count:,} names; a data set has at most {limit} class names."), count=len(classes), limit=MAX_CLASSES)
    names = tuple(str(c) for c in classes)
    if any(len(n) > MAX_CLASS_NAME for n in names):
        _refuse(N_("Class names may have at most {limit} characters."), limit=MAX_CLASS_NAME)
    if any(not n.strip() for n in names):
        _refuse(N_("Class names must not be empty."))
    if labels.max() >= len(names):
        _refuse(N_("labels must run from 0 to the number of classes minus one."))
    return names


def _from_npz(data: bytes, invert: bool | None) -> OwnData:
    archive = _open_zip(data, MAX_NPZ_ENTRIES, N_("This file is not an .npz that can be read ({detail})."))
    declared = sum(info.file_size for info in archive.infolist())
    if declared > MAX_UNCOMPRESSED_BYTES:  # the directory is checked before numpy decompresses anything
        _refuse(N_("The archive would unpack to {size_mb:,.0f} MB; the limit is {limit_mb:,.0f} MB."),
                size_mb=declared / 1e6, limit_mb=MAX_UNCOMPRESSED_BYTES / 1e6)  # fmt: skip
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if "images" not in npz.files or "labels" not in npz.files:
                _refuse(N_("The .npz needs arrays named images and labels; it has {names}."), names=", ".join(npz.files) or "none")
            labels = npz["labels"]  # small: read and checked before the images are unpacked
            if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
                _refuse(N_("labels must be N integers, one per image."))
            names = _class_names(npz["classes"] if "classes" in npz.files else None, labels)
            images = npz["images"]
    except DatasetError:
        raise
    except ValueError as e:  # object arrays need pickle, which is never used
        _refuse(N_("The .npz cannot be read without running code from it ({detail}); it is refused."), detail=str(e)[:120])
    except (OSError, zipfile.BadZipFile, EOFError, RuntimeError) as e:
        _refuse(N_("This file is not an .npz that can be read ({detail})."), detail=str(e)[:120])
    if images.dtype != np.uint8 or images.ndim != 3:
        _refuse(
            N_("images must be an N × H × W array of uint8; it is {shape} of {dtype}."),
            shape=" × ".join(map(str, images.shape)),
            dtype=str(images.dtype),
        )
    if len(images) > MAX_IMAGES:
        _refuse(N_("The data set holds {count:,} images; the limit is {limit:,}."), count=len(images), limit=MAX_IMAGES)
    if max(images.shape[1:]) > MAX_NPZ_SIDE or min(images.shape[1:]) < 1:
        _refuse(N_("The images are {width}×{height} pixels; in an .npz the limit is {limit}×{limit}."),
                width=images.shape[2], height=images.shape[1], limit=MAX_NPZ_SIDE)  # fmt: skip
    if labels.shape != (len(images),):
        _refuse(N_("labels must be N integers, one per image."))
    _check_classes(dict(zip(names, np.bincount(labels, minlength=len(names)).tolist(), strict=True)))
    fields = _Fields(len(images))
    for i, (img, y) in enumerate(zip(images, labels, strict=True)):  # one image at a time, as float only while it is read
        fields.add(i, f"{names[int(y)]}/{i + 1}", img.astype(np.float32) / 255.0)
    return fields.data_set(labels, names, invert)


def read_own_data(
    source: bytes | Path | str, name: str = "", invert: bool | None = None, waiting: Callable[[], None] | None = None
) -> OwnData:
    """A data set from a zip or .npz (bytes, or a file's path) or a folder; `name` says which (its suffix) for bytes.
    invert: None decides the polarity from the images (OwnData.flipped gives the other). The read holds one of the
    server's reading slots; `waiting()` is called first when none is free. Raises DatasetError with a sentence."""
    with reading_slot(waiting):
        return _read(source, name, invert)


def _read(source: bytes | Path | str, name: str, invert: bool | None) -> OwnData:
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


def check_drawings(counts: dict[str, int]) -> None:
    """Whether drawings this many a class (class name -> count, classes not drawn left out) make a data set, before any
    is read: raises DatasetError with the sentence (too many classes, too few, or a class with too few drawings)."""
    if len(counts) > MAX_DRAWN_CLASSES:
        _refuse(N_("The data set has {count} classes; the limit is {limit}."), count=len(counts), limit=MAX_DRAWN_CLASSES)
    _check_classes(counts)


def from_drawings(
    drawings: dict[str, list[np.ndarray]], copies: int = AUGMENTED_COPIES, seed: int = 0, per_class: int = MAX_DRAWINGS_PER_CLASS
) -> OwnData:
    """A data set from drawings made in the app (class name -> 28 x 28 drawings, ink = 1, as cvae_core.images makes
    them): each drawing (the first `per_class` of a class) and `copies` - 1 augmented copies of it, grouped, so that a
    held-out drawing's copies are held out with it. Raises DatasetError for too few classes or drawings."""
    check_drawings({name: len(items) for name, items in drawings.items()})
    rng = np.random.default_rng(seed)
    names = tuple(sorted(drawings))
    images, labels, groups = [], [], []
    for label, name in enumerate(names):
        for drawing in drawings[name][:per_class]:
            group = len(set(groups))
            for copy in range(copies):
                images.append(drawing if copy == 0 else augmented(drawing, rng))
                labels.append(label)
                groups.append(group)
    stacked = (np.clip(np.stack(images), 0, 1) * 255).round().astype(np.uint8)
    return OwnData(stacked, np.asarray(labels, dtype=np.int64), names, False, (), np.asarray(groups))


def imagefolder_zip(images: np.ndarray, labels, classes: tuple[str, ...]) -> bytes:
    """Images (N, 28, 28) uint8, ink = 255, as a zip in torchvision's ImageFolder layout: one folder per class (named as
    the class), one PNG per image; what read_own_data reads back (a room's accepted drawings, downloaded)."""
    from PIL import Image

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i, (image, label) in enumerate(zip(np.asarray(images, dtype=np.uint8), labels, strict=True)):
            picture = io.BytesIO()
            Image.fromarray(image.reshape(28, 28), mode="L").save(picture, format="PNG")
            archive.writestr(f"{classes[int(label)]}/{i:05d}.png", picture.getvalue())
    return buffer.getvalue()
