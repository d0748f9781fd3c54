"""`cvae2`: the common label-conditioned VAE, prior N(0, I).

Graphical model: z -> x <- y, with z independent of y.
p(z) = N(0, I); p(x|z,y) Bernoulli decoder; q(z|x,y) Gaussian encoder. z is meant to hold
the style (slant, thickness) and y the identity, so one z drawn in every label gives the
same handwriting for each digit.
"""

from ..nets import image_decoder, image_encoder
from .base import CVAEModel


class CVAE2(CVAEModel):
    name = "cvae2"

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.encoder = image_encoder(c.arch, c.n_classes, c.hidden, c.layers, 2 * c.latent_dim)  # q(z|x,y)
        self.decoder = image_decoder(c.arch, c.latent_dim, c.n_classes, c.hidden, c.layers)  # p(x|z,y)
