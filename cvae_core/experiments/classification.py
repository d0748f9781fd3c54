"""cvae3 as a classifier (Sohn et al. 2015): y the label, against a plain classifier with the same layers."""

from ..data import Dataset
from ..metrics import accuracy, mcnemar, predict
from ..models import build_model, model_config
from ..training.defaults import EXPERIMENTS
from ..training.engine import TrainConfig
from .common import PlainClassifier, train_selecting, train_to_end


# ---- cvae3 as a classifier ----------------------------------------------------------------------
def classification(
    train: Dataset,
    test: Dataset,
    epochs: float = EXPERIMENTS["classification"]["epochs"],
    seed: int = 0,
    hidden: int = 512,
    arch: str = "mlp",
    shift_pixels: int = 1,
    progress=None,
    validation: Dataset | None = None,
) -> dict:
    """Sohn's cvae3 with y = the label, predicting with z = the mean of p(z|x), against a plain
    classifier with the same layers, trained on the same digits with the same schedule. With validation digits,
    each network keeps the weights of its epoch with the best validation accuracy."""
    config = TrainConfig(**{**EXPERIMENTS["classification"], "epochs": epochs, "seed": seed, "shift_pixels": shift_pixels})
    makers = {
        "baseline": lambda: PlainClassifier(hidden, arch=arch),
        "cvae3": lambda: build_model(model_config(variant="cvae3", target="label", arch=arch, hidden=hidden)),
    }
    shares = {"baseline": (0.0, 0.3), "cvae3": (0.3, 1.0)}
    nets, epochs_kept = {}, {}
    for name, make in makers.items():
        if validation is None:
            nets[name] = train_to_end(make, train, config, progress, shares[name])
        else:
            nets[name], picked = train_selecting(
                make, train, config, lambda m: 1 - accuracy(m.classify, validation), None, progress, shares[name]
            )
            epochs_kept[name] = picked["epoch"]
    right = {name: predict(net.classify, test.images) == test.labels for name, net in nets.items()}
    out = {
        "arch": arch,
        "epochs": epochs,
        "cvae3_accuracy": round(float(right["cvae3"].float().mean()), 4),
        "baseline_accuracy": round(float(right["baseline"].float().mean()), 4),
        "n": len(test),
        # paired over the same test digits: how many only cvae3 gets right, only the baseline, and McNemar's exact p
        "mcnemar": mcnemar(right["cvae3"], right["baseline"]),
    }
    if validation is not None:
        out.update({"selected_on": "validation", "epochs_kept": epochs_kept})
    return out
