"""Write tests/golden/torch_parity.json: what real PyTorch returns, value and gradient, on the edge cases.

The oracle for "whole PyTorch parity". Every case calls a ``torch.nn.functional`` (or ``torch``)
function on inputs drawn from a seeded NumPy generator or written out by hand, and records, under
the name of the matching ``lossbook`` function and with ``lossbook``'s argument names:

* ``args`` and ``kwargs``, the call to make on ``lossbook`` (arrays as ``{"array", "dtype",
  "shape"}``, tuples as ``{"tuple": [...]}``, NumPy dtypes as ``{"numpy_dtype": "float64"}``);
* ``value``, ``shape`` and ``dtype``, what PyTorch returned;
* for the losses, ``grad``, ``grad_shape`` and ``grad_dtype``: PyTorch's autograd gradient of
  ``output.sum()`` with respect to the first argument (for a reduced loss the sum is the loss itself;
  for ``reduction="none"`` it is the gradient of the sum, the convention of ``lossbook``'s ``_grad``
  twins);
* ``torch``, the PyTorch call that produced it, and ``note`` where PyTorch does something a reader
  would not guess.

The vector-Jacobian products ``softmax_grad``/``log_softmax_grad`` are cases of their own
(``torch.autograd.grad(out, x, grad_outputs=g)``), and so is ``softplus_grad`` (the elementwise
derivative, autograd of the sum). NaN and the infinities are written as the strings ``"nan"``,
``"inf"`` and ``"-inf"`` (JSON has no NaN). Inputs are float64 unless the case is about float32.

``sigmoid_focal_loss`` and ``generalized_box_iou_loss`` are torchvision's, which this script does not
install, so they have no golden cases here.

PyTorch is NOT a dependency of the course (it is not in requirements.txt). Run this script in a
separate virtual environment, from the repository root::

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 numpy==2.4.6
    /tmp/torchvenv/bin/python tools/torch_golden.py

The output is deterministic: fixed seed, one thread, sorted keys, no timestamps. Running it twice
with the same PyTorch gives the same bytes. tests/test_torch_parity.py checks ``lossbook`` against it.

What PyTorch 2.13's source does with ``weight=`` in the regression losses (read from
``inspect.getsource(torch.nn.functional.mse_loss)`` and friends), which the cases record:

* ``mse_loss`` and ``l1_loss`` with ``weight`` and ``reduction="mean"`` return
  ``sum(weight * err) / sum(weight)``: a weighted average;
* ``huber_loss`` with ``weight`` and ``reduction="mean"`` returns ``(weight * err).mean()``: the
  plain mean over the elements, NOT divided by the sum of the weights;
* all three require ``weight.shape == input.shape`` exactly (``ValueError`` otherwise; no
  broadcasting), and ``reduction="sum"``/``"none"`` are ``sum(weight * err)`` / ``weight * err``.
"""

import json
import math
import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SEED = 20261126
OUTPUT = Path("tests/golden/torch_parity.json")
COMMAND = "/tmp/torchvenv/bin/python tools/torch_golden.py"

TORCH_DTYPES = {np.dtype("float64"): torch.float64, np.dtype("float32"): torch.float32,
                np.dtype("int64"): torch.int64}


# --------------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------------

def encode_number(v):
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
    return v


def encode_nested(data):
    if isinstance(data, list):
        return [encode_nested(d) for d in data]
    return encode_number(data)


def encode_array(a):
    a = np.asarray(a)
    return {"array": encode_nested(a.tolist()), "dtype": str(a.dtype), "shape": list(a.shape)}


class Tuple(tuple):
    """An axis tuple (encoded as {"tuple": [...]}, passed to torch as dim=)."""


class Dtype:
    """A NumPy dtype for the dtype= argument of softmax/log_softmax."""

    def __init__(self, name):
        self.name = name


def encode_arg(v):
    if isinstance(v, np.ndarray):
        return encode_array(v)
    if isinstance(v, Tuple):
        return {"tuple": list(v)}
    if isinstance(v, Dtype):
        return {"numpy_dtype": v.name}
    return encode_number(v)


def to_torch(v, requires_grad=False):
    if isinstance(v, np.ndarray):
        t = torch.from_numpy(v.copy())
        if requires_grad:
            t.requires_grad_(True)
        return t
    if isinstance(v, Tuple):
        return tuple(v)
    if isinstance(v, Dtype):
        return TORCH_DTYPES[np.dtype(v.name)]
    return v


def describe(v):
    if isinstance(v, np.ndarray):
        return f"tensor(shape={tuple(v.shape)}, dtype={v.dtype})"
    if isinstance(v, Dtype):
        return f"torch.{v.name}"
    return repr(v) if not isinstance(v, Tuple) else repr(tuple(v))


# --------------------------------------------------------------------------------------------------
# Running a case
# --------------------------------------------------------------------------------------------------

CASES = []


def record(case_id, function, args, kwargs, torch_name, torch_fn, *, grad=False, rename=None, note=None):
    """Call torch_fn(*args, **kwargs) (arrays as tensors) and record the case under lossbook's names.

    rename maps lossbook keyword names to PyTorch's (axis -> dim, keepdims -> keepdim).
    grad: also record the autograd gradient of output.sum() with respect to args[0].
    """
    rename = rename or {}
    targs = [to_torch(a, requires_grad=(grad and i == 0)) for i, a in enumerate(args)]
    tkwargs = {rename.get(k, k): to_torch(v) for k, v in kwargs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's "mean" deprecation notice
        out = torch_fn(*targs, **tkwargs)
    value = out.detach().numpy()
    case = {
        "id": case_id,
        "function": function,
        "args": [encode_arg(a) for a in args],
        "kwargs": {k: encode_arg(v) for k, v in kwargs.items()},
        "value": encode_nested(value.tolist()),
        "shape": list(value.shape),
        "dtype": str(value.dtype),
        "torch": "{}({})".format(torch_name, ", ".join(
            [describe(a) for a in args] + [f"{rename.get(k, k)}={describe(v)}" for k, v in kwargs.items()])),
    }
    if grad:
        (g,) = torch.autograd.grad(out.sum(), targs[0])
        g = g.numpy()
        case.update({"grad": encode_nested(g.tolist()), "grad_shape": list(g.shape), "grad_dtype": str(g.dtype)})
    if note:
        case["note"] = note
    if any(c["id"] == case_id for c in CASES):
        raise ValueError(f"duplicate case id {case_id}")
    CASES.append(case)


def record_vjp(case_id, function, x, grad_output, axis, torch_name, torch_fn, note=None):
    """The vector-Jacobian product grad_output^T d f(x)/dx, by autograd with grad_outputs."""
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    out = torch_fn(tx, dim=axis)
    (g,) = torch.autograd.grad(out, tx, grad_outputs=torch.from_numpy(grad_output.copy()))
    g = g.numpy()
    case = {
        "id": case_id,
        "function": function,
        "args": [encode_array(x), encode_array(grad_output)],
        "kwargs": {"axis": axis},
        "value": encode_nested(g.tolist()),
        "shape": list(g.shape),
        "dtype": str(g.dtype),
        "torch": f"torch.autograd.grad({torch_name}(x, dim={axis}), x, grad_outputs=grad_output)",
    }
    if note:
        case["note"] = note
    CASES.append(case)


# --------------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------------

def f64(a):
    return np.asarray(a, dtype=np.float64)


def f32(a):
    return np.asarray(a, dtype=np.float32)


def i64(a):
    return np.asarray(a, dtype=np.int64)


def classification_cases(rng):
    N, C = 4, 5
    logits = rng.normal(size=(N, C)) * 2.0
    log_probs = F.log_softmax(torch.from_numpy(logits), dim=1).numpy()
    weight = rng.uniform(0.5, 2.0, size=C)
    target = i64([0, 3, 1, 4])
    ignored = i64([-100, -100, -100, -100])
    nan_note = ("every target is ignored: reduction='mean' divides 0 by a total weight of 0, so "
                "PyTorch returns nan, yet its gradient is all zeros (not nan)")

    # Every target ignored, with and without weight (and, for cross_entropy, label smoothing).
    for reduction in ["mean", "sum", "none"]:
        for wname, w in [("noweight", None), ("weight", weight)]:
            kw = {"reduction": reduction}
            if w is not None:
                kw["weight"] = w
            note = nan_note if reduction == "mean" else None
            record(f"nll_loss-all_ignored-{reduction}-{wname}", "nll_loss", [log_probs, ignored], kw,
                   "F.nll_loss", F.nll_loss, grad=True, note=note)
            for ls in [0.0, 0.2]:
                kw2 = dict(kw)
                if ls:
                    kw2["label_smoothing"] = ls
                record(f"cross_entropy-all_ignored-{reduction}-{wname}-ls{ls}", "cross_entropy",
                       [logits, ignored], kw2, "F.cross_entropy", F.cross_entropy, grad=True, note=note)
    # A non-default ignore_index, every target equal to it; reduction left at its default "mean".
    record("nll_loss-all_ignored-ignore_index2-default", "nll_loss", [log_probs, i64([2, 2, 2, 2])],
           {"ignore_index": 2}, "F.nll_loss", F.nll_loss, grad=True, note=nan_note)
    record("cross_entropy-all_ignored-ignore_index2-default", "cross_entropy", [logits, i64([2, 2, 2, 2])],
           {"ignore_index": 2, "label_smoothing": 0.1}, "F.cross_entropy", F.cross_entropy, grad=True,
           note=nan_note)

    # Some targets ignored: the mean divides by the summed weight of the kept targets only; label
    # smoothing's uniform term is averaged the same way.
    partial = i64([0, -100, 1, 4])
    for reduction in ["mean", "sum", "none"]:
        record(f"nll_loss-some_ignored-{reduction}-weight", "nll_loss", [log_probs, partial],
               {"weight": weight, "reduction": reduction}, "F.nll_loss", F.nll_loss, grad=True)
        record(f"cross_entropy-some_ignored-{reduction}-weight-ls0.3", "cross_entropy", [logits, partial],
               {"weight": weight, "reduction": reduction, "label_smoothing": 0.3},
               "F.cross_entropy", F.cross_entropy, grad=True)

    # Defaults (reduction "mean", no weight, no smoothing) and the plain configurations.
    record("nll_loss-defaults", "nll_loss", [log_probs, target], {}, "F.nll_loss", F.nll_loss, grad=True)
    record("cross_entropy-defaults", "cross_entropy", [logits, target], {}, "F.cross_entropy",
           F.cross_entropy, grad=True)
    record("cross_entropy-weight-ls0.1-mean", "cross_entropy", [logits, target],
           {"weight": weight, "label_smoothing": 0.1}, "F.cross_entropy", F.cross_entropy, grad=True)
    # Same inputs as nll_loss-defaults but through cross_entropy: log_softmax of log-probabilities is
    # themselves, so the value matches nll_loss (the gradient, with respect to logits, does not).
    record("cross_entropy-on_log_probs-mean", "cross_entropy", [log_probs, target], {}, "F.cross_entropy",
           F.cross_entropy, grad=True)

    # Empty batch (0, C).
    empty = np.zeros((0, C))
    empty_t = i64(np.zeros(0))
    for reduction in ["mean", "sum", "none"]:
        note = "empty batch: mean of nothing is nan, gradient is an empty (0, C) array" if reduction == "mean" else None
        record(f"nll_loss-empty-{reduction}", "nll_loss", [empty, empty_t], {"reduction": reduction},
               "F.nll_loss", F.nll_loss, grad=True, note=note)
        record(f"cross_entropy-empty-{reduction}", "cross_entropy", [empty, empty_t], {"reduction": reduction},
               "F.cross_entropy", F.cross_entropy, grad=True, note=note)
        record(f"cross_entropy-empty-{reduction}-weight-ls0.1", "cross_entropy", [empty, empty_t],
               {"reduction": reduction, "weight": weight, "label_smoothing": 0.1},
               "F.cross_entropy", F.cross_entropy, grad=True, note=note)

    # float32 pins the dtype handling.
    logits32 = f32(logits)
    for reduction in ["mean", "none"]:
        record(f"cross_entropy-float32-{reduction}", "cross_entropy", [logits32, target],
               {"reduction": reduction}, "F.cross_entropy", F.cross_entropy, grad=True)
    record("cross_entropy-float32-weight-ls0.1-sum", "cross_entropy", [logits32, target],
           {"weight": f32(weight), "label_smoothing": 0.1, "reduction": "sum"},
           "F.cross_entropy", F.cross_entropy, grad=True)
    record("cross_entropy-float32-all_ignored-mean", "cross_entropy", [logits32, ignored], {},
           "F.cross_entropy", F.cross_entropy, grad=True, note=nan_note)
    record("nll_loss-float32-weight-mean", "nll_loss", [f32(log_probs), partial], {"weight": f32(weight)},
           "F.nll_loss", F.nll_loss, grad=True)


def margin_cases(rng):
    N, C = 3, 4
    x = rng.normal(size=(N, C))
    y = i64([1, 0, 3])
    w = rng.uniform(0.5, 2.0, size=C)
    for reduction in ["mean", "sum", "none"]:
        record(f"multi_margin_loss-p2-margin0.7-weight-{reduction}", "multi_margin_loss", [x, y],
               {"p": 2, "margin": 0.7, "weight": w, "reduction": reduction}, "F.multi_margin_loss",
               F.multi_margin_loss, grad=True,
               note=("weight[target] multiplies every hinge term of that sample; 'mean' is the plain "
                     "mean over samples, not divided by the sum of the weights") if reduction == "mean" else None)
    record("multi_margin_loss-defaults", "multi_margin_loss", [x, y], {}, "F.multi_margin_loss",
           F.multi_margin_loss, grad=True)
    record("multi_margin_loss-p2", "multi_margin_loss", [x, y], {"p": 2}, "F.multi_margin_loss",
           F.multi_margin_loss, grad=True)
    # Unbatched: input (C,), target 0-d or (1,). The output follows the target's shape for "none".
    xu = f64([0.5, 1.0, -1.0, 0.25])
    for tname, t in [("target0d", i64(1)), ("target1", i64([1]))]:
        for reduction in ["mean", "none"]:
            record(f"multi_margin_loss-unbatched-{tname}-{reduction}", "multi_margin_loss", [xu, t],
                   {"reduction": reduction}, "F.multi_margin_loss", F.multi_margin_loss, grad=True)
        record(f"multi_margin_loss-unbatched-{tname}-p2-margin0.9-weight-sum", "multi_margin_loss", [xu, t],
               {"p": 2, "margin": 0.9, "weight": f64([1.0, 3.0, 0.5, 2.0]), "reduction": "sum"},
               "F.multi_margin_loss", F.multi_margin_loss, grad=True)
    # 0-d input: PyTorch reads it as one sample with a single class (C = 1), so the only valid target
    # is 0 and there is no other class to violate the margin: the loss is 0, the gradient 0.
    x0 = f64(0.5)
    note0 = ("0-d input = one sample of C = 1 class: target must be 0 (1 is 'target out of range'); "
             "no j != y term, so the loss is 0 and the gradient 0; 'none' has the target's shape")
    for tname, t in [("target0d", i64(0)), ("target1", i64([0]))]:
        for reduction in ["mean", "sum", "none"]:
            record(f"multi_margin_loss-0d-{tname}-{reduction}", "multi_margin_loss", [x0, t],
                   {"reduction": reduction}, "F.multi_margin_loss", F.multi_margin_loss, grad=True, note=note0)
    record("multi_margin_loss-0d-target1-p2-weight-mean", "multi_margin_loss", [x0, i64([0])],
           {"p": 2, "weight": f64([2.0])}, "F.multi_margin_loss", F.multi_margin_loss, grad=True, note=note0)


def kl_cases(rng):
    # The 2x3 example: "mean" divides by all 6 elements, "batchmean" by the 2 rows (3 times more).
    inp = F.log_softmax(torch.tensor([[1.0, 2.0, 3.0], [1.0, 0.0, -1.0]], dtype=torch.float64), dim=1).numpy()
    tgt = f64([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    record("kl_div-2x3-default", "kl_div", [inp, tgt], {}, "F.kl_div", F.kl_div, grad=True,
           note="PyTorch's default reduction is 'mean': sum / input.numel(), NOT sum / batch ('batchmean')")
    for reduction in ["mean", "batchmean", "sum", "none"]:
        record(f"kl_div-2x3-{reduction}", "kl_div", [inp, tgt], {"reduction": reduction}, "F.kl_div",
               F.kl_div, grad=True)
    log_tgt = np.log(tgt)
    for reduction in ["mean", "batchmean", "sum", "none"]:
        record(f"kl_div-2x3-log_target-{reduction}", "kl_div", [inp, log_tgt],
               {"reduction": reduction, "log_target": True}, "F.kl_div", F.kl_div, grad=True)
    # A zero in the target (not log_target): 0 * log 0 counts as 0 (xlogy).
    record("kl_div-target_zero-sum", "kl_div", [f64([[-1.0, -2.0, -0.5]]), f64([[0.0, 0.75, 0.25]])],
           {"reduction": "sum"}, "F.kl_div", F.kl_div, grad=True,
           note="target 0 contributes 0 (xlogy), and its gradient is -0.0")
    # A -inf in log_target (a zero probability): PyTorch computes exp(t) * (t - x) = 0 * (-inf) = nan
    # there (no xlogy on this path), while its gradient -exp(t) is -0.0.
    record("kl_div-log_target_-inf-none", "kl_div", [f64([[-1.0, -2.0]]), f64([[-np.inf, 0.0]])],
           {"reduction": "none", "log_target": True}, "F.kl_div", F.kl_div, grad=True,
           note=("log_target=True with a -inf target gives nan (0 * -inf), unlike log_target=False with a "
                 "0 target, which gives 0; the gradient there is -0.0"))
    # 3-D: batchmean divides by input.shape[0] only.
    x3 = F.log_softmax(torch.from_numpy(rng.normal(size=(2, 3, 4))), dim=-1).numpy()
    t3 = F.softmax(torch.from_numpy(rng.normal(size=(2, 3, 4))), dim=-1).numpy()
    for reduction in ["batchmean", "mean"]:
        record(f"kl_div-3d-{reduction}", "kl_div", [x3, t3], {"reduction": reduction}, "F.kl_div", F.kl_div,
               grad=True)
    # 0-d input and target: every reduction gives the same number (batchmean does not divide a 0-d).
    for reduction in [None, "mean", "batchmean", "sum", "none"]:
        kw = {} if reduction is None else {"reduction": reduction}
        record(f"kl_div-0d-{reduction or 'default'}", "kl_div", [f64(-0.5), f64(0.3)], kw, "F.kl_div",
               F.kl_div, grad=True,
               note=("0-d: all reductions return the single term; 'batchmean' divides by nothing"
                     if reduction == "batchmean" else None))
    # float32
    record("kl_div-2x3-float32-batchmean", "kl_div", [f32(inp), f32(tgt)], {"reduction": "batchmean"},
           "F.kl_div", F.kl_div, grad=True)


def regression_cases(rng):
    N, C = 4, 3
    x = rng.normal(size=(N, C)) * 2.0
    y = rng.normal(size=(N, C))
    w = rng.uniform(0.0, 2.0, size=(N, C))
    # Kinks: the differences hit 0 (l1), +-1 (huber delta=1, smooth_l1 beta=1), +-0.5.
    xk = f64([[0.0, 1.0, -1.0], [0.5, -0.5, 2.0]])
    yk = np.zeros((2, 3))
    weighted_note = {
        "mse_loss": "weighted 'mean' is sum(weight * err) / sum(weight)",
        "l1_loss": "weighted 'mean' is sum(weight * err) / sum(weight)",
        "huber_loss": "weighted 'mean' is mean(weight * err): NOT divided by sum(weight), unlike mse/l1",
    }
    for name, fn in [("mse_loss", F.mse_loss), ("l1_loss", F.l1_loss), ("huber_loss", F.huber_loss),
                     ("smooth_l1_loss", F.smooth_l1_loss)]:
        for reduction in ["mean", "sum", "none"]:
            record(f"{name}-{reduction}", name, [x, y], {"reduction": reduction}, f"F.{name}", fn, grad=True)
            record(f"{name}-kinks-{reduction}", name, [xk, yk], {"reduction": reduction}, f"F.{name}", fn,
                   grad=True)
            if name != "smooth_l1_loss":
                record(f"{name}-weight-{reduction}", name, [x, y], {"reduction": reduction, "weight": w},
                       f"F.{name}", fn, grad=True, note=weighted_note[name] if reduction == "mean" else None)
            # Empty input.
            record(f"{name}-empty-{reduction}", name, [np.zeros(0), np.zeros(0)], {"reduction": reduction},
                   f"F.{name}", fn, grad=True,
                   note=("empty: 'mean' is nan, 'sum' is 0.0, 'none' is empty; gradient empty"
                         if reduction == "mean" else None))
        record(f"{name}-defaults", name, [x, y], {}, f"F.{name}", fn, grad=True)
    for delta in [0.5, 2.0]:
        record(f"huber_loss-delta{delta}-mean", "huber_loss", [xk, yk], {"delta": delta}, "F.huber_loss",
               F.huber_loss, grad=True)
        record(f"huber_loss-delta{delta}-weight-mean", "huber_loss", [x, y], {"delta": delta, "weight": w},
               "F.huber_loss", F.huber_loss, grad=True)
    for beta in [0.5, 2.0]:
        record(f"smooth_l1_loss-beta{beta}-mean", "smooth_l1_loss", [xk, yk], {"beta": beta},
               "F.smooth_l1_loss", F.smooth_l1_loss, grad=True)
    record("smooth_l1_loss-beta0-none", "smooth_l1_loss", [x, y], {"beta": 0.0, "reduction": "none"},
           "F.smooth_l1_loss", F.smooth_l1_loss, grad=True,
           note="beta=0 is accepted and gives the L1 loss")
    # float32
    record("mse_loss-float32-weight-mean", "mse_loss", [f32(x), f32(y)], {"weight": f32(w)}, "F.mse_loss",
           F.mse_loss, grad=True)
    record("huber_loss-float32-none", "huber_loss", [f32(x), f32(y)], {"reduction": "none"}, "F.huber_loss",
           F.huber_loss, grad=True)


def bce_cases(rng):
    N, C = 4, 3
    x = rng.normal(size=(N, C)) * 3.0
    y = rng.uniform(size=(N, C))
    y[0] = [0.0, 1.0, 0.0]
    fn, tn = F.binary_cross_entropy_with_logits, "F.binary_cross_entropy_with_logits"
    name = "binary_cross_entropy_with_logits"
    for reduction in ["mean", "sum", "none"]:
        record(f"bce-{reduction}", name, [x, y], {"reduction": reduction}, tn, fn, grad=True)
        record(f"bce-empty-{reduction}", name, [np.zeros(0), np.zeros(0)], {"reduction": reduction}, tn, fn,
               grad=True)
    record("bce-defaults", name, [x, y], {}, tn, fn, grad=True)
    shapes = {"1": (1,), "C": (C,), "1xC": (1, C), "NxC": (N, C)}
    for sname, shape in shapes.items():
        pw = rng.uniform(0.5, 3.0, size=shape)
        wt = rng.uniform(0.0, 2.0, size=shape)
        record(f"bce-pos_weight{sname}-mean", name, [x, y], {"pos_weight": pw}, tn, fn, grad=True)
        record(f"bce-weight{sname}-sum", name, [x, y], {"weight": wt, "reduction": "sum"}, tn, fn, grad=True)
        record(f"bce-weight{sname}-pos_weight{sname}-none", name, [x, y],
               {"weight": wt, "pos_weight": pw, "reduction": "none"}, tn, fn, grad=True)
    # 3-D input (N, C, K): pos_weight broadcasts against the LAST dimension (K), like any tensor.
    K = 2
    x3 = rng.normal(size=(N, C, K)) * 2.0
    y3 = rng.uniform(size=(N, C, K))
    for sname, shape in {"K": (K,), "1": (1,), "NxCxK": (N, C, K)}.items():
        pw = rng.uniform(0.5, 3.0, size=shape)
        record(f"bce-3d-pos_weight{sname}-mean", name, [x3, y3], {"pos_weight": pw}, tn, fn, grad=True,
               note="pos_weight broadcasts against the last dimension of the input" if sname == "K" else None)
    record("bce-3d-weightK-pos_weightK-none", name, [x3, y3],
           {"weight": rng.uniform(size=K), "pos_weight": rng.uniform(0.5, 3.0, size=K), "reduction": "none"},
           tn, fn, grad=True)
    # Large logits: stable, no overflow.
    xl = f64([[-800.0, 800.0, -40.0, 40.0, 0.0]])
    yl = f64([[1.0, 0.0, 0.5, 0.5, 1.0]])
    record("bce-large_logits-pos_weight-none", name, [xl, yl], {"pos_weight": f64([2.0]), "reduction": "none"},
           tn, fn, grad=True)
    # float32
    record("bce-float32-pos_weightC-mean", name, [f32(x), f32(y)], {"pos_weight": f32([1.0, 2.0, 0.5])}, tn, fn,
           grad=True)
    record("bce-float32-weightNxC-none", name, [f32(x), f32(y)],
           {"weight": f32(rng.uniform(size=(N, C))), "reduction": "none"}, tn, fn, grad=True)


def primitive_cases(rng):
    ax = {"axis": "dim", "keepdims": "keepdim"}

    def sm(x, dim=-1, dtype=None):
        return F.softmax(x, dim=dim, dtype=dtype)

    def lsm(x, dim=-1, dtype=None):
        return F.log_softmax(x, dim=dim, dtype=dtype)

    # 0-d inputs: dim 0 (and -1) is the single element.
    for axis in [0, -1]:
        record(f"softmax-0d-axis{axis}", "softmax", [f64(2.0)], {"axis": axis}, "F.softmax", sm, rename=ax)
        record(f"log_softmax-0d-axis{axis}", "log_softmax", [f64(2.0)], {"axis": axis}, "F.log_softmax", lsm,
               rename=ax)
        record(f"logsumexp-0d-axis{axis}", "logsumexp", [f64(2.0)], {"axis": axis}, "torch.logsumexp",
               torch.logsumexp, rename=ax)
    # Empty axes.
    for shape in [(0,), (2, 0)]:
        sname = "x".join(map(str, shape))
        record(f"softmax-empty{sname}", "softmax", [np.zeros(shape)], {"axis": -1}, "F.softmax", sm, rename=ax)
        record(f"log_softmax-empty{sname}", "log_softmax", [np.zeros(shape)], {"axis": -1}, "F.log_softmax",
               lsm, rename=ax)
        record(f"logsumexp-empty{sname}", "logsumexp", [np.zeros(shape)], {"axis": -1}, "torch.logsumexp",
               torch.logsumexp, rename=ax, note="logsumexp over an empty axis is -inf (log of an empty sum)")
    record("logsumexp-empty0x3-axis-1", "logsumexp", [np.zeros((0, 3))], {"axis": -1}, "torch.logsumexp",
           torch.logsumexp, rename=ax)
    record("logsumexp-empty0x3-axis0", "logsumexp", [np.zeros((0, 3))], {"axis": 0}, "torch.logsumexp",
           torch.logsumexp, rename=ax)
    record("softmax-empty0x3-axis-1", "softmax", [np.zeros((0, 3))], {"axis": -1}, "F.softmax", sm, rename=ax)
    # Tuples of axes, keepdims.
    x3 = rng.normal(size=(2, 3, 4)) * 3.0
    for axes in [(0, 2), (-1, 0), (0, 1, 2), (1,)]:
        for keep in [False, True]:
            aname = ",".join(map(str, axes))
            record(f"logsumexp-2x3x4-axis({aname})-keepdims{keep}", "logsumexp", [x3],
                   {"axis": Tuple(axes), "keepdims": keep}, "torch.logsumexp", torch.logsumexp, rename=ax)
    for axis in [0, 1, -1]:
        record(f"logsumexp-2x3x4-axis{axis}-keepdimsTrue", "logsumexp", [x3], {"axis": axis, "keepdims": True},
               "torch.logsumexp", torch.logsumexp, rename=ax)
    record("logsumexp-large-inf", "logsumexp", [f64([[1000.0, 1000.0, -np.inf], [-np.inf, -np.inf, -np.inf]])],
           {"axis": -1}, "torch.logsumexp", torch.logsumexp, rename=ax,
           note="a row of -inf gives -inf (not nan)")
    # dtype=: the input is cast first.
    x = rng.normal(size=(3, 4)) * 4.0
    for fname, tf, tname in [("softmax", sm, "F.softmax"), ("log_softmax", lsm, "F.log_softmax")]:
        record(f"{fname}-float32-dtype_float64", fname, [f32(x)], {"axis": -1, "dtype": Dtype("float64")}, tname,
               tf, rename=ax)
        record(f"{fname}-float64-dtype_float32", fname, [x], {"axis": -1, "dtype": Dtype("float32")}, tname,
               tf, rename=ax)
        record(f"{fname}-float32-axis0", fname, [f32(x)], {"axis": 0}, tname, tf, rename=ax)
        record(f"{fname}-float64-axis1", fname, [x], {"axis": 1}, tname, tf, rename=ax)
        record(f"{fname}-large", fname, [f64([[1000.0, 0.0, -1000.0], [-np.inf, 0.0, 1.0]])], {"axis": -1},
               tname, tf, rename=ax)
    # Vector-Jacobian products.
    g = rng.normal(size=(3, 4))
    for fname, tf, tname in [("softmax_grad", F.softmax, "F.softmax"),
                             ("log_softmax_grad", F.log_softmax, "F.log_softmax")]:
        record_vjp(f"{fname}-3x4-axis-1", fname, x, g, -1, tname, tf)
        record_vjp(f"{fname}-3x4-axis0", fname, x, g, 0, tname, tf)
        record_vjp(f"{fname}-float32-axis-1", fname, f32(x), f32(g), -1, tname, tf)
        record_vjp(f"{fname}-0d", fname, f64(2.0), f64(1.5), 0, tname, tf,
                   note="0-d: softmax is the constant 1, so the product is 0 (log_softmax: the constant 0)")
        record_vjp(f"{fname}-empty2x0", fname, np.zeros((2, 0)), np.zeros((2, 0)), -1, tname, tf)
    # softplus: beta x threshold, points on both sides of (and at) x = threshold / beta. PyTorch
    # switches to the identity when beta * x > threshold (strictly).
    for beta in [1.0, 2.0, 0.5]:
        for threshold in [20.0, 1.0, 5.0]:
            edge = threshold / beta
            pts = f64([-30.0, -1.0, 0.0, 0.3, edge - 0.01, edge, edge + 0.01, edge + 3.0, 60.0])
            kw = {"beta": beta, "threshold": threshold}
            note = ("identity where beta * x > threshold (strictly): at x = threshold / beta it is still "
                    "log1p(exp(beta * x)) / beta, so the value jumps at the threshold")
            record(f"softplus-beta{beta}-threshold{threshold}", "softplus", [pts], kw, "F.softplus", F.softplus,
                   note=note if (beta, threshold) == (1.0, 1.0) else None)
            record(f"softplus_grad-beta{beta}-threshold{threshold}", "softplus_grad", [pts], kw,
                   "d/dx F.softplus (autograd of the sum)",
                   lambda t, **k: torch.autograd.grad(F.softplus(t.requires_grad_(True), **k).sum(), t)[0])
    record("softplus-defaults", "softplus", [f64([-800.0, -20.0, 0.0, 19.0, 20.0, 21.0, 800.0])], {}, "F.softplus",
           F.softplus)
    record("softplus-float32-beta2", "softplus", [f32([-10.0, 0.0, 4.0, 10.0, 11.0])], {"beta": 2.0}, "F.softplus",
           F.softplus)
    # sigmoid and log_sigmoid, extreme arguments.
    pts = [-800.0, -40.0, -1.0, 0.0, 1.0, 40.0, 800.0]
    record("sigmoid-extremes", "sigmoid", [f64(pts)], {}, "torch.sigmoid", torch.sigmoid)
    record("log_sigmoid-extremes", "log_sigmoid", [f64(pts)], {}, "F.logsigmoid", F.logsigmoid)
    record("sigmoid-float32", "sigmoid", [f32(pts)], {}, "torch.sigmoid", torch.sigmoid)
    record("log_sigmoid-float32", "log_sigmoid", [f32(pts)], {}, "F.logsigmoid", F.logsigmoid)


def golden_header(command, description, *modules):
    """The fields that open every golden file: the command that regenerates it, what it holds, and the
    versions (torch, NumPy, Python, and each further module given, such as torchvision) and machine that
    made it. The caller adds its seed or seeds."""
    header = {"command": command, "description": description, "torch": torch.__version__,
              "numpy": np.__version__, "python": platform.python_version(),
              "machine": f"{platform.machine()} {platform.system()}"}
    header.update((module.__name__, module.__version__) for module in modules)
    return header


def write_golden(path, text, what):
    """Write a golden file's text to ``path`` and say on stderr what it holds (``what``) and its size."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {what} to {path} ({len(text) / 1e3:.0f} kB)", file=sys.stderr)


def dumps(obj, indent=""):
    """JSON with sorted keys, one line per dict entry and per innermost list of numbers (readable diffs)."""
    inner = indent + " "
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(k)}: {dumps(obj[k], inner)}" for k in sorted(obj)]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        if all(isinstance(v, list) and not any(isinstance(w, (dict, list)) for w in v) for v in obj) and len(obj) <= 8:
            return json.dumps(obj, allow_nan=False)  # a small matrix on one line
        return "[\n" + ",\n".join(inner + dumps(v, inner) for v in obj) + "\n" + indent + "]"
    return json.dumps(obj, allow_nan=False)


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(SEED)
    classification_cases(rng)
    margin_cases(rng)
    kl_cases(rng)
    regression_cases(rng)
    bce_cases(rng)
    primitive_cases(rng)
    document = {
        **golden_header(COMMAND, "PyTorch's value and autograd gradient (of output.sum() w.r.t. the first "
                                 "argument) for lossbook's edge cases; generated by tools/torch_golden.py, checked "
                                 "by tests/test_torch_parity.py. NaN and infinities are the strings 'nan', 'inf', "
                                 "'-inf'."),
        "seeds": {"numpy.random.default_rng": SEED, "torch.manual_seed": SEED},
        "cases": CASES,
    }
    write_golden(OUTPUT, dumps(document) + "\n", f"{len(CASES)} cases")


if __name__ == "__main__":
    main()
