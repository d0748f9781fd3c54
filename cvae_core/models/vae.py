"""`vae`: the unconditional baseline (Kingma & Welling 2013).

Graphical model: z -> x.  p(z) = N(0, I), p(x|z) Bernoulli decoder, q(z|x) Gaussian encoder.
"""

from ..nets import image_decoder, image_encoder
from ..text import N_
from .base import CVAEModel


class VAE(CVAEModel):
    name = "vae"
    title = N_("VAE (unconditional baseline)")
    good_for = N_("The baseline: learns all digits at once, but you cannot ask it for a particular one.")
    reference = N_("Kingma & Welling, Auto-Encoding Variational Bayes, 2013")
    graph_dot = """digraph { rankdir=LR; node [shape=circle];
  z [label="z"]; x [label="x", style=filled, fillcolor=lightgrey];
  z -> x [label="p(x|z)"]; x -> z [style=dashed, label="q(z|x)"]; }"""
    elbo_latex = (
        r"\begin{aligned}\log p(x) \ge\; & \mathbb{E}_{q(z|x)}[\log p(x|z)] \\ & - \mathrm{KL}(q(z|x)\,\|\,\mathcal{N}(0,I))\end{aligned}"
    )
    uses_label = False

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.encoder = image_encoder(c.arch, 0, c.hidden, c.layers, 2 * c.latent_dim)  # q(z|x)
        self.decoder = image_decoder(c.arch, c.latent_dim, 0, c.hidden, c.layers)  # p(x|z)

    def posterior(self, x, y1h):
        return self.encoder(x).chunk(2, -1)

    def decode(self, z, y1h):
        return self.decoder(z)
