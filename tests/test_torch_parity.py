"""Whole PyTorch parity: lossbook against golden values computed by real PyTorch.

The oracle is ``tests/golden/torch_parity.json``, written by ``tools/torch_golden.py`` with torch
2.13.0 (CPU, float64 unless a case is about float32). Each case names a lossbook function and the
arguments to call it with; it records what the matching ``torch.nn.functional`` call returned (value,
shape, dtype) and, for the losses, PyTorch's autograd gradient of ``output.sum()`` with respect to the
first argument, which is what lossbook's ``name_grad`` twin returns (for ``reduction="none"``, the
gradient of the sum). The cases are the edge cases where a straight port goes wrong: every target
ignored (nan value, zero gradient), 0-d and empty inputs, tuples of axes, ``dtype=``, broadcast
``weight``/``pos_weight``, ``softplus``'s ``beta``/``threshold``, the regression losses' ``weight=``,
``kl_div``'s default ``"mean"``, ``multi_margin_loss``'s ``p``/``weight``/unbatched forms, float32.
Each case's ``torch`` field is the PyTorch call and ``note`` says what is surprising about it.

PyTorch is not a dependency of the course; these tests read the JSON only. To regenerate it (after
changing the cases or the PyTorch version), from the repository root::

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 numpy==2.4.6
    /tmp/torchvenv/bin/python tools/torch_golden.py

Tolerances: ``rtol=1e-10`` in float64 (the two libraries sum in different orders), ``rtol=1e-5`` in
float32; NaN equals NaN; dtype and shape must match exactly.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import lossbook

GOLDEN = Path(__file__).parent / "golden" / "torch_parity.json"
DOCUMENT = json.loads(GOLDEN.read_text())
CASES = DOCUMENT["cases"]
NONFINITE = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}


def decode_nested(data):
    if isinstance(data, list):
        return [decode_nested(d) for d in data]
    if isinstance(data, str):
        return NONFINITE[data]
    return data


def as_array(data, shape, dtype):
    return np.array(decode_nested(data), dtype=dtype).reshape(shape)


def decode(value):
    """An argument as the JSON stores it -> what lossbook is called with."""
    if isinstance(value, dict):
        if "array" in value:
            return as_array(value["array"], value["shape"], value["dtype"])
        if "tuple" in value:
            return tuple(value["tuple"])
        if "numpy_dtype" in value:
            return np.dtype(value["numpy_dtype"])
        raise ValueError(f"unknown encoded argument {value!r}")
    if isinstance(value, str) and value in NONFINITE:
        return NONFINITE[value]
    return value


def call_arguments(case):
    return [decode(a) for a in case["args"]], {k: decode(v) for k, v in case["kwargs"].items()}


def tolerances(dtype):
    if np.dtype(dtype) == np.float32:
        return {"rtol": 1e-5, "atol": 1e-7}
    return {"rtol": 1e-10, "atol": 0.0}


def assert_matches(got, data, shape, dtype, what):
    got_array = np.asarray(got)
    expected = as_array(data, shape, dtype)
    assert got_array.shape == expected.shape, f"{what}: shape {got_array.shape}, PyTorch {expected.shape}"
    assert got_array.dtype == expected.dtype, f"{what}: dtype {got_array.dtype}, PyTorch {expected.dtype}"
    np.testing.assert_allclose(got_array, expected, equal_nan=True, err_msg=what, **tolerances(dtype))


def case_params(cases):
    return [pytest.param(c, id=c["id"]) for c in cases]


def explain(case):
    return f"{case['id']}: PyTorch {case['torch']}" + (f" ({case['note']})" if "note" in case else "")


GRAD_CASES = [c for c in CASES if "grad" in c]
CROSS_ENTROPY_CASES = [c for c in CASES if c["function"] == "cross_entropy"]


# --------------------------------------------------------------------------------------------------
# The golden file itself
# --------------------------------------------------------------------------------------------------

def test_golden_file_is_complete():
    for key in ["command", "seeds", "torch", "numpy", "python", "machine", "cases"]:
        assert key in DOCUMENT, key
    assert DOCUMENT["torch"].startswith("2.13.0")
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    for case in CASES:
        for key in ["id", "function", "args", "kwargs", "value", "shape", "dtype", "torch"]:
            assert key in case, (case["id"], key)
    # The gaps the parity issue names are all covered.
    covered = {c["function"] for c in CASES}
    for name in ["cross_entropy", "nll_loss", "binary_cross_entropy_with_logits", "mse_loss", "l1_loss",
                 "huber_loss", "smooth_l1_loss", "multi_margin_loss", "kl_div", "softmax", "log_softmax",
                 "logsumexp", "softplus", "softplus_grad", "softmax_grad", "log_softmax_grad"]:
        assert name in covered, name


# --------------------------------------------------------------------------------------------------
# Values, gradients, the fused cross-entropy
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", case_params(CASES))
def test_value_matches_torch(case):
    args, kwargs = call_arguments(case)
    got = getattr(lossbook, case["function"])(*args, **kwargs)
    assert_matches(got, case["value"], case["shape"], case["dtype"], explain(case))


@pytest.mark.parametrize("case", case_params(GRAD_CASES))
def test_grad_matches_torch_autograd(case):
    args, kwargs = call_arguments(case)
    got = getattr(lossbook, case["function"] + "_grad")(*args, **kwargs)
    assert_matches(got, case["grad"], case["grad_shape"], case["grad_dtype"], explain(case) + ", gradient")


@pytest.mark.parametrize("case", case_params(CROSS_ENTROPY_CASES))
def test_cross_entropy_value_and_grad_matches_torch(case):
    args, kwargs = call_arguments(case)
    value, grad = lossbook.cross_entropy_value_and_grad(*args, **kwargs)
    assert_matches(value, case["value"], case["shape"], case["dtype"], explain(case) + ", fused value")
    assert_matches(grad, case["grad"], case["grad_shape"], case["grad_dtype"], explain(case) + ", fused gradient")


# --------------------------------------------------------------------------------------------------
# Refusals: where PyTorch would take a positional argument by mistake or broadcast silently
# --------------------------------------------------------------------------------------------------

X = np.array([[0.5, -1.0, 2.0], [0.0, 1.5, -0.5]])
Y = np.array([2, 0])
W = np.array([1.0, 2.0, 0.5])


# A keyword-only argument passed by position: Python's own message ("takes 2 positional arguments but
# 3 were given") cannot name the argument, so the match is on "positional".
def test_multi_margin_loss_p_is_keyword_only():
    with pytest.raises(TypeError, match="positional"):
        lossbook.multi_margin_loss(X, Y, 2)
    with pytest.raises(TypeError, match="positional"):
        lossbook.multi_margin_loss_grad(X, Y, 2)


def test_cross_entropy_weight_is_keyword_only():
    with pytest.raises(TypeError, match="positional"):
        lossbook.cross_entropy(X, Y, W)
    with pytest.raises(TypeError, match="positional"):
        lossbook.cross_entropy_grad(X, Y, W)
    with pytest.raises(TypeError, match="positional"):
        lossbook.nll_loss(X, Y, W)


@pytest.mark.parametrize("function", [lossbook.kl_div, lossbook.kl_div_grad], ids=lambda f: f.__name__)
def test_kl_div_rejects_unknown_reduction(function):
    log_probs = np.log(np.array([[0.2, 0.3, 0.5]]))
    with pytest.raises(ValueError, match="reduction"):
        function(log_probs, np.array([[0.1, 0.6, 0.3]]), reduction="avg")


@pytest.mark.parametrize(
    "function",
    [lossbook.binary_cross_entropy_with_logits, lossbook.binary_cross_entropy_with_logits_grad],
    ids=lambda f: f.__name__,
)
def test_bce_rejects_pos_weight_of_wrong_length(function):
    # PyTorch raises a RuntimeError ("The size of tensor a (4) must match ...") that names no argument.
    targets = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]])
    with pytest.raises(ValueError, match="pos_weight"):
        function(X, targets, pos_weight=np.ones(X.shape[1] + 1))


@pytest.mark.parametrize("function", [lossbook.softmax, lossbook.log_softmax], ids=lambda f: f.__name__)
def test_softmax_rejects_integer_dtype(function):
    # PyTorch raises NotImplementedError ('"softmax_lastdim_kernel_impl" not implemented for Long').
    with pytest.raises(TypeError, match="dtype"):
        function(X, dtype=np.int64)
