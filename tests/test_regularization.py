"""The L2 penalty: golden values, the CS231n convention, dtype, bad input."""

import numpy as np
import pytest

from lossbook import l2_penalty, l2_penalty_grad
from lossbook.gradcheck import numerical_grad, relative_error


def test_golden_value_and_gradient():
    weights = np.array([[1.0, -2.0], [3.0, 0.5]])
    assert l2_penalty(weights, 0.1) == pytest.approx(0.1 * (1 + 4 + 9 + 0.25), rel=1e-15)
    np.testing.assert_allclose(l2_penalty_grad(weights, 0.1), 0.2 * weights, rtol=1e-15)


def test_cs231n_half_convention_agrees_up_to_the_factor(rng):
    # CS231n: 0.5 * reg * sum(W * W), gradient reg * W. Ours with lam = reg / 2 is the same function.
    weights, reg = rng.normal(size=(4, 3)), 1e-3
    assert l2_penalty(weights, reg / 2) == pytest.approx(0.5 * reg * np.sum(weights * weights), rel=1e-14)
    np.testing.assert_allclose(l2_penalty_grad(weights, reg / 2), reg * weights, rtol=1e-14)


def test_finite_differences(rng):
    weights = rng.normal(size=(3, 5))
    fd = numerical_grad(lambda w: l2_penalty(w, 0.7), weights)
    assert relative_error(l2_penalty_grad(weights, 0.7), fd) < 1e-8


def test_float32_kept():
    weights = np.ones((2, 2), dtype=np.float32)
    assert isinstance(l2_penalty(weights, 0.5), np.float32)
    assert l2_penalty_grad(weights, 0.5).dtype == np.float32


@pytest.mark.parametrize(
    ("lam", "error", "message"),
    [(-0.1, ValueError, "lam must be a finite number >= 0"), (np.inf, ValueError, "lam"),
     ("0.1", TypeError, "lam must be a real number"), (True, TypeError, "lam"), (None, TypeError, "lam")],
)
@pytest.mark.parametrize("function", [l2_penalty, l2_penalty_grad])
def test_bad_lam(function, lam, error, message):
    with pytest.raises(error, match=message):
        function(np.ones(3), lam)


@pytest.mark.parametrize("function", [l2_penalty, l2_penalty_grad])
def test_bad_weights(function):
    with pytest.raises(TypeError, match="weights must hold real numbers"):
        function(["w"], 0.1)
