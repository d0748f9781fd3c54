"""English and 简体中文: every marked string has a translation that keeps its fields and its maths, the compiled
catalogue is the one translated, and every page renders in Chinese (tests/browser/test_browser.py reads them in Chromium)."""

import gettext
import re
import string

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from cvae_core.errors import ImageError
from cvae_core.images import load_image
from cvae_core.storage.checkpoint import load_folder
from tests.conftest import ROOT
from ui import i18n
from ui.frame import PAGES

CHINESE = "zh_Hans"
PO = i18n.LOCALES / CHINESE / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
MO = PO.with_suffix(".mo")
SOURCES = [
    ROOT / "app.py",
    *sorted((ROOT / "pages").glob("*.py")),
    *sorted((ROOT / "ui").rglob("*.py")),
    *sorted((ROOT / "cvae_core").rglob("*.py")),
]


def marked_strings() -> dict:
    """msgid (a str, or (singular, plural)) -> where it is marked, as Babel extracts them for `make i18n`."""
    found = {}
    for path in SOURCES:
        for line, message, _comments, _context in extract_from_file("python", str(path), keywords=DEFAULT_KEYWORDS):
            found.setdefault(message, f"{path.relative_to(ROOT)}:{line}")
    return found


@pytest.fixture(scope="module")
def chinese():
    with PO.open("rb") as f:
        return read_po(f, locale="zh_Hans")


def fields(text: str) -> set[str]:
    """The names of a template's {fields}."""
    return {name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name is not None}


def maths(text: str) -> list[str]:
    """Inline maths ($...$) and code (`...`): they stay as written in every language."""
    return sorted(re.findall(r"\$[^$]+\$|`[^`]+`", text))


def test_every_marked_string_has_a_chinese_translation(chinese):
    marked = marked_strings()
    assert len(marked) > 100  # the whole app is marked, not a handful of strings
    missing = []
    for message, where in marked.items():
        entry = chinese.get(message[0] if isinstance(message, tuple) else message)
        strings = [] if entry is None else (entry.string if isinstance(entry.string, tuple | list) else [entry.string])
        if entry is None or entry.fuzzy or not all(strings):
            missing.append(f"{where}: {message!r}")
    assert not missing, (
        "no Chinese translation (run `make i18n`, then translate in " + str(PO.relative_to(ROOT)) + "):\n" + "\n".join(missing)
    )


def test_translations_keep_their_fields_and_their_maths(chinese):
    wrong = []
    for entry in chinese:
        if not entry.id or not entry.string:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        forms = entry.string if isinstance(entry.string, tuple | list) else (entry.string,)
        for form in forms:
            if fields(form) != fields(ids[-1]) or maths(form) != maths(ids[0]):
                wrong.append(f"{ids[0]!r} -> {form!r}")
    assert not wrong, "a translation lost or changed a {field} or some maths:\n" + "\n".join(wrong)


def unbold(text: str) -> list[str]:
    """The `**` of a text that Markdown (CommonMark's flanking rules) would leave as two asterisks: an opening one must
    not be followed by a space, nor by punctuation unless it follows a space or punctuation; a closing one the mirror.
    A Chinese colon or comma inside the bold is punctuation: "**用手机加入：**扫描" shows its asterisks."""
    import unicodedata

    def punct(c: str) -> bool:
        return c.isspace() or unicodedata.category(c)[0] in "PS"

    wrong = []
    for k, found in enumerate(re.finditer(r"\*\*", text)):
        before, after = text[found.start() - 1 : found.start()] or " ", text[found.end() : found.end() + 1] or " "
        opening = not after.isspace() and (not punct(after) or punct(before))
        closing = not before.isspace() and (not punct(before) or punct(after))
        if not (opening if k % 2 == 0 else closing):
            wrong.append(text[max(0, found.start() - 8) : found.end() + 8])
    return wrong


def test_translations_keep_their_bold_bold(chinese):
    wrong = []
    for entry in chinese:
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        for form in entry.string if isinstance(entry.string, tuple | list) else (entry.string,):
            if entry.id and form and "**" in form and unbold(form) and not unbold(ids[0]):
                wrong.append(f"{ids[0]!r} -> {form!r}: {unbold(form)}")
    assert not wrong, "Markdown would show these asterisks, not bold (move the punctuation out of the **):\n" + "\n".join(wrong)
    assert unbold("**用手机加入：**扫描") and not unbold("**用手机加入**：扫描") and not unbold("**Join on a phone:** scan")


def test_the_app_reads_the_catalogue_as_translated(chinese):
    """The .mo the app loads is the .po compiled (`make i18n` was run after the last translation)."""
    with MO.open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    stale = []
    for entry in chinese:
        if not entry.id or not entry.string:
            continue
        if isinstance(entry.id, tuple):
            got, want = compiled.ngettext(entry.id[0], entry.id[1], 1), entry.string[0]
        else:
            got, want = compiled.gettext(entry.id), entry.string
        if got != want:
            stale.append(entry.id)
    assert not stale, f"{MO.name} is older than {PO.name} for {len(stale)} messages: run `make i18n`"


@pytest.mark.parametrize(
    "locale, language",
    [
        ("zh-CN", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-Hans-SG", "zh_Hans"),
        ("zh_TW", "zh_Hans"),
        ("en-US", "en"),
        ("fr-FR", "en"),
        (None, "en"),
        ("", "en"),
    ],
)
def test_a_browser_locale_picks_the_language(locale, language):
    assert i18n.from_locale(locale) == language


def test_an_error_reads_whole_in_the_visitors_language(monkeypatch):
    with pytest.raises(ImageError) as empty:
        load_image(b"")
    english = str(empty.value)
    monkeypatch.setattr(i18n, "language", lambda: CHINESE)
    translated = i18n.error_text(empty.value)
    assert translated and translated != english and not re.search(r"[A-Za-z]{3,}", translated)
    with pytest.raises(ImageError) as big:
        load_image(b"\0" * (20 * 1024 * 1024))
    assert re.search(r"\d", i18n.error_text(big.value)) and i18n.error_text(big.value) != str(
        big.value
    )  # fields filled in after translating


def test_a_refused_checkpoint_is_explained_in_the_visitors_language(monkeypatch, tmp_path):
    (tmp_path / "broken.safetensors").write_bytes(b"not a checkpoint at all")
    models, refused = load_folder(tmp_path)
    assert not models and str(refused["broken.safetensors"]).startswith("not a checkpoint")
    monkeypatch.setattr(i18n, "language", lambda: CHINESE)
    assert re.search(r"[\u4e00-\u9fff]", i18n.error_text(refused["broken.safetensors"]))


def app_in(language: str, path: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params[i18n.LANGUAGE] = language
    if path != "app.py":
        at.switch_page(path)
    return at


def test_every_page_renders_in_chinese(chinese):
    translate = gettext.GNUTranslations(MO.open("rb")).gettext
    for path, title in ((p.file, p.title) for p in PAGES if p.listed):
        at = app_in(CHINESE, path).run()
        assert not at.exception, (path, [e.value for e in at.exception])
        labels = [link.proto.label for link in at.sidebar.get("page_link")]
        assert translate(title) in labels and translate(title) != title, labels
        assert re.search(r"[\u4e00-\u9fff]", at.title[0].value) or path == "app.py"  # "CVAE Lab" is a name


def test_the_sidebar_switch_changes_the_language_and_the_address_keeps_it():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    english = [link.proto.label for link in at.sidebar.get("page_link")]
    assert english[1] == "Train" and at.session_state[i18n.LANGUAGE] == "en"  # AppTest's browser has no locale: English
    at.segmented_control(key=i18n.SWITCH).set_value(CHINESE).run()
    assert not at.exception
    chinese = [link.proto.label for link in at.sidebar.get("page_link")]
    assert chinese[1] != "Train" and re.search(r"[\u4e00-\u9fff]", chinese[1])
    assert at.query_params[i18n.LANGUAGE] == CHINESE
    assert all(i18n.LANGUAGE + "=" + CHINESE in link.proto.query_string for link in at.sidebar.get("page_link"))


def test_an_error_inside_an_error_is_translated_too(monkeypatch):
    """A checkpoint whose metadata declares a bad model: the checkpoint's sentence holds the config's sentence."""
    import json
    import struct

    from cvae_core.errors import CVAEError
    from cvae_core.models import build_model, model_config
    from cvae_core.storage import checkpoint

    data = checkpoint.to_bytes(build_model(model_config(variant="cvae1", latent_dim=4, hidden=64)), {})
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + size])
    meta = json.loads(header["__metadata__"]["cvae_lab"])
    meta["model_config"]["latent_dim"] = 100_000
    header["__metadata__"]["cvae_lab"] = json.dumps(meta)
    edited = json.dumps(header).encode()
    with pytest.raises(CVAEError) as refused:
        checkpoint.from_bytes(struct.pack("<Q", len(edited)) + edited + data[8 + size :])
    assert "latent size" in str(refused.value)  # the English sentence, whole, for the CLI
    monkeypatch.setattr(i18n, "language", lambda: CHINESE)
    chinese = i18n.error_text(refused.value)
    assert "100000" in chinese and not re.search(r"[A-Za-z]{3,}", chinese), chinese


def test_one_visitor_choosing_chinese_leaves_another_visitors_language_alone():
    """The language lives in each session's state; the only thing shared is the read-only catalogue per language."""
    english = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    chinese = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    chinese.segmented_control(key=i18n.SWITCH).set_value(CHINESE).run()
    assert re.search(r"[\u4e00-\u9fff]", chinese.sidebar.get("page_link")[1].proto.label)
    english.run()  # the other visitor's next run
    assert english.session_state[i18n.LANGUAGE] == "en" and english.sidebar.get("page_link")[1].proto.label == "Train"
    assert i18n.LANGUAGE not in english.query_params
