"""nll_loss and cross_entropy: PyTorch golden values, properties, extremes, and bad input.

The golden values were printed by torch 2.13.0 (``torch.nn.functional.cross_entropy`` and
``nll_loss`` in float64, ``loss.backward()`` for the gradients) for the inputs below, rounded to
10 decimals. They pin down PyTorch's conventions where they are easy to get wrong: the weighted
mean's denominator, ignored samples, and label smoothing with weights.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lossbook import (
    cross_entropy,
    cross_entropy_grad,
    cross_entropy_value_and_grad,
    log_softmax,
    nll_loss,
    nll_loss_grad,
    softmax,
)
from lossbook.optim import GradientDescent

LOGITS = np.array([[1.0, 2.0, 0.5, -1.0], [0.0, -0.5, 3.0, 1.0], [2.0, 2.0, -2.0, 0.0]])
WEIGHT = np.array([0.5, 2.0, 1.0, 1.5])
TARGET = np.array([1, 2, 0])
TARGET_IGNORED = np.array([1, -100, 0])
PROBS = np.array([[0.1, 0.6, 0.2, 0.1], [0.0, 0.0, 1.0, 0.0], [0.25, 0.25, 0.25, 0.25]])

TORCH_GOLDEN = {
    "index": (
        {"target": TARGET},
        0.485784534,
        [[0.0747359393, -0.1301799875, 0.0453296386, 0.0101144095],
         [0.0136554102, 0.0082824249, -0.0590570884, 0.0371192533],
         [-0.1785573992, 0.1547759342, 0.0028348201, 0.0209466449]],
    ),
    "index_weight": (
        {"target": TARGET, "weight": WEIGHT},
        0.4482723564,
        [[0.1281187532, -0.2231656928, 0.0777079519, 0.0173389877],
         [0.0117046373, 0.0070992214, -0.0506203615, 0.0318165028],
         [-0.0765245996, 0.0663325432, 0.0012149229, 0.0089771335]],
    ),
    "index_weight_ignore": (
        {"target": TARGET_IGNORED, "weight": WEIGHT},
        0.5495784195,
        [[0.1793662544, -0.3124319699, 0.1087911326, 0.0242745828],
         [0.0, 0.0, 0.0, 0.0],
         [-0.1071344395, 0.0928655605, 0.0017008921, 0.0125679869]],
    ),
    "index_weight_ignore_smoothing": (
        {"target": TARGET_IGNORED, "weight": WEIGHT, "label_smoothing": 0.2},
        0.835897376,
        [[0.1559137854, -0.2289995722, 0.0806317977, -0.0075460109],
         [0.0, 0.0, 0.0, 0.0],
         [-0.0492747714, 0.0807252286, -0.0177888403, -0.013661617]],
    ),
    "index_smoothing_sum": (
        {"target": TARGET, "label_smoothing": 0.2, "reduction": "sum"},
        2.457353602,
        [[0.174207818, -0.2405399624, 0.0859889158, -0.0196567714],
         [-0.0090337695, -0.0251527252, -0.0271712652, 0.0613577599],
         [-0.3856721975, 0.4143278025, -0.0414955396, 0.0128399347]],
    ),
    "probs_weight_smoothing": (
        {"target": PROBS, "weight": WEIGHT, "label_smoothing": 0.1},
        1.6179325602,
        [[0.0977950784, -0.0587316804, 0.0026075511, -0.0416709491],
         [0.0098301287, -0.0081771811, -0.0272001823, 0.0255472346],
         [0.151803251, 0.026803251, -0.0797898082, -0.0988166939]],
    ),
}


@pytest.mark.parametrize("case", TORCH_GOLDEN)
def test_cross_entropy_matches_torch(case):
    arguments, value, grad = TORCH_GOLDEN[case]
    options = {k: v for k, v in arguments.items() if k != "target"}
    target = arguments["target"]
    assert cross_entropy(LOGITS, target, **options) == pytest.approx(value, abs=1e-9)
    np.testing.assert_allclose(cross_entropy_grad(LOGITS, target, **options), grad, atol=1e-9)


def test_cross_entropy_none_matches_torch():
    losses = cross_entropy(LOGITS, TARGET_IGNORED, weight=WEIGHT, label_smoothing=0.2, reduction="none")
    np.testing.assert_allclose(losses, [1.2410865114588336, 0.0, 0.84865692844914], rtol=1e-12)


def test_nll_loss_matches_torch():
    log_probs = log_softmax(LOGITS)
    assert nll_loss(log_probs, TARGET_IGNORED, weight=WEIGHT) == pytest.approx(0.5495784195, abs=1e-9)
    np.testing.assert_allclose(
        nll_loss_grad(log_probs, TARGET_IGNORED, weight=WEIGHT),
        [[0.0, -0.8, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [-0.2, 0.0, 0.0, 0.0]],
        atol=1e-12,
    )


def test_weighted_mean_divides_by_counted_weight():
    # Hand computation: losses -w[y] log p[y] over the two counted rows, divided by w[1] + w[0] = 2.5.
    log_p = log_softmax(LOGITS)
    expected = -(WEIGHT[1] * log_p[0, 1] + WEIGHT[0] * log_p[2, 0]) / (WEIGHT[1] + WEIGHT[0])
    assert cross_entropy(LOGITS, TARGET_IGNORED, weight=WEIGHT) == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_is_nll_of_log_softmax(rng):
    logits = rng.normal(size=(6, 5))
    target = rng.integers(0, 5, size=6)
    for reduction in ("mean", "sum", "none"):
        np.testing.assert_allclose(
            cross_entropy(logits, target, reduction=reduction),
            nll_loss(log_softmax(logits), target, reduction=reduction),
            rtol=1e-12,
        )


def test_index_and_one_hot_targets_agree(rng):
    logits = rng.normal(size=(4, 3))
    target = np.array([0, 2, 1, 2])
    one_hot = np.eye(3)[target]
    for smoothing in (0.0, 0.3):
        assert cross_entropy(logits, target, label_smoothing=smoothing) == pytest.approx(
            cross_entropy(logits, one_hot, label_smoothing=smoothing), rel=1e-12
        )
        np.testing.assert_allclose(
            cross_entropy_grad(logits, target, label_smoothing=smoothing),
            cross_entropy_grad(logits, one_hot, label_smoothing=smoothing),
            atol=1e-15,
        )


@pytest.mark.parametrize(
    "options", [{}, {"weight": WEIGHT}, {"label_smoothing": 0.2}, {"weight": WEIGHT, "label_smoothing": 0.1}]
)
def test_all_ignored_mean_is_nan_with_a_zero_gradient_like_torch(options):
    # PyTorch: the mean over no sample is 0/0 = nan, and its gradient is 0 (not nan), so a
    # gradient-descent step on such a batch leaves the parameters alone.
    ignored = [-100, -100, -100]
    with np.errstate(all="raise"):  # and quietly: no warning escapes
        value = cross_entropy(LOGITS, ignored, **options)
        grads = [
            cross_entropy_grad(LOGITS, ignored, **options),
            cross_entropy_value_and_grad(LOGITS, ignored, **options)[1],
        ]
        if "label_smoothing" not in options:
            grads.append(nll_loss_grad(log_softmax(LOGITS), ignored, **options))
    assert np.isnan(value)
    for grad in grads:
        np.testing.assert_array_equal(grad, np.zeros_like(LOGITS))
    params = {"W": LOGITS.copy()}
    GradientDescent(lr=0.5).step(params, {"W": grads[0]})
    np.testing.assert_array_equal(params["W"], LOGITS)


def test_spatial_targets_match_per_position_loop(rng):
    logits = rng.normal(size=(2, 3, 4))  # (N, C, d)
    target = rng.integers(0, 3, size=(2, 4))
    per_position = cross_entropy(logits, target, reduction="none")
    assert per_position.shape == (2, 4)
    for n in range(2):
        for d in range(4):
            assert per_position[n, d] == pytest.approx(cross_entropy(logits[n, :, d], target[n, d]), rel=1e-12)


logit_batches = arrays(
    np.float64, st.tuples(st.integers(1, 5), st.integers(2, 6)), elements=st.floats(-30, 30)
)


@given(logit_batches, st.data())
def test_properties(logits, data):
    n, c = logits.shape
    target = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    smoothing = data.draw(st.sampled_from([0.0, 0.1, 0.5]))
    losses = cross_entropy(logits, target, reduction="none", label_smoothing=smoothing)
    grad = cross_entropy_grad(logits, target, label_smoothing=smoothing)
    assert np.all(losses >= 0)
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-12)  # softmax - q, both sum to one
    np.testing.assert_allclose(
        cross_entropy(logits + 7.0, target, label_smoothing=smoothing),
        cross_entropy(logits, target, label_smoothing=smoothing),
        rtol=1e-9, atol=1e-12,
    )


def test_zero_loss_at_a_perfect_prediction():
    target = np.array([0, 2])
    confident = 1e4 * np.eye(3)[target]  # the right class wins by 1e4: p = 1 to machine precision
    assert cross_entropy(confident, target) == 0.0
    np.testing.assert_array_equal(cross_entropy_grad(confident, target), 0.0)


def test_nll_is_zero_when_the_target_has_probability_one():
    log_probs = np.array([[0.0, -np.inf], [-np.inf, 0.0]])
    assert nll_loss(log_probs, [0, 1]) == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_extreme_logits(dtype, scale):
    logits = np.array([[scale, 0.0, -scale], [1e4, 1e4 - 1, 1e4 - 3]], dtype=dtype)
    target = np.array([1, 0])
    losses = cross_entropy(logits, target, reduction="none")
    grad = cross_entropy_grad(logits, target)
    assert losses.dtype == dtype and grad.dtype == dtype
    assert np.all(np.isfinite(losses)) and np.all(np.isfinite(grad))
    assert losses[0] == pytest.approx(abs(scale), rel=1e-6)  # -log softmax = the gap to the best score
    assert losses[1] == pytest.approx(0.34901222, rel=1e-5)
    expected_grad = (softmax(logits.astype(np.float64)) - np.eye(3)[target]) / 2
    np.testing.assert_allclose(grad, expected_grad, atol=1e-6)


BAD_INPUTS = [
    ((LOGITS, [0, 1]), {}, ValueError, r"target must have shape \(3,\)"),
    ((LOGITS, [[0], [1], [2]]), {}, ValueError, "target must have shape"),
    ((LOGITS, [0, 4, 1]), {}, ValueError, r"class indices in \[0, 4\).*got 4"),
    ((LOGITS, [0, -1, 1]), {}, ValueError, "got -1"),
    ((LOGITS, [0.0, 1.5, 1.0]), {}, ValueError, "whole numbers; got 1.5"),
    ((LOGITS, [True, False, True]), {}, TypeError, "target must hold integer class indices"),
    ((LOGITS, np.ones((3, 4), dtype=int)), {}, TypeError, "floating point"),
    ((LOGITS, TARGET), {"weight": [1.0, 2.0]}, ValueError, r"weight must have shape \(4,\)"),
    ((LOGITS, TARGET), {"label_smoothing": 1.5}, ValueError, r"label_smoothing must lie in \[0, 1\]"),
    ((LOGITS, TARGET), {"label_smoothing": -0.1}, ValueError, "label_smoothing"),
    ((LOGITS, TARGET), {"label_smoothing": "0.1"}, TypeError, "label_smoothing must be a real number"),
    ((LOGITS, TARGET), {"reduction": "average"}, ValueError, "reduction must be one of"),
    ((LOGITS, TARGET), {"reduction": None}, TypeError, "reduction must be a string"),
    ((LOGITS, TARGET), {"ignore_index": 1.0}, TypeError, "ignore_index must be an integer"),
    ((np.zeros((3, 0)), TARGET), {}, ValueError, "at least one class"),
    ((5.0, 0), {}, ValueError, "logits must have a class axis"),
    (([["a", "b"]], [0]), {}, TypeError, "logits must hold real numbers"),
    (([[1.0, 2.0], [3.0]], [0, 1]), {}, ValueError, "logits must be a rectangular array"),
]


@pytest.mark.parametrize("function", [cross_entropy, cross_entropy_grad])
@pytest.mark.parametrize(("args", "kwargs", "error", "message"), BAD_INPUTS)
def test_cross_entropy_rejects_bad_input(function, args, kwargs, error, message):
    with pytest.raises(error, match=message):
        function(*args, **kwargs)


@pytest.mark.parametrize("function", [nll_loss, nll_loss_grad])
def test_nll_loss_rejects_bad_input(function):
    log_probs = log_softmax(LOGITS)
    with pytest.raises(ValueError, match="target must have shape"):
        function(log_probs, [0, 1])
    with pytest.raises(ValueError, match="got 7"):
        function(log_probs, [0, 7, 1])
    with pytest.raises(TypeError, match="log_probs must hold real numbers"):
        function(np.array([[None, None]]), [0])
    with pytest.raises(ValueError, match="weight must have shape"):
        function(log_probs, TARGET, weight=np.ones((4, 1)))
    # An empty batch is not an error (PyTorch: the mean is nan, the sum 0; tests/test_torch_parity.py).
    assert np.shape(function(np.zeros((0, 4)), np.zeros(0, dtype=int), reduction="none")) == (
        (0,) if function is nll_loss else (0, 4)
    )


def test_probability_targets_shape_is_not_broadcast():
    # A (1, C) target must not silently stand for every row of an (N, C) batch.
    with pytest.raises(ValueError, match="target must have shape"):
        cross_entropy(LOGITS, PROBS[:1])
