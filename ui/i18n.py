"""The visitor's language: English or 简体中文, through gettext catalogues.

Every string a visitor reads is written in English in the code and marked: `_("...")` where it is shown,
`N_("...")` where it is defined before the language is known (module constants, cvae_core's texts), in
which case it goes through `_` where it is shown. Babel extracts the marked strings into
ui/locales/cvae_lab.pot and compiles each language's .po into the .mo read here (`make i18n`).

The language is the browser's (st.context.locale) on a session's first run, unless the address says
?lang=…; the sidebar switch changes it for the session. Fields are filled in after translation
(`_("Saved as {name}.").format(name=...)`), so a translator can move them. Maths stays as it is.
"""

import functools
import gettext
from pathlib import Path

import streamlit as st

from cvae_core.text import N_

from . import state

LOCALES = Path(__file__).resolve().parent / "locales"
DOMAIN = "cvae_lab"
LANGUAGES = {"en": "English", "zh_Hans": "简体中文"}  # catalogue id -> the language's name in itself
SOURCE_LANGUAGE = "en"  # the code's own; it needs no catalogue
LANGUAGE = "lang"  # the session-state key, and the address parameter (?lang=zh_Hans)
SWITCH = "lang_switch"  # the sidebar switch's key: a widget's own value is reset when the page changes, the language is not

__all__ = ["LANGUAGE", "LANGUAGES", "N_", "_", "error_text", "language", "ngettext", "translated"]


@functools.cache
def catalogue(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of a language (English: the strings as written)."""
    if lang == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, LOCALES, languages=[lang])


def from_locale(locale: str | None) -> str:
    """The language for a browser's locale ("zh-CN", "zh-Hans-SG", "en-US", None): Chinese for any Chinese, else English."""
    if locale and locale.replace("_", "-").lower().split("-")[0] == "zh":
        return "zh_Hans"
    return SOURCE_LANGUAGE


def _first_language() -> str:
    """A session's language before the visitor chose one: the address's, or the browser's."""
    asked = st.query_params.get(LANGUAGE)
    if asked in LANGUAGES:
        return asked
    if asked is not None:
        return from_locale(asked)  # ?lang=zh-CN and the like
    return from_locale(st.context.locale)


def language() -> str:
    """This session's language id (a key of LANGUAGES)."""
    try:
        if state.language_choice() not in LANGUAGES:
            state.set_language_choice(_first_language())
        return state.language_choice()
    except Exception:  # noqa: BLE001 -- outside a page run (a unit test, the CLI): the source language
        return SOURCE_LANGUAGE


def _(message: str) -> str:
    """The message in this session's language (the message itself where the catalogue lacks it)."""
    return catalogue(language()).gettext(message) if message else message


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for the number n, in this session's language (Chinese has one form)."""
    return catalogue(language()).ngettext(singular, plural, n)


def translated(template: str, fields: dict, english: str) -> str:
    """A sentence kept as a template and its fields (a CVAEError's, a run snapshot's error), in this session's
    language. `english` is the sentence already filled in, shown where the template is empty."""
    if not template:
        return english
    text = _(template)
    fields = {k: error_text(v) if isinstance(v, Exception) else v for k, v in fields.items()}  # an error inside an error
    try:
        return text.format(**fields) if fields else text
    except (KeyError, IndexError, ValueError):  # a translation that lost a field: the English sentence rather than nothing
        return english


def error_text(error: Exception) -> str:
    """A CVAEError's sentence in this session's language: its template translated, then its fields filled in."""
    return translated(getattr(error, "template", ""), getattr(error, "fields", {}), str(error))


def switch() -> None:
    """The sidebar's language switch, showing this session's language."""
    state.set_widget(SWITCH, language())
    st.segmented_control(
        "Language · 语言", list(LANGUAGES), format_func=LANGUAGES.get, key=SWITCH, on_change=_switched, required=True,
        label_visibility="collapsed",
    )  # fmt: skip


def _switched() -> None:
    """The visitor chose a language: the session keeps it, and the address too, so that a bookmark opens in it."""
    chosen = state.widget(SWITCH)
    if chosen in LANGUAGES:
        state.set_language_choice(chosen)
        st.query_params[LANGUAGE] = chosen
