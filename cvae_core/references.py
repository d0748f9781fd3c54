"""Published figures that the app and RESULTS.md set beside ours, each with what makes it comparable or not:
its protocol, its estimator and how many digits it was trained on. A figure is only set beside one of ours measured
the same way; the others are shown for orientation, labelled as such."""

from dataclasses import dataclass

from .text import N_


@dataclass(frozen=True)
class Reference:
    source: str  # who, where
    quantity: str  # what the figure is
    value: float
    protocol: str  # the data the figure is on
    estimator: str  # how it was computed
    train_digits: str  # how much they trained on
    verified: bool = True  # read from a copy of the source (False: recalled, to be checked against the paper)


LIKELIHOOD = (
    Reference(
        N_("Burda, Grosse & Salakhutdinov 2016, VAE (one stochastic layer), table 1"), "log p(x)", -86.76,
        N_("dynamically binarised MNIST; test split binarised"), N_("importance-weighted bound, k = 5,000"), N_("60,000 digits"),
    ),
)  # fmt: skip

SEMI_SUPERVISED = (  # test accuracy with 100 labels
    Reference(
        N_("Kingma et al. 2014, M2, table 1"), N_("test accuracy, 100 labels"), 1 - 0.1197,
        N_("binarised MNIST"), N_("q(y|x), mean over label draws"), N_("50,000 digits (100 labelled), 10,000 for validation"),
    ),
    Reference(
        N_("Kingma et al. 2014, M1+M2, table 1"), N_("test accuracy, 100 labels"), 1 - 0.0333,
        N_("binarised MNIST"), N_("q(y|z1), mean over label draws"), N_("50,000 digits (100 labelled), 10,000 for validation"),
    ),
    Reference(
        N_("Pyro's SS-VAE example"), N_("test accuracy, 100 labels"), 0.932,
        N_("grey MNIST"), N_("q(y|x)"), N_("60,000 digits (100 labelled)"),
    ),
    Reference(
        N_("Pyro's SS-VAE example, baseline"), N_("test accuracy, 100 labels"), 0.771,
        N_("grey MNIST"), N_("a classifier on the 100 labels"), N_("100 digits"),
    ),
)  # fmt: skip

# Pyro's examples/cvae (1, 2, 3 quadrants shown): its NN's negative log-likelihood of the hidden pixels, and its
# CVAE's 10-sample negative ELBO -- a bound, not an importance-sampled estimate -- on grey pixels, 60,000 digits.
PYRO_QUADRANTS = {"nn": (100.4, 61.9, 25.4), "cvae": (71.8, 51.0, 24.2)}
PYRO_QUADRANTS_LABEL = N_("Pyro's examples/cvae: NN and a 10-sample negative ELBO of its CVAE, grey pixels, 60,000 digits")
# Sohn, Lee & Yan 2015 report their quadrant table (their table 1) with MC and IS estimates; their figures are not
# reproduced here, since no copy of the paper could be read where this project was built.
SOHN_QUADRANTS_NOTE = N_("Sohn et al. 2015's own quadrant table (MC and IS estimates): unverified here, not shown")
