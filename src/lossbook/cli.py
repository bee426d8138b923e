"""The command line: ``python -m lossbook train ...`` trains a model and prints one JSON line of metrics.

A progress bar (tqdm) goes to standard error when it is a terminal; standard output carries only the
final JSON line, so the command composes with ``jq`` and scripts. Bad options exit with status 2
and a message saying what was expected.
"""

import argparse
import json
import sys
import time

import numpy as np

from lossbook.datasets import load_digits, make_spiral
from lossbook.models import LinearSoftmax, TwoLayerNet
from lossbook.optim import GradientDescent, Momentum
from lossbook.training import train, train_detector

# Defaults per (data, model). The spiral's are the CS231n case study's (its reg = 1e-3 with a 1/2
# factor is lam = 5e-4 here); the digits' reach test accuracy 0.95 (linear) and 0.97 (network).
DEFAULTS = {
    # The capstone detector: Adam on fresh synthetic shapes every epoch (training.train_detector).
    ("shapes", "detector"): {"epochs": 8, "images_per_epoch": 10_000, "lr": 3e-3, "hidden": 256, "batch_size": 100},
    ("spiral", "linear"): {"steps": 200, "lr": 1.0, "reg": 5e-4, "momentum": 0.0, "hidden": None},
    ("spiral", "mlp"): {"steps": 10_000, "lr": 1.0, "reg": 5e-4, "momentum": 0.0, "hidden": 100},
    ("digits", "linear"): {"steps": 1000, "lr": 0.5, "reg": 1e-4, "momentum": 0.9, "hidden": None},
    ("digits", "mlp"): {"steps": 1000, "lr": 0.5, "reg": 1e-4, "momentum": 0.9, "hidden": 100},
}


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m lossbook", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser(
        "train",
        help="train a classifier and print its metrics as one JSON line",
        description="Train a classifier with lossbook's cross-entropy and L2 penalty, or the capstone's "
        "C + 1 + 4 detector; print one JSON line: train_loss, train_accuracy, test_accuracy (digits "
        "only), steps, seconds; the detector reports objectness_accuracy, class_accuracy and mean_iou "
        "on held-out images instead of accuracies. Options left out take the defaults of the chosen "
        "data and model (listed below).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="defaults:\n"
        + "\n".join(f"  --data {d} --model {m}: {v}" for (d, m), v in DEFAULTS.items()),
    )
    t.add_argument("--data", choices=["spiral", "digits", "shapes"], default="spiral",
                   help="spiral: CS231n's 3-arm spiral, 300 points; digits: scikit-learn's 8x8 digits, 25%% "
                   "held out; shapes: 32x32 images with zero or one square, disk or triangle [spiral]")
    t.add_argument("--model", choices=["linear", "mlp", "detector"], default="linear",
                   help="linear: softmax regression; mlp: one hidden ReLU layer; detector: the C + 1 + 4 "
                   "network for --data shapes [linear]")
    t.add_argument("--hidden", type=int, help="hidden units of the mlp, or of the detector's first layer")
    t.add_argument("--steps", type=int, help="optimizer steps (linear and mlp)")
    t.add_argument("--epochs", type=int, help="epochs of fresh images (detector)")
    t.add_argument("--lr", type=float, help="learning rate")
    t.add_argument("--reg", type=float, help="L2 strength lambda in lambda * sum(W**2)")
    t.add_argument("--batch-size", type=int, help="minibatch size; omit for full-batch gradient descent")
    t.add_argument("--momentum", type=float, help="momentum coefficient in [0, 1); 0 is plain gradient descent")
    t.add_argument("--seed", type=int, default=0, help="seed of every random draw (data, weights, batches) [0]")
    t.add_argument(
        "--plot", metavar="FILE", help="save the loss curve (and, for the spiral, the decision regions) to FILE"
    )
    return parser


def resolve_options(parser, args):
    """Fill in per-(data, model) defaults and reject values that cannot work (exit status 2)."""
    if (args.data == "shapes") != (args.model == "detector"):
        parser.error("--model detector trains on --data shapes, and --data shapes needs --model detector")
    options = dict(DEFAULTS[(args.data, args.model)])
    detector = args.model == "detector"
    for name in ("epochs", "lr", "hidden") if detector else ("steps", "lr", "reg", "momentum", "hidden"):
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    unused = ("steps", "reg", "momentum") if detector else ("epochs",)
    for name in unused:
        if getattr(args, name) is not None:
            parser.error(f"--{name} does not apply to --model {args.model}")
    if args.model == "linear" and args.hidden is not None:
        parser.error("--hidden applies to --model mlp or detector only")
    if options.get("steps", 1) < 1:
        parser.error(f"--steps must be at least 1; got {options['steps']}")
    if options.get("epochs", 1) < 1:
        parser.error(f"--epochs must be at least 1; got {options['epochs']}")
    if not options["lr"] > 0:
        parser.error(f"--lr must be positive; got {options['lr']}")
    if not options.get("reg", 0) >= 0:
        parser.error(f"--reg must be >= 0; got {options['reg']}")
    if not 0 <= options.get("momentum", 0) < 1:
        parser.error(f"--momentum must lie in [0, 1); got {options['momentum']}")
    if options["hidden"] is not None and options["hidden"] < 1:
        parser.error(f"--hidden must be at least 1; got {options['hidden']}")
    if args.batch_size is not None and args.batch_size < 1:
        parser.error(f"--batch-size must be at least 1; got {args.batch_size}")
    return options


def load_data(name, rng):
    if name == "spiral":
        X, y = make_spiral(rng=rng)
        return X, y, None, None
    return load_digits(rng=rng)


def progress_bar(steps):
    """A tqdm bar on standard error when it is a terminal; nothing otherwise."""
    from tqdm import tqdm

    bar = tqdm(total=steps, unit="step", file=sys.stderr, disable=None, leave=False)

    def update(step, loss):
        bar.update(1)
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss:.4f}")
        if step + 1 == steps:
            bar.close()

    return update


def run_detector(args, options):
    batch_size = args.batch_size or options["batch_size"]
    steps = options["epochs"] * -(-options["images_per_epoch"] // batch_size)
    run = train_detector(
        epochs=options["epochs"], images_per_epoch=options["images_per_epoch"], batch_size=batch_size,
        lr=options["lr"], seed=args.seed, hidden=(options["hidden"], max(1, options["hidden"] // 2)),
        progress=progress_bar(steps),
    )
    metrics = {key: round(float(run.metrics[key]), 6 if key == "train_loss" else 4)
               for key in ("train_loss", "objectness_accuracy", "class_accuracy", "mean_iou")}
    metrics.update(steps=run.metrics["steps"], seconds=round(run.metrics["seconds"], 3))
    if args.plot:
        from lossbook.plotting import save_detector_plot

        save_detector_plot(args.plot, run.history, title=f"detector on shapes, seed {args.seed}")
    return metrics


def run_train(args, parser):
    options = resolve_options(parser, args)
    if args.model == "detector":
        print(json.dumps(run_detector(args, options)))
        return 0
    rng = np.random.default_rng(args.seed)
    X, y, X_test, y_test = load_data(args.data, rng)
    if args.batch_size is not None and args.batch_size > len(X):
        parser.error(f"--batch-size must be at most the {len(X)} training samples; got {args.batch_size}")
    n_classes = int(y.max()) + 1
    if args.model == "linear":
        model = LinearSoftmax(X.shape[1], n_classes, rng)
    else:
        model = TwoLayerNet(X.shape[1], options["hidden"], n_classes, rng)
    optimizer = Momentum(options["lr"], options["momentum"]) if options["momentum"] else GradientDescent(options["lr"])
    start = time.perf_counter()
    history = train(
        model, X, y, optimizer, options["steps"], lam=options["reg"], batch_size=args.batch_size, rng=rng,
        progress=progress_bar(options["steps"]),
    )
    seconds = time.perf_counter() - start
    final_loss, _ = model.loss_and_grads(X, y, options["reg"])
    metrics = {"train_loss": round(final_loss, 6), "train_accuracy": round(model.accuracy(X, y), 4)}
    if X_test is not None:
        metrics["test_accuracy"] = round(model.accuracy(X_test, y_test), 4)
    metrics.update(steps=history.steps, seconds=round(seconds, 3))
    if args.plot:
        from lossbook.plotting import save_training_plot

        save_training_plot(args.plot, history, model if args.data == "spiral" else None, X, y,
                           title=f"{args.model} on {args.data}")
    print(json.dumps(metrics))
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    # One BLAS thread: these matrices are small, and a second OpenBLAS thread made the same product
    # 10 to 20 times slower on a busy 2-core machine; results also stop depending on the thread count.
    with threadpool_limits(limits=1, user_api="blas"):
        return run_train(args, parser)
