"""What each variant is, for a reader: its title, what it is good for, the paper it comes from, its graphical
model (Graphviz DOT) and the bound it maximises (LaTeX).

Apart from the networks (cvae_core/models), because this module imports no torch: the home page draws the
variants while torch is still loading. Each network class carries its card (CVAEModel.card)."""

from dataclasses import dataclass

from .text import N_


@dataclass(frozen=True)
class Card:
    title: str
    good_for: str
    reference: str  # the paper, cited as published
    graph_dot: str  # grey circles observed, white latent; solid arrows generative, dashed the inference network
    elbo_latex: str
    # The bound's terms as training reports them (Trainer progress terms), in the order written: (key, the term in
    # LaTeX, its sign in the bound). They add up to the ELBO reported beside them (Card.bound_terms).
    terms: tuple[tuple[str, str, int], ...]
    # Reported beside the bound but not part of it (M2's classification loss, weighted by alpha).
    extra_terms: tuple[tuple[str, str], ...] = ()

    def bound_terms(self, reported: dict) -> list[tuple[str, str, int, float]]:
        """(key, LaTeX, sign, value) of each term in `reported` (a run's progress terms, nats per digit): the sum of
        sign x value over them is the ELBO the run reports. Empty until the run reports its terms."""
        if not all(key in reported for key, _, _ in self.terms):
            return []
        return [(key, latex, sign, float(reported[key])) for key, latex, sign in self.terms]


def _terms(recon: str, kl: str) -> tuple[tuple[str, str, int], ...]:
    return (("recon", recon, 1), ("kl", kl, -1))


CARDS: dict[str, Card] = {  # by variant name, in the order the app shows them
    "vae": Card(
        title=N_("VAE (unconditional baseline)"),
        good_for=N_("The baseline: learns all digits at once, but you cannot ask it for a particular one."),
        reference=N_("Kingma & Welling, Auto-Encoding Variational Bayes, 2013"),
        graph_dot="""digraph { rankdir=LR; node [shape=circle];
  z [label="z"]; x [label="x", style=filled, fillcolor=lightgrey];
  z -> x [label="p(x|z)"]; x -> z [style=dashed, label="q(z|x)"]; }""",
        elbo_latex=(
            r"\begin{aligned}\log p(x) \ge\; & \mathbb{E}_{q(z|x)}[\log p(x|z)] \\ & - \mathrm{KL}(q(z|x)\,\|\,\mathcal{N}(0,I))\end{aligned}"
        ),
        terms=_terms(r"\mathbb{E}_{q(z|x)}[\log p(x|z)]", r"\mathrm{KL}(q(z|x)\,\|\,\mathcal{N}(0,I))"),
    ),
    "cvae1": Card(
        title=N_("CVAE-1 (learned prior p(z|y))"),
        good_for=N_("Drawing a chosen digit; each label gets its own region of latent space."),
        reference=N_("The conditional VAE with a label-dependent prior (Sohn et al. 2015, sec. 4)"),
        graph_dot="""digraph { rankdir=LR; node [shape=circle];
  y [label="y", style=filled, fillcolor=lightgrey]; z [label="z"]; x [label="x", style=filled, fillcolor=lightgrey];
  y -> z [label="p(z|y)"]; z -> x [label="p(x|z,y)"]; y -> x; }""",
        elbo_latex=(
            r"\begin{aligned}\log p(x|y) \ge\; & \mathbb{E}_{q(z|x,y)}[\log p(x|z,y)] \\ & - \mathrm{KL}(q(z|x,y)\,\|\,p(z|y))\end{aligned}"
        ),
        terms=_terms(r"\mathbb{E}_{q(z|x,y)}[\log p(x|z,y)]", r"\mathrm{KL}(q(z|x,y)\,\|\,p(z|y))"),
    ),
    "cvae2": Card(
        title=N_("CVAE-2 (prior N(0, I))"),
        good_for=N_("Separating style from identity: one z, ten digits in the same hand."),
        reference=N_("The label-conditioned VAE (Kingma et al. 2014, Sohn et al. 2015)"),
        graph_dot="""digraph { rankdir=LR; node [shape=circle];
  y [label="y", style=filled, fillcolor=lightgrey]; z [label="z"]; x [label="x", style=filled, fillcolor=lightgrey];
  z -> x [label="p(x|z,y)"]; y -> x; }""",
        elbo_latex=r"\begin{aligned}\log p(x|y) \ge\; & \mathbb{E}_{q(z|x,y)}[\log p(x|z,y)] \\ & - \mathrm{KL}(q(z|x,y)\,\|\,\mathcal{N}(0,I))\end{aligned}",
        terms=_terms(r"\mathbb{E}_{q(z|x,y)}[\log p(x|z,y)]", r"\mathrm{KL}(q(z|x,y)\,\|\,\mathcal{N}(0,I))"),
    ),
    "cvae3": Card(
        title=N_("CVAE-3 (Sohn: predicts y from x)"),
        good_for=N_("Prediction with uncertainty: a classifier, and several plausible completions of a half-hidden digit."),
        reference=N_("Sohn, Lee & Yan, Learning structured output representation using deep conditional generative models, NIPS 2015"),
        graph_dot="""digraph { rankdir=LR; node [shape=circle];
  x [label="x", style=filled, fillcolor=lightgrey]; z [label="z"]; y [label="y", style=filled, fillcolor=lightgrey];
  x -> z [label="p(z|x)"]; z -> y [label="p(y|x,z)"]; x -> y; }""",
        elbo_latex=(
            r"\begin{aligned}\log p(y|x) \ge\; & \mathbb{E}_{q(z|x,y)}[\log p(y|x,z)] \\ & - \mathrm{KL}(q(z|x,y)\,\|\,p(z|x))\end{aligned}"
        ),
        terms=_terms(r"\mathbb{E}_{q(z|x,y)}[\log p(y|x,z)]", r"\mathrm{KL}(q(z|x,y)\,\|\,p(z|x))"),
    ),
    "cvae4": Card(
        title=N_("CVAE-4 (CMMA: y -> z -> x)"),
        good_for=N_("A single latent space for all digits, organised by label through p(z|y)."),
        reference=N_("Pandey & Dukkipati, Variational methods for conditional multimodal deep learning, 2016"),
        graph_dot="""digraph { rankdir=LR; node [shape=circle];
  y [label="y", style=filled, fillcolor=lightgrey]; z [label="z"]; x [label="x", style=filled, fillcolor=lightgrey];
  y -> z [label="p(z|y)"]; z -> x [label="p(x|z)"]; }""",
        elbo_latex=(
            r"\begin{aligned}\log p(x|y) \ge\; & \mathbb{E}_{q(z|x,y)}[\log p(x|z)] \\ & - \mathrm{KL}(q(z|x,y)\,\|\,p(z|y))\end{aligned}"
        ),
        terms=_terms(r"\mathbb{E}_{q(z|x,y)}[\log p(x|z)]", r"\mathrm{KL}(q(z|x,y)\,\|\,p(z|y))"),
    ),
    "m2": Card(
        title=N_("M2 (semi-supervised, Kingma et al. 2014)"),
        good_for=N_("Learning from a handful of labels: a classifier and a conditional generator from 100 labelled digits."),
        reference=N_("Kingma, Rezende, Mohamed & Welling, Semi-supervised learning with deep generative models, NIPS 2014"),
        graph_dot="""digraph { rankdir=LR; node [shape=circle];
  y [label="y", style=filled, fillcolor=grey90]; z [label="z"]; x [label="x", style=filled, fillcolor=lightgrey];
  y -> x [label="p(x|y,z)"]; z -> x; x -> y [style=dashed, label="q(y|x)"]; }""",
        elbo_latex=(  # the unlabelled digits' bound written out, a line a term: the home page's cards are narrow
            r"\begin{aligned}\mathcal{J}^\alpha = & \textstyle\sum_{(x,y)} \mathcal{L}(x,y) \\ & + \textstyle\sum_{x} \sum_y q(y|x)\,\mathcal{L}(x,y)"
            r" \\ & + \textstyle\sum_{x} \mathcal{H}(q(y|x)) \\ & + \alpha\, \mathbb{E}[\log q(y|x)]\end{aligned}"
        ),
        # weighted over each digit's labels: 1 for its true label, q(y|x) for each label when unlabelled (eq. 7)
        terms=(
            ("recon", r"\mathbb{E}[\log p(x|y,z)]", 1),
            ("kl", r"\mathrm{KL}(q(z|x,y)\,\|\,\mathcal{N}(0,I))", -1),
            ("log_py", r"\log p(y)", 1),
            ("entropy", r"\mathcal{H}(q(y|x))", 1),
        ),
        extra_terms=(("classification", r"-\alpha\,\mathbb{E}[\log q(y|x)]"),),
    ),
}
