"""Checkpoints round-trip exactly, and anything else is refused with a message, never run."""

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save as save_safetensors

from cvae_core.errors import CheckpointError
from cvae_core.models import VARIANTS, build_model, model_config
from cvae_core.storage import checkpoint
from tests.conftest import ROOT


@pytest.fixture
def model():
    torch.manual_seed(0)
    return build_model(model_config(variant="cvae1", latent_dim=4, hidden=32))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_round_trip_is_bit_exact(tmp_path, variant):
    torch.manual_seed(0)
    m = build_model(model_config(variant=variant, latent_dim=4, hidden=32))
    path = checkpoint.save(m, tmp_path / "m.safetensors", {"dataset": "mnist-5k", "metrics": {"elbo": -100.0}})
    loaded = checkpoint.load(path)
    assert loaded.metadata["variant"] == variant and loaded.metadata["latent_dim"] == 4
    assert loaded.metadata["metrics"] == {"elbo": -100.0} and "torch" in loaded.metadata["versions"]
    original, restored = m.state_dict(), loaded.model.state_dict()
    assert original.keys() == restored.keys()
    for key in original:
        assert torch.equal(original[key], restored[key]), key


def test_half_precision_storage_halves_the_file_and_stays_close(tmp_path, model):
    full = checkpoint.save(model, tmp_path / "full.safetensors")
    half = checkpoint.save(model, tmp_path / "half.safetensors", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    restored = checkpoint.load(half).model.state_dict()
    for key, value in model.state_dict().items():
        assert restored[key].dtype == torch.float32
        torch.testing.assert_close(restored[key], value, atol=1e-3, rtol=1e-3)


def test_bytes_round_trip_for_downloads(model):
    data = checkpoint.to_bytes(model)
    assert checkpoint.from_bytes(data).metadata["variant"] == "cvae1"
    assert checkpoint.read_metadata(data)["model_config"]["latent_dim"] == 4


class Payload:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = Path("/tmp/cvae_lab_pickle_payload_ran")


def _bad_files(model):
    good = checkpoint.to_bytes(model)
    meta = checkpoint.read_metadata(good)
    other = build_model(model_config(variant="cvae2", latent_dim=4, hidden=32))
    wrong_shape = build_model(model_config(variant="cvae1", latent_dim=8, hidden=32))
    shapes = {k: v.contiguous() for k, v in wrong_shape.state_dict().items()}
    nan_weights = {k: v.clone() for k, v in model.state_dict().items()}
    next(iter(nan_weights.values())).fill_(float("nan"))
    return {
        "empty": b"",
        "random bytes": os.urandom(4096),
        "truncated": good[: len(good) // 2],
        "pickle payload": pickle.dumps(Payload()),
        "torch.save file": _torch_save_bytes(model),
        "plain safetensors without metadata": save_safetensors({"w": torch.zeros(2)}),
        "weights of another variant": save_safetensors(other.state_dict(), metadata={"cvae_lab": json.dumps(meta)}),
        "wrong shapes for the metadata": save_safetensors(shapes, metadata={"cvae_lab": json.dumps(meta)}),
        "metadata of an unknown variant": save_safetensors(
            model.state_dict(),
            metadata={"cvae_lab": json.dumps({**meta, "variant": "gan", "model_config": {**meta["model_config"], "variant": "gan"}})},
        ),
        "metadata out of range": save_safetensors(
            model.state_dict(), metadata={"cvae_lab": json.dumps({**meta, "model_config": {**meta["model_config"], "latent_dim": 999}})}
        ),
        "metadata that is not JSON": save_safetensors(model.state_dict(), metadata={"cvae_lab": "{not json"}),
        "NaN weights": save_safetensors(nan_weights, metadata={"cvae_lab": json.dumps(meta)}),
        **{
            f"per-digit values {what}": save_safetensors(
                {**model.state_dict(), checkpoint.RECORDED + "log_px": values}, metadata={"cvae_lab": json.dumps(recorded_meta)}
            )
            for what, values, recorded_meta in (
                ("with no recorded test", torch.zeros(5), meta),
                ("longer than the recorded test", torch.zeros(6), {**meta, "metrics": {"test": {"n": 5}}}),
                ("as a matrix", torch.zeros(5, 1), {**meta, "metrics": {"test": {"n": 5}}}),
                ("in float16", torch.zeros(5, dtype=torch.float16), {**meta, "metrics": {"test": {"n": 5}}}),
                ("of NaN", torch.full((5,), float("nan")), {**meta, "metrics": {"test": {"n": 5}}}),
                ("under a recorded test that is a list", torch.zeros(5), {**meta, "metrics": {"test": [5]}}),
                ("under a count that is not a number", torch.zeros(5), {**meta, "metrics": {"test": {"n": "5"}}}),
            )
        },
    }


def _torch_save_bytes(model):
    import io

    buffer = io.BytesIO()
    torch.save({"state": model.state_dict(), "payload": Payload()}, buffer)
    return buffer.getvalue()


def test_recorded_per_digit_values_travel_beside_the_weights_and_pair_two_models(tmp_path, model):
    """evaluate --record keeps the values behind its figures in the file: read back without torch (file headers) they
    are the same digits' values, the weights load as before, and two recorded models compare with paired errors."""
    from cvae_core.compare import paired_difference, recorded
    from cvae_core.storage.checkpoint_header import file_metadata, recorded_values

    rng = torch.Generator().manual_seed(0)
    shared = -90 + 10 * torch.randn(400, generator=rng)  # the digits' own spread, common to both models
    values = {"a": shared, "b": shared - 0.3 + 0.1 * torch.randn(400, generator=rng)}
    for name, log_px in values.items():
        test = {"n": 400, "log_px": float(log_px.mean()), "log_px_se": float(log_px.std() / 20), "bound": "log p(x)"}
        checkpoint.save(model, tmp_path / f"{name}.safetensors", {"metrics": {"test": test}}, half=True, per_digit={"log_px": log_px})
    back = {name: recorded_values(tmp_path / f"{name}.safetensors") for name in values}
    assert torch.equal(torch.as_tensor(back["a"]["log_px"], dtype=torch.float32), values["a"])  # float32 despite half=True
    loaded = checkpoint.load(tmp_path / "a.safetensors").model.state_dict()
    assert all(torch.equal(loaded[k], v.half().float()) for k, v in model.state_dict().items())
    a, b = (recorded(file_metadata(tmp_path / f"{name}.safetensors")["metrics"]["test"], back[name]) for name in values)
    diff, paired_se = paired_difference(a, b, "log_px")
    assert abs(diff - float((values["a"] - values["b"]).mean())) < 1e-4
    a.per_digit.clear()
    assert paired_difference(a, b, "log_px")[1] > 10 * paired_se  # unpaired: the digits' spread swamps the difference
    assert recorded_values(tmp_path / "missing.safetensors") == {}


@pytest.mark.parametrize("metrics", [{"test": [1, 2]}, {"test": "x"}, [3], {"test": {"n": True}}])
def test_metadata_of_any_shape_loads_when_no_per_digit_values_rest_on_it(model, metrics):
    """metrics is the file's own, free-form: an upload whose recorded test is not a table still loads (the recorded
    values' check reads it only to refuse values it cannot vouch for)."""
    meta = checkpoint.read_metadata(checkpoint.to_bytes(model))
    data = save_safetensors(model.state_dict(), metadata={"cvae_lab": json.dumps({**meta, "metrics": metrics})})
    assert checkpoint.from_bytes(data).metadata["metrics"] == metrics


def test_every_bad_checkpoint_is_refused_cleanly(tmp_path, model):
    MARKER.unlink(missing_ok=True)
    for what, data in _bad_files(model).items():
        path = tmp_path / "bad.safetensors"
        path.write_bytes(data)
        with pytest.raises(CheckpointError) as err:
            checkpoint.load(path)
        message = str(err.value)
        assert message and "Traceback" not in message, what
        with pytest.raises(CheckpointError):
            checkpoint.from_bytes(data)
    assert not MARKER.exists(), "a pickle payload was executed"


def test_missing_file_and_folder_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        checkpoint.load(tmp_path / "nope.safetensors")
    with pytest.raises(CheckpointError, match="folder"):
        checkpoint.load(tmp_path)


@pytest.mark.parametrize("name", ["../evil", "a/b", "/etc/passwd", "..", ".hidden", "", "x" * 200, "a\\b", "sp ace"])
def test_unsafe_names_are_refused(name):
    with pytest.raises(CheckpointError):
        checkpoint.checkpoint_name(name)


def test_safe_names_get_the_suffix():
    assert checkpoint.checkpoint_name("my-cvae_2.v1") == "my-cvae_2.v1.safetensors"
    assert checkpoint.checkpoint_name("run.safetensors") == "run.safetensors"


def test_interrupted_save_leaves_the_old_file_and_no_debris(tmp_path, model, monkeypatch):
    path = checkpoint.save(model, tmp_path / "m.safetensors")
    before = path.read_bytes()
    other = build_model(model_config(variant="cvae1", latent_dim=4, hidden=32))

    def crash(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(CheckpointError, match="No space left"):
        checkpoint.save(other, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_folder_gives_a_message(tmp_path, model):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(CheckpointError, match="could not save"):
            checkpoint.save(model, folder / "m.safetensors")
    finally:
        folder.chmod(0o700)


def test_unwritable_target_gives_a_message(tmp_path, model):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CheckpointError, match="could not save"):
        checkpoint.save(model, blocker / "m.safetensors")  # a file where a folder should be


def test_a_tiny_file_claiming_a_huge_model_is_refused_before_anything_is_allocated(tmp_path):
    """A few hundred bytes whose metadata declares an m2 with hidden width 4096 and 4 layers: refused from the
    header alone, in a fresh process, with under 20 MB more peak memory (the model it claims has over a hundred million weights): nothing
    was allocated for it."""
    import subprocess
    import sys

    config = {**model_config(variant="m2", hidden=4096, layers=4).to_dict()}
    meta = {"format": checkpoint.FORMAT, "variant": "m2", "model_config": config}
    data = save_safetensors({"x": torch.zeros(1)}, metadata={checkpoint.METADATA_KEY: json.dumps(meta)})
    assert len(data) < 1000
    path = tmp_path / "claim.safetensors"
    path.write_bytes(data)
    probe = f"""
import resource
from cvae_core.storage import checkpoint
from cvae_core.errors import CheckpointError
data = open({str(path)!r}, "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    checkpoint.from_bytes(data)
    print("LOADED")
except CheckpointError as e:
    print("REFUSED", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before, e)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120).stdout.split()
    assert out[0] == "REFUSED", out
    grown_kb = int(out[1])
    assert grown_kb < 20 * 1024, grown_kb
    assert "do not fit" in " ".join(out[2:])


def test_the_catalogue_reads_what_loading_reads_from_the_header_alone(tmp_path, model):
    from cvae_core.storage.checkpoint_header import catalogue

    models, _refused = checkpoint.load_folder(checkpoint.SHIPPED)
    listed = catalogue(checkpoint.SHIPPED)
    assert listed.keys() == models.keys()  # the CVAE models; the fidelity classifiers are left out of both
    assert all(listed[name] == ckpt.metadata for name, ckpt in models.items())
    data = checkpoint.to_bytes(model, {"dataset": "mnist"})
    header_end = 8 + int.from_bytes(data[:8], "little")
    (tmp_path / "cut.safetensors").write_bytes(data[:header_end])  # the header, no weights
    assert catalogue(tmp_path)["cut"]["dataset"] == "mnist"  # listed: the weights were never read
    with pytest.raises(CheckpointError):
        checkpoint.load(tmp_path / "cut.safetensors")  # loading reads them, and refuses the file
    (tmp_path / "junk.safetensors").write_bytes(b"\xff" * 8 + b"{}")
    assert set(catalogue(tmp_path)) == {"cut"}  # a file that is not a checkpoint is left out, not an error


def test_checkpoints_of_the_flat_configuration_era_keep_loading(model):
    """Before each variant had its own config class, every checkpoint carried cvae3's and m2's settings whatever its
    variant (storage/migrations.py): such a file loads, to the same weights, and an unknown setting is still refused.
    Every shipped model loads into its variant's own class."""
    from cvae_core.storage.migrations import ONE_VARIANTS_SETTINGS

    flat = {**model.config.to_dict(), "alpha": 50.0, "gsnn_weight": 0.5, "target": "label", "given_quadrants": 2,
            "nn_fill": "none", "m1_latent": 0}  # fmt: skip
    assert set(flat) - set(model.config.to_dict()) == set(ONE_VARIANTS_SETTINGS)
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    old = save_safetensors(tensors, metadata={checkpoint.METADATA_KEY: json.dumps({"format": checkpoint.FORMAT, "variant": "cvae1",
                                                                                      "model_config": flat})})  # fmt: skip
    loaded = checkpoint.from_bytes(old).model
    assert loaded.config == model.config and all(
        torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), tensors.values(), strict=True)
    )
    strange = save_safetensors(tensors, metadata={checkpoint.METADATA_KEY: json.dumps({"format": checkpoint.FORMAT, "variant": "cvae1",
                                                                                          "model_config": {**flat, "colour": 3}})})  # fmt: skip
    with pytest.raises(CheckpointError, match="unknown model settings"):
        checkpoint.from_bytes(strange)
    from cvae_core.models import VARIANTS

    models, refused = checkpoint.load_folder(checkpoint.SHIPPED)
    assert models and not refused
    for ckpt in models.values():
        assert type(ckpt.model.config) is VARIANTS[ckpt.model.name].config_class
