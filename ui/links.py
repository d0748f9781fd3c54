"""Settings in the page's address (st.query_params), as TensorFlow Playground keeps them: a speaker bookmarks a
setting, a student shares one. A page lists its `Setting`s; `follow` copies a new link's values into the
widgets' state before the widgets are drawn, `publish` writes the widgets' values back into the address.

A link is a stranger's text: each value is parsed and range-checked, and one that is not valid is named in
a message and left at its default; nothing else on the page changes because of it."""

import math
from collections.abc import Callable
from dataclasses import dataclass

import streamlit as st

from . import deck, state
from .frame import current_scene, kept_in_address, page
from .i18n import ngettext


@dataclass(frozen=True)
class Setting:
    """One value in the address. read: the address's text -> {widget key: value} (raises ValueError when the
    text is not a valid value); write: the session state -> the text, or None to leave it out of the address."""

    name: str
    read: Callable[[str], dict]
    write: Callable[[dict], str | None]


def number(text: str, lo: float, hi: float) -> float:
    value = float(text)
    if not (math.isfinite(value) and lo <= value <= hi):
        raise ValueError(f"{text} is not from {lo:g} to {hi:g}")
    return value


def whole(text: str, lo: int, hi: int) -> int:
    value = int(text)
    if not lo <= value <= hi:
        raise ValueError(f"{text} is not from {lo} to {hi}")
    return value


def one_of(text: str, options) -> object:
    """The option whose text is `text` (options may be numbers: the address holds text)."""
    for option in options:
        if str(option) == text:
            return option
    raise ValueError(f"{text!r} is not one of the choices")


def widget(name: str, key: str, parse: Callable[[str], object], show: Callable[[object], str] = str) -> Setting:
    """A setting that is one widget's value."""
    return Setting(name, lambda text: {key: parse(text)}, lambda state: show(state[key]) if key in state else None)


def follow(settings: list[Setting], page_key: str) -> tuple[list[str], set[str]]:
    """Apply the address's settings on the page's first run in this session, and on its first run at each scene of a
    deck (?deck=NAME&scene=N: the scene's settings, under what the address itself holds): a link opened (or typed) loads
    a new session. Later runs never read the address: it trails the widgets by a moment (the browser updates it after
    each run), so reading it again could undo a visitor's last change. Returns the names refused and the widget keys
    set. A deck that cannot be shown applies nothing of its own (ui.frame.show_scene says why)."""
    names = {setting.name for setting in settings}
    if names != set(page(page_key).links):  # the deck's loader checks scenes against PAGES' list
        raise RuntimeError(f"page {page_key!r} reads {sorted(names)}, ui.frame.PAGES lists {sorted(page(page_key).links)}")
    followed = page_key + deck.tag(st.query_params)
    if state.link_followed(followed):
        return [], set()
    state.note_link_followed(followed)
    try:
        shown = current_scene(page_key)
    except deck.DeckError:
        shown = None
    given = {**(shown.scene.settings if shown else {}), **{name: st.query_params[name] for name in st.query_params}}
    refused, changed = [], set()
    for setting in settings:
        if setting.name not in given:
            continue
        try:
            parsed = setting.read(given[setting.name])
        except (ValueError, KeyError, TypeError, IndexError):
            refused.append(setting.name)
            continue
        state.set_widgets(parsed)
        changed |= set(parsed)
    return refused, changed


def publish(settings: list[Setting]) -> None:
    """Write the widgets' values into the address, so that it is always a link to what the page shows."""
    values = kept_in_address()  # presenter mode and a chosen language, set elsewhere, stay
    values_now = state.widget_values()
    for setting in settings:
        text = setting.write(values_now)
        if text is not None:
            values[setting.name] = text
    if {k: st.query_params[k] for k in st.query_params} != values:
        st.query_params.from_dict(values)


def warn_refused(refused: list[str]) -> None:
    if refused:
        message = ngettext(
            "This link's {names} is not valid here, so it keeps its default. Everything else in the link was applied.",
            "This link's {names} are not valid here, so they keep their defaults. Everything else in the link was applied.",
            len(refused),
        )
        st.warning(message.format(names=", ".join(refused)))
