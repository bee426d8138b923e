"""Half precision: float16 and bfloat16 in, the same dtype out, computed in float32 and rounded once.

Four oracles:

* PyTorch's CPU kernels, through ``tests/golden/torch_half.json`` (written by
  ``tools/torch_half_golden.py`` with torch 2.13.0; inputs stored as exact decimals). Tolerance: the
  largest difference in a case is at most 3 epsilon of the format (epsilon = 2**-10 for float16,
  2**-7 for bfloat16) times the largest finite magnitude in that case, and non-finite values sit at
  the same places. PyTorch rounds some intermediates to the format (log_softmax along the last axis
  rounds the log of the sum; logsumexp, softmax along other axes, the elementwise binary
  cross-entropy and torchvision's focal loss round every step; backward passes start from rounded
  outputs), so it is often several ulps off element by element, while lossbook rounds once; the
  scaled tolerance absorbs that. Where PyTorch's rounding changes a result by far more, the case is
  listed in ``TORCH_ROUNDS_BADLY`` with the reason, and the test checks that lossbook is the one that
  is right (within one ulp of float64) and that PyTorch is not.
* float64: lossbook's own float64 result on the same (exactly representable) inputs, rounded to the
  format. lossbook's half-precision result is within one ulp of it, element by element, with a slack
  of 2**-20 times the largest magnitude for float32's own rounding inside.
* Hand-derived overflow and underflow thresholds of the two formats.
* The refusals: every function outside the accepted list raises a TypeError naming the argument and
  the dtype.
"""

import json
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import lossbook
import lossbook.optim
from lossbook import fused, registry
from lossbook._validation import HALF_PRECISION_FUNCTIONS

BFLOAT16 = np.dtype(ml_dtypes.bfloat16)
FORMATS = {"float16": np.dtype(np.float16), "bfloat16": BFLOAT16}
EPSILON = {"float16": 2.0**-10, "bfloat16": 2.0**-7}  # spacing of the format's numbers at 1
MANTISSA_BITS = {"float16": 10, "bfloat16": 7}
MIN_NORMAL_EXPONENT = {"float16": -14, "bfloat16": -126}
TORCH_TOLERANCE = 3  # in epsilons of the format, times the case's largest finite magnitude
FLOAT32_SLACK = 2.0**-20  # times the case's largest magnitude: float32's rounding before the final one

GOLDEN = json.loads((Path(__file__).parent / "golden" / "torch_half.json").read_text())
CASES = GOLDEN["cases"]
NONFINITE = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}

# The gradient PyTorch's autograd records for a primitive without a lossbook _grad twin of its own.
GRADIENT_OF = {
    "logsumexp": lambda x, axis: lossbook.softmax(x, axis=axis),  # d/dx_i log sum_j e^(x_j) = softmax
    "log_sigmoid": lambda x: lossbook.sigmoid(-x),  # d/dx log sigma(x) = sigma(-x)
}

TORCH_ROUNDS_BADLY = {
    "logsumexp-float16-extreme": "autograd's exp(x - logsumexp) uses the rounded logsumexp: for three equal "
    "scores of -60000 it is -60000 (log 3 is below float16's spacing of 32 there), so each gradient is 1, not 1/3",
    "logsumexp-bfloat16-extreme": "the same with three equal scores of -1e30 in bfloat16",
    "sigmoid_focal_loss-float16-none": "at the logit 60000 with target 0, the backward pass of torchvision's "
    "formula forms 2 * (1 - p_t) * BCE = 120000, beyond float16's 65504: inf times sigma'(x) = 0 gives nan; "
    "the gradient is 0.75",
}


def decode(data):
    if isinstance(data, list):
        return [decode(d) for d in data]
    return NONFINITE.get(data, data) if isinstance(data, str) else data


def as_array(encoded, dtype=None):
    """A stored array in its own dtype (float16, bfloat16, int64), or in `dtype`."""
    values = np.array(decode(encoded["array"]), dtype=np.float64).reshape(encoded["shape"])
    name = encoded["dtype"]
    return values.astype(dtype or (np.int64 if name == "int64" else FORMATS[name]))


def call_arguments(case, dtype=None):
    """The case's arguments, float arrays in their stored format or in `dtype` (labels stay integers)."""
    def convert(v):
        if not isinstance(v, dict):
            return v
        return as_array(v, None if v["dtype"] == "int64" else dtype)
    return [convert(a) for a in case["args"]], {k: convert(v) for k, v in case["kwargs"].items()}


def ulp(values, fmt):
    """The spacing of the format's numbers at |values| (the subnormal spacing below the normal range)."""
    exponent = np.floor(np.log2(np.maximum(np.abs(values), 2.0 ** MIN_NORMAL_EXPONENT[fmt])))
    return 2.0 ** (exponent - MANTISSA_BITS[fmt])


def assert_agrees_with_torch(ours, theirs, fmt, what):
    ours = np.asarray(ours, np.float64)
    finite = np.isfinite(theirs)
    np.testing.assert_array_equal(ours[~finite], theirs[~finite], err_msg=f"{what}: non-finite values differ")
    scale = np.max(np.abs(theirs[finite]), initial=0.0)
    error = np.max(np.abs(ours[finite] - theirs[finite]), initial=0.0)
    assert error <= TORCH_TOLERANCE * EPSILON[fmt] * scale, (
        f"{what}: differs from PyTorch by {error:.3g} = {error / (EPSILON[fmt] * scale):.2f} epsilon x {scale:.3g}"
    )


def assert_rounded_from(ours, reference, fmt, what=""):
    """`ours` (in the format) is within one ulp of the float64 `reference`, element by element."""
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    with np.errstate(over="ignore"):  # values beyond the format's range round to inf
        rounded = reference.astype(FORMATS[fmt]).astype(np.float64)
    same = (ours == rounded) | (np.isnan(ours) & np.isnan(reference))
    finite = np.isfinite(reference) & ~same
    slack = FLOAT32_SLACK * np.max(np.abs(reference[np.isfinite(reference)]), initial=0.0)
    assert np.all(same | finite), f"{what}: non-finite values differ from float64's"
    error = np.abs(ours[finite] - reference[finite])
    assert np.all(error <= ulp(reference[finite], fmt) + slack), (
        f"{what}: {np.max(error / ulp(reference[finite], fmt), initial=0):.2f} ulp from float64"
    )


def torch_gradient_function(function):
    return GRADIENT_OF.get(function) or getattr(lossbook, f"{function}_grad")


# ----------------------------------------------------------------------------------------------
# PyTorch's golden values


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_value_agrees_with_pytorch(case):
    args, kwargs = call_arguments(case)
    fmt = case["value"]["dtype"]
    ours = getattr(lossbook, case["function"])(*args, **kwargs)
    assert np.asarray(ours).dtype == FORMATS[fmt] == args[0].dtype
    assert np.shape(ours) == tuple(case["value"]["shape"])
    assert_agrees_with_torch(ours, as_array(case["value"], np.float64), fmt, case["torch"])


GRAD_CASES = [c for c in CASES if "grad" in c]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c["id"] for c in GRAD_CASES])
def test_gradient_agrees_with_pytorch(case):
    args, kwargs = call_arguments(case)
    fmt = case["grad"]["dtype"]
    ours = torch_gradient_function(case["function"])(*args, **kwargs)
    assert ours.dtype == FORMATS[fmt] and ours.shape == tuple(case["grad"]["shape"])
    theirs = as_array(case["grad"], np.float64)
    if case["id"] in TORCH_ROUNDS_BADLY:
        args64, kwargs64 = call_arguments(case, np.float64)
        exact = torch_gradient_function(case["function"])(*args64, **kwargs64)
        assert_rounded_from(ours, exact, fmt, "lossbook")
        with pytest.raises(AssertionError):
            assert_rounded_from(theirs, exact, fmt, "PyTorch")
        return
    assert_agrees_with_torch(ours, theirs, fmt, f"gradient of {case['torch']}")


def test_pytorch_rounds_log_softmax_more_than_lossbook():
    # PyTorch keeps log(sum exp) in the format before subtracting it: many ulps off for entries near 0.
    case = next(c for c in CASES if c["id"] == "log_softmax-bfloat16-random")
    x = as_array(case["args"][0])
    exact = lossbook.log_softmax(x.astype(np.float64))
    assert_rounded_from(lossbook.log_softmax(x), exact, "bfloat16")
    with pytest.raises(AssertionError):
        assert_rounded_from(as_array(case["value"], np.float64), exact, "bfloat16")


def test_multi_margin_loss_is_refused_as_pytorch_refuses_it():
    assert all("not implemented" in message for message in GOLDEN["refusals"].values())
    for fmt in FORMATS.values():
        with pytest.raises(TypeError, match=f"logits has dtype {fmt.name}"):
            lossbook.multi_margin_loss(np.zeros((2, 3), fmt), [0, 1])


# ----------------------------------------------------------------------------------------------
# Accuracy against float64, dtype in and out


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_golden_inputs_are_rounded_once_from_float64(case):
    args, kwargs = call_arguments(case)
    args64, kwargs64 = call_arguments(case, np.float64)
    fmt = case["value"]["dtype"]
    function = getattr(lossbook, case["function"])
    assert_rounded_from(function(*args, **kwargs), function(*args64, **kwargs64), fmt, case["id"])
    if "grad" in case:
        gradient = torch_gradient_function(case["function"])
        assert_rounded_from(gradient(*args, **kwargs), gradient(*args64, **kwargs64), fmt, f"{case['id']} grad")


ACCEPTED_LOSSES = ("nll_loss", "cross_entropy", "binary_cross_entropy_with_logits", "sigmoid_focal_loss", "kl_div")


def _in_format(value, fmt):
    """Float arrays of a registry example in the format; integer labels and options unchanged."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(FORMATS[fmt])
    return value


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ACCEPTED_LOSSES)
def test_registered_examples_in_half_precision(name, fmt, rng):
    spec = registry.get(name)
    for example in spec.examples(rng):
        args = [_in_format(a, fmt) for a in example.args]
        kwargs = {k: _in_format(v, fmt) for k, v in example.kwargs.items()}
        args64 = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype == FORMATS[fmt] else a for a in args]
        kwargs64 = {k: v.astype(np.float64) if isinstance(v, np.ndarray) and v.dtype == FORMATS[fmt] else v
                    for k, v in kwargs.items()}
        for function in (spec.loss, spec.grad):
            ours = function(*args, **kwargs)
            assert np.asarray(ours).dtype == FORMATS[fmt], (name, example.label)
            assert_rounded_from(ours, function(*args64, **kwargs64), fmt, f"{function.__name__} {example.label}")


PRIMITIVES = {  # each called with scores x and an upstream gradient g of the same shape
    "logsumexp": lambda x, g: lossbook.logsumexp(x, axis=-1),
    "softmax": lambda x, g: lossbook.softmax(x),
    "log_softmax": lambda x, g: lossbook.log_softmax(x),
    "softmax over axis 0": lambda x, g: lossbook.softmax(x, axis=0),
    "sigmoid": lambda x, g: lossbook.sigmoid(x),
    "log_sigmoid": lambda x, g: lossbook.log_sigmoid(x),
    "softplus": lambda x, g: lossbook.softplus(x, beta=2.0, threshold=5.0),
    "softplus_grad": lambda x, g: lossbook.softplus_grad(x),
    "softmax_grad": lossbook.softmax_grad,
    "log_softmax_grad": lossbook.log_softmax_grad,
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", PRIMITIVES)
def test_primitives_keep_the_format_and_round_once(name, fmt, rng):
    function = PRIMITIVES[name]
    x, g = rng.normal(0, 6, (40, 7)).astype(FORMATS[fmt]), rng.normal(0, 1, (40, 7)).astype(FORMATS[fmt])
    ours = function(x, g)
    assert ours.dtype == FORMATS[fmt]
    assert_rounded_from(ours, function(x.astype(np.float64), g.astype(np.float64)), fmt, name)


@pytest.mark.parametrize("fmt", FORMATS)
def test_scalars_and_dtype_option(fmt):
    dtype = FORMATS[fmt]
    assert type(lossbook.logsumexp(dtype.type(3.0))) is dtype.type
    assert type(lossbook.softmax(dtype.type(3.0))) is dtype.type
    assert type(lossbook.cross_entropy(np.zeros((2, 3), dtype), [0, 1])) is dtype.type
    x32 = np.array([0.1, 0.2, 0.3], np.float32)
    cast = lossbook.log_softmax(x32, dtype=dtype)  # PyTorch's dtype=: cast first, then compute
    assert cast.dtype == dtype
    np.testing.assert_array_equal(cast, lossbook.log_softmax(x32.astype(dtype)))
    # float32 scores with a half-precision dtype= differ from float32 ones: the cast rounds 0.1.
    assert lossbook.softmax(x32, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("fmt", FORMATS)
def test_fused_entry_points_return_the_reference_in_the_format(fmt, rng):
    dtype = FORMATS[fmt]
    logits = rng.normal(0, 4, (300, 11)).astype(dtype)
    labels = rng.integers(0, 11, 300)
    upstream = rng.normal(0, 1, logits.shape).astype(dtype)
    targets = rng.integers(0, 2, logits.shape).astype(dtype)
    pairs = [
        (fused.softmax_value_and_grad(logits, upstream),
         (lossbook.softmax(logits), lossbook.softmax_grad(logits, upstream))),
        (fused.log_softmax_value_and_grad(logits, upstream),
         (lossbook.log_softmax(logits), lossbook.log_softmax_grad(logits, upstream))),
        (fused.cross_entropy_value_and_grad(logits, labels),
         (lossbook.cross_entropy(logits, labels), lossbook.cross_entropy_grad(logits, labels))),
        (fused.binary_cross_entropy_with_logits_value_and_grad(logits, targets, reduction="sum"),
         (lossbook.binary_cross_entropy_with_logits(logits, targets, reduction="sum"),
          lossbook.binary_cross_entropy_with_logits_grad(logits, targets, reduction="sum"))),
    ]
    for got, want in pairs:
        for g, w in zip(got, want, strict=True):
            assert np.asarray(g).dtype == dtype
            # Both compute in float32 (in another order) and round once: at most one ulp apart.
            g64, w64 = np.asarray(g, np.float64), np.asarray(w, np.float64)
            assert np.all(np.abs(g64 - w64) <= ulp(w64, fmt))


# ----------------------------------------------------------------------------------------------
# Overflow and underflow, from the formats' bits


def test_float16_exp_overflows_where_the_stable_primitives_do_not():
    # float16's largest number is (2 - 2**-10) * 2**15 = 65504, and exp(x) exceeds it beyond log(65504) = 11.09.
    assert float(np.finfo(np.float16).max) == (2 - 2**-10) * 2**15 == 65504
    x = np.array([12.0, 11.0, 0.0], np.float16)
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isinf(np.exp(x[0])) and np.isnan(np.exp(x) / np.exp(x).sum())[0]
    probabilities = lossbook.softmax(x)
    assert np.all(np.isfinite(probabilities)) and abs(float(probabilities.astype(np.float64).sum()) - 1) <= 2**-10
    assert float(lossbook.logsumexp(x)) == pytest.approx(12.3133, abs=2**-7)  # 12 + log(1 + e^-1 + e^-12), spacing 2^-7


def test_a_loss_beyond_float16_range_is_inf_but_finite_in_bfloat16():
    # A confident wrong answer: loss 2 * 40960 = 81920 > 65504, float16's largest number
    # (40960 = 5 * 2**13 is a number of both formats).
    logits = [[40960.0, 0.0, -40960.0]]
    assert np.isinf(lossbook.cross_entropy(np.array(logits, np.float16), [2]))
    assert float(lossbook.cross_entropy(np.array(logits, BFLOAT16), [2])) == 81920
    # Its gradient, p - y, is bounded by 1 and stays exact: [1, 0, -1].
    np.testing.assert_array_equal(lossbook.cross_entropy_grad(np.array(logits, np.float16), [2]), [[1, 0, -1]])


def test_small_losses_underflow_in_float16_and_survive_in_bfloat16():
    # -log sigma(20) = log(1 + e^-20) = 2.06e-9, below float16's smallest subnormal 2**-24 = 5.96e-8,
    # and far above bfloat16's smallest normal number, 2**-126 = 1.2e-38.
    assert float(np.finfo(np.float16).smallest_subnormal) == 2.0**-24
    x, y = np.array([20.0]), np.array([1.0])
    assert float(lossbook.binary_cross_entropy_with_logits(x.astype(np.float16), y.astype(np.float16))) == 0
    in_bfloat16 = float(lossbook.binary_cross_entropy_with_logits(x.astype(BFLOAT16), y.astype(BFLOAT16)))
    assert in_bfloat16 == pytest.approx(np.log1p(np.exp(-20.0)), rel=2**-8)
    # The softmax probability of a score 20 below the best is e^-20 = 2.06e-9: 0 in float16 as well.
    assert lossbook.softmax(np.array([20.0, 0.0], np.float16))[1] == 0
    assert float(lossbook.softmax(np.array([20.0, 0.0], BFLOAT16))[1]) == pytest.approx(np.exp(-20.0), rel=2**-8)


def test_bfloat16_has_float32_range_and_eight_bits():
    # bfloat16 is float32 with its last 16 bits cut: 8 exponent bits, 7 stored significand bits.
    assert float(ml_dtypes.finfo(BFLOAT16).max) == pytest.approx(float(np.finfo(np.float32).max), rel=2**-7)
    assert float(ml_dtypes.finfo(BFLOAT16).eps) == EPSILON["bfloat16"]
    assert float(np.finfo(np.float16).eps) == EPSILON["float16"]
    # 257 is not a bfloat16 number (needs 9 significant bits): a log-softmax of -257 scores rounds.
    assert float(np.array(257.0).astype(BFLOAT16)) == 256


# ----------------------------------------------------------------------------------------------
# Refusals


def _refusing_calls(fmt):
    """A call with a half-precision first argument for every function outside the accepted list."""
    x = np.ones((4, 4), fmt)
    boxes = np.array([[0, 0, 1, 1], [0, 0, 2, 2]], fmt)
    calls = [(spec.name, lambda spec=spec: spec.loss(x, np.ones((4, 4)))) for spec in registry.LOSSES
             if spec.name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss")]
    calls += [
        ("generalized_box_iou_loss", lambda: lossbook.generalized_box_iou_loss(boxes, boxes.astype(np.float32))),
        ("l2_penalty", lambda: lossbook.l2_penalty(x, 0.1)),
        ("l2_penalty_grad", lambda: lossbook.l2_penalty_grad(x, 0.1)),
        ("box_iou", lambda: lossbook.box_iou(boxes, boxes)),
        ("multi_margin_loss_grad", lambda: lossbook.multi_margin_loss_grad(x, [0, 1, 2, 3])),
    ]
    return calls


@pytest.mark.parametrize("fmt", FORMATS)
def test_other_functions_refuse_half_precision_naming_argument_and_dtype(fmt):
    for name, call in _refusing_calls(FORMATS[fmt]):
        with pytest.raises(TypeError) as error:
            call()
        message = str(error.value)
        assert f"has dtype {fmt}" in message and "cross_entropy" in message and "cast to float32" in message, name


def test_the_accepted_list_names_the_tested_functions():
    named = HALF_PRECISION_FUNCTIONS.split(", their _grad twins")[0].split(", ")
    assert sorted(named) == sorted({*ACCEPTED_LOSSES, *(n for n in PRIMITIVES if " " not in n and "_grad" not in n)})


def test_half_precision_targets_and_weights_are_accepted_with_float32_logits():
    logits = np.array([[1.0, 2.0, 0.5]], np.float32)
    half_weight = np.array([1.0, 2.0, 0.5], np.float16)
    value = lossbook.cross_entropy(logits, [1], weight=half_weight)
    assert value.dtype == np.float32  # the logits set the dtype
    assert value == lossbook.cross_entropy(logits, [1], weight=half_weight.astype(np.float32))


# ----------------------------------------------------------------------------------------------
# Loss scaling: lossbook.optim.GradScaler against a hand trace and torch.amp.GradScaler


def _replay(scaler, script):
    """Drive `scaler` with scripted gradients ("." finite, "i" inf, "n" nan); the scales and the steps taken."""
    params = {"w": np.zeros(1, np.float32)}
    optimizer = lossbook.optim.GradientDescent(lr=1.0)
    scales, taken = [], []
    for symbol in script:
        value = {".": 1.0, "i": np.inf, "n": np.nan}[symbol]
        grads = {"w": np.array([value * scaler.scale(1.0)], np.float32)}  # a backward pass of the scaled loss
        taken.append(scaler.step(optimizer, params, grads))
        scaler.update()
        scales.append(scaler.get_scale())
    return scales, taken


def test_grad_scaler_follows_a_hand_trace():
    # Scale 8, x4 after 3 finite steps in a row, x1/4 at every non-finite step (which is skipped).
    scaler = lossbook.optim.GradScaler(init_scale=8.0, growth_factor=4.0, backoff_factor=0.25, growth_interval=3)
    scales, taken = _replay(scaler, "....i..n......ii...")
    assert scales == [8, 8, 32, 32, 8, 8, 8, 2, 2, 2, 8, 8, 8, 32, 8, 2, 2, 2, 8]
    assert "".join("s" if t else "-" for t in taken) == "ssss-ss-ssssss--sss"


@pytest.mark.parametrize("run", sorted(GOLDEN["grad_scaler"]))
def test_grad_scaler_matches_torch_amp_grad_scaler(run):
    recorded = GOLDEN["grad_scaler"][run]
    scales, taken = _replay(lossbook.optim.GradScaler(**recorded["options"]), recorded["script"])
    expected = [scale for count, scale in recorded["scales"] for _ in range(count)]
    assert scales == expected
    assert "".join("s" if t else "-" for t in taken) == recorded["taken"]


def test_grad_scaler_defaults_are_pytorchs():
    scaler = lossbook.optim.GradScaler()
    assert (scaler.get_scale(), scaler.growth_factor, scaler.backoff_factor, scaler.growth_interval) == (
        65536.0, 2.0, 0.5, 2000)
    assert GOLDEN["grad_scaler"]["default"]["scales"][0] == [1, 32768.0]  # torch's first backoff from 65536


def test_scaled_gradients_survive_float16_and_skipped_steps_change_nothing():
    true_gradient = np.array([2e-8, -1e-7, 2e-5])  # the first is below half float16's smallest number, 2**-25
    assert np.float16(true_gradient[0]) == 0
    scaler = lossbook.optim.GradScaler()
    scaled = {"w": (true_gradient * scaler.scale(1.0)).astype(np.float16)}
    unscaled = scaler.unscale(scaled)["w"]
    assert unscaled.dtype == np.float32 and scaler.found_inf is False
    np.testing.assert_allclose(unscaled, true_gradient, rtol=2**-10)  # float16's precision, none lost to underflow
    assert scaler.unscale(scaled) is scaler.unscale(scaled)  # once per step, as torch's unscale_
    params = {"w": np.ones(3, np.float32)}
    scaler.update()
    assert scaler.step(lossbook.optim.GradientDescent(lr=1.0), params, {"w": np.array([1, np.nan, 1.0])}) is False
    np.testing.assert_array_equal(params["w"], 1.0)
    loss = np.float16(0.5)
    assert scaler.scale(loss).dtype == np.float16 and float(scaler.scale(loss)) == 0.5 * 65536


def test_grad_scaler_checks_its_arguments_and_its_call_order():
    with pytest.raises(ValueError, match="growth_factor must be > 1"):
        lossbook.optim.GradScaler(growth_factor=1.0)
    with pytest.raises(ValueError, match="backoff_factor must lie in"):
        lossbook.optim.GradScaler(backoff_factor=1.5)
    with pytest.raises(TypeError, match="growth_interval must be an integer"):
        lossbook.optim.GradScaler(growth_interval=2.5)
    with pytest.raises(ValueError, match="init_scale must be > 0"):
        lossbook.optim.GradScaler(init_scale=0.0)
    with pytest.raises(RuntimeError, match="update"):
        lossbook.optim.GradScaler().update()
