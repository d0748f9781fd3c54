"""Choosing a digit without a pointer: a test digit by its class and its number (Draw's third way in, beside the canvas
and the photo; Latent space's keyboard way to a dot), and which of a page's sources of a digit the visitor used last.

Every control here is a plain Streamlit widget (pills, a number input, a button): Tab reaches each, the arrow keys move
along the pills (one tab stop for all), Enter or Space chooses, the up and down keys or typing change the number. Widget values are class ids and numbers, never the words
shown, so a language switch keeps the choice."""

import hashlib

import numpy as np
import streamlit as st

from . import state
from .frame import digit_png
from .i18n import _


def official(data) -> bool:
    """Whether `data` is MNIST's official test split (else the offline digits' held-out 500, or a visitor's own tenth)."""
    return data.name == "mnist" and data.split == "test"


def fingerprint(value) -> str:
    """A short digest of an array's bytes (and shape): what tells one digit, one set of labels, from another."""
    array = np.ascontiguousarray(np.asarray(value))
    return hashlib.blake2b(array.tobytes() + str(array.shape).encode(), digest_size=12).hexdigest()


@st.cache_data(show_spinner=False, max_entries=16)
def class_members(labels_id: str, n_classes: int, _labels) -> tuple[np.ndarray, ...]:
    """The positions of each class's digits, by class id, for the labels whose fingerprint is `labels_id` (shared by
    every session: the test digits' labels are the same for all)."""
    labels = np.asarray(_labels)
    return tuple(np.flatnonzero(labels == c) for c in range(n_classes))


def _another(number_key: str, count: int) -> None:
    """'Another one': a number of the same class, drawn at random, other than the one shown."""
    now = int(state.widget(number_key) or 1)
    drawn = int(np.random.default_rng().integers(1, count)) if count > 1 else 1  # 1 .. count-1
    state.set_widget(number_key, drawn + (drawn >= now) if count > 1 else 1)


def test_digit_picker(labels, names: list[str], key: str, where=None, side_by_side: bool = True) -> int | None:
    """Pills for the class, a number input for which of its digits, and 'Another one'; returns the chosen digit's
    position in `labels` (the test digits' labels, in order), or None until a class is chosen. `key` names the widgets
    (`{key}_class`, `{key}_number`); `names` are the classes' names, by class id."""
    where = where or st
    labels = np.asarray(labels)
    members = class_members(fingerprint(labels), len(names), labels)
    present = [c for c in range(len(names)) if len(members[c])]
    chosen = where.pills(
        _("Which digit"), present, format_func=lambda c: names[c], key=f"{key}_class",
        help=_("From the keyboard: Tab to the classes, move between them with the arrow keys, choose with Enter or Space."),
    )  # fmt: skip
    if chosen is None or chosen not in present:
        return None
    count = len(members[chosen])
    number_key = f"{key}_number"
    if not 1 <= int(state.widget(number_key) or 1) <= count:  # another class, with fewer digits than the number shown
        state.set_widget(number_key, 1)
    number_at, button_at, _rest = where.columns([2, 1.5, 2], vertical_alignment="bottom") if side_by_side else (where, where, None)
    number = number_at.number_input(
        _("Which one, of {count}").format(count=count), min_value=1, max_value=count, step=1, key=number_key,
        help=_("Type a number, or use the arrow keys or the + and − buttons."),
    )  # fmt: skip
    button_at.button(
        _("Another one"), icon=":material/shuffle:", key=f"{key}_another", on_click=_another, args=(number_key, count),
        help=_("Another digit of the same class, at random."),
    )  # fmt: skip
    return int(members[chosen][int(number or 1) - 1])


def show_test_digit(image, index: int, label: str, width: int = 112, where=None) -> None:
    """A test digit as the data set holds it, with what it is in words."""
    (where or st).image(
        digit_png(image, scale=4), width=width, output_format="PNG",
        caption=_("Test digit #{index}, labelled {label}").format(index=index, label=label),
        alt=_("Test digit number {index} of the data set, a handwritten {label}: light ink on black, 28 by 28 pixels.").format(
            index=index, label=label
        ),
    )  # fmt: skip


def newest(page: str, pictures: dict):
    """Which source of a digit the visitor used last on `page`: of `pictures` (source -> its digit, None where that
    source holds none), the one whose digit changed most recently (a drawing after a pick, a pick after a photo...);
    None when none holds a digit. Sources that change in the same run count in the order given, the last newest."""
    marks = state.picture_marks(page)
    tick = max((when for _seen, when in marks.values()), default=0)
    for source, picture in pictures.items():
        if picture is None:
            marks.pop(source, None)  # emptied (the canvas cleared, the photo removed): new again when it comes back
            continue
        seen = fingerprint(picture)
        if source not in marks or marks[source][0] != seen:
            tick += 1
            marks[source] = (seen, tick)
    held = [source for source, picture in pictures.items() if picture is not None]
    return max(held, key=lambda source: marks[source][1]) if held else None
