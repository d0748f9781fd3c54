"""A model's decoder as an ONNX graph: a visitor takes their model away and draws digits with it anywhere ONNX runs
(onnxruntime in Python, C++, C#, Java or a browser), without this project or torch.

The graph is the model's own generation path, traced: z = model.latent_from_noise(label, noise, temperature), then
sigmoid(model.decode(z, label)), which is what `model.generate(label, noise=noise, temperature=T)` computes. Nothing here
knows a variant: the learned prior p(z|y) of cvae1 and cvae4, the N(0, I) prior of the others, and a decoder that reads
the label or not (cvae4's never does) come from the model's hooks.

Inputs (B, the batch, is free):
* noise (B, latent_dim) float32: the style, in prior standard deviations (N(0, I) draws);
* label (B, n_classes) float32: a one-hot, or a soft label (a mix of one-hots, as the Generate page's label slider
  makes). Absent for a model that takes no label (variant vae);
* temperature (R, 1) float32: one for every row (R = 1), or one per row (R = B); 1 samples the prior as trained, lower
  is tidier. (A graph input has a fixed rank in ONNX: the one-for-all temperature is a (1, 1) array, not a scalar.)
Output: mean (B, 28, 28) float32, the Bernoulli means of the pixels, in [0, 1].

The model's description travels in the file's metadata_props: the format, the variant, the architecture, the sizes,
the inputs in words and, where given, the class names (a JSON list, class k at index k)."""

import json
import threading

import torch
from torch import nn

from ..errors import CheckpointError
from ..nets import IMAGE_SIDE
from ..text import N_

FORMAT = "cvae-lab-onnx/1"
OPSET = 18  # the exporter's own (torchlib's), so nothing is converted; fixed, so the file does not change with torch's default
INPUTS = (
    "noise (batch, latent_dim) float32: the style, in prior standard deviations; "
    "label (batch, n_classes) float32: a one-hot or a mix of one-hots (absent where uses_label is false); "
    "temperature (1, 1) or (batch, 1) float32. Output mean (batch, 28, 28) float32: the pixels' Bernoulli means."
)
# torch.export keeps process-wide state while it traces (dynamo's caches, the fake-tensor mode): one export at a time,
# whatever the sessions of a server ask for at once.
_EXPORTING = threading.Lock()


class _Decoder(nn.Module):
    """noise, label, temperature -> mean images, by the model's own hooks. The model is held, not copied: its mode and
    its weights are left as they are."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, noise: torch.Tensor, label: torch.Tensor | None, temperature: torch.Tensor) -> torch.Tensor:
        z = self.model.latent_from_noise(label, noise, temperature)
        return torch.sigmoid(self.model.decode(z, label)).view(-1, IMAGE_SIDE, IMAGE_SIDE)


class _UnlabelledDecoder(_Decoder):
    """A model that takes no label: its graph has no label input."""

    def forward(self, noise: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
        return super().forward(noise, None, temperature)


def _class_names(model, classes) -> list[str] | None:
    """The class names to record: one per class of a model that takes a label. A list of another length (a checkpoint's
    metadata is the uploader's) is left out rather than recorded wrong."""
    if not model.uses_label or classes is None:
        return None
    names = [str(name) for name in classes]
    return names if len(names) == model.config.n_classes else None


def description(model, classes=None) -> dict[str, str]:
    """The metadata_props of the exported graph (ONNX metadata holds strings only)."""
    c = model.config
    props = {
        "format": FORMAT,
        "variant": model.name,
        "arch": c.arch,
        "latent_dim": str(c.latent_dim),
        "n_classes": str(c.n_classes),
        "uses_label": json.dumps(bool(model.uses_label)),
        "prior": "learned p(z|y)" if model.has_label_prior else "N(0, I)",
        "inputs": INPUTS,
    }
    names = _class_names(model, classes)
    if names is not None:
        props["classes"] = json.dumps(names, ensure_ascii=False)
    return props


def decoder_onnx(model, classes=None) -> bytes:
    """The model's decoder (with its prior) as a serialised ONNX model (see the module's docstring for its inputs and
    output), its description and `classes` (the class names, as a checkpoint's metadata "classes" holds them) in its
    metadata_props. Raises CheckpointError with a sentence for a model that does not draw images (cvae3 predicts labels
    or pixels of a given digit; M1+M2 writes M1's codes).

    The weights are read as the export runs: export a model that is not training (a checkpoint's, a finished run's)."""
    if not model.makes_images:
        raise CheckpointError(
            N_("{variant} does not draw digits from a label, so it has no decoder to export"),
            variant=model.name,
        )
    device = model.device
    batch = 2  # torch.export specialises sizes 0 and 1: the example batch is 2, the graph's batch is free
    noise = torch.zeros(batch, model.latent_dim, device=device)
    temperature = torch.ones(1, 1, device=device)  # broadcast over the batch; the graph's first size is freed below
    if model.uses_label:
        wrapper = _Decoder(model)
        label = torch.zeros(batch, model.config.n_classes, device=device)
        args, dynamic = (noise, label, temperature), {"noise": {0: "batch"}, "label": {0: "batch"}, "temperature": None}
    else:
        wrapper = _UnlabelledDecoder(model)
        args, dynamic = (noise, temperature), {"noise": {0: "batch"}, "temperature": None}
    wrapper.training = False  # this module only: model.eval() would change the caller's model
    with _EXPORTING:
        program = torch.onnx.export(
            wrapper, args, dynamo=True, opset_version=OPSET, dynamic_shapes=dynamic, output_names=["mean"], verbose=False
        )
        proto = program.model_proto
    # Traced with one temperature (1, 1). latent_from_noise's one use of it is a Mul, which broadcasts (B, 1) rows as
    # well: the graph's first size is left free (tests/storage/test_export_onnx.py runs both shapes on every image variant).
    for graph_input in proto.graph.input:
        if graph_input.name == "temperature":
            graph_input.type.tensor_type.shape.dim[0].dim_param = "temperature_rows"
    for key, value in description(model, classes).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.doc_string = f"CVAE Lab: the decoder of a {model.name} model. {INPUTS}"
    return proto.SerializeToString()
