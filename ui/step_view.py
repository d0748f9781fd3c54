"""One training step, slowly: each stage of a cvae_core.stepper.Step drawn, with what its numbers mean.

Matrices are heatmaps (one row per digit), digits are digits, per-digit terms and per-layer norms are bars: nothing
is printed as a table of numbers. Each stage names its tensors' shapes."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from cvae_core.stepper import STAGES

from .frame import show_digits
from .i18n import N_, _

QUIET = {"displayModeBar": False}  # small charts: the toolbar would cover their titles on a phone
TITLES = {
    "input": N_("1. The digits x"),
    "posterior": N_("2. The recognition network: μ and σ"),
    "noise": N_("3. The noise ε"),
    "latent": N_("4. The code z = μ + σ·ε"),
    "decoded": N_("5. The decoder's means p(x|z, …)"),
    "loss": N_("6. Each term of the loss"),
    "gradients": N_("7. Each layer's gradient"),
    "update": N_("8. The weights move"),
    "after": N_("9. The same digits after the step"),
}
CAPTIONS = {
    "input": N_("A minibatch of {n} training digits, each pixel drawn once as 0 or 1 (the training protocol). Shape: x is {n} × 784."),
    "posterior": N_(
        "The recognition network q(z|x, …) reads each digit and answers with a Gaussian: a mean μ and a standard deviation σ for each "
        "of the {k} latent dimensions. Shapes: {n} × {k} each; one row per digit."
    ),
    "noise": N_(
        "ε is drawn once from N(0, I) and kept: the step after uses the same draw, so before and after compare the same thing. "
        "Shape: {n} × {k}."
    ),
    "latent": N_(
        "The reparameterisation trick: z = μ + σ·ε is a sample from q(z|x, …) through which gradients flow back to μ and σ. "
        "Shape: {n} × {k}."
    ),
    "decoded": N_("The decoder turns each z into the probability of every pixel being ink: what the model would redraw. Shape: {n} × 784."),
    "loss": N_(
        "For each digit, the reconstruction log p(x|z, …) (how likely the real pixels are under those means) and the KL of q from the "
        "prior (what the code costs). The loss is minus their balance, averaged over the digits: {loss:.1f} nats."
    ),
    "gradients": N_(
        "Back-propagation gives every weight the slope of the loss; each bar is the size (L2 norm) of one layer's slope, its "
        "weights or its biases."
    ),
    "update": N_("Every weight moves against its slope: w ← w − {lr:g} × ∂loss/∂w. Each bar is how far one layer's weights moved."),
    "after": N_(
        "The same digits with the same ε through the new weights: the loss went from {before:.2f} to {after:.2f} nats. A learning rate "
        "that is too large overshoots, and the loss rises instead."
    ),
}


def heatmap(matrix: np.ndarray, title: str, colorscale: str = "RdBu", symmetric: bool = True) -> go.Figure:
    """A (digits × dimensions) matrix, one row per digit."""
    bound = float(np.abs(matrix).max()) or 1.0
    fig = go.Figure(
        go.Heatmap(
            z=matrix, x=[f"z{d + 1}" for d in range(matrix.shape[1])], y=[_("digit {i}").format(i=i + 1) for i in range(matrix.shape[0])],
            colorscale=colorscale, zmid=0 if symmetric else None, zmin=-bound if symmetric else 0, zmax=bound,
        )
    )  # fmt: skip
    fig.update_layout(title=title, height=300, margin={"t": 40, "b": 10, "l": 10, "r": 10})
    fig.update_yaxes(autorange="reversed")
    return fig


def bars(names: list[str], groups: dict[str, list[float]], title: str, horizontal: bool = False) -> go.Figure:
    fig = go.Figure()
    for name, values in groups.items():
        fig.add_trace(go.Bar(y=names, x=values, name=name, orientation="h") if horizontal else go.Bar(x=names, y=values, name=name))
    fig.update_layout(title=title, barmode="group", height=max(300, 22 * len(names)) if horizontal else 320, margin={"t": 40, "b": 10})
    return fig


def show(step, stage: str) -> None:
    """Draw one stage of the step, with its title and caption."""
    n, k = step.mu.shape
    st.markdown(f"**{_(TITLES[stage])}**")
    digits = [_("digit {i}").format(i=i + 1) for i in range(n)]
    if stage == "input":
        labels = ", ".join(str(int(v)) for v in step.labels)
        show_digits(
            step.x, ncol=n, scale=3, caption=_("labels: {labels}").format(labels=labels),
            alt=_("The {n} training digits of this step, labels {labels}.").format(n=n, labels=labels),
        )  # fmt: skip
    elif stage == "posterior":
        left, right = st.columns(2)
        left.plotly_chart(heatmap(step.mu, "μ"), config=QUIET, width="stretch", key="step-mu")
        right.plotly_chart(heatmap(step.sigma, "σ", colorscale="Blues", symmetric=False), config=QUIET, width="stretch", key="step-sigma")
    elif stage == "noise":
        st.plotly_chart(heatmap(step.eps, "ε"), config=QUIET, width="stretch", key="step-eps")
    elif stage == "latent":
        st.plotly_chart(heatmap(step.z, "z"), config=QUIET, width="stretch", key="step-z")
    elif stage == "decoded":
        if step.decoded is not None:
            show_digits(step.decoded, ncol=n, scale=3, alt=_("What the decoder draws from the {n} codes z, digit by digit.").format(n=n))
    elif stage == "loss":
        fig = bars(digits, {_("reconstruction"): list(step.terms["recon"]), _("− KL"): list(-step.terms["kl"])}, _("nats per digit"))
        st.plotly_chart(fig, config=QUIET, width="stretch", key="step-loss")
    elif stage in ("gradients", "update"):
        norms = step.gradient_norms if stage == "gradients" else step.update_norms
        title = _("gradient norm per layer") if stage == "gradients" else _("how far each layer's weights moved")
        st.plotly_chart(
            bars(list(norms), {title: list(norms.values())}, title, horizontal=True), config=QUIET, width="stretch", key=f"step-{stage}"
        )
    elif stage == "after":
        change = {_("ELBO after − ELBO before"): list(step.terms_after["elbo"] - step.terms["elbo"])}
        st.plotly_chart(
            bars(digits, change, _("each digit's change, nats (above 0: better)")), config=QUIET, width="stretch", key="step-after"
        )
    st.caption(_(CAPTIONS[stage]).format(n=n, k=k, loss=step.loss, lr=step.lr, before=step.loss, after=step.loss_after))


__all__ = ["STAGES", "TITLES", "show"]
