"""Checkpoints: safetensors weights with the JSON metadata in the same file's header.

One file holds everything, so a download or an upload is a single thing. Loading parses
the safetensors header and raw tensor bytes only -- nothing is ever unpickled -- and checks
every tensor against the model that the metadata describes. Saving writes a temporary file
in the same folder, syncs it, then renames it over the target: an interrupted save leaves
either the old file or the new one, never half of one.
"""

import json
import platform
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from ..classifier import DigitClassifier
from ..errors import CheckpointError, CVAEError
from ..models import VARIANTS, CVAEModel
from ..noise import initial_weights
from ..text import N_
from . import migrations
from .atomic import ALREADY_EXISTS, remove_stale_partials, write_bytes  # noqa: F401 -- re-exported
from .checkpoint_header import FORMAT, METADATA_KEY, RECORDED, SHIPPED, SUFFIX, read_metadata, recorded_n  # noqa: F401 -- read_metadata: re-exported
from .checkpoint_header import metadata_of as _metadata
from .checkpoint_header import parse_header as _header
from .checkpoint_header import recorded_tensors as _recorded_tensors


def kinds() -> dict[str, type[torch.nn.Module]]:
    """The kinds of network a checkpoint can hold, by the name stored in its metadata: every registered variant and the
    fidelity classifier. Each class has a `config_class` (with from_dict / to_dict / validate) and is built as cls(config)."""
    return {**VARIANTS, DigitClassifier.name: DigitClassifier}


FIDELITY_CLASSIFIERS = {  # figure key -> file: the fidelity CNN, and a second classifier of another architecture
    "label_fidelity": SHIPPED / "fidelity_classifier.safetensors",
    "label_fidelity_second": SHIPPED / "fidelity_classifier_bn.safetensors",
}
MAX_BYTES = 256 * 1024 * 1024
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


@dataclass
class Checkpoint:
    """A model and its metadata, with an identity. Caches and state key on `uid` and `version`, never on
    a display name (two visitors' first runs share the name "cvae1-run1"). `uid` names the model for
    its whole life (a model still training keeps it); `version` changes whenever its weights do."""

    model: CVAEModel | DigitClassifier
    metadata: dict
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)
    version: int = 0

    @property
    def ref(self) -> str:
        """The key of these exact weights: '<uid>.<version>'."""
        return f"{self.uid}.{self.version}"

    @property
    def is_generative_model(self) -> bool:
        """A CVAE variant (shown in the app), not a metric network such as the fidelity classifier."""
        return isinstance(self.model, CVAEModel)


def versions() -> dict:
    import numpy
    import safetensors

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "safetensors": safetensors.__version__,
    }


def checkpoint_name(name: str) -> str:
    """A safe file name for a user-given checkpoint name: no folders, no hidden files."""
    name = (name or "").strip()
    if name.endswith(SUFFIX):
        name = name[: -len(SUFFIX)]
    if not _NAME.match(name) or ".." in name:
        raise CheckpointError(
            N_(
                "a checkpoint name uses letters, digits, '-', '_' and '.', starts with a letter or digit, and has at most 80 characters (got {name})"
            ),
            name=repr(name),
        )
    return name + SUFFIX


def to_bytes(model: CVAEModel | DigitClassifier, metadata: dict | None = None, half: bool = False, per_digit: dict | None = None) -> bytes:
    """The checkpoint as bytes (for saving or a download button). per_digit: key -> (n,) values behind the figures in
    metadata's metrics.test (its n), kept beside the weights as float32 whatever `half` says (checkpoint_header.RECORDED)."""
    latent_dim = getattr(model, "latent_dim", None)
    meta = {
        "format": FORMAT,
        "variant": model.name,
        "model_config": model.config.to_dict(),
        **({"latent_dim": latent_dim} if latent_dim is not None else {}),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": versions(),
        **(metadata or {}),
        **({"capabilities": model.capabilities.as_dict()} if hasattr(model, "capabilities") else {}),  # for readers without torch
        "storage": "float16" if half else "float32",
    }
    dtype = torch.float16 if half else torch.float32
    tensors = {k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous() for k, v in model.state_dict().items()}
    n = recorded_n(meta)
    for key, values in (per_digit or {}).items():
        values = torch.as_tensor(values, dtype=torch.float32).contiguous()
        if values.shape != (n,):
            raise CVAEError(f"per-digit {key} has shape {tuple(values.shape)}; the recorded test has n = {n}")
        tensors[RECORDED + key] = values
    return save_safetensors_bytes(tensors, metadata={METADATA_KEY: json.dumps(meta)})


def save(model: CVAEModel, path: str | Path, metadata: dict | None = None, half: bool = False, per_digit: dict | None = None) -> Path:
    """Write atomically; errors (read-only folder, full disk) become a CheckpointError."""
    return write_bytes(to_bytes(model, metadata, half, per_digit), path)


def _tensor_shapes(header: dict) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes from the safetensors header, without reading any weights."""
    try:
        return {name: tuple(int(d) for d in info["shape"]) for name, info in header.items() if name != "__metadata__"}
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(N_("checkpoint header is damaged: a tensor without a valid shape")) from None


def _declared(meta: dict) -> tuple[type[torch.nn.Module], object]:
    """The class and configuration of the network the metadata declares, validated (nothing built)."""
    kind = meta.get("variant")
    known = kinds()
    if kind not in known:
        raise CheckpointError(
            N_("checkpoint holds an unknown kind of model {kind}; this app knows {known_kinds}"),
            kind=repr(kind),
            known_kinds=", ".join(known),
        )
    cls = known[kind]
    try:
        config = cls.config_class.from_dict(migrations.model_settings(meta["model_config"], cls.config_class))
        config.validate()
    except (KeyError, TypeError, AttributeError):
        raise CheckpointError(N_("checkpoint metadata has no valid model_config")) from None
    except CVAEError as e:
        raise CheckpointError(N_("checkpoint metadata is invalid: {reason}"), reason=e) from None  # the app translates e too
    if getattr(config, "variant", kind) != kind:
        raise CheckpointError(
            N_("checkpoint metadata disagrees with itself: variant {variant} vs {config_variant}"),
            variant=repr(kind),
            config_variant=repr(config.variant),
        )
    return cls, config


def from_bytes(data: bytes, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild a model from checkpoint bytes, refusing anything that does not fit.

    The tensors' names and shapes in the file's header are checked against the model its metadata
    declares, built on the `meta` device, before any weights are allocated: a small file that claims
    a huge model costs nothing."""
    if len(data) > MAX_BYTES:
        raise CheckpointError(
            N_("checkpoint too large ({size_mb:.0f} MB; the limit is {limit_mb:.0f} MB)"), size_mb=len(data) / 1e6, limit_mb=MAX_BYTES / 1e6
        )
    header = _header(data)
    meta = _metadata(header)
    cls, config = _declared(meta)
    with torch.device("meta"):  # parameters with shapes and no memory
        skeleton = cls(config)
    _recorded_tensors(header, meta)  # per-digit figures, not weights: checked apart (a bad one is refused)
    weights = {k: v for k, v in _tensor_shapes(header).items() if not k.startswith(RECORDED)}
    _check_shapes(skeleton, weights, meta["variant"])
    # Built again on the CPU, not moved there with to_empty: the meta device's Python kernels import a second's
    # worth of torch on first use. The model now fits: its tensors are the ones in the file.
    with initial_weights():  # drawn, then replaced by the file's: the lock only keeps them out of a seeded build's draws
        model = cls(config)
    _load_weights(model, data)
    return Checkpoint(model.to(device), meta)


def _check_shapes(model: torch.nn.Module, shapes: dict[str, tuple[int, ...]], kind: str) -> None:
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(shapes))
    extra = sorted(set(shapes) - set(expected))
    if missing or extra:
        raise CheckpointError(
            N_(
                "checkpoint weights do not fit a {kind} model: "
                "{n_missing} missing (e.g. {missing_examples}), {n_unexpected} unexpected (e.g. {unexpected_examples})"
            ),
            kind=kind,
            n_missing=len(missing),
            missing_examples=str(missing[:2]),
            n_unexpected=len(extra),
            unexpected_examples=str(extra[:2]),
        )
    for key, shape in shapes.items():
        if shape != expected[key]:
            raise CheckpointError(
                N_("checkpoint tensor {tensor} has shape {shape}, a {kind} model needs {needed_shape}"),
                tensor=key,
                shape=str(shape),
                kind=kind,
                needed_shape=str(expected[key]),
            )


def _load_weights(model, data: bytes) -> None:
    """Copy the file's tensors (their names and shapes checked from the header) into model after checking their values;
    the recorded per-digit values (RECORDED) are not weights and stay out of the model."""
    try:
        tensors = load_safetensors_bytes(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(N_("checkpoint weights are damaged or truncated: {reason}"), reason=str(e)) from None
    for key, value in tensors.items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise CheckpointError(N_("checkpoint tensor {tensor} holds NaN or infinite values"), tensor=key)
    tensors = {k: v for k, v in tensors.items() if not k.startswith(RECORDED)}
    expected = model.state_dict()
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})
    model.eval()


def load(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint file (see from_bytes)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise CheckpointError(N_("checkpoint too large ({size_mb:.0f} MB)"), size_mb=size / 1e6)
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(N_("no checkpoint at {path}"), path=str(path)) from None
    except IsADirectoryError:
        raise CheckpointError(N_("{path} is a folder, not a checkpoint"), path=str(path)) from None
    except OSError as e:
        raise CheckpointError(N_("cannot read {path}: {reason}"), path=str(path), reason=str(e.strerror or e)) from None
    return from_bytes(data, device)


def load_folder(folder: str | Path, device: str | torch.device = "cpu") -> tuple[dict[str, Checkpoint], dict[str, CheckpointError]]:
    """Every CVAE checkpoint in a folder, by file stem, and the error each other file was refused with (its str()
    is the sentence; the app translates its template).

    Metric networks (the fidelity classifier) are not models to show, so they are left out."""
    models, refused = {}, {}
    remove_stale_partials(folder)
    for path in sorted(Path(folder).glob("*" + SUFFIX)):
        try:
            ckpt = load(path, device)
        except CheckpointError as e:
            refused[path.name] = e
            continue
        if ckpt.is_generative_model:
            models[path.stem] = ckpt
    return models, refused
