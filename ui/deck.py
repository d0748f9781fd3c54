"""A talk as a deck of scenes, stepped by a clicker.

A deck is a small TOML file in ui/decks/ (app data the app reads, beside ui/locales/ and ui/web/): a list of scenes, each
a page of the app (a key of ui.frame.PAGES), its settings (the page's link keys, the same values a link holds), optionally
a pinned shipped model, a caption of one or two sentences in each language, and which of its settings are locked.
`?deck=NAME&scene=N` in the address opens scene N (from 1); PageDown / PageUp and the arrow keys step to the next or the
previous scene's address (the page itself is loaded anew).

The loader checks the file against the pages' link keys and the shipped models, and names what is wrong in a sentence.
It imports neither the pages nor torch: ui.frame passes it the pages' link keys (`PageKeys`)."""

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode

from cvae_core.storage.checkpoint_header import SHIPPED

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as a package (requirements.txt)
    import tomli as tomllib

from .i18n import LANGUAGES, SOURCE_LANGUAGE

DECKS = Path(__file__).resolve().parent / "decks"
DECK, SCENE = "deck", "scene"  # their names in the address
CAPTION_LIMIT = 320  # characters: one or two sentences, read from the back of a room
NAME_CHARACTERS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


class PageKeys(NamedTuple):
    """What a scene may ask of a page: the keys its address holds, and those of them whose widgets it can lock."""

    links: frozenset[str]
    lockable: frozenset[str] = frozenset()


class DeckError(ValueError):
    """A deck that cannot be shown, with one sentence saying why."""


def _in(words: dict[str, str], language: str) -> str:
    return words.get(language) or words[SOURCE_LANGUAGE]


def _words(where: str, what: str, words, limit: int) -> dict[str, str]:
    """A text in each language ({en = "...", zh_Hans = "..."}), English required; a DeckError names what is wrong."""
    if not isinstance(words, dict) or not isinstance(words.get(SOURCE_LANGUAGE), str):
        raise DeckError(f'{where} has no English {what}: add {what}.{SOURCE_LANGUAGE} = "...".')
    for language, text in words.items():
        if language not in LANGUAGES:
            raise DeckError(f"{where} has a {what} in {language!r}, which is not one of {', '.join(LANGUAGES)}.")
        if not isinstance(text, str) or not 0 < len(text) <= limit:
            raise DeckError(f"{where}'s {language} {what} must be at most {limit} characters of text.")
    return dict(words)


@dataclass(frozen=True)
class Scene:
    page: str  # a key of ui.frame.PAGES
    caption: dict[str, str]  # language id -> one or two sentences (English always)
    settings: dict[str, str] = field(default_factory=dict)  # link key -> its text in an address
    model: str | None = None  # a shipped model's name (a checkpoint's file stem) the page's model pickers open on
    locked: frozenset[str] = frozenset()  # link keys whose widgets the visitor cannot move in this scene

    def caption_in(self, language: str) -> str:
        return _in(self.caption, language)


@dataclass(frozen=True)
class Deck:
    name: str
    title: dict[str, str]  # language id -> the talk's title
    scenes: tuple[Scene, ...]

    def title_in(self, language: str) -> str:
        return _in(self.title, language)

    def scene(self, number: int) -> Scene:
        """Scene `number`, counted from 1 (a DeckError outside the deck)."""
        if not 1 <= number <= len(self.scenes):
            raise DeckError(f"Deck {self.name!r} has scenes 1 to {len(self.scenes)}, not {number}.")
        return self.scenes[number - 1]


def _text(value) -> str:
    """A setting's value as an address holds it: numbers as written, a list joined by commas (Generate's z)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if isinstance(value, int | float | str):
        return str(value)
    raise TypeError(type(value).__name__)


def parse(name: str, text: str, pages: dict[str, PageKeys]) -> Deck:
    """A deck from its TOML text; pages: page key -> what a scene may ask of it. A DeckError names the first fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DeckError(f"Deck {name!r} is not valid TOML: {e}.") from None
    unknown = set(data) - {"title", "scene"}
    if unknown:
        raise DeckError(f"Deck {name!r} has {', '.join(sorted(unknown))}: a deck holds a title and its [[scene]] tables only.")
    raw = data.get("scene")
    if not isinstance(raw, list) or not raw:
        raise DeckError(f"Deck {name!r} has no scenes: add [[scene]] tables.")
    scenes = tuple(_scene(name, n, entry, pages) for n, entry in enumerate(raw, 1))
    return Deck(name, _words(f"Deck {name!r}", "title", data.get("title"), 80), scenes)


def _scene(deck: str, n: int, entry: dict, pages: dict[str, PageKeys]) -> Scene:
    where = f"Deck {deck!r}, scene {n}"
    unknown = set(entry) - {"page", "settings", "model", "caption", "locked"}
    if unknown:
        raise DeckError(f"{where} has {', '.join(sorted(unknown))}: a scene holds page, settings, model, caption and locked.")
    page = entry.get("page")
    if page not in pages:
        raise DeckError(f"{where} names page {page!r}, which is not one of the app's pages ({', '.join(pages)}).")
    settings = entry.get("settings", {})
    if not isinstance(settings, dict):
        raise DeckError(f"{where}: settings must be a table of link keys.")
    strangers = set(settings) - pages[page].links
    if strangers:
        known = ", ".join(sorted(pages[page].links)) or "none"
        raise DeckError(f"{where} sets {', '.join(sorted(strangers))}, which page {page!r} does not read (it reads: {known}).")
    try:
        texts = {key: _text(value) for key, value in settings.items()}
    except TypeError as e:
        raise DeckError(f"{where}: a setting's value is a {e}; write a number, a word or a list of numbers.") from None
    model = entry.get("model")
    if model is not None and not (isinstance(model, str) and (SHIPPED / f"{model}.safetensors").is_file()):
        raise DeckError(f"{where} pins model {model!r}, which is not a model that ships in checkpoints/.")
    locked = entry.get("locked", [])
    if not isinstance(locked, list) or not set(locked) <= set(settings):
        raise DeckError(f"{where} locks {locked!r}: only settings the scene sets can be locked.")
    if not set(locked) <= pages[page].lockable:
        can = ", ".join(sorted(pages[page].lockable)) or "none"
        raise DeckError(f"{where} locks {locked!r}, which page {page!r} cannot lock (it can lock: {can}).")
    caption = _words(where, "caption", entry.get("caption"), CAPTION_LIMIT)
    return Scene(page, caption, texts, model, frozenset(locked))


def load(name: str, pages: dict[str, PageKeys]) -> Deck:
    """The deck ui/decks/NAME.toml (a DeckError when there is none, or when it is not valid)."""
    if not name or not set(name) <= NAME_CHARACTERS:
        raise DeckError(f"{name!r} is not a deck's name: lower-case letters, digits, - and _.")
    path = DECKS / f"{name}.toml"
    if not path.is_file():
        raise DeckError(f"There is no deck {name!r} (the decks are {', '.join(names()) or 'none'}).")
    return _cached(name, path.read_text(encoding="utf-8"), tuple(pages.items()))


@cache
def _cached(name: str, text: str, pages: tuple) -> Deck:
    return parse(name, text, dict(pages))


def names() -> list[str]:
    return sorted(p.stem for p in DECKS.glob("*.toml"))


def address(deck: str, number: int, kept: dict) -> str:
    """The query of scene `number` of `deck`, keeping `kept` (presenter mode, a chosen language)."""
    return urlencode({**kept, DECK: deck, SCENE: str(number)})


def in_address(query: dict) -> tuple[str, int] | None:
    """(deck name, scene number) when the address names a scene, else None (a scene number that is not a number: None)."""
    try:
        return (query[DECK], int(query[SCENE])) if DECK in query and SCENE in query else None
    except ValueError:
        return None


def tag(query: dict) -> str:
    """What tells one scene's link from another's (ui.links.follow applies a link once per page and scene)."""
    where = in_address(query)
    return "" if where is None else f"@{where[0]}:{where[1]}"


# The clicker: a presenter's remote sends PageDown and PageUp; a keyboard the arrows too. Captured on the window before
# any widget sees them, except while the visitor is typing or on a slider (its own keys then); the arrows only when no
# element has the focus. Installed once per
# page; each run of the page gives it the current scene's neighbours. `here`: the page's own path, to find the app's
# base path (a proxy may serve it under a prefix).
KEYS_JS = """
(() => {
  window.__cvaeDeckTargets = TARGETS;
  if (window.__cvaeDeckKeys) { return; }
  window.__cvaeDeckKeys = true;
  const editing = (el) => el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName)
    || el.getAttribute("role") === "slider" || el.getAttribute("role") === "combobox");
  window.addEventListener("keydown", (event) => {
    const step = { PageDown: "next", ArrowRight: "next", PageUp: "previous", ArrowLeft: "previous" }[event.key];
    const targets = window.__cvaeDeckTargets;
    if (!step || !targets || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    if (editing(event.composedPath()[0]) || editing(document.activeElement)) { return; }
    // The arrows belong to whatever has the focus (a tab list, the latent plane): they step only from the page itself.
    const focused = document.activeElement;
    if (event.key.startsWith("Arrow") && focused && focused !== document.body) { return; }
    event.preventDefault();
    event.stopImmediatePropagation();
    const target = targets[step];
    if (!target) { return; }
    let base = window.location.pathname;
    if (targets.here !== "/" && base.endsWith(targets.here)) { base = base.slice(0, -targets.here.length); }
    window.location.assign(base.replace(/\\/$/, "") + target);
  }, { capture: true });
})();
"""


def keys_script(here: str, previous: str | None, following: str | None) -> str:
    """The clicker's script for a page at path `here`, with the addresses (path and query) of the scenes either side."""
    targets = json.dumps({"here": here, "previous": previous, "next": following})
    return "<script>" + KEYS_JS.replace("TARGETS", targets) + "</script>"
