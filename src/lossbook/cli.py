"""The command line: ``python -m lossbook train ...`` trains a model and prints one JSON line of metrics.

A progress bar (tqdm) goes to standard error when it is a terminal; standard output carries only the
final JSON line, so the command composes with ``jq`` and scripts. Every option is checked before any
work: a bad one exits with status 2 and a message saying what was expected. A run whose loss becomes
infinite or nan stops at that step (:class:`lossbook.training.TrainingDiverged`), prints its JSON
line with null metrics and ``diverged_at_step``, says so on standard error, and exits with status 3.
The JSON line is always valid JSON: a value that is not a finite number is written as null.
"""

import argparse
import inspect
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from lossbook.datasets import load_digits, make_spiral
from lossbook.models import LinearSoftmax, TwoLayerNet
from lossbook.optim import GradientDescent, Momentum
from lossbook.training import TrainingDiverged, train, train_dense_detector, train_detector

PROG = "python -m lossbook"
EXIT_DIVERGED = 3  # 2 is argparse's status for a bad option; 1 is Python's for an uncaught exception
SEED_MAX = 2**32 - 1
EXIT_STATUS = f"""exit status:
  0  trained; the JSON line holds the metrics
  1  the metrics were printed, but the --plot file could not be written
  2  a bad option: nothing was run
  {EXIT_DIVERGED}  training diverged: the loss became infinite or nan at the step given in the JSON line's
     diverged_at_step (counted from 0), whose other metrics are null; try a smaller --lr (or --reg,
     when it is not zero)
A value that is not a finite number is written as null: the JSON line is always valid JSON."""

# Defaults per (data, model). The spiral's are the CS231n case study's (its reg = 1e-3 with a 1/2
# factor is lam = 5e-4 here); the digits' reach test accuracy 0.95 (linear) and 0.97 (network).
DEFAULTS = {
    # The dense C + 1 + 4 detector on 64 x 64 scenes with zero to four objects (training.train_dense_detector):
    # map_50 0.93 to 0.95 and map 0.65 to 0.67 on held-out scenes, seeds 0 to 2, in about 130 s on one core.
    ("shapes", "detector"): {"epochs": 16, "images_per_epoch": 5000, "lr": 2e-3, "hidden": None, "batch_size": 32,
                             "objectness": "bce", "classes": "softmax", "boxes": "giou"},
    # The first, single-object step of the capstone: 32 x 32 images with zero or one object (training.train_detector).
    ("shapes", "single-object"): {"epochs": 8, "images_per_epoch": 10_000, "lr": 3e-3, "hidden": 256,
                                  "batch_size": 100},
    ("spiral", "linear"): {"steps": 200, "lr": 1.0, "reg": 5e-4, "momentum": 0.0, "hidden": None},
    ("spiral", "mlp"): {"steps": 10_000, "lr": 1.0, "reg": 5e-4, "momentum": 0.0, "hidden": 100},
    ("digits", "linear"): {"steps": 1000, "lr": 0.5, "reg": 1e-4, "momentum": 0.9, "hidden": None},
    ("digits", "mlp"): {"steps": 1000, "lr": 0.5, "reg": 1e-4, "momentum": 0.9, "hidden": 100},
}


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser(
        "train",
        help="train a classifier and print its metrics as one JSON line",
        description="Train a classifier with lossbook's cross-entropy and L2 penalty, or the capstone's "
        "C + 1 + 4 detector; print one JSON line: train_loss, train_accuracy, test_accuracy (digits "
        "only), steps, seconds; the detector reports COCO's map, map_50, map_75 and map per object size "
        "on held-out scenes, the single-object detector objectness_accuracy, class_accuracy and mean_iou "
        "on held-out images instead of accuracies. Options left out take the defaults of the chosen "
        "data and model (listed below).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="defaults:\n"
        + "\n".join(f"  --data {d} --model {m}: {v}" for (d, m), v in DEFAULTS.items())
        + "\n\n" + EXIT_STATUS,
    )
    t.add_argument("--data", choices=["spiral", "digits", "shapes"], default="spiral",
                   help="spiral: CS231n's 3-arm spiral, 300 points; digits: scikit-learn's 8x8 digits, 25%% "
                   "held out; shapes: synthetic squares, disks and triangles (--model detector: 64x64 scenes "
                   "with zero to four objects; --model single-object: 32x32 images with zero or one) [spiral]")
    t.add_argument("--model", choices=["linear", "mlp", "detector", "single-object"], default="linear",
                   help="linear: softmax regression; mlp: one hidden ReLU layer; detector: the dense C + 1 + 4 "
                   "convolutional detector; single-object: the capstone's first, fully connected detector "
                   "(both for --data shapes) [linear]")
    t.add_argument("--hidden", type=int, help="hidden units of the mlp, or of the single-object detector's first layer")
    t.add_argument("--steps", type=int, help="optimizer steps (linear and mlp)")
    t.add_argument("--epochs", type=int, help="epochs of fresh images (detectors)")
    t.add_argument("--images-per-epoch", type=int, help="fresh training images per epoch (detectors)")
    t.add_argument("--objectness", choices=["bce", "bce_pos_weight", "focal"],
                   help="loss of the detector's objectness score [bce]")
    t.add_argument("--classes", choices=["softmax", "sigmoid"],
                   help="loss of the detector's class scores: softmax cross-entropy or one sigmoid BCE per class "
                   "[softmax]")
    t.add_argument("--boxes", choices=["smooth_l1", "giou", "ciou"], help="loss of the detector's boxes [giou]")
    t.add_argument("--lr", type=finite_number, help="learning rate")
    t.add_argument("--reg", type=finite_number, help="L2 strength lambda in lambda * sum(W**2)")
    t.add_argument("--batch-size", type=int, help="minibatch size, at most the training samples (the detector: "
                   "the images of an epoch); omit for full-batch gradient descent")
    t.add_argument("--momentum", type=finite_number,
                   help="momentum coefficient in [0, 1); 0 is plain gradient descent")
    t.add_argument("--seed", type=seed, default=0,
                   help="seed of every random draw (data, weights, batches), 0 to 2**32 - 1 [0]")
    t.add_argument(
        "--plot", metavar="FILE", help="save the loss curve (and, for the spiral, the decision regions) to FILE, "
        "in the format its extension names (.png, .pdf, .svg, ...), in a folder that exists; .pgf needs "
        "the TeX program of matplotlib's rcParams['pgf.texsystem'] (xelatex by default)"
    )
    t.set_defaults(subparser=t)  # its errors then start "python -m lossbook train: error:", as argparse's own
    e = commands.add_parser(
        "experiment",
        help="run the dense detector's loss comparisons and write their tables to a JSON file",
        description="Train the dense detector once per arm and seed for the three questions of the capstone "
        "(objectness: bce, bce_pos_weight, focal; classes: softmax, sigmoid; boxes: smooth_l1, giou, ciou), "
        "and write the held-out metrics, their mean and spread, the command, seeds, versions and machine to "
        "a JSON file (lossbook.experiments.run_detector_experiments). The default arm of every question "
        "(bce, softmax, giou) is trained once per seed. With the defaults: 18 runs of about 130 s of "
        "processor time each.",
    )
    e.add_argument("name", choices=["detector"], help="the experiment to run")
    e.add_argument("--seeds", type=seed, nargs="+", default=[0, 1, 2], help="seeds, one run per arm each [0 1 2]")
    e.add_argument("--jobs", type=int, default=1, help="worker processes, one BLAS thread each [1]")
    e.add_argument("--output", metavar="FILE", default="book/detector_experiments.json",
                   help="where to write the JSON [book/detector_experiments.json]")
    e.add_argument("--arms", nargs="+", help="run only these arms (for a short check) [all]")
    e.add_argument("--epochs", type=int, help="epochs per run [train_dense_detector's default, 16]")
    e.add_argument("--images-per-epoch", type=int, help="images per epoch [5000]")
    e.set_defaults(subparser=e)
    return parser


def run_experiment(args, parser):
    from lossbook.experiments import COMPARISONS, run_detector_experiments

    known = {arm for arms in COMPARISONS.values() for arm in arms}
    if args.arms is not None and not set(args.arms) <= known:
        parser.error(f"--arms must be among {sorted(known)}; got {args.arms}")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1; got {args.jobs}")
    for name in ("epochs", "images_per_epoch"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1; got {getattr(args, name)}")
    # Every run uses train_dense_detector's batch size: an epoch must hold at least one full batch.
    batch_size = inspect.signature(train_dense_detector).parameters["batch_size"].default
    if args.images_per_epoch is not None and args.images_per_epoch < batch_size:
        parser.error(f"--images-per-epoch must be at least the batch size of every run, {batch_size}; "
                     f"got --images-per-epoch {args.images_per_epoch}")
    output = Path(args.output)
    if output.is_dir() or not output.parent.is_dir():
        parser.error(f"--output must name a file in a folder that exists; got {args.output}")
    training = {name: getattr(args, name) for name in ("epochs", "images_per_epoch") if getattr(args, name)}
    command = " ".join(["python -m lossbook", *sys.argv[1:]]) if sys.argv[1:2] == ["experiment"] else None
    result = run_detector_experiments(
        output, seeds=args.seeds, arms=args.arms, training=training, jobs=args.jobs,
        command=command or f"python -m lossbook experiment detector --seeds {' '.join(map(str, args.seeds))}",
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(json_line({"output": str(output), "runs": sum(len(arm["runs"]) for table in result["tables"].values()
                                                        for arm in table.values()),
                     "seconds": round(result["seconds"], 1)}))
    return 0


def finite_number(text):
    """An option's number: argparse's float, but nan and inf are refused (exit status 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number; got {text!r}")
    return value


def seed(text):
    """A seed in [0, 2**32 - 1]: NumPy refuses negative seeds, and every NumPy seeding API accepts this range."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
    if not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must lie in [0, 2**32 - 1]; got {value}")
    return value


def missing_program(extension):
    """The external program that matplotlib needs to write a file of `extension` and cannot find, or None.

    Of the formats matplotlib writes, only .pgf needs one with the course's settings: its backend sets
    the text with TeX (rcParams["pgf.texsystem"], xelatex by default), even for the .pgf file itself.

    Examples
    --------
    >>> missing_program("png") is None
    True
    """
    import matplotlib

    if extension == "pgf":
        program = matplotlib.rcParams["pgf.texsystem"]
        return None if shutil.which(program) else program
    return None


def check_plot_path(parser, path):
    """Refuse a --plot path that matplotlib could not write, before training rather than after it."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError:
        parser.error("--plot needs matplotlib: pip install 'lossbook[plot]'")
    if not path.strip():
        parser.error(f"--plot must name a file; got an empty path {path!r}")
    target = Path(path)
    if target.is_dir():
        parser.error(f"--plot must name a file; {path} is a folder")
    formats = sorted(FigureCanvasAgg.get_supported_filetypes())
    if target.suffix[1:].lower() not in formats:
        # Without an extension matplotlib would quietly write FILE.png instead of FILE.
        parser.error(f"--plot must end in an extension matplotlib writes (.{', .'.join(formats)}); got {path}")
    program = missing_program(target.suffix[1:].lower())
    if program is not None:
        parser.error(f"--plot: matplotlib writes {target.suffix} files with {program}, which is not installed "
                     f"(not on PATH); choose another format, such as .pdf or .svg; got {path}")
    folder = target.parent
    if not folder.is_dir():
        parser.error(f"--plot: the folder {folder} does not exist; got {path}")
    if not os.access(folder, os.W_OK | os.X_OK):
        parser.error(f"--plot: the folder {folder} is not writable; got {path}")


def resolve_options(parser, args):
    """Fill in per-(data, model) defaults and reject values that cannot work (exit status 2)."""
    detector = args.model in ("detector", "single-object")
    if (args.data == "shapes") != detector:
        parser.error("--model detector and single-object train on --data shapes, "
                     "and --data shapes needs --model detector or single-object")
    options = dict(DEFAULTS[(args.data, args.model)])
    if args.model == "detector":
        used = ("epochs", "images_per_epoch", "lr", "objectness", "classes", "boxes")
    elif detector:
        used = ("epochs", "images_per_epoch", "lr", "hidden")
    else:
        used = ("steps", "lr", "reg", "momentum", "hidden")
    for name in used:
        if getattr(args, name) is not None:
            options[name] = getattr(args, name)
    for name in ("steps", "reg", "momentum", "epochs", "images_per_epoch", "objectness", "classes", "boxes"):
        if name not in used and getattr(args, name) is not None:
            parser.error(f"--{name.replace('_', '-')} does not apply to --model {args.model}")
    if args.model in ("linear", "detector") and args.hidden is not None:
        parser.error("--hidden applies to --model mlp or single-object only")
    if options.get("steps", 1) < 1:
        parser.error(f"--steps must be at least 1; got {options['steps']}")
    if options.get("epochs", 1) < 1:
        parser.error(f"--epochs must be at least 1; got {options['epochs']}")
    if options.get("images_per_epoch", 1) < 1:
        parser.error(f"--images-per-epoch must be at least 1; got {options['images_per_epoch']}")
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
    if detector:  # the batch size given or the model's default: an epoch must hold at least one full batch
        batch_size = options["batch_size"] if args.batch_size is None else args.batch_size
        if batch_size > options["images_per_epoch"]:
            default = f" (the default of --model {args.model})"
            parser.error(f"--batch-size must be at most --images-per-epoch, the images of an epoch; got "
                         f"--batch-size {batch_size}{default if args.batch_size is None else ''} and "
                         f"--images-per-epoch {options['images_per_epoch']}"
                         f"{default if args.images_per_epoch is None else ''}")
    if args.plot is not None:
        check_plot_path(parser, args.plot)
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

    update.close = bar.close  # a diverged run ends early: clear the bar before the message
    return update


def diverged(metric_names, error, seconds):
    """The JSON line of a diverged run: its metrics null, the steps it completed, where it diverged."""
    return {**dict.fromkeys(metric_names), "steps": error.step, "seconds": round(seconds, 3),
            "diverged_at_step": error.step}


DENSE_METRICS = ("map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_100",
                 "val_map", "val_map_50", "val_map_75", "train_loss")


def run_dense_detector(args, options):
    """Train the dense detector; return its metrics and a function that saves its plot, as run_detector."""
    batch_size = options["batch_size"] if args.batch_size is None else args.batch_size
    steps = options["epochs"] * -(-options["images_per_epoch"] // batch_size)
    progress = progress_bar(steps)
    start = time.perf_counter()
    try:
        run = train_dense_detector(
            epochs=options["epochs"], images_per_epoch=options["images_per_epoch"], batch_size=batch_size,
            lr=options["lr"], seed=args.seed, objectness=options["objectness"], classes=options["classes"],
            boxes=options["boxes"], progress=progress,
        )
    except TrainingDiverged as error:
        progress.close()
        return diverged(DENSE_METRICS, error, time.perf_counter() - start), error, None
    metrics = {key: round(float(run.metrics[key]), 6 if key == "train_loss" else 4) for key in DENSE_METRICS}
    metrics.update(steps=run.metrics["steps"], seconds=round(run.metrics["seconds"], 3),
                   cpu_seconds=round(run.metrics["cpu_seconds"], 3))

    def save_plot(path):
        from lossbook.plotting import save_dense_detector_plot

        save_dense_detector_plot(path, run.history, title=f"detector on shapes, seed {args.seed}")

    return metrics, None, save_plot


def run_detector(args, options):
    """Train the single-object detector; return its metrics and a function that saves its plot (None if it diverged)."""
    batch_size = options["batch_size"] if args.batch_size is None else args.batch_size
    steps = options["epochs"] * -(-options["images_per_epoch"] // batch_size)
    names = ("train_loss", "objectness_accuracy", "class_accuracy", "mean_iou")
    progress = progress_bar(steps)
    start = time.perf_counter()
    try:
        run = train_detector(
            epochs=options["epochs"], images_per_epoch=options["images_per_epoch"], batch_size=batch_size,
            lr=options["lr"], seed=args.seed, hidden=(options["hidden"], max(1, options["hidden"] // 2)),
            progress=progress,
        )
    except TrainingDiverged as error:
        progress.close()
        return diverged(names, error, time.perf_counter() - start), error, None
    metrics = {key: round(float(run.metrics[key]), 6 if key == "train_loss" else 4) for key in names}
    metrics.update(steps=run.metrics["steps"], seconds=round(run.metrics["seconds"], 3))

    def save_plot(path):
        from lossbook.plotting import save_detector_plot

        save_detector_plot(path, run.history, title=f"single-object detector on shapes, seed {args.seed}")

    return metrics, None, save_plot


def run_classifier(args, options, parser):
    """Train softmax regression or the two-layer network; return metrics, divergence and plot as run_detector."""
    rng = np.random.default_rng(args.seed)
    X, y, X_test, y_test = load_data(args.data, rng)
    if args.batch_size is not None and args.batch_size > len(X):
        parser.error(f"--batch-size must be at most the {len(X)} training samples; got {args.batch_size}")
    names = ("train_loss", "train_accuracy") + (() if X_test is None else ("test_accuracy",))
    n_classes = int(y.max()) + 1
    if args.model == "linear":
        model = LinearSoftmax(X.shape[1], n_classes, rng)
    else:
        model = TwoLayerNet(X.shape[1], options["hidden"], n_classes, rng)
    optimizer = Momentum(options["lr"], options["momentum"]) if options["momentum"] else GradientDescent(options["lr"])
    progress = progress_bar(options["steps"])
    start = time.perf_counter()
    try:
        history = train(
            model, X, y, optimizer, options["steps"], lam=options["reg"], batch_size=args.batch_size, rng=rng,
            progress=progress,
        )
        final_loss, _ = model.loss_and_grads(X, y, options["reg"])
        if not np.isfinite(final_loss):  # the last update diverged: train saw only the losses before it
            raise TrainingDiverged(options["steps"], final_loss)
    except TrainingDiverged as error:
        progress.close()
        return diverged(names, error, time.perf_counter() - start), error, None
    seconds = time.perf_counter() - start
    metrics = {"train_loss": round(float(final_loss), 6), "train_accuracy": round(model.accuracy(X, y), 4)}
    if X_test is not None:
        metrics["test_accuracy"] = round(model.accuracy(X_test, y_test), 4)
    metrics.update(steps=history.steps, seconds=round(seconds, 3))

    def save_plot(path):
        from lossbook.plotting import save_training_plot

        save_training_plot(path, history, model if args.data == "spiral" else None, X, y,
                           title=f"{args.model} on {args.data}")

    return metrics, None, save_plot


def json_line(metrics):
    """The metrics as one line of valid JSON: a value that is not a finite number becomes null."""
    finite = {key: None if isinstance(value, float) and not math.isfinite(value) else value
              for key, value in metrics.items()}
    return json.dumps(finite, allow_nan=False)


def plot_write_errors():
    """The errors of a --plot file that cannot be written after training: the metrics are kept (status 1).

    A full disk or a vanished folder (OSError), and an external program that fails although it was found
    before training (matplotlib's RuntimeError, or the pgf backend's LatexError when TeX stops).
    """
    try:
        from matplotlib.backends.backend_pgf import LatexError
    except ImportError:
        return (OSError, RuntimeError)
    return (OSError, RuntimeError, LatexError)


def run_train(args, parser):
    options = resolve_options(parser, args)
    if args.model == "detector":
        metrics, divergence, save_plot = run_dense_detector(args, options)
    elif args.model == "single-object":
        metrics, divergence, save_plot = run_detector(args, options)
    else:
        metrics, divergence, save_plot = run_classifier(args, options, parser)
    print(json_line(metrics), flush=True)
    if divergence is not None:
        # The step size is always a suspect; a large L2 strength makes the penalty's own gradient step
        # (lr * 2 * reg * W) overshoot as well.
        suspects = f"--lr than {options['lr']:g}"
        if options.get("reg"):
            suspects += f" or a smaller --reg than {options['reg']:g}"
        print(f"{PROG} train: training diverged: the loss became {divergence.loss} at step {divergence.step} "
              f"(counted from 0), so training stopped{' and wrote no plot' if args.plot else ''}; "
              f"try a smaller {suspects}", file=sys.stderr)
        return EXIT_DIVERGED
    if args.plot:
        try:
            save_plot(args.plot)
        except plot_write_errors() as error:
            print(f"{PROG} train: could not write --plot {args.plot}: {type(error).__name__}: {error}",
                  file=sys.stderr)
            return 1
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    # One BLAS thread: these matrices are small, and a second OpenBLAS thread made the same product
    # 10 to 20 times slower on a busy 2-core machine; results also stop depending on the thread count.
    # Overflow is expected only in a diverging run, where NumPy's warnings would point into library
    # internals: the divergence check reports it instead (exit status 3), and a metric that is not
    # finite is printed as null.
    with threadpool_limits(limits=1, user_api="blas"), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if args.command == "experiment":
            return run_experiment(args, args.subparser)
        return run_train(args, args.subparser)
