"""A training run's recipe: the one place where settings become a model, its data and its schedule. The CLI's
`train`, the Train page (through the training process, which receives the recipe in its wire form) and bench/ all
build their runs here, so a run means the same thing from every door. The fidelity classifiers' recipe too
(`train_classifier`)."""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

from ..classifier import ClassifierConfig, DigitClassifier
from ..data import OFFLINE, Dataset, hide_labels, load_dataset, own_dataset
from ..errors import ConfigError
from ..models import VARIANTS, ModelConfig, build_model, model_config
from ..noise import initial_weights
from ..text import N_
from .defaults import CLASSIFIER, model_defaults, training_defaults
from .engine import TrainConfig, Trainer

MIN_STEPS_PER_EPOCH, MIN_BATCH = 8, 16


def capabilities(config: ModelConfig):
    """What a model of this configuration can do, before one is built."""
    return VARIANTS[config.variant].capabilities_for(config)


@dataclass(frozen=True)
class Recipe:
    model: ModelConfig
    train: TrainConfig
    dataset: str = OFFLINE
    # a variant that learns from unlabelled digits keeps this many labels, drawn with the run's seed (None: all)
    labels: int | None = None
    # "train": the data set's "val" split is the live curve and picks the epoch a CLI run keeps; "all" has no such partner
    split: str = "train"
    # A person's own data set (cvae_core.own_data.OwnData), which travels with the run to wherever it trains and is
    # dropped with it; `dataset` is then only its name.
    own: object | None = field(default=None, compare=False)

    @classmethod
    def from_settings(cls, model: dict | None = None, train: dict | None = None, dataset: str = OFFLINE, labels: int | None = None,
                      split: str = "train", own=None) -> "Recipe":  # fmt: skip
        """The settings given, the variant's defaults (cvae_core.training.defaults) for the rest, checked: raises ConfigError."""
        settings = {k: v for k, v in (model or {}).items() if k != "variant"}
        variant = (model or {}).get("variant") or model_defaults()["variant"]
        config = model_config(variant, **settings).validate()
        schedule = TrainConfig(**{**training_defaults(variant), **(train or {})})
        if labels is not None and not capabilities(config).learns_from_unlabelled:
            raise ConfigError(N_("a number of labelled digits is for a variant that learns from unlabelled ones (m2)"))
        if labels is not None and labels < 1:
            raise ConfigError(N_("the number of labelled digits must be at least 1, got {labels}"), labels=labels)
        return cls(config, schedule, dataset, labels, split, own)

    def to_wire(self) -> dict:
        """The recipe as plain data, for the pipe to the training process (and a Ray actor): what from_wire reads back."""
        out = {
            "model": asdict(self.model),
            "train": asdict(self.train),
            "dataset": self.dataset,
            "labels": self.labels,
            "split": self.split,
        }
        return {**out, "own": self.own} if self.own is not None else out

    @classmethod
    def from_wire(cls, data: dict) -> "Recipe":
        """The recipe to_wire wrote, its model settings checked again (raises ConfigError)."""
        return cls(ModelConfig.from_dict(data["model"]).validate(), TrainConfig(**data["train"]), data["dataset"], data.get("labels"),
                   data.get("split", "train"), data.get("own"))  # fmt: skip

    def data(self, load: Callable[[str, str], Dataset] = load_dataset) -> tuple[Dataset, Dataset | None]:
        """The digits the run trains on (labels hidden as the recipe says) and its validation digits (None for "all")."""
        if self.own is not None:
            load = lambda _name, split: own_dataset(self.own, split, name=self.dataset)  # noqa: E731
        train = load(self.dataset, self.split)
        if self.labels is not None:
            train = train.with_labels(hide_labels(train.labels, int(self.labels), seed=self.train.seed))
        return train, (load(self.dataset, "val") if self.split == "train" else None)

    def trainer(self, train: Dataset, validation: Dataset | None, device=None) -> Trainer:
        """A Trainer for the run on data from `data()`, its model's initial weights drawn from the run's seed; the model
        has as many labels as the data set has classes (ten digits, or a person's own classes)."""
        config = replace(self.model, n_classes=len(train.classes)).validate()
        # A small data set (a person's own: a few dozen images a class) gets at least MIN_STEPS_PER_EPOCH steps an epoch,
        # in batches of no fewer than MIN_BATCH: with 144 images and batches of 128, 60 epochs would be 120 steps.
        batch = min(self.train.batch_size, max(MIN_BATCH, len(train) // MIN_STEPS_PER_EPOCH))
        schedule = replace(self.train, batch_size=batch)
        return Trainer(build_model(config, seed=self.train.seed), train, validation, schedule, device=device)

    def build(self, load: Callable[[str, str], Dataset] = load_dataset, device=None) -> Trainer:
        return self.trainer(*self.data(load), device=device)


def train_classifier(data: Dataset, epochs: int = CLASSIFIER["epochs"], seed: int = 0, arch: str = "cnn") -> DigitClassifier:
    """Train a fidelity classifier on a data set's training images (digits, or a person's own classes) with the recipe of
    cvae_core.training.defaults.CLASSIFIER."""
    with initial_weights(seed):
        model = DigitClassifier(ClassifierConfig(n_classes=len(data.classes), arch=arch))  # a person's own classes too
    config = TrainConfig(**{**CLASSIFIER, "epochs": epochs, "seed": seed})
    Trainer(model, data, config=config).run_to_end()
    return model.eval()
