"""A training run drawn from its snapshot, the same for its owner (the Train page) and for those who follow it (the
Follow page): progress, the latest terms, the sample grid, the curves, the bound term by term and the KL per latent
dimension. Nothing here changes a run."""

import time
from html import escape

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from cvae_core.cards import CARDS
from cvae_core.training.service import GRID_STYLES, RunState

from . import palette, readable, state, summaries
from .frame import digits_png, presenter
from .i18n import N_, _, translated
from .plots import bars_svg, stacked_lines_svg

# A phone stacks columns: the four figures would stand one above the other and push the sample grid, which is what a
# visitor watches, a screen down; there the figures go two to a row, in smaller type. The bound's equation scrolls
# sideways rather than overflow, and is set smaller on a phone.
RUN_CSS = """<style>
.st-key-train-bound .katex-display { overflow-x: auto; overflow-y: hidden; }
.live-summary { font-size: 1.05rem; margin: 0.2rem 0 0.8rem; }
@media (max-width: 640px) {
  .st-key-train-bound .katex { font-size: 0.78em; }
  .st-key-train-figures [data-testid="stColumn"] { min-width: calc(50% - 0.5rem) !important; flex: 1 1 calc(50% - 0.5rem) !important; }
  .st-key-train-figures [data-testid="stMetricValue"] { font-size: 1.5rem; }
}
</style>"""


def style() -> None:
    """The run view's CSS, once per page."""
    st.html(RUN_CSS)


CURVE_KEYS = ("elbo", "recon", "kl")  # the history's terms, one panel each, top to bottom


def curve_lines(history) -> list[dict]:
    """The history as the charts' lines, train then validation: {"name", "colour", "dashed", "x": epochs, "y": values per panel}.
    Validation: held-out digits of the same data set, never trained on, binarised once for image models."""
    lines = []
    for split, dashed, name in (("train", False, _("train")), ("val", True, _("validation"))):
        rows = [h for h in history if h["split"] == split]
        lines.append({
            "name": name, "colour": palette.CURVES[split], "dashed": dashed,
            "x": [h["epoch"] for h in rows], "y": [[h[key] for h in rows] for key in CURVE_KEYS],
        })  # fmt: skip
    return lines


def curve_titles() -> list[str]:
    return ["ELBO ↑", _("Reconstruction ↑"), "KL"]


def curves(history) -> go.Figure:
    """ELBO, reconstruction and KL against epochs, stacked (they share the epoch axis), train and validation; interactive."""
    fig = make_subplots(rows=len(CURVE_KEYS), cols=1, shared_xaxes=True, vertical_spacing=0.08, subplot_titles=curve_titles())
    for line in curve_lines(history):
        for row, values in enumerate(line["y"], start=1):
            fig.add_trace(
                go.Scatter(
                    x=line["x"],
                    y=values,
                    name=line["name"],
                    legendgroup=line["name"],
                    showlegend=row == 1,
                    line={"dash": "dot" if line["dashed"] else "solid", "color": line["colour"]},
                ),
                row=row,
                col=1,
            )
    fig.update_xaxes(title_text=_("epoch"), row=len(CURVE_KEYS), col=1)
    fig.update_yaxes(title_text=_("nats"), row=2, col=1)
    fig.update_layout(height=520, margin={"t": 30, "b": 10, "l": 10, "r": 10}, legend={"orientation": "h", "y": 1.1})
    return fig


def live_curves(history) -> str:
    """The same curves as a light SVG, redrawn at every refresh while training runs (see ui.plots)."""
    return stacked_lines_svg(
        curve_titles(),
        curve_lines(history),
        x_title=_("epoch"),
        label=_("Training curves: ELBO, reconstruction and KL by epoch, train and validation"),
        height=440 if presenter() else 500,  # on a projector the grid and the curves share one 1080-pixel screen, with room to spare
    )


STATUS = {  # a run's state -> what the visitor reads (translated where shown)
    RunState.TRAINING: N_("training"),
    RunState.PAUSED: N_("paused"),
    RunState.AWAY: N_("paused: no open tab was heard from (it resumes by itself)"),
    RunState.DONE: N_("done"),
    RunState.FAILED: N_("stopped"),
    RunState.LOST: N_("lost: the server's training process stopped"),
}
LOST_NOTE = N_(
    "Lost at step {step:,}: the server's training process stopped and a new one has started. The weights kept last are "
    "below to download; Resume trains on from them (a new run from those weights, so not identical to the one lost)."
)


def queue_line(snap, load: dict) -> str:
    """Where a queued run waits, given the training service's load (runs training, waiting, the limit)."""
    if snap.ahead:
        status = _("waiting for a free slot: {ahead} ahead of you ({training} training now, at most {limit} at once)")
    elif load["training"] < load["limit"]:  # a slot is free: a worker takes the run within moments (on a fresh server, once warm)
        status = _("starting")
    else:
        status = _("waiting for a free slot: next in line ({training} training now, at most {limit} at once)")
    return status.format(ahead=snap.ahead, training=load["training"], limit=load["limit"])


def status_line(run, snap, load: dict) -> str:
    """State, place in the queue or progress, speed and time left, each part a whole sentence joined by " · ".
    load: the training service's load (runs training, waiting, the limit)."""
    p = snap.progress
    epoch = (
        _("epoch {epoch:.1f} of {epochs:g}").format(epoch=p.epoch, epochs=run.epochs)
        if run.epochs
        else _("epoch {epoch:.1f}").format(epoch=p.epoch)
    )
    if snap.state == RunState.QUEUED:  # where it waits, and how far it got before (time-slicing: a run waits between its turns)
        status = queue_line(snap, load)
        return f"{status} · {epoch}" if p.step else status
    parts = [_(STATUS[snap.state]), epoch, _("{speed:,.0f} digits/s").format(speed=p.samples_per_sec)]
    if p.eta is not None and snap.active and p.step:
        parts.append(_("about {duration} left").format(duration=readable.duration(p.eta)))
    return " · ".join(parts)


@st.cache_data(max_entries=16, show_spinner=False)
def grid_png(run_id: str, version: int, _grid) -> bytes:
    """A grid's PNG, encoded once per version of the weights (the view refreshes more often than that)."""
    return digits_png(_grid, ncol=GRID_STYLES, scale=2)


def number(value: float) -> str:
    return f"{value:.1f}"


def live_summary(region: str, said: tuple[str, dict] | None, final: bool) -> None:
    """A chart's sentence (ui.summaries) in an ARIA live region: the same element from one rerun to the next, its text
    changed at most every ANNOUNCE_EVERY seconds (a screen reader reads each change), and at the run's end. Kept as
    template and fields, so that it is said in the language of the moment."""
    if said is None:
        return
    shown = summaries.to_announce(state.live_summary(region), said, time.monotonic(), final)
    state.note_live_summary(region, shown)
    template, fields = shown[0]
    sentence = translated(template, fields, template.format(**fields))
    st.markdown(f'<p class="live-summary" aria-live="polite" aria-atomic="true">{escape(sentence)}</p>', unsafe_allow_html=True)


def bound_identity(card, terms: dict) -> str:
    """The bound's numbers as an equation in LaTeX: the ELBO = each term's value, with the term it is under each."""
    parts = []
    for i, (_key, latex, sign, value) in enumerate(card.bound_terms(terms)):
        operator = ("" if sign > 0 else "-") if i == 0 else (r"\;+\;" if sign > 0 else r"\;-\;")
        shown = number(value) if value >= 0 or i == 0 and sign > 0 else f"({number(value)})"
        parts.append(rf"{operator}\underbrace{{{shown}}}_{{{latex}}}")
    return rf"\text{{ELBO}} = {number(terms['elbo'])} = " + "".join(parts)


def collapse_note(active: int, dims: int, beta: float) -> str:
    """What the active-unit count means for what the visitor sees, from the measured count and the run's β."""
    if active == 0:
        return _(
            "**Posterior collapse** (β = {beta:g}): no dimension carries anything about the digit beyond its label. Samples of one "
            "label all look alike (Generate's dials do nothing) and reconstructions blur toward the label's average."
        ).format(beta=beta)
    if 4 * active <= dims or (beta > 1 and 2 * active <= dims):  # few left, or half gone under a squeezing beta
        return _(
            "**Collapsing** (β = {beta:g}): only {active} of {dims} dimensions still carry the digit's style. Fewer of Generate's dials "
            "change anything, and reconstructions lose detail."
        ).format(beta=beta, active=active, dims=dims)
    return _(
        "**In use** (β = {beta:g}): {active} of {dims} dimensions carry the digit's style, so Generate's dials change the digit. "
        "A larger β squeezes them toward the prior."
    ).format(beta=beta, active=active, dims=dims)


def bound_view(run, snap) -> None:
    """The run's bound as its paper writes it, each term's value of the last slice under it, and the KL split over
    the latent dimensions with the active units counted (the snapshot's latent figures)."""
    card, terms = CARDS[run.variant], snap.progress.terms
    if not card.bound_terms(terms):
        return
    formula, bars = st.columns([3, 2]) if snap.latent else (st.container(), None)
    with formula:
        st.markdown("**" + _("The bound, term by term") + "**")
        st.latex(card.elbo_latex)
        st.latex(bound_identity(card, terms))
        for key, latex in card.extra_terms:
            st.latex(rf"{latex} = {number(terms[key])}")
        st.caption(
            _(
                "Nats per digit, averaged over the last slice of training digits. The terms under the braces add up to the ELBO, "
                "the lower bound on the log-likelihood that training raises: the reconstruction says how well the decoder redraws "
                "a digit from its code, the KL how much the code says about the digit."
            )
            + (
                " " + _("The classification term is trained beside the bound, weighted by α, and is not part of it.")
                if card.extra_terms
                else ""
            )
        )
    if bars is None:
        return
    latent = snap.latent
    kl = latent["kl_per_dim"]
    active = [v > 0.01 for v in latent["variance"]]  # Burda et al.'s criterion, as counted in the snapshot
    with bars:
        st.metric(
            _("Active units"), f"{latent['active_units']} / {len(kl)}",
            help=_("Dimensions whose code varies from digit to digit (Burda et al. 2016: Cov over digits of E[z_d] > 0.01)."),
        )  # fmt: skip
        names = [f"z{d + 1}" for d in range(len(kl))]
        label = _("KL per latent dimension, nats per digit")
        st.markdown(bars_svg(kl, active, names, _("nats"), label), unsafe_allow_html=True)
        live_summary(f"{run.id}:latent", summaries.latent_sentence(kl, latent["active_units"]), final=not snap.active)
        st.markdown(collapse_note(latent["active_units"], len(kl), snap.summary.get("beta", 1.0)))
        st.caption(
            _(
                "Each bar is the KL one latent dimension carries, on {n} validation digits; together they make the KL. "
                "Blue dimensions are active: their code changes with the digit. Grey ones have collapsed to the prior and carry nothing."
            ).format(n=latent["digits"])
        )


# One fragment draws the whole live view, and while this session has runs that want to train it also
# says that the tab is open (the sidebar's heartbeat is off on this page): one rerun per refresh, not
# three, because every rerun costs the browser its own round of drawing.


def show_run(run, snap, load: dict) -> None:
    """A run as its snapshot has it: state and progress, the latest loss terms, the sample grid, the curves, and the
    bound term by term with the KL per dimension. Read only: the owner's Train page and a follower's page both draw
    this, and nothing here changes the run."""
    p = snap.progress
    st.progress(p.fraction, text=status_line(run, snap, load))
    if not presenter():  # on a projector the curves say it: the grid and the curves fit on one screen without these
        m1, m2, m3, m4 = st.container(key="train-figures").columns(4)  # key: PAGE_CSS
        m1.metric(
            _("ELBO (train)"),
            f"{p.terms.get('elbo', float('nan')):.1f}",
            help=_("Nats per digit, averaged over the last slice. Higher is better."),
        )
        m2.metric(
            _("Reconstruction"),
            f"{p.terms.get('recon', float('nan')):.1f}",
            help=_("log p(x|z,…): how well the decoder redraws the digit."),
        )
        m3.metric("KL", f"{p.terms.get('kl', float('nan')):.1f}", help=_("KL(q(z|x,…) ‖ prior): nats the code z carries."))
        m4.metric(
            _("Training time"), readable.duration(p.elapsed), help=_("Time spent on training steps (waiting in the queue not counted).")
        )
    grid_column, curves_column = st.columns([2, 3])
    with grid_column:
        if snap.grid is not None:
            what = _("One row per label, the same noise in every row") if run.uses_label else _("Samples from p(z) (no label)")
            when = _("weights of step {step:,} ({duration} of training)").format(
                step=snap.drawn_at[0], duration=readable.duration(snap.drawn_at[1])
            )
            st.image(
                grid_png(run.id, snap.version, snap.grid),
                caption=f"{what} · {when}",
                width=480 if presenter() else "content",
                output_format="PNG",
                alt=_("Samples of the {variant} model being trained: {what}, {when}.").format(variant=run.variant, what=what, when=when),
            )
        elif not run.makes_images:
            st.info(_("cvae3 predicts labels from images, so there is nothing to draw; watch its ELBO (log p(y|x)) rise instead."))
        else:
            st.caption(_("The first samples appear after the first fraction of a second of training."))
    with curves_column:
        if snap.history and snap.active:
            st.markdown(live_curves(snap.history), unsafe_allow_html=True)  # inline SVG: the page's font and colours
        elif snap.history:  # stopped: the same curves, interactive (hover for values, zoom)
            st.plotly_chart(curves(snap.history), width="stretch", key="curves")
        live_summary(f"{run.id}:curves", summaries.curves_sentence(snap.history), final=not snap.active)
    with st.container(key="train-bound"):
        bound_view(run, snap)
