"""Write book/torchmetrics_calibration.json: what torchmetrics' calibration errors return.

The file sits beside the calibration chapter, which shows the comparison: a copy of the chapter that
runs alone (on Colab, or as an assignment) gets it as it gets the chapter's other data files.

The oracle for :func:`lossbook.calibration.calibration_error`. Every case calls
``torchmetrics.functional.classification.multiclass_calibration_error`` (probabilities of shape
(N, C)) or ``binary_calibration_error`` (shape (N,)) on probabilities drawn from a seeded NumPy
generator or written out by hand, and records:

* ``input``, the name of an entry of ``inputs`` that holds ``probs`` and ``target`` (arrays as
  ``{"array", "dtype", "shape"}``), with ``n_bins`` and ``norm``: the call to make on lossbook;
* ``value``, what torchmetrics returned, and ``torch_dtype``, the dtype it computed in;
* ``torchmetrics``, the call that produced it, and ``note`` where a case tests something particular.

``bin_edges`` holds ``torch.linspace(0, 1, n_bins + 1)`` in float32 and float64 for n_bins 1 to 40,
50 and 100: the edges torchmetrics bins with, which ``lossbook.calibration.bin_edges`` must equal
exactly.

The cases: random probabilities (Dirichlet rows, and sharper rows with many confidences near 1),
float32 and float64, n_bins 1, 2, 5, 10, 15 and 20, the norms "l1", "l2" and "max"; confidences
lying exactly on bin edges (the edges as ``torch.linspace`` rounds them, also for n_bins whose edges
are not binary fractions) and confidences equal to 1.0, which torchmetrics puts in a bin of their
own; and the examples of torchmetrics' docstrings.

What torchmetrics 1.9's source does, which the cases pin down: the bin edges are
``torch.linspace(0, 1, n_bins + 1)`` in the confidences' dtype; ``torch.bucketize(conf, edges,
right=True) - 1`` puts a confidence c in the bin k with ``edges[k] <= c < edges[k + 1]``, and c = 1.0
in an extra bin k = n_bins; the multiclass version casts the confidences to float32
(``confidences.float()``), the binary one keeps the input's dtype.

Neither torch nor torchmetrics is a dependency of the course. Run this script in a separate virtual
environment, from the repository root::

    python3 -m venv /tmp/tvvenv
    /tmp/tvvenv/bin/pip install torch==2.14.1 torchmetrics==1.9.0 numpy==2.4.6
    /tmp/tvvenv/bin/python tools/torchmetrics_golden.py

The output is deterministic: fixed seed, one thread, sorted keys, no timestamps.
tests/test_calibration.py checks lossbook against it.
"""

import json
import platform
import sys
from pathlib import Path

import numpy as np
import torch
import torchmetrics
from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

SEED = 20261203
OUTPUT = Path("book/torchmetrics_calibration.json")
COMMAND = "/tmp/tvvenv/bin/python tools/torchmetrics_golden.py"
NORMS = ("l1", "l2", "max")

CASES = []
INPUTS = {}


def encode_array(a):
    a = np.asarray(a)
    return {"array": a.tolist(), "dtype": str(a.dtype), "shape": list(a.shape)}


def add_input(name, probs, target):
    """Store an input once; the cases refer to it by name."""
    INPUTS[name] = {"probs": encode_array(probs), "target": encode_array(np.asarray(target, dtype=np.int64))}
    return name


def record(case_id, input_name, n_bins, norm, note=None):
    """Call torchmetrics on the stored input and record the case."""
    stored = INPUTS[input_name]
    probs = np.array(stored["probs"]["array"], dtype=stored["probs"]["dtype"]).reshape(stored["probs"]["shape"])
    target = np.array(stored["target"]["array"], dtype=np.int64)
    preds, labels = torch.from_numpy(probs.copy()), torch.from_numpy(target.copy())
    if probs.ndim == 2:
        value = multiclass_calibration_error(preds, labels, num_classes=probs.shape[1], n_bins=n_bins, norm=norm)
        call = (f"multiclass_calibration_error(preds, target, num_classes={probs.shape[1]}, "
                f"n_bins={n_bins}, norm={norm!r})")
    else:
        value = binary_calibration_error(preds, labels, n_bins=n_bins, norm=norm)
        call = f"binary_calibration_error(preds, target, n_bins={n_bins}, norm={norm!r})"
    case = {
        "id": case_id,
        "input": input_name,
        "n_bins": n_bins,
        "norm": norm,
        "value": float(value),
        "torch_dtype": str(value.dtype).removeprefix("torch."),
        "torchmetrics": call,
    }
    if note:
        case["note"] = note
    CASES.append(case)


def torch_edges(n_bins, dtype):
    """The bin edges as torchmetrics builds them."""
    return torch.linspace(0, 1, n_bins + 1, dtype=dtype).numpy()


def random_cases(rng):
    for dtype in (np.float32, np.float64):
        dirichlet = rng.dirichlet(np.ones(5), size=120).astype(dtype)
        sharp = rng.dirichlet(np.full(4, 0.15), size=150).astype(dtype)  # many confidences near 1
        for name, probs in (("dirichlet", dirichlet), ("sharp", sharp)):
            # labels drawn from the probabilities themselves, tempered so that the model is overconfident
            tempered = probs.astype(np.float64) ** 0.5
            tempered /= tempered.sum(axis=1, keepdims=True)
            target = np.array([rng.choice(len(row), p=row) for row in tempered])
            stored = add_input(f"multiclass-{name}-{np.dtype(dtype).name}", probs, target)
            for n_bins in (1, 2, 5, 10, 15, 20):
                for norm in NORMS:
                    record(f"{stored}-bins{n_bins}-{norm}", stored, n_bins, norm)
        positive = rng.uniform(size=200).astype(dtype)
        target = (rng.uniform(size=200) < positive**1.5).astype(np.int64)
        stored = add_input(f"binary-uniform-{np.dtype(dtype).name}", positive, target)
        for n_bins in (1, 2, 5, 10, 15, 20):
            for norm in NORMS:
                record(f"{stored}-bins{n_bins}-{norm}", stored, n_bins, norm)


def edge_cases(rng):
    for n_bins in (4, 10, 15):
        for dtype, torch_dtype in ((np.float64, torch.float64), (np.float32, torch.float32)):
            edges = torch_edges(n_bins, torch_dtype).astype(dtype)
            # every edge, 0.0 and 1.0 included, several times, with random labels
            positive = np.repeat(edges, 3)
            stored = add_input(f"binary-on-edges-{np.dtype(dtype).name}-bins{n_bins}", positive,
                               rng.integers(0, 2, size=positive.size))
            for norm in NORMS:
                record(f"{stored}-{norm}", stored, n_bins, norm,
                       note="every confidence lies exactly on a bin edge (as torch.linspace rounds it), 1.0 included")
    for n_bins in (4, 8, 15):
        edges = torch_edges(n_bins, torch.float32)
        top = edges[edges >= 0.5]  # top-label confidences on the edges, two classes
        probs = np.stack([top, 1 - top], axis=1).astype(np.float32)
        probs = np.repeat(probs, 2, axis=0)
        stored = add_input(f"multiclass-on-edges-float32-bins{n_bins}", probs, rng.integers(0, 2, size=len(probs)))
        for norm in NORMS:
            record(f"{stored}-{norm}", stored, n_bins, norm,
                   note="top-label confidences exactly on float32 bin edges, 1.0 included")
    ones = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.25, 0.25], [0.9, 0.05, 0.05]])
    stored = add_input("multiclass-confidence-one", ones, [0, 2, 0, 1, 0])
    for norm in NORMS:
        record(f"{stored}-{norm}", stored, 10, norm,
               note="confidences 1.0 fall in a bin of their own: merged with [0.9, 1.0) the l1 value would differ")


def docstring_cases():
    probs = [[0.25, 0.20, 0.55], [0.55, 0.05, 0.40], [0.10, 0.30, 0.60], [0.90, 0.05, 0.05]]
    multiclass = add_input("docstring-multiclass", np.array(probs, dtype=np.float32), [0, 1, 2, 0])
    binary = add_input("docstring-binary", np.array([0.25, 0.25, 0.55, 0.75, 0.75], dtype=np.float32), [0, 0, 1, 1, 1])
    for norm in NORMS:
        record(f"{multiclass}-{norm}", multiclass, 3, norm, note="the example of torchmetrics' docstring")
        record(f"{binary}-{norm}", binary, 2, norm, note="the example of torchmetrics' docstring")


def dumps(obj, indent=""):
    """JSON with sorted keys, one line per dict entry and per list of numbers (readable diffs)."""
    inner = indent + " "
    if isinstance(obj, dict):
        items = [f"{inner}{json.dumps(k)}: {dumps(obj[k], inner)}" for k in sorted(obj)]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(inner + dumps(v, inner) for v in obj) + "\n" + indent + "]"
    return json.dumps(obj, allow_nan=False)


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    random_cases(rng)
    edge_cases(rng)
    docstring_cases()
    edges = {name: {str(n): torch_edges(n, dtype).tolist() for n in [*range(1, 41), 50, 100]}
             for name, dtype in (("float32", torch.float32), ("float64", torch.float64))}
    document = {
        "bin_edges": edges,
        "command": COMMAND,
        "seed": SEED,
        "torch": torch.__version__,
        "torchmetrics": torchmetrics.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "description": ("torchmetrics' multiclass_calibration_error (probs (N, C)) and "
                        "binary_calibration_error (probs (N,)); generated by tools/torchmetrics_golden.py, "
                        "checked by tests/test_calibration.py."),
        "inputs": INPUTS,
        "cases": CASES,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    text = dumps(document) + "\n"
    OUTPUT.write_text(text)
    print(f"wrote {len(CASES)} cases to {OUTPUT} ({len(text) / 1e3:.0f} kB)", file=sys.stderr)


if __name__ == "__main__":
    main()
