"""`cvae1`: the straightforward conditional VAE with a learned prior.

Graphical model: y -> z -> x and y -> x.
p(z|y) = N(mu_y, diag sigma_y^2), one learned Gaussian per label; p(x|z,y) Bernoulli decoder;
q(z|x,y) Gaussian encoder. The KL pulls q towards the label's own prior, so z need not
carry the label and the prior has no holes between classes.
"""

from torch import nn

from ..nets import image_decoder, image_encoder
from ..text import N_
from .base import CVAEModel


class CVAE1(CVAEModel):
    name = "cvae1"
    title = N_("CVAE-1 (learned prior p(z|y))")
    has_label_prior = True
    good_for = N_("Drawing a chosen digit; each label gets its own region of latent space.")
    reference = N_("The conditional VAE with a label-dependent prior (Sohn et al. 2015, sec. 4)")
    graph_dot = """digraph { rankdir=LR; node [shape=circle];
  y [label="y", style=filled, fillcolor=lightgrey]; z [label="z"]; x [label="x", style=filled, fillcolor=lightgrey];
  y -> z [label="p(z|y)"]; z -> x [label="p(x|z,y)"]; y -> x; }"""
    elbo_latex = (
        r"\begin{aligned}\log p(x|y) \ge\; & \mathbb{E}_{q(z|x,y)}[\log p(x|z,y)] \\ & - \mathrm{KL}(q(z|x,y)\,\|\,p(z|y))\end{aligned}"
    )

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.encoder = image_encoder(c.arch, c.n_classes, c.hidden, c.layers, 2 * c.latent_dim)  # q(z|x,y)
        self.prior_net = nn.Linear(c.n_classes, 2 * c.latent_dim)  # p(z|y): a Gaussian per label
        nn.init.zeros_(self.prior_net.weight)
        nn.init.zeros_(self.prior_net.bias)  # starts as N(0, I)
        self.decoder = image_decoder(c.arch, c.latent_dim, c.n_classes, c.hidden, c.layers)  # p(x|z,y)

    def prior(self, x, y1h):
        return self.prior_net(y1h).chunk(2, -1)
