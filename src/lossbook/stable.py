"""Numerically stable primitives: log-sum-exp, softmax, log-softmax, sigmoid, log-sigmoid, softplus, and gradients.

Every loss in the library is built from these few functions. Each one is written so that no
intermediate value can overflow: exponentials are only ever taken of numbers <= 0.

These are the readable reference versions: whole arrays, one line per step of the derivation. The
fused :func:`~lossbook.fused.softmax_value_and_grad` and :func:`~lossbook.fused.log_softmax_value_and_grad`
compute the same numbers faster (``lossbook._kernels``), and the tests hold them to these.

Every function here accepts float16 and bfloat16 (``ml_dtypes.bfloat16``) as well as float32 and
float64, and returns the dtype it was given. Half-precision input is computed in float32, as
PyTorch's CPU kernels compute it, and rounded once at the end (``_validation.upcast`` and
``to_output``). Where PyTorch rounds an intermediate to half precision (``log_softmax`` along the
last axis rounds the log of the sum, ``logsumexp`` rounds every step, and the backward passes start
from rounded outputs), these functions are the more accurate; tests/test_half_precision.py measures
both against float64.
"""

import numpy as np

from lossbook._validation import (
    as_float_array,
    check_integer,
    check_real_number,
    check_shaped_like,
    is_half_precision,
    to_output,
    upcast,
)


def _check_axis(x, axis):
    """`axis` (an int, or a tuple of ints for :func:`logsumexp`) checked against `x` and made non-negative."""
    if isinstance(axis, tuple):
        axes = tuple(_check_axis(x, a) for a in axis)
        if len(set(axes)) != len(axes):
            raise ValueError(f"axis must not repeat an axis; got {axis}")
        return axes
    axis = check_integer(axis, "axis")
    ndim = max(x.ndim, 1)  # a scalar has one axis to speak of, as in PyTorch (dim 0 or -1)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis must lie in [{-ndim}, {ndim}) for x of shape {x.shape}; got {axis}")
    return axis % ndim


def _as_input(x, dtype):
    """`x` to compute with and the dtype to return, first cast to `dtype` when one is given (PyTorch's ``dtype=``)."""
    x = as_float_array(x, "x", half=True)
    if dtype is not None:
        if np.dtype(dtype) not in (np.float32, np.float64) and not is_half_precision(np.dtype(dtype)):
            raise TypeError(f"dtype must be float32, float64, float16 or bfloat16; got {np.dtype(dtype)}")
        x = x.astype(dtype, copy=False)
    return upcast(x)


def _finite_max(x, axis):
    """The largest entry along `axis` (kept as a length-1 axis), or 0 where it is not finite.

    Any constant can be subtracted from every score, so the shift need not be exactly the maximum,
    but it must be finite: for a row that is all -inf, -inf - (-inf) would be nan. An empty axis has
    maximum -inf too (``initial``), which also becomes 0.
    """
    shift = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
    return np.where(np.isfinite(shift), shift, 0)


def logsumexp(x, axis=-1, keepdims=False):
    r"""Compute :math:`\log \sum_j e^{x_j}` along an axis (or a tuple of axes) without overflow.

    Parameters
    ----------
    x : array_like, shape (..., C, ...)
        Real numbers; lists of ints are accepted. A scalar is its own log-sum-exp.
    axis : int or tuple of int, default -1
        The axis, or axes, to reduce.
    keepdims : bool, default False
        Keep the reduced axes with length one.

    Returns
    -------
    numpy.ndarray or numpy scalar
        Same dtype as `x` (float64 for integer input). Over an empty axis the sum is 0 and the
        result is :math:`-\infty`, as in PyTorch.

    Notes
    -----
    With :math:`m = \max_j x_j`, :math:`\log\sum_j e^{x_j} = m + \log\sum_j e^{x_j - m}`. Every
    exponent is at most 0, so nothing overflows, and the largest term is exactly 1, so the sum is at
    least 1 and its logarithm never sees an underflowed zero. Blanchard, Higham and Higham (2021)
    show that this shifted formula is accurate.

    References
    ----------
    .. [1] P. Blanchard, D. J. Higham, N. J. Higham, "Accurately computing the log-sum-exp and
       softmax functions", IMA Journal of Numerical Analysis 41(4), 2311-2330, 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from lossbook import logsumexp
    >>> logsumexp([1000.0, 1000.0])
    np.float64(1000.6931471805599)
    >>> with np.errstate(over="ignore"):  # the naive formula overflows
    ...     print(np.log(np.sum(np.exp([1000.0, 1000.0]))))
    inf
    >>> logsumexp(np.zeros((2, 3)), axis=(0, 1)).round(4)  # log 6
    np.float64(1.7918)
    """
    x, dtype = upcast(as_float_array(x, "x", half=True))
    axis = _check_axis(x, axis)
    if x.ndim == 0:  # log e^x = x
        return to_output(x, dtype)
    shift = _finite_max(x, axis)  # m
    with np.errstate(divide="ignore"):  # a row of all -inf (or an empty one) has log(0) = -inf, its right answer
        result = shift + np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True))
    if not keepdims:
        result = np.squeeze(result, axis=axis)
    return to_output(result, dtype)


def softmax(x, axis=-1, dtype=None):
    r"""Turn scores into probabilities: :math:`e^{x_i} / \sum_j e^{x_j}` along an axis.

    Parameters
    ----------
    x : array_like
        Scores (logits); lists of ints are accepted. A scalar is a distribution over one class (1).
    axis : int, default -1
        The class axis.
    dtype : {None, numpy.float32, numpy.float64, numpy.float16, ml_dtypes.bfloat16}, optional
        Cast `x` to this type first, as PyTorch's ``dtype=`` does.

    Returns
    -------
    numpy.ndarray
        Same shape as `x`; entries in [0, 1] that sum to one along `axis`.

    Notes
    -----
    Softmax is unchanged when a constant is added to every score, so subtracting the largest score
    first costs nothing and keeps every exponent at most 0: no overflow, and the denominator is at
    least 1.

    Examples
    --------
    >>> from lossbook import softmax
    >>> softmax([5, 4, 2]).round(4)
    array([0.7054, 0.2595, 0.0351])
    >>> softmax([1000.0, 1.0])  # the naive exp(1000) overflows to inf and gives nan
    array([1., 0.])
    """
    x, dtype = _as_input(x, dtype)
    axis = _check_axis(x, axis)
    if x.ndim == 0:  # one score: a distribution over a single class
        return to_output(softmax(x.reshape(1), 0)[0], dtype)
    exps = np.exp(x - _finite_max(x, axis))  # e^(x_i - m): every exponent <= 0
    with np.errstate(invalid="ignore"):  # a row of all -inf scores has no distribution: nan, as in PyTorch
        return to_output(exps / np.sum(exps, axis=axis, keepdims=True), dtype)


def log_softmax(x, axis=-1, dtype=None):
    r"""Logarithms of the softmax probabilities, :math:`x_i - \log\sum_j e^{x_j}`, computed stably.

    Parameters
    ----------
    x : array_like
        Scores (logits); lists of ints are accepted. A scalar gives 0 (the log of probability 1).
    axis : int, default -1
        The class axis.
    dtype : {None, numpy.float32, numpy.float64, numpy.float16, ml_dtypes.bfloat16}, optional
        Cast `x` to this type first, as PyTorch's ``dtype=`` does.

    Returns
    -------
    numpy.ndarray
        Same shape as `x`, values in :math:`(-\infty, 0]`, same dtype as `x` (float64 for integers).

    Notes
    -----
    ``np.log(softmax(x))`` loses every probability that underflows to 0 and returns ``-inf``;
    subtracting the log-sum-exp keeps the exact difference of scores instead. It subtracts the
    log-sum of the *shifted* scores from the shifted scores, rather than computing
    ``x - logsumexp(x)``: adding the shift back and subtracting it again would round the small
    log-sum to the spacing of large scores (0.001 at 1e4 in float32), while the shifted scores are exact.

    Examples
    --------
    >>> from lossbook import log_softmax
    >>> log_softmax([5, 4, 2]).round(3)
    array([-0.349, -1.349, -3.349])
    >>> log_softmax([1000.0, 1.0])  # np.log(softmax(...)) gives -inf for the second entry
    array([   0., -999.])
    """
    x, dtype = _as_input(x, dtype)
    axis = _check_axis(x, axis)
    if x.ndim == 0:  # one score: log of probability 1
        return to_output(log_softmax(x.reshape(1), 0)[0], dtype)
    shifted = x - _finite_max(x, axis)  # x_i - m, exact
    # A row of all -inf scores has no distribution: nan, as in PyTorch, without a warning per row.
    with np.errstate(divide="ignore", invalid="ignore"):
        return to_output(shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True)), dtype)


def _check_vjp_arguments(x, grad_output, axis):
    """`x` and the upstream gradient as arrays of one shape to compute with, the axis, and the dtype to return."""
    x, dtype = upcast(as_float_array(x, "x", half=True))
    return x, check_shaped_like(grad_output, "grad_output", x, "x", half=True), _check_axis(x, axis), dtype


def softmax_grad(x, grad_output, axis=-1):
    r"""The gradient of :math:`\langle \mathbf{g}, \operatorname{softmax}(\mathbf{x}) \rangle` in x, with
    :math:`\mathbf{g}` = `grad_output`: :math:`\mathbf{p} \odot (\mathbf{g} - \langle \mathbf{g}, \mathbf{p}\rangle)`.

    Parameters
    ----------
    x : array_like
        Scores (logits).
    grad_output : array_like, same shape as `x`
        The upstream gradient :math:`g`: what backpropagation brings back to the softmax's output
        (never broadcast).
    axis : int, default -1
        The class axis.

    Returns
    -------
    numpy.ndarray
        Shaped like `x`.

    Notes
    -----
    The Jacobian of softmax is :math:`\operatorname{diag}(p) - p p^\top`; its product with :math:`g`
    never needs the C-by-C matrix. This is the vector-Jacobian product PyTorch's ``backward()``
    computes for ``torch.softmax``; with ``grad_output`` a one-hot row it is the gradient of one
    probability. :func:`~lossbook.fused.softmax_value_and_grad` returns the probabilities too.

    Examples
    --------
    >>> from lossbook import softmax_grad
    >>> softmax_grad([5.0, 4.0, 2.0], [1.0, 0.0, 0.0]).round(4)  # d p_0 / d x
    array([ 0.2078, -0.183 , -0.0248])
    >>> softmax_grad([[5.0, 4.0, 2.0]], [[1.0, 1.0, 1.0]])  # the probabilities always sum to 1
    array([[0., 0., 0.]])
    """
    x, g, axis, dtype = _check_vjp_arguments(x, grad_output, axis)
    if x.ndim == 0:  # the softmax of a single score is the constant 1
        return dtype.type(0.0)
    p = softmax(x, axis)
    return to_output(p * (g - np.sum(g * p, axis=axis, keepdims=True)), dtype)


def log_softmax_grad(x, grad_output, axis=-1):
    r"""The gradient of :math:`\sum g \odot \operatorname{log\_softmax}(x)` with respect to x: :math:`g - p \sum_j g_j`.

    Takes the arguments of :func:`softmax_grad` and returns the gradient shaped like `x`.

    Notes
    -----
    The Jacobian of log-softmax is :math:`I - \mathbf{1} p^\top`. With :math:`g = -y` for a one-hot
    (or probability) target :math:`y`, the gradient is :math:`p - y`: the cross-entropy's gradient.

    Examples
    --------
    >>> from lossbook import log_softmax_grad
    >>> log_softmax_grad([5.0, 4.0, 2.0], [0.0, -1.0, 0.0]).round(4)  # p - y for the target class 1
    array([ 0.7054, -0.7405,  0.0351])
    """
    x, g, axis, dtype = _check_vjp_arguments(x, grad_output, axis)
    if x.ndim == 0:  # the log_softmax of a single score is the constant 0
        return dtype.type(0.0)
    p = softmax(x, axis)
    with np.errstate(invalid="ignore"):  # a row of all -inf scores: nan, as its log_softmax
        return to_output(g - p * np.sum(g, axis=axis, keepdims=True), dtype)


def sigmoid(x):
    r"""The logistic function :math:`1 / (1 + e^{-x})`, computed without overflow for any sign of x.

    Examples
    --------
    >>> from lossbook import sigmoid
    >>> sigmoid([-1000.0, 0.0, 1000.0])
    array([0. , 0.5, 1. ])
    """
    x, dtype = upcast(as_float_array(x, "x", half=True))
    e = np.exp(-np.abs(x))  # at most 1: the two algebraically equal forms below cover the two signs
    return to_output(np.where(x >= 0, 1 / (1 + e), e / (1 + e)), dtype)


def _check_softplus_options(beta, threshold):
    beta = check_real_number(beta, "beta")
    if beta <= 0:
        raise ValueError(f"beta must be > 0; got {beta}")
    return beta, check_real_number(threshold, "threshold")


def softplus(x, beta=1.0, threshold=20.0):
    r"""Compute :math:`\frac{1}{\beta}\log(1 + e^{\beta x})` without overflow, as ``torch.nn.functional.softplus``.

    Parameters
    ----------
    x : array_like
    beta : float > 0, default 1.0
        Sharpness: as :math:`\beta` grows, softplus approaches :math:`\max(x, 0)`.
    threshold : float, default 20.0
        Where :math:`\beta x` exceeds it, return :math:`x` itself (PyTorch's switch to the linear
        function; the two differ by less than :math:`e^{-20} / \beta` there).

    Notes
    -----
    :math:`\log(1 + e^{t}) = \max(t, 0) + \log(1 + e^{-|t|})`, which never overflows.

    Examples
    --------
    >>> from lossbook import softplus
    >>> [round(float(v), 6) for v in softplus([-800.0, 0.0, 800.0])]  # naive log(1 + exp(800)) is inf
    [0.0, 0.693147, 800.0]
    """
    beta, threshold = _check_softplus_options(beta, threshold)
    x, dtype = upcast(as_float_array(x, "x", half=True))
    t = beta * x
    smooth = (np.maximum(t, 0) + np.log1p(np.exp(-np.abs(t)))) / beta
    return to_output(np.where(t > threshold, x, smooth), dtype)


def softplus_grad(x, beta=1.0, threshold=20.0):
    r"""Derivative of :func:`softplus`, element by element: :math:`\sigma(\beta x)`, and 1 beyond the threshold.

    Examples
    --------
    >>> from lossbook import softplus_grad
    >>> softplus_grad([-2.0, 0.0, 30.0])
    array([0.11920292, 0.5       , 1.        ])
    """
    beta, threshold = _check_softplus_options(beta, threshold)
    x, dtype = upcast(as_float_array(x, "x", half=True))
    t = beta * x
    return to_output(np.where(t > threshold, 1.0, sigmoid(t)), dtype)


def log_sigmoid(x):
    r"""Compute :math:`\log \sigma(x) = -\operatorname{softplus}(-x)`, finite wherever the answer is.

    Examples
    --------
    >>> from lossbook import log_sigmoid
    >>> [round(float(v), 6) for v in log_sigmoid([-800.0, 0.0, 800.0])]  # np.log(sigmoid(-800.0)) is -inf
    [-800.0, -0.693147, -0.0]
    """
    x, dtype = upcast(as_float_array(x, "x", half=True))
    # min(x, 0) - log(1 + e^(-|x|)): the exponent is never positive.
    return to_output(np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))), dtype)
