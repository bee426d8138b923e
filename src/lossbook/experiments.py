"""The dense detector's loss comparisons: one table per term of the ``4 + 1 + C`` head, several seeds per arm.

Three questions, each answered by training :func:`~lossbook.training.train_dense_detector` with one
term's loss changed and everything else at its default:

- the 1: objectness by binary cross-entropy, by binary cross-entropy with ``pos_weight``, by focal loss;
- the C: classes by softmax cross-entropy, by one sigmoid binary cross-entropy per class;
- the 4: boxes by smooth L1 on encoded offsets, by GIoU, by CIoU.

Each arm runs with every seed; a seed fixes the held-out scenes, the initial weights and the
training scenes, so the arms of one seed see the same data. The tables hold every run's held-out
metrics, overall and per object size, and their mean, standard deviation (over seeds, ``ddof=1``),
minimum and maximum, so that a difference can be compared with the spread. The validation metrics
(``val_map``, ...) are there for choosing; the test metrics for reporting.

:func:`run_detector_experiments` writes everything, with the command, the seeds, the versions and
the machine, to a JSON file with sorted keys.
"""

import json
import os
import platform
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor, as_completed

import numpy as np

from lossbook import __version__
from lossbook._validation import check_integer
from lossbook.training import CALIBRATION_KEYS, train_dense_detector

COMPARISONS = {
    "objectness": ("bce", "bce_pos_weight", "focal"),
    "classes": ("softmax", "sigmoid"),
    "boxes": ("smooth_l1", "giou", "ciou"),
}
"""Each question's arms: the values of the :func:`~lossbook.training.train_dense_detector` keyword it varies."""

DEFAULT_ARMS = {"objectness": "bce", "classes": "softmax", "boxes": "giou"}
"""The detector's default loss for each term (:func:`~lossbook.training.train_dense_detector`)."""


class _InProcess:
    """A stand-in for ProcessPoolExecutor with one job: runs each task at once, in this process."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, function, *args):
        future = Future()
        future.set_result(function(*args))
        return future

REPORTED = ("map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_100",
            "val_map", "val_map_50", "val_map_75", *CALIBRATION_KEYS, "train_loss", "seconds", "cpu_seconds")
"""The metrics kept from each run: held-out mAP, the calibration of the scores
(:data:`~lossbook.training.CALIBRATION_KEYS`, :func:`~lossbook.training.evaluate_calibration`), the
training loss and the time."""


def run_arm(comparison, arm, seed, training=None):
    """Train one arm of one comparison with one seed; return its :data:`REPORTED` metrics (floats).

    Parameters
    ----------
    comparison : {"objectness", "classes", "boxes"}
    arm : str
        One of ``COMPARISONS[comparison]``.
    seed : int
    training : dict, optional
        Other keywords for :func:`~lossbook.training.train_dense_detector` (epochs,
        images_per_epoch, n_test, ...), the same for every arm.

    Examples
    --------
    >>> from lossbook.experiments import run_arm
    >>> metrics = run_arm("boxes", "ciou", 0, {"epochs": 1, "images_per_epoch": 64, "n_val": 20, "n_test": 20})
    >>> 0 <= metrics["map"] <= metrics["map_50"] <= 1
    True
    """
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison must be one of {tuple(COMPARISONS)}; got {comparison!r}")
    if arm not in COMPARISONS[comparison]:
        raise ValueError(f"arm must be one of {COMPARISONS[comparison]} for {comparison!r}; got {arm!r}")
    seed = check_integer(seed, "seed")
    training = dict(training or {})
    if set(training) & {"objectness", "classes", "boxes", "seed"}:
        raise ValueError("training must not set objectness, classes, boxes or seed: the experiment sets them")
    run = train_dense_detector(seed=seed, **{comparison: arm}, **training)
    return {key: float(run.metrics[key]) for key in REPORTED}


def summarize(runs):
    """Mean, standard deviation over seeds (``ddof=1``; 0 for one seed), minimum and maximum of each metric.

    Examples
    --------
    >>> from lossbook.experiments import summarize
    >>> summary = summarize([{"map": 0.5}, {"map": 0.7}])
    >>> {key: round(value["map"], 4) for key, value in summary.items()}
    {'mean': 0.6, 'std': 0.1414, 'min': 0.5, 'max': 0.7}
    """
    keys = runs[0].keys()
    values = {key: np.array([run[key] for run in runs], dtype=float) for key in keys}
    return {
        "mean": {key: float(v.mean()) for key, v in values.items()},
        "std": {key: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for key, v in values.items()},
        "min": {key: float(v.min()) for key, v in values.items()},
        "max": {key: float(v.max()) for key, v in values.items()},
    }


def environment():
    """Versions and machine, for the record: Python, NumPy, lossbook, platform, processor, cores, BLAS threads."""
    return {
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "lossbook": __version__},
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        },
    }


def _config(comparison, arm):
    """The loss settings of one arm: the defaults of every term, with `comparison` set to `arm`."""
    return tuple(sorted({**DEFAULT_ARMS, comparison: arm}.items()))


def _run_config(config, seed, training):
    """One training run of a loss configuration (a module-level function, so that worker processes can run it)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        run = train_dense_detector(seed=seed, **dict(config), **training)
    return {key: float(run.metrics[key]) for key in REPORTED}


def run_detector_experiments(path=None, *, seeds=(0, 1, 2), comparisons=None, arms=None, training=None,
                             command=None, log=None, jobs=1):
    """Run the comparisons, every arm with every seed, and write the tables to `path` as JSON.

    Parameters
    ----------
    path : str or path-like, optional
        Where to write the JSON (sorted keys, indented); nothing is written when None.
    seeds : sequence of int, default (0, 1, 2), keyword-only
    comparisons : sequence of str, optional, keyword-only
        Which of :data:`COMPARISONS` to run; all by default.
    arms : sequence of str, optional, keyword-only
        Only these arms (of any comparison); all by default. For a short check of one row.
    training : dict, optional, keyword-only
        Keywords for :func:`~lossbook.training.train_dense_detector`, the same for every run.
    command : str, optional, keyword-only
        The command line that produced the file, for the record (default: ``sys.argv`` joined).
    log : callable, optional, keyword-only
        Called with a line of text after every run.
    jobs : int, default 1, keyword-only
        Worker processes (one BLAS thread each). The default arm of every comparison (binary
        cross-entropy, softmax, GIoU) is the same detector: it is trained once per seed and its
        runs appear in all three tables.

    Returns
    -------
    dict
        ``command``, ``seeds``, ``training``, ``versions``, ``machine``, ``seconds`` and ``tables``:
        ``tables[comparison][arm]`` holds ``runs`` (one dict per seed, with its ``seed``) and the
        :func:`summarize` of them.
    """
    seeds = [check_integer(seed, "seeds") for seed in seeds]
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    comparisons = list(COMPARISONS) if comparisons is None else list(comparisons)
    unknown = set(comparisons) - set(COMPARISONS)
    if unknown:
        raise ValueError(f"comparisons must be among {tuple(COMPARISONS)}; got {sorted(unknown)}")
    training = dict(training or {})
    jobs = check_integer(jobs, "jobs")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1; got {jobs}")
    chosen = {comparison: [arm for arm in COMPARISONS[comparison] if arms is None or arm in arms]
              for comparison in comparisons}
    configs = sorted({_config(comparison, arm) for comparison in comparisons for arm in chosen[comparison]})
    work = [(config, seed) for config in configs for seed in seeds]
    start = time.perf_counter()
    results = {}
    with ProcessPoolExecutor(max_workers=jobs) if jobs > 1 else _InProcess() as pool:
        futures = {pool.submit(_run_config, config, seed, training): (config, seed) for config, seed in work}
        for future in as_completed(futures):
            config, seed = futures[future]
            metrics = results[config, seed] = future.result()
            if log is not None:
                log(f"{dict(config)} seed {seed}: map {metrics['map']:.4f}, map_50 {metrics['map_50']:.4f}, "
                    f"map_75 {metrics['map_75']:.4f} ({metrics['cpu_seconds']:.0f} s of processor time)")
    tables = {}
    for comparison in comparisons:
        for arm in chosen[comparison]:
            runs = [results[_config(comparison, arm), seed] for seed in seeds]
            tables.setdefault(comparison, {})[arm] = {
                "runs": [{"seed": seed, **metrics} for seed, metrics in zip(seeds, runs, strict=True)],
                **summarize(runs),
            }
    result = {
        "command": command if command is not None else " ".join(sys.argv),
        "seeds": seeds,
        "training": training,
        "jobs": jobs,
        **environment(),
        "seconds": time.perf_counter() - start,
        "tables": tables,
    }
    if path is not None:
        with open(path, "w") as file:
            json.dump(result, file, indent=1, sort_keys=True)
            file.write("\n")
    return result
