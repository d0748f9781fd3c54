"""`cvae4`: the conditional multimodal autoencoder, CMMA (Pandey & Dukkipati 2016).

Graphical model: y -> z -> x, a chain: the decoder p(x|z) never sees y.
p(z|y) = N(mu_y, diag sigma_y^2) learned; p(x|z) Bernoulli decoder; q(z|x,y) Gaussian encoder.
All that the image knows of its label must pass through z, so moving z alone can change
the digit, which the other conditional variants cannot do.
"""

from torch import nn

from ..capabilities import Capabilities
from ..nets import image_decoder, image_encoder
from ..text import N_
from .base import CVAEModel


class CVAE4(CVAEModel):
    name = "cvae4"
    CAPABILITIES = Capabilities(has_label_prior=True)
    dials_note = N_(
        "**cvae4 (y → z → x)**: the decoder never sees y. Changing the label moves z to another label's region of latent space "
        "(the prior p(z|y)), and that is what changes the digit; with the label fixed, the dials alone can still turn one digit into another."
    )

    def __init__(self, config):
        super().__init__(config)
        c = config
        self.encoder = image_encoder(c.arch, c.n_classes, c.hidden, c.layers, 2 * c.latent_dim)  # q(z|x,y)
        self.prior_net = nn.Linear(c.n_classes, 2 * c.latent_dim)  # p(z|y)
        if not self.prior_net.weight.is_meta:  # a checkpoint's shape check builds on `meta`: no values to draw there
            nn.init.normal_(self.prior_net.weight[: c.latent_dim], std=1.0)  # spread the label means apart
        nn.init.zeros_(self.prior_net.weight[c.latent_dim :])
        nn.init.zeros_(self.prior_net.bias)
        self.decoder = image_decoder(c.arch, c.latent_dim, 0, c.hidden, c.layers)  # p(x|z): no y

    def prior(self, x, y1h):
        return self.prior_net(y1h).chunk(2, -1)

    def decode(self, z, y1h=None):
        return self.decoder(z)
