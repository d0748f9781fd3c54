"""`cvae2`: the common label-conditioned VAE, prior N(0, I).

Graphical model: z -> x <- y, with z independent of y.
p(z) = N(0, I); p(x|z,y) Bernoulli decoder; q(z|x,y) Gaussian encoder. z is meant to hold
the style (slant, thickness) and y the identity, so one z drawn in every label gives the
same handwriting for each digit.
"""

from ..nets import image_decoder, image_encoder
from ..text import N_
from .base import CVAEModel


class CVAE2(CVAEModel):
    name = "cvae2"
    title = N_("CVAE-2 (prior N(0, I))")
    good_for = N_("Separating style from identity: one z, ten digits in the same hand.")
    reference = N_("The label-conditioned VAE (Kingma et al. 2014, Sohn et al. 2015)")
    graph_dot = """digraph { rankdir=LR; node [shape=circle];
  y [label="y", style=filled, fillcolor=lightgrey]; z [label="z"]; x [label="x", style=filled, fillcolor=lightgrey];
  z -> x [label="p(x|z,y)"]; y -> x; }"""
    elbo_latex = r"\begin{aligned}\log p(x|y) \ge\; & \mathbb{E}_{q(z|x,y)}[\log p(x|z,y)] \\ & - \mathrm{KL}(q(z|x,y)\,\|\,\mathcal{N}(0,I))\end{aligned}"

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.encoder = image_encoder(c.arch, c.n_classes, c.hidden, c.layers, 2 * c.latent_dim)  # q(z|x,y)
        self.decoder = image_decoder(c.arch, c.latent_dim, c.n_classes, c.hidden, c.layers)  # p(x|z,y)
