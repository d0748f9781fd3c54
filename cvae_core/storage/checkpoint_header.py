"""A checkpoint's header, read without torch: the safetensors header (tensor names and shapes, and CVAE Lab's
metadata) at the start of the file. `checkpoint` loads whole checkpoints through it; the home page lists the
shipped models with it while torch is still loading (`catalogue`)."""

import json
from pathlib import Path

import numpy as np

from ..cards import CARDS
from ..errors import CheckpointError
from ..text import N_

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints"  # the models that ship with the app
FORMAT = "cvae-lab/1"
METADATA_KEY = "cvae_lab"
SUFFIX = ".safetensors"
MAX_HEADER_BYTES = 100 * 1024 * 1024  # a header claiming more is not a checkpoint of ours (ours are a few kB)
# The per-digit values behind a model's recorded test figures (`evaluate --record`) travel in the same file as tensors
# named RECORDED + key, so that two recorded models compare over the same digits with paired errors. They are not
# weights: loading sets them apart, and they are float32 vectors as long as the recorded test's n.
RECORDED = "recorded.test."
MAX_RECORDED_DIGITS = 100_000


def parse_header(data: bytes) -> dict:
    """The safetensors header of checkpoint bytes (the file, or its first bytes up to the header's end)."""
    if len(data) < 8:
        raise CheckpointError(N_("not a checkpoint: the file is empty or too short"))
    header_len = int.from_bytes(data[:8], "little")
    if header_len <= 0 or 8 + header_len > len(data) or header_len > MAX_HEADER_BYTES:
        raise CheckpointError(N_("not a checkpoint: no safetensors header (is this a pickle or another kind of file?)"))
    try:
        header = json.loads(data[8 : 8 + header_len])
    except (ValueError, RecursionError):  # RecursionError: brackets nested deeper than the parser follows
        header = None
    if not isinstance(header, dict):
        raise CheckpointError(N_("not a CVAE Lab checkpoint: its header has no CVAE Lab metadata"))
    return header


def metadata_of(header: dict) -> dict:
    """CVAE Lab's metadata in a parsed header, its format checked."""
    try:
        meta = json.loads(header["__metadata__"][METADATA_KEY])
    except (ValueError, KeyError, TypeError, RecursionError):
        raise CheckpointError(N_("not a CVAE Lab checkpoint: its header has no CVAE Lab metadata")) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            N_("unsupported checkpoint format {checkpoint_format}"),
            checkpoint_format=repr(meta.get("format") if isinstance(meta, dict) else meta),
        )
    return meta


def read_metadata(data: bytes) -> dict:
    """The metadata of checkpoint bytes, read from the safetensors header alone."""
    return metadata_of(parse_header(data))


def _read_header(f) -> tuple[int, dict]:
    """From an open checkpoint file at its start: the header's length in bytes and the parsed header (its weights unread)."""
    head = f.read(8)
    size = int.from_bytes(head, "little") if len(head) == 8 else 0
    return size, parse_header(head + f.read(min(size, MAX_HEADER_BYTES)))


def file_metadata(path: str | Path) -> dict:
    """The metadata of a checkpoint file, reading its header's bytes only (not its weights)."""
    try:
        with open(path, "rb") as f:
            return metadata_of(_read_header(f)[1])
    except OSError as e:
        raise CheckpointError(N_("cannot read {path}: {reason}"), path=str(path), reason=str(e.strerror or e)) from None


def catalogue(folder: str | Path) -> dict[str, dict]:
    """The CVAE models in a folder as their headers describe them, by file stem: no weights read, no torch. Files
    that are not CVAE Lab models (the fidelity classifiers, anything else) are left out; `checkpoint.load_folder`
    says why a file is refused."""
    models = {}
    for path in sorted(Path(folder).glob("*" + SUFFIX)):
        try:
            meta = file_metadata(path)
        except CheckpointError:
            continue
        if meta.get("variant") in CARDS and isinstance(meta.get("model_config"), dict):
            models[path.stem] = meta
    return models


def recorded_n(meta: dict) -> int | None:
    """How many test digits the metadata's recorded figures (metrics.test) were measured on; None when it records none.
    The metadata is the file's own, whatever its shape: anything but a table holding a whole number is none."""
    metrics = meta.get("metrics")
    test = metrics.get("test") if isinstance(metrics, dict) else None
    n = test.get("n") if isinstance(test, dict) else None
    return n if isinstance(n, int) and not isinstance(n, bool) else None


def recorded_tensors(header: dict, meta: dict) -> dict[str, tuple[int, int]]:
    """The per-digit value tensors in a parsed header: key -> (start, end) byte offsets after the header. Each is checked
    to be a float32 vector as long as the recorded test's n; anything else under the prefix is refused."""
    n = recorded_n(meta)
    out = {}
    for name, info in header.items():
        if not name.startswith(RECORDED):
            continue
        try:
            shape, dtype, (start, end) = info["shape"], info["dtype"], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            shape = dtype = start = end = None
        if (
            dtype != "F32"
            or not isinstance(shape, list)
            or len(shape) != 1
            or shape[0] != n
            or not isinstance(n, int)
            or not 1 <= n <= MAX_RECORDED_DIGITS
            or not isinstance(start, int)
            or end != start + 4 * n
        ):
            raise CheckpointError(N_("checkpoint tensor {tensor} is not a recorded figure's per-digit values"), tensor=name)
        out[name[len(RECORDED) :]] = (start, end)
    return out


def recorded_values(path: str | Path) -> dict[str, np.ndarray]:
    """A checkpoint file's per-digit recorded test values, key -> (n,) float64, read without torch and without its
    weights (empty when none were recorded or the file cannot be read: the figures then compare unpaired)."""
    try:
        with open(path, "rb") as f:
            size, header = _read_header(f)
            out = {}
            for key, (start, end) in recorded_tensors(header, metadata_of(header)).items():
                f.seek(8 + size + start)
                raw = f.read(end - start)
                values = np.frombuffer(raw, dtype="<f4").astype(np.float64)
                if len(raw) != end - start or not np.isfinite(values).all():
                    return {}
                out[key] = values
            return out
    except (OSError, CheckpointError):
        return {}
