"""MSE, L1, smooth L1 and Huber: PyTorch golden values, relations between them, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lossbook import (
    huber_loss,
    huber_loss_grad,
    l1_loss,
    l1_loss_grad,
    mse_loss,
    mse_loss_grad,
    smooth_l1_loss,
    smooth_l1_loss_grad,
)

# torch 2.13.0, float64. The second row holds an error of exactly 0 (a kink of L1 and smooth L1).
PRED = np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -3.0]])
TARGET = np.array([[0.0, -1.5, 2.5], [1.0, 1.0, 1.0]])

TORCH = [
    (smooth_l1_loss, smooth_l1_loss_grad, {"beta": 0.5}, 0.875,
     [[1 / 6, 1 / 6, -1 / 6], [0.0, -1 / 6, -1 / 6]]),
    (huber_loss, huber_loss_grad, {"delta": 2.0, "reduction": "sum"}, 6.875, [[0.5, 0.5, -0.5], [0.0, -1.0, -2.0]]),
    (l1_loss, l1_loss_grad, {}, 1.0833333333, [[1 / 6, 1 / 6, -1 / 6], [0.0, -1 / 6, -1 / 6]]),
    (mse_loss, mse_loss_grad, {}, 2.9583333333, [[1 / 6, 1 / 6, -1 / 6], [0.0, -1 / 3, -4 / 3]]),
]


@pytest.mark.parametrize(
    ("loss", "grad", "options", "value", "gradient"), TORCH, ids=lambda v: getattr(v, "__name__", None)
)
def test_match_torch(loss, grad, options, value, gradient):
    assert loss(PRED, TARGET, **options) == pytest.approx(value, abs=1e-9)
    np.testing.assert_allclose(grad(PRED, TARGET, **options), gradient, atol=1e-9)


errors = arrays(np.float64, st.integers(1, 20), elements=st.floats(-20, 20))


@given(errors, st.floats(0.1, 5))
def test_relations(e, width):
    zero = np.zeros_like(e)
    # Smooth L1 is Huber divided by its width; both sit between 0 and the L1 and MSE they interpolate.
    np.testing.assert_allclose(
        smooth_l1_loss(e, zero, beta=width, reduction="none"),
        huber_loss(e, zero, delta=width, reduction="none") / width,
        rtol=1e-12, atol=1e-15,
    )
    assert np.all(huber_loss(e, zero, delta=width, reduction="none") <= 0.5 * e * e + 1e-12)
    assert np.all(smooth_l1_loss(e, zero, beta=width, reduction="none") <= np.abs(e) + 1e-12)
    np.testing.assert_allclose(smooth_l1_loss(e, zero, beta=0.0, reduction="none"), np.abs(e))
    assert np.all(np.abs(huber_loss_grad(e, zero, delta=width, reduction="none")) <= width + 1e-12)


def test_zero_at_a_perfect_prediction():
    for loss in (mse_loss, l1_loss, smooth_l1_loss, huber_loss):
        assert loss(PRED, PRED) == 0.0


def test_float32_kept():
    pred = PRED.astype(np.float32)
    assert isinstance(huber_loss(pred, TARGET), np.float32)
    assert smooth_l1_loss_grad(pred, TARGET).dtype == np.float32


@pytest.mark.parametrize("loss", [mse_loss, l1_loss, smooth_l1_loss, huber_loss, mse_loss_grad, huber_loss_grad])
def test_no_broadcasting(loss):
    message = r"target must have the shape of input \(3,\) \(no broadcasting\); got \(3, 1\)"
    with pytest.raises(ValueError, match=message):
        loss(np.zeros(3), np.zeros((3, 1)))


def test_bad_widths():
    with pytest.raises(ValueError, match="beta must be a finite number >= 0"):
        smooth_l1_loss(PRED, TARGET, beta=-0.1)
    with pytest.raises(ValueError, match="delta must be > 0"):
        huber_loss(PRED, TARGET, delta=0.0)
    with pytest.raises(ValueError, match="delta"):
        huber_loss_grad(PRED, TARGET, delta=-1.0)
    with pytest.raises(TypeError, match="beta must be a real number"):
        smooth_l1_loss(PRED, TARGET, beta=None)


def test_empty_input_as_in_pytorch():
    # The mean of nothing is nan, the sum 0, and the gradient empty (PyTorch's results).
    assert np.isnan(mse_loss(np.zeros(0), np.zeros(0)))
    assert mse_loss(np.zeros(0), np.zeros(0), reduction="sum") == 0
    assert mse_loss_grad(np.zeros((0, 4)), np.zeros((0, 4))).shape == (0, 4)
