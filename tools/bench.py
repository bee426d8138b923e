"""Benchmark lossbook against plain NumPy and PyTorch; time the spiral training run and every chapter.

Usage (from the repository root; ``make bench`` runs the first line)::

    .venv/bin/python tools/bench.py                        # everything, about 5 minutes on 2 cores
    .venv/bin/python tools/bench.py --skip-chapters        # the losses and the spiral only
    .venv/bin/python tools/bench.py --rounds 5 --spiral-rounds 1 --skip-chapters   # a quick look

This is a benchmark, not a test: nothing fails when a number is slow. It prints a table and writes
everything it measured to ``book/bench_results.json``, which the appendix "How fast is it?"
(``book/performance.ipynb``) reads and shows; the notebook itself never times anything, because
nbval compares its outputs.

What is timed, in one process, interleaved (every round runs each contender once, in a rotating
order, so a slow moment of the machine hits them all), with the median over the rounds and the
fastest and slowest round as the spread:

* cross-entropy and binary cross-entropy with logits, value plus gradient; softmax and
  log_softmax, value plus the gradient for an upstream gradient g (a random array, what
  backpropagation brings back to their output), at 256x10, 4096x1000 and 65536x100, in float32 and
  float64;
* contenders: ``lossbook`` (the fused ``*_value_and_grad`` entry points of ``lossbook.fused``, through
  the tuned kernels of ``lossbook._kernels``), ``lossbook reference`` (the readable reference: the value
  function, then its ``_grad`` twin, as the chapters show them), ``stable`` (the stable formula written plainly in
  NumPy, whole arrays, no fusion), ``naive`` (the textbook formula without the max shift or
  log1p, which overflows on large scores but runs on these inputs) and ``torch`` (
  ``torch.nn.functional`` forward plus ``backward()``, CPU, its default thread count);
* the cost per element of exp, log1p and a cheap pass, and of a fresh temporary against ``out=``;
* the spiral two-layer network of the course (10,000 full-batch steps) trained by
  ``lossbook.training.train`` and by a hand-written NumPy loop doing the same arithmetic;
* the time to execute each chapter listed in ``_toc.yml`` (in memory: no file is written), except
  the appendix, which reads the results this run is about to write.

PyTorch is optional and stays out of requirements.txt (it is large, and the course never needs
it). For the comparison columns install it into the course's environment::

    .venv/bin/python -m pip install torch==2.13.0

Threads: the Makefile's other targets pin BLAS to one thread; ``make bench`` unsets that, so
NumPy, lossbook (which splits large batches over two threads) and PyTorch all run with the
machine's defaults. Numbers from a busy machine are noisy: the load average is recorded.

One setting is not a default: ``GOMP_SPINCOUNT=10000`` (unless set already). PyTorch's OpenMP
threads otherwise keep spinning for milliseconds after each call, waiting for more work; in an
interleaved benchmark they then occupy the core that the next contender's second thread needs, a
cost no program that uses one library pays. With the shorter spin they still catch the next call of
a sequence (PyTorch's small-batch times did not get worse) and go to sleep soon after the last one.
Measured here, alternating samples of log_softmax at 4096x1000 float32 with a 256x10 cross-entropy:
PyTorch 2.0-3.0 ms and 0.080 ms by default, 1.7-2.4 ms and 0.073-0.076 ms with the shorter spin;
the ratio lossbook/torch moved between 2.1 and 2.8 in both settings (the machine's noise). Putting
the threads to sleep at once (``OMP_WAIT_POLICY=PASSIVE``) was tried and rejected: waking them
made PyTorch's 256x10 calls four times slower.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Before PyTorch (and its OpenMP runtime) is imported: see "One setting" above.
os.environ.setdefault("GOMP_SPINCOUNT", "10000")

import numpy as np  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "src"))  # measure this working tree's lossbook
sys.path.insert(0, str(REPO_ROOT / "tools"))

import lossbook  # noqa: E402
from lossbook import _kernels  # noqa: E402
from lossbook.datasets import make_spiral  # noqa: E402
from lossbook.models import TwoLayerNet  # noqa: E402
from lossbook.optim import GradientDescent  # noqa: E402
from lossbook.training import train  # noqa: E402

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

DEFAULT_OUTPUT = REPO_ROOT / "book" / "bench_results.json"
SIZES = [(256, 10), (4096, 1000), (65536, 100)]
DTYPES = [np.float32, np.float64]
OPERATIONS = ["cross_entropy", "binary_cross_entropy_with_logits", "softmax", "log_softmax"]
WHAT = {
    "cross_entropy": "value and gradient",
    "binary_cross_entropy_with_logits": "value and gradient",
    "softmax": "value and gradient",
    "log_softmax": "value and gradient",
}
# The goals: lossbook's median time over torch's, same run, at most this.
GOALS = [
    ("cross_entropy", (256, 10), 0.8),
    ("cross_entropy", (4096, 1000), 2.0),
    ("cross_entropy", (65536, 100), 2.0),
    ("binary_cross_entropy_with_logits", (4096, 1000), 3.0),
    ("softmax", (4096, 1000), 3.0),
    ("log_softmax", (4096, 1000), 3.0),
    ("softmax", (256, 10), 1.5),
]
SPIRAL_STEPS = 10_000
SPIRAL_GOAL_SECONDS = 6.0
SPIRAL_GOAL_RATIO = 1.2


# ---------------------------------------------------------------------------------------------
# The contenders. Each takes prepared inputs and returns what a training step would use.


def naive_cross_entropy(x, labels):
    """Textbook softmax, no max shift: exp(x) overflows for scores above ~88 (float32)."""
    n = len(x)
    exps = np.exp(x)
    probs = exps / exps.sum(axis=1, keepdims=True)
    value = -np.log(probs[np.arange(n), labels]).mean()
    grad = probs
    grad[np.arange(n), labels] -= 1
    grad /= n
    return value, grad


def stable_cross_entropy(x, labels):
    """The stable formula written plainly: shift by the row maximum, log-sum-exp, whole arrays."""
    n = len(x)
    shifted = x - x.max(axis=1, keepdims=True)
    exps = np.exp(shifted)
    sums = exps.sum(axis=1, keepdims=True)
    value = (np.log(sums[:, 0]) - shifted[np.arange(n), labels]).mean()
    grad = exps / sums
    grad[np.arange(n), labels] -= 1
    grad /= n
    return value, grad


def naive_bce(x, y):
    """Textbook BCE through the sigmoid: log(sigma(x)) is -inf once sigma(x) rounds to 0."""
    p = 1 / (1 + np.exp(-x))
    value = -(y * np.log(p) + (1 - y) * np.log(1 - p)).mean()
    return value, (p - y) / x.size


def stable_bce(x, y):
    """max(x, 0) - x y + log1p(exp(-|x|)) and a sigmoid that cannot overflow, whole arrays."""
    e = np.exp(-np.abs(x))
    value = (np.maximum(x, 0) - x * y + np.log1p(e)).mean()
    p = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return value, (p - y) / x.size


def naive_softmax(x, g):
    exps = np.exp(x)
    p = exps / exps.sum(axis=1, keepdims=True)
    return p, p * (g - (g * p).sum(axis=1, keepdims=True))


def stable_softmax(x, g):
    exps = np.exp(x - x.max(axis=1, keepdims=True))
    p = exps / exps.sum(axis=1, keepdims=True)
    return p, p * (g - (g * p).sum(axis=1, keepdims=True))


def naive_log_softmax(x, g):
    logp = x - np.log(np.exp(x).sum(axis=1, keepdims=True))
    return logp, g - np.exp(logp) * g.sum(axis=1, keepdims=True)


def stable_log_softmax(x, g):
    shifted = x - x.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return logp, g - np.exp(logp) * g.sum(axis=1, keepdims=True)


def torch_value_and_grad(loss_function):
    def run(x, target):
        leaf = x.detach().requires_grad_()
        value = loss_function(leaf, target)
        value.backward()
        return value, leaf.grad

    return run


def torch_vector_and_grad(function):
    """Forward, then backward() with the upstream gradient: what autograd runs in a network."""

    def run(x, grad_output):
        leaf = x.detach().requires_grad_()
        value = function(leaf, dim=1)
        value.backward(grad_output)
        return value, leaf.grad

    return run


def contenders(operation, x, rng):
    """name -> zero-argument callable, for one operation on the scores `x`."""
    n, c = x.shape
    if operation == "cross_entropy":
        labels = rng.integers(0, c, size=n)
        table = {
            "lossbook": lambda: lossbook.cross_entropy_value_and_grad(x, labels),
            "lossbook reference": lambda: (lossbook.cross_entropy(x, labels), lossbook.cross_entropy_grad(x, labels)),
            "stable": lambda: stable_cross_entropy(x, labels),
            "naive": lambda: naive_cross_entropy(x, labels),
        }
        if torch is not None:
            tx, tlabels, run = torch.from_numpy(x), torch.from_numpy(labels), torch_value_and_grad(F.cross_entropy)
            table["torch"] = lambda: run(tx, tlabels)
    elif operation == "binary_cross_entropy_with_logits":
        y = (rng.random(x.shape) < 0.3).astype(x.dtype)
        table = {
            "lossbook": lambda: lossbook.binary_cross_entropy_with_logits_value_and_grad(x, y),
            "lossbook reference": lambda: (
                lossbook.binary_cross_entropy_with_logits(x, y),
                lossbook.binary_cross_entropy_with_logits_grad(x, y),
            ),
            "stable": lambda: stable_bce(x, y),
            "naive": lambda: naive_bce(x, y),
        }
        if torch is not None:
            tx, ty = torch.from_numpy(x), torch.from_numpy(y)
            run = torch_value_and_grad(F.binary_cross_entropy_with_logits)
            table["torch"] = lambda: run(tx, ty)
    else:
        g = rng.standard_normal(x.shape).astype(x.dtype)
        fused = {
            "softmax": lossbook.softmax_value_and_grad, "log_softmax": lossbook.log_softmax_value_and_grad,
        }[operation]
        value = {"softmax": lossbook.softmax, "log_softmax": lossbook.log_softmax}[operation]
        grad = {"softmax": lossbook.softmax_grad, "log_softmax": lossbook.log_softmax_grad}[operation]
        naive = {"softmax": naive_softmax, "log_softmax": naive_log_softmax}[operation]
        stable = {"softmax": stable_softmax, "log_softmax": stable_log_softmax}[operation]
        table = {
            "lossbook": lambda: fused(x, g),
            "lossbook reference": lambda: (value(x), grad(x, g)),
            "stable": lambda: stable(x, g),
            "naive": lambda: naive(x, g),
        }
        if torch is not None:
            tx, tg, run = torch.from_numpy(x), torch.from_numpy(g), torch_vector_and_grad(getattr(F, operation))
            table["torch"] = lambda: run(tx, tg)
    return table


def as_numpy(result):
    """A contender's result as a flat list of float64 arrays, to check that they all agree."""
    parts = result if isinstance(result, tuple) else (result,)
    flat = []
    for part in parts:
        if torch is not None and isinstance(part, torch.Tensor):
            part = part.detach().numpy()
        flat.append(np.asarray(part, dtype=np.float64))
    return flat


def check_agreement(table, dtype):
    """Every contender must compute the same numbers as lossbook (else the timing means nothing)."""
    reference = as_numpy(table["lossbook"]())
    tolerance = 2e-4 if dtype == np.float32 else 1e-9
    for name, run in table.items():
        for ours, theirs in zip(reference, as_numpy(run()), strict=True):
            scale = max(float(np.max(np.abs(ours))), 1e-30)
            if not np.allclose(ours, theirs, rtol=tolerance, atol=tolerance * scale):
                raise SystemExit(f"{name} disagrees with lossbook; fix the benchmark before timing it")


# ---------------------------------------------------------------------------------------------
# Timing


def loops_for(run, sample_seconds):
    """How many calls make one timing sample of about `sample_seconds` (timer noise stays small)."""
    run()  # warm up: first-call costs (imports, thread start, page faults of new buffers)
    start = time.perf_counter()
    run()
    once = time.perf_counter() - start
    return max(1, min(100_000, round(sample_seconds / max(once, 1e-7))))


def time_interleaved(table, rounds, sample_seconds):
    """Seconds per call of each contender: median, min and max over `rounds` interleaved rounds."""
    loops = {name: loops_for(run, sample_seconds) for name, run in table.items()}
    samples = {name: [] for name in table}
    names = list(table)
    collecting = gc.isenabled()
    gc.disable()  # a garbage collection landing in one contender's sample would be charged to it
    try:
        for round_index in range(rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                run, count = table[name], loops[name]
                start = time.perf_counter()
                for _ in range(count):
                    run()
                samples[name].append((time.perf_counter() - start) / count)
    finally:
        if collecting:
            gc.enable()
    return {
        name: {
            "median_ms": 1e3 * statistics.median(values),
            "min_ms": 1e3 * min(values),
            "max_ms": 1e3 * max(values),
            "calls_per_sample": loops[name],
        }
        for name, values in samples.items()
    }


def ratio(times, numerator, denominator):
    if numerator not in times or denominator not in times:
        return None
    return times[numerator]["median_ms"] / times[denominator]["median_ms"]


def bench_losses(rounds, sample_seconds, log):
    rows = []
    for operation in OPERATIONS:
        for n, c in SIZES:
            for dtype in DTYPES:
                rng = np.random.default_rng(0)
                x = (2 * rng.standard_normal((n, c))).astype(dtype)
                table = contenders(operation, x, rng)
                check_agreement(table, dtype)
                times = time_interleaved(table, rounds, sample_seconds)
                row = {
                    "operation": operation,
                    "what": WHAT[operation],
                    "shape": [n, c],
                    "dtype": np.dtype(dtype).name,
                    "times": times,
                    "ratios": {
                        "lossbook/torch": ratio(times, "lossbook", "torch"),
                        "lossbook/naive": ratio(times, "lossbook", "naive"),
                        "lossbook/stable": ratio(times, "lossbook", "stable"),
                        "stable/naive": ratio(times, "stable", "naive"),
                        "lossbook/lossbook reference": ratio(times, "lossbook", "lossbook reference"),
                    },
                }
                rows.append(row)
                log(format_row(row))
    return rows


# ---------------------------------------------------------------------------------------------
# Where the time goes: costs per element, and the passes of one cross-entropy


def per_element_ns(run, elements, rounds):
    table = {"run": run}
    return 1e6 * time_interleaved(table, rounds, 0.02)["run"]["median_ms"] / elements


def bench_elementwise(rounds):
    """Nanoseconds per element of the operations a loss is made of, single-threaded NumPy."""
    rng = np.random.default_rng(0)
    results = []
    in_cache = 1 << 16  # 256 KB of float32: stays in the L2 cache
    for dtype in DTYPES:
        name = np.dtype(dtype).name
        shifted = rng.uniform(-10.0, 0.0, in_cache).astype(dtype)  # like scores minus their row maximum
        out = np.empty_like(shifted)
        # Each lambda runs within its iteration; the defaults bind this dtype's arrays all the same.
        for label, run in [
            ("exp", lambda shifted=shifted, out=out: np.exp(shifted, out=out)),
            ("log1p", lambda shifted=shifted, out=out: np.log1p(-shifted, out=out)),
            ("log", lambda shifted=shifted, out=out: np.log(-shifted, out=out)),
            ("add, in cache", lambda shifted=shifted, out=out: np.add(shifted, shifted, out=out)),
        ]:
            results.append({"operation": label, "dtype": name, "ns_per_element": per_element_ns(run, in_cache, rounds)})
    big = rng.standard_normal((4096, 1000)).astype(np.float32)
    other, out = big.copy(), np.empty_like(big)
    short_rows = rng.standard_normal((40960, 100)).astype(np.float32)
    for label, array, run in [
        ("add, from memory, out=", big, lambda: np.add(big, other, out=out)),
        ("add, from memory, fresh temporary", big, lambda: big + other),
        ("row maximum, 1000 columns", big, lambda: big.max(axis=1)),
        ("row maximum, 100 columns", short_rows, lambda: short_rows.max(axis=1)),
        ("row maximum, 100 columns, lossbook's route", short_rows, lambda: _kernels.row_max(short_rows)),
        ("row sum, 1000 columns", big, lambda: big.sum(axis=1)),
        ("row sum, 100 columns", short_rows, lambda: short_rows.sum(axis=1)),
        ("row sum, 1000 columns, lossbook's route", big, lambda: _kernels.row_sum(big)),
        ("row sum, 100 columns, lossbook's route", short_rows, lambda: _kernels.row_sum(short_rows)),
    ]:
        results.append(
            {"operation": label, "dtype": "float32", "ns_per_element": per_element_ns(run, array.size, rounds)}
        )
    return results


TEMPORARIES_SCRIPT = r"""
import json, resource, statistics, time
import numpy as np

rng = np.random.default_rng(0)
X, W, b = rng.standard_normal((300, 2)), rng.standard_normal((2, 100)), rng.standard_normal((1, 100))


def fresh_temporaries():
    return np.maximum(0, X @ W + b)


def in_place():
    hidden = X @ W
    hidden += b
    return np.maximum(hidden, 0, out=hidden)


results = {}
for name, run in [("fresh temporaries", fresh_temporaries), ("in place", in_place)] * ROUNDS:
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    for _ in range(200):
        run()
    seconds = (time.perf_counter() - start) / 200
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / 200
    results.setdefault(name, []).append((seconds, faults))
print(json.dumps({
    name: {"us": 1e6 * statistics.median(s for s, _ in v), "page_faults": statistics.median(f for _, f in v)}
    for name, v in results.items()
}))
"""


def bench_temporaries(rounds):
    """max(0, X W + b) on 300x100 float64 (the spiral's hidden layer), with fresh temporaries and in place.

    Run in a fresh Python process, as a training loop starts: there, malloc gives the memory of
    freed 240 KB temporaries back to the system, and the next call takes page faults to get it again
    (a long-running process that has handled large arrays has raised malloc's thresholds, and hides it).
    """
    try:
        import resource  # noqa: F401  (Unix only: the page-fault counts)
    except ImportError:
        return None
    completed = subprocess.run(
        [sys.executable, "-c", TEMPORARIES_SCRIPT.replace("ROUNDS", str(rounds))],
        capture_output=True, text=True, check=True,
    )
    return json.loads(completed.stdout)


def bench_threads(rounds):
    """lossbook's row kernels on one thread and on two, interleaved (4096x1000 float32)."""
    rng = np.random.default_rng(0)
    x = (2 * rng.standard_normal((4096, 1000))).astype(np.float32)
    labels = rng.integers(0, 1000, size=4096)
    saved = _kernels.WORKERS

    def on(workers, run):
        def timed():
            _kernels.WORKERS = workers
            return run()

        return timed

    results = {}
    try:
        for name, run in [
            ("cross_entropy_value_and_grad", lambda: lossbook.cross_entropy_value_and_grad(x, labels)),
            ("softmax", lambda: lossbook.softmax_value_and_grad(x, x)),
        ]:
            times = time_interleaved({"1 thread": on(1, run), "2 threads": on(2, run)}, rounds, 0.05)
            results[name] = {threads: entry["median_ms"] for threads, entry in times.items()}
    finally:
        _kernels.WORKERS = saved
    return results


def bench_cross_entropy_passes(rounds):
    """The passes of a plain stable cross-entropy, value and gradient, at 4096x1000 float32, one by one.

    Whole arrays and out= buffers on one thread, so each line is one pass over the data; lossbook
    does the same passes block by block, on two threads.
    """
    rng = np.random.default_rng(0)
    x = (2 * rng.standard_normal((4096, 1000))).astype(np.float32)
    labels = rng.integers(0, 1000, size=4096)
    rows = np.arange(len(x))
    grad = np.empty_like(x)
    shift = x.max(axis=1, keepdims=True)
    np.subtract(x, shift, out=grad)
    target_scores = grad[rows, labels]
    sums = np.exp(grad).sum(axis=1)
    scale = (sums * len(x))[:, None]
    steps = [
        ("row maximum (read)", lambda: x.max(axis=1, keepdims=True)),
        ("subtract the maximum (read, write)", lambda: np.subtract(x, shift, out=grad)),
        ("pick the target scores", lambda: grad[rows, labels]),
        ("exp (read, write)", lambda: np.exp(grad, out=grad)),
        ("row sum (read)", lambda: grad.sum(axis=1)),
        ("log of the sums, loss per row", lambda: np.log(sums) - target_scores),
        ("divide by N * sum (read, write)", lambda: np.divide(grad, scale, out=grad)),
        ("subtract 1/N at the targets", lambda: grad.__setitem__((rows, labels), grad[rows, labels] - 1 / len(x))),
    ]
    results = []
    for label, run in steps:
        np.subtract(x, shift, out=grad)
        # Repeated in place, exp sees its own output (at most 1, so it stays finite) and the divide sees
        # whatever is left: the values do not matter for the timing, the warnings would only be noise.
        with np.errstate(all="ignore"):
            ms = time_interleaved({"run": run}, rounds, 0.02)["run"]["median_ms"]
        results.append({"pass": label, "ms": ms})
    return results


# ---------------------------------------------------------------------------------------------
# The spiral training run: lossbook's model and loop against the same arithmetic by hand


def spiral_problem():
    # The CS231n case study: np.random.seed(0), the spiral, four (D, K) draws before the weights.
    legacy = np.random.RandomState(0)
    X, y = make_spiral(rng=legacy)
    for _ in range(4):
        legacy.randn(2, 3)
    return X, y, legacy


def spiral_with_lossbook(steps):
    X, y, legacy = spiral_problem()
    model = TwoLayerNet(2, 100, 3, legacy)
    history = train(model, X, y, GradientDescent(1.0), steps=steps, lam=5e-4, log=None)
    return history.loss[-1]


def spiral_by_hand(steps):
    """The same network, loss (stable softmax cross-entropy + lam sum W^2) and updates, written out."""
    X, y, legacy = spiral_problem()
    W1, b1 = 0.01 * legacy.standard_normal((2, 100)), np.zeros((1, 100))
    W2, b2 = 0.01 * legacy.standard_normal((100, 3)), np.zeros((1, 3))
    lam, step_size, n = 5e-4, 1.0, len(X)
    rows = np.arange(n)
    for _ in range(steps):
        hidden = np.maximum(0, X @ W1 + b1)
        scores = hidden @ W2 + b2
        shifted = scores - scores.max(axis=1, keepdims=True)
        exps = np.exp(shifted)
        sums = exps.sum(axis=1, keepdims=True)
        loss = (np.log(sums[:, 0]) - shifted[rows, y]).mean() + lam * np.sum(W1 * W1) + lam * np.sum(W2 * W2)
        dscores = exps / sums
        dscores[rows, y] -= 1
        dscores /= n
        dW2, db2 = hidden.T @ dscores + 2 * lam * W2, dscores.sum(axis=0, keepdims=True)
        dhidden = dscores @ W2.T
        dhidden[hidden <= 0] = 0
        dW1, db1 = X.T @ dhidden + 2 * lam * W1, dhidden.sum(axis=0, keepdims=True)
        W1 -= step_size * dW1
        b1 -= step_size * db1
        W2 -= step_size * dW2
        b2 -= step_size * db2
    return float(loss)


def bench_spiral(rounds, log):
    samples = {"lossbook": [], "by hand": []}
    final_loss = {}
    runs = {"lossbook": spiral_with_lossbook, "by hand": spiral_by_hand}
    for round_index in range(rounds):
        names = list(runs) if round_index % 2 == 0 else list(runs)[::-1]
        for name in names:
            start = time.perf_counter()
            final_loss[name] = runs[name](SPIRAL_STEPS)
            samples[name].append(time.perf_counter() - start)
            log(f"  spiral, {name}: {samples[name][-1]:.2f} s")
    summary = {
        name: {"median_s": statistics.median(v), "min_s": min(v), "max_s": max(v)} for name, v in samples.items()
    }
    return {
        "steps": SPIRAL_STEPS,
        "network": "2-100-3 ReLU, full batch (300 points), step size 1.0, lam 5e-4",
        "times": summary,
        "final_loss": {name: round(value, 4) for name, value in final_loss.items()},
        "ratio lossbook/by hand": summary["lossbook"]["median_s"] / summary["by hand"]["median_s"],
    }


# ---------------------------------------------------------------------------------------------
# Chapters


def chapters_in_toc():
    import yaml

    toc = yaml.safe_load((REPO_ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = []
    for part in toc.get("parts", []):
        for chapter in part.get("chapters", []):
            path = REPO_ROOT / (chapter["file"] + ".ipynb")
            if path.exists():
                files.append(path)
    return files


def bench_chapters(log):
    """Execute each chapter as `make execute` does (same kernel environment), without writing it.

    A chapter that reads this benchmark's results file (the appendix "How fast is it?") is left out.
    Executed here, it would read the previous run's file, because this run writes its own only at
    the end: it then failed whenever the file's format had changed since (a renamed contender, a new
    row), and when it ran, its time was that of reading a JSON file, which is not worth a row.
    """
    import nbformat
    from execute_notebooks import KERNEL_NAME, TIMEOUT_SECONDS, kernel_environment
    from nbclient import NotebookClient

    env = kernel_environment()
    env["PYTHONPATH"] = str(REPO_ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    results = []
    for path in chapters_in_toc():
        notebook = copy.deepcopy(nbformat.read(path, as_version=4))
        if any(cell.cell_type == "code" and DEFAULT_OUTPUT.name in cell.source for cell in notebook.cells):
            log(f"  {'':8s}  {path.name}  left out: it shows this benchmark's results")
            continue
        client = NotebookClient(
            notebook, kernel_name=KERNEL_NAME, timeout=TIMEOUT_SECONDS,
            resources={"metadata": {"path": str(path.parent)}},
        )
        start = time.perf_counter()
        try:
            # The kernel's stderr would print ipykernel's start-up warnings into the benchmark's report.
            client.execute(cwd=str(path.parent), env=env, stderr=subprocess.DEVNULL)
            status = "ok"
        except Exception as error:  # a failing chapter is reported, the benchmark goes on
            status = f"failed: {type(error).__name__}"
        seconds = time.perf_counter() - start
        results.append({"chapter": path.relative_to(REPO_ROOT).as_posix(), "seconds": seconds, "status": status})
        log(f"  {seconds:6.1f} s  {path.name}  {status if status != 'ok' else ''}")
    return results


# ---------------------------------------------------------------------------------------------
# Report


def machine_description():
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        features = {}
    simd = [name for name in ("AVX2", "FMA3", "AVX512F", "AVX512_SKX", "AVX512_ICL") if features.get(name)]
    try:
        from threadpoolctl import threadpool_info

        blas_threads = [pool["num_threads"] for pool in threadpool_info() if pool.get("user_api") == "blas"]
    except ImportError:
        blas_threads = []
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "simd": simd,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas_threads": blas_threads[0] if blas_threads else None,
        "lossbook_threads": _kernels.WORKERS,
        "torch": torch.__version__ if torch is not None else None,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"),
    }


def format_ms(entry):
    return f"{entry['median_ms']:9.3f} ({entry['min_ms']:.3f}-{entry['max_ms']:.3f})" if entry else ""


CONTENDER_ORDER = ["lossbook", "lossbook reference", "stable", "naive", "torch"]


def header():
    names = "".join(f"{name:>26s}" for name in CONTENDER_ORDER)
    return f"{'operation':34s}{'size':>11s} {'dtype':8s}{names}   lb/torch  lb/naive  stable/naive"


def format_row(row):
    n, c = row["shape"]
    cells = "".join(f"{format_ms(row['times'].get(name)):>26s}" for name in CONTENDER_ORDER)
    ratios = row["ratios"]

    def show(value):
        return f"{value:9.2f}" if value is not None else f"{'-':>9s}"

    return (
        f"{row['operation'] + ' (' + row['what'] + ')':34.34s}{f'{n}x{c}':>11s} {row['dtype']:8s}{cells}  "
        f"{show(ratios['lossbook/torch'])} {show(ratios['lossbook/naive'])} {show(ratios['stable/naive'])}"
    )


def evaluate_goals(rows, spiral):
    goals = []
    for operation, shape, limit in GOALS:
        for row in rows:
            if row["operation"] == operation and tuple(row["shape"]) == shape:
                measured = row["ratios"]["lossbook/torch"]
                goals.append(
                    {
                        "goal": f"{operation} ({row['what']}) at {shape[0]}x{shape[1]} {row['dtype']}: "
                        f"lossbook/torch <= {limit}",
                        "operation": operation,
                        "shape": list(shape),
                        "dtype": row["dtype"],
                        "quantity": "lossbook / torch",
                        "limit": limit,
                        "measured": measured,
                        "met": None if measured is None else measured <= limit,
                    }
                )
    if spiral is not None:
        seconds = spiral["times"]["lossbook"]["median_s"]
        ratio_to_hand = spiral["ratio lossbook/by hand"]
        goals += [
            {
                "goal": f"spiral, {SPIRAL_STEPS:,} steps with lossbook: under {SPIRAL_GOAL_SECONDS:g} s",
                "operation": "spiral",
                "quantity": "seconds",
                "limit": SPIRAL_GOAL_SECONDS,
                "measured": seconds,
                "met": seconds < SPIRAL_GOAL_SECONDS,
            },
            {
                "goal": f"spiral: lossbook/hand-written NumPy <= {SPIRAL_GOAL_RATIO}",
                "operation": "spiral",
                "quantity": "lossbook / by hand",
                "limit": SPIRAL_GOAL_RATIO,
                "measured": ratio_to_hand,
                "met": ratio_to_hand <= SPIRAL_GOAL_RATIO,
            },
        ]
    return goals


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds per loss timing (default 15)")
    parser.add_argument("--sample-seconds", type=float, default=0.02, help="length of one timing sample")
    parser.add_argument("--spiral-rounds", type=int, default=5, help="runs of each spiral training (default 5)")
    parser.add_argument("--skip-spiral", action="store_true")
    parser.add_argument("--skip-chapters", action="store_true")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON results")
    arguments = parser.parse_args(argv)

    def log(line):
        print(line, flush=True)

    machine = machine_description()
    log(f"CPU: {machine['cpu']}, {machine['cores']} cores ({', '.join(machine['simd'])}); Python {machine['python']}")
    log(f"NumPy {machine['numpy']} (BLAS threads: {machine['blas_threads']}), "
        f"lossbook threads: {machine['lossbook_threads']}")
    if torch is None:
        log(
            "PyTorch is not installed: its column stays empty. For the comparison, install it (not part of"
            " requirements.txt):\n    .venv/bin/python -m pip install torch==2.13.0"
        )
    else:
        log(f"PyTorch {machine['torch']}, {machine['torch_threads']} threads, "
            f"GOMP_SPINCOUNT={machine['gomp_spincount']}")
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    started = time.perf_counter()

    log("\nMilliseconds per call: median (fastest-slowest round); ratios of medians.")
    log(header())
    rows = bench_losses(arguments.rounds, arguments.sample_seconds, log)

    log("\nWhere the time goes")
    elementwise = bench_elementwise(max(5, arguments.rounds // 2))
    for entry in elementwise:
        log(f"  {entry['operation']:36s} {entry['dtype']:8s} {entry['ns_per_element']:7.3f} ns per element")
    passes = bench_cross_entropy_passes(max(5, arguments.rounds // 2))
    for entry in passes:
        log(f"  cross-entropy 4096x1000 float32, {entry['pass']:36s} {entry['ms']:7.3f} ms")
    temporaries = bench_temporaries(max(5, arguments.rounds // 2))
    for name, entry in (temporaries or {}).items():
        log(f"  max(0, X W + b), 300x100 float64, fresh process, {name:18s} {entry['us']:8.1f} us, "
            f"{entry['page_faults']:.0f} page faults per call")
    threads = bench_threads(max(5, arguments.rounds // 2))
    for name, times in threads.items():
        log(f"  {name} 4096x1000 float32: " + ", ".join(f"{k} {v:.2f} ms" for k, v in times.items()))

    spiral = None
    if not arguments.skip_spiral:
        log(f"\nSpiral, {SPIRAL_STEPS:,} full-batch steps")
        spiral = bench_spiral(arguments.spiral_rounds, log)
        log(f"  ratio lossbook/by hand: {spiral['ratio lossbook/by hand']:.2f}")

    chapters = None
    if not arguments.skip_chapters:
        log("\nChapters (executed in memory, as `make execute` runs them)")
        chapters = bench_chapters(log)

    goals = evaluate_goals(rows, spiral)
    log("\nGoals (lossbook over torch, ratio of medians)")
    for goal in goals:
        verdict = {True: "met", False: "NOT met", None: "not measured (no PyTorch)"}[goal["met"]]
        measured = f"{goal['measured']:.2f}" if goal["measured"] is not None else "-"
        log(f"  {verdict:8s} {measured:>6s}  {goal['goal']}")

    results = {
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "make bench (tools/bench.py)",
        "machine": machine,
        "load_average": {"before": load_before, "after": os.getloadavg() if hasattr(os, "getloadavg") else None},
        "settings": {
            "rounds": arguments.rounds,
            "sample_seconds": arguments.sample_seconds,
            "spiral_rounds": arguments.spiral_rounds,
        },
        "losses": rows,
        "elementwise": elementwise,
        "cross_entropy_passes": passes,
        "temporaries": temporaries,
        "threads": threads,
        "spiral": spiral,
        "chapters": chapters,
        "goals": goals,
        "seconds": time.perf_counter() - started,
    }
    arguments.output.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    output = arguments.output
    log(f"\nWrote {output.relative_to(REPO_ROOT) if output.is_relative_to(REPO_ROOT) else output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
