"""The host's room (issue 39): phones join by a link or a short code and draw the digits a CVAE learns live.

The room lives on the board of rooms (cvae_core/serving/rooms.py), beside the shared runs; this session holds its id and
the presenter's key (ui.state.room), which no phone ever receives. Only a host (ui.host) opens one. Phones use the light
routes of ui/phone.py (no Streamlit session each); the presenter reads and reviews here:
- `view`: what the projector shows (how many phones joined, the accepted drawings: never a pending one);
- `pending`, `review`, `block`: the review, in a view of its own;
- `settings`: accept as they come (off by default), collecting, locked (phones draw the class they are dealt), the run
  the room follows;
- `accepted_zip`: the accepted drawings as an ImageFolder zip; `train_on_room`: a CVAE trained on them through the
  training service (ui.training.start_training), as the Train page starts a run.
"""

from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np
import streamlit as st

from cvae_core.errors import CVAEError
from cvae_core.serving.pipe import raise_refusal

from . import host, reload, state, training
from .frame import presenter
from .i18n import N_, _

# What one press trains on a room's drawings: cvae2 (a label-conditioned decoder, z independent of y: each digit's
# handwriting redrawn in every label) for ROOM_EPOCHS passes (epochs, not seconds: a busy server trains as far), each
# drawing varied into copies (cvae_core.own_data.augmented). On the drawings alone (about ROOM_IMAGES images) the
# fidelity classifier reads the samples 55-72 % right, however long it trains: the drawings themselves it reads 96 %
# right (300 held-out test digits redrawn as a thumb draws them). With the offline digits of the classes drawn mixed in
# (ROOM_OFFLINE, the Train press's choice; the drawings then about ROOM_MIXED_IMAGES images, two copies each of 300),
# samples are read 90 % right from epoch 2.5 (peak 0.94 at epoch 3), and less as training goes on (0.80 at epoch 6,
# 0.81-0.83 from epoch 10 to 20 with three times the drawings' copies): hence three epochs, the default, and the offline
# digits on by default (`python bench/room.py --draw 30` measures both presses, bench/README.md).
ROOM_VARIANT = "cvae2"
ROOM_EPOCHS = 3.0
ROOM_IMAGES = 6000
ROOM_MIXED_IMAGES = 750
ROOM_OFFLINE = True
MAX_COPIES = 24  # cvae_core.own_data.AUGMENTED_COPIES: a handful of drawings a class are each varied this often


def _call(method: str, *args):
    return training.client().room(method, *args)


def _mine(method: str, *args):
    """A presenter's call on this session's room (its id and key first); None when it has none, or it has ended."""
    held = state.room()
    if held is None:
        return None
    answer = _call(method, held["id"], held["key"], *args)
    if answer is None and method in ("view", "settings"):  # expired or closed elsewhere: this session lets it go
        state.hold_room(None)
    return answer


def room_classes(what: str) -> tuple[str, ...]:
    """What a room's phones draw: "digits" (the offline digits can be mixed into its training), "letters" (A to Z), or
    "own" (the classes of this session's own data set, ui.state.own_data; the digits without one)."""
    from cvae_core.serving.rooms import DIGITS, LETTERS

    own = state.own_data()
    if what == "own" and own is not None:
        return tuple(own[2].classes)
    return LETTERS if what == "letters" else DIGITS


def open_room(classes=None) -> dict:
    """Open a room for this session (the host's), its phones drawing `classes` (default the ten digits): {"id", "token",
    "code", ...}. Raises CVAEError with a sentence (not the host, the server's rooms all open, classes that are not
    names: cvae_core.serving.rooms.check_classes)."""
    args = () if classes is None else (list(classes),)
    opened = raise_refusal(_call("open", reload.owner_id(), host.is_host(), *args))
    state.hold_room(opened)
    return opened


def close_room() -> None:
    if state.room() is not None:
        _mine("close")
        state.hold_room(None)


def view() -> dict | None:
    return _mine("view")


def pending() -> list:
    return _mine("pending") or []


def review(drawing_id: int, accept: bool) -> None:
    _mine("review", int(drawing_id), bool(accept))


def block(phone_id: str) -> None:
    _mine("block", str(phone_id))


PROJECTOR_RECENT = 30  # the newest accepted drawings a projector shows: three rows of ten, under the QR code, on one screen


def recent_shown(now: dict, projector: bool) -> list:
    """view()'s newest accepted drawings as the page shows them: on a projector (presenter mode) PROJECTOR_RECENT of them,
    so that the last row is not cut by the screen's bottom edge."""
    return list(now["recent"][:PROJECTOR_RECENT] if projector else now["recent"])


def recent_digits(now: dict) -> np.ndarray:
    """The projector's newest accepted drawings (view()'s "recent") as (N, 28, 28) floats in [0, 1]."""
    return np.stack([np.frombuffer(pixels, dtype=np.uint8).reshape(28, 28) / 255.0 for _label, pixels in now["recent"]])


def thumbnail(pixels: bytes) -> bytes:
    """A drawing under review as a PNG, 3 x its 28 x 28 pixels."""
    from cvae_core.images import png_bytes

    return png_bytes(np.frombuffer(pixels, dtype=np.uint8).reshape(28, 28) / 255.0, scale=3)


# The room's short code as the projector shows it: large, spaced, in a monospace face (0 and O, 1 and I never both occur:
# Crockford's alphabet). The phone types it at /room.
CODE_CSS = """<style>
.room-code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-weight: 700; letter-spacing: 0.12em;
  line-height: 1.1; margin: 0.1rem 0 0.5rem; }
</style>"""


def code_html(code: str, large: bool) -> str:
    """The short code in large type (presenter mode: 4.5rem, read from the back of a room), for st.html."""
    import html

    size = "4.5rem" if large else "2.5rem"
    return f'{CODE_CSS}<p class="room-code" style="font-size: {size}" aria-hidden="true">{html.escape(code)}</p>'


def settings(**changes) -> dict | None:
    return _mine("settings", changes)


def phone_link(token: str) -> str:
    """The address a phone opens: this server's /room?t=token (ui/phone.py)."""
    address = urlsplit(st.context.url or "")
    return urlunsplit((address.scheme or "http", address.netloc, "/room", urlencode({"t": token}), ""))


def accepted() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The accepted drawings: images (N, 28, 28) uint8 (ink = 255), labels (N,), the class names. Pending drawings are
    never among them (the board keeps them apart)."""
    return accepted_arrays(_mine("accepted"))


def accepted_arrays(answer: dict | None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The board's answer to "accepted" as arrays (see accepted)."""
    answer = answer or {"pixels": b"", "labels": [], "classes": ()}
    images = np.frombuffer(answer["pixels"], dtype=np.uint8).reshape(-1, 28, 28)
    return images, np.asarray(answer["labels"], dtype=np.int64), tuple(answer["classes"])


def accepted_zip() -> bytes:
    """The accepted drawings as a zip in ImageFolder's layout (one folder per class)."""
    from cvae_core.own_data import imagefolder_zip

    images, labels, classes = accepted()
    return imagefolder_zip(images, labels, classes)


def train_blocker(now: dict | None) -> str | None:
    """Why the room cannot train on its accepted drawings yet, as the sentence train_on_room would refuse with (the
    page greys its button out and says it there), or None when it can."""
    from cvae_core.own_data import check_drawings

    from .i18n import error_text

    accepted = (now or {}).get("accepted") or []
    if not sum(accepted):
        return _("No drawing has been accepted yet.")
    try:
        check_drawings({now["classes"][label]: n for label, n in enumerate(accepted) if n})
    except CVAEError as e:
        return error_text(e)
    return None


def room_data(images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...], offline: bool = ROOM_OFFLINE):
    """The accepted drawings as a data set (cvae_core.own_data.from_drawings): the classes drawn, each drawing varied
    into copies so that the set holds about ROOM_IMAGES images; with `offline`, when the room draws digits, about
    ROOM_MIXED_IMAGES of them and the offline training digits of the classes drawn beside them (each its own group:
    never a copy held out apart from itself). Raises DatasetError (too few classes or drawings)."""
    from dataclasses import replace

    from cvae_core.own_data import MAX_DRAWINGS_PER_CLASS, from_drawings
    from cvae_core.serving.rooms import DIGITS, MAX_DRAWINGS

    drawings = {classes[label]: [image / 255.0 for image in images[labels == label]] for label in sorted(set(labels.tolist()))}
    mixed = offline and set(drawings) <= set(DIGITS)
    copies = int(np.clip((ROOM_MIXED_IMAGES if mixed else ROOM_IMAGES) // max(1, len(labels)), 2, MAX_COPIES))
    own = from_drawings(drawings, copies=copies, per_class=max(MAX_DRAWINGS_PER_CLASS, MAX_DRAWINGS))
    if not mixed:
        return own
    from cvae_core.data import OFFLINE, load_dataset

    digits = load_dataset(OFFLINE, "train")
    their = digits.labels.numpy()
    chosen = np.flatnonzero(np.isin(their, [int(name) for name in own.classes]))
    as_own = {int(name): label for label, name in enumerate(own.classes)}
    pictures = (digits.images[chosen].numpy().reshape(-1, 28, 28) * 255).round().astype(np.uint8)
    groups = own.groups.max() + 1 + np.arange(len(chosen))
    return replace(
        own, images=np.concatenate([own.images, pictures]), groups=np.concatenate([own.groups, groups]),
        labels=np.concatenate([own.labels, np.asarray([as_own[int(y)] for y in their[chosen]], dtype=np.int64)]),
    )  # fmt: skip


def room_settings(epochs: float = ROOM_EPOCHS) -> tuple[dict, dict]:
    """What one press trains: the model's and the schedule's settings (Recipe.from_settings' model and train)."""
    return {"variant": ROOM_VARIANT}, {"epochs": float(epochs), "max_seconds": None}


def train_on_room(epochs: float = ROOM_EPOCHS, offline: bool = ROOM_OFFLINE):
    """Start a run of ROOM_VARIANT on the room's accepted drawings (with `offline`: and the offline digits of the classes
    drawn), through the training service (ui.training): the session's run, on every page, as a Start on the Train page.
    The room follows it at once (show_run): the phones that drew see their model learn. Raises CVAEError with a
    sentence."""
    images, labels, classes = accepted()
    if not len(labels):
        raise CVAEError(N_("No drawing has been accepted yet."))
    own = room_data(images, labels, classes, offline)
    name = _("the room's drawings and the offline digits") if offline else _("the room's drawings")
    state.keep_own_data(("room", len(labels), int(labels.sum()), bool(offline)), name, own)
    run = training.start_training(*room_settings(epochs), None, None, own)
    show_run(run)
    return run


def show_run(run) -> str:
    """The room follows `run` (shared once, its token kept with the session's shares): every phone sees its grid.
    Raises sharing.TooManyShares (never for the host, whose shares are never refused for room)."""
    from . import sharing

    token = state.share_token(run.id) or sharing.share(run)
    state.note_share(run.id, token)
    settings(run=token)
    return token


# ---- the room's sweep: each phone is dealt one run's value; the projector plots every run's rate against its distortion ----
# What a sweep can vary (cvae_core.serving.rooms.SWEEPS checks the values): its name on the page and on the plot's
# labels, the values the page offers, and those it offers first.
SWEEP_NAMES = {"beta": N_("β"), "latent": N_("latent size"), "labels": N_("labelled digits (m2)")}
SWEEP_SYMBOLS = {"beta": "β", "latent": "z", "labels": "n"}  # a run's label on the plot: β=4, z=8, n=100
SWEEP_CHOICES = {
    "beta": (0.0, 0.125, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0),
    "latent": (2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64),
    "labels": (10, 20, 50, 100, 200, 300, 600, 1000, 3000, 4500),
}
SWEEP_FIRST = {"beta": (0.25, 0.5, 1.0, 2.0, 4.0, 8.0), "latent": (2, 4, 8, 16, 32), "labels": (10, 100, 1000, 4500)}
SWEEP_EPOCHS = 10.0  # each run's length: all of them share the training service's fair queue
SWEEP_LABELS_VARIANT = "m2"  # the variant that learns from a few labels (the others read every label)


def start_sweep(setting: str, values) -> list:
    """One run per value of `setting` on the offline digits (sweep_recipe), each this session's (so the projector's open
    page is their heartbeat) and shared (each phone follows the run it is dealt); the room deals them. Checked before
    any run is made: raises CVAEError with a sentence (more than MAX_SWEEP_RUNS values, a value out of range)."""
    from cvae_core.serving.rooms import check_sweep

    from . import sharing

    values = check_sweep(setting, list(values))
    if state.room() is None:
        raise CVAEError(N_("Open a room first."))
    for _value, run_id in state.room_sweep()[1]:  # a new sweep ends the last one's runs
        old = _session_run(run_id)
        if old is not None:
            old.stop()
    made, tokens = [], []
    for value in values:
        recipe = sweep_recipe(setting, value)
        name = f"{recipe.model.variant}-{SWEEP_SYMBOLS[setting]}{value:g}-run{state.next_run_number()}"
        run = training.start_run(name, recipe, {"name": name, "dataset": recipe.dataset, "seed": 0, "labels": recipe.labels})
        made.append((value, run.id))
        tokens.append(sharing.share(run))
        state.note_share(run.id, tokens[-1])
    state.hold_room_sweep(setting, made)
    raise_refusal(_mine("sweep", setting, values, tokens))
    return made


def sweep_recipe(setting: str, value):
    """One run of the room's sweep, SWEEP_EPOCHS on the offline digits, seed 0: ROOM_VARIANT with this β or latent size,
    or M2 (SWEEP_LABELS_VARIANT) that sees this many of the digits' labels."""
    from cvae_core.training.recipe import Recipe

    train = {"epochs": SWEEP_EPOCHS, "seed": 0}
    if setting == "labels":
        return Recipe.from_settings({"variant": SWEEP_LABELS_VARIANT}, train, labels=int(value))
    model = {"variant": ROOM_VARIANT, "beta": float(value)} if setting == "beta" else {"variant": ROOM_VARIANT, "latent_dim": int(value)}
    return Recipe.from_settings(model, train)


def _session_run(run_id: str):
    for entry in state.session_models().values():
        if entry.run is not None and entry.run.id == run_id:
            return entry.run
    return None


def sweep_points(runs=None, setting: str | None = None) -> list[dict]:
    """Every sweep run as the projector plots it: the setting varied and its value, state, epoch, and its trail of
    (rate, distortion) on the validation digits: rate the KL, distortion the negative reconstruction term (nats per
    digit), oldest first. runs: (value, run handle) pairs of `setting`; by default this session's sweep."""
    if runs is None:
        setting, held = state.room_sweep()
        runs = [(value, _session_run(run_id)) for value, run_id in held]
    points = []
    for value, run in runs:
        snap = run.snapshot if run is not None else None
        if snap is None:
            continue
        trail = [(row["kl"], -row["recon"]) for row in snap.history if row.get("split") == "val" and "kl" in row]
        points.append({"setting": setting or "beta", "value": value, "state": str(snap.state), "epoch": float(snap.progress.epoch),
                       "trail": trail})  # fmt: skip
    return points


def sweep_figure(points: list[dict]):
    """The projector's plot of the sweep: each run's trail in the plane of rate (KL) against distortion (−reconstruction),
    its latest point labelled with its value (β=4, z=8, n=100); the frontier forms as runs end."""
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    # Each run's latest point carries its label (no legend: the chart's toolbar covered it); on a projector, type that
    # reads from the back of the room (Streamlit's theme sets the axes' own fonts: each is set here).
    size = 20 if presenter() else 14
    figure = go.Figure()
    for i, point in enumerate(points):
        if not point["trail"]:
            continue
        rates, distortions = zip(*point["trail"], strict=True)
        label = f"{SWEEP_SYMBOLS[point['setting']]}={point['value']:g}"
        color = qualitative.Dark24[i % len(qualitative.Dark24)]  # a run's trail and its latest point alike
        figure.add_trace(go.Scatter(
            x=rates, y=distortions, mode="lines+markers", name=label, marker={"size": 5, "color": color},
            line={"width": 1, "color": color},
        ))  # fmt: skip
        figure.add_trace(go.Scatter(
            x=[rates[-1]], y=[distortions[-1]], mode="markers+text", text=[label], textposition="top center",
            marker={"size": 12 if point["state"] == "done" else 9, "color": color}, showlegend=False, hoverinfo="skip",
            cliponaxis=False, textfont={"color": color, "size": size},  # a label at the plot's edge is drawn whole
        ))  # fmt: skip
    axis = {"tickfont": {"size": size}, "title": {"font": {"size": size}}}
    figure.update_layout(
        height=520, margin={"l": 10, "r": 40, "t": 40, "b": 10}, showlegend=False, font={"size": size},
        xaxis={**axis, "title": {**axis["title"], "text": _("rate: KL, nats per digit")}},
        yaxis={**axis, "title": {**axis["title"], "text": _("distortion: −reconstruction, nats per digit")}},
    )  # fmt: skip
    return figure


def sweep_table(points: list[dict]) -> list[dict]:
    """The sweep beside its plot: a row per run, its latest validation rate and distortion."""
    from cvae_core.training.service import RunState

    from .run_view import STATUS

    rows = []
    for point in points:
        state_text = STATUS.get(RunState(point["state"]), N_("queued"))
        rate, distortion = point["trail"][-1] if point["trail"] else (None, None)
        rows.append({  # a run not measured yet: a dash (the table would write None, an English word, in every language)
            _(SWEEP_NAMES[point["setting"]]): point["value"], _("state"): _(state_text), _("epoch"): round(point["epoch"], 1),
            _("rate"): "–" if rate is None else f"{rate:.2f}", _("distortion"): "–" if distortion is None else f"{distortion:.1f}",
        })  # fmt: skip
    return rows
