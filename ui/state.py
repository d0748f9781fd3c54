"""This browser session's state, behind named accessors.

Some keys are contracts between pages (the last digit drawn, the digit chosen on Latent space,
the model a page should open on); naming them here keeps every page reading the same key.
"""

import numpy as np
import streamlit as st

# ---- keyed widgets: a widget drawn with key=K keeps its value in the session under K ------------------------------
# Pages seed, read and set their widgets' values through these (a link sets them before the widget is drawn; Streamlit
# forgets a widget's value while its page is not shown, so a page seeds it again).


def widget(key: str, default=None):
    return st.session_state.get(key, default)


def has_widget(key: str) -> bool:
    return key in st.session_state


def set_widget(key: str, value) -> None:
    st.session_state[key] = value


def set_widgets(values: dict) -> None:
    st.session_state.update(values)


def seed_widget(key: str, value) -> None:
    """The value a widget opens on, unless it has one."""
    st.session_state.setdefault(key, value)


def forget_widget(key: str) -> None:
    st.session_state.pop(key, None)


def widget_values() -> dict:
    """A copy of the session's values by key, for writing a page's settings into its address (ui.links.publish)."""
    return st.session_state.to_dict()


# ---- the session's own values -----------------------------------------------------------------------------------
SESSION_MODELS = "session_models"  # model id -> ui.models.SessionModel: trained or uploaded in this session
PREFERRED_MODEL = "preferred_model"  # the id of the model other pages open on (the one just trained or loaded)
LAST_DIGIT = "last_digit"  # the last digit drawn or uploaded on Draw, as the model sees it (28x28)
CHOSEN_DIGIT = "drawn_digit"  # a test digit sent from Latent space to Draw (28x28)


def session_models() -> dict:
    """Models trained (or uploaded) in this browser session, by id."""
    return st.session_state.setdefault(SESSION_MODELS, {})


def preferred_model() -> str | None:
    return st.session_state.get(PREFERRED_MODEL)


def prefer_model(uid: str) -> None:
    st.session_state[PREFERRED_MODEL] = uid


def last_digit() -> np.ndarray | None:
    return st.session_state.get(LAST_DIGIT)


def set_last_digit(digit: np.ndarray) -> None:
    st.session_state[LAST_DIGIT] = np.asarray(digit, dtype=np.float32)


def chosen_digit() -> np.ndarray | None:
    digit = st.session_state.get(CHOSEN_DIGIT)
    return None if digit is None else np.asarray(digit, dtype=np.float32).reshape(28, 28)


def choose_digit(digit) -> None:
    st.session_state[CHOSEN_DIGIT] = np.asarray(digit, dtype=np.float32).reshape(28, 28)


PICTURE_MARKS = "picture_marks"  # page -> source -> (its digit's fingerprint, when it last changed): ui.pick.newest


def picture_marks(page: str) -> dict:
    """For each source of a digit on a page (drawn, uploaded, picked...), what it last held and when that changed."""
    return st.session_state.setdefault(PICTURE_MARKS, {}).setdefault(page, {})


SENT_BETA = "sent_beta"  # run id -> the KL weight β last sent to that run (the live β dial)


def sent_beta(run_id: str) -> float | None:
    return st.session_state.get(SENT_BETA, {}).get(run_id)


def note_sent_beta(run_id: str, beta: float) -> None:
    st.session_state.setdefault(SENT_BETA, {})[run_id] = float(beta)


STEP_STAGE = "step_stage"  # how many stages of the step-by-step view are shown (1 to len(STAGES))


def step_stage() -> int:
    return st.session_state.get(STEP_STAGE, 1)


def set_step_stage(stage: int) -> None:
    st.session_state[STEP_STAGE] = int(stage)


OWN_DATA = "own_data"  # ((upload id, flipped), file name, cvae_core.own_data.OwnData): this visitor's own data set


def own_data() -> tuple | None:
    return st.session_state.get(OWN_DATA)


def keep_own_data(key: tuple, name: str, own) -> None:
    st.session_state[OWN_DATA] = (key, name, own)  # one set per session: a new upload replaces it


def forget_own_data() -> None:
    st.session_state.pop(OWN_DATA, None)
    st.session_state.pop(OWN_READER, None)


SHARED = "shared_runs"  # run id -> the token of its share: the runs this session shares


def share_token(run_id: str) -> str | None:
    return st.session_state.get(SHARED, {}).get(run_id)


def note_share(run_id: str, token: str | None) -> None:
    shares = st.session_state.setdefault(SHARED, {})
    if token is None:
        shares.pop(run_id, None)
    else:
        shares[run_id] = token


DRAWINGS = "drawings"  # class name -> the 28 x 28 drawings made for a drawn data set (ui.own_data), in order


def drawings() -> dict:
    return st.session_state.setdefault(DRAWINGS, {})


def add_drawing(name: str, image: np.ndarray, per_class: int, classes: int) -> bool:
    """Keep a drawing for a class; False when the class is full or there are as many classes as allowed."""
    kept = drawings()
    if name not in kept and len(kept) >= classes or len(kept.get(name, [])) >= per_class:
        return False
    kept.setdefault(name, []).append(np.asarray(image, dtype=np.float32).reshape(28, 28))
    return True


def clear_drawings() -> None:
    st.session_state[DRAWINGS] = {}


OWN_READER = "own_reader"  # (the own data set's key, a classifier trained on its training part): Compare's fidelity


def own_reader() -> tuple | None:
    return st.session_state.get(OWN_READER)


def keep_own_reader(key: tuple, classifier) -> None:
    st.session_state[OWN_READER] = (key, classifier)


CURRENT_RUN = "current_run"  # the id of this session's latest run from the Train page (held by its session model)


def current_run():
    """The RunHandle of the Train page's latest run, or None (also once its model has left the session's models)."""
    entry = session_models().get(st.session_state.get(CURRENT_RUN))
    return None if entry is None else entry.run


def set_current_run(run) -> None:
    st.session_state[CURRENT_RUN] = run.id


RUN_NUMBER = "run_number"  # how many runs this session has started on the Train page (their names count up)


def next_run_number() -> int:
    st.session_state[RUN_NUMBER] = st.session_state.get(RUN_NUMBER, 0) + 1
    return st.session_state[RUN_NUMBER]


DEFAULTS_OF = "train_defaults_of"  # the variant whose defaults the Train page's settings were last given


def defaults_given_for() -> str | None:
    return st.session_state.get(DEFAULTS_OF)


def note_defaults_given_for(variant: str) -> None:
    st.session_state[DEFAULTS_OF] = variant


STYLE = "gen_style"  # Generate: (the model id the dials belong to, its style noise z as float32)


def style() -> tuple | None:
    return st.session_state.get(STYLE)


def set_style(model_key: str, noise: np.ndarray) -> None:
    st.session_state[STYLE] = (model_key, np.asarray(noise, dtype=np.float32))


COMPARE_ROWS = "compare_rows"  # Compare: the measured rows by model id


def compare_rows() -> dict:
    return st.session_state.setdefault(COMPARE_ROWS, {})


UPLOADED = "uploaded_checkpoints"  # the upload ids of checkpoints loaded (two files may share a name)


def uploaded_checkpoints() -> set:
    return st.session_state.setdefault(UPLOADED, set())


PICKED = "picked"  # model picker key -> the preferred model it last switched to


def picked(picker: str) -> str | None:
    return st.session_state.get(PICKED, {}).get(picker)


def note_picked(picker: str, uid: str) -> None:
    st.session_state.setdefault(PICKED, {})[picker] = uid


SHOWN_MODELS = "shown_models"  # model picker key -> the model it last showed (the widget's own value goes with its page)


def shown_model(picker: str) -> str | None:
    return st.session_state.get(SHOWN_MODELS, {}).get(picker)


def note_shown_model(picker: str, uid: str) -> None:
    st.session_state.setdefault(SHOWN_MODELS, {})[picker] = uid


LINKS_FOLLOWED = "links_followed"  # the pages (and "presenter") whose address settings this session has applied


def link_followed(page: str) -> bool:
    return page in st.session_state.get(LINKS_FOLLOWED, set())


def note_link_followed(page: str) -> None:
    st.session_state.setdefault(LINKS_FOLLOWED, set()).add(page)


LANGUAGE = "lang"  # this session's language id (ui.i18n.LANGUAGES)


def language_choice() -> str | None:
    return st.session_state.get(LANGUAGE)


def set_language_choice(language: str) -> None:
    st.session_state[LANGUAGE] = language


LIVE_EXPERIMENTS = "live_experiments"  # experiment ("quadrants", "semisupervised") -> this session's latest live retrain
LIVE_FINDINGS = "live_findings"  # experiment -> {its settings, as a tuple -> the findings of a finished live retrain}


def experiment_run(experiment: str):
    """The RunHandle of this session's latest live retrain of an experiment, or None."""
    return st.session_state.get(LIVE_EXPERIMENTS, {}).get(experiment)


def experiment_runs() -> list:
    return list(st.session_state.get(LIVE_EXPERIMENTS, {}).values())


def set_experiment_run(experiment: str, run) -> None:
    """One live retrain per experiment and session: a new one replaces the last (whose run the server then drops)."""
    st.session_state.setdefault(LIVE_EXPERIMENTS, {})[experiment] = run


def live_findings(experiment: str) -> dict:
    """Finished live retrains' findings by their settings (a few plain figures each, one per choice of settings)."""
    return st.session_state.setdefault(LIVE_FINDINGS, {}).setdefault(experiment, {})


SHOWN_STATE = "shown_state"  # live view -> the run state it last drew (queued, training, ...): an end redraws the page


def shown_state(view: str) -> str | None:
    return st.session_state.get(SHOWN_STATE, {}).get(view)


def note_shown_state(view: str, run_state: str) -> None:
    st.session_state.setdefault(SHOWN_STATE, {})[view] = run_state


EXPLORER_PINS = "explorer_pins"  # model id -> (its ref when pinned, the decoder buffer): the weights the explorer decodes
EXPLORER_RUNS = "explorer_runs"  # how often the explorer's fragment has run in this session (the browser tests count them)


def explorer_pin(model_id: str) -> tuple | None:
    return st.session_state.get(EXPLORER_PINS, {}).get(model_id)


def pin_explorer(model_id: str, pin: tuple) -> None:
    pins = st.session_state.setdefault(EXPLORER_PINS, {})
    pins.pop(model_id, None)
    pins[model_id] = pin
    while len(pins) > 4:  # a few models' buffers (each a few hundred kB) per session
        pins.pop(next(iter(pins)))


def forget_explorer_pin(model_id: str) -> None:
    st.session_state.get(EXPLORER_PINS, {}).pop(model_id, None)


def count_explorer_run() -> int:
    st.session_state[EXPLORER_RUNS] = st.session_state.get(EXPLORER_RUNS, 0) + 1
    return st.session_state[EXPLORER_RUNS]


LIVE_SUMMARIES = "live_summaries"  # live region -> (the sentence it shows, since when): ui.run_view, at most every 10 s


def live_summary(region: str) -> tuple | None:
    return st.session_state.get(LIVE_SUMMARIES, {}).get(region)


def note_live_summary(region: str, shown: tuple) -> None:
    st.session_state.setdefault(LIVE_SUMMARIES, {})[region] = shown


PRESENTER_MODE = "presenter_mode"  # presenter mode (ui.frame.presenter): the session's, kept while the switch's value is not


def presenter_mode() -> bool:
    return st.session_state.get(PRESENTER_MODE) is True


def set_presenter_mode(on: bool) -> None:
    st.session_state[PRESENTER_MODE] = bool(on)


HOST = "host"  # True once this session entered the host's key (ui.host); never the key itself
HOST_TRIES = "host_tries"  # the times of this session's wrong host keys
HOST_SAID = "host_said"  # the sentence for the last key entered, shown once


def is_host() -> bool:
    return st.session_state.get(HOST) is True


def set_host(host: bool) -> None:
    if host:
        st.session_state[HOST] = True
        st.session_state.pop(HOST_TRIES, None)
    else:
        st.session_state.pop(HOST, None)


def host_tries() -> list[float]:
    return list(st.session_state.get(HOST_TRIES, []))


def note_host_tries(tries: list[float]) -> None:
    st.session_state[HOST_TRIES] = tries


def say_to_host(sentence: str | None) -> None:
    st.session_state[HOST_SAID] = sentence


def said_to_host() -> str | None:
    return st.session_state.pop(HOST_SAID, None)


# ---- what ui/reload.py keeps for a reload to come --------------------------------------------------------
KEPT = "kept_across_reload"  # this session's entry in the reload register (ui.reload)
OWNER = "owner_id"  # a browser without a secret cookie: an owner id of this session's own


def kept_entry():
    return st.session_state.get(KEPT)


def set_kept_entry(entry) -> None:
    st.session_state[KEPT] = entry


def kept_values() -> dict:
    """This session's values a reload takes back."""
    return {name: st.session_state[name] for name in KEPT_ACROSS_RELOAD if name in st.session_state}


def take_back(values: dict) -> None:
    """A reload's new session takes its browser's values back (where it has none of its own yet)."""
    for name, value in values.items():
        if name in KEPT_ACROSS_RELOAD:
            st.session_state.setdefault(name, value)


def session_owner(make) -> str:
    """This session's own owner id (made once by make())."""
    return st.session_state.setdefault(OWNER, make())


ROOM = "room"  # the host's open room: {"id", "token", "code", "key"} (ui.room); the key never leaves this session
ROOM_VIEW = "room_view_choice"  # the room page's view: the projector's, or the review (pending drawings)


def room() -> dict | None:
    return st.session_state.get(ROOM)


def hold_room(opened: dict | None) -> None:
    if opened is None:
        st.session_state.pop(ROOM, None)
    else:
        st.session_state[ROOM] = dict(opened)


ROOM_SWEEP = "room_sweep"  # the host's room's sweep: (the setting it varies, [(value, run id)] of this session's runs) (ui.room)
# What a reload of the same browser takes back (ui.reload): its runs and models, and a host's powers (never the key) and room, so
# that a projector reloaded mid-talk is still the host's and still shows its room.
KEPT_ACROSS_RELOAD = (SESSION_MODELS, PREFERRED_MODEL, CURRENT_RUN, SHARED, SENT_BETA, OWN_DATA, LIVE_EXPERIMENTS, LIVE_FINDINGS,
                      HOST, ROOM, ROOM_SWEEP)  # fmt: skip



def room_sweep() -> tuple[str | None, list[tuple[float, str]]]:
    setting, runs = st.session_state.get(ROOM_SWEEP, (None, []))
    return setting, list(runs)


def hold_room_sweep(setting: str, runs: list[tuple[float, str]]) -> None:
    st.session_state[ROOM_SWEEP] = (setting, list(runs))
