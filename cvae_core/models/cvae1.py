"""`cvae1`: the straightforward conditional VAE with a learned prior.

Graphical model: y -> z -> x and y -> x.
p(z|y) = N(mu_y, diag sigma_y^2), one learned Gaussian per label; p(x|z,y) Bernoulli decoder;
q(z|x,y) Gaussian encoder. The KL pulls q towards the label's own prior, so z need not
carry the label and the prior has no holes between classes.
"""

from torch import nn

from ..capabilities import Capabilities
from ..nets import image_decoder, image_encoder
from .base import CVAEModel


class CVAE1(CVAEModel):
    name = "cvae1"
    CAPABILITIES = Capabilities(has_label_prior=True)

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
