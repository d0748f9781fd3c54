"""Command line: `python -m cvae_core train|evaluate|sample|info|train-classifier ...`.

With --json the last line of stdout is one JSON object. Errors: a non-zero exit and one line
on stderr, never a traceback.
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .classifier import CLASSIFIER_ARCHS
from .compare import digits_for, measure, proposals_per_label
from .data import DATASETS, OFFLINE, SPLITS, TEST_BINARIZATION_SEED, load_dataset
from .errors import CVAEError
from .metrics import accuracy, evaluate_elbo
from .models import ARCHS, VARIANTS
from .models.cvae3 import NN_FILLS
from .noise import drawing_from, seeded
from .storage import checkpoint
from .training.defaults import CLASSIFIER, EXPERIMENTS, model_defaults, training_defaults
from .training.engine import LABELLED_MIXES, Trainer
from .training.recipe import Recipe, train_classifier
from .training.stages import BestEpoch

DEFAULT_CLASSIFIER = checkpoint.FIDELITY_CLASSIFIERS["label_fidelity"]
SECOND_CLASSIFIER = checkpoint.FIDELITY_CLASSIFIERS["label_fidelity_second"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not a usage dump
        sys.stderr.write(f"error: {message} (see --help)\n")
        raise SystemExit(2)


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise CVAEError(f"{what} must be a finite number")
    return value


def _emit(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


# ---- commands ------------------------------------------------------------------------------
def _given(args, names: tuple[str, ...]) -> dict:
    """The settings given on the command line (argparse leaves the others None); flags store under the settings' names."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


MODEL_FLAGS = ("latent_dim", "arch", "hidden", "layers", "beta", "free_bits", "alpha", "target", "given_quadrants")
TRAIN_FLAGS = ("batch_size", "lr", "seed", "warmup_epochs", "kl_start", "shift_pixels")


def cmd_train(args) -> dict:
    """Train with the variant's defaults (cvae_core.training.defaults) where a flag is not given."""
    model_settings = {"variant": args.variant, **_given(args, MODEL_FLAGS)}
    _finite(model_settings.get("beta", 1.0), "beta")
    settings = _given(args, TRAIN_FLAGS)
    _finite(settings.get("lr", 1.0), "learning rate")
    if args.max_seconds is not None and args.epochs is None:
        settings["epochs"] = None  # a time budget alone
    elif args.epochs is not None:
        settings["epochs"] = args.epochs
    if args.cosine:
        settings["lr_schedule"] = "cosine"
    settings["max_seconds"] = args.max_seconds
    run = Recipe.from_settings(model_settings, settings, args.dataset, args.labels, args.split)
    out = Path(args.out)
    checkpoint.checkpoint_name(out.name)  # refuse a bad name before training, not after
    # --split train: its held-out partner's ELBO, once an epoch, picks the weights kept (the epoch is chosen on
    # validation, never on test). --split all has none, and keeps the last weights.
    train, validation = run.data()
    if train.note:
        print(train.note, file=sys.stderr)
    trainer = run.trainer(train, validation)
    model, config, tc = trainer.model, run.model, run.train
    true_labels = load_dataset(args.dataset, args.split).labels if args.labels is not None else train.labels
    from tqdm import tqdm

    with tqdm(total=trainer.total_steps, unit="step", disable=None, file=sys.stderr) as bar:  # shown on a terminal only

        def show(progress):
            bar.update(progress.step - bar.n)
            bar.set_postfix(epoch=f"{progress.epoch:.1f}", elbo=f"{progress.terms.get('elbo', float('nan')):.1f}")

        selected = train_keeping_best(trainer, show)
    scored = train.with_labels(true_labels)
    with drawing_from(trainer.noise):  # the run's closing figure draws from the run's own stream
        final = evaluate_elbo(model, scored.binarized_once() if trainer.binarize else scored)  # bound on log p(x|y), true labels
    meta = {
        "dataset": train.name,
        "classes": list(train.classes),  # label k's name (a person's own classes, or the digits)
        "split": args.split,
        "seed": tc.seed,
        "labels": args.labels,
        "train": trainer.summary(),
        "metrics": {"train": final, **({"validation": selected} if selected else {})},
        "command": "python -m cvae_core " + " ".join(sys.argv[1:]),
    }
    checkpoint.save(model, out, meta, half=args.half)
    return {
        "variant": config.variant,
        "epochs": round(trainer.epoch, 3),
        "steps": trainer.step,
        "seconds": round(trainer.elapsed, 3),
        "samples_per_sec": round(trainer.overall_samples_per_sec, 1),
        "params": sum(p.numel() for p in model.parameters()),
        "device": str(trainer.device),
        "final": {k: round(v, 4) for k, v in final.items()},
        "out": str(out),
    }


def train_keeping_best(trainer: Trainer, on_slice) -> dict | None:
    """Train to the end, an epoch a slice; with validation digits, keep the weights of the epoch whose validation
    ELBO was highest, by the project's one rule (training.stages.BestEpoch, the loss being −ELBO). Returns
    {"selected_on", "epoch", "elbo"} or None."""
    selection, offered = BestEpoch(), 0
    while not trainer.done:
        trainer.run(max_steps=trainer.steps_per_epoch)
        on_slice(trainer.progress)
        points = [h for h in trainer.history if h["split"] == "val"]
        if len(points) > offered:  # a new validation point: this epoch's
            offered = len(points)
            selection.offer(points[-1]["epoch"], -points[-1]["elbo"], trainer.model)
    selection.keep(trainer.model)
    if selection.best is None:
        return None
    return {"selected_on": "validation", "epoch": selection.best["epoch"], "elbo": -selection.best["validation_loss"]}


def cmd_evaluate(args) -> dict:
    ckpt = checkpoint.load(args.file)
    model = ckpt.model
    data = digits_for(model, load_dataset(args.dataset, args.split), args.limit)
    if getattr(model, "uses_label", False) and model.config.n_classes != len(data.classes):
        raise CVAEError(
            f"the model knows {model.config.n_classes} classes and {data.name} has {len(data.classes)}: evaluate it on its own data set"
        )
    classifiers = {}
    digits = tuple(data.classes) == tuple(str(k) for k in range(10))  # the fidelity classifiers read digits only
    if args.fidelity and not digits:
        print("note: the fidelity classifiers know only digits; label fidelity skipped for this data set", file=sys.stderr)
    if args.fidelity and digits and getattr(model, "makes_images", False) and getattr(model, "uses_label", False):
        for key, path in (("label_fidelity", Path(args.classifier)), ("label_fidelity_second", Path(args.second_classifier))):
            if path.exists():
                classifiers[key] = checkpoint.load(path).model
            else:
                print(f"note: no fidelity classifier at {path}; {key} skipped", file=sys.stderr)
    measurement = measure(model, data, args.iw_samples, classifiers, args.fidelity_samples, ckpt.metadata, seed=args.seed)
    figures = measurement.as_dict()
    result = {
        "variant": model.name,
        "dataset": data.name,
        "classes": list(data.classes),
        "split": args.split,
        "n": len(data),
        # the literature's protocol: trained on dynamically binarised digits, measured on digits binarised once
        "protocol": "binarized",
        "binarization_seed": TEST_BINARIZATION_SEED,
        "iw_samples": args.iw_samples,  # proposals per digit for log p(x), the same for every model
    }
    if getattr(model, "makes_images", False):
        result["iw_samples_per_label"] = proposals_per_label(model, args.iw_samples)
    elif not getattr(model, "bernoulli_pixels", False):
        result["likelihood"] = "categorical: log p(y|x) of the label; the digit is the input, no pixel likelihood"
    result.update({k: (round(v, 4) if isinstance(v, float) else v) for k, v in figures.items() if v is not None})
    if args.record:  # keep the figures in the checkpoint, for the app and checkpoints/README.md
        meta = dict(ckpt.metadata)
        meta["metrics"] = {**meta.get("metrics", {}), "test": result}
        # with the per-digit values behind the figures, so that recorded models compare with paired errors
        checkpoint.save(model, args.file, meta, half=meta.get("storage") == "float16", per_digit=measurement.per_digit)
    return result


def cmd_sample(args) -> dict:
    ckpt = checkpoint.load(args.file)
    model = ckpt.model
    if not getattr(model, "makes_images", False):
        raise CVAEError(f"{model.name} does not generate digits from a label")
    if args.n < 1 or args.n > 100_000:
        raise CVAEError("--n must be from 1 to 100000")
    if not (0 <= args.temperature <= 10):
        raise CVAEError("--temperature must be from 0 to 10")
    if model.uses_label and not 0 <= args.label < model.config.n_classes:
        raise CVAEError(f"--label must be from 0 to {model.config.n_classes - 1}")
    labels = torch.full((args.n,), args.label, dtype=torch.long)
    with seeded(args.seed, model.device):
        images = model.generate(labels if model.uses_label else None, temperature=args.temperature, n=args.n)
    out = Path(args.out)
    try:
        np.save(out, images.cpu().numpy().astype(np.float32))
    except OSError as e:
        raise CVAEError(f"could not write {out}: {e.strerror or e}") from None
    classes = ckpt.metadata.get("classes") or [str(k) for k in range(model.config.n_classes)]
    named = classes[args.label] if model.uses_label and args.label < len(classes) else None
    return {"variant": model.name, "label": args.label if model.uses_label else None, "class": named, "n": args.n, "out": str(out)}


def cmd_info(args) -> dict:
    ckpt = checkpoint.load(Path(args.file))
    classes = ckpt.metadata.get("classes") or [str(k) for k in range(getattr(ckpt.model.config, "n_classes", 10))]
    return {**ckpt.metadata, "classes": classes}


def cmd_train_classifier(args) -> dict:
    data = load_dataset(args.dataset, args.split)
    started = time.perf_counter()
    model = train_classifier(data, epochs=args.epochs, seed=args.seed, arch=args.arch)
    seconds = time.perf_counter() - started
    result = {
        "arch": args.arch,
        "dataset": data.name,
        "split": args.split,
        "n": len(data),
        "epochs": args.epochs,
        "seconds": round(seconds, 1),
    }
    if args.eval_dataset:
        test = load_dataset(args.eval_dataset, "test")
        result["test_accuracy"] = round(accuracy(model.classify, test), 4)
    checkpoint.save(model, args.out, {"dataset": data.name, "split": args.split, "metrics": result})
    return result


def _experiment_data(args):
    """The training digits, the validation digits every choice is made on, and the digits the figures are reported
    on: the official test split (--eval-dataset), read once per figure. A data set with no test split of its own
    (mnist-5k) and no --eval-dataset reports on its validation digits, and the JSON says so ("reported_on")."""
    train, validation = load_dataset(args.dataset, "train"), load_dataset(args.dataset, "val")
    if args.eval_dataset is None and args.dataset == OFFLINE:
        return train, validation, validation, "validation"
    return train, validation, load_dataset(args.eval_dataset or args.dataset, "test"), "test"


def _report(message: str) -> None:
    """A progress line on stderr: the JSON on stdout stays one document."""
    print(message, file=sys.stderr, flush=True)


def cmd_quadrants(args) -> dict:
    from .experiments.quadrants import quadrants

    if args.given not in (1, 2, 3):
        raise CVAEError("--given must be 1, 2 or 3")
    if args.iw_samples < 1:
        raise CVAEError("--iw-samples must be at least 1")
    filled = [f for f in args.fills if f != "none"]
    if args.save and not filled:
        raise CVAEError("--save keeps a CVAE filled from the NN (it holds the NN too): add prior to --fills")
    if not all(0 <= w <= 1 for w in args.gsnn_weight):
        raise CVAEError("--gsnn-weight takes shares from 0 to 1")
    train, validation, test, reported_on = _experiment_data(args)
    result = quadrants(
        args.given,
        train,
        test.binarized_once().subset(args.limit),
        epochs=args.epochs,
        samples=args.iw_samples,
        seed=args.seed,
        hidden=args.hidden,
        gsnn_weight=tuple(args.gsnn_weight),
        fills=tuple(args.fills),
        validation=validation,
        nn_epochs=args.nn_epochs,
    )
    if args.save:
        # one file: the filled CVAE whose completions scored best on validation; it holds the NN baseline, so the
        # page shows both
        fill = min(filled, key=lambda f: result.validation[f]["ncll_mc"])
        metadata = {
            "experiment": "quadrants",
            "given": args.given,
            "fill": fill,
            "results": result.as_dict(),
            "command": " ".join(sys.argv[1:]),
        }
        checkpoint.save(result.cvaes[fill], args.save, metadata, half=True)
    return {**result.as_dict(), "reported_on": reported_on}


def cmd_classification(args) -> dict:
    from .experiments.classification import classification

    train, validation, test, reported_on = _experiment_data(args)
    result = classification(
        train, test, epochs=args.epochs, seed=args.seed, hidden=args.hidden, arch=args.arch, shift_pixels=args.shift, validation=validation
    )
    return {**result, "reported_on": reported_on}


def cmd_semisupervised(args) -> dict:
    from .experiments.common import spread
    from .experiments.semisupervised import semisupervised

    if args.runs < 1:
        raise CVAEError("--runs must be at least 1")
    train, validation, test, reported_on = _experiment_data(args)
    m1_latent = args.m1_latent if args.stack == "m1" else 0
    shown = (
        "labels",
        "model",
        "seed",
        "m2_accuracy",
        "baseline_accuracy",
        "n",
        "epoch_kept",
        "validation_accuracy",
        "alpha",
        "labelled_mix",
    )
    shown += ("m1_latent", "m1_active_units", "z1_logistic_accuracy") if m1_latent else ()

    settings = {
        k: getattr(args, k) for k in ("labels", "dataset", "eval_dataset", "epochs", "hidden", "latent_dim", "m1_epochs", "alpha", "mix")
    }
    settings["m1_latent"] = m1_latent
    runs_dir = Path(args.runs_dir) if args.runs_dir else None

    def run_once(seed: int) -> dict:
        # With --runs-dir each finished run is kept there, so an interrupted spread resumes at the next seed.
        done = runs_dir / f"seed-{seed}.json" if runs_dir else None
        if done is not None and done.exists():
            kept = json.loads(done.read_text())
            if kept.get("settings") == settings:
                return kept["result"]
        result = semisupervised(
            args.labels, train, test, epochs=args.epochs, seed=seed, hidden=args.hidden, latent_dim=args.latent_dim,
            m1_latent=m1_latent, m1_epochs=args.m1_epochs, validation=validation, alpha=args.alpha, labelled_mix=args.mix,
        )  # fmt: skip
        if args.save and seed == args.seed:
            metadata = {"experiment": "semisupervised", **{k: result[k] for k in shown}, "command": " ".join(sys.argv[1:])}
            checkpoint.save(result["model_object"], args.save, metadata, half=True)
        figures = {k: result[k] for k in shown}
        if done is not None:
            done.parent.mkdir(parents=True, exist_ok=True)
            partial = done.with_suffix(".tmp")
            partial.write_text(json.dumps({"settings": settings, "result": figures}))
            partial.replace(done)
        return figures

    def on_run(i: int, r: dict) -> None:
        _report(f"run {i + 1}/{args.runs} (seed {r['seed']}): {r['model']} {r['m2_accuracy']:.2%}, baseline {r['baseline_accuracy']:.2%}")

    labelled = {"train_digits": len(train), "validation_digits": len(validation), "selected_on": "validation", "reported_on": reported_on}
    if args.runs == 1:
        return {**run_once(args.seed), **labelled}
    figures = ("m2_accuracy", "baseline_accuracy") + (("m1_active_units", "z1_logistic_accuracy") if m1_latent else ())
    out = spread(run_once, range(args.seed, args.seed + args.runs), figures, on_run)
    return {"labels": args.labels, "model": out["runs"][0]["model"], "n": len(test), **labelled, **out}


# ---- parser ---------------------------------------------------------------------------------
DATASET_HELP = f"one of {', '.join(DATASETS)}, or the path of your own data: a folder or .zip of one folder per class, or an .npz"


def dataset_argument(text: str) -> str:
    """A known data set's name, or the path of an existing folder, .zip or .npz (read when the command runs)."""
    if text in DATASETS or Path(text).expanduser().exists():
        return text
    raise argparse.ArgumentTypeError(f"{text!r} is neither a data set ({', '.join(DATASETS)}) nor an existing folder, .zip or .npz")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m cvae_core", description="Train, evaluate and sample conditional VAEs on handwritten digits.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a variant and save a checkpoint")
    t.epilog = "Flags not given take the variant's defaults from cvae_core/training/defaults.py (the Train page's)."
    t.add_argument("--variant", choices=list(VARIANTS), default=model_defaults()["variant"])
    t.add_argument("--dataset", type=dataset_argument, default="auto", help=DATASET_HELP)
    t.add_argument("--split", choices=SPLITS, default="train")
    budget = t.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=float, help=f"passes over the data (default {training_defaults()['epochs']:g})")
    budget.add_argument("--max-seconds", type=float, help="train for this many seconds instead of a number of epochs")
    t.add_argument("--latent-dim", type=int)
    t.add_argument("--arch", choices=ARCHS)
    t.add_argument("--hidden", type=int)
    t.add_argument("--layers", type=int)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--labels", type=int, help="m2: keep this many labels (balanced), the rest unlabelled")
    t.add_argument("--beta", type=float, help="weight of the KL term")
    t.add_argument("--warmup", type=float, dest="warmup_epochs", help="KL warm-up, in epochs")
    t.add_argument("--kl-start", type=float, help="KL weight at the start of the warm-up (above 1: ease down to 1)")
    t.add_argument("--cosine", action="store_true", help="decay the learning rate to 0 along a cosine")
    t.add_argument("--free-bits", type=float, help="nats per latent dimension not penalised")
    t.add_argument("--alpha", type=float, help="m2: weight of the classification loss")
    t.add_argument("--shift", type=int, dest="shift_pixels", help="augment with random shifts of up to this many pixels")
    t.add_argument("--target", choices=("label", "quadrants"), help="cvae3: what to predict")
    t.add_argument("--given", type=int, dest="given_quadrants", help="cvae3 quadrants: how many quadrants are visible")
    t.add_argument("--half", action="store_true", help="store the weights in half precision")
    t.add_argument("--out", required=True)
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="ELBO, importance-weighted log-likelihood and accuracy on a data set")
    e.add_argument("file")
    e.add_argument("--dataset", type=dataset_argument, default="auto", help=DATASET_HELP)
    e.add_argument("--split", choices=SPLITS, default="test")
    e.add_argument(
        "--iw-samples",
        type=int,
        default=100,
        help="importance samples per digit for log p(x), split over the labels of a conditional model",
    )
    e.add_argument("--limit", type=int, default=0, help="only the first N digits")
    e.add_argument("--fidelity", action="store_true", help="also measure label fidelity of samples")
    e.add_argument("--fidelity-samples", type=int, default=1000, help="samples per label for label fidelity")
    e.add_argument("--classifier", default=str(DEFAULT_CLASSIFIER), help="the fidelity classifier")
    e.add_argument("--second-classifier", default=str(SECOND_CLASSIFIER), help="a second fidelity classifier of another architecture")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--record", action="store_true", help="write these figures into the checkpoint's metadata")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("sample", help="draw digits into a .npy file")
    s.add_argument("file")
    s.add_argument("--label", type=int, default=0)
    s.add_argument("--n", type=int, default=16)
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_sample)

    i = sub.add_parser("info", help="a checkpoint's metadata")
    i.add_argument("file")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)

    c = sub.add_parser("train-classifier", help="train the independent classifier used for label fidelity")
    c.add_argument("--dataset", choices=DATASETS, default="mnist-5k")
    c.add_argument("--split", choices=SPLITS, default="all")
    c.add_argument("--eval-dataset", choices=DATASETS)
    c.add_argument("--epochs", type=int, default=CLASSIFIER["epochs"])
    c.add_argument("--arch", choices=CLASSIFIER_ARCHS, default="cnn", help="cnn: the shipped fidelity classifier; bn-cnn: the second one")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--out", default=str(DEFAULT_CLASSIFIER))
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_train_classifier)

    q = sub.add_parser("quadrants", help="Sohn's experiment: complete hidden quadrants; NN baseline vs cvae3")
    q.add_argument("--given", type=int, default=1, help="visible quadrants: 1, 2 or 3")
    q.add_argument(
        "--dataset",
        choices=DATASETS,
        default="mnist-5k",
        help="training digits: its train split (mnist-5k: 4,500); its validation split makes every choice",
    )
    q.add_argument(
        "--eval-dataset",
        choices=DATASETS,
        help="whose test split the figures are reported on (mnist: the official one); without it, mnist-5k reports on its validation split",
    )
    q.add_argument(
        "--epochs", type=float, default=EXPERIMENTS["quadrants"]["epochs"], help="both networks train this long (RESULTS.md: 100)"
    )
    q.add_argument("--iw-samples", type=int, default=100, help="samples S of both estimators")
    q.add_argument("--hidden", type=int, default=512)
    q.add_argument("--limit", type=int, default=0, help="only the first N test digits")
    q.add_argument(
        "--gsnn-weight", type=float, nargs="+", default=[0.0],
        help="share(s) of Sohn's GSNN term in the CVAE's objective (0 to 1); with several, each fill keeps the one its validation completions score best with",
    )  # fmt: skip
    q.add_argument(
        "--nn-epochs",
        type=float,
        help="the NN baseline's longest run (default 3 x --epochs); it stops when its validation score stops improving",
    )
    q.add_argument(
        "--fills", nargs="+", choices=NN_FILLS, default=["none", "prior"],
        help="one CVAE per way of filling the prior network's input with the NN's guess: none (plain), prior (Sohn's), prior+generation",
    )  # fmt: skip
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--save", help="save the best CVAE (with the NN inside) here, half precision, for the Experiments page")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_quadrants)

    k = sub.add_parser("classification", help="cvae3 as a classifier vs a plain classifier with the same layers")
    k.add_argument(
        "--dataset",
        choices=DATASETS,
        default="mnist-5k",
        help="training digits: its train split (mnist-5k: 4,500); its validation split makes every choice",
    )
    k.add_argument(
        "--eval-dataset",
        choices=DATASETS,
        help="whose test split the figures are reported on (mnist: the official one); without it, mnist-5k reports on its validation split",
    )
    k.add_argument("--epochs", type=float, default=EXPERIMENTS["classification"]["epochs"])
    k.add_argument("--arch", choices=ARCHS, default="mlp")
    k.add_argument("--hidden", type=int, default=512)
    k.add_argument("--shift", type=int, default=1, help="augmentation: random shifts of up to this many pixels")
    k.add_argument("--seed", type=int, default=0)
    k.add_argument("--json", action="store_true")
    k.set_defaults(func=cmd_classification)

    m = sub.add_parser("semisupervised", help="Kingma's M2 with N labels vs a classifier on those N labels")
    m.add_argument("--labels", type=int, default=100)
    m.add_argument("--dataset", choices=DATASETS, default="mnist-5k")
    m.add_argument("--eval-dataset", choices=DATASETS)
    m.add_argument(
        "--epochs", type=float, default=EXPERIMENTS["semisupervised"]["epochs"], help="passes over the unlabelled digits (RESULTS.md: 150)"
    )
    m.add_argument("--hidden", type=int, default=512)
    m.add_argument("--latent-dim", type=int, default=8, help="size of M2's latent code z")
    m.add_argument(
        "--alpha", type=float, default=50.0, help="weight of the classification term (Kingma et al.'s code: 0.1 with --mix proportional)"
    )
    m.add_argument(
        "--mix", choices=LABELLED_MIXES, default="each-step",
        help="each-step: labelled digits redrawn beside every batch; proportional: in data proportion, weighted alpha*N/N_labelled (Kingma et al.'s code)",
    )  # fmt: skip
    m.add_argument(
        "--stack", choices=("none", "m1"), default="none", help="m1: M1+M2, M2 on the code of a VAE trained first on every digit"
    )
    m.add_argument("--m1-latent", type=int, default=50, help="with --stack m1: size of M1's code z1")
    m.add_argument("--m1-epochs", type=float, help=f"with --stack m1: M1's training (default {EXPERIMENTS['m1']['epochs']:g})")
    m.add_argument("--runs", type=int, default=1, help="repeat with seeds --seed, --seed+1, ...: mean and standard deviation")
    m.add_argument("--seed", type=int, default=0, help="draws the labelled digits and the initial weights")
    m.add_argument("--save", help="save the model of the run with seed --seed here, half precision")
    m.add_argument("--runs-dir", help="keep each finished run here and skip it when the command is run again (resume)")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_semisupervised)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "iw_samples", 1) < 1:
        sys.stderr.write("error: --iw-samples must be at least 1\n")
        return 2
    try:
        result = args.func(args)
    except CVAEError as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
    except Exception as e:  # the last line of defence: a message, not a traceback
        sys.stderr.write(f"error: unexpected failure ({type(e).__name__}: {e})\n")
        return 1
    _emit(result, args.json)
    return 0
