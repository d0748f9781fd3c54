"""Every page renders on its own, and its main interactions produce what they should (Streamlit AppTest)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from cvae_core.experiments.shipped import shipped_results
from cvae_core.models import build_model, model_config
from cvae_core.storage.checkpoint import Checkpoint
from tests.conftest import ROOT, wait_until
from ui import experiment_view
from ui import state as keys
from ui.frame import PAGES
from ui.frame import page as ui_page
from ui.i18n import LANGUAGE

TIMEOUT = 120  # torch makes the first run slow; AppTest's default of 3 s is too short


def page(key: str) -> AppTest:
    """The app as `streamlit run app.py` serves it, opened on the page `key` names in ui.frame.PAGES (page links resolve
    from app.py)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    if key != "home":
        at.switch_page(ui_page(key).file)
    return at


def give(at: AppTest, models: dict, prefer: str | None = None) -> AppTest:
    """Put models (name -> Checkpoint) in the session, keyed by their ids as the app keeps them."""
    from ui.models import SessionModel

    at.session_state[keys.SESSION_MODELS] = {ckpt.uid: SessionModel(name, ckpt) for name, ckpt in models.items()}
    if prefer is not None:
        at.session_state[keys.PREFERRED_MODEL] = models[prefer].uid
    return at


def no_exceptions(at: AppTest):
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture
def session_model():
    torch.manual_seed(0)
    model = build_model(model_config(variant="cvae1", latent_dim=4, hidden=64)).eval()
    return {"tiny-cvae1": Checkpoint(model, {"variant": "cvae1"})}


def images(at: AppTest) -> list:
    return [el.value for el in at.get("image")]


def explorer(at: AppTest) -> tuple[dict, dict | None, str]:
    """Generate's explorer as the page mounted it: the model description and the starting settings in its buffer's
    header (cvae_core.storage.webmodel), and its key (its state, in session state, is what the browser reports)."""
    (element,) = [el for el in at.get("bidi_component") if el.proto.component_name.startswith("cvae_explorer")]
    data = element.proto.bytes
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])["__metadata__"]
    start = json.loads(header["cvae_start"]) if "cvae_start" in header else None
    key = next(k for k in at.session_state if k.startswith("explorer:"))
    return json.loads(header["cvae_web"]), start, key


def report(at: AppTest, **view) -> AppTest:
    """What the browser's explorer sends once the visitor pauses: its state (setStateValue("view", ...))."""
    _meta, _start, key = explorer(at)
    at.session_state[key] = {"view": view}
    return at.run()


def all_sent_as_png(at: AppTest) -> bool:
    """Digits go to the browser as the PNGs the app drew (Streamlit would turn an image without alpha into a JPEG)."""
    urls = [img.url for el in at.get("image") for img in el.proto.imgs]
    return bool(urls) and all(url.endswith(".png") for url in urls)


def test_home_shows_every_variant():
    at = page("home").run()
    no_exceptions(at)
    assert len(at.get("graphviz_chart")) == 6
    assert len(at.latex) == 6
    assert "CVAE Lab" in at.title[0].value
    table = next(m.value for m in at.markdown if "| model |" in m.value).replace("\\|", "|")  # a "|" in a cell is escaped
    header = table.splitlines()[0]  # the pretrained models: a column per quantity
    assert "ELBO on log p(x|y)" in header and "ELBO on log p(x)" in header and "log p(y|x)" in header and "log p(x), nats" in header
    assert "Bayes' rule over p(x|y)" in table and "its prediction p(y|x)" in table  # each accuracy names its kind
    folded = next(e for e in at.expander if e.label == "Every figure of the pretrained models")
    assert any("| model |" in m.value for m in folded.markdown)  # the table, folded under its one-line summary:
    from cvae_core.storage.checkpoint_header import SHIPPED, catalogue

    recorded = [meta["metrics"]["test"] for meta in catalogue(SHIPPED).values()]  # what the headers say, not a sentence kept here
    digits, best = {t["n"] for t in recorded}, max(t["log_px"] for t in recorded if "log_px" in t)
    said = f"{len(recorded)} pretrained models: on {min(digits):,} test digits, log p(x) runs from {best:.1f}"
    assert len(digits) == 1 and any(m.value.startswith(said) for m in at.main.markdown), said
    links = {link.proto.label: link.proto.page for link in at.main.get("page_link")}  # the first visit's three things to try
    assert links == {"Draw a digit": "Draw", "Train a model": "Train", "Move the dials": "Generate"}  # page names, as in the URL
    for target in (p.file for p in PAGES if p.address.lstrip("/") in links.values()):
        at.switch_page(target).run()
        no_exceptions(at)


HOME_WITHOUT_TORCH = """
import sys
import ui.frame

started = []
ui.frame.load_in_background = lambda: started.append(True)  # what the page asks for, not done here
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=60).run()
assert not at.exception, [e.value for e in at.exception]
assert len(at.get("graphviz_chart")) == 6 and [h.value for h in at.header] == ["The variants", "Pretrained models", "This server"]
table = next(m.value for m in at.markdown if m.value.startswith("| model |"))
assert all(f"| {name} |" in table for name in ("cvae1", "cvae2", "cvae3", "cvae4", "m2", "vae"))
assert started == [True]  # torch, the shipped models and the training process load in the background
print("torch" in sys.modules)
"""


def test_the_home_page_draws_without_torch_and_has_it_loaded_for_the_next_page():
    """Importing torch takes seconds on a cold server: the home page (title, variants, the models' table, the
    server's figures) draws without it, and asks for it to load in the background (a fresh process, to see)."""
    out = subprocess.run(
        [sys.executable, "-c", HOME_WITHOUT_TORCH, str(ROOT / "app.py")], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == "False"  # torch was never imported


HOME_THEN_LOADED = """
import json
import sys
import time
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=60).run()
assert not at.exception, [e.value for e in at.exception]
deadline = time.monotonic() + 120
while time.monotonic() < deadline:  # ui.models and ui.training are imported by the loading thread, not by the page
    models, training = sys.modules.get("ui.models"), sys.modules.get("ui.training")
    if getattr(getattr(models, "_SHIPPED_LOADED", None), "is_set", bool)() and getattr(training, "_client", None):
        break
    time.sleep(0.05)
print(json.dumps({"models": sorted(models._shipped_models()[0]), "held": training._client.held()}))
training._client.close()
"""


def test_after_the_home_page_the_models_and_the_training_process_are_ready():
    out = subprocess.run(
        [sys.executable, "-c", HOME_THEN_LOADED, str(ROOT / "app.py")], capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-3000:]
    ready = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"cvae1", "cvae2", "cvae3", "cvae4", "m2", "vae"} <= set(ready["models"]) and ready["held"] == 0


def test_presenter_mode_hides_the_server_details_and_keeps_to_links():
    at = page("home").run()
    assert [m.label for m in at.metric] == ["Training runs in memory", "Training now", "Server memory", "Trains on"]
    at.toggle(key="presenter").set_value(True).run()
    no_exceptions(at)
    assert not at.metric and at.query_params["presenter"] == "1"  # server internals are not for an audience
    assert all(link.proto.query_string == "presenter=1" for link in at.sidebar.get("page_link"))
    again = page("home")
    again.query_params["presenter"] = "1"  # a bookmark
    again.run()
    assert again.toggle(key="presenter").value and not again.metric


def test_train_runs_in_the_background_stops_resumes_and_shares_the_model():
    at = page("train").run()
    no_exceptions(at)
    assert any("Press **Start**" in i.value for i in at.info)
    at.selectbox[0].set_value("cvae2").run()  # a widget change reruns the page, as in a browser
    next(b for b in at.button if b.label == "Start").click().run()
    no_exceptions(at)
    run = at.session_state[keys.SESSION_MODELS][at.session_state[keys.CURRENT_RUN]].run
    wait_until(lambda: run.snapshot.grid is not None)  # training goes on in its own process: nothing reruns here
    at.run()
    no_exceptions(at)
    assert "epoch" in at.get("progress")[0].proto.text
    assert images(at), "no sample grid"
    # the model is on the other pages while it trains, marked so
    at.switch_page(ui_page("generate").file).run()
    no_exceptions(at)
    picked = at.selectbox(key="model")
    assert picked.value == run.id and picked.format_func(run.id) == "cvae2-run1 (this session, still training)"
    assert images(at)
    # The explorer keeps the weights it started from while the run trains, until the visitor takes the newest.
    pinned = at.session_state[keys.EXPLORER_PINS][run.id][0]
    wait_until(lambda: run.model() is not None and f"{run.id}.{run.model_version}" != pinned)
    at.run()
    assert at.session_state[keys.EXPLORER_PINS][run.id][0] == pinned
    next(b for b in at.button if b.label == "Take the newest weights").click().run()
    no_exceptions(at)
    assert at.session_state[keys.EXPLORER_PINS][run.id][0] != pinned
    at.switch_page(ui_page("train").file).run()
    next(b for b in at.button if b.label == "Stop").click().run()
    no_exceptions(at)
    wait_until(lambda: run.snapshot.state == "paused")
    step = run.snapshot.progress.step
    at.run()
    assert any(b.label == "Save on this server" for b in at.button)
    import time

    time.sleep(0.5)
    assert run.snapshot.progress.step == step  # paused: nothing trains
    next(b for b in at.button if b.label == "Resume").click().run()
    wait_until(lambda: run.snapshot.progress.step > step)
    next(b for b in at.button if b.label == "Stop").click().run()
    wait_until(lambda: not run.snapshot.active)
    assert at.session_state[keys.SESSION_MODELS][run.id].name == "cvae2-run1"
    at.run()
    assert {"Download the training as a GIF", "Download for the web"} <= {d.proto.label for d in at.get("download_button")}


def test_the_train_page_draws_before_the_training_process_is_up(monkeypatch):
    """A fresh server's training process takes seconds to start (it imports torch): a Train page without a run
    draws without waiting for it (its Start then waits under a spinner)."""
    import ui.training

    def not_up_yet():
        raise AssertionError("the page waited for the training process before it had a run")

    monkeypatch.setattr(ui.training, "_client", None)
    monkeypatch.setattr(ui.training, "client", not_up_yet)
    at = page("train").run()
    no_exceptions(at)
    assert any("Press **Start**" in i.value for i in at.info)


def test_a_train_link_sets_the_settings_and_the_address_follows_them():
    at = page("train")
    at.query_params.update({"variant": "cvae2", "latent": "8", "epochs": "12", "lr": "0.001", "beta": "1.5", "seed": "7"})
    at.run()
    no_exceptions(at)
    assert not at.warning
    assert at.selectbox(key="train_variant").value == "cvae2" and at.select_slider(key="train_latent").value == 8
    assert at.number_input(key="train_epochs").value == 12 and at.select_slider(key="train_lr").value == 1e-3
    assert at.slider(key="train_beta").value == 1.5 and at.number_input(key="train_seed").value == 7
    at.select_slider(key="train_hidden").set_value(256).run()
    link = {k: at.query_params[k] for k in at.query_params}
    assert link["hidden"] == "256" and link["latent"] == "8" and link["variant"] == "cvae2"
    at.selectbox(key="train_variant").set_value("cvae3").run()  # another variant brings its own recommended settings
    assert at.select_slider(key="train_lr").value == 1e-3 and at.slider(key="train_kl_start").value == 0.0
    assert at.query_params["variant"] == "cvae3"

    bad = page("train")
    bad.query_params.update({"variant": "cvae9", "latent": "7", "epochs": "100000", "seed": "3"})
    bad.run()
    no_exceptions(bad)
    warning = " ".join(w.value for w in bad.warning)
    assert all(name in warning for name in ("variant", "latent", "epochs"))
    assert bad.selectbox(key="train_variant").value == "cvae1" and bad.select_slider(key="train_latent").value == 16
    assert bad.number_input(key="train_seed").value == 3


def test_train_shows_the_labelled_digits_only_for_a_variant_that_learns_from_unlabelled_ones():
    """No disabled slider for the others (its greyed label read under 4.5:1); m2 gets it, and a link sets it."""
    at = page("train")
    at.query_params.update({"variant": "cvae2"})
    at.run()
    no_exceptions(at)
    assert "train_labels" not in {s.key for s in at.select_slider}
    m2 = page("train")
    m2.query_params.update({"variant": "m2", "labels": "600"})
    m2.run()
    no_exceptions(m2)
    assert m2.select_slider(key="train_labels").value == 600 and not m2.select_slider(key="train_labels").disabled


def test_train_refuses_an_unavailable_dataset_with_a_message(monkeypatch, tmp_path):
    monkeypatch.setenv("CVAE_DATA_DIR", str(tmp_path))
    import dataclasses

    import cvae_core.data as data

    monkeypatch.setitem(data.SOURCES, "kmnist", dataclasses.replace(data.SOURCES["kmnist"], mirrors=("http://127.0.0.1:9/",)))
    at = page("train").run()
    at.selectbox[1].set_value("kmnist").run()
    next(b for b in at.button if b.label == "Start").click().run()
    no_exceptions(at)
    assert any("Cannot start" in e.value and "mnist-5k" in e.value for e in at.error)
    assert keys.CURRENT_RUN not in at.session_state


def test_generate_mounts_the_sessions_model_in_the_browser_and_its_reports_become_the_pages_settings(session_model):
    """The explorer decodes in the browser (tests/browser/test_decoder_browser.py checks the digit itself); the page sends it
    the session's model and takes its reports: the label and temperature then redraw the grid below."""
    at = page("generate")
    give(at, session_model, prefer="tiny-cvae1")
    at.run()
    no_exceptions(at)
    meta, start, _key = explorer(at)
    assert (meta["variant"], meta["latent_dim"], meta["prior"]) == ("cvae1", 4, "learned")
    assert start == {"z": [0.0, 0.0, 0.0, 0.0], "label": 3, "temperature": 1.0}
    grid = images(at)[0]
    assert all_sent_as_png(at)
    report(at, z=[2.0, 0.0, 0.0, 0.0], label=5, temperature=0.5)
    no_exceptions(at)
    assert at.session_state["dial0"] == 2.0 and at.session_state["gen_label"] == 5 and at.session_state["gen_temperature"] == 0.5
    assert images(at)[0] != grid  # the grid below follows the explorer's temperature
    assert len(at.get("download_button")) >= 1


def test_a_generate_link_round_trips_and_a_bad_link_gets_a_message_and_the_defaults():
    at = page("generate")
    at.query_params.update({"model": "cvae2", "label": "7", "z": "1.5,-0.5", "t": "0.5"})
    at.run()
    no_exceptions(at)
    assert at.selectbox(key="model").format_func(at.selectbox(key="model").value) == "cvae2 (pretrained)"
    meta, start, _key = explorer(at)
    assert start["label"] == 7 and start["temperature"] == 0.5 and start["z"][:3] == [1.5, -0.5, 0.0]  # it opens there
    assert not at.warning
    report(at, z=[1.5, -0.5, 2.0] + [0.0] * (meta["latent_dim"] - 3), label=7, temperature=0.5)  # the address follows
    link = {k: at.query_params[k] for k in at.query_params}
    assert link["model"] == "cvae2" and link["label"] == "7" and link["t"] == "0.5" and link["z"].startswith("1.5,-0.5,2")

    again = page("generate")  # the link opened in another browser opens the explorer at the same digit
    again.query_params.update(link)
    again.run()
    assert explorer(again)[1]["z"][:3] == [1.5, -0.5, 2.0] and explorer(again)[1]["label"] == 7

    bad = page("generate")
    bad.query_params.update({"model": "../../etc/passwd", "label": "12", "z": "0.5,nan", "t": "0.25"})
    bad.run()
    no_exceptions(bad)
    warning = " ".join(w.value for w in bad.warning)
    assert "model" in warning and "label" in warning and "z" in warning
    _meta, start, _key = explorer(bad)
    assert start["label"] == 3 and not any(start["z"])  # defaults
    assert start["temperature"] == 0.25  # the valid part of the link is kept


def test_a_report_the_browser_could_forge_is_checked_before_it_is_kept():
    at = page("generate").run()
    meta, _start, _key = explorer(at)
    report(at, z=["x"] * meta["latent_dim"], label=99, temperature=1e9)
    no_exceptions(at)
    assert at.session_state["gen_label"] == 3 and at.session_state["gen_temperature"] == 1.0 and at.session_state["dial0"] == 0.0


def test_generate_explains_the_unlabelled_vae():
    model = build_model(model_config(variant="vae", latent_dim=2, hidden=32)).eval()
    at = page("generate")
    give(at, {"tiny-vae": Checkpoint(model, {"variant": "vae"})}, prefer="tiny-vae")
    at.run()
    no_exceptions(at)
    meta, start, _key = explorer(at)
    assert not meta["uses_label"] and start["label"] is None
    (element,) = [el for el in at.get("bidi_component") if el.proto.component_name.startswith("cvae_explorer")]
    assert "it has no label, so you cannot choose which digit it draws" in element.proto.js_content  # what it shows


def _png(array) -> bytes:
    import io

    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((np.asarray(array) * 255).astype("uint8")).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def readers(session_model):
    torch.manual_seed(1)
    cvae3 = build_model(model_config(variant="cvae3", latent_dim=4, hidden=64)).eval()
    return {**session_model, "tiny-cvae3": Checkpoint(cvae3, {"variant": "cvae3"})}


def test_draw_classifies_and_restyles_a_drawn_digit(readers, held_out):
    at = page("draw")
    give(at, readers, prefer="tiny-cvae1")
    at.session_state[keys.CHOSEN_DIGIT] = held_out.images[3].view(28, 28).numpy()
    at.run()
    no_exceptions(at)
    assert len(at.get("plotly_chart")) == 1  # one bar chart, a bar group per model
    assert sum("reads **" in m.value for m in at.markdown) == 1 and "tiny-cvae3" in [m.value for m in at.markdown if "reads" in m.value][0]
    assert len(images(at)) == 2 + 4  # what the model sees, the restyled row, and the steps of a light-on-dark picture
    assert any(s.value.startswith("**Read as") for s in at.success)  # the verdict, right under the canvas


def test_draw_reads_an_uploaded_photo_of_dark_ink(readers, held_out):
    at = page("draw")
    give(at, readers)
    at.run()
    assert any(i.value.startswith("Draw a digit, upload a picture or pick") for i in at.info)
    photo = 1 - held_out.images[5].view(28, 28).numpy().repeat(4, 0).repeat(4, 1)
    at.file_uploader[0].set_value(("digit.png", _png(photo), "image/png")).run()
    no_exceptions(at)
    assert any("digit.png" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 1


def test_draw_shows_each_step_of_reading_a_phone_photo(readers, held_out):
    from tests.photos import make_photo

    at = page("draw")
    give(at, readers)
    at.run()
    shot = make_photo(held_out.images[5].view(28, 28).numpy(), int(held_out.labels[5]), np.random.default_rng(0))
    at.file_uploader[0].set_value(("phone.jpg", shot.jpeg, "image/jpeg")).run()
    no_exceptions(at)
    steps = at.expander[0]
    assert steps.label.startswith("How the picture became") and len(steps.get("image")) == 6  # picture … what the model sees
    assert all_sent_as_png(at)
    assert any(s.value.startswith("**Read as") for s in at.success)


def test_draw_picks_a_test_digit_by_class_and_number_and_reads_it(readers):
    """The keyboard's way in: a class among the pills, a number, 'Another one'; the digit goes to the same reading as a
    drawing (the verdict, what the model sees), and the choice is kept by ids, whatever the language."""
    from ui.models import test_digits

    tests = test_digits()
    at = page("draw")
    give(at, readers)
    at.run()
    assert [t.label for t in at.tabs] == ["Draw", "Upload a photo", "Pick a test digit"]
    assert not at.success  # nothing read before a class is chosen
    note = "MNIST's 10,000 test digits" if tests.name == "mnist" else "official test digits are not on this server"
    assert any(note in c.value for c in at.caption)
    at.pills(key="draw_pick_class").set_value(7).run()
    no_exceptions(at)
    first = int(np.flatnonzero(tests.labels.numpy() == 7)[0])
    assert any(f"from test digit #{first}, labelled 7" in m.value for m in at.markdown)
    assert any(s.value.startswith("**Read as") for s in at.success)
    assert sum("reads **" in m.value for m in at.markdown) == 1
    shown = [el for el in at.get("image") if any(f"Test digit number {first}" in img.alt for img in el.proto.imgs)]
    assert shown, "the picked digit is shown with a text alternative"
    at.number_input(key="draw_pick_number").set_value(3).run()
    third = int(np.flatnonzero(tests.labels.numpy() == 7)[2])
    assert any(f"from test digit #{third}, labelled 7" in m.value for m in at.markdown)
    at.button(key="draw_pick_another").click().run()
    assert at.number_input(key="draw_pick_number").value != 3
    at.session_state[LANGUAGE] = "zh_Hans"  # the language changes, the choice stays (ids, not words)
    at.run()
    no_exceptions(at)
    assert at.pills(key="draw_pick_class").value == 7
    assert any("识别为" in s.value for s in at.success)


def test_draw_reads_what_the_visitor_gave_last(readers, held_out):
    """A photo, then a test digit: the test digit is read; a new photo then is read again."""
    at = page("draw")
    give(at, readers)
    at.run()
    photo = 1 - held_out.images[5].view(28, 28).numpy().repeat(4, 0).repeat(4, 1)
    at.file_uploader[0].set_value(("digit.png", _png(photo), "image/png")).run()
    assert any("from 'digit.png'" in m.value for m in at.markdown)
    at.pills(key="draw_pick_class").set_value(2).run()
    no_exceptions(at)
    assert any("from test digit #" in m.value for m in at.markdown)
    assert not any("from 'digit.png'" in m.value for m in at.markdown)
    at.file_uploader[0].set_value(("other.png", _png(1 - photo), "image/png")).run()
    assert any("from 'other.png'" in m.value for m in at.markdown)


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("notes.png", b"this is text", "Cannot use this file"),
        ("empty.png", b"", "Cannot use this file"),
        ("white.png", None, "No digit found"),
    ],
)
def test_draw_explains_bad_uploads(readers, name, data, message):
    import numpy as np

    at = page("draw")
    give(at, readers)
    at.run()
    at.file_uploader[0].set_value((name, data if data is not None else _png(np.ones((40, 40))), "image/png")).run()
    no_exceptions(at)
    assert any(message in e.value for e in [*at.error, *at.warning])


def test_latent_space_plots_and_cvae1_priors(session_model):
    model = build_model(model_config(variant="cvae1", latent_dim=2, hidden=32)).eval()
    at = page("latent")
    give(at, {"tiny-2d": Checkpoint(model, {"variant": "cvae1"})}, prefer="tiny-2d")
    at.run()
    no_exceptions(at)
    start = plane_start(at)  # a 2-D latent: the plane, the pointer's digit and the decoded plane are the browser's
    assert len(start["points"]["x"]) == 2000 and set(start["points"]["labels"]) == set(range(10))
    assert np.asarray(start["priors"]["mu"]).shape == (10, 2)  # cvae1's learned p(z|y), drawn as ellipses
    assert not at.get("plotly_chart") and any("Click a dot" in i.value for i in at.info)
    give(at, session_model, prefer="tiny-cvae1")  # 4-D: projected
    at.run()
    no_exceptions(at)
    assert at.radio[0].value == "PCA"


def test_draw_says_when_the_official_test_digits_are_not_here(readers, monkeypatch):
    """Without MNIST's test split the picker offers the offline digits' held-out 500, and says so."""
    import cvae_core.data
    from ui.models import test_digits

    monkeypatch.setattr(cvae_core.data, "test_digits", lambda: cvae_core.data.load_dataset("mnist-5k", "val"))
    test_digits.clear()
    try:
        at = page("draw")
        give(at, readers)
        at.run()
        assert any("official test digits are not on this server" in c.value for c in at.caption)
        at.pills(key="draw_pick_class").set_value(0).run()
        no_exceptions(at)
        assert at.number_input(key="draw_pick_number").max == 50  # 50 a class
        assert any(s.value.startswith("**Read as") for s in at.success)
    finally:
        test_digits.clear()


def test_latent_space_opens_a_test_digit_picked_from_the_keyboard(session_model):
    """Plotly's dots need a pointer: the expander's picker opens a digit, which Open in Draw then reads."""
    from ui.models import test_digits

    at = page("latent")
    give(at, session_model, prefer="tiny-cvae1")  # 4-D: the projected plot
    at.run()
    assert any(e.label == "Pick a test digit from the keyboard" for e in at.expander)
    at.pills(key="latent_pick_class").set_value(4).run()
    at.number_input(key="latent_pick_number").set_value(2).run()
    no_exceptions(at)
    second_four = int(np.flatnonzero(test_digits().labels.numpy()[:2000] == 4)[1])  # among the 2,000 dots plotted
    assert any(m.value == f"**Test digit #{second_four}**, label 4" for m in at.markdown), [m.value for m in at.markdown]
    next(b for b in at.button if b.label == "Open in Draw").click().run()
    no_exceptions(at)
    assert any(s.value.startswith("**Read as") for s in at.success)  # Draw reads it


def test_a_page_without_the_model_picker_between_two_with_it_keeps_the_visitors_model(session_model):
    """Streamlit forgets a widget's value on a page that does not draw it: Generate, Draw (no sidebar picker), then
    Latent space opened on the first shipped model instead of the one the visitor had."""
    at = page("generate")
    give(at, session_model)  # not preferred: the visitor picks it
    at.run()
    mine = session_model["tiny-cvae1"].uid
    assert at.sidebar.selectbox(key="model").value != mine
    at.sidebar.selectbox(key="model").set_value(mine).run()
    at.switch_page(ui_page("draw").file).run()
    at.switch_page(ui_page("latent").file).run()
    no_exceptions(at)
    assert at.sidebar.selectbox(key="model").value == mine


def test_compare_measures_every_model_and_offers_csv(readers):
    at = page("compare")
    give(at, readers)
    at.run()
    no_exceptions(at)
    at.select_slider[0].set_value(200)  # the fewest digits,
    at.select_slider[1].set_value(10)  # proposals
    at.select_slider[2].set_value(50)  # and samples per label: what is tested is the table, not the figures' precision
    next(b for b in at.button if "Measure" in b.label).click().run()
    no_exceptions(at)
    rows = at.session_state[keys.COMPARE_ROWS]["rows"]
    assert {"tiny-cvae1 (this session)", "tiny-cvae3 (this session)"} <= set(rows)
    assert rows["tiny-cvae3 (this session)"].kind == "prediction" and "label_fidelity" not in rows["tiny-cvae3 (this session)"].figures
    image_table, prediction_table = (d.value for d in at.dataframe)
    assert "tiny-cvae3 (this session)" not in image_table.index  # never in (nor marked best in) an image column
    assert "tiny-cvae3 (this session)" in prediction_table.index and "log p(x)" not in prediction_table.columns
    assert {"log p(x)", "log p(x|y)", "parameters", "training time"} <= set(image_table.columns)
    assert all(" M" in v or " k" in v for v in image_table["parameters"])  # readable sizes, not 1383536.000
    assert any("tie" in m.value or "worth" in m.value for m in at.markdown)  # sentences written from the figures
    cvae1, vae_like = rows["tiny-cvae1 (this session)"], at.select_slider[1].value
    assert cvae1.proposals_per_label * 10 == vae_like  # a conditional model shares the same k among its labels
    assert any("Burda" in m.value and "k = 5,000" in m.value for m in at.markdown)  # a published figure, with its estimator
    assert len(at.get("download_button")) >= 1


def opening(at: AppTest) -> tuple[dict, list[str]]:
    """The first chart of a page's main area (its plotly figure) and the page's markdown, as it opens."""
    return json.loads(at.main.get("plotly_chart")[0].proto.spec), [m.value for m in at.main.markdown]


def test_compare_opens_on_the_recorded_figures_and_the_sentence_the_findings_code_writes():
    from cvae_core.compare import label_worth, ranking, recorded
    from cvae_core.storage.checkpoint_header import SHIPPED, catalogue, recorded_values

    at = page("compare").run()
    no_exceptions(at)
    figure, texts = opening(at)
    tests = {name: meta["metrics"]["test"] for name, meta in catalogue(SHIPPED).items()}
    shown = {name: recorded(test, recorded_values(SHIPPED / f"{name}.safetensors")) for name, test in tests.items() if "log_px" in test}
    dots = figure["data"][0]
    assert set(dots["y"]) == set(shown) and sorted(dots["x"]) == dots["x"]  # one dot per shipped image model, best on top
    assert dots["error_x"]["array"] == [2 * shown[name].errors["log_px"] for name in dots["y"]]  # ± 2 standard errors
    assert " ".join(ranking(shown)) in texts  # the sentence, from the figures (English: no translation)
    worth = " ".join(label_worth(shown))  # and, where the files hold per-digit values, what a label is worth, below it
    assert (worth in [c.value for c in at.caption]) if worth else not any("Knowing the label" in c.value for c in at.caption)
    counts = {tests[name]["n"] for name in shown}  # what the headers say, whatever the page's own sliders offer
    said = "on all 10,000 official" if counts == {10000} else f"first {min(counts):,}"
    assert any(said in c.value for c in at.caption)
    paired = all("log_px" in m.per_digit for m in shown.values()) and len(counts) == 1
    assert any(("digit by digit (paired)" if paired else "(unpaired)") in c.value for c in at.caption)
    assert not at.dataframe  # nothing measured: the tables come with Measure again
    assert any(e.label == "Measure again" for e in at.expander)  # the sliders and the button, folded


def test_experiments_page_opens_on_the_shipped_results_without_training(held_out):
    at = page("experiments").run()
    no_exceptions(at)
    assert keys.LIVE_EXPERIMENTS not in at.session_state  # nothing trained: no retrain was started by opening the page
    missing = [w.value for w in at.warning if "earlier protocol" not in w.value]  # a pending re-run is said, not missing
    assert not missing, missing  # every shipped model and result is there
    tables = [d.value for d in at.dataframe]
    shown = len([n for n in shipped_results() if n.startswith("quadrants-")])  # the quadrant runs that ship
    assert any(len(t) == shown and "CVAE, NN-filled prior: IS / NN" in t.columns for t in tables), "the quadrant table, a row a run"
    assert any("M1+M2" in set(t["model"]) for t in tables if "model" in t.columns), "the semi-supervised table"
    assert len(at.get("plotly_chart")) >= 4  # two results charts, two models reading a digit
    quadrants, kingma = (
        json.loads(c.proto.spec) for c in at.get("plotly_chart")[:1] + [c for c in at.get("plotly_chart") if "kingma" in c.proto.id]
    )
    assert len(quadrants["data"]) == 2 and len(quadrants["data"][0]["y"]) == 3  # NN and CVAE, for 1, 2 and 3 quadrants shown
    assert len(kingma["data"][0]["x"]) == len(experiment_view.kingma_bars(shipped_results()))  # a bar per model
    sentences = [
        m.value for m in at.main.markdown if m.value.startswith("**") and ("better than the NN" in m.value or "M1+M2 reads" in m.value)
    ]
    assert len(sentences) == 2, sentences  # one finding per experiment, before any button is pressed
    assert images(at), "no completions from the shipped model"
    (diversity,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if "diversity" in c.proto.id]
    assert [len(t["y"]) for t in diversity["data"]] == [10, 10] and not any(diversity["data"][0]["y"])  # the NN's 0, the CVAE's deciles
    assert any(m.value.startswith("**Over the first") for m in at.main.markdown), "the diversity sentence"
    rule = shipped_results()[experiment_view.DIVERSITY]["shown_digit"]["index"]
    assert next(s for s in at.slider if s.key == "quad-index").value == rule  # opens on the stated rule's digit, not one picked
    assert all(r.disabled for r in at.radio if r.label == "Digit")  # nothing drawn yet
    at.session_state[keys.LAST_DIGIT] = held_out.images[5].view(28, 28).numpy()  # as the Draw page leaves it
    at.run()
    next(r for r in at.radio if r.key == "quad-source").set_value("my drawing").run()
    no_exceptions(at)
    assert not any(s.key == "quad-index" for s in at.slider), "the drawing replaces the test-digit slider"
    assert images(at), "no completions of the drawing shown"


def finish(run) -> None:
    """Wait for a run to end, beating its heartbeat as an open tab's page would."""

    def ended():
        run.beat()
        return not run.snapshot.active

    wait_until(ended, timeout=600)


def test_experiments_page_retrains_the_quadrant_experiment_as_a_job_of_the_training_service():
    at = page("experiments").run()
    at.select_slider[0].set_value(2)  # epochs
    at.select_slider[1].set_value(500)  # test digits
    next(b for b in at.button if b.label == "Train the NN and both CVAEs").click().run()
    no_exceptions(at)
    run = at.session_state[keys.LIVE_EXPERIMENTS]["quadrants"]
    assert run.snapshot.state in ("queued", "training")  # the script run did not train: the service does
    assert next(b for b in at.button if b.label == "Train the NN and both CVAEs").disabled  # one retrain at a time
    finish(run)
    at.run()
    no_exceptions(at)
    snap = run.snapshot
    assert snap.state == "done", snap.error
    findings = snap.summary["findings"]["quadrants"]
    assert set(findings["cvae"]) == {"none", "prior"} and 0 < findings["nn_ncll"] < 400 and findings["n"] == 500
    assert findings["selected_on"] == "validation" and findings["selected_fill"] in ("none", "prior")
    table = next(d.value for d in at.dataframe if "test digits" in d.value.columns and 500 in set(d.value["test digits"]))
    assert len(table) == 1 and table["CVAE: MC"][0] == findings["cvae"]["none"]["ncll_mc"]
    completions = run.showcase(np.zeros((28, 28), np.float32), seed=1)
    assert [c.shape for c in completions] == [(1, 28, 28)] * 3 + [(6, 28, 28)]
    assert run.showcase(np.zeros(5), seed=1) is None  # a malformed digit is refused, not reshaped
    assert at.session_state[keys.LIVE_FINDINGS]["quadrants"][1] == findings  # kept for the table once the run is done


def test_a_strangers_experiments_page_sees_nothing_of_my_retrain_and_stopping_theirs_leaves_mine_running():

    mine, theirs = page("experiments").run(), page("experiments").run()
    next(b for b in mine.button if b.label == "Train the NN and both CVAEs").click().run()
    run = mine.session_state[keys.LIVE_EXPERIMENTS]["quadrants"]
    theirs.run()
    no_exceptions(theirs)
    assert keys.LIVE_EXPERIMENTS not in theirs.session_state  # their session holds no handle on my retrain
    assert not any(p.proto.text and "of the experiment" in p.proto.text for p in theirs.get("progress"))
    assert next(b for b in theirs.button if b.key == "quadrants-stop").disabled  # nothing of theirs to stop
    next(b for b in theirs.button if b.label == "Train the NN and both CVAEs").click().run()  # they start their own, then stop it
    next(b for b in theirs.button if b.key == "quadrants-stop").click().run()
    wait_until(lambda: theirs.session_state[keys.LIVE_EXPERIMENTS]["quadrants"].snapshot.state == "paused")
    run.beat()
    assert run.snapshot.state in ("queued", "training")  # mine goes on
    assert theirs.session_state[keys.LIVE_EXPERIMENTS]["quadrants"].id != run.id
    run.stop()


def test_experiments_page_retrains_m2_and_adds_it_to_the_sessions_models():
    at = page("experiments").run()
    slider = next(s for s in at.select_slider if s.key == "m2_epochs")
    slider.set_value(2).run()
    next(b for b in at.button if b.label == "Train it and the baseline").click().run()
    no_exceptions(at)
    run = at.session_state[keys.LIVE_EXPERIMENTS]["semisupervised"]
    finish(run)
    at.run()
    no_exceptions(at)
    findings = run.snapshot.summary["findings"]["semisupervised"]
    assert findings["model"] == "M2" and findings["labels"] == 100 and 0.1 < findings["m2_accuracy"] <= 1
    assert session_names(at) == ["m2-100labels"]  # on every page now
    at.run()
    assert session_names(at) == ["m2-100labels"]  # once, however often the page is drawn


def session_names(at: AppTest) -> list[str]:
    return [entry.name for entry in at.session_state[keys.SESSION_MODELS].values()] if keys.SESSION_MODELS in at.session_state else []


def test_a_checkpoint_upload_goes_through_the_safe_loader():
    import pickle

    from cvae_core.storage import checkpoint

    model = build_model(model_config(variant="cvae2", latent_dim=4, hidden=32))
    at = page("generate").run()
    uploader = next(u for u in at.file_uploader if u.key == "checkpoint_upload")
    uploader.set_value(("evil.safetensors", pickle.dumps({"a": 1}), "application/octet-stream")).run()
    no_exceptions(at)
    assert any("Cannot load evil.safetensors" in e.value for e in at.error)
    assert "evil" not in session_names(at)
    uploader = next(u for u in at.file_uploader if u.key == "checkpoint_upload")
    uploader.set_value(("mine.safetensors", checkpoint.to_bytes(model), "application/octet-stream")).run()
    no_exceptions(at)
    assert session_names(at) == ["mine"]
    picked = at.selectbox(key="model")
    assert picked.value == at.session_state[keys.PREFERRED_MODEL] and picked.format_func(picked.value) == "mine (this session)"


def test_two_uploads_with_the_same_file_name_are_two_models():
    from cvae_core.storage import checkpoint

    first, second = (build_model(model_config(variant="cvae2", latent_dim=2, hidden=32), seed=s) for s in (0, 1))
    at = page("generate").run()
    for model in (first, second):
        uploader = next(u for u in at.file_uploader if u.key == "checkpoint_upload")
        uploader.set_value(("model.safetensors", checkpoint.to_bytes(model), "application/octet-stream")).run()
        no_exceptions(at)
    assert session_names(at) == ["model", "model"]
    picked = at.selectbox(key="model")
    labels = list(picked.options)  # as shown
    assert "model (this session)" in labels and "model (this session) #2" in labels
    a, b = (entry.checkpoint.model for entry in at.session_state[keys.SESSION_MODELS].values())
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))  # both kept, neither replaced


def plane_start(at: AppTest) -> dict:
    """What Latent space sends a 2-D model's plane component: the test digits' codes, labels and the model's priors."""
    (element,) = [el for el in at.get("bidi_component") if el.proto.component_name.startswith("cvae_plane")]
    data = element.proto.bytes
    return json.loads(json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])["__metadata__"]["cvae_start"])


def _plotted_points(at: AppTest) -> np.ndarray:
    """x, y of every test digit in the Latent space scatter (traces of the ten labels, or a 2-D model's plane)."""
    if not at.get("plotly_chart"):
        points = plane_start(at)["points"]
        return np.stack([np.asarray(points["x"]), np.asarray(points["y"])], 1)
    import base64
    import json

    def values(v):  # plotly writes numpy arrays as base64 with their dtype
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]) if isinstance(v, dict) else np.asarray(v, dtype=float)

    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = [t for t in spec["data"] if t.get("mode") == "markers"]
    return np.concatenate([np.stack([values(t["x"]), values(t["y"])], 1) for t in traces])


def test_two_visitors_with_same_named_models_each_see_their_own_embedding():
    """Every session's first cvae1 run has the same display name; the cached embedding must not cross sessions."""
    from cvae_core.latent import project_codes

    shown = []
    for seed in (0, 1):  # two visitors, one after the other, in one server process (one cache)
        model = build_model(model_config(variant="cvae1", latent_dim=2, hidden=64), seed=seed).eval()
        at = page("latent")
        give(at, {"cvae1-run1": Checkpoint(model, {"variant": "cvae1"})}, prefer="cvae1-run1")
        at.run()
        no_exceptions(at)
        shown.append((_plotted_points(at), model))
    from ui.models import test_digits

    digits = test_digits().subset(2000)
    for points, model in shown:
        own = project_codes(model, digits, "latent")
        assert np.allclose(np.sort(points[:, 0]), np.sort(own[:, 0]), atol=1e-4), "a visitor saw another visitor's embedding"
    assert not np.allclose(np.sort(shown[0][0][:, 0]), np.sort(shown[1][0][:, 0]))


def test_every_digit_image_has_a_text_alternative(session_model):
    """A screen reader hears what a grid shows: Generate's grid (and every other show_digits grid) carries alt text."""
    at = page("generate")
    give(at, session_model, prefer="tiny-cvae1")
    at.run()
    no_exceptions(at)
    alts = [img.alt for el in at.get("image") for img in el.proto.imgs]
    assert alts and all("handwritten digits in" in alt for alt in alts), alts
