"""A person's own data set: reading zips, folders and .npz files safely, splitting them, training on them from the CLI."""

import io
import json
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from cvae_core.data import load_dataset, own_dataset
from cvae_core.errors import DatasetError
from cvae_core.own_data import MAX_IMAGE_PIXELS, read_own_data
from tests.conftest import ROOT
from tests.shapes import SHAPES, fit_reader, png, shape_image, shapes_zip
from ui import state as keys


def test_a_zip_of_class_folders_becomes_a_data_set_whatever_its_polarity(tmp_path):
    extra = {"shapes/circle/notes.txt": b"not an image", "shapes/readme.md": b"# shapes"}
    own = read_own_data(shapes_zip(per_class=12, extra=extra), "shapes.zip")
    assert own.classes == SHAPES and own.counts() == [12, 12, 12]  # sorted folder names, ImageFolder's labels
    assert own.inverted and own.images.shape == (36, 28, 28)  # dark strokes on paper, turned light on black
    assert set(own.skipped) == {"circle/notes.txt", "readme.md"}  # named and skipped; __MACOSX and .DS_Store ignored
    images = own.images / 255.0
    frame = np.concatenate([images[:, :2].ravel(), images[:, -2:].ravel(), images[:, :, :2].ravel(), images[:, :, -2:].ravel()])
    assert float(frame.mean()) < 0.02 and float(images.max()) > 0.9  # ink in the middle of a dark field, like MNIST
    rng = np.random.default_rng(1)
    light = io.BytesIO()
    with zipfile.ZipFile(light, "w") as archive:  # white on black, no enclosing folder
        for kind in SHAPES[:2]:
            for i in range(6):
                archive.writestr(f"{kind}/{i}.png", png(shape_image(kind, rng, dark_on_light=False)))
    other = read_own_data(light.getvalue(), "light.zip")
    assert not other.inverted and other.classes == SHAPES[:2]
    assert read_own_data(light.getvalue(), "light.zip", invert=True).inverted  # the visitor's flip wins


def test_a_folder_and_an_npz_read_the_same_way(tmp_path):
    with zipfile.ZipFile(io.BytesIO(shapes_zip(per_class=6))) as archive:
        archive.extractall(tmp_path / "unpacked")
    from_folder = read_own_data(tmp_path / "unpacked")
    assert from_folder.classes == SHAPES and from_folder.counts() == [6, 6, 6]
    buffer = io.BytesIO()
    np.savez(buffer, images=from_folder.images, labels=from_folder.labels, classes=np.array(["round", "boxy", "pointy"]))
    from_npz = read_own_data(buffer.getvalue(), "set.npz")
    assert from_npz.classes == ("round", "boxy", "pointy") and from_npz.counts() == [6, 6, 6]
    assert np.abs(from_npz.images / 255.0 - from_folder.images / 255.0).mean() < 0.05  # already in the field: read back as it was


def test_a_tenth_of_each_class_is_test_another_validation_and_the_split_never_changes(tmp_path):
    path = tmp_path / "shapes.zip"
    path.write_bytes(shapes_zip(per_class=30))
    parts = {split: load_dataset(str(path), split) for split in ("train", "val", "test", "all")}
    assert [len(parts[s]) for s in ("train", "val", "test", "all")] == [72, 9, 9, 90]
    for split in ("val", "test"):
        assert np.bincount(parts[split].labels.numpy(), minlength=3).tolist() == [3, 3, 3]
    own = read_own_data(path)
    index = {s: set(own.split_indices(s).tolist()) for s in ("train", "val", "test")}
    assert not index["train"] & index["test"] and not index["train"] & index["val"] and not index["val"] & index["test"]
    assert np.allclose(parts["test"].images.numpy() * 255, own.images[own.split_indices("test")].reshape(9, -1))
    assert np.array_equal(own.split_indices("test"), read_own_data(path).split_indices("test"))  # seeded, fixed
    assert own_dataset(own, "train", name="x").classes == SHAPES


def zip_of(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = 0o120777 << 16  # a symbolic link, as `zip -y` stores one
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def understated(data: bytes, claimed: int) -> bytes:
    """The zip with every entry's uncompressed size rewritten as `claimed` in both headers: its directory lies."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := out.find(signature, start)) >= 0:
            out[at + offset : at + offset + 4] = struct.pack("<I", claimed)
            start = at + 4
    return bytes(out)


def good_entries(per_class: int = 5) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    return {f"{k}/{i}.png": png(shape_image(k, rng)) for k in SHAPES[:2] for i in range(per_class)}


def huge_png() -> bytes:
    from PIL import Image

    side = int(MAX_IMAGE_PIXELS**0.5) + 100
    return png(Image.new("L", (side, side), 255))  # a few kilobytes of PNG, more pixels than allowed


def object_npz() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, images=np.array([object()] * 10, dtype=object), labels=np.zeros(10, dtype=np.int64))
    return buffer.getvalue()


BAD = {
    "zip bomb": ("bomb.zip", zip_of({**good_entries(), "circle/big.png": b"\0" * 300_000_000}), "would unpack to"),
    "understated bomb": (
        "liar.zip",
        understated(zip_of({**good_entries(), "circle/big.png": b"\0" * 5_000_000}), 1000),
        "cannot be unpacked",
    ),
    "path traversal": ("up.zip", zip_of({**good_entries(), "../evil.png": b"x"}), "outside its folder"),
    "absolute path": ("abs.zip", zip_of({**good_entries(), "/etc/evil.png": b"x"}), "absolute"),
    "symlink": ("link.zip", zip_of(good_entries(), symlink="circle/link.png"), "symbolic link"),
    "one class": (
        "one.zip",
        zip_of({f"circle/{i}.png": png(shape_image("circle", np.random.default_rng(i))) for i in range(8)}),
        "at least 2 classes",
    ),
    "too few images": ("few.zip", zip_of(good_entries(per_class=3)), "at least 5 images"),
    "oversized image": ("huge.zip", zip_of({**good_entries(), "circle/huge.png": huge_png()}), "megapixels"),
    "npz with objects": ("objects.npz", object_npz(), "without running code"),
    "not an archive": ("notes.zip", b"plain text, not a zip", "not a zip archive"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_archive_is_refused_with_a_sentence_before_the_work(case, tmp_path, monkeypatch):
    name, data, phrase = BAD[case]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetError, match=phrase) as caught:
        read_own_data(data, name)
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []  # nothing unpacked to disk


def test_a_non_image_in_a_class_folder_is_named_and_skipped():
    own = read_own_data(zip_of({**good_entries(), "circle/table.csv": b"a,b\n1,2"}), "set.zip")
    assert own.skipped == ("circle/table.csv",) and own.counts() == [5, 5]


@pytest.mark.parametrize("case", ["zip bomb", "path traversal", "one class", "npz with objects"])
def test_the_cli_refuses_a_bad_archive_with_one_line_and_a_non_zero_exit(case, tmp_path, capsys):
    """The CLI's main() in this process (tests/experiments/test_cli.py runs `python -m cvae_core` itself, exit codes
    and all): a bad archive is one line on stderr and a non-zero exit, before any work."""
    from cvae_core.cli import main

    name, data, phrase = BAD[case]
    path = tmp_path / name
    path.write_bytes(data)
    code = main(["train", "--variant", "cvae2", "--dataset", str(path), "--epochs", "1", "--out", str(tmp_path / "m.safetensors")])
    said = capsys.readouterr().err
    assert code != 0 and phrase in said and len(said.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no checkpoint, nothing unpacked


@pytest.mark.slow
def test_train_sample_and_info_on_an_uploaded_zip_from_the_cli(tmp_path):
    data = tmp_path / "shapes.zip"
    data.write_bytes(shapes_zip(per_class=60))
    out = tmp_path / "m.safetensors"

    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "cvae_core", *map(str, args), "--json"], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    cli("train", "--variant", "cvae2", "--dataset", data, "--epochs", 60, "--out", out)
    assert cli("info", out)["classes"] == list(SHAPES)
    train = load_dataset(str(data), "train")
    reader = fit_reader(train)
    for label, kind in enumerate(SHAPES):
        assert cli("sample", out, "--label", label, "--n", 100, "--out", tmp_path / f"{kind}.npy")["class"] == kind
        samples = np.load(tmp_path / f"{kind}.npy").reshape(100, -1)
        assert (reader(samples) == label).mean() >= 0.9, kind
    measured = cli("evaluate", out, "--dataset", data, "--split", "test", "--iw-samples", 50)
    assert measured["classes"] == list(SHAPES) and measured["n"] == 18  # the held-out tenth


def test_drawings_become_an_augmented_set_whose_held_out_drawings_take_their_copies_with_them():
    from cvae_core.own_data import from_drawings

    rng = np.random.default_rng(0)
    drawings = {"one": [], "dash": []}
    for _ in range(10):
        one, dash = np.zeros((28, 28), np.float32), np.zeros((28, 28), np.float32)
        x, y = rng.integers(12, 16, size=2)
        one[4:24, x : x + 3], dash[y : y + 3, 4:24] = 1.0, 1.0
        drawings["one"].append(one)
        drawings["dash"].append(dash)
    own = from_drawings(drawings, copies=6)
    assert own.classes == ("dash", "one") and own.counts() == [60, 60] and own.images.dtype == np.uint8
    splits = {s: set(own.groups[own.split_indices(s)].tolist()) for s in ("train", "val", "test")}
    assert not splits["train"] & splits["test"] and not splits["train"] & splits["val"]  # a drawing and its copies stay together
    assert len(own.split_indices("test")) == 2 * 6  # one drawing a class, with its copies
    copies = own.images[own.groups == 0].astype(float)
    assert all(np.abs(c - copies[0]).sum() > 0 for c in copies[1:])  # each copy differs: shifted, turned, thicker or thinner
    with pytest.raises(DatasetError, match="at least 5 images"):
        from_drawings({"one": drawings["one"][:3], "dash": drawings["dash"]})


@pytest.mark.slow
def test_pages_follow_a_model_of_the_sessions_own_data():
    """Compare measures it on the held-out tenth with a classifier of the set, Draw and Generate name its classes."""
    import torch

    from cvae_core.models import build_model, model_config
    from cvae_core.storage.checkpoint import Checkpoint
    from tests.app.test_app import give, no_exceptions, page

    own = read_own_data(shapes_zip(per_class=20), "shapes.zip")
    torch.manual_seed(0)
    model = build_model(model_config(variant="cvae2", latent_dim=4, hidden=64, n_classes=3)).eval()
    ckpt = Checkpoint(model, {"variant": "cvae2", "own_data": True, "classes": list(SHAPES), "dataset": "shapes.zip"})

    def session(path):
        at = give(page(path), {"mine": ckpt}, prefer="mine")
        at.session_state[keys.OWN_DATA] = (("test", False), "shapes.zip", own)
        return at.run()

    compare = session("compare")
    next(b for b in compare.button if b.label == "Measure all models").click().run()
    no_exceptions(compare)
    assert any("Your own data: shapes.zip" in m.value for m in compare.markdown)
    assert any("held-out tenth" in c.value for c in compare.caption)
    generate = session("generate")
    no_exceptions(generate)
    from tests.app.test_app import explorer

    assert explorer(generate)[0]["classes"] == list(SHAPES)  # the explorer's label pills name the classes
    draw = session("draw")
    no_exceptions(draw)


def test_latent_space_tells_26_classes_apart_by_shape_as_well_as_colour():
    """Ten colours cannot tell 26 letters apart: Latent space's dots of a 26-class data set differ in colour or in
    marker shape, class by class, and the legend names each class."""
    import string

    import torch

    from cvae_core.models import build_model, model_config
    from cvae_core.storage.checkpoint import Checkpoint
    from tests.app.test_app import give, no_exceptions, page

    classes = list(string.ascii_lowercase)
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    labels = np.repeat(np.arange(26), 20)
    np.savez(buffer, images=rng.integers(0, 256, (len(labels), 28, 28), dtype=np.uint8), labels=labels, classes=np.array(classes))
    own = read_own_data(buffer.getvalue(), "letters.npz")
    torch.manual_seed(0)
    model = build_model(model_config(variant="cvae2", latent_dim=4, hidden=32, n_classes=26)).eval()
    ckpt = Checkpoint(model, {"variant": "cvae2", "own_data": True, "classes": classes, "dataset": "letters.npz"})
    at = give(page("latent"), {"mine": ckpt}, prefer="mine")
    at.session_state[keys.OWN_DATA] = (("test", False), "letters.npz", own)
    at.run()
    no_exceptions(at)
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    dots = [t for t in figure["data"] if t.get("mode") == "markers"]
    assert sorted(t["name"] for t in dots) == classes
    looks = {(t["marker"]["color"], t["marker"]["symbol"]) for t in dots}
    assert len(looks) == 26, looks
