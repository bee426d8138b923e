"""softmax_grad and log_softmax_grad (and their value_and_grad forms): the vector-Jacobian products.

Four independent oracles: PyTorch's ``backward()`` (golden values below), the SymPy Jacobians of the
textbook definitions, central finite differences, and identities (the gradient of a probability sum
is zero; with g = -y, log_softmax's gradient is the cross-entropy's p - y).

The golden values were printed by torch 2.13.0, float64: ``y = torch.softmax(x, dim); y.backward(g)``
then ``x.grad``, rounded to 15 decimals.
"""

import numpy as np
import pytest
import sympy as sp

import lossbook
from lossbook import (
    cross_entropy_grad,
    log_softmax,
    log_softmax_grad,
    log_softmax_value_and_grad,
    softmax,
    softmax_grad,
    softmax_value_and_grad,
    symbolic,
)
from lossbook.gradcheck import numerical_grad

X = np.array([[0.5, -1.25, 2.0, 0.0], [3.0, 3.0, -2.5, 1.5], [-0.75, 0.25, 0.125, -4.0]])
G = np.array([[1.0, -2.0, 0.5, 0.25], [0.0, 1.5, -1.0, 2.0], [-0.5, 0.75, 3.0, -1.25]])
TORCH_GOLDEN = {
    ("softmax", 1): [
        [0.082041671577035, -0.068995029000833, 0.009836843927872, -0.022883486504074],
        [-0.391528153324433, 0.281958106018634, -0.003435009013615, 0.113005056319414],
        [-0.31045475306044, -0.291939545512295, 0.619155941582069, -0.016761643009334],
    ],
    ("softmax", 0): [
        [0.069521956376922, -0.045103290791113, -0.27045009293317, -0.258362612601099],
        [-0.057533192870071, 0.084189992805317, -0.017314442449579, 0.268089858881253],
        [-0.011988763506851, -0.039086702014204, 0.287764535382749, -0.009727246280154],
    ],
    ("log_softmax", 1): [
        [1.039923387508027, -1.99306235551683, 0.678924209445596, 0.274214758563207],
        [-1.122477098905111, 0.377522901094889, -1.004587307348136, 1.749541505158358],
        [-0.824889913922452, -0.133142349265023, 2.220629612232334, -1.26259734904486],
    ],
    ("log_softmax", 0): [
        [0.962877715782755, -2.003307442610092, -1.646910577409914, 0.068181973858604],
        [-0.452242003284107, 1.26813037200651, -1.023850022172362, 1.185148139451664],
        [-0.510635712498648, 0.735177070603581, 2.670760599582276, -1.253330113310268],
    ],
}
GRADS = {"softmax": softmax_grad, "log_softmax": log_softmax_grad}
FUSED = {"softmax": softmax_value_and_grad, "log_softmax": log_softmax_value_and_grad}
VALUES = {"softmax": softmax, "log_softmax": log_softmax}


@pytest.mark.parametrize("name, axis", list(TORCH_GOLDEN))
def test_matches_torch_backward(name, axis):
    np.testing.assert_allclose(GRADS[name](X, G, axis=axis), TORCH_GOLDEN[name, axis], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        GRADS[name](X.astype(np.float32), G.astype(np.float32), axis=axis), TORCH_GOLDEN[name, axis],
        rtol=1e-5, atol=1e-6,
    )


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("num_classes", [3, 10])
def test_matches_the_sympy_jacobian(rng, name, num_classes):
    z = symbolic.logit_symbols(num_classes)
    outputs = {"softmax": symbolic.softmax, "log_softmax": symbolic.log_softmax}[name](z)
    jacobian = sp.Matrix(list(outputs)).jacobian(list(z))  # J[i, m] = d output_i / d z_m
    evaluate = sp.lambdify(list(z), jacobian, "numpy")
    for _ in range(3):
        x, g = rng.normal(scale=3, size=num_classes), rng.normal(size=num_classes)
        expected = np.array(evaluate(*x), dtype=float).T @ g  # J^T g
        np.testing.assert_allclose(GRADS[name](x, g), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, axis", [((5, 7), -1), ((5, 7), 0), ((2, 3, 4), 1), ((6,), 0)])
def test_matches_finite_differences(rng, name, shape, axis):
    x, g = rng.normal(scale=2, size=shape), rng.normal(size=shape)
    expected = numerical_grad(lambda v: float(np.sum(g * VALUES[name](v, axis=axis))), x)
    np.testing.assert_allclose(GRADS[name](x, g, axis=axis), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, axis", [((300, 1000), -1), ((2100, 700), -1), ((40, 5000), -1), ((7, 9), 0)])
def test_fused_equals_value_and_grad_and_keeps_dtype(rng, name, dtype, shape, axis):
    # (2100, 700) is large enough for two threads and several row blocks; 5000 columns take the
    # long-row route of the row dot products.
    x, g = rng.normal(scale=4, size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)
    value, grad = FUSED[name](x, g, axis=axis)
    assert value.dtype == grad.dtype == dtype and value.shape == grad.shape == shape
    # The kernels round differently from the reference (unshifted exponentials, einsum row sums):
    # agreement to a few units in the last place, not to the bit.
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(value, VALUES[name](x, axis=axis), rtol=64 * eps, atol=64 * eps)
    np.testing.assert_allclose(grad, GRADS[name](x, g, axis=axis), rtol=1e3 * eps, atol=64 * eps)
    reference_p = softmax(x.astype(np.float64), axis=axis)
    gg = g.astype(np.float64)
    if name == "softmax":
        expected = reference_p * (gg - np.sum(gg * reference_p, axis=axis, keepdims=True))
    else:
        expected = gg - reference_p * np.sum(gg, axis=axis, keepdims=True)
    tolerance = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(grad, expected, rtol=tolerance, atol=tolerance * np.abs(expected).max())


def test_identities(rng):
    x = rng.normal(scale=3, size=(20, 6))
    # The probabilities sum to one whatever x is, so their sum has no gradient.
    np.testing.assert_allclose(softmax_grad(x, np.ones_like(x)), 0, atol=1e-15)
    # With g = -y, log_softmax's gradient is the cross-entropy's p - y (summed over the batch).
    labels = rng.integers(0, 6, size=20)
    one_hot = np.eye(6)[labels]
    np.testing.assert_allclose(
        log_softmax_grad(x, -one_hot), cross_entropy_grad(x, labels, reduction="sum"), rtol=1e-13, atol=1e-15
    )
    # The softmax gradient is the log_softmax gradient of g * p (chain rule through log).
    p = softmax(x)
    np.testing.assert_allclose(softmax_grad(x, x), log_softmax_grad(x, x * p), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_give_finite_gradients(name, dtype):
    x = np.array([[1e4, -1e4, 0.0], [1e4, 1e4 - 1, 1e4 - 2], [-1e4, -1e4 + 3, -1e4]], dtype=dtype)
    g = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0], [0.0, 1.0, -1.0]], dtype=dtype)
    grad = GRADS[name](x, g)
    assert np.all(np.isfinite(grad))
    x64 = x.astype(np.float64)
    reference = GRADS[name](x64 - x64.max(axis=1, keepdims=True), g.astype(np.float64))
    np.testing.assert_allclose(grad, reference, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-7)


@pytest.mark.parametrize(
    "function", [softmax_grad, log_softmax_grad, softmax_value_and_grad, log_softmax_value_and_grad]
)
def test_bad_input(function):
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match="grad_output must have the shape of x"):
        function(x, np.zeros((4, 1)))  # would broadcast in NumPy; never here
    with pytest.raises(ValueError, match="grad_output must have the shape of x"):
        function(x, np.zeros(3))
    with pytest.raises(TypeError, match="grad_output must hold real numbers"):
        function(x, np.full((4, 3), "a"))
    with pytest.raises(TypeError, match="x must hold real numbers"):
        function(np.full((4, 3), "a"), x)
    with pytest.raises(ValueError, match="axis must lie in"):
        function(x, x, axis=2)


def test_exported():
    for name in ("softmax_grad", "log_softmax_grad", "softmax_value_and_grad", "log_softmax_value_and_grad"):
        assert name in lossbook.__all__
