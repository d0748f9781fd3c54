"""A model's decoder for the visitor's browser (ui/web/decoder.js): one bytes buffer in safetensors layout -- an
8-byte header length, a JSON header naming each tensor's dtype, shape and byte range, then the tensors -- holding the
decoder p(x|z,y), the learned prior p(z|y) where the variant has one, and under `__metadata__` ("cvae_web", a JSON
string) what the browser needs to run them: the variant, the architecture, the sizes, the class names.

Float16 on the wire: the shipped checkpoints store float16 already, so they travel losslessly; a run's float32 weights
are rounded once (dequantised(), the same rounding, lets a test compare the browser with torch on equal weights). One
buffer, passed to a Streamlit component as raw bytes (bytes inside a dict would travel as a string four times larger)."""

import json

import torch
from safetensors.torch import save

from ..errors import CheckpointError
from ..text import N_

FORMAT = "cvae-lab-decoder/1"


def _decoder_reads_label(model) -> bool:
    decoder = model.decoder
    head = getattr(decoder, "head", decoder)  # nets.ConvDecoder wraps a ConditionalMLP
    return head.cond_dim > 0


def web_tensors(model) -> dict[str, torch.Tensor]:
    """The tensors the browser decodes with, float32 on the CPU, by the names decoder.js reads."""
    if not model.makes_images:
        raise CheckpointError(N_("{variant} does not draw digits, so there is nothing to decode in a browser."), variant=model.name)
    tensors = {f"decoder.{name}": value for name, value in model.decoder.state_dict().items()}
    if model.has_label_prior:
        tensors.update({f"prior.{name}": value for name, value in model.prior_net.state_dict().items()})
    return {name: value.detach().float().cpu().contiguous() for name, value in tensors.items()}


def dequantised(model) -> dict[str, torch.Tensor]:
    """web_tensors as the browser holds them: rounded to float16 and back."""
    return {name: value.half().float() for name, value in web_tensors(model).items()}


def description(model, classes: list[str] | None = None) -> dict:
    c = model.config
    names = list(classes) if classes and len(classes) == c.n_classes else [str(k) for k in range(c.n_classes)]
    return {
        "format": FORMAT, "variant": model.name, "arch": c.arch, "latent_dim": c.latent_dim, "n_classes": c.n_classes,
        "hidden": c.hidden, "layers": c.layers, "uses_label": bool(model.uses_label),
        "decoder_reads_label": _decoder_reads_label(model), "prior": "learned" if model.has_label_prior else "standard",
        "classes": names,
    }  # fmt: skip


def decoder_bytes(model, classes: list[str] | None = None) -> bytes:
    """The decoder (and learned prior) as one float16 safetensors buffer with its description. Raises CheckpointError
    with a sentence for a model that does not draw digits."""
    tensors = {name: value.half() for name, value in web_tensors(model).items()}
    return save(tensors, metadata={"cvae_web": json.dumps(description(model, classes))})


def header(buffer: bytes) -> dict:
    """A buffer's safetensors header (its tensors' places and `__metadata__`)."""
    length = int.from_bytes(buffer[:8], "little")
    return json.loads(buffer[8 : 8 + length])


def with_start(buffer: bytes, start: dict) -> bytes:
    """The buffer with a page's starting settings in its header (`cvae_start`: the dials, label, temperature a link
    names), the tensors unchanged: the browser opens there and reports its own state back, never through this."""
    length = int.from_bytes(buffer[:8], "little")
    described = header(buffer)
    described["__metadata__"]["cvae_start"] = json.dumps(start)
    text = json.dumps(described, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # safetensors keeps the tensors 8-byte aligned
    return len(text).to_bytes(8, "little") + text + buffer[8 + length :]
