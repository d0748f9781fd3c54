"""The host's room page (pages/8_Host_room.py over ui/room.py and the training process's board): only the host opens a
room; the projector's view never shows a pending drawing, the review does; a press trains on the accepted drawings only;
the accepted drawings download as an ImageFolder zip that the app's own reader reads back."""

import numpy as np

from cvae_core.own_data import imagefolder_zip, read_own_data
from tests.app.test_app import images, no_exceptions, page
from tests.serving.test_host import enter, host_key  # noqa: F401 -- a fixture
from ui import state as keys
from ui.frame import page as ui_page


def test_a_zip_of_accepted_drawings_reads_back_as_the_same_data_set(held_out):
    chosen = np.concatenate([np.flatnonzero(held_out.labels.numpy() == c)[:5] for c in (3, 7)])
    pictures = (held_out.images[chosen].numpy().reshape(-1, 28, 28) * 255).round().astype(np.uint8)
    labels = np.array([3] * 5 + [7] * 5)
    own = read_own_data(imagefolder_zip(pictures, labels, tuple(str(d) for d in range(10))), "room.zip")
    assert own.classes == ("3", "7") and own.counts() == [5, 5] and own.images.shape == (10, 28, 28)


def test_only_the_host_opens_a_room_and_pending_drawings_stay_out_of_the_projectors_view(host_key):  # noqa: F811
    from ui import training

    stranger = page("room").run()
    no_exceptions(stranger)
    assert any("Only the host" in i.value for i in stranger.info) and not [b for b in stranger.button if b.key == "room_open"]

    at = enter(page("room").run(), host_key)
    next(b for b in at.button if b.key == "room_open").click().run()
    no_exceptions(at)
    held = at.session_state[keys.ROOM]
    assert held["code"] in "".join(m.value for m in at.markdown) and any(held["token"] in c.value for c in at.get("code"))
    shown_before = len(images(at))  # the QR code

    client = training.client()
    client.room("settings", held["id"], held["key"], {"locked": False})
    phones = [client.room("join", held["token"], None)["phone"] for _ in range(11)]
    ink = np.zeros((28, 28), np.uint8)
    ink[6:22, 12:16] = 255
    for i, phone in enumerate(phones):
        client.room("choose", held["token"], phone, 2 if i == 10 else i % 2)
        assert "ask" in client.room("draw", held["token"], phone, ink.tobytes())
    at.run()
    no_exceptions(at)
    assert [m.value for m in at.metric][:3] == ["11", "0", "11"]  # phones, accepted, waiting
    assert len(images(at)) == shown_before  # the projector's view: no pending drawing

    at.segmented_control(key=keys.ROOM_VIEW).set_value("review").run()
    no_exceptions(at)
    assert len(images(at)) == 11  # the review shows each as a thumbnail (and not the QR code: it is not for the room)
    waiting = client.room("pending", held["id"], held["key"])
    held_back = next(d for d, _phone, label, _pixels in waiting if label == 0)
    for drawing_id, _phone, label, _pixels in waiting:
        if label != 2 and drawing_id != held_back:  # the one drawing of a 2 stays pending, and one 0 for now
            client.room("review", held["id"], held["key"], drawing_id, True)
    at.segmented_control(key=keys.ROOM_VIEW).set_value("projector").run()
    train = next(b for b in at.button if b.key == "room_train")
    assert train.disabled and any("these have fewer: 0 (4)" in c.value for c in at.caption)  # said by the button, before a press
    client.room("review", held["id"], held["key"], held_back, True)
    at.run()
    assert [m.value for m in at.metric][:3] == ["11", "10", "1"] and len(images(at)) == shown_before + 1  # the room's handwriting
    assert not next(b for b in at.button if b.key == "room_train").disabled and not any("fewer" in c.value for c in at.caption)

    next(b for b in at.button if b.key == "room_train").click().run()
    no_exceptions(at)
    _key, _name, own = at.session_state[keys.OWN_DATA]
    assert own.classes == ("0", "1") and own.counts()[0] == own.counts()[1]  # the pending 2 is not trained on
    run = at.session_state[keys.SESSION_MODELS][at.session_state[keys.CURRENT_RUN]].run
    assert run.variant == "cvae2"
    shown = client.room("public", held["token"])["run"]  # the press shows the run to the room: the phones follow it
    assert shown and client.follow(shown) is not None
    assert at.title[0].value == "Train" and images(at) is not None  # and the projector goes to the run's own page
    run.stop()

    at.switch_page(ui_page("room").file).run()
    next(b for b in at.button if b.key == "room_close").click().run()
    assert keys.ROOM not in at.session_state and client.room("public", held["token"]) is None


def test_the_rooms_sweep_is_bounded_before_a_run_is_made_deals_phones_and_plots_every_run(host_key):  # noqa: F811
    from tests.conftest import wait_until
    from ui import room, training

    at = enter(page("room").run(), host_key)
    next(b for b in at.button if b.key == "room_open").click().run()
    held = at.session_state[keys.ROOM]
    client = training.client()
    phones = [client.room("join", held["token"], None)["phone"] for _ in range(3)]

    at.multiselect(key="room_sweep_values_beta").set_value(list(room.SWEEP_CHOICES["beta"][:17])).run()
    next(b for b in at.button if b.key == "room_sweep_start").click().run()
    assert any("1 to 16 runs" in e.value for e in at.error)
    assert keys.SESSION_MODELS not in at.session_state or not at.session_state[keys.SESSION_MODELS]  # no run was made

    at.multiselect(key="room_sweep_values_beta").set_value([0.5, 8.0]).run()
    next(b for b in at.button if b.key == "room_sweep_start").click().run()
    no_exceptions(at)
    setting, sweep = at.session_state[keys.ROOM_SWEEP]
    assert setting == "beta" and [value for value, _run in sweep] == [0.5, 8.0]
    dealt = [client.room("phone", held["token"], p)["mine"] for p in phones]
    assert [d["value"] for d in dealt] == [0.5, 8.0, 0.5] and dealt[0]["run"] == dealt[2]["run"] != dealt[1]["run"]
    assert client.follow(dealt[1]["run"]) is not None  # each phone can follow the run it is dealt

    runs = [e.run for e in at.session_state[keys.SESSION_MODELS].values() if e.run is not None]

    def measured() -> bool:  # the projector's open page keeps the runs present: beat as it would
        for run in runs:
            run.beat()
        return all(any(r.get("split") == "val" for r in run.snapshot.history) for run in runs)

    wait_until(measured, timeout=300, interval=0.5)
    at.run()
    no_exceptions(at)
    assert at.get("plotly_chart") and len(at.dataframe[0].value) == 2  # a point per run, and the table beside it
    assert not images(at)  # the projector's first screen is the sweep: the QR code gives way to the code in a line
    assert any(held["code"] in m.value for m in at.markdown)
    for run in runs:
        run.stop()


def test_the_host_opens_a_room_that_draws_letters(host_key):  # noqa: F811
    from cvae_core.serving.rooms import LETTERS
    from ui import training

    at = enter(page("room").run(), host_key)
    assert at.radio(key="room_classes").options == ["the ten digits", "letters A to Z"]  # no data set of its own yet
    at.radio(key="room_classes").set_value("letters").run()
    next(b for b in at.button if b.key == "room_open").click().run()
    no_exceptions(at)
    held = at.session_state[keys.ROOM]
    phone = training.client().room("join", held["token"], None)
    assert tuple(phone["classes"]) == LETTERS and phone["class"] in LETTERS
    next(b for b in at.button if b.key == "room_close").click().run()


def test_a_sweep_over_the_latent_size_or_the_labelled_digits_makes_the_runs_it_names():
    from cvae_core.models import LATENT_RANGE
    from cvae_core.serving import rooms
    from ui import room

    assert rooms.SWEEPS["latent"][:2] == LATENT_RANGE  # the sweep offers what a model can be
    assert set(room.SWEEP_CHOICES) == set(room.SWEEP_NAMES) == set(room.SWEEP_FIRST) == set(rooms.SWEEPS)
    for setting, values in room.SWEEP_CHOICES.items():  # every value the page offers passes the board's check
        assert rooms.check_sweep(setting, list(values)[:16]) == list(values)[:16]
    small = room.sweep_recipe("latent", 4)
    assert small.model.variant == room.ROOM_VARIANT and small.model.latent_dim == 4 and small.labels is None
    few = room.sweep_recipe("labels", 100)
    assert few.model.variant == "m2" and few.labels == 100 and few.train.epochs == room.SWEEP_EPOCHS
    assert room.sweep_recipe("beta", 4.0).model.beta == 4.0
    points = [{"setting": "latent", "value": 8, "state": "done", "epoch": 10.0, "trail": [(12.0, 90.0), (14.0, 85.0)]}]
    figure = room.sweep_figure(points)
    assert figure.data[0].name == "z=8" and list(figure.data[1].text) == ["z=8"]
    assert list(room.sweep_table(points)[0].values())[:1] == [8]
    assert figure.layout.showlegend is False and figure.data[1].cliponaxis is False  # labels, not a legend; never cut off
    waiting = room.sweep_table([{**points[0], "state": "queued", "trail": []}])[0]
    assert list(waiting.values())[-2:] == ["–", "–"]  # not None: the table would write an English word in every language


def test_the_train_press_mixes_in_the_offline_digits_of_the_classes_drawn_only_when_asked(held_out):
    from ui import room

    chosen = np.concatenate([np.flatnonzero(held_out.labels.numpy() == c)[:6] for c in (3, 7)])
    pictures = (held_out.images[chosen].numpy().reshape(-1, 28, 28) * 255).round().astype(np.uint8)
    labels = np.array([3] * 6 + [7] * 6)
    digits = tuple(str(d) for d in range(10))
    alone = room.room_data(pictures, labels, digits, offline=False)
    mixed = room.room_data(pictures, labels, digits, offline=True)
    assert alone.classes == mixed.classes == ("3", "7")
    drawn = room.MAX_COPIES * 12  # each drawing's copies: as many as a few drawings may have
    assert len(alone.labels) == drawn and len(mixed.labels) == drawn + 2 * 450  # the offline training digits of 3 and 7
    assert (mixed.images[:drawn] == alone.images).all() and mixed.counts() == [6 * room.MAX_COPIES + 450] * 2
    assert len(np.unique(mixed.groups)) == 12 + 900  # an offline digit is a group of its own: held out whole
    letters = room.room_data(pictures, labels, tuple("abcdefghij"), offline=True)
    assert len(letters.labels) == drawn  # a room that draws letters has no offline letters to mix in


def test_presenter_mode_stays_on_from_the_first_page_to_the_room(host_key):  # noqa: F811
    """A presenter opens /?presenter=1, enters the key and follows the sidebar's links to Your room: Streamlit forgets a
    widget's value when the page changes, the session's presenter mode stays (the projector's large type, the big QR)."""
    from ui.frame import PRESENTER, PRESENTER_CSS

    at = page("home")
    at.query_params[PRESENTER] = "1"
    at = enter(at.run(), host_key)
    assert at.sidebar.toggle(key=PRESENTER).value
    for key in ("train", "room"):
        at.switch_page(ui_page(key).file).run()
        no_exceptions(at)
        assert at.sidebar.toggle(key=PRESENTER).value, key
        assert any(PRESENTER_CSS in h.proto.body for h in at.get("html")), key  # the projector's large type
    at.sidebar.toggle(key=PRESENTER).set_value(False).run()
    at.switch_page(ui_page("home").file).run()
    assert not at.sidebar.toggle(key=PRESENTER).value  # and off stays off


def test_a_sweep_of_more_runs_than_a_visitor_keeps_keeps_every_run_of_the_host(host_key):  # noqa: F811
    """A visitor's session keeps MAX_SESSION_MODELS models, the oldest going first; the host's sweep may make up to 16
    runs: none of them may stop another as it starts (its phones would follow a run that is gone)."""
    from ui import room
    from ui.models import MAX_SESSION_MODELS

    at = enter(page("room").run(), host_key)
    next(b for b in at.button if b.key == "room_open").click().run()
    values = list(room.SWEEP_CHOICES["beta"][: MAX_SESSION_MODELS + 2])
    at.multiselect(key="room_sweep_values_beta").set_value(values).run()
    next(b for b in at.button if b.key == "room_sweep_start").click().run()
    no_exceptions(at)
    _setting, sweep = at.session_state[keys.ROOM_SWEEP]
    held = at.session_state[keys.SESSION_MODELS]
    runs = {e.run.id: e.run for e in held.values() if e.run is not None}
    try:
        assert [value for value, _run in sweep] == values and all(run_id in runs for _value, run_id in sweep)
    finally:
        for run in runs.values():
            run.stop()


def test_the_projector_shows_three_rows_of_the_rooms_handwriting():
    """40 newest drawings make four rows of ten: at 1920 x 1080 the fourth fell under the screen's bottom edge."""
    from cvae_core.serving.rooms import MAX_RECENT
    from ui import room

    now = {"recent": [(i % 10, bytes(784)) for i in range(MAX_RECENT)]}
    assert len(room.recent_shown(now, projector=True)) == room.PROJECTOR_RECENT == 30
    assert room.recent_shown(now, projector=False) == now["recent"]
    assert room.recent_digits({"recent": room.recent_shown(now, projector=True)}).shape == (30, 28, 28)
