"""The server's model store: strangers cannot overwrite shipped or saved models, nor fill the disk."""

import hashlib
import threading

import pytest

from cvae_core.models import build_model, model_config
from cvae_core.storage import checkpoint
from cvae_core.storage.store import ModelStore, StoreError, StoreSettings
from tests.app.test_app import no_exceptions, page
from tests.conftest import wait_until
from ui import state as keys


@pytest.fixture
def model():
    return build_model(model_config(variant="cvae2", latent_dim=2, hidden=32), seed=0)


@pytest.fixture
def shipped(tmp_path, model):
    folder = tmp_path / "shipped"
    checkpoint.save(model, folder / "cvae2.safetensors", {"note": "shipped"})
    return folder


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_shipped_name_is_refused_and_the_shipped_file_is_untouched(tmp_path, shipped, model):
    store = ModelStore(StoreSettings(tmp_path / "saved"), shipped)
    before = digest(shipped / "cvae2.safetensors")
    for name in ("cvae2", "CVAE2", "cvae2.safetensors"):
        with pytest.raises(StoreError, match="ships with the app"):
            store.save(model, name, {})
    assert digest(shipped / "cvae2.safetensors") == before
    assert store.usage() == (0, 0)


def test_a_saved_name_is_never_overwritten_even_by_two_sessions_at_once(tmp_path, shipped, model):
    store = ModelStore(StoreSettings(tmp_path / "saved"), shipped)
    outcomes = []

    def save():
        try:
            outcomes.append(store.save(model, "mine", {"who": threading.get_ident()}))
        except StoreError as e:
            outcomes.append(e)

    threads = [threading.Thread(target=save) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(o, StoreError) for o in outcomes) == 3
    assert all("already saved" in str(o) for o in outcomes if isinstance(o, StoreError))
    saved = checkpoint.load(tmp_path / "saved" / "mine.safetensors")
    assert saved.metadata["saved_by"] == "visitor"


def test_limits_on_files_and_bytes_are_checked_before_writing(tmp_path, shipped, model):
    size = len(checkpoint.to_bytes(model, {"saved_by": "visitor"}))
    store = ModelStore(StoreSettings(tmp_path / "a", max_files=2), shipped)
    store.save(model, "one", {})
    store.save(model, "two", {})
    with pytest.raises(StoreError, match="limit"):
        store.save(model, "three", {})
    assert store.usage()[0] == 2
    store = ModelStore(StoreSettings(tmp_path / "b", max_bytes=int(1.5 * size)), shipped)
    store.save(model, "one", {})
    with pytest.raises(StoreError, match="full"):
        store.save(model, "two", {})
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["one.safetensors"]  # nothing half-written


def test_saving_switched_off_writes_nothing(tmp_path, shipped, model, monkeypatch):
    monkeypatch.setenv("CVAE_SAVING", "off")
    monkeypatch.setenv("CVAE_SAVED_DIR", str(tmp_path / "saved"))
    store = ModelStore(StoreSettings.from_environment(tmp_path / "unused"), shipped)
    assert not store.settings.enabled and store.settings.folder == tmp_path / "saved"
    with pytest.raises(StoreError, match="switched off"):
        store.save(model, "mine", {})
    assert not (tmp_path / "saved").exists()


def test_train_page_refuses_a_shipped_name_and_a_saved_model_comes_back_marked(tmp_path, monkeypatch):
    """End to end: a visitor trains, tries to save as 'cvae2' (refused, the shipped file byte-identical),
    saves under a new name; a fresh session (after a restart) lists it as saved by a visitor, not shipped."""
    monkeypatch.setenv("CVAE_SAVED_DIR", str(tmp_path / "saved"))
    shipped_file = checkpoint.SHIPPED / "cvae2.safetensors"
    before = digest(shipped_file)
    at = page("train").run()
    at.selectbox[0].set_value("cvae2").run()  # a widget change reruns the page, as in a browser
    next(b for b in at.button if b.label == "Start").click().run()
    run = at.session_state[keys.SESSION_MODELS][at.session_state[keys.CURRENT_RUN]].run
    wait_until(lambda: run.snapshot.version > 0)
    next(b for b in at.button if b.label == "Stop").click().run()
    wait_until(lambda: not run.snapshot.active)
    at.run()
    at.text_input[0].set_value("cvae2")
    next(b for b in at.button if b.label == "Save on this server").click().run()
    no_exceptions(at)
    assert any("ships with the app" in e.value for e in at.error)
    assert digest(shipped_file) == before
    at.text_input[0].set_value("visitor-model")
    next(b for b in at.button if b.label == "Save on this server").click().run()
    assert any("Saved as visitor-model" in s.value for s in at.success)
    fresh = page("generate").run()
    no_exceptions(fresh)
    assert "visitor-model (saved by a visitor)" in fresh.selectbox(key="model").options
    assert not any(o.startswith("visitor-model (pretrained)") for o in fresh.selectbox(key="model").options)
