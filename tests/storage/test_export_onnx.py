"""The decoder a visitor takes away as ONNX (cvae_core/storage/export_onnx.py) draws what torch draws: every shipped model
that makes images, and a fresh model of each image variant in both architectures, run in onnxruntime on seeded noise with
one-hot and soft labels and one temperature for all rows or one per row, equal `model.generate` within 1e-5 on the means. A model
that draws no images is refused with its sentence."""

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from cvae_core.errors import CheckpointError
from cvae_core.models import VARIANTS, build_model, model_config
from cvae_core.storage.checkpoint import SHIPPED, load, read_metadata
from cvae_core.storage.export_onnx import FORMAT, decoder_onnx, description

TOLERANCE = 1e-5  # absolute, on the Bernoulli means
N_NOISE = 20
IMAGE_VARIANTS = ["vae", "cvae1", "cvae2", "cvae4", "m2"]
REFUSED = "does not draw digits from a label, so it has no decoder to export"

SHIPPED_MODELS = [p for p in sorted(SHIPPED.glob("*.safetensors")) if read_metadata(p.read_bytes()).get("variant") in VARIANTS]


def session(graph: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1  # the test machine's cores are shared
    options.log_severity_level = 3
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def labels_to_try(model, g: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(what generate takes, what the graph takes): integer labels and their one-hots, then soft labels (a mix of
    two one-hots, and a softmax over every class)."""
    c = model.config.n_classes
    eye = torch.eye(c)
    digits = torch.arange(N_NOISE) % c
    w = torch.rand(N_NOISE, 1, generator=g)
    mix = w * eye[digits] + (1 - w) * eye[(digits + 1 + torch.randint(c - 1, (N_NOISE,), generator=g)) % c]
    spread = torch.softmax(2 * torch.randn(N_NOISE, c, generator=g), -1)
    return [(digits, eye[digits]), (mix, mix), (spread, spread)]


def largest_difference(model, graph: bytes, seed: int = 0) -> float:
    """The largest |onnxruntime - torch| over 20 seeded noise vectors, each label kind, temperatures 0.5 and 1.0 given
    for all rows (1, 1), and both at once given per row (B, 1)."""
    run = session(graph)
    names = [i.name for i in run.get_inputs()]
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(N_NOISE, model.latent_dim, generator=g)
    per_row = torch.tensor([0.5, 1.0]).repeat_interleave(N_NOISE // 2)[:, None]
    worst = 0.0
    for given, fed in labels_to_try(model, g) if model.uses_label else [(None, None)]:
        feeds = {"noise": noise.numpy()} | ({"label": fed.float().numpy()} if fed is not None else {})
        for temperature in (0.5, 1.0):
            (got,) = run.run(["mean"], feeds | {"temperature": np.full((1, 1), temperature, dtype=np.float32)})
            want = model.generate(given, noise=noise, temperature=temperature, n=N_NOISE)
            assert got.shape == (N_NOISE, 28, 28) and got.dtype == np.float32
            worst = max(worst, float(np.abs(got - want.numpy()).max()))
        (got,) = run.run(["mean"], feeds | {"temperature": per_row.numpy()})
        halves = [slice(0, N_NOISE // 2), slice(N_NOISE // 2, N_NOISE)]
        want = torch.cat(
            [
                model.generate(None if given is None else given[h], noise=noise[h], temperature=t, n=N_NOISE // 2)
                for h, t in zip(halves, (0.5, 1.0), strict=True)
            ]
        )
        worst = max(worst, float(np.abs(got - want.numpy()).max()))
    assert sorted(names) == sorted(["noise", "temperature", *(["label"] if model.uses_label else [])])
    return worst


def fresh(variant: str, arch: str, **kw):
    """A small untrained model; weights that start at zero (cvae1's prior p(z|y) is N(0, I) until trained) drawn too,
    so the learned prior's path carries values."""
    model = build_model(model_config(variant=variant, arch=arch, latent_dim=5, hidden=32, **kw), seed=1)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for p in model.parameters():
            if not p.any():
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
    return model


@pytest.mark.parametrize("path", SHIPPED_MODELS, ids=lambda p: p.stem)
def test_a_shipped_models_graph_draws_what_torch_draws(path):
    ckpt = load(path)
    model = ckpt.model
    if not model.makes_images:
        with pytest.raises(CheckpointError, match=REFUSED):
            decoder_onnx(model)
        return
    graph = decoder_onnx(model, ckpt.metadata.get("classes"))
    onnx.checker.check_model(onnx.load_from_string(graph))
    assert largest_difference(model, graph) <= TOLERANCE


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("variant", IMAGE_VARIANTS)
def test_a_fresh_models_graph_draws_what_torch_draws(variant, arch):
    model = fresh(variant, arch)
    graph = decoder_onnx(model)
    assert largest_difference(model, graph, seed=3) <= TOLERANCE
    assert model.training  # the export left the model in its mode (training, as built)


@pytest.mark.parametrize(
    "settings",
    [{"variant": "cvae3"}, {"variant": "cvae3", "target": "quadrants"}, {"variant": "m2", "m1_latent": 4}],
    ids=["cvae3", "cvae3-quadrants", "m1+m2"],
)
def test_a_model_that_draws_no_images_is_refused_with_a_sentence(settings):
    model = build_model(model_config(latent_dim=5, hidden=32, **settings), seed=0)
    with pytest.raises(CheckpointError, match=REFUSED) as refused:
        decoder_onnx(model)
    assert str(refused.value).startswith(f"{model.name} does not draw")


def test_the_graph_says_what_it_is_and_its_batch_is_free():
    model = fresh("cvae4", "mlp")
    names = [f"class {k}" for k in range(10)]
    proto = onnx.load_from_string(decoder_onnx(model, names))
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["format"] == FORMAT and props["variant"] == "cvae4" and props["latent_dim"] == "5"
    assert json.loads(props["classes"]) == names and json.loads(props["uses_label"]) is True
    shapes = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in [*proto.graph.input, *proto.graph.output]}
    assert shapes == {"noise": ["batch", 5], "label": ["batch", 10], "temperature": ["temperature_rows", 1], "mean": ["batch", 28, 28]}
    # class names of the wrong length (a checkpoint's metadata is the uploader's) are left out; a vae has no label
    assert "classes" not in description(model, ["a", "b"])
    vae = description(fresh("vae", "mlp"), names)
    assert "classes" not in vae and vae["uses_label"] == "false"
