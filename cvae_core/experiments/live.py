"""Experiments retrained live, as jobs of the training service: what a visitor may choose, checked before anything is
spent."""

from ..data import OFFLINE, load_dataset, test_digits
from ..errors import ConfigError
from ..text import N_
from ..training.stages import PlanRun
from .quadrants import quadrants_plan
from .semisupervised import semisupervised_plan

# ---- retrained live, as jobs of the training service --------------------------------------------
# What a visitor may retrain on the Experiments page: each setting's choices (in order, for a slider) and its default.
# A spec comes from a stranger's page, so it is checked against these choices before anything is spent.
LIVE_EXPERIMENTS = {
    # at most 2,000 test digits: scoring (MC and IS) runs inside one slice of the service, which Stop cannot cut short
    "quadrants": {"given": ((1, 2, 3), 1), "epochs": ((2, 5, 10, 20, 30, 100), 5), "test_digits": ((500, 1000, 2000), 1000)},
    "semisupervised": {"labels": ((100, 600, 1000, 3000), 100), "model": (("M2", "M1+M2"), "M2"), "epochs": ((2, 5, 10, 20, 50, 150), 5)},
}
LIVE_SAMPLES = 50  # MC and IS samples per digit of a live quadrant run's scores (the shipped runs used 100)


def live_plan(spec: dict, load=load_dataset) -> PlanRun:
    """A live retrain of an experiment, from a page's spec ({"experiment": ..., and LIVE_EXPERIMENTS' settings}), as a
    job for the training service; raises ConfigError for a spec outside the choices. load(name, split) gives the data."""
    kind = spec.get("experiment") if isinstance(spec, dict) else None
    if kind not in LIVE_EXPERIMENTS:
        raise ConfigError(N_("unknown experiment {experiment}"), experiment=repr(kind)[:40])
    choices = LIVE_EXPERIMENTS[kind]
    settings = {}
    for name, (options, default) in choices.items():
        value = spec.get(name, default)
        if value not in options or type(value) is not type(default):
            raise ConfigError(N_("{setting} must be one of {options}"), setting=name, options=", ".join(map(str, options)))
        settings[name] = value
    train, validation = load(OFFLINE, "train"), load(OFFLINE, "val")
    test = test_digits()
    if kind == "quadrants":
        scored = test.binarized_once().subset(settings["test_digits"]).copy()  # its own tensor: not a view of all 10,000
        plan = quadrants_plan(settings["given"], train, scored, epochs=settings["epochs"],
                              samples=LIVE_SAMPLES, validation=validation)  # fmt: skip
        return PlanRun(plan, kind, final_model=lambda result: result.cvaes[result.best])
    m1_latent = 50 if settings["model"] == "M1+M2" else 0
    plan = semisupervised_plan(settings["labels"], train, test, epochs=settings["epochs"], m1_latent=m1_latent, m1_epochs=settings["epochs"],
                               validation=validation)  # fmt: skip
    return PlanRun(plan, kind, final_model=lambda result: result["model_object"])
