"""Weight penalties added to a data loss: the L2 penalty (weight decay) and its gradient."""

import numpy as np

from lossbook import _validation as check


def l2_penalty(weights, lam):
    r"""The L2 penalty :math:`\lambda \sum_{j} W_j^2` over every entry of `weights`.

    This is the convention of the course's source post. CS231n writes
    :math:`\tfrac{1}{2}\,\text{reg} \sum W^2` instead, whose gradient is :math:`\text{reg}\, W`; the
    two agree when :math:`\lambda = \text{reg} / 2`.

    Parameters
    ----------
    weights : array_like
        The weights to penalize, any shape (biases are usually left out).
    lam : float
        The regularization strength :math:`\lambda \ge 0`.

    Returns
    -------
    numpy scalar
        Same dtype as `weights`.

    Examples
    --------
    >>> from lossbook import l2_penalty
    >>> l2_penalty([[1.0, -2.0], [0.5, 0.0]], lam=0.1).round(4)
    np.float64(0.5250)
    """
    weights = check.as_float_array(weights, "weights")
    lam = check.check_nonnegative_number(lam, "lam")
    return weights.dtype.type(lam * np.sum(weights * weights))


def l2_penalty_grad(weights, lam):
    r"""Gradient of :func:`l2_penalty` with respect to `weights`: :math:`2 \lambda W`.

    Examples
    --------
    >>> from lossbook import l2_penalty_grad
    >>> l2_penalty_grad([[1.0, -2.0], [0.5, 0.0]], lam=0.1)
    array([[ 0.2, -0.4],
           [ 0.1,  0. ]])
    """
    weights = check.as_float_array(weights, "weights")
    lam = check.check_nonnegative_number(lam, "lam")
    return (2 * lam * weights).astype(weights.dtype, copy=False)
