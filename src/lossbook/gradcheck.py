"""Finite-difference gradients and the relative error used to compare gradients.

A derivative computed by hand (or by the library) is only trusted once it matches a numerical
estimate. Central differences, :math:`(f(x + h) - f(x - h)) / 2h`, have an error of order
:math:`h^2`; with float64 and :math:`h = 10^{-6}` that leaves agreement to about 1e-8 for smooth losses.
"""

import numpy as np

from lossbook._validation import as_float_array


def numerical_grad(f, x, h=1e-6):
    r"""Central-difference gradient of a scalar function `f` at `x`, shaped like `x`.

    Parameters
    ----------
    f : callable
        Takes an array shaped like `x`, returns a scalar (or an array, which is summed).
    x : array_like
        The point; it is copied to float64 and not modified.
    h : float, default 1e-6
        The step.

    Examples
    --------
    >>> from lossbook.gradcheck import numerical_grad
    >>> numerical_grad(lambda v: (v ** 2).sum(), [1.0, -3.0]).round(6)
    array([ 2., -6.])
    """
    x = as_float_array(x, "x").astype(np.float64)
    grad = np.empty_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        up = np.sum(f(x))
        x[index] = original - h
        down = np.sum(f(x))
        x[index] = original
        grad[index] = (up - down) / (2 * h)
    return grad


def numerical_jacobian(f, x, h=1e-6):
    r"""Central-difference Jacobian of an array-valued `f` at `x`, shape ``f(x).shape + x.shape``.

    Examples
    --------
    >>> from lossbook.gradcheck import numerical_jacobian
    >>> numerical_jacobian(lambda v: 3 * v, [1.0, 2.0]).round(6)
    array([[3., 0.],
           [0., 3.]])
    """
    x = as_float_array(x, "x").astype(np.float64)
    out_shape = np.shape(f(x))
    jacobian = np.empty(out_shape + x.shape)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        up = np.asarray(f(x), dtype=np.float64)
        x[index] = original - h
        down = np.asarray(f(x), dtype=np.float64)
        x[index] = original
        jacobian[(...,) + index] = (up - down) / (2 * h)
    return jacobian


def relative_error(actual, expected, floor=1e-8):
    r"""Largest elementwise relative error :math:`|a - b| / \max(|a| + |b|, \text{floor})`.

    The floor keeps entries that are both (nearly) zero from dividing by zero; with it, two
    gradients that agree to 1e-8 in absolute terms count as agreeing.

    Examples
    --------
    >>> from lossbook.gradcheck import relative_error
    >>> float(relative_error([1.0, 2.0], [1.0, 2.000002]))
    5e-07
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        raise ValueError(f"actual and expected must have the same shape; got {actual.shape} and {expected.shape}")
    if actual.size == 0:
        return 0.0
    scale = np.maximum(np.abs(actual) + np.abs(expected), floor)
    return float(np.max(np.abs(actual - expected) / scale))
