"""Regression losses for the box coordinates: MSE, L1, smooth L1 and Huber, each with its gradient.

Semantics follow ``torch.nn.functional``: `input` and `target` must have exactly the same shape
(PyTorch broadcasts with a warning; here a (3,) input against a (3, 1) target, which would broadcast
to a (3, 3) matrix of nonsense, is a ValueError), ``reduction="mean"`` averages over every element.
Everything after the target is keyword-only. ``weight=`` (for MSE, L1 and Huber, as in current
PyTorch) multiplies each element's loss and has the shape of `input`. With it, PyTorch's mean
divides by the total weight for MSE and L1 but by the number of elements for Huber; lossbook does
the same, so that a ported call gives the same number.
At a kink the gradient twin returns the subgradient PyTorch returns: 0 for :func:`l1_loss` at
zero error.
"""

import numpy as np

from lossbook import _validation as check
from lossbook._reduction import reduce_grad, reduce_losses


def _check_regression(input, target, reduction, weight=None):
    """Checked `input`, the error e = input - target, and the elementwise weight (1.0 when None)."""
    input = check.as_float_array(input, "input")
    target = check.check_shaped_like(target, "target", input, "input")
    check.check_reduction(reduction)
    weight = 1.0 if weight is None else check.check_shaped_like(weight, "weight", input, "input")
    return input, input - target, weight


def _weighted_count(weight):
    """The mean's denominator for MSE and L1: the total weight (PyTorch's; None means the element count).

    PyTorch is not consistent here: its weighted :func:`huber_loss` divides by the element count.
    """
    return None if np.ndim(weight) == 0 else np.sum(weight)


def mse_loss(input, target, *, reduction="mean", weight=None):
    r"""Mean squared error, :math:`(x - y)^2` per element.

    Examples
    --------
    >>> from lossbook import mse_loss
    >>> mse_loss([1.0, 2.0, 4.0], [1.0, 0.0, 1.0])  # (0 + 4 + 9) / 3
    np.float64(4.333333333333333)
    """
    input, error, weight = _check_regression(input, target, reduction, weight)
    return reduce_losses(weight * error**2, reduction, input.dtype, _weighted_count(weight))


def mse_loss_grad(input, target, *, reduction="mean", weight=None):
    r"""Gradient of :func:`mse_loss` with respect to `input`: :math:`2 (x - y)` per element."""
    input, error, weight = _check_regression(input, target, reduction, weight)
    return reduce_grad(weight * 2 * error, reduction, input.dtype, _weighted_count(weight))


def l1_loss(input, target, *, reduction="mean", weight=None):
    r"""Mean absolute error, :math:`|x - y|` per element.

    Examples
    --------
    >>> from lossbook import l1_loss
    >>> l1_loss([1.0, 2.0, 4.0], [1.0, 0.0, 1.0])  # (0 + 2 + 3) / 3
    np.float64(1.6666666666666667)
    """
    input, error, weight = _check_regression(input, target, reduction, weight)
    return reduce_losses(weight * np.abs(error), reduction, input.dtype, _weighted_count(weight))


def l1_loss_grad(input, target, *, reduction="mean", weight=None):
    r"""Gradient of :func:`l1_loss`: :math:`\operatorname{sign}(x - y)`, and 0 at zero error (PyTorch's subgradient)."""
    input, error, weight = _check_regression(input, target, reduction, weight)
    return reduce_grad(weight * np.sign(error), reduction, input.dtype, _weighted_count(weight))


def smooth_l1_loss(input, target, *, reduction="mean", beta=1.0):
    r"""Smooth L1 loss (Fast R-CNN): quadratic below `beta`, linear above.

    .. math:: \ell = \begin{cases} \tfrac{1}{2} e^2 / \beta & |e| < \beta \\
              |e| - \tfrac{1}{2}\beta & \text{otherwise} \end{cases}

    with :math:`e = x - y`; ``beta=0`` is exactly :func:`l1_loss`. It equals
    :func:`huber_loss` with ``delta=beta`` divided by `beta`.

    Examples
    --------
    >>> from lossbook import smooth_l1_loss
    >>> smooth_l1_loss([0.5, 3.0], [0.0, 0.0], reduction="none")
    array([0.125, 2.5  ])
    """
    beta = check.check_real_number(beta, "beta", at_least=0)
    input, error, _ = _check_regression(input, target, reduction)
    magnitude = np.abs(error)
    if beta == 0:
        return reduce_losses(magnitude, reduction, input.dtype)
    # Branch-free: the quadratic part is capped at beta, the rest of |e| is linear.
    quadratic = np.minimum(magnitude, beta)
    losses = 0.5 * quadratic**2 / beta + (magnitude - quadratic)
    return reduce_losses(losses, reduction, input.dtype)


def smooth_l1_loss_grad(input, target, *, reduction="mean", beta=1.0):
    r"""Gradient of :func:`smooth_l1_loss`: :math:`e / \beta` inside, :math:`\operatorname{sign}(e)` outside."""
    beta = check.check_real_number(beta, "beta", at_least=0)
    input, error, _ = _check_regression(input, target, reduction)
    if beta == 0:
        return reduce_grad(np.sign(error), reduction, input.dtype)
    return reduce_grad(np.clip(error / beta, -1, 1), reduction, input.dtype)


def _check_delta(delta):
    delta = check.check_real_number(delta, "delta", at_least=0)
    if delta == 0:
        raise ValueError("delta must be > 0 (the width of the quadratic zone); got 0")
    return delta


def huber_loss(input, target, *, reduction="mean", delta=1.0, weight=None):
    r"""Huber loss (Huber, 1964): quadratic below `delta`, linear with slope `delta` above.

    .. math:: \ell = \begin{cases} \tfrac{1}{2} e^2 & |e| \le \delta \\
              \delta\,(|e| - \tfrac{1}{2}\delta) & \text{otherwise} \end{cases}

    Examples
    --------
    >>> from lossbook import huber_loss
    >>> huber_loss([0.5, 3.0], [0.0, 0.0], reduction="none", delta=2.0)
    array([0.125, 4.   ])
    """
    delta = _check_delta(delta)
    input, error, weight = _check_regression(input, target, reduction, weight)
    magnitude = np.abs(error)
    # Branch-free: the quadratic part is capped at delta, the rest of |e| is linear with slope delta.
    quadratic = np.minimum(magnitude, delta)
    losses = 0.5 * quadratic**2 + delta * (magnitude - quadratic)
    return reduce_losses(weight * losses, reduction, input.dtype)


def huber_loss_grad(input, target, *, reduction="mean", delta=1.0, weight=None):
    r"""Gradient of :func:`huber_loss`: :math:`e` inside, :math:`\delta \operatorname{sign}(e)` outside."""
    delta = _check_delta(delta)
    input, error, weight = _check_regression(input, target, reduction, weight)
    return reduce_grad(weight * np.clip(error, -delta, delta), reduction, input.dtype)
