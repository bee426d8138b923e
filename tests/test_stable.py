"""The stable primitives: golden values, properties, extreme inputs, agreement with SymPy."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lossbook import log_sigmoid, log_softmax, logsumexp, sigmoid, softmax, softplus, softplus_grad, symbolic
from lossbook.gradcheck import numerical_jacobian, relative_error

finite_rows = arrays(
    np.float64,
    st.tuples(st.integers(1, 6), st.integers(1, 7)),
    elements=st.floats(-50, 50, allow_nan=False),
)


def test_seed_post_example():
    # The post rounds the last probability to 0.03; it is 0.0351, which is 0.04 to two places.
    np.testing.assert_allclose(softmax([5, 4, 2]), [0.70538451, 0.25949646, 0.03511903], atol=5e-9)
    assert round(float(softmax([5, 4, 2])[2]), 2) == 0.04
    np.testing.assert_allclose(log_softmax([5, 4, 2]), [-0.34901222, -1.34901222, -3.34901222], atol=5e-9)
    assert logsumexp([5, 4, 2]) == pytest.approx(5.34901222, abs=5e-9)


def test_lists_of_ints_give_float64():
    assert softmax([5, 4, 2]).dtype == np.float64
    assert logsumexp([[1, 2], [3, 4]]).dtype == np.float64


@pytest.mark.parametrize("function", [softmax, log_softmax, logsumexp, sigmoid, softplus, log_sigmoid])
def test_float32_stays_float32(function):
    out = function(np.array([[1.0, -2.0, 3.0]], dtype=np.float32))
    assert out.dtype == np.float32


def test_scalar_results_keep_dtype():
    assert isinstance(logsumexp(np.array([1.0, 2.0], dtype=np.float32)), np.float32)
    assert isinstance(sigmoid(np.float32(0.5)), np.float32)


@given(finite_rows, st.floats(-1e3, 1e3))
def test_softmax_is_shift_invariant(x, shift):
    np.testing.assert_allclose(softmax(x + shift), softmax(x), atol=1e-12)


@given(finite_rows)
def test_softmax_rows_are_distributions(x):
    p = softmax(x)
    assert np.all((p >= 0) & (p <= 1))
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)


@given(finite_rows)
def test_log_softmax_is_log_of_softmax_and_nonpositive(x):
    out = log_softmax(x)
    assert np.all(out <= 0)
    np.testing.assert_allclose(np.exp(out), softmax(x), atol=1e-12)
    np.testing.assert_allclose(out, x - logsumexp(x, keepdims=True), atol=1e-12)


@given(finite_rows)
def test_logsumexp_bounds(x):
    # max(x) <= logsumexp(x) <= max(x) + log(C)
    lse = logsumexp(x)
    assert np.all(lse >= x.max(axis=-1) - 1e-12)
    assert np.all(lse <= x.max(axis=-1) + np.log(x.shape[-1]) + 1e-12)


def test_axis_argument():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(softmax(x, axis=0), softmax(x.T).T)
    np.testing.assert_allclose(logsumexp(x, axis=0), logsumexp(x.T))
    assert logsumexp(x, axis=1, keepdims=True).shape == (2, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, -1e4])
def test_extreme_logits(dtype, scale):
    x = np.array([[scale, 0.0, -scale], [1e4, 1e4 - 1, 1e4 - 3]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise"):  # exp may underflow to 0, never overflow
        p, log_p = softmax(x), log_softmax(x)
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(log_p))
    # Second row: all logits near 1e4 behave exactly like [0, -1, -3].
    np.testing.assert_allclose(p[1], softmax(np.array([0.0, -1.0, -3.0])), rtol=1e-6)
    np.testing.assert_allclose(log_p[1], [-0.34901222, -1.34901222, -3.34901222], rtol=1e-6)
    np.testing.assert_allclose(logsumexp(x[1]), 1e4 + 0.34901222, rtol=1e-7)
    # First row: the big score takes everything, and the gaps are kept exactly in log space.
    np.testing.assert_allclose(log_p[0], x[0] - abs(scale), rtol=1e-6)
    np.testing.assert_allclose(p[0], (x[0] == abs(scale)).astype(dtype), atol=1e-30)


def test_all_minus_inf_row():
    assert logsumexp([-np.inf, -np.inf]) == -np.inf
    np.testing.assert_allclose(softmax([0.0, -np.inf]), [1.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_family_at_extremes(dtype):
    x = np.array([-1e4, -30.0, 0.0, 30.0, 1e4], dtype=dtype)
    with np.errstate(over="raise"):
        s, ls, sp_ = sigmoid(x), log_sigmoid(x), softplus(x)
    assert np.all(np.isfinite(ls)) and np.all(np.isfinite(sp_))
    np.testing.assert_allclose(ls, -softplus(-x), rtol=1e-6)
    assert ls[0] == pytest.approx(-1e4, rel=1e-7) and sp_[-1] == pytest.approx(1e4, rel=1e-7)
    assert s[2] == 0.5 and s[-1] == 1.0 and s[0] == 0.0
    # sigma(-30) = e^-30 / (1 + e^-30), accurate in relative terms (not rounded to 0).
    assert s[1] == pytest.approx(np.exp(-30.0) / (1 + np.exp(-30.0)), rel=1e-6)


@given(arrays(np.float64, st.integers(1, 20), elements=st.floats(-30, 30)))
def test_sigmoid_identities(x):
    np.testing.assert_allclose(sigmoid(x) + sigmoid(-x), 1.0, atol=1e-12)
    # np.log(sigmoid(x)) is the less accurate side near 0, hence an absolute tolerance.
    np.testing.assert_allclose(log_sigmoid(x), np.log(sigmoid(x)), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(softplus(x) - softplus(-x), x, atol=1e-10)


@pytest.mark.parametrize("num_classes", [3, 10])
def test_softmax_jacobian_sympy_library_finite_differences(rng, num_classes):
    z = symbolic.logit_symbols(num_classes)
    p = symbolic.softmax(z)
    jacobian = sp.Matrix(num_classes, num_classes, lambda i, j: sp.diff(p[i], z[j]))
    x = rng.normal(scale=2.0, size=num_classes)
    sympy_jacobian = np.array(sp.lambdify(list(z), jacobian, "numpy")(*x), dtype=float)
    probs = softmax(x)
    library_jacobian = np.diag(probs) - np.outer(probs, probs)
    fd_jacobian = numerical_jacobian(softmax, x)
    assert relative_error(library_jacobian, sympy_jacobian) < 1e-10
    assert relative_error(library_jacobian, fd_jacobian) < 1e-6


@pytest.mark.parametrize(
    ("function", "definition"),
    [(softmax, symbolic.softmax), (log_softmax, symbolic.log_softmax), (logsumexp, symbolic.logsumexp)],
)
def test_primitives_match_sympy(rng, function, definition):
    z = symbolic.logit_symbols(4)
    evaluate = sp.lambdify(list(z), list(np.atleast_1d(definition(z))), "numpy")
    x = rng.normal(size=4)
    np.testing.assert_allclose(function(x), np.squeeze(evaluate(*x)), rtol=1e-12)


@pytest.mark.parametrize("function", [softmax, log_softmax, logsumexp])
def test_bad_axis_and_input(function):
    with pytest.raises(ValueError, match="axis"):
        function([1.0, 2.0], axis=3)
    with pytest.raises(TypeError, match="axis"):
        function([1.0, 2.0], axis=0.5)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        function(["a", "b"])


def test_scalars_and_empty_axes_as_in_pytorch():
    # A scalar is one class: probability 1, log-probability 0, and its own log-sum-exp.
    assert softmax(3.0) == 1.0 and log_softmax(3.0) == 0.0 and logsumexp(3.0) == 3.0
    # Over an empty axis there is nothing to normalise (an empty result) and the sum is 0 (-inf).
    assert softmax(np.zeros((2, 0))).shape == log_softmax(np.zeros((2, 0))).shape == (2, 0)
    assert logsumexp(np.zeros(0)) == -np.inf
    np.testing.assert_array_equal(logsumexp(np.zeros((3, 0))), [-np.inf] * 3)


def test_logsumexp_over_several_axes(rng):
    x = rng.normal(size=(2, 3, 4))
    np.testing.assert_allclose(logsumexp(x, axis=(0, 2)), np.log(np.exp(x).sum(axis=(0, 2))), rtol=1e-14)
    assert logsumexp(x, axis=(0, 2), keepdims=True).shape == (1, 3, 1)
    with pytest.raises(ValueError, match="repeat"):
        logsumexp(x, axis=(1, -2))


@pytest.mark.parametrize("function", [softmax, log_softmax])
def test_dtype_casts_first(function):
    x32 = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    assert function(x32, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(function(x32, dtype=np.float64), function(x32.astype(np.float64)))
    with pytest.raises(TypeError, match="dtype must be float32, float64, float16 or bfloat16; got int64"):
        function(x32, dtype=np.int64)


def test_all_minus_inf_row_gives_nan_log_softmax_quietly():
    # No class has any probability: undefined, nan as in PyTorch; the other rows are unaffected.
    out = log_softmax([[-np.inf, -np.inf], [0.0, 0.0]])
    assert np.all(np.isnan(out[0]))
    np.testing.assert_allclose(out[1], np.log([0.5, 0.5]))


@pytest.mark.parametrize("beta, threshold", [(1.0, 20.0), (2.0, 5.0), (0.5, 1.0)])
def test_softplus_beta_and_threshold_against_sympy_and_finite_differences(rng, beta, threshold):
    x = np.concatenate([rng.normal(scale=4, size=20), [threshold / beta, threshold / beta + 1e-3, -50.0, 50.0]])
    t = sp.Symbol("t", real=True)
    textbook = sp.log(1 + sp.exp(beta * t)) / beta  # PyTorch switches to x where beta x > threshold
    # Exact x; log(1 + 1e-44) needs the digits.
    exact = [textbook.subs(t, sp.Float(float(v), 120)).evalf(120) for v in x]
    expected = [float(v) if beta * v > threshold else float(e) for v, e in zip(x, exact, strict=True)]
    np.testing.assert_allclose(softplus(x, beta=beta, threshold=threshold), expected, rtol=1e-13, atol=1e-300)
    smooth = np.abs(beta * x - threshold) > 1e-2  # finite differences away from the switch
    h = 1e-6
    options = {"beta": beta, "threshold": threshold}
    numerical = (softplus(x + h, **options) - softplus(x - h, **options)) / (2 * h)
    np.testing.assert_allclose(softplus_grad(x, **options)[smooth], numerical[smooth], rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="beta must be > 0"):
        softplus(x, beta=0.0)

