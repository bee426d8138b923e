"""Write tests/golden/torch_half.json: what PyTorch's CPU kernels return for float16 and bfloat16 input.

The oracle for lossbook's half precision. Every case runs one PyTorch function on float16 or bfloat16
tensors made from a seeded NumPy generator (or written out by hand for the overflow and underflow
cases), and records, under the name of the matching ``lossbook`` function and with its argument names:

* ``args`` and ``kwargs``: the call to make on ``lossbook``. Arrays are ``{"array", "dtype", "shape"}``
  with the values written as decimal numbers: every float16 and bfloat16 value is exactly a float64,
  so the test rebuilds the very same input with ``np.array(values).astype(dtype)`` (``ml_dtypes``
  gives NumPy its bfloat16);
* ``value`` and ``dtype``: PyTorch's result (in the input's dtype);
* ``grad``: PyTorch's autograd gradient of ``output.sum()`` with respect to the first argument, in
  the input's dtype, for the losses (lossbook's ``_grad`` twins), ``softplus`` (``softplus_grad``),
  ``log_sigmoid`` (whose derivative is ``sigmoid(-x)``) and ``logsumexp`` (whose gradient is
  ``softmax``); ``softmax_grad`` and ``log_softmax_grad`` are cases of their own, the vector-Jacobian
  product with ``grad_output`` as their ``value``;
* ``torch``: the PyTorch call, and ``note`` where the case is an overflow or underflow.

``grad_scaler`` records ``torch.amp.GradScaler`` on the CPU driven by scripted gradients (finite,
inf, nan, one per step): the scale after every ``update()`` and which steps it took.

``sigmoid_focal_loss`` is torchvision's; its three-line formula is written out below with the same
torch operations as ``torchvision.ops.sigmoid_focal_loss`` (torchvision is not installed here), each
rounding its result to the input's dtype as torchvision's would. ``multi_margin_loss`` has no Half
CPU kernel in PyTorch, which the ``refusals`` entry records; lossbook refuses it too.

What PyTorch 2.13's CPU kernels do with float16 and bfloat16 (measured with this script's torch, and
read from aten/src/ATen/native/cpu/SoftMaxKernel.cpp and LogSoftmaxKernelImpl.h):

* ``sigmoid``, ``logsigmoid``, ``softplus``, ``softmax`` along the last axis and ``log_softmax`` along
  another axis: computed in float32, rounded once;
* ``log_softmax`` along the last axis: float32 inside, but the log of the sum is stored in the input's
  dtype before ``x - max - log(sum)``, so the result can be off by half an ulp of ``log(sum)``;
* ``softmax`` along another axis, ``logsumexp`` and the elementwise ``binary_cross_entropy_with_logits``
  (composites of tensor operations, each rounded to the input's dtype) round intermediate results;
* the backward passes start from the rounded outputs (softmax's from the rounded p, sigmoid's from
  the rounded sigma(x)), so gradients differ from a float32 computation rounded once by an ulp or more.

PyTorch is NOT a dependency of the course. Run this script in a separate virtual environment, from
the repository root::

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 numpy==2.4.6
    /tmp/torchvenv/bin/python tools/torch_half_golden.py

The output is deterministic: fixed seed, one thread, sorted keys. tests/test_half_precision.py reads it.
"""

import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/, also when this file is loaded by path
from torch_golden import encode_nested, golden_header, write_golden  # noqa: E402  (one encoding of nan, one header)

SEED = 20261203
OUTPUT = Path("tests/golden/torch_half.json")
COMMAND = "/tmp/torchvenv/bin/python tools/torch_half_golden.py"
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}

CASES = []


def encode_tensor(t):
    """A tensor as exact decimal values, its dtype's name and its shape."""
    values = t.detach().double().tolist() if t.is_floating_point() else t.tolist()
    return {"array": encode_nested(values), "dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape)}


def half(values, dtype):
    """Values rounded to nearest in `dtype` (float16 or bfloat16)."""
    return torch.as_tensor(np.asarray(values, dtype=np.float32)).to(DTYPES[dtype])


def record(case_id, function, args, kwargs, call, torch_fn, *, grad=True, rename=None, note=None):
    """Run torch_fn(*args, **kwargs) and record value and (optionally) the gradient of its sum w.r.t. args[0]."""
    rename = rename or {}
    leaf = args[0].detach().clone().requires_grad_(grad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's notice about reduction="mean"
        out = torch_fn(leaf, *args[1:], **{rename.get(k, k): v for k, v in kwargs.items()})
    case = {
        "id": case_id,
        "function": function,
        "args": [encode_tensor(a) for a in args],
        "kwargs": {k: encode_tensor(v) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()},
        "value": encode_tensor(out),
        "torch": call,
    }
    if grad:
        (g,) = torch.autograd.grad(out.sum(), leaf)
        case["grad"] = encode_tensor(g)
    if note:
        case["note"] = note
    if any(c["id"] == case_id for c in CASES):
        raise ValueError(f"duplicate case id {case_id}")
    CASES.append(case)


def record_vjp(case_id, function, x, grad_output, axis, torch_fn, note=None):
    leaf = x.detach().clone().requires_grad_(True)
    out = torch_fn(leaf, dim=axis)
    (g,) = torch.autograd.grad(out, leaf, grad_outputs=grad_output)
    case = {
        "id": case_id,
        "function": function,
        "args": [encode_tensor(x), encode_tensor(grad_output)],
        "kwargs": {"axis": axis},
        "value": encode_tensor(g),
        "torch": f"torch.autograd.grad({torch_fn.__name__}(x, dim={axis}), x, grad_outputs=grad_output)",
    }
    if note:
        case["note"] = note
    CASES.append(case)


def sigmoid_focal_loss(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """torchvision.ops.sigmoid_focal_loss, operation for operation."""
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


# The hand-written extremes, per format: float16's largest number is 65504 and exp overflows past
# 11.09; bfloat16 has float32's range (about 3.4e38), so its exp overflows past 88.7.
EXTREMES = {
    "float16": {"big": 60000.0, "exp_edge": 11.5, "tiny_logit": 20.0},
    "bfloat16": {"big": 1.0e30, "exp_edge": 89.0, "tiny_logit": 100.0},
}


def primitive_cases(rng, dt):
    e = EXTREMES[dt]
    scores = half(rng.normal(0, 4, (6, 9)), dt)
    # Rows where the naive exp would overflow, huge differences between scores, and a -inf score.
    extreme = half([[e["exp_edge"] + 1, e["exp_edge"], 0.0], [e["big"], 0.0, -e["big"]],
                    [-e["big"], -e["big"], -e["big"]], [1.0, -math.inf, 2.0]], dt)
    for name, x in (("random", scores), ("extreme", extreme)):
        note = ("exp of the largest scores overflows the format; values beyond its range are not representable"
                if name == "extreme" else None)
        record(f"logsumexp-{dt}-{name}", "logsumexp", [x], {"axis": -1}, "torch.logsumexp(x, dim=-1)",
               torch.logsumexp, rename={"axis": "dim"}, note=note)
        record(f"softmax-{dt}-{name}", "softmax", [x], {"axis": -1}, "torch.softmax(x, dim=-1)",
               torch.softmax, grad=False, rename={"axis": "dim"}, note=note)
        record(f"log_softmax-{dt}-{name}", "log_softmax", [x], {"axis": -1}, "torch.log_softmax(x, dim=-1)",
               torch.log_softmax, grad=False, rename={"axis": "dim"}, note=note)
    record(f"softmax-{dt}-axis0", "softmax", [scores], {"axis": 0}, "torch.softmax(x, dim=0)",
           torch.softmax, grad=False, rename={"axis": "dim"})
    record(f"log_softmax-{dt}-axis0", "log_softmax", [scores], {"axis": 0}, "torch.log_softmax(x, dim=0)",
           torch.log_softmax, grad=False, rename={"axis": "dim"})
    record(f"logsumexp-{dt}-axis0", "logsumexp", [scores], {"axis": 0}, "torch.logsumexp(x, dim=0)",
           torch.logsumexp, rename={"axis": "dim"})
    upstream = half(rng.normal(0, 1, scores.shape), dt)
    record_vjp(f"softmax_grad-{dt}", "softmax_grad", scores, upstream, -1, torch.softmax)
    record_vjp(f"log_softmax_grad-{dt}", "log_softmax_grad", scores, upstream, -1, torch.log_softmax)
    record_vjp(f"log_softmax_grad-{dt}-extreme", "log_softmax_grad", extreme[:2], upstream[:2, :3], -1,
               torch.log_softmax, note="scores far beyond exp's range")
    # Elementwise: random values, then overflow of exp, and log_sigmoid/sigmoid values that underflow.
    elementwise = half(np.concatenate([rng.normal(0, 6, 24), [0.0, -e["exp_edge"], e["exp_edge"], e["tiny_logit"],
                                                               -e["tiny_logit"], e["big"], -e["big"]]]), dt)
    note = "includes exp overflow at |x| = {exp_edge}, sigma(-{tiny_logit}) below the format's smallest number".format(
        **e)
    record(f"sigmoid-{dt}", "sigmoid", [elementwise], {}, "torch.sigmoid(x)", torch.sigmoid, grad=False, note=note)
    record(f"log_sigmoid-{dt}", "log_sigmoid", [elementwise], {}, "F.logsigmoid(x)", F.logsigmoid, note=note)
    record(f"softplus-{dt}", "softplus", [elementwise], {}, "F.softplus(x)", F.softplus, note=note)
    record(f"softplus-{dt}-beta", "softplus", [elementwise], {"beta": 2.0, "threshold": 5.0},
           "F.softplus(x, beta=2.0, threshold=5.0)", F.softplus)


def classification_cases(rng, dt):
    e = EXTREMES[dt]
    n, c = 8, 5
    logits = half(rng.normal(0, 3, (n, c)), dt)
    labels = torch.as_tensor(rng.integers(0, c, n))
    probs = torch.softmax(torch.as_tensor(rng.normal(0, 1, (n, c))), -1).to(DTYPES[dt])
    weight = half(rng.uniform(0.5, 2, c), dt)
    for reduction in ("mean", "sum", "none"):
        record(f"cross_entropy-{dt}-{reduction}", "cross_entropy", [logits, labels], {"reduction": reduction},
               f"F.cross_entropy(x, y, reduction={reduction!r})", F.cross_entropy)
    record(f"cross_entropy-{dt}-options", "cross_entropy", [logits, labels],
           {"weight": weight, "label_smoothing": 0.1, "ignore_index": int(labels[0])},
           "F.cross_entropy(x, y, weight=w, label_smoothing=0.1, ignore_index=y[0])", F.cross_entropy)
    record(f"cross_entropy-{dt}-probabilities", "cross_entropy", [logits, probs], {"reduction": "none"},
           "F.cross_entropy(x, q, reduction='none')", F.cross_entropy)
    # A confident wrong answer whose loss exceeds the format (float16: 1.2e5 > 65504), and a right one
    # whose loss underflows to 0; the gradient's p - y is exactly 0 and 1 there.
    extreme = half([[e["big"], 0.0, -e["big"]], [e["big"], 0.0, -e["big"]], [e["tiny_logit"], 0.0, 0.0]], dt)
    record(f"cross_entropy-{dt}-extreme", "cross_entropy", [extreme, torch.tensor([2, 0, 0])],
           {"reduction": "none"}, "F.cross_entropy(x, y, reduction='none')", F.cross_entropy,
           note="the first loss (2 * big) overflows the format to inf; the second and third underflow to 0")
    log_probs = torch.log_softmax(logits.float(), -1).to(DTYPES[dt])
    for reduction in ("mean", "none"):
        record(f"nll_loss-{dt}-{reduction}", "nll_loss", [log_probs, labels], {"reduction": reduction},
               f"F.nll_loss(logp, y, reduction={reduction!r})", F.nll_loss)
    record(f"nll_loss-{dt}-weight", "nll_loss", [log_probs, labels], {"weight": weight},
           "F.nll_loss(logp, y, weight=w)", F.nll_loss)
    for reduction in ("batchmean", "sum", "none"):
        record(f"kl_div-{dt}-{reduction}", "kl_div", [log_probs, probs], {"reduction": reduction},
               f"F.kl_div(logp, q, reduction={reduction!r})", F.kl_div)
    record(f"kl_div-{dt}-log_target", "kl_div", [log_probs, torch.log(probs.float()).to(DTYPES[dt])],
           {"reduction": "batchmean", "log_target": True}, "F.kl_div(logp, log q, reduction='batchmean', "
           "log_target=True)", F.kl_div)


def binary_cases(rng, dt):
    e = EXTREMES[dt]
    logits = half(np.concatenate([rng.normal(0, 4, (4, 6)), [[0.0, e["exp_edge"], -e["exp_edge"],
                                                                e["tiny_logit"], -e["tiny_logit"], e["big"]]]]), dt)
    target = half(np.concatenate([rng.integers(0, 2, (4, 6)), [[1, 1, 0, 1, 1, 0]]]), dt)
    soft = half(rng.uniform(0, 1, logits.shape), dt)
    weight, pos_weight = half(rng.uniform(0.5, 2, 6), dt), half(rng.uniform(1, 4, 6), dt)
    note = "the last row: exp overflow, losses below the format's smallest number, and a loss of size big"
    for reduction in ("mean", "sum", "none"):
        record(f"bce_with_logits-{dt}-{reduction}", "binary_cross_entropy_with_logits", [logits, target],
               {"reduction": reduction}, f"F.binary_cross_entropy_with_logits(x, y, reduction={reduction!r})",
               F.binary_cross_entropy_with_logits, note=note)
    record(f"bce_with_logits-{dt}-weights", "binary_cross_entropy_with_logits", [logits, soft],
           {"weight": weight, "pos_weight": pos_weight, "reduction": "none"},
           "F.binary_cross_entropy_with_logits(x, q, weight=w, pos_weight=pw, reduction='none')",
           F.binary_cross_entropy_with_logits)
    for reduction in ("none", "mean"):
        record(f"sigmoid_focal_loss-{dt}-{reduction}", "sigmoid_focal_loss", [logits, target],
               {"reduction": reduction}, f"torchvision.ops.sigmoid_focal_loss(x, y, reduction={reduction!r})",
               sigmoid_focal_loss, note=note + "; torchvision's formula, each operation rounded to the format")


def refusals():
    """What PyTorch's CPU kernels refuse in half precision."""
    found = {}
    for dt, tdt in DTYPES.items():
        try:
            F.multi_margin_loss(torch.zeros(2, 3, dtype=tdt), torch.tensor([0, 1]))
            found[f"multi_margin_loss-{dt}"] = "accepted"
        except (NotImplementedError, RuntimeError) as error:
            found[f"multi_margin_loss-{dt}"] = str(error).splitlines()[0]
    return found


# Scripted gradients for torch.amp.GradScaler: "." finite, "i" inf, "n" nan, one character per step.
SCALER_RUNS = {
    "default": ({}, "iin" + "." * 2000 + "i" + "." * 1999 + "n" + "." * 2001),
    "short": ({"init_scale": 8.0, "growth_factor": 4.0, "backoff_factor": 0.25, "growth_interval": 3},
              "...." + "i" + ".." + "n" + "......" + "ii" + "..."),
    "ceiling": ({"init_scale": 2.0**126, "growth_interval": 1}, "....i.."),
}


def grad_scaler_runs():
    """The scale after each update() and whether each step was taken, for the scripted gradients."""
    runs = {}
    for name, (options, script) in SCALER_RUNS.items():
        scaler = torch.amp.GradScaler("cpu", **options)
        weight = torch.zeros(1, requires_grad=True)
        optimizer = torch.optim.SGD([weight], lr=1.0)
        scales, taken = [], []
        for symbol in script:
            value = {".": 1.0, "i": math.inf, "n": math.nan}[symbol]
            before = weight.detach().clone()
            optimizer.zero_grad()
            scaler.scale((weight * value).sum()).backward()  # the gradient is value times the scale
            scaler.step(optimizer)
            scaler.update()
            taken.append(bool(weight.detach() != before))
            scales.append(scaler.get_scale())
        # Run-length encoded: [[count, scale], ...], the scale after each update() in order.
        encoded = []
        for scale in scales:
            if encoded and encoded[-1][1] == scale:
                encoded[-1][0] += 1
            else:
                encoded.append([1, scale])
        runs[name] = {"options": options, "script": script, "scales": encoded,
                      "taken": "".join("s" if t else "-" for t in taken)}
    return runs


def main():
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    for dt in DTYPES:
        primitive_cases(rng, dt)
        classification_cases(rng, dt)
        binary_cases(rng, dt)
    document = {
        **golden_header(COMMAND, "PyTorch's CPU value and autograd gradient for float16 and bfloat16 input; "
                                 "generated by tools/torch_half_golden.py, checked by tests/test_half_precision.py. "
                                 "Values are exact decimals of the format's numbers; NaN and infinities are 'nan', "
                                 "'inf', '-inf'."),
        "seed": SEED,
        "refusals": refusals(),
        "grad_scaler": grad_scaler_runs(),
        "cases": CASES,
    }
    write_golden(OUTPUT, json.dumps(document, sort_keys=True, indent=1) + "\n", f"{len(CASES)} cases")


if __name__ == "__main__":
    main()
