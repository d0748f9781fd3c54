"""The CLI contract end to end, as a researcher would call it: the CLI's main(argv) in this process (its exit code and
its two streams, as a shell sees them), and the real entry point in a subprocess once."""

import contextlib
import io
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import ROOT, needs_official_test


def cli(*args, check=True):
    """Run `python -m cvae_core ARGS` as cvae_core.cli.main(ARGS) in this process (no interpreter start, no torch import
    per call); returns what a subprocess would: the exit code, stdout and stderr."""
    from cvae_core.cli import main

    argv = [str(a) for a in args]
    out, err, saved = io.StringIO(), io.StringIO(), sys.argv
    sys.argv = ["cvae_core", *argv]  # the command a checkpoint records
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:  # argparse's refusals
                code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = saved
    proc = subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def test_the_entry_point_runs_as_a_program_with_its_exit_codes():
    def run(*args):
        return subprocess.run([sys.executable, "-m", "cvae_core", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=600)

    ok = run("info", ROOT / "checkpoints" / "cvae1.safetensors", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout.strip().splitlines()[-1])["variant"] == "cvae1"
    bad = run("info", ROOT / "checkpoints" / "no-such.safetensors", "--json")
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1 and not bad.stdout


def last_json(proc):
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "cvae1.safetensors"
    result = last_json(
        cli(
            "train",
            "--variant",
            "cvae1",
            "--dataset",
            "mnist-5k",
            "--epochs",
            2,
            "--latent-dim",
            8,
            "--hidden",
            256,
            "--seed",
            1,
            "--out",
            out,
            "--json",
        )
    )
    assert result["variant"] == "cvae1" and result["epochs"] == 2 and result["samples_per_sec"] > 0
    assert result["params"] > 0 and set(result["final"]) == {"elbo", "recon", "kl"} and result["final"]["elbo"] < 0
    return out


def test_info_reports_the_metadata(trained_file):
    info = last_json(cli("info", trained_file, "--json"))
    assert info["variant"] == "cvae1" and info["latent_dim"] == 8 and info["seed"] == 1 and info["dataset"] == "mnist-5k"
    assert "--variant cvae1" in info["command"]


def test_sample_writes_images(trained_file, tmp_path):
    out = tmp_path / "s.npy"
    cli("sample", trained_file, "--label", 3, "--n", 7, "--temperature", 0.8, "--out", out, "--json")
    images = np.load(out)
    assert images.shape == (7, 28, 28) and images.dtype == np.float32 and images.min() >= 0 and images.max() <= 1


def test_evaluate_on_the_offline_test_split(trained_file):
    result = last_json(cli("evaluate", trained_file, "--dataset", "mnist-5k", "--split", "val", "--iw-samples", 5, "--json"))
    assert result["n"] == 500 and result["log_px_given_y"] >= result["elbo"] - 1
    assert result["log_px_given_y"] - math.log(10) - 1e-3 <= result["log_px"] <= result["log_px_given_y"]
    assert result["log_px_se"] > 0 and result["log_px_bpp"] == pytest.approx(-result["log_px"] / (784 * math.log(2)), abs=1e-3)
    assert result["elbo"] == pytest.approx(result["recon"] - result["kl"], abs=1e-3)
    assert 0.2 < result["accuracy"] <= 1


@needs_official_test
def test_evaluate_on_the_official_test_split(trained_file):
    result = last_json(cli("evaluate", trained_file, "--dataset", "mnist", "--split", "test", "--iw-samples", 2, "--limit", 1000, "--json"))
    assert result["n"] == 1000 and result["dataset"] == "mnist" and result["elbo"] < 0


def test_time_budget_training(tmp_path):
    result = last_json(
        cli(
            "train",
            "--variant",
            "vae",
            "--dataset",
            "mnist-5k",
            "--max-seconds",
            1.5,
            "--hidden",
            64,
            "--out",
            tmp_path / "v.safetensors",
            "--json",
        )
    )
    # a time budget alone: it trains until the budget is spent (where it stops is tests/training/test_engine.py's, on its own clock)
    assert result["seconds"] >= 1.5 and result["steps"] > 0
    info = last_json(cli("info", tmp_path / "v.safetensors", "--json"))
    assert info["train"]["train_config"]["max_seconds"] == 1.5 and info["train"]["train_config"]["epochs"] is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["evaluate", "/nonexistent.safetensors", "--json"], "no checkpoint"),
        (["info", "pyproject.toml"], "not a checkpoint"),
        (["train", "--variant", "nope", "--out", "x.safetensors"], "invalid choice"),
        (["train", "--dataset", "mnist-5k", "--latent-dim", 500, "--out", "/tmp/x.safetensors"], "latent size"),
        (["train", "--dataset", "mnist-5k", "--epochs", 0, "--out", "/tmp/x.safetensors"], "epochs"),
        (
            ["train", "--dataset", "mnist-5k", "--variant", "cvae2", "--labels", 100, "--out", "/tmp/x.safetensors"],
            "is for a variant that learns from unlabelled ones",
        ),
        (["train", "--dataset", "mnist-5k", "--out", "/tmp/bad name.safetensors"], "checkpoint name"),
        (["train", "--dataset", "mnist-5k", "--lr", "nan", "--out", "/tmp/x.safetensors"], "learning rate"),
    ],
)
def test_errors_are_one_line_without_traceback(args, message):
    proc = cli(*args, check=False)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_diverging_training_exits_with_a_message(tmp_path):
    out = tmp_path / "nan.safetensors"
    proc = cli("train", "--dataset", "mnist-5k", "--lr", 10, "--epochs", 3, "--hidden", 64, "--out", out, check=False)
    assert proc.returncode == 2 and "NaN" in proc.stderr and "Traceback" not in proc.stderr


def test_evaluate_can_record_its_figures_in_the_checkpoint(trained_file, tmp_path):
    copy = tmp_path / "copy.safetensors"
    copy.write_bytes(trained_file.read_bytes())
    result = last_json(cli("evaluate", copy, "--dataset", "mnist-5k", "--split", "val", "--iw-samples", 2, "--record", "--json"))
    info = last_json(cli("info", copy, "--json"))
    assert info["metrics"]["test"] == result and info["variant"] == "cvae1"


def test_semi_supervised_m2_trains_from_a_few_labels(tmp_path):
    out = tmp_path / "m2.safetensors"
    result = last_json(
        cli("train", "--variant", "m2", "--dataset", "mnist-5k", "--labels", 100, "--epochs", 0.3, "--hidden", 64, "--out", out, "--json")
    )
    assert result["variant"] == "m2" and result["final"]["elbo"] < 0
    assert last_json(cli("info", out, "--json"))["labels"] == 100


def test_quadrants_experiment_contract():
    r = last_json(
        cli(
            "quadrants", "--given", 2, "--dataset", "mnist-5k", "--epochs", 0.5, "--iw-samples", 5, "--hidden", 64, "--limit", 200, "--json"
        )
    )
    assert r["given"] == 2 and r["n"] == 200 and set(r["cvae"]) == {"none", "prior"}  # the plain and the NN-filled CVAE
    for cvae in r["cvae"].values():
        assert (
            0 < cvae["ncll_is"] < 600
            and 0 < cvae["ncll_mc"] < 600
            and cvae["is_over_nn"] == pytest.approx(cvae["ncll_is"] / r["nn_ncll"], abs=1e-3)
        )
    assert 0 < r["nn_ncll"] < 600


def test_quadrants_saves_the_nn_filled_cvae_with_its_command(tmp_path):
    out = tmp_path / "q.safetensors"
    cli(
        "quadrants",
        "--given",
        1,
        "--dataset",
        "mnist-5k",
        "--epochs",
        0.2,
        "--iw-samples",
        2,
        "--hidden",
        32,
        "--limit",
        50,
        "--save",
        out,
        "--json",
    )
    info = last_json(cli("info", out, "--json"))
    assert info["fill"] == "prior" and "quadrants" in info["command"] and info["storage"] == "float16"
    refused = cli("quadrants", "--fills", "none", "--save", out, "--epochs", 0.1, check=False)
    assert refused.returncode != 0 and "--fills" in refused.stderr and "Traceback" not in refused.stderr


def test_classification_experiment_contract():
    r = last_json(cli("classification", "--dataset", "mnist-5k", "--epochs", 2, "--hidden", 64, "--json"))
    assert r["arch"] == "mlp" and r["n"] == 500
    assert 0.5 < r["cvae3_accuracy"] <= 1 and 0.5 < r["baseline_accuracy"] <= 1  # two epochs are far above chance (0.1)


def test_semisupervised_experiment_contract():
    r = last_json(cli("semisupervised", "--labels", 100, "--dataset", "mnist-5k", "--epochs", 0.3, "--hidden", 64, "--json"))
    assert r["labels"] == 100 and r["n"] == 500
    assert 0.1 < r["m2_accuracy"] <= 1 and 0.1 < r["baseline_accuracy"] <= 1


def test_semisupervised_spread_of_m1_m2_over_seeds(tmp_path):
    out = tmp_path / "m1m2.safetensors"
    r = last_json(
        cli("semisupervised", "--labels", 100, "--dataset", "mnist-5k", "--epochs", 0.2, "--hidden", 32, "--stack", "m1", "--m1-epochs", 2,
            "--m1-latent", 8, "--runs", 2, "--seed", 3, "--save", out, "--json")
    )  # fmt: skip
    assert r["model"] == "M1+M2" and r["seeds"] == [3, 4] and [run["seed"] for run in r["runs"]] == [3, 4]
    assert r["m2_accuracy"]["runs"] == 2 and r["m2_accuracy"]["std"] >= 0
    assert r["m2_accuracy"]["mean"] == pytest.approx(sum(run["m2_accuracy"] for run in r["runs"]) / 2, abs=1e-4)
    assert last_json(cli("info", out, "--json"))["seed"] == 3  # the model of the run with --seed
    assert all(1 <= run["m1_active_units"] <= 8 for run in r["runs"]) and r["z1_logistic_accuracy"]["runs"] == 2


@pytest.mark.parametrize("path", sorted((ROOT / "checkpoints").glob("*.safetensors")), ids=lambda p: p.stem)
def test_every_command_handles_every_shipped_checkpoint_or_refuses_it_in_one_sentence(path, tmp_path):
    info = last_json(cli("info", path, "--json"))
    result = last_json(cli("evaluate", path, "--dataset", "mnist-5k", "--split", "val", "--limit", 50, "--iw-samples", 2, "--json"))
    assert result["n"] == 50
    # a shipped model that reads digits reads most of 50 validation digits right (chance is 0.1); one that cannot says nothing
    assert result["accuracy"] >= 0.8 if "accuracy" in result else info["variant"] == "vae"
    if info["variant"] == "classifier":
        assert result["accuracy"] > 0.9 and "elbo" not in result
    elif info["variant"] == "cvae3":
        assert "log_py_given_x" in result and "log_px" not in result
    else:
        assert result["log_px"] < 0 and result["log_px_se"] > 0
    proc = cli("sample", path, "--label", 1, "--n", 2, "--out", tmp_path / "s.npy", "--json", check=False)
    if proc.returncode == 0:
        assert np.load(tmp_path / "s.npy").shape == (2, 28, 28)
    else:  # a model that does not draw digits: one sentence, no traceback
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "does not generate digits" in proc.stderr
