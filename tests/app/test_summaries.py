"""Each live chart's one-sentence summary (ui/summaries.py), computed from its numbers, and how often its live region
may change: pure functions, checked without a page. (tests/browser/test_browser.py checks the region on the Train page.)"""

import pytest

from ui import i18n, summaries


def said(sentence) -> str:
    template, fields = sentence
    return template.format(**fields)


def rows(split: str, elbos: list[float]) -> list[dict]:
    return [{"split": split, "epoch": float(i + 1), "elbo": e, "recon": e + 5, "kl": 5.0} for i, e in enumerate(elbos)]


def test_the_kl_chart_says_how_many_dimensions_are_in_use_and_the_kl_they_carry():
    kl = [1.0] * 14 + [0.3, 0.0]
    assert said(summaries.latent_sentence(kl, 15)) == "15 of 16 dimensions in use; the KL is 14.3 nats."
    assert said(summaries.latent_sentence([0.001, 0.002], 0)) == "None of the 2 dimensions is in use; the KL is 0.0 nats."


def test_the_curves_say_the_latest_elbo_and_which_way_it_moved():
    assert summaries.curves_sentence([]) is None
    assert said(summaries.curves_sentence(rows("train", [-200.0, -150.25]))) == "At epoch 2.0 the ELBO on training digits is -150.2 nats."
    assert said(summaries.curves_sentence(rows("val", [-205.0]))) == "At epoch 1.0 the ELBO on validation digits is -205.0 nats."
    history = rows("train", [-200.0, -150.0, -140.0]) + rows("val", [-205.0])
    assert said(summaries.curves_sentence(history)) == (
        "At epoch 1.0 the ELBO on validation digits is -205.0 nats (training digits: -140.0)."
    )
    rising = rows("train", [-200.0, -150.0]) + rows("val", [-205.0, -160.5])
    assert said(summaries.curves_sentence(rising)) == (
        "At epoch 2.0 the ELBO on validation digits is -160.5 nats, up 44.5 since the measure before (training digits: -150.0)."
    )
    falling = rows("train", [-200.0, -150.0]) + rows("val", [-150.0, -152.0])
    assert "down 2.0" in said(summaries.curves_sentence(falling))


@pytest.mark.parametrize(
    "sentence",
    [summaries.latent_sentence([1.0, 0.0], 1), summaries.curves_sentence(rows("train", [-2.5]) + rows("val", [-1.5, -1.0]))],
)
def test_each_sentence_has_its_chinese_with_the_same_numbers(sentence):
    template, fields = sentence
    chinese = i18n.catalogue("zh_Hans").gettext(template)
    assert chinese != template
    english, translated = template.format(**fields), chinese.format(**fields)
    numbers = [w for w in english.replace(",", " ").replace("(", " ").replace(")", " ").split() if w[0].isdigit() or w[0] == "-"]
    assert numbers and all(n.rstrip(".;") in translated for n in numbers), (numbers, translated)


def test_a_live_region_changes_at_most_every_ten_seconds_and_always_at_the_end():
    first = summaries.to_announce(None, "a", now=100.0)
    assert first == ("a", 100.0)
    assert summaries.to_announce(first, "b", now=104.0) == first  # too soon: it keeps what it said
    assert summaries.to_announce(first, "b", now=110.0) == ("b", 110.0)
    assert summaries.to_announce(first, "b", now=101.0, final=True) == ("b", 101.0)  # the run ended: said at once
    assert summaries.to_announce(first, "a", now=130.0) == ("a", 100.0)  # unchanged: nothing new to announce
