"""One sentence per live chart, computed from the chart's numbers, for those who cannot see the chart (a screen reader
hears it from an ARIA live region) and for the back of the room (presenter mode shows it large): ui.run_view draws it.

Pure functions of numbers: no Streamlit. A sentence is returned as a template marked for translation and its fields
(ui.i18n.translated fills it in, in the visitor's language), so that a translator moves the numbers with the words.
"""

from cvae_core.text import N_

ANNOUNCE_EVERY = 10.0  # seconds: a live region that changed every second would talk over everything else


def curves_sentence(history) -> tuple[str, dict] | None:
    """The training curves in a sentence: the latest epoch's ELBO on validation and training digits and how the
    validation figure moved since the previous measure. history: the run's rows ({"split", "epoch", "elbo", ...})."""
    train = [h for h in history if h["split"] == "train"]
    val = [h for h in history if h["split"] == "val"]
    if not train and not val:
        return None
    if not val:
        last = train[-1]
        return N_("At epoch {epoch:.1f} the ELBO on training digits is {train:.1f} nats."), {"epoch": last["epoch"], "train": last["elbo"]}
    fields = {"epoch": val[-1]["epoch"], "val": val[-1]["elbo"]}
    if not train:  # a first slice that reached the end of an epoch: its validation point comes before its training row
        return N_("At epoch {epoch:.1f} the ELBO on validation digits is {val:.1f} nats."), fields
    fields["train"] = train[-1]["elbo"]
    if len(val) == 1:
        return N_("At epoch {epoch:.1f} the ELBO on validation digits is {val:.1f} nats (training digits: {train:.1f})."), fields
    change = val[-1]["elbo"] - val[-2]["elbo"]
    fields["change"] = abs(change)
    if change >= 0:
        template = N_(
            "At epoch {epoch:.1f} the ELBO on validation digits is {val:.1f} nats, up {change:.1f} since the measure before (training digits: {train:.1f})."
        )
    else:
        template = N_(
            "At epoch {epoch:.1f} the ELBO on validation digits is {val:.1f} nats, down {change:.1f} since the measure before (training digits: {train:.1f})."
        )
    return template, fields  # fmt: skip


def latent_sentence(kl_per_dim, active_units: int) -> tuple[str, dict]:
    """The KL-per-dimension chart in a sentence: how many dimensions are in use and the KL they carry together."""
    fields = {"active": int(active_units), "dims": len(kl_per_dim), "kl": float(sum(kl_per_dim))}
    if active_units == 0:
        return N_("None of the {dims} dimensions is in use; the KL is {kl:.1f} nats."), fields
    return N_("{active} of {dims} dimensions in use; the KL is {kl:.1f} nats."), fields


def to_announce(previous: tuple | None, sentence, now: float, final: bool = False) -> tuple:
    """What a live region shows now, and since when: the new sentence if the region is new, if ANNOUNCE_EVERY seconds
    have passed since it last changed, or if this is the run's final state; else the sentence it shows already.
    previous: (the sentence shown, when it was first shown) or None; sentence: anything comparable (a template and
    its fields); now: a monotonic clock's reading."""
    if previous is None or final or now - previous[1] >= ANNOUNCE_EVERY:
        return (sentence, previous[1]) if previous is not None and previous[0] == sentence else (sentence, now)
    return previous


def pretrained_sentence(tests: dict[str, dict]) -> tuple[str, dict] | None:
    """The pretrained models' table in a sentence: how many there are and the range of their recorded log p(x), from the
    most probable model to the least, with the test digits it was measured on. tests: a model's name -> the figures its
    header recorded (metrics.test). None when no model has a log p(x)."""
    scored = {name: test for name, test in tests.items() if test.get("log_px") is not None}
    if not scored:
        return None
    best = max(scored, key=lambda name: scored[name]["log_px"])
    worst = min(scored, key=lambda name: scored[name]["log_px"])
    fields = {"count": len(tests), "best": best, "high": scored[best]["log_px"], "worst": worst, "low": scored[worst]["log_px"],
              "digits": " / ".join(f"{n:,}" for n in sorted({test.get("n", 0) for test in scored.values()}))}  # fmt: skip
    return N_(
        "{count} pretrained models: on {digits} test digits, log p(x) runs from {high:.1f} nats ({best}, the most probable) to {low:.1f} ({worst}); higher is better."
    ), fields  # fmt: skip
