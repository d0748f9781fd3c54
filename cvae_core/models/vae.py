"""`vae`: the unconditional baseline (Kingma & Welling 2013).

Graphical model: z -> x.  p(z) = N(0, I), p(x|z) Bernoulli decoder, q(z|x) Gaussian encoder.
"""

from ..capabilities import Capabilities
from ..nets import image_decoder, image_encoder
from .base import CVAEModel


class VAE(CVAEModel):
    name = "vae"
    CAPABILITIES = Capabilities(uses_label=False)

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.encoder = image_encoder(c.arch, 0, c.hidden, c.layers, 2 * c.latent_dim)  # q(z|x)
        self.decoder = image_decoder(c.arch, c.latent_dim, 0, c.hidden, c.layers)  # p(x|z)

    def posterior(self, x, y1h):
        return self.encoder(x).chunk(2, -1)

    def decode(self, z, y1h):
        return self.decoder(z)
