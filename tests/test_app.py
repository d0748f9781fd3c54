"""Every page renders on its own, and its main interactions produce what they should (Streamlit AppTest)."""

import pytest
import torch
from streamlit.testing.v1 import AppTest

from cvae_core.checkpoint import Checkpoint
from cvae_core.models import ModelConfig, build_model

from .conftest import ROOT

TIMEOUT = 120  # torch makes the first run slow; AppTest's default of 3 s is too short


def page(path: str) -> AppTest:
    return AppTest.from_file(str(ROOT / path), default_timeout=TIMEOUT)


def no_exceptions(at: AppTest):
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture
def session_model():
    torch.manual_seed(0)
    model = build_model(ModelConfig(variant="cvae1", latent_dim=4, hidden=64)).eval()
    return {"tiny-cvae1": Checkpoint(model, {"variant": "cvae1"})}


def images(at: AppTest) -> list:
    return [el.value for el in at.get("image")]


def test_home_shows_every_variant():
    at = page("app.py").run()
    no_exceptions(at)
    assert len(at.get("graphviz_chart")) == 6
    assert len(at.latex) == 6
    assert "CVAE Lab" in at.title[0].value


def test_train_starts_progresses_stops_and_shares_the_model():
    at = page("pages/1_Train.py").run()
    no_exceptions(at)
    assert any("Press **Start**" in i.value for i in at.info)
    at.selectbox[0].set_value("cvae2")
    start = next(b for b in at.button if b.label == "Start")
    start.click().run()
    no_exceptions(at)
    trainer = at.session_state["trainer"]
    first = trainer.step
    assert first > 0 and at.session_state["train_running"]
    at.run()
    assert trainer.step > first  # every rerun trains another slice
    assert "epoch" in at.get("progress")[0].proto.text
    assert images(at), "no sample grid"
    next(b for b in at.button if b.label == "Stop").click().run()
    no_exceptions(at)
    assert not at.session_state["train_running"]
    assert "cvae2-run1" in at.session_state["session_models"]
    assert any(b.label == "Save to checkpoints/" for b in at.button)


def test_train_refuses_an_unavailable_dataset_with_a_message(monkeypatch, tmp_path):
    monkeypatch.setenv("CVAE_DATA_DIR", str(tmp_path))
    import dataclasses

    import cvae_core.data as data

    monkeypatch.setitem(data.SOURCES, "kmnist", dataclasses.replace(data.SOURCES["kmnist"], mirrors=("http://127.0.0.1:9/",)))
    at = page("pages/1_Train.py").run()
    at.selectbox[1].set_value("kmnist")
    next(b for b in at.button if b.label == "Start").click().run()
    no_exceptions(at)
    assert any("Cannot start" in e.value and "mnist-5k" in e.value for e in at.error)
    assert "trainer" not in at.session_state


def test_generate_slider_and_label_change_the_digit(session_model):
    at = page("pages/2_Generate.py")
    at.session_state["session_models"] = session_model
    at.run()
    no_exceptions(at)
    before = images(at)[0]
    at.slider(key="dial0").set_value(2.0).run()
    no_exceptions(at)
    after_slider = images(at)[0]
    assert after_slider != before
    at.segmented_control(key="gen_label").set_value(5).run()
    assert images(at)[0] != after_slider
    assert len(at.get("download_button")) >= 2


def test_generate_explains_the_unlabelled_vae():
    model = build_model(ModelConfig(variant="vae", latent_dim=2, hidden=32)).eval()
    at = page("pages/2_Generate.py")
    at.session_state["session_models"] = {"tiny-vae": Checkpoint(model, {"variant": "vae"})}
    at.run()
    no_exceptions(at)
    assert any("no label" in i.value for i in at.info)
