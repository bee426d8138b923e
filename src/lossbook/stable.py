"""Numerically stable primitives: log-sum-exp, softmax, log-softmax (with their gradients), sigmoid, log-sigmoid, softplus.

Every loss in the library is built from these few functions. Each one is written so that no
intermediate value can overflow: exponentials are only ever taken of numbers <= 0.

Along the last axis of an array laid out row after row, softmax, log_softmax and logsumexp run the
same formulas through the row kernels below: in place, block by block (see ``lossbook._blocks``).
"""

import numpy as np

from lossbook._blocks import for_each_row_block, scratch
from lossbook._validation import as_float_array, check_integer, check_shaped_like


def _check_axis(x, axis):
    axis = check_integer(axis, "axis")
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension to reduce over; got a scalar")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis must lie in [{-x.ndim}, {x.ndim}) for x of shape {x.shape}; got {axis}")
    if x.shape[axis] == 0:
        raise ValueError(f"x has no entries along axis {axis} (shape {x.shape})")
    return axis


def _row_max(rows):
    """The largest entry of each row of a 2-D array, as an (M, 1) column."""
    n_rows, n_cols = rows.shape
    if not rows.flags.c_contiguous or n_rows == 0:
        return rows.max(axis=1, keepdims=True)
    # NumPy's max along each short row pays about 40 ns of loop set-up per row, more than the
    # comparisons themselves below C = 100. For a few columns a transposed copy turns the work into
    # vectorized maximums down long columns; otherwise reduceat over the flat array halves the
    # set-up. The maximum is exact, so every route gives the same numbers.
    if n_cols <= 16:
        return np.ascontiguousarray(rows.T).max(axis=0)[:, None]
    return np.maximum.reduceat(rows.reshape(-1), np.arange(0, rows.size, n_cols))[:, None]


# Up to this many columns the row sums go through einsum (see _row_sum).
EINSUM_SUM_MAX_COLUMNS = 2048


def _row_sum(rows, keepdims=False):
    """The sum of each row of a 2-D array, as an (M,) array, or (M, 1) with `keepdims`."""
    n_cols = rows.shape[1]
    if n_cols < 8 and rows.flags.c_contiguous:
        # The same per-row set-up cost as in _row_max. NumPy adds fewer than 8 numbers left to right,
        # exactly as the column sums of a transposed copy do, so the sums are the same to the bit.
        sums = np.ascontiguousarray(rows.T).sum(axis=0)
    elif n_cols <= EINSUM_SUM_MAX_COLUMNS and rows.flags.c_contiguous:
        # einsum's vectorized loop adds a row about twice as fast as sum(axis=1) (make bench), and as
        # accurately up to a few thousand columns (its error grows with the row length; tested).
        sums = np.einsum("ij->i", rows)
    else:
        sums = rows.sum(axis=1)
    return sums[:, None] if keepdims else sums


def _exp_without_shift_is_safe(row_max, n_cols, dtype):
    """True when e^x, unshifted, is exactly as safe as e^(x - max) for every row.

    Softmax does not change when a constant is added to a row, so the shift by the row maximum m is
    only there to keep the exponentials in range. When 0 <= m <= log(largest float / C), nothing
    can overflow (every e^x_j <= e^m and their sum <= C e^m), the sum is at least e^m >= 1, and an
    entry small enough to underflow unshifted (x_j below about -87 in float32) underflows shifted
    too, since x_j - m <= x_j. Skipping the shift then saves a pass and is, if anything, more
    accurate: x_j - m is rounded, x_j is exact. A NaN maximum compares False and takes the shift.
    """
    limit = np.log(np.finfo(dtype).max) - np.log(n_cols) - 1.0
    return bool(row_max.min() >= 0 and row_max.max() <= limit)


def _finite_max(x, axis):
    # The shift must be finite: a row that is all -inf (or holds +inf) would otherwise give inf - inf = nan.
    shift = _row_max(x) if x.ndim == 2 and axis in (1, -1) else np.max(x, axis=axis, keepdims=True)
    if np.isfinite(shift).all():  # the usual case: skip building a second array
        return shift
    return np.where(np.isfinite(shift), shift, 0)


def _rows_along(x, axis):
    """`x` as an (M, C) view of rows when `axis` is its last axis and rows are contiguous in memory, else None.

    The row kernels below need that layout; other axes and layouts take the whole-array formulas.
    """
    if axis not in (-1, x.ndim - 1) or not x.flags.c_contiguous:
        return None
    return x.reshape(-1, x.shape[-1])


def _softmax_block(x, p):
    """Write softmax(x) row by row into p (same shape): max, [subtract,] exp, sum, divide."""
    shift = _finite_max(x, 1)
    if _exp_without_shift_is_safe(shift, x.shape[1], x.dtype):
        np.exp(x, out=p)  # no overflow possible: one pass fewer (see _exp_without_shift_is_safe)
    else:
        np.subtract(x, shift, out=p)  # in place from here on: no temporaries
        np.exp(p, out=p)
    np.divide(p, _row_sum(p, keepdims=True), out=p)


def _softmax_rows(rows):
    """softmax of each row of `rows`, block by block (see lossbook._blocks)."""
    out = np.empty(rows.shape, rows.dtype)
    for_each_row_block(lambda start, stop: _softmax_block(rows[start:stop], out[start:stop]), *rows.shape)
    return out


def _row_dot(a, b):
    """The dot product of each row of `a` with the same row of `b`, as an (M, 1) column."""
    if a.shape[1] <= EINSUM_SUM_MAX_COLUMNS:
        return np.einsum("ij,ij->i", a, b)[:, None]  # no (M, C) temporary; accurate at this length (see _row_sum)
    return _row_sum(a * b, keepdims=True)


def _softmax_value_and_grad_rows(rows, grad_rows):
    """softmax of each row and the gradient p * (g - <g, p>), in one sweep over the blocks."""
    probs, grad = np.empty(rows.shape, rows.dtype), np.empty(rows.shape, rows.dtype)

    def block(start, stop):
        p, g, d = probs[start:stop], grad_rows[start:stop], grad[start:stop]
        _softmax_block(rows[start:stop], p)
        np.subtract(g, _row_dot(g, p), out=d)  # while p is still in cache
        np.multiply(d, p, out=d)

    for_each_row_block(block, *rows.shape)
    return probs, grad


def _log_softmax_block(x, logp):
    """Write log_softmax(x) row by row into logp; return e^(x - max) (a scratch buffer) and its row sums."""
    np.subtract(x, _finite_max(x, 1), out=logp)  # the exact shifted scores (see log_softmax)
    exps = np.exp(logp, out=scratch(logp.shape, logp.dtype))
    sums = _row_sum(exps, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):  # an all -inf row gives nan quietly, as below
        np.subtract(logp, np.log(sums), out=logp)
    return exps, sums


def _log_softmax_rows(rows):
    """log_softmax of each row, block by block; the exponentials go to a reused scratch buffer."""
    out = np.empty(rows.shape, rows.dtype)
    for_each_row_block(lambda start, stop: _log_softmax_block(rows[start:stop], out[start:stop]), *rows.shape)
    return out


def _logsumexp_rows(rows):
    """logsumexp of each row, block by block, as an (M,) array."""
    out = np.empty(rows.shape[0], rows.dtype)

    def block(start, stop):
        x = rows[start:stop]
        shift = _finite_max(x, 1)
        shifted = np.subtract(x, shift, out=scratch(x.shape, x.dtype))
        sums = _row_sum(np.exp(shifted, out=shifted), keepdims=True)
        with np.errstate(divide="ignore"):  # an all -inf row has log(0) = -inf, which is its right answer
            np.log(sums, out=sums)
        np.add(sums[:, 0], shift[:, 0], out=out[start:stop])

    for_each_row_block(block, *rows.shape)
    return out


def _log_softmax_value_and_grad_rows(rows, grad_rows):
    """log_softmax of each row and the gradient g - p * sum(g), sharing the exponentials."""
    logps, grad = np.empty(rows.shape, rows.dtype), np.empty(rows.shape, rows.dtype)

    def block(start, stop):
        g, d = grad_rows[start:stop], grad[start:stop]
        exps, sums = _log_softmax_block(rows[start:stop], logps[start:stop])
        with np.errstate(divide="ignore", invalid="ignore"):  # an all -inf row: nan, as its log_softmax
            # p * sum(g) = exps * (sum(g) / sums): the softmax is never written out.
            np.multiply(exps, _row_sum(g, keepdims=True) / sums, out=d)
        np.subtract(g, d, out=d)

    for_each_row_block(block, *rows.shape)
    return logps, grad


def logsumexp(x, axis=-1, keepdims=False):
    r"""Compute :math:`\log \sum_j e^{x_j}` along an axis without overflow.

    Parameters
    ----------
    x : array_like, shape (..., C, ...)
        Real numbers; lists of ints are accepted.
    axis : int, default -1
        The axis to reduce.
    keepdims : bool, default False
        Keep the reduced axis with length one.

    Returns
    -------
    numpy.ndarray or numpy scalar
        Same dtype as `x` (float64 for integer input).

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
    """
    x = as_float_array(x, "x")
    axis = _check_axis(x, axis)
    rows = _rows_along(x, axis)
    if rows is not None:
        result = _logsumexp_rows(rows).reshape(x.shape[:-1] + ((1,) if keepdims else ()))
        return result if result.ndim else x.dtype.type(result)
    shift = _finite_max(x, axis)
    with np.errstate(divide="ignore"):  # an all -inf row has log(0) = -inf, which is its right answer
        result = np.log(np.sum(np.exp(x - shift), axis=axis, keepdims=True)) + shift
    if not keepdims:
        result = np.squeeze(result, axis=axis)
    return result if result.ndim else x.dtype.type(result)


def log_softmax(x, axis=-1):
    r"""Logarithms of the softmax probabilities, :math:`x_i - \log\sum_j e^{x_j}`, computed stably.

    Parameters
    ----------
    x : array_like
        Scores (logits); lists of ints are accepted.
    axis : int, default -1
        The class axis.

    Returns
    -------
    numpy.ndarray
        Same shape as `x`, values in :math:`(-\infty, 0]`, same dtype as `x` (float64 for integers).

    Notes
    -----
    ``np.log(softmax(x))`` loses every probability that underflows to 0 and returns ``-inf``;
    subtracting the log-sum-exp keeps the exact difference of scores instead.

    Examples
    --------
    >>> from lossbook import log_softmax
    >>> log_softmax([5, 4, 2]).round(3)
    array([-0.349, -1.349, -3.349])
    >>> log_softmax([1000.0, 1.0])  # np.log(softmax(...)) gives -inf for the second entry
    array([   0., -999.])
    """
    x = as_float_array(x, "x")
    axis = _check_axis(x, axis)
    # Not x - logsumexp(x): adding the shift back and subtracting it again would round the small
    # log-sum to the spacing of the large scores (0.001 at 1e4 in float32). The shifted scores are exact.
    rows = _rows_along(x, axis)
    if rows is not None:
        return _log_softmax_rows(rows).reshape(x.shape)
    shifted = x - _finite_max(x, axis)
    # A row of all -inf scores has no distribution: nan, as in PyTorch, without a warning per row.
    with np.errstate(divide="ignore", invalid="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(x, axis=-1):
    r"""Turn scores into probabilities: :math:`e^{x_i} / \sum_j e^{x_j}` along an axis.

    Parameters
    ----------
    x : array_like
        Scores (logits); lists of ints are accepted.
    axis : int, default -1
        The class axis.

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
    x = as_float_array(x, "x")
    axis = _check_axis(x, axis)
    rows = _rows_along(x, axis)
    if rows is not None:
        return _softmax_rows(rows).reshape(x.shape)
    exps = np.exp(x - _finite_max(x, axis))
    exps /= np.sum(exps, axis=axis, keepdims=True)  # in place: one temporary fewer
    return exps


def _value_and_vjp(x, grad_output, axis, row_kernel, whole_array):
    """Check the arguments, then run the row kernel (last axis, rows in memory order) or the whole-array formula."""
    x = as_float_array(x, "x")
    axis = _check_axis(x, axis)
    g = np.ascontiguousarray(check_shaped_like(grad_output, "grad_output", x, "x"))
    rows = _rows_along(x, axis)
    if rows is None:
        return whole_array(x, g, axis)
    value, grad = row_kernel(rows, g.reshape(rows.shape))
    return value.reshape(x.shape), grad.reshape(x.shape)


def softmax_value_and_grad(x, grad_output, axis=-1):
    r"""softmax(x) and the gradient of :math:`\sum g \odot \operatorname{softmax}(x)` with respect to x, in one call.

    Parameters
    ----------
    x : array_like
        Scores (logits); lists of ints are accepted.
    grad_output : array_like, same shape as `x`
        The upstream gradient :math:`g`: what backpropagation brings back to the softmax's output.
    axis : int, default -1
        The class axis.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The probabilities :math:`p` and the gradient :math:`p \odot (g - \langle g, p\rangle)`, both
        shaped like `x`, in the dtype of `x`.

    Notes
    -----
    The Jacobian of softmax is :math:`\operatorname{diag}(p) - p p^\top`; its product with :math:`g`
    never needs the C-by-C matrix. This is the vector-Jacobian product PyTorch's ``backward()``
    computes for ``torch.softmax``; with ``grad_output`` a one-hot row it is the gradient of one
    probability.

    Examples
    --------
    >>> from lossbook import softmax_value_and_grad
    >>> p, grad = softmax_value_and_grad([5.0, 4.0, 2.0], [1.0, 0.0, 0.0])  # d p_1 / d x
    >>> grad.round(4)
    array([ 0.2078, -0.183 , -0.0248])
    """
    def whole_array(x, g, axis):
        probs = softmax(x, axis)
        return probs, probs * (g - np.sum(g * probs, axis=axis, keepdims=True))

    return _value_and_vjp(x, grad_output, axis, _softmax_value_and_grad_rows, whole_array)


def softmax_grad(x, grad_output, axis=-1):
    r"""The gradient of :math:`\sum g \odot \operatorname{softmax}(x)` with respect to x: :math:`p \odot (g - \langle g, p\rangle)`.

    Takes the arguments of :func:`softmax` plus the upstream gradient `grad_output` (same shape as
    `x`, never broadcast) and returns the gradient shaped like `x`. See
    :func:`softmax_value_and_grad`, which returns the probabilities too.

    Examples
    --------
    >>> from lossbook import softmax_grad
    >>> softmax_grad([[5.0, 4.0, 2.0]], [[1.0, 1.0, 1.0]])  # the probabilities always sum to 1
    array([[0., 0., 0.]])
    """
    return softmax_value_and_grad(x, grad_output, axis)[1]


def log_softmax_value_and_grad(x, grad_output, axis=-1):
    r"""log_softmax(x) and the gradient of :math:`\sum g \odot \operatorname{log\_softmax}(x)`, in one call.

    Parameters
    ----------
    x : array_like
        Scores (logits); lists of ints are accepted.
    grad_output : array_like, same shape as `x`
        The upstream gradient :math:`g`.
    axis : int, default -1
        The class axis.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The log-probabilities and the gradient :math:`g - p \sum_j g_j`, both shaped like `x`.

    Notes
    -----
    The Jacobian of log-softmax is :math:`I - \mathbf{1} p^\top`. With :math:`g = -y` for a one-hot
    (or probability) target :math:`y`, the gradient is :math:`p - y`: the cross-entropy's gradient.

    Examples
    --------
    >>> from lossbook import log_softmax_value_and_grad
    >>> logp, grad = log_softmax_value_and_grad([5.0, 4.0, 2.0], [-1.0, 0.0, 0.0])
    >>> grad.round(4)  # p - y for the target class 0
    array([-0.2946,  0.2595,  0.0351])
    """
    def whole_array(x, g, axis):
        with np.errstate(invalid="ignore"):  # an all -inf row: nan, as in log_softmax
            return log_softmax(x, axis), g - softmax(x, axis) * np.sum(g, axis=axis, keepdims=True)

    return _value_and_vjp(x, grad_output, axis, _log_softmax_value_and_grad_rows, whole_array)


def log_softmax_grad(x, grad_output, axis=-1):
    r"""The gradient of :math:`\sum g \odot \operatorname{log\_softmax}(x)` with respect to x: :math:`g - p \sum_j g_j`.

    Takes the arguments of :func:`log_softmax` plus the upstream gradient `grad_output` (same shape
    as `x`, never broadcast). See :func:`log_softmax_value_and_grad`.

    Examples
    --------
    >>> from lossbook import log_softmax_grad
    >>> log_softmax_grad([5.0, 4.0, 2.0], [0.0, -1.0, 0.0]).round(4)  # p - y for the target class 1
    array([ 0.7054, -0.7405,  0.0351])
    """
    return log_softmax_value_and_grad(x, grad_output, axis)[1]


def sigmoid(x):
    r"""The logistic function :math:`1 / (1 + e^{-x})`, computed without overflow for any sign of x.

    Examples
    --------
    >>> from lossbook import sigmoid
    >>> sigmoid([-1000.0, 0.0, 1000.0])
    array([0. , 0.5, 1. ])
    """
    x = as_float_array(x, "x")
    # exp(-|x|) is at most 1; the two algebraically equal forms cover the two signs.
    e = np.exp(-np.abs(x))
    result = np.where(x >= 0, 1 / (1 + e), e / (1 + e))
    return result if result.ndim else x.dtype.type(result)


def softplus(x):
    r"""Compute :math:`\log(1 + e^{x})` as :math:`\max(x, 0) + \log(1 + e^{-|x|})`, which never overflows.

    Examples
    --------
    >>> from lossbook import softplus
    >>> [round(float(v), 6) for v in softplus([-800.0, 0.0, 800.0])]  # naive log(1 + exp(800)) is inf
    [0.0, 0.693147, 800.0]
    """
    x = as_float_array(x, "x")
    result = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    return result if result.ndim else x.dtype.type(result)


def log_sigmoid(x):
    r"""Compute :math:`\log \sigma(x) = -\operatorname{softplus}(-x)`, finite wherever the answer is.

    Examples
    --------
    >>> from lossbook import log_sigmoid
    >>> [round(float(v), 6) for v in log_sigmoid([-800.0, 0.0, 800.0])]  # np.log(sigmoid(-800.0)) is -inf
    [-800.0, -0.693147, -0.0]
    """
    x = as_float_array(x, "x")
    result = np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))
    return result if result.ndim else x.dtype.type(result)
