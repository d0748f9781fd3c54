"""A talk's deck (ui/deck.py): the loader's checks, the shipped deck, and scenes opened by their address (AppTest)."""

import pytest

from tests.app.test_app import explorer, no_exceptions, page
from ui import deck, frame
from ui import state as keys

PAGES = frame.link_keys()

GOOD = """
title = { en = "A talk", zh_Hans = "一个报告" }

[[scene]]
page = "generate"
settings = { model = "cvae2", label = 3, z = [1.5, -0.5], t = 0.8 }
caption.en = "Ask for a 3."
caption.zh_Hans = "要一个 3。"

[[scene]]
page = "home"
model = "vae"
caption.en = "What a CVAE is."

[[scene]]
page = "train"
settings = { variant = "cvae2", step = 3 }
locked = ["variant"]
caption.en = "One step."
"""


def test_a_deck_reads_its_scenes_with_their_settings_as_an_address_holds_them():
    talk = deck.parse("talk", GOOD, PAGES)
    assert talk.title_in("zh_Hans") == "一个报告" and len(talk.scenes) == 3
    first = talk.scene(1)
    assert first.page == "generate" and first.settings == {"model": "cvae2", "label": "3", "z": "1.5,-0.5", "t": "0.8"}
    assert not first.locked and talk.scene(3).locked == {"variant"} and first.caption_in("zh_Hans") == "要一个 3。"
    assert talk.scene(2).model == "vae" and talk.scene(2).caption_in("zh_Hans") == "What a CVAE is."  # English stands in


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (('page = "generate"', 'page = "slides"'), "'slides', which is not one of the app's pages"),
        (("label = 3,", "colour = 3, label = 3,"), "sets colour, which page 'generate' does not read"),
        (('model = "vae"', 'model = "gpt"'), "pins model 'gpt'"),
        (('locked = ["variant"]', 'locked = ["seed"]'), "locks ['seed']: only settings the scene sets"),
        (('locked = ["variant"]', 'locked = ["step"]'), "which page 'train' cannot lock"),
        (("t = 0.8 }", 't = 0.8 }\nlocked = ["label"]'), "which page 'generate' cannot lock (it can lock: none)"),
        (('caption.en = "What a CVAE is."', 'caption.fr = "Un CVAE."'), "scene 2 has no English caption"),
        (('caption.zh_Hans = "要一个 3。"', 'caption.de = "Eine 3."'), "caption in 'de'"),
        (("[[scene]]", "[[scenes]]"), "holds a title and its [[scene]] tables only"),
        (("z = [1.5, -0.5]", "z = { a = 1 }"), "write a number, a word or a list of numbers"),
        (('caption.en = "Ask for a 3."', f'caption.en = "{"word " * 100}"'), "at most 320 characters"),
        (("title = {", "title = [ {"), "is not valid TOML"),
    ],
)
def test_a_fault_in_a_deck_is_named_in_a_sentence(change, named):
    with pytest.raises(deck.DeckError) as fault:
        deck.parse("talk", GOOD.replace(*change, 1), PAGES)
    assert named in str(fault.value)


def test_an_address_names_a_scene_and_the_scenes_either_side():
    assert deck.in_address({"deck": "intro", "scene": "2"}) == ("intro", 2)
    assert deck.in_address({"deck": "intro", "scene": "two"}) is None and deck.in_address({"scene": "2"}) is None
    assert deck.tag({"deck": "intro", "scene": "2"}) != deck.tag({"deck": "intro", "scene": "3"})
    assert deck.address("intro", 3, {"presenter": "1"}) == "presenter=1&deck=intro&scene=3"
    with pytest.raises(deck.DeckError, match="scenes 1 to 3, not 4"):
        deck.parse("talk", GOOD, PAGES).scene(4)
    with pytest.raises(deck.DeckError, match="not a deck's name"):
        deck.load("../intro", PAGES)
    with pytest.raises(deck.DeckError, match="no deck 'outro'"):
        deck.load("outro", PAGES)


def test_the_shipped_introduction_is_a_ten_minute_talk_on_shipped_models():
    """At least 8 scenes over at least 5 pages, captions in both languages, one of them a step through "One training
    step, slowly", and no scene that starts a run (the training queue)."""
    intro = deck.load("intro", PAGES)
    assert len(intro.scenes) >= 8 and len({s.page for s in intro.scenes}) >= 5
    assert all(set(s.caption) == {"en", "zh_Hans"} for s in intro.scenes)
    steps = [int(s.settings["step"]) for s in intro.scenes if "step" in s.settings]
    assert len(steps) >= 2 and steps == sorted(steps)
    assert deck.names() == ["intro"]


def scene(number: int):
    """The app opened at the shipped deck's scene `number`, as a link opens it (the scene's page, ?deck=intro&scene=N)."""
    at = page(deck.load("intro", PAGES).scene(number).page)
    at.query_params.update({"deck": "intro", "scene": str(number)})
    return at.run()


def step_to(at, number: int):
    """The same session at scene `number`, whose address holds the scene alone (as the keys and the scene's links write it)."""
    at.query_params.clear()
    at.query_params.update({"deck": "intro", "scene": str(number)})
    return at.run()


def caption_shown(at, number: int) -> bool:
    words = deck.load("intro", PAGES).scene(number).caption_in("en")
    return any(i.value == words for i in at.info)


def test_a_scene_applies_its_settings_and_shows_its_caption_and_the_next_scene_on_the_same_page_applies_too():
    at = scene(2)
    no_exceptions(at)
    assert not at.warning and caption_shown(at, 2)
    assert at.selectbox(key="model").format_func(at.selectbox(key="model").value) == "cvae2 (pretrained)"
    start = explorer(at)[1]
    assert start["label"] == 3 and start["temperature"] == 1.0 and not any(start["z"])
    assert at.query_params["deck"] == "intro" and at.query_params["scene"] == "2"  # the page's own link keeps the scene
    assert at.query_params["label"] == "3"

    step_to(at, 3)  # the same page, the same session: the scene's settings still apply
    no_exceptions(at)
    assert caption_shown(at, 3) and not caption_shown(at, 2)
    start = explorer(at)[1]
    assert start["label"] == 7 and start["z"][:2] == [1.5, -1.0]
    assert at.query_params["scene"] == "3" and at.query_params["label"] == "7"


def test_a_train_scene_locks_what_it_says_and_a_step_scene_opens_the_step_at_its_stage():
    at = scene(5)
    no_exceptions(at)
    assert caption_shown(at, 5)
    assert at.selectbox(key="train_variant").value == "cvae2" and at.selectbox(key="train_variant").disabled
    assert at.select_slider(key="train_latent").value == 2 and not at.select_slider(key="train_latent").disabled
    assert "train_step_mode" not in at.session_state or not at.session_state["train_step_mode"]

    step_to(at, 6)
    no_exceptions(at)
    assert not at.selectbox(key="train_variant").disabled  # scene 6 locks nothing
    assert at.session_state["train_step_mode"] and at.session_state[keys.STEP_STAGE] == 2
    assert any(p.proto.text.startswith("stage 2 of") for p in at.get("progress"))
    step_to(at, 7)
    assert at.session_state[keys.STEP_STAGE] == 4 and at.query_params["step"] == "4" and at.query_params["scene"] == "7"


def test_an_address_naming_a_deck_that_is_not_there_says_so_and_the_page_still_opens():
    at = page("home")
    at.query_params.update({"deck": "outro", "scene": "1"})
    at.run()
    no_exceptions(at)
    assert any("no deck 'outro'" in e.value for e in at.error)


def test_the_readmes_example_deck_loads():
    """README's "Giving a talk" shows a deck: it stays a valid one."""
    import re

    from tests.conftest import ROOT

    example = re.search(r"### Giving a talk.*?```toml\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    assert len(deck.parse("readme", example, PAGES).scenes) == 2


def test_a_links_lock_shows_its_settings_unmovable_and_stays_in_the_address():
    """?lock= (cosmetic, for convenience: ui.frame.link_locks) disables the widgets it names among those the page can
    lock, ignores the rest (a page's step, a name no page reads), and survives the page writing its own address."""
    at = page("train")
    at.query_params.update({"variant": "cvae2", "lock": "variant,beta,step,colour"})
    at.run()
    no_exceptions(at)
    assert not at.warning  # a lock that names what the page cannot lock is not a refused setting
    assert at.selectbox(key="train_variant").value == "cvae2" and at.selectbox(key="train_variant").disabled
    assert not at.select_slider(key="train_latent").disabled
    assert at.query_params["lock"] == "variant,beta,step,colour"
    at.run()  # a rerun reads no link again, and the lock holds
    assert at.selectbox(key="train_variant").disabled and at.query_params["lock"] == "variant,beta,step,colour"
