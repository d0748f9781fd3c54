"""The page frame every page shares: page set-up, the sidebar, and digits shown as crisp PNGs."""

import atexit
import html
import json
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np
import streamlit as st

from cvae_core.images import as_array, grid, png_bytes

from . import deck as decks
from . import i18n, palette, reload, state
from .i18n import LANGUAGE, N_, _


class Page(NamedTuple):
    """One page of the app. Streamlit finds the files in pages/ by itself (their number prefixes order its own list);
    this is the app's one list of them, which the sidebar, Home's links, the pages' links to each other and the tests
    read. Why not st.navigation: AppTest opens app.py as Home, and st.navigation beside a folder named pages/ broke deep
    links (an address such as /Train opened Home)."""

    key: str  # the name code and tests use for it
    file: str  # relative to the repository
    title: str  # translated where shown
    icon: str
    listed: bool = True  # in the sidebar (Follow is reached by a shared run's link only)
    links: tuple[str, ...] = ()  # the keys its address holds (ui.links.follow checks the page's own list against these)
    locks: bool = False  # a talk's scene or a link's lock= can lock its settings widgets (ui.settings.Spec's; locked), all but "step"

    @property
    def address(self) -> str:
        """Its path in the address bar: "/" for Home, else the file's name without its number (pages/1_Train.py: /Train)."""
        return "/" if self.file == "app.py" else "/" + Path(self.file).stem.split("_", 1)[1]


PAGES = (
    Page("home", "app.py", N_("Home"), ":material/home:"),
    Page(
        "train",
        "pages/1_Train.py",
        N_("Train"),
        ":material/model_training:",
        links=(
            "variant",
            "data",
            "latent",
            "net",
            "stop",
            "epochs",
            "seconds",
            "lr",
            "seed",
            "beta",
            "kl_start",
            "warmup",
            "labels",
            "hidden",
            "step",
        ),
        locks=True,
    ),
    Page("generate", "pages/2_Generate.py", N_("Generate"), ":material/auto_awesome:", links=("model", "label", "z", "t")),
    Page("draw", "pages/3_Draw.py", N_("Draw"), ":material/draw:"),
    Page("latent", "pages/4_Latent_space.py", N_("Latent space"), ":material/scatter_plot:"),
    Page("compare", "pages/5_Compare.py", N_("Compare"), ":material/leaderboard:"),
    Page("experiments", "pages/6_Experiments.py", N_("Experiments"), ":material/science:"),
    Page("follow", "pages/7_Follow.py", N_("Follow a run"), ":material/visibility:", listed=False),
    Page("room", "pages/8_Host_room.py", N_("Your room"), ":material/groups:", listed=False),  # the host's (ui.host)
)


def page(key: str) -> Page:
    """The page named `key` (a KeyError for a name that is not in PAGES)."""
    for candidate in PAGES:
        if candidate.key == key:
            return candidate
    raise KeyError(key)


def link_keys() -> dict[str, decks.PageKeys]:
    """Page key -> the keys its address holds and those a scene can lock: what a deck's scene may ask (ui.deck)."""
    return {p.key: decks.PageKeys(frozenset(p.links), frozenset(p.links) - {"step"} if p.locks else frozenset()) for p in PAGES}


class SceneHere(NamedTuple):
    deck: decks.Deck
    number: int  # from 1
    scene: decks.Scene


def current_scene(page_key: str) -> SceneHere | None:
    """The deck's scene the address names (?deck=NAME&scene=N), when it is a scene of page `page_key`; a DeckError when
    the address names a deck or scene that cannot be shown."""
    where = decks.in_address(st.query_params)
    if where is None:
        return None
    deck = decks.load(where[0], link_keys())
    scene = deck.scene(where[1])
    return SceneHere(deck, where[1], scene) if scene.page == page_key else None


def scroll_here() -> None:
    """In a deck's scene, bring what the page draws next to the top of the screen (a scene that shows a stage far down)."""
    st.html(f'<span class="deck-anchor"></span><script>{SCROLL_JS}</script>', unsafe_allow_javascript=True)


def _scene_of(page_key: str) -> decks.Scene | None:
    try:
        here = current_scene(page_key)
    except decks.DeckError:  # show_scene says why
        return None
    return None if here is None else here.scene


LOCK = "lock"  # ?lock=variant,beta: a link that shows those settings but does not let them be moved
MAX_LOCK_TEXT = 400  # of lock='s text read or kept: it is a stranger's text, and every lockable key fits many times over


def link_locks(page_key: str) -> frozenset[str]:
    """The settings of page `page_key` that the address's lock= names (comma-separated link keys; names the page cannot
    lock are ignored). Cosmetic, for convenience (a link for a class that should not wander off the setting being
    taught): anyone can edit an address, so nothing the server must hold rests on it (a room's lock is the server's:
    cvae_core.serving.rooms)."""
    text = st.query_params.get(LOCK, "")
    return frozenset(text[:MAX_LOCK_TEXT].split(",")) & link_keys()[page_key].lockable


def locked(page_key: str, link: str) -> bool:
    """Is the setting `link` of page `page_key` locked, by the deck's scene shown or by the address's lock=?"""
    scene = _scene_of(page_key)
    return (scene is not None and link in scene.locked) or link in link_locks(page_key)


def scene_sets(page_key: str, link: str) -> bool:
    """Does the scene shown set `link` of page `page_key`?"""
    scene = _scene_of(page_key)
    return scene is not None and link in scene.settings


PRESENTER = "presenter"  # the session-state key of presenter mode, and its name in the address (?presenter=1)
# A projector at 1920x1080 seen from the back of a room: larger type, digits drawn larger, less padding, and
# each page's main interaction on one screen (the pages leave their long explanations folded in this mode).
PRESENTER_CSS = """<style>
html { font-size: 20px; }
[data-testid="stMainBlockContainer"] { padding-top: 2.2rem; padding-bottom: 1rem; max-width: 100%; }
[data-testid="stMainBlockContainer"] h1 { font-size: 2.2rem; padding-top: 0; padding-bottom: 0.4rem; }
[data-testid="stImage"] img { image-rendering: pixelated; }
.live-summary { font-size: 1.6rem !important; font-weight: 600; line-height: 1.3; }
</style>"""
# A scene's caption in presenter mode: large, as subtitles along the bottom of the screen, so that it stays in view while
# the page scrolls to what the scene shows (a stage of the step view). Its background is the app's and its left edge the
# main area's (beside the sidebar), both read by the script (Streamlit's theme has no CSS variables); room is left under
# the page for it.
CAPTION_CSS = """<style>
.deck-caption { position: fixed; left: var(--cvae-main-left, 0); right: 0; bottom: 0; z-index: 999990; margin: 0; padding: 0.7rem 3rem 0.9rem;
  font-size: 2rem; font-weight: 600; line-height: 1.3; background: var(--cvae-background, #fff); border-top: 2px solid; }
[data-testid="stMainBlockContainer"] { padding-bottom: 10rem !important; }
</style>"""
BACKGROUND_JS = """
(() => {
  const fit = () => {
    const app = document.querySelector('[data-testid="stApp"]'), main = document.querySelector('[data-testid="stMain"]');
    const root = document.documentElement.style;
    if (app) { root.setProperty("--cvae-background", getComputedStyle(app).backgroundColor); }
    if (main) { root.setProperty("--cvae-main-left", main.getBoundingClientRect().left + "px"); }
  };
  fit();
  if (!window.__cvaeCaptionFit) {
    window.__cvaeCaptionFit = new ResizeObserver(fit);
    window.__cvaeCaptionFit.observe(document.body);
    const main = document.querySelector('[data-testid="stMain"]');
    if (main) { window.__cvaeCaptionFit.observe(main); }
  }
})();
"""
# Scrolls the page to where it is called (the element after it at the top of the screen), once it has drawn.
SCROLL_JS = """
(() => {
  const anchors = document.querySelectorAll(".deck-anchor");
  const anchor = anchors[anchors.length - 1];
  if (anchor) { setTimeout(() => anchor.scrollIntoView({ block: "start" }), 400); }
})();
"""


def streamlit_words_css() -> str:
    """Streamlit writes a few words of its own in English (the file uploader's button and its size limit).
    In another language, CSS draws the catalogue's words in their place."""
    words = {
        '[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p': _("Upload"),
        '[data-testid="stFileUploaderDropzoneInstructions"] span': _("Up to {megabytes} MB per file").format(
            megabytes=st.get_option("server.maxUploadSize")
        ),
    }
    rules = [
        f"{where} {{ font-size: 0; }} {where}::after {{ content: {json.dumps(text, ensure_ascii=False)}; font-size: 0.875rem; }}"
        for where, text in words.items()
    ]
    return "<style>" + "\n".join(rules) + "</style>"


def presenter() -> bool:
    """Is this session in presenter mode (a switch in the sidebar, or ?presenter=1 in the address)? The session keeps
    it (state.presenter_mode), not the switch: Streamlit forgets a widget's value when the page changes."""
    return state.presenter_mode()


def _follow_presenter_link() -> None:
    """?presenter=1 (or 0) in the address sets the mode on the session's first run (see links.follow: later,
    the address trails the switch by a moment)."""
    if state.link_followed(PRESENTER):
        return
    state.note_link_followed(PRESENTER)
    value = st.query_params.get(PRESENTER)
    if value is not None:
        state.set_presenter_mode(value.lower() in ("1", "true", "on", "yes"))


def _presenter_switched() -> None:
    on = bool(state.widget(PRESENTER))
    state.set_presenter_mode(on)
    if on:
        st.query_params[PRESENTER] = "1"
    else:
        st.query_params.pop(PRESENTER, None)


def kept_in_address(scene: bool = True) -> dict:
    """The address parameters every page keeps, set elsewhere than on the page: presenter mode, a chosen language, and
    (scene=True) a deck's scene, so that a page writing its settings into the address stays on its scene."""
    kept = {PRESENTER: "1"} if presenter() else {}
    if LANGUAGE in st.query_params:
        kept[LANGUAGE] = i18n.language()
    if LOCK in st.query_params:  # a link's locks stay while its visitor works
        kept[LOCK] = st.query_params[LOCK][:MAX_LOCK_TEXT]
    if scene and decks.in_address(st.query_params) is not None:
        kept |= {decks.DECK: st.query_params[decks.DECK], decks.SCENE: st.query_params[decks.SCENE]}
    return kept


def page_titled(title: str) -> Page:
    """The page whose heading is `title` (translated): setup_page's page. Home's heading is the app's name."""
    return next((p for p in PAGES if _(p.title) == title), PAGES[0])


def show_scene(here: Page, models: bool) -> None:
    """The deck's scene on this page: its caption (large in presenter mode), where it is in the deck, the keys that step
    it; on its first run in this session, its pinned model (its settings: ui.links.follow)."""
    try:
        shown = current_scene(here.key)
    except decks.DeckError as e:
        st.error(_("This talk's scene cannot be shown: {why}").format(why=str(e)))
        return
    if shown is None:
        return
    deck, number, scene = shown
    if models and scene.model and not state.link_followed("model" + decks.tag(st.query_params)):
        state.note_link_followed("model" + decks.tag(st.query_params))
        from .models import shipped_models

        state.prefer_model(shipped_models()[0][scene.model].uid)
    caption = scene.caption_in(i18n.language())
    if presenter():
        st.html(CAPTION_CSS + f'<p class="deck-caption" role="note">{html.escape(caption)}</p>')
        st.html(f"<script>{BACKGROUND_JS}</script>", unsafe_allow_javascript=True)
    else:
        st.info(caption, icon=":material/slideshow:")
    kept = kept_in_address(scene=False)

    def target(n: int) -> str | None:
        return f"{page(deck.scenes[n - 1].page).address}?{decks.address(deck.name, n, kept)}" if 1 <= n <= len(deck.scenes) else None

    st.caption(
        _("{title} · scene {number} of {total} · PageDown or → for the next, PageUp or ← for the previous").format(
            title=deck.title_in(i18n.language()), number=number, total=len(deck.scenes)
        )
    )
    st.html(decks.keys_script(here.address, target(number - 1), target(number + 1)), unsafe_allow_javascript=True)


# Streamlit draws captions at 60 % opacity, 3.9:1 against white (WCAG AA asks 4.5:1 for small text): at 85 % they read
# at about 8:1 and still look quieter than the text (checked by tests/browser/test_a11y.py, both themes).
# Streamlit also writes a chosen segment's words, a slider's value and the chosen tab's title in the primary colour. In
# the dark theme no red is both light enough for text on the background (4.5:1) and dark enough under a primary button's
# white words (4.5:1): those words take the text colour instead; the segment's tint and border and the tab's underline
# in the primary colour still mark the choice.
# Keyboard focus must show (WCAG 2.4.7): Streamlit marks a focused page link, toggle or checkbox only by a faint tint (a
# page link's is the current page's own), and an image's toolbar (Fullscreen) stays hidden until hovered, its focused
# button unseen. Each gets a ring.
READABLE_CSS = f"""<style>
[data-testid="stCaptionContainer"] {{ opacity: 0.85 !important; }}
[data-testid="stButtonGroup"] button[data-selected="true"], [data-testid="stSliderThumbValue"] {{ color: inherit !important; }}
[data-testid="stTab"][aria-selected="true"] {{ color: inherit !important; }}
a:focus-visible, [data-testid="stBaseButton-elementToolbar"]:focus-visible,
[data-testid="stCheckbox"] label:has(input:focus-visible), [data-testid="stRadio"] label:has(input:focus-visible) {{
  outline: 3px solid {palette.FOCUS} !important; outline-offset: 1px;
}}
[data-testid="stElementToolbar"]:focus-within {{ opacity: 1 !important; }}
</style>"""


# A wide formula (KaTeX) or table scrolls sideways on a phone; a keyboard reaches it only if it can take focus (WCAG
# 2.1.1; axe's scrollable-region-focusable). Streamlit renders them without a tab stop: each gets one, as they appear.
SCROLLABLE_JS = """
(() => {
  const reach = () => document.querySelectorAll('[data-testid="stMarkdownContainer"] .katex-display, [data-testid="stMarkdownContainer"] table')
    .forEach((el) => { if (!el.hasAttribute("tabindex")) { el.setAttribute("tabindex", "0"); } });
  reach();
  if (!window.__cvaeScrollable) {
    window.__cvaeScrollable = new MutationObserver(reach);
    window.__cvaeScrollable.observe(document.body, { childList: true, subtree: true });
  }
})();
"""


def setup_page(title: str, intro: str | None = None, heartbeat: bool = True, models: bool = True) -> None:
    """Page config, title, a one-paragraph explanation (folded away in presenter mode), and the shared sidebar.
    The title and the explanation come translated (the page calls _ on them). heartbeat=False: the page
    itself tells the training process, as often, that this session's tab is open (ui.training.beat).
    models=False: a page that uses no model (the home page) draws without torch; torch, the shipped models and
    the training process then load in the background while the visitor reads (load_in_background)."""
    # An "About" entry makes the menu (⋮) show under client.toolbarMode = "minimal", and with it the theme switch: light,
    # dark, or the browser's preference (.streamlit/config.toml's [theme.light] and [theme.dark]).
    about = _("**CVAE Lab**: conditional variational autoencoders on handwritten digits, trained live on a CPU.")
    st.set_page_config(page_title=f"{title} · CVAE Lab", page_icon=":material/blur_on:", layout="wide", menu_items={"About": about})
    reload.keep_across_reload()
    _follow_presenter_link()
    if presenter():
        st.html(PRESENTER_CSS)
    if i18n.language() != i18n.SOURCE_LANGUAGE:
        st.html(streamlit_words_css())
    st.html(READABLE_CSS)
    # The page's language for screen readers and fonts (<html lang> stays "en" otherwise), and keyboard access to what
    # scrolls: constants of ours, not input.
    lang = json.dumps(i18n.language().replace("_", "-"))
    st.html(f"<script>document.documentElement.lang = {lang};{SCROLLABLE_JS}</script>", unsafe_allow_javascript=True)
    st.title(title)
    show_scene(page_titled(title), models)
    if intro:
        if presenter():
            with st.expander(_("What is this page?")):
                st.markdown(intro)
        else:
            st.markdown(intro)
    with st.sidebar:
        st.markdown("### CVAE Lab")
        st.caption(_("Conditional variational autoencoders on handwritten digits, trained live on a CPU."))
        # Our own links: Streamlit's list would name the home page after its file ("app").
        kept = kept_in_address(scene=False) or None  # the sidebar leaves the talk
        for listed in (p for p in PAGES if p.listed):
            st.page_link(listed.file, label=_(listed.title), icon=listed.icon, query_params=kept)
        i18n.switch()
        state.set_widget(PRESENTER, presenter())  # the switch shows the session's mode on every page
        st.toggle(
            _("Presenter mode"), key=PRESENTER, on_change=_presenter_switched,
            help=_(
                "For a projector: larger type and digits, explanations folded away, server details hidden. "
                "Bookmark the address to open the app this way (it ends in ?presenter=1)."
            ),
        )  # fmt: skip
        from .host import host_panel, is_host

        host_panel()
        if is_host():  # the host's room: phones join it (pages/8_Host_room.py)
            room = page("room")
            st.page_link(room.file, label=_(room.title), icon=room.icon, query_params=kept)
    # Painted so far without torch. A page with models imports it here (seconds, the first time in a server).
    from .upload import checkpoint_uploader

    with st.sidebar:
        if models:
            from .models import shipped_models

            for name, why in shipped_models()[1].items():
                st.warning(_("Skipped checkpoint {name}: {why}").format(name=name, why=i18n.error_text(why)))
        checkpoint_uploader()
        # The heartbeat keeps this session's runs training. A session that has a run has loaded torch already;
        # one without has nothing to keep alive, so a page without models need not load it for this.
        if heartbeat and (models or any(entry.run is not None for entry in state.session_models().values())):
            from .training import heartbeat as ui_heartbeat

            ui_heartbeat()
    if models:
        from .training import warm_up

        warm_up()  # the training process starts while the visitor reads
    else:
        load_in_background()


_LOADING = threading.Lock()  # taken for good by the first page that starts the loading: once per server


def load_in_background() -> None:
    """Import torch, load the shipped models and start the training process in a thread, once per server: the page
    that asked draws meanwhile, and the visitor's next page finds them ready."""
    if not _LOADING.acquire(blocking=False):
        return

    def load() -> None:
        try:
            from .models import preload_shipped_models
            from .training import client

            preload_shipped_models()
            client()
        except Exception:  # noqa: BLE001 -- only a head start: pages load these themselves and report a failure there
            pass

    loader = threading.Thread(target=load, daemon=True, name="load-models")
    loader.start()
    # A process ending while this thread is still inside torch's start-up aborts ("terminate called without an active
    # exception"): exit waits for the loading (seconds) instead.
    atexit.register(loader.join, 30)


def stack_digits(images) -> np.ndarray:
    """One (N, 28, 28) array from a tensor or array of digits, or a list of them (each (28, 28) or (B, 28, 28))."""
    parts = images if isinstance(images, list | tuple) else [images]
    arrays = [as_array(p).reshape(-1, 28, 28) for p in parts]
    return np.concatenate(arrays)


def show_digits(
    images, ncol: int, *, alt: str, scale: int = 3, caption: str | None = None, where=None, download: str | None = None, key=None
):
    """A grid of digits (see stack_digits for what `images` may be) as one crisp PNG, with an optional download button.
    alt: what the grid shows, for a screen reader: whose digits (the model, the data), which labels, which step; the
    count of digits and rows is added (tests/structure/test_structure.py checks every image has one)."""
    digits = stack_digits(images)
    data = png_bytes(grid(digits, ncol), scale=scale)
    rows = -(-len(digits) // ncol)
    counted = _("{n} handwritten digits in {rows} rows of {ncol}.").format(n=len(digits), rows=rows, ncol=min(ncol, len(digits)))
    (where or st).image(data, caption=caption, output_format="PNG", alt=f"{alt} {counted}")
    if download:
        (where or st).download_button(
            _("Download PNG"), data, file_name=download, mime="image/png", key=key, help=_("Save this grid as a PNG image.")
        )
    return data


def digits_png(images, ncol: int, scale: int = 2) -> bytes:
    """A grid of digits as one PNG."""
    return png_bytes(grid(stack_digits(images), ncol), scale=scale)


def digit_png(image, scale: int = 8) -> bytes:
    """One digit as a PNG."""
    return png_bytes(stack_digits(image)[0], scale=scale)
