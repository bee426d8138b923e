"""The finite-difference tools that the other tests and the chapters rely on."""

import numpy as np
import pytest

from lossbook.gradcheck import numerical_grad, numerical_jacobian, relative_error


def test_numerical_grad_of_a_cubic(rng):
    x = rng.normal(size=(2, 3))
    np.testing.assert_allclose(numerical_grad(lambda v: np.sum(v**3), x), 3 * x**2, rtol=1e-8)


def test_numerical_grad_leaves_input_untouched(rng):
    x = rng.normal(size=4)
    copy = x.copy()
    numerical_grad(np.sum, x)
    np.testing.assert_array_equal(x, copy)


def test_numerical_jacobian_of_a_linear_map(rng):
    matrix = rng.normal(size=(3, 4))
    jacobian = numerical_jacobian(lambda v: matrix @ v, rng.normal(size=4))
    np.testing.assert_allclose(jacobian, matrix, atol=1e-8)


def test_relative_error():
    assert relative_error([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert relative_error([1.0], [3.0]) == pytest.approx(0.5)
    assert relative_error([1e-12], [0.0]) < 1e-3  # both are zero for gradient-checking purposes
    with pytest.raises(ValueError, match="same shape"):
        relative_error([1.0, 2.0], [1.0])
