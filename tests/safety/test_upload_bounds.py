"""Uploads from a hostile visitor: every bound is checked before the memory or time it bounds is spent.

Each case is a small file that claims a large amount of work (a label of 10**12 that would size ten-to-the-twelve
class names, sixteen-megapixel images that would be held at full size, a directory of more entries than allowed). Each
is refused with its sentence, and tracemalloc (numpy's arrays are counted there) shows that no array of the size the
file claims was made. The reads in progress share one server-wide budget (cvae_core.own_data.reading_slot)."""

import io
import struct
import threading
import tracemalloc

import numpy as np
import pytest

from cvae_core import own_data
from cvae_core.errors import CheckpointError, DatasetError, ImageError
from cvae_core.images import load_image
from cvae_core.own_data import MAX_ENTRIES, MAX_READ_SIDE, read_own_data
from cvae_core.storage.checkpoint_header import parse_header
from tests.data.test_own_data import good_entries, zip_of
from tests.shapes import SHAPES, shape_image

MB = 1024 * 1024


def npz_of(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def peak_while(call) -> tuple[int, object]:
    """The largest memory Python and numpy held at once during call(), in bytes, and what it returned or raised."""
    tracemalloc.start()
    try:
        try:
            outcome = call()
        except Exception as e:  # noqa: BLE001 -- the caller asserts what it was
            outcome = e
        return tracemalloc.get_traced_memory()[1], outcome
    finally:
        tracemalloc.stop()


def shapes(n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = np.stack([(np.asarray(shape_image(SHAPES[k % 2], rng), dtype=np.uint8)) for k in range(n)])
    return images, np.arange(n) % 2


@pytest.mark.parametrize(
    "labels, classes, phrase",
    [
        ([0, 0, 0, 0, 0, 10**12], None, "labels must be whole numbers from 0 to 25"),
        ([0, 0, 0, 0, 0, -1], None, "labels must be whole numbers from 0 to 25"),
        ([0, 1, 0, 1, 0, 1], [f"c{k}" for k in range(27)], "at most 26 class names"),
        ([0, 1, 0, 1, 0, 1], ["short", "x" * 65], "at most 64 characters"),
        ([0, 1, 0, 1, 0, 1], ["a", " "], "names must not be empty"),
        ([0, 1, 0, 1, 0, 2], ["a", "b"], "labels must run from 0"),
    ],
)
def test_an_npz_whose_labels_claim_more_than_it_holds_is_refused_before_anything_is_sized_by_them(labels, classes, phrase):
    images, _ = shapes(len(labels))
    arrays = {"images": images, "labels": np.asarray(labels, dtype=np.int64)}
    if classes is not None:
        arrays["classes"] = np.asarray(classes)
    data = npz_of(**arrays)
    assert len(data) < 2_000  # a few hundred bytes: what a stranger would upload
    peak, outcome = peak_while(lambda: read_own_data(data, "small.npz"))
    assert isinstance(outcome, DatasetError) and phrase in str(outcome), outcome
    assert peak < 8 * MB  # 10**12 class names (or their counts) were never made


def test_an_npzs_images_stay_uint8_while_read():
    """100 images of 512 x 512 (26 MB of uint8): a float32 copy of them all would be 105 MB."""
    rng = np.random.default_rng(1)
    images = np.zeros((100, 512, 512), dtype=np.uint8)
    for i in range(100):
        images[i, 100 + 3 * (i % 20) : 400, 200:260] = 255 if i % 2 else 0  # bars or blanks
        images[i, 200:260, 100 + 3 * (i % 20) : 400] = 255 if i % 2 == 0 else 0
        images[i] = np.where(images[i] > 0, 255, rng.integers(0, 20, (512, 512))).astype(np.uint8) if i % 2 else images[i]
    images[::2, 150:350, 150:350] = 200  # the even class: a filled square on black
    data = npz_of(images=images, labels=np.arange(100) % 2, classes=np.asarray(["bar", "square"]))
    peak, own = peak_while(lambda: read_own_data(data, "big.npz"))
    assert not isinstance(own, Exception), own
    assert own.images.dtype == np.uint8 and own.images.shape == (100, 28, 28)
    assert peak < images.nbytes * 2.5  # the npz's own array and its bytes; never four bytes a pixel for all of them


def big_photo(side: int, k: int) -> bytes:
    """A photo of paper: `side` x `side` white, a thick dark shape of class k drawn across it (PNG, a few kB)."""
    from PIL import Image, ImageDraw

    picture = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(picture)
    s = side // 10
    if k == 0:
        draw.ellipse((3 * s, 3 * s, 7 * s, 7 * s), outline=0, width=s // 2)
    else:
        draw.line((3 * s, 3 * s, 7 * s, 7 * s), fill=0, width=s // 2)
        draw.line((3 * s, 7 * s, 7 * s, 3 * s), fill=0, width=s // 2)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=9)
    return buffer.getvalue()


@pytest.mark.slow
def test_a_zip_of_sixteen_megapixel_images_is_read_one_image_at_a_time_each_reduced():
    """Ten images of 3,990 x 3,990 in a zip of a few hundred kB: held at full size as float32 they would be 640 MB."""
    side = 3_990
    entries = {f"{name}/{i}.png": big_photo(side, k) for k, name in enumerate(("circle", "cross")) for i in range(5)}
    data = zip_of(entries)
    assert len(data) < 2 * MB
    peak, own = peak_while(lambda: read_own_data(data, "photos.zip"))
    assert not isinstance(own, Exception), own
    assert own.counts() == [5, 5] and own.images.dtype == np.uint8
    # The preprocessing's working copies of one reduced image (float64, MAX_READ_SIDE a side, sixteen at most), never one
    # of the full-size images as float32 (64 MB), let alone all ten (640 MB).
    assert peak < 16 * MAX_READ_SIDE * MAX_READ_SIDE * 8 < side * side * 4


def test_the_entry_count_is_read_from_the_end_record_before_the_directory_is_parsed(monkeypatch):
    data = zip_of({f"a/{i}.txt": b"" for i in range(MAX_ENTRIES + 1)})

    def parsed(*args, **kwargs):
        raise AssertionError("the directory was parsed before its entries were counted")

    monkeypatch.setattr(own_data.zipfile, "ZipFile", parsed)
    with pytest.raises(DatasetError, match=f"{MAX_ENTRIES + 1:,} entries"):
        read_own_data(data, "many.zip")
    liar = bytearray(data)  # the end record says one entry; its directory holds 25,001
    end = liar.rfind(b"PK\x05\x06")
    liar[end + 8 : end + 12] = struct.pack("<HH", 1, 1)
    with pytest.raises(DatasetError, match="entries; the limit"):
        read_own_data(bytes(liar), "liar.zip")


def encrypted(data: bytes) -> bytes:
    """The zip with the 'encrypted' flag set on every entry, in both headers."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (at := out.find(signature, start)) >= 0:
            out[at + offset] |= 0x01
            start = at + 4
    return bytes(out)


def test_an_encrypted_entry_is_refused_with_a_sentence():
    with pytest.raises(DatasetError, match="encrypted"):
        read_own_data(encrypted(zip_of(good_entries())), "locked.zip")
    with pytest.raises(DatasetError, match="encrypted"):
        images, labels = shapes(10)
        read_own_data(encrypted(npz_of(images=images, labels=labels)), "locked.npz")


def picture_as(kind: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(shape_image("circle", np.random.default_rng(0)), dtype=np.uint8)).save(buffer, format=kind)
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["GIF", "TIFF", "EPS"])
def test_an_own_data_image_is_opened_only_in_the_formats_a_data_set_takes_whatever_its_suffix(kind):
    try:
        body = picture_as(kind)
    except OSError:  # EPS needs Ghostscript to write; its text header is enough to be recognised by Pillow
        body = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\n"
    with pytest.raises(DatasetError, match="not an image that can be read"):
        read_own_data(zip_of({**good_entries(), "circle/sneaky.png": body}), "set.zip")


def test_the_draw_page_takes_a_gif_and_refuses_what_is_not_one_of_its_formats():
    assert load_image(picture_as("GIF")).shape == (48, 48)
    with pytest.raises(ImageError, match="not an image that can be read"):
        load_image(picture_as("TIFF"))


def test_a_checkpoint_header_nested_deeper_than_a_parser_can_follow_gets_a_sentence():
    body = b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(CheckpointError, match="header"):
        parse_header(len(body).to_bytes(8, "little") + body)


def test_a_flip_reads_nothing_again():
    """Both polarities are computed while the set is read: the flipped set equals a second read with the other polarity,
    and flipping twice gives back the first."""
    data = zip_of(good_entries(6))
    own = read_own_data(data, "set.zip")
    flipped = own.flipped()
    again = read_own_data(data, "set.zip", invert=not own.inverted)
    assert flipped.inverted == again.inverted != own.inverted
    assert np.array_equal(flipped.images, again.images) and not np.array_equal(flipped.images, own.images)
    assert np.array_equal(flipped.flipped().images, own.images)


def test_reads_in_progress_share_one_server_wide_budget(monkeypatch):
    """Two reads at once; a third visitor is told to wait, and its read starts when a slot frees."""
    held, release = threading.Barrier(3), threading.Event()
    told, order = [], []

    def slow_read(name):
        with own_data.reading_slot(waiting=lambda: told.append(name)):
            order.append(name)
            if name != "third":
                held.wait()
                release.wait()

    first, second = (threading.Thread(target=slow_read, args=(n,)) for n in ("first", "second"))
    first.start(), second.start()
    held.wait()  # both hold a slot
    third = threading.Thread(target=slow_read, args=("third",))
    third.start()
    while not told:  # the third visitor is told before it waits
        threading.Event().wait(0.01)
    assert told == ["third"] and sorted(order) == ["first", "second"]  # it waits while both read
    release.set()
    for t in (first, second, third):
        t.join(30)
    assert order[-1] == "third" and told == ["third"]


def test_a_visitor_uploading_a_bomb_leaves_a_strangers_run_training_to_the_same_weights(digits):
    """Two sessions: mine trains; a stranger's bomb is refused while it does. My run ends with the weights it has alone."""
    import torch

    from cvae_core.training.service import RunState, TrainingService
    from tests.training.test_service import small_run, wait_for

    bomb = npz_of(images=shapes(6)[0], labels=np.asarray([0, 0, 0, 0, 0, 10**12]))

    def final_weights(attacked: bool) -> list:
        service = TrainingService(max_concurrent=1, slice_seconds=0.02, grid_every_seconds=0.1, cores=2)
        try:
            mine = small_run(digits, seed=0, epochs=10.0)
            service.start(mine)
            if attacked:
                wait_for(lambda: mine.trainer.step > 3)
                with pytest.raises(DatasetError):
                    read_own_data(bomb, "bomb.npz")
            assert service.wait(mine, timeout=300).state == RunState.DONE
            return [t.clone() for t in mine.trainer.model.state_dict().values()]
        finally:
            service.close()

    alone, attacked = final_weights(False), final_weights(True)
    assert all(torch.equal(a, b) for a, b in zip(alone, attacked, strict=True))
